// The Comet backend against the fake Comet server (tests/helpers/fake_comet.ts):
// the example as written, every data type as Comet's SDK sends it,
// batching and the rate limiter, retries without duplicates, an outage at
// start, resume, heartbeat and end, the raw API, configuration errors, and
// the shared artifact-store conformance suite.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { FakeComet, type RecordedRequest } from "./helpers/fake_comet.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { artifactStoreConformance } from "./helpers/artifact_conformance.ts";
import {
  Audio,
  CometLogger,
  ConfusionMatrix,
  createLogger,
  Curve,
  Graph,
  Histogram,
  Html,
  Table,
  Text,
} from "../mod.ts";
import {
  CometApiError,
  CometArtifactStore,
  CometBackend,
  CometHttp,
  RateLimiter,
  resolveCometConfig,
} from "../backends/comet/mod.ts";
import type { ErrorState } from "../pipeline/batch_processor.ts";

const decoder = new TextDecoder();

interface Setup {
  fake: FakeComet;
  dir: string;
}

async function withFake(
  fn: (setup: Setup) => Promise<void>,
  options: { heartbeatMs?: number } = {},
): Promise<void> {
  const fake = await FakeComet.start(options);
  try {
    await withTempDir((dir) => fn({ fake, dir }), "uetai-comet-");
  } finally {
    await fake.close();
  }
}

function cometOptions(
  { fake, dir }: Setup,
): {
  apiKey: string;
  workspace: string;
  urlOverride: string;
  dir: string;
  exitFlushTimeoutMs: number;
  onError: (state: ErrorState) => void;
} {
  return {
    apiKey: fake.apiKey,
    workspace: fake.workspace,
    urlOverride: `${fake.url}/clientlib/`,
    dir: join(dir, ".uetai"),
    exitFlushTimeoutMs: 0,
    onError: () => {},
  };
}

function paths(requests: readonly RecordedRequest[]): string[] {
  return requests.map((r) => `${r.method} ${r.path}`);
}

describe("CometLogger: the issue's example", () => {
  it("logs metrics, an image array, a confusion matrix, an artifact folder and downloads version 1.0.0", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      await mkdir(join(dir, "ckpt", "sub"), { recursive: true });
      await writeFile(
        join(dir, "ckpt", "weights.bin"),
        new Uint8Array(5000).fill(7),
      );
      await writeFile(join(dir, "ckpt", "sub", "notes.txt"), "epoch 3");
      const imageArray = Array.from(
        { length: 8 },
        (_, y) => Array.from({ length: 8 }, (_, x) => [x * 30, y * 30, 128]),
      );

      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "p",
      });
      logger.log({ loss: 0.5, accuracy: 0.9 }, { step: 1 });
      logger.log({ image: imageArray }, { step: 1 });
      const exp = logger.getExperiment();
      await exp.logConfusionMatrix({
        labels: ["one", "two", "three"],
        matrix: [[10, 0, 0], [0, 9, 1], [1, 1, 8]],
      });
      const artifact = await logger.logArtifact({
        path: join(dir, "ckpt") + "/",
        name: "model",
        type: "model",
      });
      assert.equal(artifact.version, "1.0.0");
      const savePath = await logger.downloadArtifact({
        name: "model",
        version: "1.0.0",
        savePath: join(dir, "out") + "/",
      });
      assert.deepEqual(
        await readFile(join(savePath, "weights.bin")),
        Buffer.from(new Uint8Array(5000).fill(7)),
      );
      assert.equal(
        await readFile(join(savePath, "sub", "notes.txt"), "utf8"),
        "epoch 3",
      );
      const report = await logger.end();
      assert.ok(report.ok);

      const experiment = fake.experiment(logger.experimentKey)!;
      assert.ok(experiment, "the experiment exists at Comet");
      assert.equal(experiment.projectName, "p");
      assert.equal(experiment.workspaceName, "ws");
      assert.deepEqual(
        experiment.metrics.map((m) => [m.metricName, m.metricValue, m.step]),
        [["loss", 0.5, 1], ["accuracy", 0.9, 1]],
      );
      const image = experiment.assets.find((a) => a.type === "image")!;
      assert.equal(image.fileName, "image.png");
      assert.equal(image.step, 1);
      assert.deepEqual(
        [...image.data.subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      );
      const matrix = experiment.assets.find((a) =>
        a.type === "confusion-matrix"
      )!;
      const json = JSON.parse(decoder.decode(matrix.data));
      assert.equal(json.version, 1);
      assert.deepEqual(json.labels, ["one", "two", "three"]);
      assert.deepEqual(json.matrix, [[10, 0, 0], [0, 9, 1], [1, 1, 8]]);
      assert.equal(experiment.alive, false);
      assert.equal(typeof experiment.endTimeMillis, "number");
      assert.equal(experiment.hasCrashed, false);
      assert.equal(
        logger.experimentUrl,
        `${fake.url}/ws/p/${logger.experimentKey}`,
      );
      const [stored] = fake.artifacts();
      assert.equal(stored.artifactName, "model");
      assert.deepEqual(
        stored.versions.map((v) => [v.version, v.state]),
        [["1.0.0", "CLOSED"]],
      );
    });
  });
});

