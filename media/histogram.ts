// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { isArrayLike, isPlainObject, jsonBytes, show } from "./_json.ts";

/** A histogram to compute from raw values. */
export interface HistogramValuesInput {
  /** The values to count; each must be a finite number. */
  values: ArrayLike<number>;
  /**
   * Number of equal-width bins from the smallest to the largest value.
   * Not allowed together with `edges`.
   * @default {64}
   */
  bins?: number;
  /**
   * Bin edges, strictly increasing: bin `i` is `[edges[i], edges[i+1])`,
   * and the last bin also holds its upper edge. Values outside are counted
   * in `underflow` / `overflow` rather than in a bin.
   */
  edges?: number[];
}

/** A histogram already counted: `counts[i]` values fell in `[edges[i], edges[i+1])`. */
export interface HistogramCountsInput {
  /** Count per bin: non-negative integers. */
  counts: number[];
  /** Bin edges, strictly increasing, one more than `counts`. */
  edges: number[];
}

/** The input of a {@linkcode Histogram}: raw values or precomputed counts. */
export type HistogramInput = HistogramValuesInput | HistogramCountsInput;

/**
 * Comet's histogram JSON (version 2), as its Python SDK's
 * `Histogram.to_json()` produces it for `log_histogram_3d`.
 */
export interface CometHistogramJson {
  /** Always `2`. */
  version: 2;
  /** Sparse `[binIndex, count]` pairs over Comet's fixed bins, counts > 0 only, by index. */
  index_values: [number, number][];
  /** Always `null`. */
  values: null;
  /** Centre of Comet's bins: `0`. */
  offset: number;
  /** Smallest bin width from the centre: `1e-12`. */
  start: number;
  /** Largest finite edge: `1e20`. */
  stop: number;
  /** Ratio between successive edges: `1.1`. */
  step: number;
}

const ACTION = "Cannot create Histogram";
const DEFAULT_BINS = 64;

/** Most bins a histogram may have (a mistaken count must not allocate gigabytes). */
const MAX_BINS = 100_000;

// Comet's fixed, exponentially spaced bins (see `cometBinIndex`).
const COMET_OFFSET = 0;
const COMET_START = 1e-12;
const COMET_STOP = 1e20;
const COMET_STEP = 1.1;
// Number of v = start·step^i (built by repeated multiplication, as Comet
// does) with offset + v <= stop: 774 for the defaults, so there are
// 2·774 + 3 = 1551 edges, 1550 bins, and the centre bin is 775.
const COMET_HALF: number = (() => {
  let count = 0;
  for (let v = COMET_START; COMET_OFFSET + v <= COMET_STOP; v *= COMET_STEP) {
    count++;
  }
  return count;
})();
const COMET_MID = COMET_HALF + 1;
const COMET_LAST_BIN = 2 * COMET_HALF + 1;

/**
 * A histogram of numbers, such as a layer's weights.
 *
 * From raw values it counts them over `bins` equal-width bins from the
 * smallest to the largest value (numpy's `histogram` rule: each bin is
 * `[edges[i], edges[i+1])`, the last one also holds the largest value; when
 * all values are equal the range is `value ± 0.5`), or over the given
 * `edges`. Precomputed counts are taken as they are.
 *
 * `encode()` gives JSON (`application/json`, `.json`):
 *
 * - `edges`, `counts`: the bins (`edges.length = counts.length + 1`);
 * - `total`: the sum of `counts`;
 * - `underflow`, `overflow`: values below the first / above the last edge
 *   (only with given `edges`; otherwise `0`);
 * - `min`, `max`: the smallest and largest value, or `null` when unknown
 *   (built from counts, or from no values);
 * - `comet`: the same data in Comet's histogram JSON (version 2), what
 *   `log_histogram_3d` uploads: sparse `[binIndex, count]` pairs over
 *   Comet's 1550 fixed bins (edges `±1e-12·1.1^i` up to `±1e20`, centred on
 *   0). From raw values it is exact: every value (also those outside
 *   `edges`) is placed with Comet's `get_bin_index` rule. From precomputed
 *   counts it is an approximation: each bin's count is placed at the bin's
 *   midpoint.
 *
 * The metadata is `{ bins, total }`.
 *
 * @example Count known values into two bins
 * ```ts
 * import { Histogram } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const histogram = new Histogram({ values: [1, 2, 3, 4], bins: 2 });
 * const json = JSON.parse(new TextDecoder().decode((await histogram.encode()).data));
 * assert.deepEqual(json.edges, [1, 2.5, 4]);
 * assert.deepEqual(json.counts, [2, 2]); // 4, the maximum, is in the last bin
 * assert.equal(json.comet.version, 2);
 * ```
 *
 * @example From precomputed counts
 * ```ts
 * import { Histogram } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const histogram = new Histogram({ counts: [3, 1], edges: [0, 1, 2] });
 * assert.equal((await histogram.encode()).metadata.total, 4);
 * ```
 */
