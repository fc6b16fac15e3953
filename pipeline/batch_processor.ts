// This module is browser compatible.
import { encodeEvent, utf8ByteLength } from "../event/codec.ts";
import type { MediaEvent, MetricEvent, TrackingEvent } from "../event/types.ts";
import type { EncodedMedia, MediaValue } from "../media/media_value.ts";
import {
  BackendError,
  DroppedEventsError,
  SpoolError,
} from "../errors/errors.ts";
import { type Clock, systemClock, type TimerHandle } from "../runtime/clock.ts";
import type { Backend, SendResult } from "./backend.ts";
import { backoffDelayMs, type RetryOptions } from "./retry.ts";
import type { Spool, SpoolRecord } from "./spool.ts";

/** What an `onError` hook receives. */
export interface ErrorState {
  /** What went wrong. */
  error: Error;
  /** The backend concerned. */
  backend: string;
}

/** Settings shared by every batch processor of a logger. */
export interface BatchProcessorSettings {
  /**
   * How often queued events are sent, in milliseconds.
   * @default {1000}
   */
  flushIntervalMs?: number;
  /**
   * Most bytes (estimated NDJSON size) of events held in the in-memory
   * queue. Past it, the queue is moved to the spool at once (a file spool
   * writes it to disk) rather than growing, dropping or blocking `log()`.
   * @default {8388608}
   */
  maxQueueBytes?: number;
  /**
   * Longest a single `send()` may take before it is abandoned and retried,
   * in milliseconds.
   * @default {30000}
   */
  exportTimeoutMs?: number;
  /** Backoff between retries. */
  retry?: RetryOptions;
  /** Time source; tests pass a fake one. */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter; tests pass a fixed one. */
  random?: () => number;
  /** Receives every failure reported in the background. */
  onError?: (state: ErrorState) => void;
}

/** Options of {@linkcode BatchProcessor}. */
export interface BatchProcessorOptions extends BatchProcessorSettings {
  /** The backend the processor feeds. */
  backend: Backend;
  /** Where events wait until the backend acknowledges them. */
  spool: Spool;
}

/** Counters of one backend's processor. */
export interface BackendStats {
  /** The backend's name. */
  backend: string;
  /** Events accepted and not yet acknowledged (in memory or in the spool). */
  queued: number;
  /** Events the backend acknowledged. */
  sent: number;
  /** Batches that were sent again after a retryable failure. */
  retried: number;
  /** Times the backend's rate limiter held a batch back (see `SendThrottled`). */
  throttled: number;
  /** Time spent held back by the backend's rate limiter, in milliseconds. */
  throttledMs: number;
  /** Bytes waiting in the spool (on disk for a file spool). */
  spooledBytes: number;
  /** Events given up: a full memory spool, or rejected by the backend for good. */
  dropped: number;
  /** Requests (batches) the backend acknowledged. */
  batches: number;
}

/** How a flush ended for one backend. */
export interface BackendFlushReport {
  /** The backend's name. */
  backend: string;
  /**
   * `flushed`: everything was acknowledged. `spooled`: some events are not
   * acknowledged yet but are safe on disk and will be replayed. `pending`:
   * some events are only in memory.
   */
  status: "flushed" | "spooled" | "pending";
  /** Events not yet acknowledged. */
  pendingEvents: number;
  /**
   * Events given up so far (rejected for good, or lost from a full memory
   * spool); each was reported to `onError`.
   */
  droppedEvents: number;
  /** The last failure seen while flushing, if any. */
  error?: Error;
}

/** What one `log()` call stamps on everything it queues. */
export interface LoggedAtStep {
  /** The run. */
  runId: string;
  /** `seq` of the (first) event. */
  seq: number;
  /** When it was logged, in milliseconds since the epoch. */
  timestampMs: number;
  /** Training step. */
  step: number;
  /** Epoch, when one was given. */
  epoch?: number;
  /** Context, when one was given. */
  context?: string;
}

