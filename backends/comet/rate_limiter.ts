// This module is browser compatible.

/**
 * Comet's published rate limits, per experiment and data type, in items per
 * minute ("Rate limits and performance" in Comet's documentation), and the
 * limit on REST API submissions per key and hour. Past them Comet throttles
 * the experiment (and may drop data), so the client paces itself below them.
 */
export interface CometRateLimits {
  /** Metric values per minute. @default {12000} */
  metricsPerMinute: number;
  /** Parameter values per minute. @default {10000} */
  parametersPerMinute: number;
  /** Everything else (images, assets, other, html, graph, tags) per minute. @default {8000} */
  otherPerMinute: number;
  /** REST API submissions per key and hour. @default {15000} */
  restPerHour: number;
}

/** Comet's published limits. */
export const COMET_RATE_LIMITS: Readonly<CometRateLimits> = Object.freeze({
  metricsPerMinute: 12_000,
  parametersPerMinute: 10_000,
  otherPerMinute: 8_000,
  restPerHour: 15_000,
});

/** The data types Comet limits separately. */
export type RateCategory =
  | "metrics"
  | "parameters"
  | "other"
  | "rest";

interface Bucket {
  capacity: number;
  perMs: number;
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets, one per data type: each holds one period's allowance, is
 * full at the start (a burst of a minute's worth goes at once) and refills
 * continuously. `reserve` takes tokens when there are enough and otherwise
 * says how long to wait, taking nothing.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * let now = 0;
 * const limiter = new RateLimiter({ metricsPerMinute: 60 }, () => now);
 * assert.equal(limiter.reserve([["metrics", 60]]), 0);
 * assert.equal(limiter.reserve([["metrics", 1]]), 1000); // one a second
 * now += 1000;
 * assert.equal(limiter.reserve([["metrics", 1]]), 0);
 * ```
 */
export class RateLimiter {
  #buckets = new Map<RateCategory, Bucket>();
  #now: () => number;

  /**
   * Creates the buckets. A limit left out, `Infinity` or `0` means no limit.
   *
   * @param limits Items per period, per data type.
   * @param now Clock in milliseconds.
   */
  constructor(limits: Partial<CometRateLimits>, now: () => number = Date.now) {
    this.#now = now;
    const add = (
      category: RateCategory,
      per: number | undefined,
      ms: number,
    ) => {
      if (per === undefined || per === 0 || per === Infinity) return;
      if (!(per > 0) || !Number.isFinite(per)) {
        throw new RangeError(
          `Cannot use rate limit ${
            String(per)
          } for ${category}: expected a positive number of items`,
        );
      }
      this.#buckets.set(category, {
        capacity: per,
        perMs: per / ms,
        tokens: per,
        updatedMs: now(),
      });
    };
    add("metrics", limits.metricsPerMinute, 60_000);
    add("parameters", limits.parametersPerMinute, 60_000);
    add("other", limits.otherPerMinute, 60_000);
    add("rest", limits.restPerHour, 3_600_000);
  }

  /**
   * Takes tokens from one or more buckets at once (a request that counts
   * against several limits), or says how long to wait, taking nothing. A
   * count above a bucket's capacity is granted once that bucket is full.
   *
   * @param takes `[category, count]` pairs: what the request is about to use.
   * @returns `0` when granted (tokens taken), else milliseconds to wait.
   */
  reserve(takes: readonly (readonly [RateCategory, number])[]): number {
    const now = this.#now();
    let waitMs = 0;
    for (const [category, count] of takes) {
      const bucket = this.#buckets.get(category);
      if (!bucket || count <= 0) continue;
      bucket.tokens = Math.min(
        bucket.capacity,
        bucket.tokens + (now - bucket.updatedMs) * bucket.perMs,
      );
      bucket.updatedMs = now;
      const need = Math.min(count, bucket.capacity);
      if (bucket.tokens < need) {
        waitMs = Math.max(
          waitMs,
          Math.ceil((need - bucket.tokens) / bucket.perMs),
        );
      }
    }
    if (waitMs > 0) return waitMs;
    for (const [category, count] of takes) {
      const bucket = this.#buckets.get(category);
      if (bucket && count > 0) bucket.tokens -= count;
    }
    return 0;
  }
}
