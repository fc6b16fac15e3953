// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { isArrayLike, isPlainObject, jsonBytes, show } from "./_json.ts";

/** Titles shared by both inputs of a {@linkcode ConfusionMatrix}. */
export interface ConfusionMatrixTitles {
  /**
   * Title of the chart.
   * @default {"Confusion Matrix"}
   */
  title?: string;
  /**
   * Title of the rows (actual classes).
   * @default {"Actual Category"}
   */
  rowLabel?: string;
  /**
   * Title of the columns (predicted classes).
   * @default {"Predicted Category"}
   */
  columnLabel?: string;
}

/** A confusion matrix to count from (actual, predicted) pairs. */
export interface ConfusionMatrixPairsInput extends ConfusionMatrixTitles {
  /** Actual class of each example: strings, or finite numbers. */
  yTrue: ArrayLike<number | string>;
  /** Predicted class of each example, as many as `yTrue`. */
  yPred: ArrayLike<number | string>;
  /**
   * The classes, in display order; every value of `yTrue` and `yPred`
   * (as a string) must be one of them. By default the distinct values,
   * sorted: numerically when all are numbers, else by UTF-16 code units.
   */
  labels?: string[];
}

/** A confusion matrix already counted: `matrix[actual][predicted]`. */
export interface ConfusionMatrixCountsInput extends ConfusionMatrixTitles {
  /** Square matrix of non-negative integer counts; rows are actual classes. */
  matrix: number[][];
  /**
   * One label per row.
   * @default {["0", "1", ...]}
   */
  labels?: string[];
}

/** The input of a {@linkcode ConfusionMatrix}: pairs, or a matrix of counts. */
export type ConfusionMatrixInput =
  | ConfusionMatrixPairsInput
  | ConfusionMatrixCountsInput;

const ACTION = "Cannot create ConfusionMatrix";

/** Most classes a confusion matrix may have (its size grows with the square). */
const MAX_CLASSES = 1000;

/**
 * A confusion matrix of a classifier: `matrix[i][j]` counts the examples of
 * actual class `labels[i]` predicted as `labels[j]`.
 *
 * `encode()` gives JSON (`application/json`, `.json`) in the shape Comet's
 * `log_confusion_matrix` uploads (version 1, asset type
 * `confusion-matrix`):
 *
 * ```json
 * {"version": 1, "title": "Confusion Matrix", "labels": ["a", "b"],
 *  "matrix": [[1, 2], [3, 4]], "rowLabel": "Actual Category",
 *  "columnLabel": "Predicted Category", "maxSamplesPerCell": 25,
 *  "sampleMatrix": null, "type": null}
 * ```
 *
 * There are no per-cell samples, so `sampleMatrix` and `type` are `null`.
 * Numeric classes become labels by `String(value)`. The metadata is
 * `{ title, size }`.
 *
 * @example From actual and predicted classes
 * ```ts
 * import { ConfusionMatrix } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const matrix = new ConfusionMatrix({
 *   yTrue: ["cat", "dog", "dog", "cat"],
 *   yPred: ["cat", "dog", "cat", "cat"],
 * });
 * const json = JSON.parse(new TextDecoder().decode((await matrix.encode()).data));
 * assert.deepEqual(json.labels, ["cat", "dog"]);
 * assert.deepEqual(json.matrix, [[2, 0], [1, 1]]);
 * ```
 *
 * @example From counts
 * ```ts
 * import { ConfusionMatrix } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const matrix = new ConfusionMatrix({ matrix: [[5, 1], [0, 4]], labels: ["no", "yes"] });
 * assert.deepEqual((await matrix.encode()).metadata, { title: "Confusion Matrix", size: 2 });
 * ```
 */