/**
 * The metric points of one `log()` call, kept compact on the hot path and
 * expanded into one {@linkcode MetricEvent} per key when the queue is
 * drained: the first key gets `seq`, the next `seq + 1`, and so on.
 */
export interface MetricGroup extends LoggedAtStep {
  /** Discriminant. */
  kind: "metric_group";
  /** Flat values by key (a private copy), in `seq` order. */
  values: Record<string, number>;
  /** How many keys `values` has. */
  count: number;
}

/**
 * A media value logged at a step, not yet encoded: `log()` only checks and
 * queues it, and the bytes are made when the queue is drained, once for all
 * backends.
 */
export interface PendingMedia extends LoggedAtStep {
  /** Discriminant. */
  kind: "pending_media";
  /** Name it was logged under. */
  key: string;
  /** The value. */
  value: MediaValue;
  /** The encoding under way, shared by every backend's processor. */
  encoded?: Promise<EncodedMedia>;
}

/** What a processor queues: an event, a compact group of metric points, or a media value to encode. */
export type QueueItem = TrackingEvent | MetricGroup | PendingMedia;

/**
 * Encodes a pending media value (once, whichever processor asks first) into
 * its media event.
 *
 * @param item The pending media value.
 * @returns The media event.
 *
 * @example
 * ```ts
 * import { encodePendingMedia } from "@uetai/uetai/pipeline";
 * import { Text } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const event = await encodePendingMedia({
 *   kind: "pending_media",
 *   runId: "r",
 *   seq: 3,
 *   timestampMs: 0,
 *   step: 1,
 *   key: "sample",
 *   value: new Text("hello"),
 * });
 * assert.equal(event.contentType, "text/plain");
 * ```
 */
export async function encodePendingMedia(
  item: PendingMedia,
): Promise<MediaEvent> {
  const encoded = await (item.encoded ??= item.value.encode());
  const event: MediaEvent = {
    kind: "media",
    runId: item.runId,
    seq: item.seq,
    timestampMs: item.timestampMs,
    key: item.key,
    step: item.step,
    mediaType: encoded.mediaType,
    contentType: encoded.contentType,
    extension: encoded.extension,
    data: encoded.data,
    metadata: encoded.metadata,
  };
  if (item.epoch !== undefined) event.epoch = item.epoch;
  if (item.context !== undefined) event.context = item.context;
  return event;
}

/**
 * Expands a queued item into events, appending them to `out`.
 *
 * @param item An event or a metric group.
 * @param out Where the events go.
 *
 * @example
 * ```ts
 * import { expandQueueItem } from "@uetai/uetai/pipeline";
 * import type { TrackingEvent } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const out: TrackingEvent[] = [];
 * expandQueueItem({
 *   kind: "metric_group",
 *   runId: "r",
 *   seq: 5,
 *   timestampMs: 0,
 *   step: 2,
 *   values: { loss: 0.5, accuracy: 0.9 },
 *   count: 2,
 * }, out);
 * assert.deepEqual(out.map((e) => e.seq), [5, 6]);
 * ```
 */
export function expandQueueItem(
  item: TrackingEvent | MetricGroup,
  out: TrackingEvent[],
): void {
  if (item.kind !== "metric_group") {
    out.push(item);
    return;
  }
  let seq = item.seq;
  const { runId, timestampMs, step, epoch, context, values } = item;
  for (const key in values) {
    const event: MetricEvent = {
      kind: "metric",
      runId,
      seq: seq++,
      timestampMs,
      key,
      value: values[key],
      step,
    };
    if (epoch !== undefined) event.epoch = epoch;
    if (context !== undefined) event.context = context;
    out.push(event);
  }
}

/** What a media value not yet encoded is assumed to weigh in the queue. */
const PENDING_MEDIA_BYTES = 64 * 1024;

/** The least time given to work still under way when a deadline has passed. */
const GRACE_MS = 50;

