// Crash recovery, end to end: a child process logs through a real logger and
// is killed with SIGKILL mid-run; a second one over the same folder must
// deliver everything the first had flushed, exactly once.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx
// --test`; the children run in the same runtime as the test.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFile, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeEvents, encodeEvent } from "../event/codec.ts";
import type { MetricEvent, TrackingEvent } from "../event/types.ts";
import { LocalBackend } from "../backends/local/local_backend.ts";
import { LocalStore } from "../backends/local/local_store.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHILD = fileURLToPath(
  new URL("./helpers/crash_child.ts", import.meta.url),
);
/** Metrics per step logged by the child (CRASH_KEYS). */
const KEYS = 20;
/** `maxEventsPerBatch` of the child's sink backend. */
const SINK_BATCH_EVENTS = 100;
/** Longest a child may take to print what we wait for, or to exit. */
const CHILD_TIMEOUT_MS = 20_000;

const nodeProcess = (globalThis as {
  process: { execPath: string; env: Record<string, string | undefined> };
}).process;

/** The command that runs the child in the runtime running this test. */
function childCommand(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno !== undefined) return [deno.execPath(), ["run", "-A", CHILD]];
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ||
    (nodeProcess as { versions?: { bun?: string } }).versions?.bun !==
      undefined;
  if (isBun) return [nodeProcess.execPath, [CHILD]];
  return [nodeProcess.execPath, ["--import", "tsx", CHILD]];
}

interface Flush {
  runId: string;
  seq: number;
  status: string;
}

interface ChildResult {
  runId: string;
  flushes: Flush[];
  ended?: { lastSeq: number; ok: boolean; stats: string };
  code: number | null;
  signal: string | null;
  stderr: string;
}

interface ChildOptions {
  mode: "log" | "recover" | "local";
  dir: string;
  sink?: string;
  down?: boolean;
  /** SIGKILL the child once it printed this many flush lines that count. */
  killAfterFlushes?: number;
  /** Which flush statuses count towards `killAfterFlushes`. */
  countStatuses?: readonly string[];
}

/**
 * Runs the child until it exits (or, with `killAfterFlushes`, kills it with
 * SIGKILL a random few milliseconds after the wanted flush line).
 */
function runChild(options: ChildOptions): Promise<ChildResult> {
  const [command, args] = childCommand();
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...nodeProcess.env,
      NO_COLOR: "1",
      CRASH_MODE: options.mode,
      CRASH_DIR: options.dir,
      CRASH_SINK: options.sink ?? "",
      CRASH_DOWN: options.down ? "1" : "0",
      CRASH_KEYS: String(KEYS),
      CRASH_FLUSH_EVERY: "10",
    },
  });
  const result: ChildResult = {
    runId: "",
    flushes: [],
    code: null,
    signal: null,
    stderr: "",
  };
  return new Promise((resolve, reject) => {
    let buffered = "";
    let counted = 0;
    let killScheduled = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, CHILD_TIMEOUT_MS);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      result.stderr += chunk;
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const words = line.split(" ");
        if (words[0] === "start") result.runId = words[1];
        if (words[0] === "flushed") {
          const flush = {
            runId: words[1],
            seq: Number(words[2]),
            status: words[3],
          };
          result.flushes.push(flush);
          const counts = options.countStatuses ?? ["flushed", "spooled"];
          if (counts.includes(flush.status)) counted++;
          if (
            options.killAfterFlushes !== undefined && !killScheduled &&
            counted >= options.killAfterFlushes
          ) {
            killScheduled = true;
            // Land the kill somewhere in the middle of the next steps.
            setTimeout(
              () => child.kill("SIGKILL"),
              Math.floor(Math.random() * 25),
            );
          }
        }
        if (words[0] === "ended") {
          result.ended = {
            lastSeq: Number(words[2]),
            ok: words[3] === "true",
            stats: words.slice(4).join(" "),
          };
        }
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      result.code = code;
      result.signal = signal;
      if (timedOut) {
        reject(
          new Error(
            `The child (${options.mode}) timed out after ${CHILD_TIMEOUT_MS} ms; it printed ${result.flushes.length} flush lines; stderr:\n${result.stderr}`,
          ),
        );
      } else resolve(result);
    });
  });
}