describe("CometLogger: every data type as Comet's SDK sends it", () => {
  it("metrics, params, tags, name, media kinds and the end reach the fake in the captured shapes", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "kinds",
        experimentName: "run-1",
        tags: ["a", "b"],
      });
      logger.logParams({ lr: 0.01, optimizer: "adam", model: { layers: 2 } });
      logger.log({ loss: 0.25, nan: NaN, inf: -Infinity }, {
        step: 2,
        epoch: 1,
        context: "train",
      });
      logger.addTags(["c"]);
      logger.setName("renamed");
      const samples = new Float32Array(800).map((_, i) => Math.sin(i / 5));
      logger.log({
        audio: new Audio(samples, { sampleRate: 8000 }),
        note: new Text("hello text"),
        page: new Html("<b>hi</b>"),
        graph: new Graph("Sequential(Linear(2, 2))"),
        table: new Table({
          columns: ["a", "b"],
          rows: [[1, "x,y"], [2, null]],
        }),
        weights: new Histogram({ values: [1, 2, 3, 4, 5] }),
        cm: new ConfusionMatrix({
          labels: ["a", "b"],
          matrix: [[1, 2], [3, 4]],
        }),
        pr: new Curve({ name: "pr", x: [1, 2], y: [3, 4] }),
      }, { step: 3 });
      assert.ok((await logger.end()).ok);

      const experiment = fake.experiment(logger.experimentKey)!;
      assert.equal(experiment.name, "renamed");
      assert.deepEqual([...experiment.tags].sort(), ["a", "b", "c"]);
      assert.deepEqual(
        experiment.parameters.map((
          p,
        ) => [p.parameterName, p.parameterValue, p.source]),
        [
          ["lr", 0.01, "manual"],
          ["optimizer", "adam", "manual"],
          ["model/layers", 2, "manual"],
        ],
      );
      assert.deepEqual(
        experiment.metrics.map((m) => [
          m.metricName,
          m.metricValue,
          m.step,
          m.epoch,
          m.context,
        ]),
        [
          ["loss", 0.25, 2, 1, "train"],
          ["nan", "NaN", 2, 1, "train"],
          ["inf", "-Infinity", 2, 1, "train"],
        ],
      );
      const byType = new Map(experiment.assets.map((a) => [a.type, a]));
      assert.equal(byType.get("audio")!.fileName, "audio.wav");
      assert.equal(
        decoder.decode(byType.get("audio")!.data.subarray(0, 4)),
        "RIFF",
      );
      const text = byType.get("text-sample")!;
      assert.equal(text.fileName, "auto-generated-in-the-backend");
      assert.equal(decoder.decode(text.data), "hello text");
      assert.equal(JSON.parse(text.metadata!).key, "note");
      const histogram = JSON.parse(
        decoder.decode(byType.get("histogram3d")!.data),
      );
      assert.deepEqual(histogram, {
        version: 2,
        index_values: [[1065, 1], [1073, 1], [1077, 1], [1080, 1], [1082, 1]],
        values: null,
        offset: 0,
        start: 1e-12,
        stop: 1e20,
        step: 1.1,
      });
      assert.equal(byType.get("histogram3d")!.step, 3);
      assert.deepEqual(JSON.parse(decoder.decode(byType.get("curve")!.data)), {
        name: "pr",
        x: [1, 2],
        y: [3, 4],
      });
      assert.equal(byType.get("confusion-matrix")!.fileName, "cm.json");
      const csv = experiment.assets.find((a) => a.fileName === "table.csv")!;
      assert.equal(decoder.decode(csv.data), 'a,b\r\n1,"x,y"\r\n2,\r\n');
      assert.equal(experiment.html, "<b>hi</b>");
      assert.equal(experiment.graph, "Sequential(Linear(2, 2))");

      // The wire: the SDK's batch endpoints gzip-encoded with the
      // Authorization header; uploads with the key in the query only.
      const metric = fake.requests.find((r) =>
        r.path === "/clientlib/batch/logger/experiment/metric"
      )!;
      assert.equal(metric.gzip, true);
      assert.equal(metric.headers.authorization, fake.apiKey);
      const upload = fake.requests.find((r) =>
        r.path === "/clientlib/asset/upload"
      )!;
      assert.equal(upload.query.apiKey, fake.apiKey);
      assert.equal(upload.headers.authorization, undefined);
      assert.equal(upload.parts![0].name, "file");
      assert.equal(upload.parts![0].filename, "file");
      const start = fake.requests.find((r) =>
        r.path === "/clientlib/logger/add/run"
      )!;
      assert.deepEqual(
        Object.keys(start.json as object).sort(),
        [
          "apiKey",
          "experimentKey",
          "libVersion",
          "local_timestamp",
          "offline",
          "projectName",
          "teamName",
        ],
      );
      assert.ok(
        fake.requests.every((r) => r.status === 200),
        paths(fake.requests).join("\n"),
      );
    });
  });

  it("cuts 2500 metric points into gzip batches of at most 1000 values", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "batches",
        flushIntervalMs: 60_000,
      });
      for (let step = 0; step < 1250; step++) {
        logger.log({ a: step, b: -step }, { step });
      }
      assert.ok((await logger.end()).ok);
      const batches = fake.requests.filter((r) =>
        r.path === "/clientlib/batch/logger/experiment/metric"
      );
      const sizes = batches.map((r) =>
        (r.json as { values: unknown[] }).values.length
      );
      assert.ok(sizes.every((n) => n <= 1000), `batch sizes ${sizes}`);
      assert.equal(sizes.reduce((a, b) => a + b, 0), 2500);
      assert.ok(batches.length <= 4, `${batches.length} metric requests`);
      const stored = fake.experiment(logger.experimentKey)!.metrics;
      assert.equal(stored.length, 2500);
      assert.deepEqual(stored.slice(2, 4).map((m) => m.metricValue), [1, -1]);
    });
  });
});

