// This module is browser compatible.
import type { Backend } from "./backend.ts";
import {
  type BackendFlushReport,
  type BackendStats,
  BatchProcessor,
  type BatchProcessorSettings,
  type QueueItem,
} from "./batch_processor.ts";
import type { Spool } from "./spool.ts";

/** How a flush ended, for every backend. */
export interface FlushReport {
  /** `true` when every backend acknowledged everything and none ever dropped an event. */
  ok: boolean;
  /** One report per backend, in the order the backends were given. */
  backends: BackendFlushReport[];
}

/** Counters of a pipeline: sums over its backends, and each backend's own. */
export interface PipelineStats {
  /** Events accepted and not yet acknowledged, summed over backends. */
  queued: number;
  /** Events acknowledged, summed over backends. */
  sent: number;
  /** Retries, summed over backends. */
  retried: number;
  /** Times a backend's rate limiter held a batch back, summed over backends. */
  throttled: number;
  /** Bytes waiting in spools. */
  spooledBytes: number;
  /** Events given up, summed over backends; each drop was also reported to `onError`. */
  dropped: number;
  /** Each backend's counters. */
  backends: BackendStats[];
}

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions extends BatchProcessorSettings {
  /** The backends to feed; each gets its own processor, queue and spool. */
  backends: readonly Backend[];
  /**
   * Makes the spool of a backend. `lane` is the backend's name, suffixed
   * with `-2`, `-3`, ... when several backends share a name.
   */
  createSpool: (backend: Backend, lane: string) => Spool;
}

/**
 * Fans events out to several backends, each through its own
 * {@linkcode BatchProcessor}: its own cursor, queue, spool and retries, so a
 * slow or dead backend never holds back the others.
 *
 * @example
 * ```ts
 * import { MemorySpool, Pipeline } from "@uetai/uetai/pipeline";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const a = new InMemoryBackend();
 * const b = new InMemoryBackend();
 * const pipeline = new Pipeline({ backends: [a, b], createSpool: () => new MemorySpool() });
 * pipeline.enqueue({ kind: "tag", runId: "r", seq: 1, timestampMs: 0, tags: ["x"] });
 * const report = await pipeline.shutdown();
 * assert.ok(report.ok);
 * assert.equal(a.events.length, 1);
 * assert.equal(b.events.length, 1);
 * ```
 */
export class Pipeline {
  #processors: BatchProcessor[];

  /**
   * Creates one processor per backend.
   *
   * @param options The backends, how to make their spools, and shared settings.
   */
  constructor(options: PipelineOptions) {
    const used = new Map<string, number>();
    this.#processors = options.backends.map((backend) => {
      const count = (used.get(backend.name) ?? 0) + 1;
      used.set(backend.name, count);
      const lane = count === 1 ? backend.name : `${backend.name}-${count}`;
      return new BatchProcessor({
        ...options,
        backend,
        spool: options.createSpool(backend, lane),
      });
    });
  }

  /** The backends, in order. */
  get backends(): Backend[] {
    return this.#processors.map((processor) => processor.backend);
  }

  /**
   * Queues an event (or a metric group) for every backend. Synchronous;
   * never awaits the network.
   *
   * @param event The event.
   */
  enqueue(event: QueueItem): void {
    const processors = this.#processors;
    for (let i = 0; i < processors.length; i++) processors[i].enqueue(event);
  }

  /**
   * Flushes every backend in parallel.
   *
   * @param timeoutMs The longest wait, in milliseconds.
   * @returns One report per backend.
   */
  async flush(timeoutMs?: number): Promise<FlushReport> {
    const backends = await Promise.all(
      this.#processors.map((p) => p.flush(timeoutMs)),
    );
    return {
      ok: backends.every((report) =>
        report.status === "flushed" && report.droppedEvents === 0
      ),
      backends,
    };
  }

  /**
   * Flushes, then closes every backend and spool.
   *
   * @param timeoutMs The longest wait for the flush, in milliseconds.
   * @returns One report per backend.
   */
  async shutdown(timeoutMs?: number): Promise<FlushReport> {
    const backends = await Promise.all(
      this.#processors.map((p) => p.shutdown(timeoutMs)),
    );
    return {
      ok: backends.every((report) =>
        report.status === "flushed" && report.droppedEvents === 0
      ),
      backends,
    };
  }

  /**
   * Current counters.
   *
   * @returns Sums over backends, and each backend's counters.
   */
  stats(): PipelineStats {
    const backends = this.#processors.map((processor) => processor.stats());
    const total: PipelineStats = {
      queued: 0,
      sent: 0,
      retried: 0,
      throttled: 0,
      spooledBytes: 0,
      dropped: 0,
      backends,
    };
    for (const stats of backends) {
      total.queued += stats.queued;
      total.sent += stats.sent;
      total.retried += stats.retried;
      total.throttled += stats.throttled;
      total.spooledBytes += stats.spooledBytes;
      total.dropped += stats.dropped;
    }
    return total;
  }
}