/** The events of a sink file; a killed writer may have left a torn tail. */
async function readSink(
  path: string,
  allowTornTail: boolean,
): Promise<TrackingEvent[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return [];
    throw error;
  }
  return decodeEvents(text, { allowTornTail });
}

const keyOf = (event: TrackingEvent) => `${event.runId}#${event.seq}`;

function assertNoDuplicates(events: readonly TrackingEvent[], label: string) {
  const seen = new Set<string>();
  for (const event of events) {
    assert.ok(
      !seen.has(keyOf(event)),
      `${label}: (runId, seq) ${keyOf(event)} delivered twice`,
    );
    seen.add(keyOf(event));
  }
}

function assertOrderedPerRun(events: readonly TrackingEvent[], label: string) {
  const last = new Map<string, number>();
  for (const event of events) {
    const previous = last.get(event.runId) ?? -1;
    assert.ok(
      event.seq > previous,
      `${label}: run ${event.runId} delivered seq ${event.seq} after ${previous}`,
    );
    last.set(event.runId, event.seq);
  }
}

/** Checks an event of a child's run is what the child logged at that seq. */
function assertLoggedEvent(event: TrackingEvent) {
  if (event.seq === 0) {
    assert.equal(event.kind, "run_start");
    return;
  }
  if (event.kind !== "metric") return; // run_end of a recover child
  const k = (event.seq - 1) % KEYS;
  const step = Math.floor((event.seq - 1) / KEYS);
  assert.equal(event.key, `k${k}`, `key of seq ${event.seq}`);
  assert.equal(event.step, step, `step of seq ${event.seq}`);
  assert.equal(event.value, step * 1000 + k, `value of seq ${event.seq}`);
}

/** The seqs of one run must be exactly 0, 1, ..., max with max >= atLeast. */
function assertContiguous(
  events: readonly TrackingEvent[],
  runId: string,
  atLeast: number,
  label: string,
): number {
  const seqs = events.filter((e) => e.runId === runId).map((e) => e.seq)
    .sort((a, b) => a - b);
  assert.ok(seqs.length > 0, `${label}: nothing of run ${runId} delivered`);
  for (let i = 0; i < seqs.length; i++) {
    assert.equal(
      seqs[i],
      i,
      `${label}: run ${runId} has seq ${
        seqs[i]
      } where ${i} was expected (a gap or a duplicate)`,
    );
  }
  const max = seqs[seqs.length - 1];
  assert.ok(
    max >= atLeast,
    `${label}: run ${runId} delivered up to seq ${max}, but seq ${atLeast} had been flushed`,
  );
  return max;
}

/**
 * Delivery is at least once: a batch the sink wrote right before the kill,
 * whose ack never reached the spool, is sent again after recovery. Only
 * that batch may come twice: any repeat must be among the last
 * `SINK_BATCH_EVENTS` events the killed process delivered.
 */
function assertOnlyInFlightRepeated(
  killed: readonly TrackingEvent[],
  later: readonly TrackingEvent[],
  label: string,
): number {
  const tail = new Set(killed.slice(-SINK_BATCH_EVENTS).map(keyOf));
  const earlier = new Set(killed.map(keyOf));
  let repeated = 0;
  for (const event of later) {
    if (!earlier.has(keyOf(event))) continue;
    repeated++;
    assert.ok(
      tail.has(keyOf(event)),
      `${label}: ${
        keyOf(event)
      } was acknowledged before the kill (not in the last in-flight batch) and delivered again`,
    );
  }
  return repeated;
}

/** Session folders left in the spool lane: none once everything is acked. */
async function leftoverSessions(dir: string): Promise<string[]> {
  const names = await readdir(join(dir, ".spool", "sink")).catch(
    () => [] as string[],
  );
  return names.filter((name) => /^[sat]-/.test(name));
}

function lastFlush(result: ChildResult, statuses: readonly string[]): Flush {
  const counted = result.flushes.filter((f) => statuses.includes(f.status));
  assert.ok(
    counted.length > 0,
    `the child printed no flush line; stderr:\n${result.stderr}`,
  );
  for (const flush of result.flushes) {
    assert.equal(flush.runId, result.runId);
  }
  return counted[counted.length - 1];
}

function assertKilled(result: ChildResult) {
  assert.equal(
    result.signal,
    "SIGKILL",
    `the child should have been killed, it exited with ${result.code}; stderr:\n${result.stderr}`,
  );
}

