// 100k metric points (10 keys × 10k steps) through the relay, side by side
// in one run:
//   - a logger with `relay: { url, token }` → relay (@hono/node-server on
//     127.0.0.1) → InMemoryBackend upstream;
//   - the floor: raw `fetch` of the same NDJSON batches, pre-encoded, to the
//     same relay (the relay's own cost included, the client's excluded);
//   - the same logger straight to an InMemoryBackend (no relay, no HTTP).
//
//   deno run -A bench/relay_bench.ts [points]
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createLogger } from "../mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { createRelay, mintToken } from "../relay/mod.ts";
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";

const points = Number(Deno.args[0] ?? 100_000);
const KEYS = 10;
const KEY = "relay-bench-signing-key-0123456789abcdef";

async function withRelay<T>(
  fn: (url: string, upstream: InMemoryBackend) => Promise<T>,
): Promise<T> {
  const upstream = new InMemoryBackend({
    limits: { maxEventsPerBatch: 5000, maxBatchBytes: 4 * 1024 * 1024 },
  });
  const relay = createRelay({
    upstream,
    signingKey: KEY,
    limits: { requestsPerMinute: 100_000 },
  });
  const server = serve({ fetch: relay.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    return await fn(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      upstream,
    );
  } finally {
    await relay.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

function logAll(logger: ReturnType<typeof createLogger>): void {
  for (let step = 0; step < points / KEYS; step++) {
    const values: Record<string, number> = {};
    for (let k = 0; k < KEYS; k++) values[`m${k}`] = step * 0.001 + k;
    logger.log(values, { step });
  }
}

const token = await mintToken(KEY, {
  project: "bench",
  expiresInMs: 3600_000,
});

const viaRelay = await withRelay(async (url, upstream) => {
  const started = performance.now();
  const logger = createLogger({
    project: "bench",
    relay: { url, token },
    spool: "memory",
  });
  logAll(logger);
  const report = await logger.end();
  const wallMs = performance.now() - started;
  if (!report.ok) throw new Error("relay run did not flush");
  return {
    wallMs,
    metrics: upstream.events.filter((e) => e.kind === "metric").length,
  };
});

const floor = await withRelay(async (url, upstream) => {
  const runId = "floorrun";
  const bodies: string[] = [];
  let seq = 0;
  let batch: TrackingEvent[] = [{
    kind: "run_start",
    runId,
    seq: seq++,
    timestampMs: Date.now(),
    project: "bench",
    tags: [],
  }];
  for (let i = 0; i < points; i++) {
    batch.push({
      kind: "metric",
      runId,
      seq: seq++,
      timestampMs: Date.now(),
      key: `m${i % KEYS}`,
      value: Math.floor(i / KEYS) * 0.001 + (i % KEYS),
      step: Math.floor(i / KEYS),
    });
    if (batch.length === 5000) {
      bodies.push(encodeEvents(batch));
      batch = [];
    }
  }
  if (batch.length > 0) bodies.push(encodeEvents(batch));
  const started = performance.now();
  for (const body of bodies) {
    const response = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/x-ndjson",
      },
      body,
    });
    if (!response.ok) throw new Error(`floor: ${response.status}`);
    await response.body?.cancel();
  }
  return {
    wallMs: performance.now() - started,
    requests: bodies.length,
    metrics: upstream.events.filter((e) => e.kind === "metric").length,
  };
});

const direct = await (async () => {
  const upstream = new InMemoryBackend();
  const started = performance.now();
  const logger = createLogger({
    project: "bench",
    backend: upstream,
    spool: "memory",
  });
  logAll(logger);
  await logger.end();
  return {
    wallMs: performance.now() - started,
    metrics: upstream.events.filter((e) => e.kind === "metric").length,
  };
})();

console.log(
  `${points} metric points, ${KEYS} keys per log() call, relay on 127.0.0.1 (deno ${Deno.version.deno})`,
);
const line = (label: string, r: { wallMs: number; metrics: number }) =>
  console.log(
    `${label.padEnd(44)} ${
      (r.wallMs / 1000).toFixed(2).padStart(6)
    } s  ${r.metrics} points upstream`,
  );
line("logger → relay → upstream", viaRelay);
line(`raw fetch of ${floor.requests} pre-encoded batches → relay`, floor);
line("logger → upstream directly (no relay)", direct);
console.log(
  `ratio relay logger / floor: ${(viaRelay.wallMs / floor.wallMs).toFixed(2)}`,
);
