import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Backend,
  type BackendLimits,
  backoffDelayMs,
  BatchProcessor,
  type ErrorState,
  FileSpool,
  MemorySpool,
  OverflowSpool,
  parseRetryAfter,
  Pipeline,
  type SendResult,
  type Spool,
} from "../pipeline/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { decodeEvents, encodeEvent, utf8ByteLength } from "../event/codec.ts";
import type { MetricEvent, TrackingEvent } from "../event/types.ts";
import { BackendError, DroppedEventsError } from "../errors/errors.ts";
import { FakeClock, settle } from "./helpers/fake_clock.ts";
import { delegatingSpool } from "./helpers/spool.ts";

// ---------------------------------------------------------------------------
// Helpers

function metric(seq: number, key = "loss", runId = "run-1"): MetricEvent {
  return {
    kind: "metric",
    runId,
    seq,
    timestampMs: 0,
    key,
    value: seq / 7,
    step: seq,
  };
}

function lineBytes(event: TrackingEvent): number {
  return utf8ByteLength(encodeEvent(event));
}

function batchBytes(batch: readonly TrackingEvent[]): number {
  let total = 0;
  for (const event of batch) total += lineBytes(event);
  return total;
}

function seqs(events: readonly TrackingEvent[]): number[] {
  return events.map((event) => event.seq);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function errorSink(): {
  errors: ErrorState[];
  onError: (state: ErrorState) => void;
  dropped: () => DroppedEventsError[];
} {
  const errors: ErrorState[] = [];
  return {
    errors,
    onError: (state) => errors.push(state),
    dropped: () =>
      errors.map((state) => state.error).filter((error) =>
        error instanceof DroppedEventsError
      ) as DroppedEventsError[],
  };
}

/** Polls (with real macrotasks) until `condition` holds; for file I/O. */
async function waitFor(
  condition: () => boolean,
  what: string,
  realTimeoutMs = 30_000,
): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > realTimeoutMs) {
      throw new Error(`Timed out waiting for ${what}`);
    }
    await settle(1);
  }
}