async function recover(dir: string, sink: string): Promise<ChildResult> {
  const result = await runChild({ mode: "recover", dir, sink });
  assert.equal(
    result.code,
    0,
    `the recovering child failed; stderr:\n${result.stderr}`,
  );
  assert.ok(result.ended, `the recovering child did not end its run`);
  assert.ok(
    result.ended.ok,
    `the recovering child's final flush was not ok: ${result.ended.stats}`,
  );
  return result;
}

describe("crash recovery with a file spool (SIGKILL mid-run)", () => {
  it("replays everything flushed during an outage, exactly once", async () => {
    await withTempDir(async (dir) => {
      const sink1 = join(dir, "sink-1.ndjson");
      const sink2 = join(dir, "sink-2.ndjson");
      const first = await runChild({
        mode: "log",
        dir,
        sink: sink1,
        down: true,
        killAfterFlushes: 3,
      });
      assertKilled(first);
      for (const flush of first.flushes) {
        assert.equal(flush.status, "spooled", "the sink was down");
      }
      const flushed = lastFlush(first, ["spooled"]);
      assert.equal((await readSink(sink1, true)).length, 0);

      const second = await recover(dir, sink2);
      const delivered = await readSink(sink2, false);
      assertNoDuplicates(delivered, "after recovery");
      assertOrderedPerRun(delivered, "after recovery");
      for (const event of delivered) {
        if (event.runId === first.runId) assertLoggedEvent(event);
      }
      assertContiguous(delivered, first.runId, flushed.seq, "dead run");
      assertContiguous(
        delivered,
        second.runId,
        second.ended!.lastSeq,
        "recovering run",
      );
      assert.deepEqual(await leftoverSessions(dir), []);
    });
  });

  it("loses nothing flushed and repeats nothing acknowledged when the backend was up", async () => {
    await withTempDir(async (dir) => {
      const sink1 = join(dir, "sink-1.ndjson");
      const sink2 = join(dir, "sink-2.ndjson");
      const first = await runChild({
        mode: "log",
        dir,
        sink: sink1,
        killAfterFlushes: 3,
      });
      assertKilled(first);
      const flushed = lastFlush(first, ["flushed", "spooled"]);
      const before = await readSink(sink1, true);
      assert.ok(before.length > 0, "some batches were acknowledged");
      assertNoDuplicates(before, "before the kill");
      assertOrderedPerRun(before, "before the kill");

      const second = await recover(dir, sink2);
      const after = await readSink(sink2, false);
      assertNoDuplicates(after, "after recovery");
      assertOrderedPerRun(after, "after recovery");
      assertOnlyInFlightRepeated(before, after, "recovery");

      const union = [...before, ...after];
      const unique = [...new Map(union.map((e) => [keyOf(e), e])).values()];
      for (const event of unique) {
        if (event.runId === first.runId) assertLoggedEvent(event);
      }
      assertContiguous(unique, first.runId, flushed.seq, "dead run");
      assertContiguous(
        unique,
        second.runId,
        second.ended!.lastSeq,
        "recovering run",
      );
      assert.deepEqual(await leftoverSessions(dir), []);
    });
  });

  it("survives two crashes in a row (an adopted session is adopted again)", async () => {
    await withTempDir(async (dir) => {
      const sinks = [1, 2, 3].map((i) => join(dir, `sink-${i}.ndjson`));
      // First process: the backend is down, everything stays in its spool.
      const first = await runChild({
        mode: "log",
        dir,
        sink: sinks[0],
        down: true,
        killAfterFlushes: 2,
      });
      assertKilled(first);
      const flushed1 = lastFlush(first, ["spooled"]);
      // Second process: adopts the first's session, the backend is up, so
      // part of the adopted events is acknowledged before it is killed too.
      const second = await runChild({
        mode: "log",
        dir,
        sink: sinks[1],
        killAfterFlushes: 2,
      });
      assertKilled(second);
      const flushed2 = lastFlush(second, ["flushed", "spooled"]);
      const delivered2 = await readSink(sinks[1], true);
      assertNoDuplicates(delivered2, "second process");
      assertOrderedPerRun(delivered2, "second process");

      const third = await recover(dir, sinks[2]);
      const delivered3 = await readSink(sinks[2], false);
      assertNoDuplicates(delivered3, "third process");
      assertOrderedPerRun(delivered3, "third process");
      assertOnlyInFlightRepeated(delivered2, delivered3, "second recovery");

      const unique = [
        ...new Map([...delivered2, ...delivered3].map((e) => [keyOf(e), e]))
          .values(),
      ];
      for (const event of unique) {
        if (event.runId !== third.runId) assertLoggedEvent(event);
      }
      assertContiguous(unique, first.runId, flushed1.seq, "first dead run");
      assertContiguous(unique, second.runId, flushed2.seq, "second dead run");
      assertContiguous(
        unique,
        third.runId,
        third.ended!.lastSeq,
        "recovering run",
      );
      assert.deepEqual(await leftoverSessions(dir), []);
    });
  });
});

