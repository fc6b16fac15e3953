// This module is browser compatible.

/** How failed sends are retried: exponential backoff with jitter. */
export interface RetryOptions {
  /**
   * Delay before the first retry, in milliseconds.
   * @default {500}
   */
  initialDelayMs?: number;
  /**
   * Longest delay between two tries, in milliseconds (a `Retry-After` from
   * the service may ask for longer, and is honoured).
   * @default {30000}
   */
  maxDelayMs?: number;
  /**
   * Factor by which the delay grows after each failed try.
   * @default {2}
   */
  multiplier?: number;
  /**
   * Fraction of the delay that is random, from 0 (none) to 1 (full jitter).
   * @default {0.5}
   */
  jitter?: number;
}

/** Options of {@linkcode backoffDelayMs}: the backoff settings and this try's inputs. */
export interface BackoffOptions extends RetryOptions {
  /** What the service asked for (`Retry-After`), if anything; it wins over the backoff. */
  retryAfterMs?: number;
  /**
   * A source of numbers in [0, 1) for the jitter.
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * Computes the wait before retry number `attempt` (1 for the first retry).
 * A `retryAfterMs` from the service wins over the computed backoff.
 *
 * @param attempt The retry about to be made, from 1.
 * @param options Backoff settings, `retryAfterMs` and the random source.
 * @returns The delay in milliseconds.
 *
 * @example
 * ```ts
 * import { backoffDelayMs } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * assert.equal(backoffDelayMs(3, { initialDelayMs: 100, jitter: 0 }), 400);
 * assert.equal(backoffDelayMs(3, { initialDelayMs: 100, retryAfterMs: 7000 }), 7000);
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = {},
): number {
  const retryAfterMs = options.retryAfterMs;
  if (
    retryAfterMs !== undefined && Number.isFinite(retryAfterMs) &&
    retryAfterMs >= 0
  ) {
    return retryAfterMs;
  }
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const random = options.random ?? Math.random;
  const base = Math.min(max, initial * multiplier ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/**
 * Parses an HTTP `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value The header value, or `null` when absent.
 * @param nowMs The current time, for HTTP dates.
 * @returns The delay in milliseconds, or `undefined` when absent or unparsable.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * assert.equal(parseRetryAfter("3"), 3000);
 * assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.UTC(2015, 9, 21, 7, 28, 0)), 10000);
 * ```
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date names its day or month ("Wed, 21 Oct 2015 07:28:00 GMT");
  // anything else ("-5", "+5", "soon") is not a Retry-After value.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/**
 * Waits, unless the signal aborts first (then rejects with its reason).
 *
 * @param ms How long, in milliseconds.
 * @param signal Stops the wait.
 * @returns After the wait.
 *
 * @example
 * ```ts
 * import { abortableSleep } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * await abortableSleep(1);
 * await assert.rejects(abortableSleep(10_000, AbortSignal.abort(new Error("stop"))), /stop/);
 * ```
 */
export function abortableSleep(
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits for a promise shared with other callers, or stops waiting (rejects
 * with the signal's reason) when this caller's signal aborts; the shared
 * work goes on for the others.
 *
 * @param promise The shared work.
 * @param signal This caller's signal.
 * @returns The work's result.
 *
 * @example
 * ```ts
 * import { waitFor } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * assert.equal(await waitFor(Promise.resolve(1)), 1);
 * await assert.rejects(waitFor(new Promise(() => {}), AbortSignal.abort(new Error("gone"))), /gone/);
 * ```
 */
export function waitFor<T>(
  promise: Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