export class ConfusionMatrix implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"confusion_matrix"`. */
  readonly mediaType: "confusion_matrix" = "confusion_matrix";
  #labels: string[];
  #matrix: number[][];
  #title: string;
  #rowLabel: string;
  #columnLabel: string;

  /**
   * Creates a confusion matrix; the input is counted or copied here.
   *
   * @param input Pairs of actual and predicted classes, or a matrix of counts; optional titles.
   * @throws {TypeError} When the input has the wrong shape, or a class, label, count or title has the wrong type; the message names it.
   * @throws {RangeError} When `yTrue` and `yPred` differ in length, a class is not in `labels`, labels repeat, the matrix is empty or not square, the labels do not match its size, or a count is negative or not an integer.
   */
  constructor(input: ConfusionMatrixInput) {
    if (!isPlainObject(input)) {
      throw new TypeError(
        `${ACTION} as 'input' must be an object with 'yTrue' and 'yPred', or 'matrix': current value is ${
          show(input)
        }`,
      );
    }
    this.#title = readTitle(input.title, "title", "Confusion Matrix");
    this.#rowLabel = readTitle(input.rowLabel, "rowLabel", "Actual Category");
    this.#columnLabel = readTitle(
      input.columnLabel,
      "columnLabel",
      "Predicted Category",
    );
    const labels = input.labels === undefined
      ? undefined
      : readLabels(input.labels);
    if (input.matrix !== undefined) {
      if (input.yTrue !== undefined || input.yPred !== undefined) {
        throw new TypeError(
          `${ACTION} as 'input' must have either 'matrix' or 'yTrue' and 'yPred': both are given`,
        );
      }
      this.#matrix = readMatrix(input.matrix);
      const size = this.#matrix.length;
      if (labels !== undefined && labels.length !== size) {
        throw new RangeError(
          `${ACTION} as 'labels' must have one label per row of the ${size}×${size} matrix: current length is ${labels.length}`,
        );
      }
      this.#labels = labels ??
        Array.from({ length: size }, (_, index) => String(index));
      return;
    }
    const yTrue = readClasses(input.yTrue, "yTrue");
    const yPred = readClasses(input.yPred, "yPred");
    if (yTrue.length !== yPred.length) {
      throw new RangeError(
        `${ACTION} as 'yPred' must have as many values as 'yTrue' (${yTrue.length}): current length is ${yPred.length}`,
      );
    }
    const resolved = labels ?? distinctSorted([...yTrue, ...yPred]);
    if (resolved.length > MAX_CLASSES) {
      throw new RangeError(
        `${ACTION} as it would have more than ${MAX_CLASSES} classes: current count is ${resolved.length} (were scores passed instead of class labels?)`,
      );
    }
    if (resolved.length === 0) {
      throw new RangeError(
        `${ACTION} as 'yTrue' must not be empty when no 'labels' are given: current length is 0`,
      );
    }
    const indexOf = new Map(resolved.map((label, index) => [label, index]));
    const matrix = resolved.map(() =>
      new Array<number>(resolved.length).fill(0)
    );
    for (let i = 0; i < yTrue.length; i++) {
      const row = locate(indexOf, yTrue[i], "yTrue", i, resolved);
      const column = locate(indexOf, yPred[i], "yPred", i, resolved);
      matrix[row][column]++;
    }
    this.#labels = resolved;
    this.#matrix = matrix;
  }

  /**
   * Encodes the matrix as Comet's confusion-matrix JSON (version 1).
   *
   * @returns An `application/json` file with extension `json`.
   */
  encode(): Promise<EncodedMedia> {
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "application/json",
      extension: "json",
      data: jsonBytes({
        version: 1,
        title: this.#title,
        labels: this.#labels,
        matrix: this.#matrix,
        rowLabel: this.#rowLabel,
        columnLabel: this.#columnLabel,
        maxSamplesPerCell: 25,
        sampleMatrix: null,
        type: null,
      }),
      metadata: { title: this.#title, size: this.#labels.length },
    });
  }
}

function readTitle(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string") {
    throw new TypeError(
      `${ACTION} as '${name}' must be a string: current value is ${
        show(value)
      }`,
    );
  }
  return value;
}

function readLabels(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'labels' must be an array of strings: current value is ${
        show(value)
      }`,
    );
  }
  const seen = new Set<string>();
  return value.map((label: unknown, index) => {
    if (typeof label !== "string") {
      throw new TypeError(
        `${ACTION} as 'labels[${index}]' must be a string: current value is ${
          show(label)
        }`,
      );
    }
    if (seen.has(label)) {
      throw new RangeError(
        `${ACTION} as 'labels[${index}]' must be unique: current value is ${
          show(label)
        }, already an earlier label`,
      );
    }
    seen.add(label);
    return label;
  });
}

function readClasses(value: unknown, name: string): (string | number)[] {
  if (!isArrayLike(value)) {
    throw new TypeError(
      `${ACTION} as '${name}' must be an array of strings or numbers: current value is ${
        show(value)
      }`,
    );
  }
  const classes = new Array<string | number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (
      typeof item !== "string" &&
      !(typeof item === "number" && Number.isFinite(item))
    ) {
      throw new TypeError(
        `${ACTION} as '${name}[${i}]' must be a string or a finite number: current value is ${
          show(item)
        }`,
      );
    }
    classes[i] = item;
  }
  return classes;
}

function distinctSorted(values: (string | number)[]): string[] {
  if (values.every((value) => typeof value === "number")) {
    return [...new Set(values as number[])].sort((a, b) => a - b).map(String);
  }
  return [...new Set(values.map(String))].sort();
}

function locate(
  indexOf: Map<string, number>,
  value: string | number,
  name: string,
  index: number,
  labels: string[],
): number {
  const found = indexOf.get(String(value));
  if (found === undefined) {
    throw new RangeError(
      `${ACTION} as '${name}[${index}]' must be one of 'labels' ${
        JSON.stringify(labels)
      }: current value is ${show(value)}`,
    );
  }
  return found;
}

function readMatrix(value: unknown): number[][] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'matrix' must be an array of rows: current value is ${
        show(value)
      }`,
    );
  }
  if (value.length === 0) {
    throw new RangeError(
      `${ACTION} as 'matrix' must not be empty: current length is 0`,
    );
  }
  const size = value.length;
  return value.map((row: unknown, i) => {
    if (!Array.isArray(row)) {
      throw new TypeError(
        `${ACTION} as 'matrix[${i}]' must be an array of counts: current value is ${
          show(row)
        }`,
      );
    }
    if (row.length !== size) {
      throw new RangeError(
        `${ACTION} as 'matrix' must be square (${size}×${size}): 'matrix[${i}]' has length ${row.length}`,
      );
    }
    return row.map((count: unknown, j) => {
      if (typeof count !== "number") {
        throw new TypeError(
          `${ACTION} as 'matrix[${i}][${j}]' must be a non-negative integer: current value is ${
            show(count)
          }`,
        );
      }
      if (!Number.isSafeInteger(count) || count < 0) {
        throw new RangeError(
          `${ACTION} as 'matrix[${i}][${j}]' must be a non-negative integer: current value is ${count}`,
        );
      }
      return count;
    });
  });
}
