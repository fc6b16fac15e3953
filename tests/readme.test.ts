// Every TypeScript example in the README runs, with `@uetai/uetai` imports
// pointed at this checkout, in a fresh folder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, scriptCommand } from "./helpers/runtime.ts";

const readme = await readFile(join(ROOT, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) =>
  match[1]
);

function pointAtCheckout(code: string): string {
  return code.replace(
    /"@uetai\/uetai(\/[a-z]+)?"/g,
    (_whole, subpath: string | undefined) => {
      const file = subpath === undefined
        ? "mod.ts"
        : subpath === "/local"
        ? "backends/local/mod.ts"
        : `${subpath.slice(1)}/mod.ts`;
      return JSON.stringify(pathToFileURL(join(ROOT, file)).href);
    },
  );
}

describe("README", () => {
  it("has TypeScript examples", () => {
    assert.ok(blocks.length >= 2, `${blocks.length} examples`);
  });

  for (const [index, code] of blocks.entries()) {
    it(`example ${index + 1} runs`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "uetai-readme-"));
      try {
        const file = join(dir, `example_${index}.mts`); // ESM wherever it runs
        await writeFile(file, pointAtCheckout(code));
        const [command, args] = scriptCommand(file);
        const result = spawnSync(command, args, {
          cwd: dir,
          encoding: "utf8",
          timeout: 60_000,
        });
        assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