describe("CometBackend: limits, retries, outage", () => {
  it("holds metrics back under the rate limit and shows it in stats()", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = createLogger({
        ...cometOptions(setup),
        backend: new CometBackend({
          apiKey: fake.apiKey,
          workspace: fake.workspace,
          urlOverride: `${fake.url}/clientlib/`,
          rateLimits: { metricsPerMinute: 3000 }, // a burst of 3000, then 50 a second
          heartbeat: false,
        }),
        project: "limits",
      });
      for (let step = 0; step < 3050; step++) logger.log({ x: step }, { step });
      const started = Date.now();
      assert.ok((await logger.end({ timeoutMs: 20_000 })).ok);
      const stats = logger.stats();
      assert.ok(stats.throttled >= 1, JSON.stringify(stats));
      assert.ok(stats.backends[0].throttledMs >= 1, JSON.stringify(stats));
      assert.equal(stats.retried, 0);
      // The bucket held 3000; the last 50 waited about a second.
      assert.ok(Date.now() - started >= 500);
      assert.equal(fake.experiment(logger.runId)!.metrics.length, 3050);
    });
  });

  it("retries 429 (honouring Retry-After) and 5xx without losing or duplicating a point", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const errors: Error[] = [];
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "retry",
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
        onError: ({ error }) => errors.push(error),
        flushIntervalMs: 10,
      });
      await logger.flush();
      fake.throttle({
        path: "/clientlib/batch/logger/experiment/metric",
        count: 2,
        retryAfterS: 0,
      });
      fake.fail({
        path: "/clientlib/batch/logger/experiment/metric",
        count: 2,
        status: 503,
      });
      fake.fail({
        path: "/clientlib/visualizations/upload",
        count: 1,
        status: 500,
      });
      for (let step = 0; step < 200; step++) {
        logger.log({ loss: 1 / (step + 1) }, { step });
      }
      logger.log({ image: [[0, 1], [1, 0]] }, { step: 200 });
      assert.ok((await logger.end({ timeoutMs: 20_000 })).ok);
      const experiment = fake.experiment(logger.experimentKey)!;
      assert.deepEqual(
        experiment.metrics.map((m) => m.step),
        Array.from({ length: 200 }, (_, i) => i),
      );
      assert.equal(
        experiment.assets.filter((a) => a.type === "image").length,
        1,
      );
      const stats = logger.stats();
      assert.ok(stats.retried >= 3, JSON.stringify(stats));
      assert.equal(stats.dropped, 0);
      assert.ok(errors.length >= 1);
      assert.ok(errors.every((e) => !e.message.includes(fake.apiKey)));
    });
  });

  it("a 400 on one upload drops that event only; the rest of the batch still arrives", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const errors: Error[] = [];
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "reject",
        onError: ({ error }) => errors.push(error),
        flushIntervalMs: 60_000,
      });
      await logger.flush();
      fake.fail({ path: "/clientlib/asset/upload", count: 1, status: 400 });
      logger.log({ before: 1 }, { step: 0 });
      logger.log({ note: new Text("rejected") }, { step: 0 });
      logger.log({ after: 2 }, { step: 1 });
      const report = await logger.end();
      assert.equal(report.ok, false);
      const experiment = fake.experiment(logger.experimentKey)!;
      assert.deepEqual(experiment.metrics.map((m) => m.metricName), [
        "before",
        "after",
      ]);
      assert.equal(logger.stats().dropped, 1);
      assert.ok(errors.some((e) => /400/.test(e.message)), errors.join("\n"));
    });
  });

  it("a send abandoned at the export timeout after part of the batch went through is not sent twice", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "abandoned",
        exportTimeoutMs: 400,
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
        flushIntervalMs: 60_000,
      });
      await logger.flush();
      fake.hang({ path: "/clientlib/visualizations/upload", count: 1 });
      logger.log({ loss: 1 }, { step: 1 });
      logger.log({ image: [[0, 1], [1, 0]], page: new Html("<p>x</p>") }, {
        step: 1,
      });
      logger.log({ loss: 0.5 }, { step: 2 });
      assert.ok((await logger.end({ timeoutMs: 10_000 })).ok);
      const experiment = fake.experiment(logger.experimentKey)!;
      assert.deepEqual(experiment.metrics.map((m) => m.step), [1, 2]);
      assert.equal(
        experiment.assets.filter((a) => a.type === "image").length,
        1,
      );
      assert.equal(experiment.html, "<p>x</p>");
      assert.ok(logger.stats().retried >= 1);
    });
  });

  it("an outage at start: logging continues into the spool, one warning, everything arrives when Comet is back", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      fake.setDown(true);
      const errors: Error[] = [];
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "outage",
        retry: { initialDelayMs: 20, maxDelayMs: 50 },
        flushIntervalMs: 10,
        onError: ({ error }) => errors.push(error),
      });
      for (let step = 0; step < 300; step++) {
        logger.log({ loss: step }, { step });
      }
      const early = await logger.flush({ timeoutMs: 300 });
      assert.equal(early.ok, false);
      assert.equal(logger.stats().sent, 0);
      assert.ok(
        logger.stats().spooledBytes > 0,
        "the events wait in the spool on disk",
      );
      assert.equal(errors.length, 1, errors.map((e) => e.message).join("\n"));
      assert.match(errors[0].message, /Cannot reach Comet/);
      fake.setDown(false);
      assert.ok((await logger.end({ timeoutMs: 20_000 })).ok);
      assert.equal(fake.experiment(logger.experimentKey)!.metrics.length, 300);
      assert.ok(errors.length <= 2);
    });
  });
});