/** How much of the queue one spool append takes (estimated bytes). */
const DRAIN_CHUNK_BYTES = 2 * 1024 * 1024;

/** How many events a queued item stands for. */
function queuedCount(item: QueueItem): number {
  return item.kind === "metric_group" ? item.count : 1;
}

function approximateBytes(event: QueueItem): number {
  switch (event.kind) {
    case "metric_group":
      return event.count * (120 + (event.context?.length ?? 0));
    case "pending_media":
      return event.value.sizeHintBytes ?? PENDING_MEDIA_BYTES;
    case "metric":
      return 112 + event.key.length + (event.context?.length ?? 0);
    case "media":
      return 256 + event.key.length + Math.ceil(event.data.byteLength * 4 / 3);
    default:
      return 256;
  }
}

/**
 * Feeds one backend: keeps a queue that `enqueue()` appends to in O(1),
 * moves it into the spool every `flushIntervalMs` (or at once when it
 * passes `maxQueueBytes`), cuts batches to the backend's declared limits,
 * retries with exponential backoff and jitter (honouring `Retry-After`),
 * and acks the spool only after the backend accepted a batch. It never
 * throws into the caller: failures go to `onError`.
 *
 * @example
 * ```ts
 * import { BatchProcessor, MemorySpool } from "@uetai/uetai/pipeline";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const backend = new InMemoryBackend();
 * const processor = new BatchProcessor({ backend, spool: new MemorySpool() });
 * processor.enqueue({ kind: "metric", runId: "r", seq: 1, timestampMs: 0, key: "loss", value: 1, step: 0 });
 * const report = await processor.shutdown();
 * assert.equal(report.status, "flushed");
 * assert.equal(backend.events.length, 1);
 * ```
 */
export class BatchProcessor {
  #backend: Backend;
  #spool: Spool;
  #clock: Clock;
  #random: () => number;
  #flushIntervalMs: number;
  #maxQueueBytes: number;
  #exportTimeoutMs: number;
  #retry: RetryOptions;
  #onError: (state: ErrorState) => void;

  #queue: QueueItem[] = [];
  #queueBytes = 0;
  #spoolChain: Promise<unknown> = Promise.resolve();
  #spilling = false;
  #spillFailures = 0;
  #spillBackoffUntilMs = 0;
  #draining = 0;
  #inflight: AbortController | undefined;

  #timer: TimerHandle | undefined;
  #timerAtMs = Infinity;
  #running: Promise<void> | undefined;
  #again = false;
  #backoffUntilMs = 0;
  #attempt = 0;
  #lastError: Error | undefined;
  #idleWaiters: Array<() => void> = [];
  #closed = false;

  #sent = 0;
  #retried = 0;
  #throttled = 0;
  #throttledMs = 0;
  #dropped = 0;
  #batches = 0;

  /**
   * Creates a processor for one backend.
   *
   * @param options The backend, its spool and the shared settings.
   */
  constructor(options: BatchProcessorOptions) {
    this.#backend = options.backend;
    this.#spool = options.spool;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024;
    this.#exportTimeoutMs = options.exportTimeoutMs ?? 30_000;
    this.#retry = options.retry ?? {};
    this.#onError = options.onError ?? (() => {});
    const limits = this.#backend.limits;
    if (
      !(Number.isSafeInteger(limits.maxEventsPerBatch) &&
        limits.maxEventsPerBatch > 0)
    ) {
      throw new RangeError(
        `Cannot use backend '${this.#backend.name}': 'maxEventsPerBatch' must be a positive integer: current value is ${limits.maxEventsPerBatch}`,
      );
    }
    if (!(limits.maxBatchBytes > 0)) {
      throw new RangeError(
        `Cannot use backend '${this.#backend.name}': 'maxBatchBytes' must be positive: current value is ${limits.maxBatchBytes}`,
      );
    }
  }

  /** The backend this processor feeds. */
  get backend(): Backend {
    return this.#backend;
  }

