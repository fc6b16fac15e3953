// 100k metric points to the fake Comet server (tests/helpers/fake_comet.ts)
// on loopback, side by side with the floor: raw `fetch` of the same number of
// pre-encoded, gzip-compressed 1000-value batches to the same server.
//
//   deno run -A bench/comet_bench.ts [points] [--published-limits]
//
// Without `--published-limits` the client-side rate limiter is off (a
// self-hosted server); with it, Comet's published 12 000 metrics a minute
// apply and the run takes minutes: the figure shows the pacing, not speed.
import { FakeComet } from "../tests/helpers/fake_comet.ts";
import { CometLogger } from "../mod.ts";
import { gzip } from "../backends/comet/mod.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const points = Number(args[0] ?? 100_000);
const published = Deno.args.includes("--published-limits");
const KEYS = 10;

async function ours(): Promise<Record<string, number>> {
  const fake = await FakeComet.start();
  const dir = await Deno.makeTempDir({ prefix: "uetai-comet-bench-" });
  try {
    const logger = new CometLogger({
      apiKey: fake.apiKey,
      workspace: fake.workspace,
      projectName: "bench",
      urlOverride: `${fake.url}/clientlib/`,
      dir,
      rateLimits: published ? undefined : false,
      heartbeat: false,
      exitFlushTimeoutMs: 0,
      spool: Deno.env.get("SPOOL") === "memory" ? "memory" : "auto",
    });
    const started = performance.now();
    const steps = points / KEYS;
    const values: Record<string, number> = {};
    for (let step = 0; step < steps; step++) {
      for (let k = 0; k < KEYS; k++) values[`m${k}`] = step * 0.001 + k;
      logger.log(values, { step });
    }
    const logMs = performance.now() - started;
    const report = await logger.end({ timeoutMs: 3_600_000 });
    const wallMs = performance.now() - started;
    const stored = fake.experiment(logger.experimentKey)?.metrics.length ?? 0;
    if (!report.ok || stored !== points) {
      throw new Error(`lost points: ${stored} of ${points} stored`);
    }
    const metricRequests = fake.requests.filter((r) =>
      r.path === "/clientlib/batch/logger/experiment/metric"
    ).length;
    return {
      wallMs,
      logMs,
      metricRequests,
      requests: fake.requests.length,
      throttled: logger.stats().throttled,
    };
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function floor(): Promise<Record<string, number>> {
  const fake = await FakeComet.start();
  try {
    const key = crypto.randomUUID().replaceAll("-", "");
    const handshake = await fetch(`${fake.url}/clientlib/logger/add/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        apiKey: fake.apiKey,
        experimentKey: key,
        projectName: "bench",
        teamName: fake.workspace,
        offline: false,
        local_timestamp: Date.now(),
        libVersion: "3.32.5",
      }),
    });
    await handshake.body?.cancel();
    const bodies: Uint8Array[] = [];
    for (let start = 0; start < points; start += 1000) {
      const values = [];
      for (let i = start; i < Math.min(points, start + 1000); i++) {
        values.push({
          metricName: `m${i % KEYS}`,
          metricValue: Math.floor(i / KEYS) * 0.001 + (i % KEYS),
          step: Math.floor(i / KEYS),
          epoch: null,
          context: null,
          timestamp: Date.now(),
        });
      }
      bodies.push(
        await gzip(
          new TextEncoder().encode(
            JSON.stringify({ experimentKey: key, values }),
          ),
        ),
      );
    }
    const started = performance.now();
    for (const body of bodies) {
      const response = await fetch(
        `${fake.url}/clientlib/batch/logger/experiment/metric`,
        {
          method: "POST",
          headers: {
            authorization: fake.apiKey,
            "content-type": "application/json;charset=utf-8",
            "content-encoding": "gzip",
          },
          body: body as BodyInit,
        },
      );
      if (!response.ok) throw new Error(`floor: ${response.status}`);
      await response.body?.cancel();
    }
    const wallMs = performance.now() - started;
    return { wallMs, metricRequests: bodies.length };
  } finally {
    await fake.close();
  }
}

const a = await ours();
const b = published ? undefined : await floor();
const line = (label: string, r: Record<string, number>) =>
  console.log(
    `${label.padEnd(34)} ${(r.wallMs / 1000).toFixed(2).padStart(8)} s  ${
      String(r.metricRequests).padStart(5)
    } metric requests${r.requests ? `, ${r.requests} requests in all` : ""}${
      r.logMs !== undefined
        ? `, log() total ${r.logMs.toFixed(1)} ms (${
          (r.logMs * 1e6 / points).toFixed(0)
        } ns/point)`
        : ""
    }${r.throttled ? `, throttled ${r.throttled}×` : ""}`,
  );
console.log(
  `${points} metric points, ${KEYS} keys per log() call, fake Comet on 127.0.0.1 (${Deno.build.os}, deno ${Deno.version.deno})`,
);
line(
  `uetai CometLogger${published ? " (published limits)" : " (no limiter)"}`,
  a,
);
if (b) {
  line("raw fetch of pre-encoded batches", b);
  console.log(`ratio ours/floor: ${(a.wallMs / b.wallMs).toFixed(2)}`);
}
