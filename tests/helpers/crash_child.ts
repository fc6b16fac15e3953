// A child process for tests/crash_recovery.test.ts. It logs metrics through a
// real logger until its parent kills it (SIGKILL), or, in `recover` mode,
// starts a new run over the same folder (so the file spool adopts whatever
// dead processes left behind), ends it and exits.
//
// Settings come from the environment:
// - CRASH_MODE: `log` (file spool + sink backend, logs forever), `recover`
//   (file spool + sink backend, logs a little, ends), `local` (the real local
//   store, memory spool, logs forever).
// - CRASH_DIR: the logger's `dir` (store and spools).
// - CRASH_SINK: the file the sink backend appends accepted events to.
// - CRASH_DOWN: `1` makes the sink backend answer `retryable` (an outage).
// - CRASH_KEYS: metrics per step (default 20).
// - CRASH_FLUSH_EVERY: steps between two flushes (default 10).
//
// Protocol on stdout, one line each:
// - `start <runId>` once the logger exists;
// - `flushed <runId> <lastSeq> <status>` after each `flush()`: every event of
//   the run with a seq at most `lastSeq` was acknowledged or is in the file
//   spool (`status` is the backend's flush status);
// - `ended <runId> <lastSeq> <ok> <json stats>` in `recover` mode.
//
// Sequence numbers: `run_start` is seq 0; step `s` logs keys `k0..k{K-1}`
// with seqs `1 + s*K .. (s+1)*K`; so after `n` steps the last seq is `n*K`.
import { appendFileSync } from "node:fs";
import { createLogger } from "../../mod.ts";
import { encodeEvents } from "../../event/codec.ts";
import type { TrackingEvent } from "../../event/types.ts";
import type { Backend, SendResult } from "../../pipeline/backend.ts";

const env = (globalThis as {
  process: { env: Record<string, string | undefined> };
}).process.env;
const mode = env.CRASH_MODE ?? "log";
const dir = env.CRASH_DIR;
const sink = env.CRASH_SINK ?? "";
const down = env.CRASH_DOWN === "1";
const keys = Number(env.CRASH_KEYS ?? 20);
const flushEvery = Number(env.CRASH_FLUSH_EVERY ?? 10);
if (!dir) throw new Error("crash_child: CRASH_DIR is not set");

/** Most events per batch of the sink backend (the test relies on it). */
const SINK_BATCH_EVENTS = 100;

/**
 * Appends every accepted batch to the sink file with a synchronous write,
 * so what it acknowledged is in the file even if the process dies right
 * after. Not `durable`, so the logger puts a file spool in front of it.
 */
const sinkBackend: Backend = {
  name: "sink",
  limits: { maxEventsPerBatch: SINK_BATCH_EVENTS, maxBatchBytes: 1 << 20 },
  send(batch: readonly TrackingEvent[]): Promise<SendResult> {
    if (down) {
      return Promise.resolve({
        status: "retryable",
        error: new Error("the sink is down"),
      });
    }
    appendFileSync(sink, encodeEvents(batch));
    return Promise.resolve({ status: "success" });
  },
  close(): Promise<void> {
    return Promise.resolve();
  },
};

const logger = createLogger({
  project: "crash",
  dir,
  backend: mode === "local" ? "local" : sinkBackend,
  spool: mode === "local" ? "auto" : "file",
  flushIntervalMs: 20,
  exitFlushTimeoutMs: 0,
  retry: { initialDelayMs: 20, maxDelayMs: 200 },
  onError: () => {},
});
const runId = logger.runId;
console.log(`start ${runId}`);

function values(step: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = 0; k < keys; k++) out[`k${k}`] = step * 1000 + k;
  return out;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

if (mode === "recover") {
  const steps = 5;
  for (let step = 0; step < steps; step++) logger.log(values(step), { step });
  const report = await logger.end({ timeoutMs: 15_000 });
  // seq: run_start 0, steps*keys metrics, then run_end.
  const lastSeq = steps * keys + 1;
  console.log(
    `ended ${runId} ${lastSeq} ${report.ok} ${JSON.stringify(logger.stats())}`,
  );
} else {
  const flushTimeoutMs = mode === "local" ? 10_000 : down ? 100 : 2_000;
  for (let step = 0;; step++) {
    logger.log(values(step), { step });
    if ((step + 1) % flushEvery === 0) {
      const report = await logger.flush({ timeoutMs: flushTimeoutMs });
      const lastSeq = (step + 1) * keys;
      console.log(
        `flushed ${runId} ${lastSeq} ${report.backends[0].status}`,
      );
    } else if (step % 3 === 0) {
      // Let the pipeline's timers run between flushes, so the kill can land
      // in the middle of a background send or spool write.
      await sleep(1);
    }
  }
}
