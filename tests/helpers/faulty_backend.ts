// Test helper: a backend that delegates to another and answers the faults it
// is told to stage (rate limiting, server errors, an outage) the way a
// backend talking to a failing service would: with `retryable` results, so
// the pipeline's retry and spool are exercised. Used by the backend
// conformance suite for backends without a fake server (the local store, the
// memory backend), in the test process and in its child processes. It does
// not import `node:test`, so a child process may import it.
import { BackendError } from "../../errors/errors.ts";
import type { TrackingEvent } from "../../event/types.ts";
import type { Backend, SendResult } from "../../pipeline/backend.ts";

/**
 * Faults staged at the service (or, by {@linkcode faultyBackend}, in front
 * of the backend). Each applies to the requests made after the call.
 */
export interface BackendFaults {
  /**
   * The next `count` requests answer 429 Too Many Requests with a short
   * `Retry-After` (a fake server should send a small one, such as `0`, so
   * the suite stays fast).
   */
  throttle(count: number): void;
  /**
   * The next `count` requests answer the HTTP `status` (a 5xx in the suite).
   */
  fail(count: number, status: number): void;
  /** While `down` is `true`, the service cannot be reached at all. */
  setDown(down: boolean): void;
}

/** A backend with faults staged in front of it. */
export interface FaultyBackend {
  /** The wrapping backend: same name, limits, durability and artifacts as the inner one. */
  backend: Backend;
  /** Stages faults for the following sends. */
  faults: BackendFaults;
  /** How many sends were answered with a staged fault. */
  readonly faultsServed: number;
}

/** `Retry-After` of a staged 429, in milliseconds. */
const THROTTLE_RETRY_AFTER_MS = 5;

/**
 * Wraps `inner` so that staged faults answer its sends: a throttled send
 * answers `{ status: "retryable", retryAfterMs }`, a failed one `retryable`
 * for a 408, 429 or 5xx status and `failure` for any other, and while down
 * every send answers `retryable`. The inner backend never sees those sends.
 *
 * @param inner The backend that stores what gets through.
 * @returns The wrapping backend, its fault controls and a count of faults served.
 */
export function faultyBackend(inner: Backend): FaultyBackend {
  let throttles = 0;
  let failures = 0;
  let failureStatus = 503;
  let down = false;
  let served = 0;

  function staged(): SendResult | undefined {
    if (down) {
      served++;
      return {
        status: "retryable",
        error: new BackendError(
          `Cannot reach '${inner.name}': the service is down (staged outage)`,
          { backend: inner.name, retryable: true },
        ),
      };
    }
    if (throttles > 0) {
      throttles--;
      served++;
      return {
        status: "retryable",
        retryAfterMs: THROTTLE_RETRY_AFTER_MS,
        error: new BackendError(
          `Request to '${inner.name}' failed with status 429 (staged)`,
          { backend: inner.name, status: 429, retryable: true },
        ),
      };
    }
    if (failures > 0) {
      failures--;
      served++;
      const retryable = failureStatus >= 500 || failureStatus === 429 ||
        failureStatus === 408;
      const error = new BackendError(
        `Request to '${inner.name}' failed with status ${failureStatus} (staged)`,
        { backend: inner.name, status: failureStatus, retryable },
      );
      return retryable
        ? { status: "retryable", error }
        : { status: "failure", error };
    }
    return undefined;
  }

  const backend: Backend = {
    name: inner.name,
    limits: inner.limits,
    durable: inner.durable,
    send(
      batch: readonly TrackingEvent[],
      signal: AbortSignal,
    ): Promise<SendResult> {
      const fault = staged();
      return fault ? Promise.resolve(fault) : inner.send(batch, signal);
    },
    close(): Promise<void> {
      return inner.close();
    },
  };
  if (inner.artifacts) {
    const artifacts = inner.artifacts.bind(inner);
    backend.artifacts = (project) => artifacts(project);
  }

  function assertCount(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `Cannot stage faults: 'count' must be a non-negative integer: current value is ${count}`,
      );
    }
  }

  return {
    backend,
    faults: {
      throttle(count: number): void {
        assertCount(count);
        throttles = count;
      },
      fail(count: number, status: number): void {
        assertCount(count);
        failures = count;
        failureStatus = status;
      },
      setDown(value: boolean): void {
        down = value;
      },
    },
    get faultsServed(): number {
      return served;
    },
  };
}
