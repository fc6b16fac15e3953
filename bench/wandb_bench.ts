// 100k metric points (10 keys × 10k steps) to the fake W&B server
// (tests/helpers/fake_wandb.ts) on loopback, side by side in one run:
//   - uetai's WandbLogger (log() per step; the pipeline cuts batches of
//     1000 events, the backend sends one file_stream request of 100 rows
//     each, with the summary);
//   - the floor: raw `fetch` of the same requests pre-encoded (the same
//     rows and summaries, the same offsets) to the same server.
//
//   deno run -A bench/wandb_bench.ts [points]
//   (SPOOL=memory: uetai's queue in memory instead of the default file journal)
import { FakeWandb } from "../tests/helpers/fake_wandb.ts";
import { WandbLogger } from "../mod.ts";
import { wandbJson } from "../backends/wandb/mod.ts";

const points = Number(Deno.args[0] ?? 100_000);
const KEYS = 10;
const ROWS_PER_REQUEST = 1000 / KEYS;

interface Figure {
  wallMs: number;
  streamRequests: number;
  rows: number;
  logMs?: number;
}

async function ours(): Promise<Figure> {
  const fake = await FakeWandb.start();
  const dir = await Deno.makeTempDir({ prefix: "uetai-wandb-bench-" });
  try {
    const started = performance.now();
    const logger = new WandbLogger({
      apiKey: fake.apiKey,
      baseUrl: fake.url,
      project: "bench",
      dir,
      env: {},
      spool: Deno.env.get("SPOOL") === "memory" ? "memory" : "auto",
    });
    let logMs = 0;
    for (let step = 0; step < points / KEYS; step++) {
      const values: Record<string, number> = {};
      for (let k = 0; k < KEYS; k++) values[`m${k}`] = step * 0.001 + k;
      const t = performance.now();
      logger.log(values, { step });
      logMs += performance.now() - t;
    }
    const report = await logger.end();
    const wallMs = performance.now() - started;
    if (!report.ok) {
      throw new Error(
        `ours: the flush did not complete: ${JSON.stringify(report)}`,
      );
    }
    const run = fake.run(logger.runId, "bench")!;
    return {
      wallMs,
      logMs,
      rows: run.history.length,
      streamRequests: fake.requests.filter((r) =>
        r.path.endsWith("/file_stream") &&
        JSON.stringify(r.json).includes("wandb-history.jsonl")
      ).length,
    };
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function floor(): Promise<Figure> {
  const fake = await FakeWandb.start();
  try {
    const auth = `Basic ${btoa(`api:${fake.apiKey}`)}`;
    const upsert = await fetch(`${fake.url}/graphql`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify({
        operationName: "UpsertBucket",
        query:
          "mutation UpsertBucket($name: String, $project: String, $entity: String) { upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) { bucket { id } } }",
        variables: { name: "floor", project: "bench", entity: fake.entity },
      }),
    });
    if (!upsert.ok) throw new Error(`floor upsert: ${upsert.status}`);
    await upsert.body?.cancel();
    const bodies: string[] = [];
    const steps = points / KEYS;
    const startMs = Date.now();
    const summary: Record<string, unknown> = {};
    for (let first = 0; first < steps; first += ROWS_PER_REQUEST) {
      const rows: string[] = [];
      for (
        let step = first;
        step < Math.min(steps, first + ROWS_PER_REQUEST);
        step++
      ) {
        const row: Record<string, unknown> = {
          _step: step,
          _timestamp: Date.now() / 1000,
          _runtime: (Date.now() - startMs) / 1000,
        };
        for (let k = 0; k < KEYS; k++) row[`m${k}`] = step * 0.001 + k;
        Object.assign(summary, row);
        rows.push(wandbJson(row));
      }
      bodies.push(JSON.stringify({
        files: {
          "wandb-history.jsonl": { offset: first, content: rows },
          "wandb-summary.json": { offset: 0, content: [wandbJson(summary)] },
        },
      }));
    }
    const url = `${fake.url}/files/${fake.entity}/bench/floor/file_stream`;
    const started = performance.now();
    for (const body of bodies) {
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body,
      });
      if (!response.ok) throw new Error(`floor: ${response.status}`);
      await response.body?.cancel();
    }
    const wallMs = performance.now() - started;
    return {
      wallMs,
      streamRequests: bodies.length,
      rows: fake.run("floor", "bench")!.history.length,
    };
  } finally {
    await fake.close();
  }
}

const a = await ours();
const b = await floor();
const line = (label: string, r: Figure) =>
  console.log(
    `${label.padEnd(34)} ${(r.wallMs / 1000).toFixed(2).padStart(8)} s  ${
      String(r.streamRequests).padStart(5)
    } history requests, ${r.rows} rows stored${
      r.logMs !== undefined
        ? `, log() total ${r.logMs.toFixed(1)} ms (${
          (r.logMs * 1e6 / points).toFixed(0)
        } ns/point)`
        : ""
    }`,
  );
console.log(
  `${points} metric points, ${KEYS} keys per log() call, fake W&B on 127.0.0.1 (${Deno.build.os}, deno ${Deno.version.deno}${
    Deno.env.get("SPOOL") === "memory" ? ", SPOOL=memory" : ""
  })`,
);
line("uetai WandbLogger", a);
line("raw fetch of pre-encoded requests", b);
console.log(`ratio ours/floor: ${(a.wallMs / b.wallMs).toFixed(2)}`);