describe("crash recovery with the local store (SIGKILL mid-run)", () => {
  it("keeps every flushed point, and cuts a torn last line on reopen", async () => {
    await withTempDir(async (dir) => {
      const child = await runChild({
        mode: "local",
        dir,
        killAfterFlushes: 3,
        countStatuses: ["flushed"],
      });
      assertKilled(child);
      const flushed = lastFlush(child, ["flushed"]);
      const runId = child.runId;
      const store = new LocalStore({ dir });

      const events: TrackingEvent[] = [];
      for await (const event of store.readEvents("crash", runId)) {
        events.push(event);
      }
      assertNoDuplicates(events, "journal");
      assertOrderedPerRun(events, "journal");
      for (const event of events) assertLoggedEvent(event);
      const max = assertContiguous(events, runId, flushed.seq, "journal");

      const flushedSteps = flushed.seq / KEYS;
      const series = await store.readMetrics("crash", runId);
      assert.equal(series.size, KEYS);
      for (let k = 0; k < KEYS; k++) {
        const points = series.get(`k${k}`) ?? [];
        assert.ok(
          points.length >= flushedSteps,
          `k${k}: ${points.length} points, ${flushedSteps} steps were flushed`,
        );
        points.forEach((point, i) => {
          assert.equal(point.step, i, `k${k}: step ${point.step} at ${i}`);
          assert.equal(point.value, i * 1000 + k);
        });
      }
      assert.equal((await store.getRun("crash", runId)).status, "running");

      // A torn last line, as if the process had died in the middle of a write.
      const journal = join(dir, "crash", runId, "events.ndjson");
      const metric = (seq: number): MetricEvent => {
        const k = (seq - 1) % KEYS;
        const step = Math.floor((seq - 1) / KEYS);
        return {
          kind: "metric",
          runId,
          seq,
          timestampMs: Date.now(),
          key: `k${k}`,
          value: step * 1000 + k,
          step,
        };
      };
      await appendFile(journal, encodeEvent(metric(max + 1)).slice(0, 37));
      let count = 0;
      for await (const _ of store.readEvents("crash", runId)) count++;
      assert.equal(count, events.length, "a torn tail is skipped by readers");

      // A new backend reopens the run: the torn line is cut off, a replay of
      // stored events is skipped, and new events land on a clean line.
      const backend = new LocalBackend({ dir });
      const batch: TrackingEvent[] = [metric(max - 1), metric(max)];
      for (let seq = max + 1; seq <= max + 30; seq++) batch.push(metric(seq));
      batch.push({
        kind: "run_end",
        runId,
        seq: max + 31,
        timestampMs: Date.now(),
        status: "failed",
      });
      const result = await backend.send(batch);
      assert.deepEqual(result, { status: "success" });
      await backend.close();

      const text = await readFile(journal, "utf8");
      assert.ok(text.endsWith("\n"));
      const reread = decodeEvents(text); // strict: no torn line anywhere
      assertNoDuplicates(reread, "journal after reopen");
      assertOrderedPerRun(reread, "journal after reopen");
      assert.equal(
        assertContiguous(reread, runId, max + 31, "reopen"),
        max + 31,
      );
      const streamed: TrackingEvent[] = [];
      for await (const event of store.readEvents("crash", runId)) {
        streamed.push(event);
      }
      assert.deepEqual(streamed.map(keyOf), reread.map(keyOf));
      const after = await store.readMetrics("crash", runId);
      for (let k = 0; k < KEYS; k++) {
        const steps = after.get(`k${k}`)!.map((p) => p.step);
        assert.deepEqual(steps, steps.map((_, i) => i), `k${k} steps`);
      }
      assert.equal((await store.getRun("crash", runId)).status, "failed");
    });
  });
});
