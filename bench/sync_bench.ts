// A 100k-point run (10 keys × 10k steps) logged to the local store, then
// synced to each fake dashboard (Comet, MLflow, W&B on 127.0.0.1), side by
// side in one run: the time of the first sync, the requests it made, and a
// second sync (which must send nothing).
//
//   deno run -A bench/sync_bench.ts [points]
import { createLogger } from "../mod.ts";
import { syncRun } from "../sync/mod.ts";
import { CometBackend } from "../backends/comet/mod.ts";
import { MlflowBackend } from "../backends/mlflow/mod.ts";
import { WandbBackend } from "../backends/wandb/mod.ts";
import type { Backend } from "../pipeline/backend.ts";
import { FakeComet } from "../tests/helpers/fake_comet.ts";
import { FakeMlflow } from "../tests/helpers/fake_mlflow.ts";
import { FakeWandb } from "../tests/helpers/fake_wandb.ts";

const points = Number(Deno.args[0] ?? 100_000);
const KEYS = 10;
const dir = await Deno.makeTempDir({ prefix: "uetai-sync-bench-" });
const logger = createLogger({ backend: "local", dir, project: "bench" });
for (let step = 0; step < points / KEYS; step++) {
  const values: Record<string, number> = {};
  for (let k = 0; k < KEYS; k++) values[`m${k}`] = step * 0.001 + k;
  logger.log(values, { step });
}
await logger.end();

interface Fake {
  requests: unknown[] | { length: number };
  close(): Promise<void>;
}

async function measure(
  label: string,
  start: () => Promise<{ fake: Fake; target: Backend }>,
): Promise<void> {
  const { fake, target } = await start();
  try {
    const requests = () => (fake.requests as { length: number }).length;
    const t0 = performance.now();
    const first = await syncRun({
      dir,
      project: "bench",
      runId: logger.runId,
      target,
    });
    const firstMs = performance.now() - t0;
    const afterFirst = requests();
    const t1 = performance.now();
    const second = await syncRun({
      dir,
      project: "bench",
      runId: logger.runId,
      target,
    });
    const secondMs = performance.now() - t1;
    console.log(
      `${label.padEnd(8)} first sync ${
        (firstMs / 1000).toFixed(2)
      } s, ${first.sent} events, ${afterFirst} requests; second sync ${
        secondMs.toFixed(0)
      } ms, ${second.sent} events, ${requests() - afterFirst} requests`,
    );
  } finally {
    await target.close();
    await fake.close();
  }
}

console.log(
  `${points} metric points in one local run, synced to fakes on 127.0.0.1 (deno ${Deno.version.deno})`,
);
await measure("comet", async () => {
  const fake = await FakeComet.start();
  const target = new CometBackend({
    apiKey: fake.apiKey,
    workspace: fake.workspace,
    urlOverride: `${fake.url}/clientlib/`,
    heartbeat: false,
    rateLimits: false,
  });
  return { fake, target };
});
await measure("mlflow", async () => {
  const fake = await FakeMlflow.start();
  return { fake, target: new MlflowBackend({ trackingUri: fake.url }) };
});
await measure("wandb", async () => {
  const fake = await FakeWandb.start();
  return {
    fake,
    target: new WandbBackend({
      apiKey: fake.apiKey,
      baseUrl: fake.url,
      env: {},
    }),
  };
});
await Deno.remove(dir, { recursive: true });
