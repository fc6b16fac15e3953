// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { isArrayLike, isPlainObject, jsonBytes, show } from "./_json.ts";

/** The input of a {@linkcode Curve}. */
export interface CurveInput {
  /** Name of the curve, such as `"pr"`; Comet uses it as the file name. */
  name: string;
  /** The x coordinates: finite numbers. */
  x: ArrayLike<number>;
  /** The y coordinates: finite numbers, as many as `x`. */
  y: ArrayLike<number>;
}

/** Options of {@linkcode prCurve} and {@linkcode rocCurve}. */
export interface ScoreCurveOptions {
  /**
   * Name of the curve.
   * @default {"pr" for prCurve, "roc" for rocCurve}
   */
  name?: string;
}

/**
 * A named curve of (x, y) points, such as a precision-recall or ROC curve.
 *
 * `encode()` gives JSON (`application/json`, `.json`) `{ name, x, y }`, the
 * shape Comet's `log_curve` uploads (asset type `curve`). The metadata is
 * `{ name, points }`.
 *
 * @example A learning-rate schedule
 * ```ts
 * import { Curve } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const curve = new Curve({ name: "lr", x: [0, 1, 2], y: [0.1, 0.05, 0.025] });
 * const json = JSON.parse(new TextDecoder().decode((await curve.encode()).data));
 * assert.deepEqual(json, { name: "lr", x: [0, 1, 2], y: [0.1, 0.05, 0.025] });
 * ```
 */
