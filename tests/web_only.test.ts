// The module graph of every entrypoint must be web-only: no `node:` import,
// no npm or JSR dependency (the relay, the dashboard and the CLI may import
// Hono), so a bundler for workers never meets a Node module.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DENO_BIN, ROOT } from "./helpers/runtime.ts";

interface GraphModule {
  specifier: string;
  dependencies?: { specifier: string; isDynamic?: boolean }[];
}

/**
 * Lists what is not web-only in the graph of one module. `allowed` names
 * bare npm packages the entrypoint may import (Hono, for the relay only);
 * their own graphs are not inspected.
 */
async function findNonWebImports(
  entry: string,
  allowed: readonly string[] = [],
): Promise<string[]> {
  const json = execFileSync(DENO_BIN, ["info", "--json", entry], {
    cwd: ROOT,
    encoding: "utf8",
    env: {
      ...(globalThis as { process: { env: Record<string, string> } }).process
        .env,
      NO_COLOR: "1",
    },
  });
  const graph = JSON.parse(json) as { modules: GraphModule[] };
  const problems: string[] = [];
  const isAllowed = (specifier: string): boolean =>
    allowed.some((name) =>
      specifier === name || specifier.startsWith(`${name}/`) ||
      specifier.startsWith(`npm:/${name}@`) ||
      specifier.startsWith(`npm:${name}@`)
    );
  for (const module of graph.modules) {
    if (!module.specifier.startsWith("file://")) {
      if (!isAllowed(module.specifier)) {
        problems.push(`module ${module.specifier}`);
      }
      continue;
    }
    for (const dependency of module.dependencies ?? []) {
      if (isAllowed(dependency.specifier)) continue;
      if (
        /^(node|npm|jsr):/.test(dependency.specifier) ||
        !/^\.{1,2}\//.test(dependency.specifier)
      ) {
        problems.push(`${module.specifier} imports ${dependency.specifier}`);
      }
    }
    if (module.specifier.startsWith("file://")) {
      const source = await readFile(new URL(module.specifier), "utf8");
      if (/\brequire\s*\(|import\s*\(\s*[^"'`\s]/.test(source)) {
        problems.push(
          `${module.specifier} uses require() or a non-literal dynamic import`,
        );
      }
    }
  }
  return problems;
}

describe("module graph", () => {
  it("has no node:, npm: or jsr: import from any exported entrypoint", async () => {
    const config = JSON.parse(
      await readFile(join(ROOT, "deno.json"), "utf8"),
    ) as {
      exports: Record<string, string>;
    };
    const entries = Object.values(config.exports);
    assert.ok(entries.includes("./mod.ts"));
    for (const entry of entries) {
      // The relay and the dashboard are Hono apps (and the CLI serves
      // them): Hono, web-standard itself, is their one dependency, and no
      // other entrypoint may reach it.
      assert.deepEqual(
        await findNonWebImports(
          entry,
          ["./relay/mod.ts", "./dashboard/mod.ts", "./cli.ts"].includes(entry)
            ? ["hono"]
            : [],
        ),
        [],
        `entrypoint ${entry}`,
      );
    }
  });

  it("the check flags a module that imports node:fs (the test can fail)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "uetai-graph-"));
    try {
      const bad = join(dir, "bad.ts");
      await writeFile(
        bad,
        'import { readFile } from "node:fs/promises";\nexport const read = readFile;\n',
      );
      const problems = await findNonWebImports(bad);
      assert.ok(
        problems.some((problem) =>
          problem.endsWith("imports node:fs/promises")
        ),
        problems.join("\n"),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
