// Every TypeScript example in the README runs, with `@uetai/uetai` imports
// pointed at this checkout, in a fresh folder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, scriptCommand } from "./helpers/runtime.ts";
import { FakeComet } from "./helpers/fake_comet.ts";
import { FakeMlflow } from "./helpers/fake_mlflow.ts";
import { FakeWandb } from "./helpers/fake_wandb.ts";

/** Runs a command to its end without blocking this process (a fake server may answer it). */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const readme = await readFile(join(ROOT, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) =>
  match[1]
);

/** The package's exports (deno.json), by specifier. */
const exportsMap = JSON.parse(
  await readFile(join(ROOT, "deno.json"), "utf8"),
).exports as Record<string, string>;

function pointAtCheckout(code: string): string {
  return code.replace(
    /"@uetai\/uetai(\/[a-z]+)?"/g,
    (whole, subpath: string | undefined) => {
      const file = exportsMap[`.${subpath ?? ""}`];
      if (file === undefined) throw new Error(`no export for ${whole}`);
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
      // Inside the checkout, so bare imports (hono) resolve as in a project.
      const dir = await mkdtemp(join(ROOT, ".readme-"));
      // Comet examples log to a fake Comet, configured through COMET_* variables.
      const fake = code.includes("CometLogger")
        ? await FakeComet.start({ workspace: "w" })
        : undefined;
      // MLflow examples log to a fake MLflow, named by MLFLOW_TRACKING_URI.
      const mlflow = code.includes("MlflowLogger")
        ? await FakeMlflow.start()
        : undefined;
      // W&B examples log to a fake W&B, named by WANDB_BASE_URL.
      const wandb = code.includes("WandbLogger")
        ? await FakeWandb.start()
        : undefined;
      try {
        const file = join(dir, `example_${index}.mts`); // ESM wherever it runs
        await writeFile(file, pointAtCheckout(code));
        const [command, args] = scriptCommand(file);
        const env: Record<string, string | undefined> = { ...process.env };
        if (mlflow) env.MLFLOW_TRACKING_URI = mlflow.url;
        if (wandb) {
          env.WANDB_API_KEY = wandb.apiKey;
          env.WANDB_BASE_URL = wandb.url;
        }
        if (fake) {
          env.COMET_API_KEY = fake.apiKey;
          env.COMET_WORKSPACE = fake.workspace;
          env.COMET_URL_OVERRIDE = `${fake.url}/clientlib/`;
        }
        const result = await run(command, args, { cwd: dir, env });
        assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
        if (wandb) {
          assert.ok(
            wandb.runs().some((run) => run.history.length > 0 && run.complete),
            "the example's history reached W&B",
          );
          if (code.includes("logArtifact")) {
            assert.ok(
              wandb.artifacts().some((v) => v.state === "COMMITTED"),
              "the example's artifact reached W&B",
            );
          }
        }
        if (mlflow) {
          assert.ok(
            mlflow.runs().some((run) => run.metrics.length > 0),
            "the example's metrics reached MLflow",
          );
        }
        if (fake) {
          const [experiment] = fake.experiments();
          assert.ok(
            experiment.metrics.length > 0,
            "the example's metrics reached Comet",
          );
        }
      } finally {
        await fake?.close();
        await mlflow?.close();
        await wandb?.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
