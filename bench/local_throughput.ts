/**
 * End-to-end throughput of 1M metric points into the local store: from the
 * first `log()` to `end()` returning with everything on disk, with peak RSS.
 * Run: `deno run -A bench/local_throughput.ts [points]`.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../mod.ts";
import { LocalStore } from "../backends/local/mod.ts";

const POINTS = Number(
  (globalThis as { process?: { argv: string[] } }).process?.argv[2] ??
    1_000_000,
);
const KEYS = 10;
const process = (globalThis as unknown as {
  process: { memoryUsage(): { rss: number; heapUsed: number } };
})
  .process;

const dir = await mkdtemp(join(tmpdir(), "uetai-throughput-"));
const rssStart = process.memoryUsage().rss;
let rssPeak = rssStart;
const heapStart = process.memoryUsage().heapUsed;
let heapPeak = heapStart;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  rssPeak = Math.max(rssPeak, usage.rss);
  heapPeak = Math.max(heapPeak, usage.heapUsed);
}, 20);

const logger = createLogger({
  project: "throughput",
  dir,
  exitFlushTimeoutMs: 0,
});
const start = performance.now();
const calls = POINTS / KEYS;
for (let step = 0; step < calls; step++) {
  const x = step * 0.001;
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
    step,
  });
  if (step % 10_000 === 0) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
const logged = performance.now();
const report = await logger.end({ timeoutMs: 300_000 });
const ended = performance.now();
clearInterval(sampler);
rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

const run = await new LocalStore({ dir }).getRun("throughput", logger.runId);
const bytes = (await stat(join(run.path, "events.ndjson"))).size;
const readStart = performance.now();
const series = await new LocalStore({ dir }).readMetrics(
  "throughput",
  logger.runId,
);
const readMs = performance.now() - readStart;
let read = 0;
for (const points of series.values()) read += points.length;
await rm(dir, { recursive: true, force: true });

const seconds = (ended - start) / 1000;
console.log(
  `${POINTS} points (${calls} log() calls of ${KEYS} keys) into the local store`,
);
console.log(`  log() loop:       ${((logged - start) / 1000).toFixed(2)} s`);
console.log(
  `  until end():      ${seconds.toFixed(2)} s  ->  ${
    (POINTS / seconds / 1e6).toFixed(2)
  } M points/s`,
);
console.log(
  `  journal size:     ${(bytes / 1024 / 1024).toFixed(1)} MiB (${
    (bytes / POINTS).toFixed(0)
  } B/point)`,
);
console.log(
  `  read back:        ${read} points in ${(readMs / 1000).toFixed(2)} s`,
);
console.log(
  `  peak RSS growth:  ${((rssPeak - rssStart) / 1024 / 1024).toFixed(0)} MiB`,
);
console.log(
  `  peak heap growth: ${
    ((heapPeak - heapStart) / 1024 / 1024).toFixed(0)
  } MiB (sampled every 20 ms)`,
);
console.log(`  stored: ${report.ok}, dropped: ${logger.stats().dropped}`);
if (!report.ok || read !== POINTS) {
  throw new Error("Not every point was stored");
}