export class Histogram implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"histogram"`. */
  readonly mediaType: "histogram" = "histogram";
  #edges: number[];
  #counts: number[];
  #underflow = 0;
  #overflow = 0;
  #min: number | null = null;
  #max: number | null = null;
  #comet: [number, number][];

  /**
   * Creates a histogram; the counting happens here, so later changes to the
   * input have no effect.
   *
   * @param input Raw values (with `bins` or `edges`), or `counts` with `edges`.
   * @throws {TypeError} When the input has the wrong shape, or gives both `values` and `counts`, or both `bins` and `edges`.
   * @throws {RangeError} When a value is not finite (the message names its index), `bins` is not a positive integer, the edges are not finite and strictly increasing, there are no values and no edges, or counts are negative, not integers, or not one fewer than the edges.
   */
  constructor(input: HistogramInput) {
    if (!isPlainObject(input)) {
      throw new TypeError(
        `${ACTION} as 'input' must be an object with 'values' or 'counts': current value is ${
          show(input)
        }`,
      );
    }
    const hasValues = input.values !== undefined;
    const hasCounts = input.counts !== undefined;
    if (hasValues === hasCounts) {
      throw new TypeError(
        `${ACTION} as 'input' must have exactly one of 'values' and 'counts': ${
          hasValues ? "both are given" : "neither is given"
        }`,
      );
    }
    if (hasCounts) {
      const edges = readEdges(input.edges, true);
      const counts = readCounts(input.counts, edges.length - 1);
      this.#edges = edges;
      this.#counts = counts;
      const comet = new Map<number, number>();
      counts.forEach((count, bin) => {
        if (count === 0) return;
        const index = cometBinIndex((edges[bin] + edges[bin + 1]) / 2);
        comet.set(index, (comet.get(index) ?? 0) + count);
      });
      this.#comet = sortedPairs(comet);
      return;
    }
    const values = readValues(input.values);
    if (input.bins !== undefined && input.edges !== undefined) {
      throw new TypeError(
        `${ACTION} as 'bins' and 'edges' must not both be given: current values are ${
          show(input.bins)
        } and ${show(input.edges)}`,
      );
    }
    let min = Infinity;
    let max = -Infinity;
    for (const value of values) {
      if (value < min) min = value;
      if (value > max) max = value;
    }
    if (values.length > 0) {
      this.#min = min;
      this.#max = max;
    }
    let edges: number[];
    if (input.edges !== undefined) {
      edges = readEdges(input.edges, false);
    } else {
      const bins = input.bins ?? DEFAULT_BINS;
      if (
        typeof bins !== "number" || !Number.isSafeInteger(bins) || bins < 1 ||
        bins > MAX_BINS
      ) {
        throw new RangeError(
          `${ACTION} as 'bins' must be an integer from 1 to ${MAX_BINS}: current value is ${
            show(bins)
          }`,
        );
      }
      if (values.length === 0) {
        throw new RangeError(
          `${ACTION} as 'values' must not be empty when no 'edges' are given: current length is 0`,
        );
      }
      edges = equalWidthEdges(min, max, bins);
    }
    const counts = new Array<number>(edges.length - 1).fill(0);
    const comet = new Map<number, number>();
    const first = edges[0];
    const last = edges[edges.length - 1];
    for (const value of values) {
      const index = cometBinIndex(value);
      comet.set(index, (comet.get(index) ?? 0) + 1);
      if (value < first) this.#underflow++;
      else if (value > last) this.#overflow++;
      else counts[binOf(edges, value)]++;
    }
    this.#edges = edges;
    this.#counts = counts;
    this.#comet = sortedPairs(comet);
  }

  /**
   * Encodes the histogram as JSON, with Comet's version-2 histogram under
   * `comet`.
   *
   * @returns An `application/json` file with extension `json`.
   */
  encode(): Promise<EncodedMedia> {
    const total = this.#counts.reduce((sum, count) => sum + count, 0);
    const comet: CometHistogramJson = {
      version: 2,
      index_values: this.#comet,
      values: null,
      offset: COMET_OFFSET,
      start: COMET_START,
      stop: COMET_STOP,
      step: COMET_STEP,
    };
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "application/json",
      extension: "json",
      data: jsonBytes({
        edges: this.#edges,
        counts: this.#counts,
        total,
        min: this.#min,
        max: this.#max,
        underflow: this.#underflow,
        overflow: this.#overflow,
        comet,
      }),
      metadata: { bins: this.#counts.length, total },
    });
  }
}

/**
 * The index of Comet's bin holding `value`, by its SDK's `get_bin_index`
 * rule (with offset 0): `value >= stop` → the last bin; `value <= -stop` →
 * 0; `value == 0` → the centre bin `mid`; `value > 0` →
 * `mid + ceil(log(value / start) / log(step))`; `value < 0` →
 * `mid - 1 - ceil(log(-value / start) / log(step))`. The result is kept
 * within the bins (Comet's rule leaves them for `|value|` far below `start`).
 */
function cometBinIndex(value: number): number {
  if (value >= COMET_STOP) return COMET_LAST_BIN;
  if (value <= -COMET_STOP) return 0;
  const offset = value - COMET_OFFSET;
  let index: number;
  if (offset === 0) {
    index = COMET_MID;
  } else if (offset > 0) {
    // Magnitudes below Comet's first edge share the bin next to the centre
    // on their own side (the logarithm would put them on the other side).
    index = COMET_MID +
      Math.max(
        0,
        Math.ceil(Math.log(offset / COMET_START) / Math.log(COMET_STEP)),
      );
  } else {
    index = COMET_MID - 1 -
      Math.max(
        0,
        Math.ceil(Math.log(-offset / COMET_START) / Math.log(COMET_STEP)),
      );
  }
  return Math.min(COMET_LAST_BIN, Math.max(0, index));
}

function sortedPairs(map: Map<number, number>): [number, number][] {
  return [...map].sort((a, b) => a[0] - b[0]);
}

/** The bin of a value within `[edges[0], edges[last]]`: the last edge belongs to the last bin. */
function binOf(edges: number[], value: number): number {
  let low = 0;
  let high = edges.length - 2;
  // Largest i in [0, bins-1] with edges[i] <= value.
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (edges[middle] <= value) low = middle;
    else high = middle - 1;
  }
  return low;
}

function equalWidthEdges(min: number, max: number, bins: number): number[] {
  let first = min;
  let last = max;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const width = last - first;
  const edges = new Array<number>(bins + 1);
  for (let i = 0; i < bins; i++) {
    // The second form avoids overflow when the range exceeds Number.MAX_VALUE.
    edges[i] = Number.isFinite(width)
      ? first + (width * i) / bins
      : first * (1 - i / bins) + last * (i / bins);
  }
  edges[bins] = last;
  return edges;
}

function readValues(value: unknown): number[] {
  if (!isArrayLike(value)) {
    throw new TypeError(
      `${ACTION} as 'values' must be an array or typed array of numbers: current value is ${
        show(value)
      }`,
    );
  }
  const values = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (typeof item !== "number" || !Number.isFinite(item)) {
      const error = typeof item === "number" ? RangeError : TypeError;
      throw new error(
        `${ACTION} as 'values[${i}]' must be a finite number: current value is ${
          show(item)
        }`,
      );
    }
    values[i] = item;
  }
  return values;
}

function readEdges(value: unknown, required: boolean): number[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'edges' must be an array of numbers${
        required ? " (required with 'counts')" : ""
      }: current value is ${show(value)}`,
    );
  }
  if (value.length < 2) {
    throw new RangeError(
      `${ACTION} as 'edges' must have at least 2 numbers: current length is ${value.length}`,
    );
  }
  const edges: number[] = [];
  value.forEach((edge: unknown, i) => {
    if (typeof edge !== "number" || !Number.isFinite(edge)) {
      const error = typeof edge === "number" ? RangeError : TypeError;
      throw new error(
        `${ACTION} as 'edges[${i}]' must be a finite number: current value is ${
          show(edge)
        }`,
      );
    }
    if (i > 0 && edge <= edges[i - 1]) {
      throw new RangeError(
        `${ACTION} as 'edges' must be strictly increasing: 'edges[${i}]' is ${edge}, not above ${
          edges[i - 1]
        }`,
      );
    }
    edges.push(edge);
  });
  return edges;
}

function readCounts(value: unknown, bins: number): number[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'counts' must be an array of numbers: current value is ${
        show(value)
      }`,
    );
  }
  if (value.length !== bins) {
    throw new RangeError(
      `${ACTION} as 'counts' must have one number fewer than 'edges' (${bins}): current length is ${value.length}`,
    );
  }
  return value.map((count: unknown, i) => {
    if (typeof count !== "number") {
      throw new TypeError(
        `${ACTION} as 'counts[${i}]' must be a non-negative integer: current value is ${
          show(count)
        }`,
      );
    }
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `${ACTION} as 'counts[${i}]' must be a non-negative integer: current value is ${count}`,
      );
    }
    return count;
  });
}
