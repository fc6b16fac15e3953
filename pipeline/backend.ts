// This module is browser compatible.
import type { ArtifactStore } from "../artifact/types.ts";
import type { TrackingEvent } from "../event/types.ts";

/**
 * What one request to a backend may carry. The pipeline cuts batches so
 * that none exceeds either limit.
 */
export interface BackendLimits {
  /** Most events in one `send()` call. */
  maxEventsPerBatch: number;
  /**
   * Most bytes in one `send()` call, counted as the events' NDJSON encoding
   * (see `encodeEvent`). A single event larger than this is sent alone.
   */
  maxBatchBytes: number;
}

/** The batch was accepted; the events may be forgotten. */
export interface SendSuccess {
  /** Discriminant. */
  status: "success";
}

/** The batch was not accepted now but may be later (network down, 429, 5xx). */
export interface SendRetryable {
  /** Discriminant. */
  status: "retryable";
  /** How long the service asked us to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** What went wrong, for reports. */
  error?: Error;
  /**
   * How many events at the start of the batch were delivered before the
   * failure: the pipeline acknowledges them and sends only the rest again.
   * @default {0}
   */
  acked?: number;
}

/**
 * The backend's own rate limiter held the batch back, or its rest after an
 * `acked` prefix it delivered. Not a failure: the pipeline waits
 * `retryAfterMs` and sends the rest again, without counting a retry or
 * reporting an error; `stats()` shows the wait.
 */
export interface SendThrottled {
  /** Discriminant. */
  status: "throttled";
  /** How long to wait before sending again, in milliseconds. */
  retryAfterMs: number;
  /**
   * How many events at the start of the batch were delivered before the
   * limiter held the rest back.
   * @default {0}
   */
  acked?: number;
}

/** The batch was rejected for good (bad request, forbidden): retrying cannot help. */
export interface SendFailure {
  /** Discriminant. */
  status: "failure";
  /** Why it was rejected. */
  error: Error;
  /**
   * How many events at the start of the batch were delivered before the
   * rejected ones.
   * @default {0}
   */
  acked?: number;
  /**
   * How many events after the `acked` ones were rejected; the events after
   * those were not tried and are sent again.
   * @default {all the rest}
   */
  rejected?: number;
}

/** The outcome of {@linkcode Backend.send}: backends return it instead of throwing. */
export type SendResult =
  | SendSuccess
  | SendRetryable
  | SendThrottled
  | SendFailure;

/**
 * The contract every backend implements: encode a batch of events for one
 * service and send it. Backends never batch, retry or spool; the pipeline
 * does, and it never knows which service is on the other end.
 *
 * @example A backend that prints each batch
 * ```ts
 * import type { Backend, SendResult } from "@uetai/uetai/pipeline";
 * import type { TrackingEvent } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const console_backend: Backend = {
 *   name: "console",
 *   limits: { maxEventsPerBatch: 100, maxBatchBytes: 65536 },
 *   send(batch: readonly TrackingEvent[]): Promise<SendResult> {
 *     console.log(`${batch.length} events`);
 *     return Promise.resolve({ status: "success" });
 *   },
 *   close(): Promise<void> {
 *     return Promise.resolve();
 *   },
 * };
 * const signal = new AbortController().signal;
 * assert.deepEqual(await console_backend.send([], signal), { status: "success" });
 * ```
 */
export interface Backend {
  /** Short name, used in reports, stats and the spool folder (`"local"`, `"comet"`). */
  readonly name: string;
  /** What one `send()` may carry. */
  readonly limits: BackendLimits;
  /**
   * Whether a successful `send()` already stores the events durably on this
   * machine (the local store does). The pipeline then keeps its queue in
   * memory instead of journaling every event to a file spool first.
   */
  readonly durable?: boolean;
  /**
   * Sends one batch, in order. Must not throw: every failure is a
   * `retryable` or `failure` result.
   *
   * @param batch Events in `(runId, seq)` order within each run.
   * @param signal Aborted when the pipeline gives up on this attempt.
   */
  send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult>;
  /** Releases the backend's resources. Called once, after the last `send()`. */
  close(): Promise<void>;
  /**
   * The backend's artifact versions for a project, when it keeps artifacts.
   * Loggers call it for `logArtifact` and `downloadArtifact`; artifacts do
   * not flow through the event pipeline.
   *
   * @param project The logger's project.
   */
  artifacts?(project: string): ArtifactStore;
}
