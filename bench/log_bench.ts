/**
 * Cost of `logger.log()` of a 10-key scalar dict, against a floor measured
 * in the same run: building the same object and pushing it to an array.
 * Prints p50/p90 per call and the ratio. Run: `deno run -A bench/log_bench.ts`
 * (also `bun bench/log_bench.ts`, `node --import tsx bench/log_bench.ts`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../mod.ts";

const ROUNDS = 400;
const CALLS = 1000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(samples: number[]): { p50: number; p90: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9) };
}

const yieldToLoop = (): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, 0));

const dir = await mkdtemp(join(tmpdir(), "uetai-bench-"));
const logger = createLogger({ project: "bench", dir, exitFlushTimeoutMs: 0 });
let sink: unknown[] = [];
const floor: number[] = [];
const minimum: number[] = [];
const log: number[] = [];
let step = 0;
let floorStep = 0;

// Interleave floor and log() rounds so both see the same machine state.
for (let round = 0; round < ROUNDS; round++) {
  let start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const x = floorStep++;
    sink.push({
      a: x,
      b: x + 1,
      c: x + 2,
      d: x + 3,
      e: x + 4,
      f: x + 5,
      g: x + 6,
      h: x + 7,
      i: x + 8,
      j: x + 9,
    });
  }
  floor.push(((performance.now() - start) * 1000) / CALLS);
  if (sink.length > 100_000) sink = [];

  // What any log() must do at the least: copy the dict (the caller may
  // mutate it), check every value's type, read the clock, queue one record.
  start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const x = floorStep++;
    const copy: Record<string, number> = {
      ...{
        a: x,
        b: x + 1,
        c: x + 2,
        d: x + 3,
        e: x + 4,
        f: x + 5,
        g: x + 6,
        h: x + 7,
        i: x + 8,
        j: x + 9,
      },
    };
    let count = 0;
    for (const key in copy) {
      const value = copy[key];
      if (typeof value !== "number" || value - value !== 0) {
        throw new TypeError(key);
      }
      count++;
    }
    sink.push({ values: copy, count, step: x, timestampMs: Date.now() });
  }
  minimum.push(((performance.now() - start) * 1000) / CALLS);
  if (sink.length > 100_000) sink = [];

  start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const x = step;
    logger.log({
      a: x,
      b: x + 1,
      c: x + 2,
      d: x + 3,
      e: x + 4,
      f: x + 5,
      g: x + 6,
      h: x + 7,
      i: x + 8,
      j: x + 9,
    }, {
      step: step++,
    });
  }
  log.push(((performance.now() - start) * 1000) / CALLS);
  await yieldToLoop(); // let the background pipeline run between rounds
}

const report = await logger.end({ timeoutMs: 120_000 });
await rm(dir, { recursive: true, force: true });
const f = summary(floor.slice(ROUNDS / 10));
const l = summary(log.slice(ROUNDS / 10));
const m = summary(minimum.slice(ROUNDS / 10));
const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";
console.log(
  `log() of a 10-key dict, ${ROUNDS} rounds x ${CALLS} calls, runtime ${runtime}`,
);
console.log(
  `  floor (build + push):  p50 ${f.p50.toFixed(3)} µs   p90 ${
    f.p90.toFixed(3)
  } µs`,
);
console.log(
  `  logger.log():          p50 ${l.p50.toFixed(3)} µs   p90 ${
    l.p90.toFixed(3)
  } µs`,
);
console.log(
  `  ratio p50 log/floor:   ${
    (l.p50 / f.p50).toFixed(2)
  }x   (targets: p50 <= 2 µs, ratio <= 3x)`,
);
console.log(
  `  minimum (copy, check, clock, push): p50 ${
    m.p50.toFixed(3)
  } µs; log()/minimum ${(l.p50 / m.p50).toFixed(2)}x`,
);
console.log(`  all stored: ${report.ok}, ${logger.stats().sent} events sent`);