describe("CometLogger: lifecycle", () => {
  it("heartbeats at the interval the server asks for, and end() marks the run ended with its status", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "beat",
      });
      await logger.flush();
      await new Promise((resolve) => setTimeout(resolve, 450));
      const experiment = fake.experiment(logger.experimentKey)!;
      assert.ok(
        experiment.heartbeats >= 3,
        `${experiment.heartbeats} heartbeats`,
      );
      assert.equal(experiment.alive, true);
      await logger.end({ status: "failed" });
      assert.equal(experiment.alive, false);
      assert.equal(experiment.hasCrashed, true);
      const beats = experiment.heartbeats;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(experiment.heartbeats, beats, "no heartbeat after end()");
    }, { heartbeatMs: 100 });
  });

  it("captureOutput copies console lines to the Output tab, stdout and stderr apart", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const original = console.log;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "output",
        captureOutput: true,
      });
      assert.notEqual(console.log, original, "the console is captured");
      console.log("uetai-capture-test line one");
      console.error("uetai-capture-test", { oops: 1 });
      assert.ok((await logger.end()).ok);
      assert.equal(console.log, original, "end() restores the console");
      console.log("uetai-capture-test after end");
      const output = fake.experiment(logger.experimentKey)!.output;
      const ours = output.filter((o) =>
        o.output.startsWith("uetai-capture-test")
      );
      assert.deepEqual(
        ours.map((o) => [o.output, o.stderr]),
        [
          ["uetai-capture-test line one\n", false],
          ['uetai-capture-test {"oops":1}\n', true],
        ],
      );
      const posts = fake.requests.filter((r) =>
        r.path === "/clientlib/rest/v2/write/experiment/output"
      );
      assert.ok(posts.every((r) => r.gzip));
    });
  });

  it("resumes an existing experiment by its key", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const first = new CometLogger({
        ...cometOptions(setup),
        projectName: "resume",
      });
      first.log({ loss: 1 }, { step: 0 });
      assert.ok((await first.end()).ok);
      const second = new CometLogger({
        ...cometOptions(setup),
        projectName: "resume",
        experimentKey: first.experimentKey,
      });
      second.log({ loss: 0.5 }, { step: 1 });
      assert.ok((await second.end()).ok);
      assert.equal(fake.experiments().length, 1);
      assert.deepEqual(
        fake.experiment(first.experimentKey)!.metrics.map((m) => m.step),
        [0, 1],
      );
      assert.ok(
        fake.requests.some((r) => r.path === "/clientlib/logger/get/run"),
      );
      const missing = new CometLogger({
        ...cometOptions(setup),
        projectName: "resume",
        experimentKey: "f".repeat(32),
      });
      const report = await missing.end();
      assert.equal(
        report.ok,
        false,
        "a key Comet does not know is reported, not retried forever",
      );
    });
  });

  it("a resumed run's media never replace the first session's", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const first = new CometLogger({
        ...cometOptions(setup),
        projectName: "resume-media",
      });
      first.log({ image: [[0, 1], [1, 0]] }, { step: 1 });
      assert.ok((await first.end()).ok);
      const start = fake.experiment(first.experimentKey)!.startTimeMillis;
      const second = new CometLogger({
        ...cometOptions(setup),
        projectName: "resume-media",
        experimentKey: first.experimentKey,
      });
      second.log({ image: [[1, 0], [0, 1]] }, { step: 2 });
      assert.ok((await second.end()).ok);
      const experiment = fake.experiment(first.experimentKey)!;
      assert.deepEqual(
        experiment.assets.filter((a) => a.type === "image").map((a) => a.step),
        [1, 2],
      );
      assert.equal(experiment.startTimeMillis, start, "the start time is kept");
    });
  });

  it("identical artifacts logged at once make one version", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      await writeFile(join(dir, "weights.bin"), new Uint8Array(4096).fill(3));
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "same",
      });
      const logged = await Promise.all(
        [0, 1, 2].map(() =>
          logger.logArtifact({
            path: join(dir, "weights.bin"),
            name: "w",
            type: "model",
          })
        ),
      );
      assert.deepEqual(logged.map((a) => a.version), [
        "1.0.0",
        "1.0.0",
        "1.0.0",
      ]);
      assert.equal(logged.filter((a) => a.created).length, 1);
      assert.equal(fake.artifacts()[0].versions.length, 1);
      assert.ok((await logger.end()).ok);
    });
  });

  it("createLogger picks Comet from COMET_* variables", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const logger = createLogger({
        env: {
          COMET_API_KEY: fake.apiKey,
          COMET_WORKSPACE: fake.workspace,
          COMET_PROJECT_NAME: "from-env",
          COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
        },
        dir: join(dir, ".uetai"),
        exitFlushTimeoutMs: 0,
      });
      assert.equal(logger.backends[0].name, "comet");
      logger.log({ x: 1 }, { step: 0 });
      assert.ok((await logger.end()).ok);
      assert.equal(fake.experiment(logger.runId)!.projectName, "from-env");
    });
  });
});

