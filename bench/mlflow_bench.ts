// 100k metric points to the fake MLflow server (tests/helpers/fake_mlflow.ts)
// on loopback, in one run, side by side:
//   - uetai's MlflowLogger (log() per step, batched by the pipeline);
//   - the npm `mlflow` client (2.0.7, the only JavaScript MLflow client on
//     npm): one `logMetric` request per point, as MLflow's own Python client
//     sends them by default;
//   - the npm `mlflow` client's `logBatch`, "where it works": it does not cut
//     batches, so the caller sends 1000 points a request (more is a 400).
//
//   deno run -A bench/mlflow_bench.ts [points] [--skip-per-point]
//   (SPOOL=memory: uetai's queue in memory instead of the default file journal)
import { FakeMlflow } from "../tests/helpers/fake_mlflow.ts";
import { MlflowLogger } from "../mod.ts";
import MLflowNpm from "mlflow";

/** The part of the npm client this benchmark uses (its typings do not export the class usably). */
interface NpmClient {
  Experiments: {
    create(args: { name: string }): Promise<{ experiment_id: string }>;
  };
  Runs: {
    create(args: { experiment_id: string; start_time: number }): Promise<
      { run: { info: { run_id: string } } }
    >;
    logMetric(args: Record<string, unknown>): Promise<unknown>;
    logBatch(args: Record<string, unknown>): Promise<unknown>;
    update(args: Record<string, unknown>): Promise<unknown>;
  };
}
const NpmMlflow = MLflowNpm as unknown as new (
  args: { endpoint: string },
) => NpmClient;

const args = Deno.args.filter((a) => !a.startsWith("--"));
const points = Number(args[0] ?? 100_000);
const skipPerPoint = Deno.args.includes("--skip-per-point");
const KEYS = 10;

interface Figure {
  label: string;
  wallMs: number;
  requests: number;
  stored: number;
}

function value(i: number): { key: string; value: number; step: number } {
  return {
    key: `m${i % KEYS}`,
    value: Math.floor(i / KEYS) * 0.001 + (i % KEYS),
    step: Math.floor(i / KEYS),
  };
}

async function ours(): Promise<Figure> {
  const fake = await FakeMlflow.start();
  const dir = await Deno.makeTempDir({ prefix: "uetai-mlflow-bench-" });
  try {
    const logger = new MlflowLogger({
      trackingUri: fake.url,
      experimentName: "bench",
      dir,
      exitFlushTimeoutMs: 0,
      spool: Deno.env.get("SPOOL") === "memory" ? "memory" : "auto",
      env: {},
    });
    const started = performance.now();
    const values: Record<string, number> = {};
    for (let step = 0; step < points / KEYS; step++) {
      for (let k = 0; k < KEYS; k++) values[`m${k}`] = step * 0.001 + k;
      logger.log(values, { step });
    }
    const report = await logger.end({ timeoutMs: 3_600_000 });
    const wallMs = performance.now() - started;
    if (!report.ok) throw new Error("uetai: the run did not end cleanly");
    const run = fake.run((await logger.mlflowRun()).runId)!;
    return {
      label: "uetai MlflowLogger",
      wallMs,
      requests: fake.requests.length,
      stored: run.metrics.length,
    };
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function npm(mode: "per-point" | "logBatch"): Promise<Figure> {
  const fake = await FakeMlflow.start();
  // The npm client prints every POST body with console.log: silence it.
  const log = console.log;
  console.log = () => {};
  try {
    const client = new NpmMlflow({ endpoint: fake.url });
    const { experiment_id } = await client.Experiments.create({
      name: "bench",
    });
    const { run } = await client.Runs.create({
      experiment_id,
      start_time: Date.now(),
    });
    const runId = run.info.run_id;
    const started = performance.now();
    if (mode === "per-point") {
      for (let i = 0; i < points; i++) {
        const point = value(i);
        await client.Runs.logMetric({
          run_id: runId,
          ...point,
          timestamp: Date.now(),
        });
      }
    } else {
      for (let start = 0; start < points; start += 1000) {
        const metrics = [];
        for (let i = start; i < Math.min(points, start + 1000); i++) {
          metrics.push({ ...value(i), timestamp: Date.now() });
        }
        await client.Runs.logBatch({ run_id: runId, metrics });
      }
    }
    await client.Runs.update({
      run_id: runId,
      status: "FINISHED",
      end_time: Date.now(),
    });
    const wallMs = performance.now() - started;
    return {
      label: `npm mlflow ${
        mode === "per-point" ? "logMetric per point" : "logBatch of 1000"
      }`,
      wallMs,
      requests: fake.requests.length,
      stored: fake.run(runId)!.metrics.length,
    };
  } finally {
    console.log = log;
    await fake.close();
  }
}

const figures = [await ours(), await npm("logBatch")];
if (!skipPerPoint) figures.push(await npm("per-point"));
console.log(
  `${points} metric points (${KEYS} keys a step), fake MLflow on 127.0.0.1 (${Deno.build.os}, deno ${Deno.version.deno})`,
);
for (const f of figures) {
  console.log(
    `${f.label.padEnd(34)} ${(f.wallMs / 1000).toFixed(2).padStart(8)} s  ${
      String(f.requests).padStart(7)
    } requests  ${f.stored} points stored  ratio ${
      (f.wallMs / figures[0].wallMs).toFixed(2)
    }`,
  );
}