/** Awaits `promise`, failing after `realTimeoutMs` of real time. */
async function withRealTimeout<T>(
  promise: Promise<T>,
  what: string,
  realTimeoutMs = 60_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out waiting for ${what}`)),
          realTimeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Moves fake time from timer to timer (letting real I/O progress in
 * between) until `promise` settles.
 */
async function drive<T>(
  clock: FakeClock,
  promise: Promise<T>,
  maxSteps = 20_000,
): Promise<T> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < maxSteps && !settled; i++) {
    await settle(1);
    if (settled) break;
    const next = clock.nextTimerAtMs;
    if (next !== undefined) await clock.tick(Math.max(0, next - clock.now()));
  }
  if (!settled) throw new Error("drive(): the promise did not settle");
  return await promise;
}

function isSettled(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  return () => settled;
}

interface SendCall {
  batch: readonly TrackingEvent[];
  signal: AbortSignal;
  atMs: number;
}

/** A backend whose every `send()` is decided by `handler`; records calls. */
class ScriptedBackend implements Backend {
  readonly name: string;
  readonly limits: BackendLimits;
  readonly calls: SendCall[] = [];
  readonly accepted: TrackingEvent[] = [];
  closed = false;
  #clock: FakeClock;
  #handler: (call: SendCall, attempt: number) => Promise<SendResult>;

  constructor(
    name: string,
    clock: FakeClock,
    handler: (call: SendCall, attempt: number) => Promise<SendResult>,
    limits: BackendLimits = { maxEventsPerBatch: 1000, maxBatchBytes: 1 << 20 },
  ) {
    this.name = name;
    this.#clock = clock;
    this.#handler = handler;
    this.limits = limits;
  }

  async send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    const call = { batch: [...batch], signal, atMs: this.#clock.now() };
    this.calls.push(call);
    const result = await this.#handler(call, this.calls.length);
    if (result.status === "success") this.accepted.push(...batch);
    return result;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function never(): Promise<SendResult> {
  return new Promise<SendResult>(() => {});
}

async function makeTempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "uetai-pipeline-test-"));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function segmentFiles(sessionDir: string): Promise<string[]> {
  return (await readdir(sessionDir))
    .filter((name) => /^segment-\d+\.ndjson$/.test(name))
    .sort();
}

async function readSegments(sessionDir: string): Promise<{
  events: TrackingEvent[];
  bytes: number;
}> {
  const events: TrackingEvent[] = [];
  let bytes = 0;
  for (const name of await segmentFiles(sessionDir)) {
    const text = await readFile(join(sessionDir, name), "utf8");
    bytes += utf8ByteLength(text);
    events.push(...decodeEvents(text));
  }
  return { events, bytes };
}

// ---------------------------------------------------------------------------

describe("BatchProcessor batching", () => {
  it("BatchProcessor keeps every batch within maxEventsPerBatch and maxBatchBytes and delivers every event once, in order", async () => {
    const limits = { maxEventsPerBatch: 7, maxBatchBytes: 700 };
    const backend = new InMemoryBackend({ name: "limited", limits });
    const clock = new FakeClock();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
    });
    const keys = [
      "loss",
      "métrique/précision",
      "损失/训练",
      "🚀/throughput",
      "a".repeat(60),
      "κλειδί/ü/ß",
    ];
    const events: TrackingEvent[] = [];
    for (let seq = 0; seq < 400; seq++) {
      const key = keys[seq % keys.length] +
        (seq % 5 === 0 ? "/" + "x".repeat(seq % 97) : "");
      let event: TrackingEvent;
      if (seq % 97 === 50) {
        // Bigger than maxBatchBytes on its own.
        event = {
          kind: "param",
          runId: "run-1",
          seq,
          timestampMs: 0,
          key,
          value: "日本語".repeat(120),
        };
      } else if (seq === 333) {
        event = {
          kind: "media",
          runId: "run-1",
          seq,
          timestampMs: 0,
          key: "image/🖼",
          step: seq,
          mediaType: "image",
          contentType: "image/png",
          data: new Uint8Array(900).map((_, i) => i % 256),
        };
      } else if (seq % 11 === 0) {
        event = {
          kind: "param",
          runId: "run-1",
          seq,
          timestampMs: 0,
          key,
          value: "ü".repeat(seq % 150),
        };
      } else {
        event = metric(seq, key);
      }
      events.push(event);
    }
    const oversized = events.filter((e) => lineBytes(e) > limits.maxBatchBytes);
    assert.equal(oversized.length, 5, "the fixture has oversized events");
    // utf8ByteLength agrees with a real UTF-8 encoder on these lines.
    const encoder = new TextEncoder();
    for (const event of events) {
      const line = encodeEvent(event);
      assert.equal(utf8ByteLength(line), encoder.encode(line).length);
    }

    for (const event of events) processor.enqueue(event);
    const report = await processor.flush();

    assert.deepEqual(report, {
      backend: "limited",
      status: "flushed",
      pendingEvents: 0,
      droppedEvents: 0,
    });
    assert.equal(backend.events.length, events.length);
    assert.deepEqual(seqs(backend.events), range(events.length));
    for (let i = 0; i < events.length; i++) {
      assert.equal(backend.events[i], events[i], `event ${i} is the same`);
    }
    const batches = backend.batches;
    for (const [index, batch] of batches.entries()) {
      assert.ok(batch.length >= 1);
      assert.ok(
        batch.length <= limits.maxEventsPerBatch,
        `batch ${index} has ${batch.length} events`,
      );
      if (batch.length > 1) {
        assert.ok(
          batchBytes(batch) <= limits.maxBatchBytes,
          `batch ${index} has ${batchBytes(batch)} bytes`,
        );
      }
      // Batches are cut greedily: the next event would not have fitted.
      if (index < batches.length - 1) {
        const next = batches[index + 1][0];
        assert.ok(
          batch.length === limits.maxEventsPerBatch ||
            batchBytes(batch) + lineBytes(next) > limits.maxBatchBytes,
          `batch ${index} could have taken the next event`,
        );
      }
    }
    for (const big of oversized) {
      const batch = batches.find((b) => b.includes(big));
      assert.deepEqual(batch, [big], `oversized event ${big.seq} is alone`);
    }
    assert.deepEqual(processor.stats(), {
      backend: "limited",
      queued: 0,
      sent: events.length,
      retried: 0,
      throttled: 0,
      throttledMs: 0,
      spooledBytes: 0,
      dropped: 0,
      batches: batches.length,
    });
  });

  it("BatchProcessor fills batches up to maxEventsPerBatch when bytes allow", async () => {
    const backend = new InMemoryBackend({
      limits: { maxEventsPerBatch: 10, maxBatchBytes: 1 << 20 },
    });
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock: new FakeClock(),
    });
    for (let seq = 0; seq < 35; seq++) processor.enqueue(metric(seq));
    await processor.flush();
    assert.deepEqual(backend.batches.map((b) => b.length), [10, 10, 10, 5]);
    assert.deepEqual(seqs(backend.events), range(35));
  });

  it("BatchProcessor rejects backends with invalid limits with a RangeError naming the backend", () => {
    for (
      const limits of [
        { maxEventsPerBatch: 0, maxBatchBytes: 10 },
        { maxEventsPerBatch: 1.5, maxBatchBytes: 10 },
        { maxEventsPerBatch: 10, maxBatchBytes: 0 },
        { maxEventsPerBatch: 10, maxBatchBytes: NaN },
      ]
    ) {
      assert.throws(
        () =>
          new BatchProcessor({
            backend: new InMemoryBackend({ name: "broken", limits }),
            spool: new MemorySpool(),
            clock: new FakeClock(),
          }),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes("'broken'"),
      );
    }
  });

  it("BatchProcessor sends queued events after flushIntervalMs without a flush() call", async () => {
    const backend = new InMemoryBackend();
    const clock = new FakeClock();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      flushIntervalMs: 2500,
    });
    processor.enqueue(metric(0));
    processor.enqueue(metric(1));
    await clock.tick(2499);
    assert.equal(backend.events.length, 0);
    await clock.tick(1);
    assert.deepEqual(seqs(backend.events), [0, 1]);
    assert.equal(clock.pendingTimers, 0, "no timer left once idle");
  });
});

describe("retry", () => {
  it("parseRetryAfter() reads delay-seconds as milliseconds", () => {
    assert.equal(parseRetryAfter("3"), 3000);
    assert.equal(parseRetryAfter("0"), 0);
    assert.equal(parseRetryAfter(" 120 "), 120_000);
    assert.equal(parseRetryAfter("1.5"), 1500);
  });

  it("parseRetryAfter() reads an HTTP date relative to nowMs", () => {
    const nowMs = Date.UTC(2015, 9, 21, 7, 28, 0);
    assert.equal(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", nowMs),
      10_000,
    );
    assert.equal(
      parseRetryAfter("Wed, 21 Oct 2015 08:28:00 GMT", nowMs),
      3_600_000,
    );
    // A date in the past means "now", never a negative delay.
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", nowMs), 0);
  });

  it("parseRetryAfter() returns undefined for absent or garbage values", () => {
    for (
      const value of [
        null,
        undefined,
        "",
        "   ",
        "soon",
        "abc",
        "5 seconds",
        "0x10",
        "1e3",
        "12abc",
      ]
    ) {
      assert.equal(
        parseRetryAfter(value, 0),
        undefined,
        `value ${JSON.stringify(value)}`,
      );
    }
  });

  // Regression test for a fixed bug (pipeline/retry.ts, parseRetryAfter): a signed number such as "-5"
  // or "+5" fails the delay-seconds regex and falls through to Date.parse,
  // which V8 and JavaScriptCore read as a date in 2001, so the header yields
  // 0 ms (retry at once) instead of undefined (use the backoff).
  it("parseRetryAfter() returns undefined for signed numbers", () => {
    const nowMs = Date.UTC(2026, 0, 1);
    assert.equal(parseRetryAfter("-5", nowMs), undefined);
    assert.equal(parseRetryAfter("+5", nowMs), undefined);
  });

  it("backoffDelayMs() grows exponentially, is capped at maxDelayMs, and lets retryAfterMs win", () => {
    const options = { initialDelayMs: 100, jitter: 0 };
    assert.deepEqual(
      [1, 2, 3, 4].map((attempt) => backoffDelayMs(attempt, options)),
      [100, 200, 400, 800],
    );
    assert.equal(backoffDelayMs(3, { initialDelayMs: 100, jitter: 0 }), 400);
    assert.equal(
      backoffDelayMs(20, {
        initialDelayMs: 500,
        maxDelayMs: 30_000,
        jitter: 0,
      }),
      30_000,
    );
    assert.equal(backoffDelayMs(0, options), 100, "attempt 0 counts as 1");
    assert.equal(
      backoffDelayMs(2, { initialDelayMs: 100, multiplier: 3, jitter: 0 }),
      300,
    );
    // Defaults: 500 ms, factor 2, half jitter.
    assert.equal(backoffDelayMs(2, { random: () => 0 }), 500);
    assert.equal(backoffDelayMs(2, { random: () => 0.5 }), 750);
    // retryAfterMs wins, even over the cap; invalid values are ignored.
    assert.equal(backoffDelayMs(3, { retryAfterMs: 7000 }), 7000);
    assert.equal(
      backoffDelayMs(1, { maxDelayMs: 1000, retryAfterMs: 60_000 }),
      60_000,
    );
    assert.equal(backoffDelayMs(3, { ...options, retryAfterMs: 0 }), 0);
    assert.equal(backoffDelayMs(3, { ...options, retryAfterMs: -1 }), 400);
    assert.equal(backoffDelayMs(3, { ...options, retryAfterMs: NaN }), 400);
    assert.equal(
      backoffDelayMs(3, { ...options, retryAfterMs: Infinity }),
      400,
    );
  });

  it("backoffDelayMs() spreads the delay by jitter and clamps jitter to [0, 1]", () => {
    const at = (random: number, jitter: number) =>
      backoffDelayMs(1, { initialDelayMs: 1000, jitter, random: () => random });
    assert.equal(at(0, 0.5), 500);
    assert.equal(at(0.5, 0.5), 750);
    assert.equal(at(0.999, 0.5), 1000);
    assert.equal(at(0, 1), 0);
    assert.equal(at(0, 5), 0, "jitter above 1 counts as 1");
    assert.equal(at(0, -2), 1000, "jitter below 0 counts as 0");
  });

  it("BatchProcessor honours Retry-After: no second attempt before 7000 ms of fake time, one right after", async () => {
    const clock = new FakeClock(1_000_000);
    const attemptsAtMs: number[] = [];
    const backend = new InMemoryBackend({
      name: "throttled",
      respond: (_batch, attempt) => {
        attemptsAtMs.push(clock.now());
        return attempt === 1
          ? { status: "retryable", retryAfterMs: 7000 }
          : { status: "success" };
      },
    });
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      flushIntervalMs: 1000,
      retry: { initialDelayMs: 10, jitter: 0 },
      onError: sink.onError,
    });
    processor.enqueue(metric(0));
    await clock.tick(1000);
    assert.deepEqual(attemptsAtMs, [1_001_000]);
    await clock.tick(3000);
    // An event logged during the backoff must not trigger an early retry.
    processor.enqueue(metric(1));
    await clock.tick(3999);
    assert.equal(backend.attempts, 1, "no retry before 7000 ms");
    assert.equal(backend.events.length, 0);
    await clock.tick(1);
    assert.deepEqual(attemptsAtMs, [1_001_000, 1_008_000]);
    assert.deepEqual(seqs(backend.events), [0, 1]);
    const stats = processor.stats();
    assert.equal(stats.retried, 1);
    assert.equal(stats.sent, 2);
    assert.equal(sink.errors.length, 1);
    const error = sink.errors[0].error;
    assert.ok(error instanceof BackendError);
    assert.equal(error.backend, "throttled");
    assert.equal(error.retryable, true);
    assert.match(error.message, /retrying in 7000 ms/);
  });

  it("BatchProcessor backs off exponentially with fixed jitter when no Retry-After is given", async () => {
    const clock = new FakeClock();
    const attemptsAtMs: number[] = [];
    const backend = new InMemoryBackend({
      name: "flaky",
      respond: (_batch, attempt) => {
        attemptsAtMs.push(clock.now());
        return attempt <= 5
          ? { status: "retryable", error: new Error("503 Service Unavailable") }
          : { status: "success" };
      },
    });
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      flushIntervalMs: 50,
      retry: {
        initialDelayMs: 100,
        multiplier: 2,
        maxDelayMs: 1000,
        jitter: 0.5,
      },
      random: () => 0.5,
      onError: sink.onError,
    });
    processor.enqueue(metric(0));
    processor.enqueue(metric(1));
    await clock.runAll();
    const gaps = attemptsAtMs.slice(1).map((at, i) => at - attemptsAtMs[i]);
    // base * (1 - 0.5) + base * 0.5 * 0.5 = 0.75 * base; base capped at 1000.
    assert.deepEqual(gaps, [75, 150, 300, 600, 750]);
    assert.equal(attemptsAtMs[0], 50);
    assert.deepEqual(seqs(backend.events), [0, 1]);
    assert.equal(processor.stats().retried, 5);
    // Only the first failure of a streak is reported.
    assert.equal(sink.errors.length, 1);
    assert.match(sink.errors[0].error.message, /503 Service Unavailable/);
  });
});

/** A memory spool that records what was rejected. */
class RecordingSpool extends MemorySpool {
  rejects: { count: number; reason: Error }[] = [];
  override reject(count: number, reason?: Error): Promise<void> {
    this.rejects.push({ count, reason: reason as Error });
    return super.reject(count);
  }
}
describe("BatchProcessor failure results", () => {
  it("BatchProcessor moves events rejected for good to spool.reject, counts them as dropped and reports a DroppedEventsError naming the backend", async () => {
    const rejection = new Error("400 Bad Request: invalid metric name");
    const backend = new InMemoryBackend({
      name: "strict",
      limits: { maxEventsPerBatch: 2, maxBatchBytes: 1 << 20 },
      respond: () => ({ status: "failure", error: rejection }),
    });
    const spool = new RecordingSpool();
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool,
      clock: new FakeClock(),
      onError: sink.onError,
    });
    for (let seq = 0; seq < 5; seq++) processor.enqueue(metric(seq));
    const report = await processor.flush();

    assert.deepEqual(
      spool.rejects.map((r) => r.count),
      [2, 2, 1],
    );
    for (const r of spool.rejects) assert.equal(r.reason, rejection);
    assert.equal(spool.rejectedEvents, 5);
    assert.equal(spool.pendingEvents, 0);
    assert.equal(backend.attempts, 3, "a failure is never retried");
    assert.equal(backend.events.length, 0);
    assert.equal(report.pendingEvents, 0);
    const stats = processor.stats();
    assert.equal(stats.dropped, 5);
    assert.equal(stats.sent, 0);
    assert.equal(stats.queued, 0);
    assert.equal(stats.retried, 0);

    const dropped = sink.dropped();
    assert.equal(dropped.length, 3);
    assert.deepEqual(dropped.map((e) => e.count), [2, 2, 1]);
    for (const error of dropped) {
      assert.equal(error.backend, "strict");
      assert.match(error.message, /'strict'/);
      assert.match(error.message, /400 Bad Request/);
      assert.equal(error.cause, rejection);
    }
    assert.ok(sink.errors.every((state) => state.backend === "strict"));
  });

  it("BatchProcessor with a FileSpool keeps rejected events in rejected.ndjson", async () => {
    const dir = await makeTempDir();
    try {
      const rejection = new Error("403 Forbidden");
      const backend = new InMemoryBackend({
        name: "strict",
        respond: (batch) =>
          batch.some((e) => e.seq === 1)
            ? { status: "failure", error: rejection }
            : { status: "success" },
        limits: { maxEventsPerBatch: 2, maxBatchBytes: 1 << 20 },
      });
      const sink = errorSink();
      const spool = new FileSpool({ dir, lane: "strict" });
      const processor = new BatchProcessor({
        backend,
        spool,
        clock: new FakeClock(),
        onError: sink.onError,
      });
      const events = range(5).map((seq) => metric(seq));
      for (const event of events) processor.enqueue(event);
      const report = await withRealTimeout(processor.flush(), "flush");
      assert.equal(report.pendingEvents, 0);
      assert.deepEqual(seqs(backend.events), [2, 3, 4]);
      assert.equal(processor.stats().dropped, 2);
      assert.deepEqual(sink.dropped().map((e) => e.count), [2]);

      const text = await readFile(
        join(dir, "strict", "rejected.ndjson"),
        "utf8",
      );
      const lines = text.split("\n").filter((line) => line !== "");
      assert.equal(lines.length, 3);
      assert.equal(JSON.parse(lines[0]).rejected, "403 Forbidden");
      assert.deepEqual(decodeEvents(lines.slice(1).join("\n")), [
        events[0],
        events[1],
      ]);
      await withRealTimeout(processor.shutdown(), "shutdown");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("BatchProcessor partial progress and throttling", () => {
  /** Delivers at most `perSend` events a call, then asks to wait (throttled). */
  class PacedBackend implements Backend {
    readonly name = "paced";
    readonly limits = { maxEventsPerBatch: 10, maxBatchBytes: 1 << 20 };
    delivered: TrackingEvent[] = [];
    readonly perSend: number;
    readonly rejectSeq: number | undefined;
    constructor(perSend: number, rejectSeq?: number) {
      this.perSend = perSend;
      this.rejectSeq = rejectSeq;
    }
    send(batch: readonly TrackingEvent[]): Promise<SendResult> {
      for (let i = 0; i < batch.length; i++) {
        if (batch[i].seq === this.rejectSeq) {
          return Promise.resolve({
            status: "failure",
            error: new Error(`400 for seq ${this.rejectSeq}`),
            acked: i,
            rejected: 1,
          });
        }
        if (i === this.perSend) {
          return Promise.resolve({
            status: "throttled",
            retryAfterMs: 5,
            acked: i,
          });
        }
        this.delivered.push(batch[i]);
      }
      return Promise.resolve({ status: "success" });
    }
    close(): Promise<void> {
      return Promise.resolve();
    }
  }

  it("a throttled send acknowledges its delivered prefix, waits without counting a retry, and delivers everything once", async () => {
    const backend = new PacedBackend(3);
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      onError: sink.onError,
    });
    for (let seq = 0; seq < 25; seq++) processor.enqueue(metric(seq));
    const report = await processor.flush(10_000);
    assert.equal(report.pendingEvents, 0);
    assert.deepEqual(seqs(backend.delivered), range(25));
    const stats = processor.stats();
    assert.equal(stats.sent, 25);
    assert.equal(stats.retried, 0);
    assert.ok(stats.throttled >= 8, JSON.stringify(stats));
    assert.ok(stats.throttledMs >= 5 * stats.throttled);
    assert.deepEqual(sink.errors, [], "throttling is not an error");
    await processor.shutdown();
  });

  it("a failure part-way acknowledges the prefix, drops only the rejected events and sends the rest", async () => {
    const backend = new PacedBackend(Infinity, 4);
    const spool = new RecordingSpool();
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool,
      onError: sink.onError,
    });
    for (let seq = 0; seq < 12; seq++) processor.enqueue(metric(seq));
    await processor.flush(10_000);
    assert.deepEqual(
      seqs(backend.delivered),
      range(12).filter((seq) => seq !== 4),
    );
    assert.deepEqual(spool.rejects.map((r) => r.count), [1]);
    const stats = processor.stats();
    assert.equal(stats.dropped, 1);
    assert.equal(stats.sent, 11);
    assert.deepEqual(sink.dropped().map((e) => e.count), [1]);
    await processor.shutdown();
  });

  it("with a FileSpool and an OverflowSpool too: the prefix is acknowledged, one event set aside, the rest delivered", async () => {
    const dir = await makeTempDir();
    try {
      for (const kind of ["file", "overflow"] as const) {
        const backend = new PacedBackend(Infinity, 4);
        const spool = kind === "file"
          ? new FileSpool({ dir, lane: "paced-file" })
          : new OverflowSpool({
            primary: new MemorySpool({ maxBytes: Infinity }),
            createOverflow: () => new FileSpool({ dir, lane: "paced-over" }),
            maxPrimaryBytes: 200,
          });
        const processor = new BatchProcessor({ backend, spool });
        for (let seq = 0; seq < 12; seq++) processor.enqueue(metric(seq));
        await processor.flush(10_000);
        assert.deepEqual(
          seqs(backend.delivered),
          range(12).filter((seq) => seq !== 4),
          kind,
        );
        assert.equal(processor.stats().dropped, 1, kind);
        assert.equal(processor.stats().sent, 11, kind);
        await processor.shutdown();
      }
      const rejected = await readFile(
        join(dir, "paced-file", "rejected.ndjson"),
        "utf8",
      );
      const lines = rejected.trim().split("\n");
      assert.equal(lines.length, 2, "one reason line, one event");
      assert.equal(decodeEvents(lines[1])[0].seq, 4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("BatchProcessor under a stalled backend", () => {
  const stalls = {
    "always retryable": (): (clock: FakeClock) => Backend => (clock) =>
      new ScriptedBackend(
        "stalled",
        clock,
        () => Promise.resolve({ status: "retryable", retryAfterMs: 60_000 }),
      ),
    "never resolving": (): (clock: FakeClock) => Backend => (clock) =>
      new ScriptedBackend("stalled", clock, never),
  };

  for (const [mode, makeBackend] of Object.entries(stalls)) {
    it(`BatchProcessor with a bounded MemorySpool stays under maxBytes and reports every drop (backend ${mode})`, async () => {
      const clock = new FakeClock();
      const maxSpoolBytes = 16_384;
      const maxQueueBytes = 2048;
      const spool = new MemorySpool({ maxBytes: maxSpoolBytes });
      const sink = errorSink();
      const processor = new BatchProcessor({
        backend: makeBackend()(clock),
        spool,
        clock,
        maxQueueBytes,
        exportTimeoutMs: 3_600_000,
        onError: sink.onError,
      });
      const total = 5000;
      const maxQueueEvents = Math.ceil(maxQueueBytes / 112);
      for (let seq = 0; seq < total; seq++) {
        processor.enqueue(metric(seq));
        if (seq % 50 === 49) {
          await settle();
          assert.ok(
            spool.pendingBytes <= maxSpoolBytes,
            `spool holds ${spool.pendingBytes} bytes`,
          );
          const inMemoryQueue = processor.stats().queued - spool.pendingEvents;
          assert.ok(
            inMemoryQueue <= maxQueueEvents,
            `queue holds ${inMemoryQueue} events`,
          );
        }
      }
      await settle();
      const stats = processor.stats();
      assert.ok(stats.dropped > 0, "events were dropped");
      assert.ok(stats.dropped < total);
      assert.equal(stats.sent, 0);
      assert.equal(
        stats.dropped + stats.queued,
        total,
        "every event is either queued or reported dropped",
      );
      assert.ok(spool.pendingBytes <= maxSpoolBytes);
      assert.ok(spool.pendingBytes > maxSpoolBytes / 2, "the spool was used");
      const dropped = sink.dropped();
      assert.ok(dropped.length > 0, "drops are never silent");
      assert.equal(
        dropped.reduce((sum, error) => sum + error.count, 0),
        stats.dropped,
      );
      for (const error of dropped) {
        assert.equal(error.backend, "stalled");
        assert.match(error.message, /memory spool is full/);
      }
      // The spool keeps the oldest events, in order.
      const held = await spool.peek(total, Infinity);
      const heldSeqs = held.map((record) => record.event.seq);
      assert.equal(heldSeqs[0], 0);
      for (let i = 1; i < heldSeqs.length; i++) {
        assert.ok(heldSeqs[i] > heldSeqs[i - 1]);
      }

      // Shutting down drops (and reports) what is still only in memory.
      const report = await drive(clock, processor.shutdown(1000));
      assert.equal(report.status, "pending");
      const after = processor.stats();
      assert.equal(after.sent, 0);
      assert.equal(after.dropped, total);
      assert.equal(
        sink.dropped().reduce((sum, error) => sum + error.count, 0),
        total,
      );
    });
  }

  it("BatchProcessor with a FileSpool keeps 50k events on disk during an outage, then delivers each exactly once, in order", async () => {
    const dir = await makeTempDir();
    try {
      const clock = new FakeClock();
      let up = false;
      const limits = { maxEventsPerBatch: 1000, maxBatchBytes: 256 * 1024 };
      const backend = new InMemoryBackend({
        name: "stalled",
        limits,
        respond: () =>
          up
            ? { status: "success" }
            : { status: "retryable", retryAfterMs: 60_000 },
      });
      const spool = new FileSpool({
        dir,
        lane: "stalled",
        maxCacheBytes: 64 * 1024,
        maxSegmentBytes: 512 * 1024,
      });
      const sink = errorSink();
      const processor = new BatchProcessor({
        backend,
        spool,
        clock,
        maxQueueBytes: 64 * 1024,
        onError: sink.onError,
      });
      const total = 50_000;
      for (let seq = 0; seq < total; seq++) {
        processor.enqueue(metric(seq, seq % 3 === 0 ? "train/loss" : "ü/精度"));
        if (seq % 1000 === 999) await settle(1);
      }
      await waitFor(() => backend.attempts === 1, "the first send");
      const flushing = processor.flush(1000);
      await clock.tick(1000);
      const stalled = await withRealTimeout(flushing, "flush during outage");
      assert.equal(stalled.backend, "stalled");
      assert.equal(stalled.status, "spooled");
      assert.equal(stalled.pendingEvents, total);
      assert.ok(stalled.error instanceof BackendError);
      assert.equal(backend.attempts, 1, "one attempt, then Retry-After");
      let stats = processor.stats();
      assert.equal(stats.dropped, 0);
      assert.equal(stats.queued, total);
      assert.equal(stats.sent, 0);
      assert.equal(spool.pendingEvents, total);
      assert.equal(sink.dropped().length, 0);

      // Everything pending is on disk, in order.
      const onDisk = await readSegments(spool.path);
      assert.equal(onDisk.events.length, total);
      assert.deepEqual(seqs(onDisk.events), range(total));
      assert.equal(onDisk.bytes, spool.pendingBytes);
      assert.equal(stats.spooledBytes, spool.pendingBytes);
      assert.ok((await segmentFiles(spool.path)).length > 5);

      // The backend recovers: the backoff timer fires 60 s after the first
      // attempt, which was made at fake time 0.
      up = true;
      const recovering = processor.flush(3_600_000);
      assert.equal(clock.nextTimerAtMs, 60_000);
      await clock.tick(59_000);
      const recovered = await withRealTimeout(
        recovering,
        "flush after recovery",
      );
      assert.deepEqual(recovered, {
        backend: "stalled",
        status: "flushed",
        pendingEvents: 0,
        droppedEvents: 0,
      });
      assert.equal(backend.events.length, total);
      assert.deepEqual(seqs(backend.events), range(total));
      assert.equal(backend.events[3].kind, "metric");
      assert.equal((backend.events[4] as MetricEvent).key, "ü/精度");
      for (const batch of backend.batches) {
        assert.ok(batch.length <= limits.maxEventsPerBatch);
        assert.ok(
          batch.length === 1 || batchBytes(batch) <= limits.maxBatchBytes,
        );
      }
      stats = processor.stats();
      assert.equal(stats.sent, total);
      assert.equal(stats.queued, 0);
      assert.equal(stats.dropped, 0);
      assert.equal(stats.spooledBytes, 0);

      const sessionDir = spool.path;
      await withRealTimeout(processor.shutdown(), "shutdown");
      assert.equal(backend.closed, true);
      assert.equal(
        await exists(sessionDir),
        false,
        "an empty session is removed on close",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Regression test for a fixed bug (pipeline/file_spool.ts, #readFromDisk + ack): when the head reaches
  // the end of a segment, #readFromDisk advances #headSegment itself (lines
  // 437-443), so the following ack() sees previousHead === #headSegment and
  // never deletes the fully acknowledged segment files (lines 266-274). They
  // stay on disk until the session is closed.
  it("FileSpool deletes segments once every record in them was acknowledged", async () => {
    const dir = await makeTempDir();
    try {
      const spool = new FileSpool({
        dir,
        lane: "segments",
        maxCacheBytes: 1024,
        maxSegmentBytes: 4096,
      });
      for (let seq = 0; seq < 400; seq += 10) {
        await spool.append(
          range(10).map((i) => {
            const event = metric(seq + i);
            return { event, bytes: lineBytes(event), line: encodeEvent(event) };
          }),
        );
      }
      assert.ok((await segmentFiles(spool.path)).length > 3);
      while (spool.pendingEvents > 0) {
        const records = await spool.peek(25, 1 << 20);
        await spool.ack(records.length);
      }
      const left = await segmentFiles(spool.path);
      assert.equal(left.length, 1, `segments left: ${left.join(", ")}`);
      await spool.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("BatchProcessor with a failing spool", () => {
  it("backs off between failed spills, bounds the queue and reports the drops", async () => {
    const clock = new FakeClock();
    let appends = 0;
    const broken: Spool = {
      durableEvents: 0,
      pendingEvents: 0,
      pendingBytes: 0,
      append(): Promise<number> {
        appends++;
        return Promise.reject(new Error("read-only file system"));
      },
      peek: () => Promise.resolve([]),
      ack: () => Promise.resolve(),
      reject: () => Promise.resolve(),
      sync: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend: new InMemoryBackend(),
      spool: broken,
      clock,
      maxQueueBytes: 16 * 1024,
      retry: { initialDelayMs: 1000, jitter: 0 },
      onError: sink.onError,
    });
    const total = 20_000;
    for (let seq = 0; seq < total; seq++) {
      processor.enqueue(metric(seq));
      if (seq % 100 === 99) await settle(1);
    }
    // No fake time passed: after the first failed spill, every later one
    // waits for the backoff instead of failing again on the next log().
    assert.ok(appends <= 3, `${appends} spill attempts without time passing`);
    const stats = processor.stats();
    assert.ok(
      stats.dropped > 0,
      "past four times the bound, events are dropped",
    );
    assert.ok(
      stats.queued * 112 <= 4 * 16 * 1024 + 1024,
      `queue holds ${stats.queued} events`,
    );
    assert.equal(stats.queued + stats.dropped, total);
    assert.equal(
      sink.dropped().reduce((sum, error) => sum + error.count, 0),
      stats.dropped,
    );
  });
});

describe("BatchProcessor and its spool, after review", () => {
  it("keeps sending what the spool holds while appending to it fails", async () => {
    const clock = new FakeClock();
    const inner = new MemorySpool();
    let failAppends = false;
    const flaky = delegatingSpool(inner, {
      append: (records) =>
        failAppends
          ? Promise.reject(new Error("no space left on device"))
          : inner.append(records),
    });
    let up = false;
    const backend = new InMemoryBackend({
      respond: () =>
        up
          ? { status: "success" }
          : { status: "retryable", retryAfterMs: 1000 },
    });
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: flaky,
      clock,
      onError: sink.onError,
    });
    for (let seq = 0; seq < 5; seq++) processor.enqueue(metric(seq));
    await drive(clock, processor.flush(500)); // the five are in the spool
    assert.equal(inner.pendingEvents, 5);
    failAppends = true;
    up = true;
    processor.enqueue(metric(5)); // cannot reach the spool
    const report = await drive(clock, processor.flush(5000));
    assert.deepEqual(
      seqs(backend.events),
      range(5),
      "the spooled five were delivered",
    );
    assert.equal(report.pendingEvents, 1);
    assert.equal(report.status, "pending");
    assert.ok(
      sink.errors.some((state) => /no space left/.test(state.error.message)),
    );
  });

  it("OverflowSpool appends all or nothing when the overflow fails", async () => {
    const primary = new MemorySpool({ maxBytes: Infinity });
    const spool = new OverflowSpool({
      primary,
      createOverflow: (): Spool => ({
        durableEvents: 0,
        pendingEvents: 0,
        pendingBytes: 0,
        append: () => Promise.reject(new Error("read-only file system")),
        peek: () => Promise.resolve([]),
        ack: () => Promise.resolve(),
        reject: () => Promise.resolve(),
        sync: () => Promise.resolve(),
        close: () => Promise.resolve(),
      }),
      maxPrimaryBytes: 600,
    });
    const records = range(10).map((seq) => ({
      event: metric(seq),
      bytes: 100,
    }));
    await assert.rejects(spool.append(records), /read-only/);
    assert.equal(
      primary.pendingEvents,
      0,
      "nothing of the failed call stays in the primary",
    );
  });

  it("flush() waits for a spill under way instead of returning early", async () => {
    const inner = new MemorySpool();
    const slow = delegatingSpool(inner, {
      append: async (records) => {
        await new Promise((resolve) => setTimeout(resolve, 30)); // a slow disk
        return await inner.append(records);
      },
    });
    const backend = new InMemoryBackend();
    const processor = new BatchProcessor({
      backend,
      spool: slow,
      maxQueueBytes: 1024,
    });
    for (let seq = 0; seq < 40; seq++) processor.enqueue(metric(seq)); // spills
    // The spill has taken the queue and is writing it (30 ms).
    await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await processor.flush(10_000);
    assert.equal(report.status, "flushed");
    assert.deepEqual(seqs(backend.events), range(40));
    await processor.shutdown(1000);
  });

  it("shutdown() counts what it gives up once: dropped, not also pending", async () => {
    const clock = new FakeClock();
    const backend = new InMemoryBackend({
      respond: () => ({ status: "retryable" }),
    });
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      onError: sink.onError,
    });
    for (let seq = 0; seq < 5; seq++) processor.enqueue(metric(seq));
    const report = await drive(clock, processor.shutdown(100));
    assert.equal(report.status, "pending");
    assert.equal(report.pendingEvents, 0);
    assert.equal(report.droppedEvents, 5);
    assert.equal(processor.stats().queued, 0);
    assert.equal(processor.stats().dropped, 5);
  });
});

describe("Pipeline fan-out", () => {
  function deadBackend(): InMemoryBackend {
    return new InMemoryBackend({
      name: "dead",
      respond: () => ({ status: "retryable", error: new Error("503") }),
    });
  }

  it("Pipeline isolates a dead backend: the healthy one gets everything at once while the dead one keeps its events pending", async () => {
    const clock = new FakeClock();
    const dead = deadBackend();
    const healthy = new InMemoryBackend({ name: "healthy" });
    const sink = errorSink();
    const pipeline = new Pipeline({
      backends: [dead, healthy],
      createSpool: () => new MemorySpool(),
      clock,
      flushIntervalMs: 1000,
      retry: { initialDelayMs: 100, jitter: 0 },
      onError: sink.onError,
    });
    const events = range(100).map((seq) => metric(seq));
    for (const event of events) pipeline.enqueue(event);

    const flushing = pipeline.flush(5000);
    const done = isSettled(flushing);
    await settle();
    assert.equal(clock.now(), 0);
    assert.equal(healthy.events.length, 100, "healthy backend served at once");
    assert.deepEqual(seqs(healthy.events), range(100));
    assert.equal(dead.events.length, 0);

    await clock.tick(4999);
    assert.equal(done(), false, "the flush waits for the dead backend");
    await clock.tick(1);
    const report = await flushing;
    assert.equal(done(), true);
    assert.equal(report.ok, false);
    assert.equal(report.backends.length, 2);
    const [deadReport, healthyReport] = report.backends;
    assert.equal(deadReport.backend, "dead");
    assert.equal(deadReport.status, "pending");
    assert.equal(deadReport.pendingEvents, 100);
    assert.ok(deadReport.error instanceof BackendError);
    assert.deepEqual(healthyReport, {
      backend: "healthy",
      status: "flushed",
      pendingEvents: 0,
      droppedEvents: 0,
    });
    // Retries at 0, 100, 300, 700, 1500 and 3100 ms (next would be 6300).
    assert.equal(dead.attempts, 6);
    assert.equal(healthy.attempts, 1);

    const stats = pipeline.stats();
    assert.equal(stats.sent, 100);
    assert.equal(stats.queued, 100);
    assert.equal(stats.retried, 6);
    assert.deepEqual(
      stats.backends.map((b) => [b.backend, b.sent, b.queued]),
      [["dead", 0, 100], ["healthy", 100, 0]],
    );
    assert.ok(sink.errors.every((state) => state.backend === "dead"));

    const final = await drive(clock, pipeline.shutdown(0));
    assert.equal(final.backends[0].status, "pending");
    assert.equal(final.backends[1].status, "flushed");
    assert.equal(pipeline.stats().dropped, 100);
    assert.deepEqual(
      sink.dropped().map((e) => [e.backend, e.count]),
      [["dead", 100]],
    );
    assert.equal(dead.closed, true);
    assert.equal(healthy.closed, true);
  });

  it("Pipeline with file spools reports the dead backend as spooled and keeps its events on disk", async () => {
    const dir = await makeTempDir();
    try {
      const clock = new FakeClock();
      const dead = deadBackend();
      const healthy = new InMemoryBackend({ name: "healthy" });
      const spools = new Map<string, FileSpool>();
      const sink = errorSink();
      const pipeline = new Pipeline({
        backends: [dead, healthy],
        createSpool: (_backend, lane): Spool => {
          const spool = new FileSpool({ dir, lane });
          spools.set(lane, spool);
          return spool;
        },
        clock,
        retry: { initialDelayMs: 100, jitter: 0 },
        onError: sink.onError,
      });
      for (let seq = 0; seq < 100; seq++) pipeline.enqueue(metric(seq));
      const flushing = pipeline.flush(5000);
      const done = isSettled(flushing);
      await waitFor(() => healthy.events.length === 100, "healthy delivery");
      assert.equal(clock.now(), 0);
      assert.equal(done(), false);
      await clock.tick(5000);
      const report = await withRealTimeout(flushing, "flush");
      assert.equal(report.ok, false);
      assert.equal(report.backends[0].backend, "dead");
      assert.equal(report.backends[0].status, "spooled");
      assert.equal(report.backends[0].pendingEvents, 100);
      assert.deepEqual(report.backends[1], {
        backend: "healthy",
        status: "flushed",
        pendingEvents: 0,
        droppedEvents: 0,
      });
      assert.deepEqual(seqs(healthy.events), range(100));

      const deadSpool = spools.get("dead")!;
      const healthySpool = spools.get("healthy")!;
      await drive(clock, pipeline.shutdown(0));
      assert.equal(
        pipeline.stats().dropped,
        0,
        "spooled events are not dropped",
      );
      assert.equal(sink.dropped().length, 0);
      const left = await readSegments(deadSpool.path);
      assert.deepEqual(seqs(left.events), range(100));
      assert.equal(await exists(healthySpool.path), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("BatchProcessor timeouts", () => {
  for (const kind of ["memory", "file"] as const) {
    it(`BatchProcessor.flush(timeoutMs) resolves at the timeout when the backend hangs (${kind} spool)`, async () => {
      const dir = kind === "file" ? await makeTempDir() : "";
      try {
        const clock = new FakeClock();
        const backend = new ScriptedBackend("hang", clock, never);
        const spool = kind === "file"
          ? new FileSpool({ dir, lane: "hang" })
          : new MemorySpool();
        const processor = new BatchProcessor({
          backend,
          spool,
          clock,
          exportTimeoutMs: 3_600_000,
        });
        for (let seq = 0; seq < 10; seq++) processor.enqueue(metric(seq));
        const flushing = processor.flush(2000);
        const done = isSettled(flushing);
        await waitFor(() => backend.calls.length === 1, "the first send");
        await clock.tick(1999);
        assert.equal(done(), false, "still waiting before the timeout");
        await clock.tick(1);
        const report = await withRealTimeout(flushing, "flush");
        assert.equal(clock.now(), 2000);
        assert.equal(report.backend, "hang");
        assert.equal(report.status, kind === "file" ? "spooled" : "pending");
        assert.equal(report.pendingEvents, 10);
        assert.equal(backend.calls.length, 1);
        assert.equal(backend.calls[0].signal.aborted, false);

        await drive(clock, processor.shutdown(0));
        assert.equal(backend.closed, true);
        assert.equal(
          processor.stats().dropped,
          kind === "file" ? 0 : 10,
        );
      } finally {
        if (dir !== "") await rm(dir, { recursive: true, force: true });
      }
    });
  }

  // Regression test for a fixed bug: the drop count was taken from the flush
  // report computed *before* awaiting the send still in flight, so events
  // that send then delivered were counted both as sent and as dropped.
  it("BatchProcessor.shutdown() does not count events delivered by the in-flight send as dropped", async () => {
    const clock = new FakeClock();
    const backend = new ScriptedBackend(
      "late",
      clock,
      () =>
        new Promise<SendResult>((resolve) =>
          clock.setTimeout(() => resolve({ status: "success" }), 1050)
        ),
    );
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      exportTimeoutMs: 10_000,
      onError: sink.onError,
    });
    for (let seq = 0; seq < 5; seq++) processor.enqueue(metric(seq));
    // The flush deadline (1000 ms) passes with the send in flight; it
    // completes within the grace given to an in-flight send (100 ms).
    const report = await drive(clock, processor.shutdown(1000));
    assert.deepEqual(seqs(backend.accepted), range(5));
    const stats = processor.stats();
    assert.equal(stats.sent, 5);
    assert.equal(stats.dropped, 0);
    assert.equal(sink.dropped().length, 0);
    assert.equal(report.status, "flushed");
  });

  it("BatchProcessor.shutdown() keeps its deadline: a send still in flight is abandoned and its events reported", async () => {
    const clock = new FakeClock();
    const backend = new ScriptedBackend(
      "hung",
      clock,
      () => new Promise<SendResult>(() => {}), // never answers, ignores the signal
    );
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      exportTimeoutMs: 30_000,
      onError: sink.onError,
    });
    for (let seq = 0; seq < 5; seq++) processor.enqueue(metric(seq));
    const started = clock.now();
    const report = await drive(clock, processor.shutdown(1000));
    assert.ok(
      clock.now() - started <= 1100,
      `shutdown took ${clock.now() - started} ms of fake time`,
    );
    assert.equal(backend.calls.length, 1);
    assert.equal(backend.calls[0].signal.aborted, true);
    assert.equal(report.status, "pending");
    assert.equal(processor.stats().dropped, 5);
    assert.equal(
      sink.dropped().reduce((sum, error) => sum + error.count, 0),
      5,
    );
  });

  it("BatchProcessor abandons a send that exceeds exportTimeoutMs, aborts its signal and retries", async () => {
    const clock = new FakeClock();
    const backend = new ScriptedBackend(
      "slow",
      clock,
      (_call, attempt) =>
        attempt === 1 ? never() : Promise.resolve({ status: "success" }),
    );
    const sink = errorSink();
    const processor = new BatchProcessor({
      backend,
      spool: new MemorySpool(),
      clock,
      flushIntervalMs: 1000,
      exportTimeoutMs: 5000,
      retry: { initialDelayMs: 100, jitter: 0 },
      onError: sink.onError,
    });
    for (let seq = 0; seq < 3; seq++) processor.enqueue(metric(seq));
    await clock.tick(1000);
    assert.equal(backend.calls.length, 1);
    const signal = backend.calls[0].signal;
    await clock.tick(4999);
    assert.equal(signal.aborted, false);
    assert.equal(backend.calls.length, 1);
    await clock.tick(1);
    assert.equal(signal.aborted, true, "the abandoned send is aborted");
    assert.ok(signal.reason instanceof BackendError);
    assert.match(signal.reason.message, /longer than 5000 ms/);
    assert.equal(backend.calls.length, 1, "the retry waits for the backoff");
    await clock.tick(99);
    assert.equal(backend.calls.length, 1);
    await clock.tick(1);
    assert.equal(backend.calls.length, 2);
    assert.deepEqual(backend.calls.map((c) => c.atMs), [1000, 6100]);
    assert.deepEqual(seqs(backend.accepted), [0, 1, 2]);
    assert.deepEqual(seqs(backend.calls[1].batch), [0, 1, 2]);
    const stats = processor.stats();
    assert.equal(stats.retried, 1);
    assert.equal(stats.sent, 3);
    assert.equal(stats.queued, 0);
    assert.equal(sink.errors.length, 1);
    const error = sink.errors[0].error;
    assert.ok(error instanceof BackendError);
    assert.equal(error.backend, "slow");
    assert.equal(error.retryable, true);
    assert.match(error.message, /longer than 5000 ms/);
    assert.equal(clock.pendingTimers, 0);
  });
});
