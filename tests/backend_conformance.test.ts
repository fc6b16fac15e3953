// The backend conformance suite (tests/helpers/backend_conformance.ts) run
// against the local store, read back through `LocalStore`, the in-memory
// backend, read back from the events it accepted, and Comet, read back from
// the fake Comet server's state.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import assert from "node:assert/strict";
import { LocalBackend, LocalStore } from "../backends/local/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { CometBackend } from "../backends/comet/mod.ts";
import { type FakeAsset, FakeComet } from "./helpers/fake_comet.ts";
import { MlflowBackend, RUN_ID_TAG } from "../backends/mlflow/mod.ts";
import { FakeMlflow } from "./helpers/fake_mlflow.ts";
import { WandbBackend } from "../backends/wandb/mod.ts";
import { FakeWandb } from "./helpers/fake_wandb.ts";
import type { TrackingEvent } from "../event/types.ts";
import {
  backendConformance,
  CONFORMANCE_PROJECT,
  type ConformanceReadBack,
} from "./helpers/backend_conformance.ts";

backendConformance("LocalBackend conformance", (dir) => {
  const store = new LocalStore({ dir });
  return Promise.resolve({
    createBackend: () => new LocalBackend({ dir }),
    child: {
      backend: "local",
      env: {},
      // Registered by mod.ts already; imported again to exercise `imports`.
      imports: [new URL("../backends/builtin.ts", import.meta.url).href],
    },
    artifacts: true,
    async readRun(runId: string): Promise<ConformanceReadBack> {
      const run = await store.getRun(CONFORMANCE_PROJECT, runId);
      const metrics: ConformanceReadBack["metrics"] = {};
      const series = await store.readMetrics(CONFORMANCE_PROJECT, runId);
      for (const [key, points] of series) {
        metrics[key] = points.map(({ step, value }) => ({ step, value }));
      }
      const media = (await store.listMedia(CONFORMANCE_PROJECT, runId)).map(
        ({ key, mediaType, step }) => ({ key, mediaType, step }),
      );
      return {
        name: run.name ?? null,
        tags: run.tags,
        params: run.params,
        metrics,
        media,
        ended: run.status !== "running",
      };
    },
    close: () => Promise.resolve(),
  });
});

/** What a run's accepted events say, folded in arrival order. */
function readBackFromEvents(
  events: Iterable<TrackingEvent>,
  runId: string,
): ConformanceReadBack {
  const readBack: ConformanceReadBack = {
    name: null,
    tags: [],
    params: {},
    metrics: {},
    media: [],
    ended: false,
  };
  const addTags = (tags: readonly string[]) => {
    for (const tag of tags) {
      if (!readBack.tags.includes(tag)) readBack.tags.push(tag);
    }
  };
  for (const event of events) {
    if (event.runId !== runId) continue;
    switch (event.kind) {
      case "run_start":
        if (event.name !== undefined) readBack.name = event.name;
        addTags(event.tags);
        break;
      case "run_name":
        readBack.name = event.name;
        break;
      case "tag":
        addTags(event.tags);
        break;
      case "param":
        readBack.params[event.key] = event.value;
        break;
      case "metric":
        (readBack.metrics[event.key] ??= []).push({
          step: event.step,
          value: event.value,
        });
        break;
      case "media":
        readBack.media.push({
          key: event.key,
          mediaType: event.mediaType,
          step: event.step,
        });
        break;
      case "run_end":
        readBack.ended = true;
        break;
    }
  }
  return readBack;
}

backendConformance("InMemoryBackend conformance", () => {
  // Every logger gets its own backend; together they are the "service".
  const backends: InMemoryBackend[] = [];
  return Promise.resolve({
    createBackend() {
      const backend = new InMemoryBackend();
      backends.push(backend);
      return backend;
    },
    artifacts: true,
    readRun: (runId: string) =>
      Promise.resolve(
        readBackFromEvents(backends.flatMap((b) => b.events), runId),
      ),
    close: () => Promise.resolve(),
  });
});