export class Curve implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"curve"`. */
  readonly mediaType: "curve" = "curve";
  #name: string;
  #x: number[];
  #y: number[];

  /**
   * Creates a curve; the coordinates are copied.
   *
   * @param input The name and the coordinates.
   * @throws {TypeError} When the name is not a string, or `x`/`y` is not an array of numbers; the message names the value.
   * @throws {RangeError} When the name is empty, the curve has no point, `x` and `y` differ in length, or a coordinate is not finite (the message names its index).
   */
  constructor(input: CurveInput) {
    const action = "Cannot create Curve";
    if (!isPlainObject(input)) {
      throw new TypeError(
        `${action} as 'input' must be an object with 'name', 'x' and 'y': current value is ${
          show(input)
        }`,
      );
    }
    const name = input.name;
    if (typeof name !== "string") {
      throw new TypeError(
        `${action} as 'name' must be a string: current value is ${show(name)}`,
      );
    }
    if (name === "") {
      throw new RangeError(
        `${action} as 'name' must not be empty: current value is ""`,
      );
    }
    const x = readCoordinates(input.x, "x", action);
    const y = readCoordinates(input.y, "y", action);
    if (x.length !== y.length) {
      throw new RangeError(
        `${action} as 'y' must have as many values as 'x' (${x.length}): current length is ${y.length}`,
      );
    }
    if (x.length === 0) {
      throw new RangeError(
        `${action} as 'x' must not be empty: current length is 0`,
      );
    }
    this.#name = name;
    this.#x = x;
    this.#y = y;
  }

  /** The name of the curve. */
  get name(): string {
    return this.#name;
  }

  /**
   * The area under the curve by the trapezoid rule, taking the points in
   * their order: the sum of `(x[i+1] - x[i]) · (y[i] + y[i+1]) / 2`. It is
   * the ROC AUC for a {@linkcode rocCurve}, and the trapezoidal area under
   * a {@linkcode prCurve}; it is negative where `x` decreases, and `0` for a
   * single point.
   *
   * @example
   * ```ts
   * import { Curve } from "@uetai/uetai/media";
   * import assert from "node:assert/strict";
   * assert.equal(new Curve({ name: "line", x: [0, 1], y: [0, 1] }).auc, 0.5);
   * ```
   */
  get auc(): number {
    let area = 0;
    for (let i = 1; i < this.#x.length; i++) {
      area += (this.#x[i] - this.#x[i - 1]) * (this.#y[i] + this.#y[i - 1]) /
        2;
    }
    return area;
  }

  /**
   * Encodes the curve as JSON `{ name, x, y }`.
   *
   * @returns An `application/json` file with extension `json`.
   */
  encode(): Promise<EncodedMedia> {
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "application/json",
      extension: "json",
      data: jsonBytes({ name: this.#name, x: this.#x, y: this.#y }),
      metadata: { name: this.#name, points: this.#x.length },
    });
  }
}

/**
 * The precision-recall curve of a binary classifier: x is recall, y is
 * precision.
 *
 * An example is predicted positive when its score is at or above the
 * threshold. There is one threshold per distinct score, from the highest to
 * the lowest, so tied scores enter together; at each, with TP and FP the
 * true and false positives and P the number of positive labels,
 * recall = TP / P and precision = TP / (TP + FP). Before them the curve
 * starts at recall 0 with precision 1 (no prediction made, by the same
 * convention as scikit-learn's `precision_recall_curve`). Recall never
 * decreases along the curve; the last point is recall 1 with precision
 * P / n. No point is dropped.
 *
 * @param scores The classifier's score for each example: finite numbers, higher means more likely positive.
 * @param labels The true class of each example: `1`/`true` positive, `0`/`false` negative.
 * @param options The name of the curve.
 * @returns A {@linkcode Curve} of `1 + distinct scores` points.
 * @throws {TypeError} When a score or label has the wrong type; the message names its index.
 * @throws {RangeError} When the lengths differ, there are no examples, a score is not finite, or no label is positive.
 *
 * @example Scores with a tie
 * ```ts
 * import { prCurve } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const curve = prCurve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]);
 * const json = JSON.parse(new TextDecoder().decode((await curve.encode()).data));
 * assert.deepEqual(json.x, [0, 0.5, 1, 1]); // recall
 * assert.deepEqual(json.y, [1, 1, 2 / 3, 0.5]); // precision
 * ```
 */
export function prCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<0 | 1 | boolean>,
  options: ScoreCurveOptions = {},
): Curve {
  const counts = thresholdCounts(scores, labels, "prCurve");
  if (counts.positives === 0) {
    throw new RangeError(
      `Cannot compute prCurve as 'labels' must contain a positive example (1 or true): current labels are all negative`,
    );
  }
  const x = [0];
  const y = [1];
  for (const { tp, fp } of counts.steps) {
    x.push(tp / counts.positives);
    y.push(tp / (tp + fp));
  }
  return new Curve({ name: curveName(options, "pr", "prCurve"), x, y });
}

/**
 * The ROC curve of a binary classifier: x is the false-positive rate
 * FP / N, y is the true-positive rate TP / P.
 *
 * It starts at (0, 0) (nothing predicted positive) and adds one point per
 * distinct score, from the highest to the lowest, with every example scored
 * at or above it predicted positive; so tied scores enter together (a
 * diagonal step) and the last point is (1, 1). No point is dropped. Its
 * {@linkcode Curve.auc} is the ROC AUC, which counts ties as half.
 *
 * @param scores The classifier's score for each example: finite numbers, higher means more likely positive.
 * @param labels The true class of each example: `1`/`true` positive, `0`/`false` negative.
 * @param options The name of the curve.
 * @returns A {@linkcode Curve} of `1 + distinct scores` points.
 * @throws {TypeError} When a score or label has the wrong type; the message names its index.
 * @throws {RangeError} When the lengths differ, there are no examples, a score is not finite, or the labels lack a positive or a negative example.
 *
 * @example A perfect classifier
 * ```ts
 * import { rocCurve } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const curve = rocCurve([0.9, 0.8, 0.3, 0.1], [true, true, false, false]);
 * const json = JSON.parse(new TextDecoder().decode((await curve.encode()).data));
 * assert.deepEqual(json.x, [0, 0, 0, 0.5, 1]); // false-positive rate
 * assert.deepEqual(json.y, [0, 0.5, 1, 1, 1]); // true-positive rate
 * assert.equal(curve.auc, 1);
 * ```
 */
export function rocCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<0 | 1 | boolean>,
  options: ScoreCurveOptions = {},
): Curve {
  const counts = thresholdCounts(scores, labels, "rocCurve");
  if (counts.positives === 0 || counts.negatives === 0) {
    throw new RangeError(
      `Cannot compute rocCurve as 'labels' must contain both a positive and a negative example: current labels are all ${
        counts.positives === 0 ? "negative" : "positive"
      }`,
    );
  }
  const x = [0];
  const y = [0];
  for (const { tp, fp } of counts.steps) {
    x.push(fp / counts.negatives);
    y.push(tp / counts.positives);
  }
  return new Curve({ name: curveName(options, "roc", "rocCurve"), x, y });
}

function curveName(
  options: ScoreCurveOptions,
  fallback: string,
  action: string,
): string {
  if (!isPlainObject(options)) {
    throw new TypeError(
      `Cannot compute ${action} as 'options' must be an object: current value is ${
        show(options)
      }`,
    );
  }
  return (options as ScoreCurveOptions).name ?? fallback;
}

function readCoordinates(
  value: unknown,
  name: string,
  action: string,
): number[] {
  if (!isArrayLike(value)) {
    throw new TypeError(
      `${action} as '${name}' must be an array of numbers: current value is ${
        show(value)
      }`,
    );
  }
  const numbers = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (typeof item !== "number") {
      throw new TypeError(
        `${action} as '${name}[${i}]' must be a finite number: current value is ${
          show(item)
        }`,
      );
    }
    if (!Number.isFinite(item)) {
      throw new RangeError(
        `${action} as '${name}[${i}]' must be a finite number: current value is ${item}`,
      );
    }
    numbers[i] = item;
  }
  return numbers;
}

/**
 * Cumulative true and false positives at each distinct score, from the
 * highest score down.
 */
function thresholdCounts(
  scores: unknown,
  labels: unknown,
  name: string,
): {
  positives: number;
  negatives: number;
  steps: { tp: number; fp: number }[];
} {
  const action = `Cannot compute ${name}`;
  const values = readCoordinates(scores, "scores", action);
  if (!isArrayLike(labels)) {
    throw new TypeError(
      `${action} as 'labels' must be an array of 0, 1, false or true: current value is ${
        show(labels)
      }`,
    );
  }
  if (labels.length !== values.length) {
    throw new RangeError(
      `${action} as 'labels' must have as many values as 'scores' (${values.length}): current length is ${labels.length}`,
    );
  }
  if (values.length === 0) {
    throw new RangeError(
      `${action} as 'scores' must not be empty: current length is 0`,
    );
  }
  const positive = new Array<boolean>(values.length);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label === 1 || label === true) positive[i] = true;
    else if (label === 0 || label === false) positive[i] = false;
    else {
      throw new TypeError(
        `${action} as 'labels[${i}]' must be 0, 1, false or true: current value is ${
          show(label)
        }`,
      );
    }
  }
  const order = values.map((_, index) => index).sort((a, b) =>
    values[b] - values[a]
  );
  const steps: { tp: number; fp: number }[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    if (positive[order[k]]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || values[next] !== values[order[k]]) {
      steps.push({ tp, fp });
    }
  }
  return { positives: tp, negatives: fp, steps };
}