describe("CometExperiment: the raw API", () => {
  it("writes Comet-specific data and reads it back through the REST v2 API", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "raw",
      });
      const exp = logger.getExperiment();
      await exp.logCurve({ name: "roc", x: [0, 0.5, 1], y: [0, 0.8, 1] }, {
        step: 1,
      });
      await exp.logHistogram3d({ values: [0.5, 1.5] }, { name: "w", step: 2 });
      await exp.logHtml("<i>a</i>");
      await exp.logHtml("<i>b</i>");
      await exp.setModelGraph("MLP(784-128-10)");
      const assetId = await exp.logAsset("some notes\n", {
        fileName: "notes.txt",
        step: 4,
        metadata: { m: 1 },
      });
      await exp.logOther("note", "x");
      await exp.logParameters({ bs: 32, nested: { lr: 0.1 } }, {
        prefix: "opt",
      });
      await exp.logMetric("acc", 0.75, { step: 5 });
      await exp.logOutput(["line1", "line2"]);
      await exp.addTags(["raw"]);
      assert.ok(exp.url?.endsWith(logger.experimentKey));

      assert.deepEqual(
        (await exp.getMetrics("acc")).map((m) => [m.metricValue, m.step]),
        [[0.75, 5]],
      );
      const params = await exp.getParameters();
      assert.deepEqual(
        params.map((p) => [p.name, p.valueCurrent]).sort(),
        [["opt_bs", "32"], ["opt_nested/lr", "0.1"]],
      );
      assert.ok((await exp.getOthers()).some((o) => o.name === "note"));
      const assets = await exp.getAssets();
      assert.ok(assets.some((a) => a.type === "curve" && a.fileName === "roc"));
      assert.ok(assets.some((a) => a.type === "histogram_combined_3d"));
      assert.equal(decoder.decode(await exp.getAsset(assetId)), "some notes\n");
      assert.deepEqual(await exp.getTags(), ["raw"]);
      assert.equal(await exp.getGraph(), "MLP(784-128-10)");
      assert.equal(await exp.getHtml(), "<i>a</i><i>b</i>");
      assert.equal(
        (await exp.getMetadata()).experimentKey,
        logger.experimentKey,
      );
      await assert.rejects(
        exp.request("GET", "/api/rest/v2/experiment/nope"),
        (error: unknown) =>
          error instanceof CometApiError && error.status === 404,
      );
      await assert.rejects(
        exp.logHistogram3d({ values: [1] }, { step: 1.5 }),
        /'step' must be an integer/,
      );
      assert.ok((await logger.end()).ok);
      assert.deepEqual(
        fake.experiment(logger.experimentKey)!.output.map((o) => o.output),
        ["line1\n", "line2\n"],
      );
    });
  });
});

