// This module is browser compatible.
import type { TrackingEvent } from "../event/types.ts";
import { BackendError } from "../errors/errors.ts";
import type { SendResult } from "./backend.ts";

/**
 * Identifies an event across attempts, and across the sessions of a resumed
 * run (whose `seq` starts again at 0): run, seq and time.
 *
 * @param event The event.
 * @returns The identity.
 */
export function eventIdentity(event: TrackingEvent): string {
  return `${event.runId}\u0000${event.seq}\u0000${event.timestampMs}`;
}

/** How {@linkcode sendInUnits} sends one batch. */
export interface UnitSenderOptions {
  /**
   * Where the unit starting at `start` ends (exclusive): the events one
   * request carries, such as consecutive metrics of a run.
   */
  cut(batch: readonly TrackingEvent[], start: number): number;
  /**
   * Sends one unit. Throws on failure; may instead report one event of the
   * unit refused for good (by its index in the unit), all before it being
   * delivered.
   */
  send(
    unit: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<{ index: number; error: Error } | void>;
  /** A wait the backend's rate limiter imposes on a unit, in milliseconds (0: none). */
  reserve?(unit: readonly TrackingEvent[]): number;
  /**
   * The units delivered by an attempt the pipeline abandoned (by the
   * identity of their last event), skipped when the batch comes again;
   * cleared once a batch is delivered whole. Kept by the backend.
   */
  delivered: Set<string>;
  /** How long the service asked to wait after an error, if it said. */
  retryAfterMs?(error: Error): number | undefined;
}

/**
 * Sends a batch as a sequence of units (one request each), in order, and
 * turns the outcome into a {@linkcode SendResult} with partial
 * acknowledgement: the units delivered before a failure are `acked`; a unit
 * refused for good is `rejected` alone; a unit the limiter holds back makes
 * the result `throttled`. Errors that are `BackendError`s say whether they
 * are retryable; `TypeError`, `RangeError` and `SyntaxError` (a value that
 * cannot be encoded) are final; anything else may pass next time.
 *
 * @param batch The events.
 * @param signal Aborted when the pipeline gives up on this attempt.
 * @param options How to cut, send and throttle units.
 * @returns The outcome; never throws.
 *
 * @example
 * ```ts
 * import { sendInUnits } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * const batch = [0, 1, 2].map((seq) => ({ kind: "tag" as const, runId: "r", seq, timestampMs: 0, tags: ["x"] }));
 * const result = await sendInUnits(batch, new AbortController().signal, {
 *   cut: (_batch, start) => start + 1,
 *   send: (unit) => unit[0].seq === 1 ? Promise.reject(new TypeError("bad")) : Promise.resolve(),
 *   delivered: new Set(),
 * });
 * assert.deepEqual([result.status, result.status === "failure" && result.acked], ["failure", 1]);
 * ```
 */
export async function sendInUnits(
  batch: readonly TrackingEvent[],
  signal: AbortSignal,
  options: UnitSenderOptions,
): Promise<SendResult> {
  let done = 0;
  while (done < batch.length) {
    const end = Math.min(
      batch.length,
      Math.max(done + 1, options.cut(batch, done)),
    );
    const unit = batch.slice(done, end);
    const last = eventIdentity(unit[unit.length - 1]);
    if (options.delivered.has(last)) {
      done = end;
      continue;
    }
    const waitMs = options.reserve?.(unit) ?? 0;
    if (waitMs > 0) {
      return { status: "throttled", retryAfterMs: waitMs, acked: done };
    }
    try {
      const refused = await options.send(unit, signal);
      if (refused) {
        return {
          status: "failure",
          acked: done + refused.index,
          rejected: 1,
          error: refused.error,
        };
      }
      options.delivered.add(last);
    } catch (error) {
      if (signal.aborted) {
        const reason = signal.reason;
        return {
          status: "retryable",
          acked: done,
          error: reason instanceof Error ? reason : new Error(String(reason)),
        };
      }
      const failure = error instanceof Error ? error : new Error(String(error));
      const retryable = failure instanceof BackendError
        ? failure.retryable
        : !(failure instanceof TypeError || failure instanceof RangeError ||
          failure instanceof SyntaxError);
      if (retryable) {
        return {
          status: "retryable",
          acked: done,
          error: failure,
          retryAfterMs: options.retryAfterMs?.(failure),
        };
      }
      return {
        status: "failure",
        acked: done,
        rejected: unit.length,
        error: failure,
      };
    }
    done = end;
  }
  // Everything is acknowledged now: nothing left to skip.
  options.delivered.clear();
  return { status: "success" };
}