/** The uetai media kind of a Comet asset, and the key it was logged under. */
function cometMedia(
  asset: FakeAsset,
): { key: string; mediaType: string } | undefined {
  const strip = (suffix: string) =>
    asset.fileName.endsWith(suffix)
      ? asset.fileName.slice(0, -suffix.length)
      : asset.fileName;
  switch (asset.type) {
    case "image":
      return { key: strip(".png"), mediaType: "image" };
    case "audio":
      return { key: strip(".wav"), mediaType: "audio" };
    case "text-sample":
      return {
        key: String(JSON.parse(asset.metadata ?? "{}").key),
        mediaType: "text",
      };
    case "histogram3d":
      return { key: asset.fileName, mediaType: "histogram" };
    case "confusion-matrix":
      return { key: strip(".json"), mediaType: "confusion_matrix" };
    case "curve":
      return { key: asset.fileName, mediaType: "curve" };
    default:
      return asset.fileName.endsWith(".csv")
        ? { key: strip(".csv"), mediaType: "table" }
        : undefined;
  }
}

backendConformance("CometBackend conformance (fake Comet)", async () => {
  const fake = await FakeComet.start();
  const env = {
    COMET_API_KEY: fake.apiKey,
    COMET_WORKSPACE: fake.workspace,
    COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
  };
  return {
    createBackend: () => new CometBackend({ env, heartbeat: false }),
    child: { backend: "comet", env },
    faults: {
      throttle: (count) => fake.throttle({ count, retryAfterS: 0 }),
      fail: (count, status) => fake.fail({ count, status }),
      setDown: (down) => fake.setDown(down),
    },
    artifacts: true,
    unsteppedMedia: ["html", "graph"],
    readRun(runId: string): Promise<ConformanceReadBack> {
      const experiment = fake.experiment(runId);
      if (!experiment) {
        return Promise.resolve({
          name: null,
          tags: [],
          params: {},
          metrics: {},
          media: [],
          ended: false,
        });
      }
      const metrics: ConformanceReadBack["metrics"] = {};
      for (const m of experiment.metrics) {
        (metrics[m.metricName] ??= []).push({
          step: m.step ?? 0,
          value: typeof m.metricValue === "number"
            ? m.metricValue
            : Number(m.metricValue),
        });
      }
      const params: Record<string, unknown> = {};
      for (const p of experiment.parameters) {
        params[p.parameterName] = p.parameterValue;
      }
      const media: ConformanceReadBack["media"] = [];
      for (const asset of experiment.assets) {
        if (asset.artifactVersionId !== null) continue;
        const kind = cometMedia(asset);
        if (kind) media.push({ ...kind, step: asset.step ?? 0 });
      }
      if (experiment.html !== "") {
        media.push({ key: "", mediaType: "html", step: -1 });
      }
      if (experiment.graph !== null) {
        media.push({ key: "", mediaType: "graph", step: -1 });
      }
      return Promise.resolve({
        name: experiment.name,
        tags: experiment.tags,
        params,
        metrics,
        media,
        ended: !experiment.alive && experiment.endTimeMillis !== null,
      });
    },
    close: () => fake.close(),
  };
});

const MLFLOW_MEDIA_FOLDERS: Record<string, string> = {
  text: "text",
  html: "html",
  audio: "audio",
  graphs: "graph",
  histograms: "histogram",
  confusion_matrices: "confusion_matrix",
  curves: "curve",
  tables: "table",
};

/** MLflow clamps infinities to ±Number.MAX_VALUE: read them back as such. */
function mlflowValue(value: number | string): number {
  const number = typeof value === "number" ? value : Number(value);
  return Math.abs(number) === Number.MAX_VALUE
    ? Math.sign(number) * Infinity
    : number;
}

