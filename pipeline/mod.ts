// This module is browser compatible.

/**
 * The event pipeline: batching, retry with backoff, spooling and fan-out.
 * It knows the {@linkcode Backend} contract and never a particular backend.
 *
 * @example Feed a backend through a processor
 * ```ts
 * import { MemorySpool, Pipeline } from "@uetai/uetai/pipeline";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const backend = new InMemoryBackend();
 * const pipeline = new Pipeline({ backends: [backend], createSpool: () => new MemorySpool() });
 * pipeline.enqueue({ kind: "metric", runId: "r", seq: 1, timestampMs: 0, key: "loss", value: 0.5, step: 1 });
 * await pipeline.shutdown();
 * assert.equal(backend.events.length, 1);
 * ```
 *
 * @module
 */
export type {
  Backend,
  BackendLimits,
  SendFailure,
  SendResult,
  SendRetryable,
  SendSuccess,
  SendThrottled,
} from "./backend.ts";
export {
  type BackendFlushReport,
  type BackendStats,
  BatchProcessor,
  type BatchProcessorOptions,
  type BatchProcessorSettings,
  encodePendingMedia,
  type ErrorState,
  expandQueueItem,
  type LoggedAtStep,
  type MetricGroup,
  type PendingMedia,
  type QueueItem,
} from "./batch_processor.ts";
export {
  type FlushReport,
  Pipeline,
  type PipelineOptions,
  type PipelineStats,
} from "./pipeline.ts";
export { eventIdentity, sendInUnits, type UnitSenderOptions } from "./units.ts";
export {
  abortableSleep,
  backoffDelayMs,
  type BackoffOptions,
  parseRetryAfter,
  type RetryOptions,
  waitFor,
} from "./retry.ts";
export type { Spool, SpoolFactory, SpoolRecord } from "./spool.ts";
export { MemorySpool, type MemorySpoolOptions } from "./memory_spool.ts";
export { FileSpool, type FileSpoolOptions } from "./file_spool.ts";
export { OverflowSpool, type OverflowSpoolOptions } from "./overflow_spool.ts";
export type { Clock, TimerHandle } from "../runtime/clock.ts";
export { systemClock } from "../runtime/clock.ts";
export type { FileHandleLike, FileSystemLike } from "../runtime/fs.ts";