describe("Comet configuration and secrets", () => {
  it("a missing key or workspace is a clear TypeError at construction, without the key", () => {
    assert.throws(() => new CometLogger({ env: {} }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /no API key.*COMET_API_KEY/);
      return true;
    });
    assert.throws(
      () => new CometLogger({ env: { COMET_API_KEY: "secret-key-123" } }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /no workspace.*COMET_WORKSPACE/);
        assert.ok(!error.message.includes("secret-key-123"));
        return true;
      },
    );
    assert.throws(
      () => new CometLogger({ apiKey: "secret key", workspace: "ws", env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.ok(!error.message.includes("secret key"));
        return true;
      },
    );
    assert.throws(
      () =>
        new CometLogger({
          apiKey: "k",
          workspace: "ws",
          experimentKey: "not-a-key",
          env: {},
        }),
      /'experimentKey' must be 32 to 50 ASCII letters and digits/,
    );
    assert.throws(
      () =>
        resolveCometConfig({
          apiKey: "k",
          workspace: "ws",
          urlOverride: "ftp://x",
          env: {},
        }),
      /'urlOverride' must be an http\(s\) URL/,
    );
    const config = resolveCometConfig({
      env: {
        COMET_API_KEY: "k",
        COMET_WORKSPACE: "w",
        COMET_URL_OVERRIDE: "https://comet.example.com/clientlib/",
      },
    });
    assert.equal(config.rootUrl, "https://comet.example.com");
  });

  it("a wrong key is rejected by Comet; neither errors nor the spool hold the key", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const wrong = "wrong-key-abcdefghijklmnop";
      const errors: Error[] = [];
      const logger = new CometLogger({
        ...cometOptions(setup),
        apiKey: wrong,
        projectName: "secrets",
        onError: ({ error }) => errors.push(error),
      });
      logger.log({ loss: 1 }, { step: 0 });
      const report = await logger.end({ timeoutMs: 5_000 });
      assert.equal(report.ok, false);
      assert.ok(errors.length > 0);
      for (const error of errors) {
        assert.ok(!error.message.includes(wrong), error.message);
        assert.ok(!String(error.stack).includes(wrong));
      }
      const files: string[] = [];
      const walk = async (folder: string): Promise<void> => {
        for (const entry of await readdir(folder, { withFileTypes: true })) {
          const path = join(folder, entry.name);
          if (entry.isDirectory()) await walk(path);
          else files.push(path);
        }
      };
      await walk(dir);
      for (const file of files) {
        assert.ok(!(await readFile(file, "utf8")).includes(wrong), file);
        assert.ok(!(await readFile(file, "utf8")).includes(fake.apiKey), file);
      }
    });
  });

  it("a network failure of an upload (key in its query) leaves the key out of every error and cause", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const errors: Error[] = [];
      const logger = new CometLogger({
        ...cometOptions(setup),
        projectName: "leak",
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
        onError: ({ error }) => errors.push(error),
      });
      await logger.flush();
      fake.reset({ path: "/clientlib/visualizations/upload", count: 2 });
      logger.log({ image: [[0, 1], [1, 0]] }, { step: 0 });
      assert.ok((await logger.end({ timeoutMs: 10_000 })).ok);
      assert.ok(errors.length >= 1);
      for (const error of errors) {
        const text = inspect(error, { depth: 10 });
        assert.ok(!text.includes(fake.apiKey), text);
        for (let e: unknown = error; e instanceof Error; e = e.cause) {
          assert.ok(!e.message.includes(fake.apiKey), e.message);
          assert.ok(!String(e.stack).includes(fake.apiKey));
        }
      }
    });
  });

  it("RateLimiter grants a minute's burst, then paces; `false` turns limits off", () => {
    let now = 0;
    const limiter = new RateLimiter({ metricsPerMinute: 12_000 }, () => now);
    assert.equal(limiter.reserve([["metrics", 12_000]]), 0);
    assert.equal(limiter.reserve([["metrics", 1000]]), 5000);
    now += 5000;
    assert.equal(limiter.reserve([["metrics", 1000]]), 0);
    assert.equal(
      limiter.reserve([["other", 1_000_000]]),
      0,
      "no limit given: none applied",
    );
    // Several buckets at once: all or nothing.
    const both = new RateLimiter(
      { otherPerMinute: 60, restPerHour: 1 },
      () => now,
    );
    assert.equal(both.reserve([["other", 1], ["rest", 1]]), 0);
    const wait = both.reserve([["other", 1], ["rest", 1]]);
    assert.ok(
      Math.abs(wait - 3_600_000) <= 1,
      `the REST bucket is empty for an hour (wait ${wait} ms)`,
    );
    now += 1000;
    assert.equal(both.reserve([["other", 2]]), 0, "other kept its tokens");
    assert.deepEqual(
      resolveCometConfig({
        apiKey: "k",
        workspace: "w",
        rateLimits: false,
        env: {},
      }).rateLimits,
      {},
    );
  });
});

artifactStoreConformance(
  "CometArtifactStore against the fake Comet",
  async () => {
    const fake = await FakeComet.start();
    const backend = new CometBackend({
      apiKey: fake.apiKey,
      workspace: fake.workspace,
      urlOverride: `${fake.url}/clientlib/`,
      heartbeat: false,
    });
    const experimentKey = crypto.randomUUID().replaceAll("-", "");
    await backend.ensureExperiment(experimentKey, "artifacts");
    const store = new CometArtifactStore({
      http: new CometHttp({ apiKey: fake.apiKey, rootUrl: fake.url }),
      workspace: fake.workspace,
      experimentKey,
      ensureExperiment: (runId, signal) =>
        backend.ensureExperiment(runId, "artifacts", signal),
    });
    return {
      store,
      cleanup: async () => {
        await backend.close();
        await fake.close();
      },
    };
  },
);