backendConformance("MlflowBackend conformance (fake MLflow)", async () => {
  const fake = await FakeMlflow.start();
  const env = { MLFLOW_TRACKING_URI: fake.url };
  return {
    createBackend: () => new MlflowBackend({ env }),
    child: { backend: "mlflow", env },
    faults: {
      throttle: (count) => fake.throttle({ count, retryAfterS: 0 }),
      fail: (count, status) => fake.fail({ count, status }),
      setDown: (down) => fake.setDown(down),
    },
    artifacts: true,
    readRun(runId: string): Promise<ConformanceReadBack> {
      const runs = fake.runs().filter((r) => r.tags[RUN_ID_TAG] === runId);
      assert.ok(runs.length <= 1, `${runs.length} MLflow runs for one run`);
      const [run] = runs;
      if (!run) {
        return Promise.resolve({
          name: null,
          tags: [],
          params: {},
          metrics: {},
          media: [],
          ended: false,
        });
      }
      const metrics: ConformanceReadBack["metrics"] = {};
      for (const m of run.metrics) {
        (metrics[m.key] ??= []).push({
          step: m.step,
          value: mlflowValue(m.value),
        });
      }
      const media: ConformanceReadBack["media"] = [];
      const root = `${run.experimentId}/${run.runId}/artifacts/`;
      for (const path of fake.artifactPaths(root)) {
        const rel = path.slice(root.length);
        const image = /^images\/(.+)\+step\+(\d+)\+timestamp\+\d+\+[^+]+\.png$/
          .exec(rel);
        if (image) {
          media.push({
            key: image[1].replaceAll(".", "/"),
            mediaType: "image",
            step: Number(image[2]),
          });
          continue;
        }
        const other = /^([a-z_]+)\/(.+)\/step_(\d+)\.[a-z0-9]+$/.exec(rel);
        if (other && MLFLOW_MEDIA_FOLDERS[other[1]]) {
          media.push({
            key: other[2],
            mediaType: MLFLOW_MEDIA_FOLDERS[other[1]],
            step: Number(other[3]),
          });
        }
      }
      return Promise.resolve({
        name: run.tags["mlflow.runName"] ?? null,
        tags: Object.entries(run.tags)
          .filter(([key, value]) =>
            value === "true" && !key.startsWith("mlflow.") &&
            !key.startsWith("uetai.")
          )
          .map(([key]) => key),
        params: { ...run.params },
        metrics,
        media,
        ended: run.status !== "RUNNING",
      });
    },
    close: () => fake.close(),
  };
});

/** The uetai media kind of a W&B history value (tables by their columns). */
function wandbMedia(
  value: unknown,
  files: Record<string, Uint8Array>,
): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { _type, path } = value as { _type?: string; path?: string };
  switch (_type) {
    case "image-file":
      return "image";
    case "audio-file":
      return "audio";
    case "html-file":
      return "html";
    case "graph-file":
      return "graph";
    case "histogram":
      return "histogram";
    case "table-file": {
      const columns = JSON.stringify(
        JSON.parse(new TextDecoder().decode(files[path ?? ""])).columns,
      );
      return columns === '["text"]'
        ? "text"
        : columns === '["Actual","Predicted","nPredictions"]'
        ? "confusion_matrix"
        : columns === '["x","y"]'
        ? "curve"
        : "table";
    }
    default:
      return undefined;
  }
}

backendConformance("WandbBackend conformance (fake W&B)", async () => {
  const fake = await FakeWandb.start();
  const env = { WANDB_API_KEY: fake.apiKey, WANDB_BASE_URL: fake.url };
  return {
    createBackend: () => new WandbBackend({ env }),
    child: { backend: "wandb", env },
    faults: {
      throttle: (count) => fake.throttle({ count, retryAfterS: 0 }),
      fail: (count, status) => fake.fail({ count, status }),
      setDown: (down) => fake.setDown(down),
    },
    artifacts: true,
    readRun(runId: string): Promise<ConformanceReadBack> {
      const run = fake.run(runId, CONFORMANCE_PROJECT);
      if (!run) {
        return Promise.resolve({
          name: null,
          tags: [],
          params: {},
          metrics: {},
          media: [],
          ended: false,
        });
      }
      const metrics: ConformanceReadBack["metrics"] = {};
      const media: ConformanceReadBack["media"] = [];
      for (const row of run.history) {
        const step = row._step as number;
        for (const [key, value] of Object.entries(row)) {
          if (key.startsWith("_")) continue;
          if (typeof value === "number") {
            (metrics[key] ??= []).push({ step, value });
          } else {
            const mediaType = wandbMedia(value, run.files);
            if (mediaType) media.push({ key, mediaType, step });
          }
        }
      }
      const params: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(run.config)) {
        if (key !== "_wandb") params[key] = (entry as { value: unknown }).value;
      }
      return Promise.resolve({
        name: run.displayName,
        tags: run.tags,
        params,
        metrics,
        media,
        ended: run.complete,
      });
    },
    close: () => fake.close(),
  };
});