  /**
   * Queues one event or metric group. Synchronous and O(1): it never awaits
   * the network.
   *
   * @param event The event.
   */
  enqueue(event: QueueItem): void {
    if (this.#closed) {
      this.#drop(
        queuedCount(event),
        "the processor was already shut down",
      );
      return;
    }
    const bytes = approximateBytes(event);
    if (
      this.#spillFailures > 0 &&
      this.#queueBytes + bytes > 4 * this.#maxQueueBytes
    ) {
      // The spool is failing: hold up to four times the bound, then drop
      // (and report) rather than let memory grow without limit.
      this.#drop(
        queuedCount(event),
        `the queue holds ${this.#queueBytes} bytes and the spool is failing`,
        this.#lastError,
      );
      return;
    }
    this.#queue.push(event);
    this.#queueBytes += bytes;
    if (this.#queueBytes >= this.#maxQueueBytes) {
      if (!this.#spilling && this.#clock.now() >= this.#spillBackoffUntilMs) {
        this.#spill();
      }
    } else if (this.#timer === undefined && this.#running === undefined) {
      this.#schedule(this.#flushIntervalMs);
    }
  }

  /**
   * Sends everything queued, waiting at most `timeoutMs`. Retries in
   * progress keep their backoff. Whatever is left is in the spool (durable
   * for a file spool) when this resolves.
   *
   * @param timeoutMs The longest wait, in milliseconds.
   * @returns How the flush ended.
   */
  async flush(timeoutMs: number = 30_000): Promise<BackendFlushReport> {
    const deadlineMs = this.#clock.now() + timeoutMs;
    const idle = this.#whenIdle();
    this.#kick();
    await this.#waitAtMost(idle, timeoutMs);
    // Whatever is still queued goes to the spool (and a file spool to the
    // disk), within what is left of the deadline (at least a moment).
    const journal = (async () => {
      await this.#encodeQueuedMedia();
      await this.#withSpool(() => this.#drainQueue());
      await this.#withSpool(() => this.#spool.sync());
    })().catch((error) => this.#report(error as Error));
    await this.#waitAtMost(
      journal,
      Math.max(GRACE_MS, deadlineMs - this.#clock.now()),
    );
    return this.#flushReport();
  }

  /**
   * Flushes, then closes the backend and the spool. Events still only in
   * memory afterwards are counted as dropped and reported.
   *
   * @param timeoutMs The longest wait for the flush, in milliseconds.
   * @returns How the final flush ended.
   */
  async shutdown(timeoutMs: number = 30_000): Promise<BackendFlushReport> {
    const deadlineMs = this.#clock.now() + timeoutMs;
    await this.flush(timeoutMs);
    this.#closed = true;
    this.#clearTimer();
    if (this.#running) {
      // A send still in flight at the deadline: give it what is left of the
      // deadline (at least a moment), then abandon it, so the spool is not
      // closed under it and the caller's deadline holds.
      await this.#waitAtMost(
        this.#running,
        Math.max(GRACE_MS, deadlineMs - this.#clock.now()),
      );
    }
    if (this.#running) {
      this.#inflight?.abort(
        new BackendError(
          `Sending to '${this.#backend.name}' was abandoned: the logger is shutting down`,
          {
            backend: this.#backend.name,
            retryable: true,
          },
        ),
      );
      await this.#waitAtMost(this.#running, GRACE_MS);
    }
    const report = this.#flushReport();
    const inMemory = report.pendingEvents - this.#spool.durableEvents;
    if (inMemory > 0) {
      // Given up: counted once, as dropped, and no longer pending.
      this.#queue = [];
      this.#queueBytes = 0;
      this.#drop(
        inMemory,
        `${inMemory} events were still only in memory when the logger ended`,
        report.error,
      );
      report.pendingEvents -= inMemory;
      report.droppedEvents = this.#dropped;
    }
    try {
      await this.#backend.close();
    } catch (error) {
      this.#report(error as Error);
    }
    await this.#withSpool(() => this.#spool.close()).catch((error) =>
      this.#report(error as Error)
    );
    return report;
  }

  /**
   * Current counters.
   *
   * @returns The counters of this backend.
   */
  stats(): BackendStats {
    return {
      backend: this.#backend.name,
      queued: this.#queuedEvents() + this.#spool.pendingEvents,
      sent: this.#sent,
      retried: this.#retried,
      throttled: this.#throttled,
      throttledMs: this.#throttledMs,
      spooledBytes: this.#spool.pendingBytes,
      dropped: this.#dropped,
      batches: this.#batches,
    };
  }

  /** Resolves when `promise` settles or `timeoutMs` passes, keeping the process alive meanwhile. */
  async #waitAtMost(
    promise: Promise<unknown>,
    timeoutMs: number,
  ): Promise<void> {
    let timer: TimerHandle | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, Math.max(0, timeoutMs), {
        keepAlive: true,
      });
    });
    try {
      await Promise.race([promise.then(() => {}, () => {}), deadline]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  #flushReport(): BackendFlushReport {
    const queued = this.#queuedEvents();
    const pendingEvents = queued + this.#spool.pendingEvents;
    const status = pendingEvents === 0
      ? "flushed"
      : queued === 0 && this.#spool.durableEvents === this.#spool.pendingEvents
      ? "spooled"
      : "pending";
    const report: BackendFlushReport = {
      backend: this.#backend.name,
      status,
      pendingEvents,
      droppedEvents: this.#dropped,
    };
    if (pendingEvents > 0 && this.#lastError) report.error = this.#lastError;
    return report;
  }

  #queuedEvents(): number {
    let count = this.#draining;
    for (const item of this.#queue) count += queuedCount(item);
    return count;
  }

  /** Starts encoding the queued media values, outside the spool's lock. */
  async #encodeQueuedMedia(): Promise<void> {
    const encodings: Promise<unknown>[] = [];
    for (const item of this.#queue) {
      if (item.kind === "pending_media") {
        encodings.push(encodePendingMedia(item).catch(() => {}));
      }
    }
    await Promise.all(encodings);
  }

  #withSpool<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.#spoolChain.then(operation, operation);
    this.#spoolChain = next.catch(() => {});
    return next;
  }

  #spill(): void {
    this.#spilling = true;
    this.#drainOrBackOff().finally(() => {
      this.#spilling = false;
      this.#kick();
    });
  }

  /**
   * Drains the queue into the spool. A failure is reported and backed off
   * (a failing spool must not turn every log() into another failed write);
   * what the spool already holds is still sent meanwhile.
   *
   * @returns Whether the queue was drained.
   */
  async #drainOrBackOff(): Promise<boolean> {
    if (this.#queue.length === 0) return true;
    if (this.#clock.now() < this.#spillBackoffUntilMs) return false;
    try {
      // Media is encoded first, so a slow encoder never holds the spool
      // (and with it the sends and acks of what is already spooled).
      await this.#encodeQueuedMedia();
      await this.#withSpool(() => this.#drainQueue());
      this.#spillFailures = 0;
      return true;
    } catch (error) {
      this.#spillFailures++;
      this.#spillBackoffUntilMs = this.#clock.now() +
        backoffDelayMs(this.#spillFailures, {
          ...this.#retry,
          random: this.#random,
        });
      this.#lastError = error as Error;
      this.#report(error as Error);
      return false;
    }
  }

  /**
   * Moves the queue into the spool, a chunk of about `DRAIN_CHUNK_BYTES` at a
   * time, so the expanded and encoded copies never exist for the whole queue
   * at once.
   */
  async #drainQueue(): Promise<void> {
    while (this.#queue.length > 0) {
      let take = 0;
      let estimate = 0;
      while (take < this.#queue.length && estimate < DRAIN_CHUNK_BYTES) {
        estimate += approximateBytes(this.#queue[take++]);
      }
      const items = this.#queue.splice(0, take);
      this.#queueBytes = Math.max(0, this.#queueBytes - estimate);
      // Counted as pending until they are in the spool (or dropped), also
      // while their media is being encoded.
      let pendingCount = 0;
      for (const item of items) pendingCount += queuedCount(item);
      this.#draining += pendingCount;
      let dropped: number;
      try {
        const events: TrackingEvent[] = [];
        for (const item of items) {
          if (item.kind !== "pending_media") {
            expandQueueItem(item, events);
            continue;
          }
          try {
            events.push(await encodePendingMedia(item));
          } catch (cause) {
            this.#drop(
              1,
              `the media value "${item.key}" at step ${item.step} could not be encoded`,
              cause,
            );
          }
        }
        const records: SpoolRecord[] = new Array(events.length);
        for (let i = 0; i < events.length; i++) {
          const line = encodeEvent(events[i]);
          records[i] = { event: events[i], line, bytes: utf8ByteLength(line) };
        }
        try {
          dropped = await this.#spool.append(records);
        } catch (error) {
          // Put them back, ahead of anything queued meanwhile: nothing accepted is lost.
          this.#queue = items.concat(this.#queue);
          this.#queueBytes += estimate;
          throw error;
        }
      } finally {
        this.#draining -= pendingCount;
      }
      if (dropped > 0) {
        this.#drop(
          dropped,
          `the memory spool is full (${this.#spool.pendingBytes} bytes held)`,
        );
      }
    }
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    const at = this.#clock.now() + delayMs;
    if (this.#timer !== undefined && this.#timerAtMs <= at) return;
    this.#clearTimer();
    this.#timerAtMs = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAtMs = Infinity;
      this.#kick();
    }, delayMs);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAtMs = Infinity;
  }

  #kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#cycle().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#kick();
        return;
      }
      this.#afterCycle();
    });
  }

  #isIdle(): boolean {
    return this.#running === undefined && !this.#spilling &&
      this.#draining === 0 &&
      this.#queue.length === 0 && this.#spool.pendingEvents === 0;
  }

  #afterCycle(): void {
    if (this.#isIdle()) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    // Wake when the next thing can be done: a retry of what the spool
    // holds, or the regular drain of the queue into the spool.
    const now = this.#clock.now();
    let wakeAtMs = Infinity;
    if (this.#spool.pendingEvents > 0) {
      wakeAtMs = Math.max(now, this.#backoffUntilMs);
    }
    if (this.#queue.length > 0) {
      wakeAtMs = Math.min(
        wakeAtMs,
        Math.max(now + this.#flushIntervalMs, this.#spillBackoffUntilMs),
      );
    }
    if (wakeAtMs === Infinity) wakeAtMs = now + this.#flushIntervalMs;
    // At least a millisecond: a spool that reports pending events it cannot
    // hand out must not spin.
    this.#schedule(Math.max(1, wakeAtMs - now));
  }

  #whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #cycle(): Promise<void> {
    try {
      await this.#drainOrBackOff();
      const limits = this.#backend.limits;
      while (!this.#closed || this.#spool.pendingEvents > 0) {
        if (this.#clock.now() < this.#backoffUntilMs) return;
        let records = await this.#withSpool(() =>
          this.#spool.peek(limits.maxEventsPerBatch, limits.maxBatchBytes)
        );
        if (records.length === 0) {
          if (this.#queue.length === 0 || !(await this.#drainOrBackOff())) {
            return;
          }
          continue;
        }
        const events = records.map((record) => record.event);
        const result = await this.#send(events);
        const acked = result.status === "success" ? 0 : Math.min(
          records.length,
          Math.max(0, Math.floor(result.acked ?? 0)),
        );
        if (acked > 0) {
          // Partial progress: the backend delivered a prefix of the batch.
          await this.#withSpool(() => this.#spool.ack(acked));
          this.#sent += acked;
          records = records.slice(acked);
        }
        if (result.status === "success") {
          await this.#withSpool(() => this.#spool.ack(records.length));
          this.#sent += records.length;
          this.#batches++;
          this.#attempt = 0;
          this.#lastError = undefined;
        } else if (result.status === "throttled") {
          const waitMs = Math.max(1, Math.ceil(result.retryAfterMs));
          this.#throttled++;
          this.#throttledMs += waitMs;
          this.#backoffUntilMs = this.#clock.now() + waitMs;
          return;
        } else if (result.status === "retryable") {
          this.#attempt++;
          this.#retried++;
          const delayMs = backoffDelayMs(this.#attempt, {
            ...this.#retry,
            retryAfterMs: result.retryAfterMs,
            random: this.#random,
          });
          this.#backoffUntilMs = this.#clock.now() + delayMs;
          const error = new BackendError(
            `Cannot send ${records.length} events to '${this.#backend.name}', retrying in ${delayMs} ms (attempt ${this.#attempt})${
              result.error ? `: ${result.error.message}` : ""
            }`,
            {
              backend: this.#backend.name,
              retryable: true,
              cause: result.error,
            },
          );
          this.#lastError = error;
          if (this.#attempt === 1) this.#report(error);
          return;
        } else if (records.length > 0) {
          const rejected = Math.min(
            records.length,
            Math.max(1, Math.floor(result.rejected ?? records.length)),
          );
          await this.#withSpool(() =>
            this.#spool.reject(rejected, result.error)
          );
          this.#attempt = 0;
          this.#lastError = result.error;
          this.#drop(
            rejected,
            `the backend rejected them: ${result.error.message}`,
            result.error,
          );
        }
        if (this.#queue.length > 0 && this.#spool.pendingEvents === 0) {
          await this.#drainOrBackOff();
        }
      }
    } catch (error) {
      const failure = error instanceof SpoolError ? error : new SpoolError(
        `Cannot move events through the spool of '${this.#backend.name}': ${
          (error as Error).message
        }`,
        { cause: error },
      );
      this.#lastError = failure;
      this.#report(failure);
      this.#attempt++;
      this.#backoffUntilMs = this.#clock.now() +
        backoffDelayMs(this.#attempt, { ...this.#retry, random: this.#random });
    }
  }

  async #send(events: readonly TrackingEvent[]): Promise<SendResult> {
    const controller = new AbortController();
    this.#inflight = controller;
    const timer = this.#clock.setTimeout(() => {
      controller.abort(
        new BackendError(
          `Sending to '${this.#backend.name}' took longer than ${this.#exportTimeoutMs} ms`,
          { backend: this.#backend.name, retryable: true },
        ),
      );
    }, this.#exportTimeoutMs);
    // Abandoned (timeout or shutdown): retryable, whether or not the
    // backend honours the signal.
    const abandoned = new Promise<SendResult>((resolve) => {
      controller.signal.addEventListener("abort", () => {
        const reason = controller.signal.reason;
        resolve({
          status: "retryable",
          error: reason instanceof Error ? reason : new Error(String(reason)),
        });
      }, { once: true });
    });
    const attempt = (async (): Promise<SendResult> => {
      try {
        return await this.#backend.send(events, controller.signal);
      } catch (error) {
        return {
          status: "retryable",
          error: error instanceof Error ? error : new Error(String(error)),
        };
      }
    })();
    try {
      return await Promise.race([attempt, abandoned]);
    } finally {
      this.#clock.clearTimeout(timer);
      this.#inflight = undefined;
    }
  }

  #drop(count: number, why: string, cause?: unknown): void {
    this.#dropped += count;
    this.#report(
      new DroppedEventsError(
        `Dropped ${count} events for '${this.#backend.name}': ${why}`,
        {
          backend: this.#backend.name,
          count,
          cause,
        },
      ),
    );
  }

  #report(error: Error): void {
    try {
      this.#onError({ error, backend: this.#backend.name });
    } catch {
      // A failing hook must not break the pipeline.
    }
  }
}
