// The MLflow backend against the fake MLflow server
// (tests/helpers/fake_mlflow.ts): a training run end to end, batching to
// MLflow's limits, write-once parameters, non-finite values, experiments
// (get-or-create under a race, deleted ones), resume, authentication, the raw
// client, configuration errors, and the shared artifact-store conformance suite.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FakeMlflow, type FakeMlflowOptions } from "./helpers/fake_mlflow.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { artifactStoreConformance } from "./helpers/artifact_conformance.ts";
import { createLogger, Html, MlflowLogger, Table, Text } from "../mod.ts";
import {
  cutLogBatches,
  MlflowArtifactStore,
  MlflowBackend,
  MlflowParamChangedError,
  resolveMlflowConfig,
} from "../backends/mlflow/mod.ts";
import type { ErrorState } from "../pipeline/batch_processor.ts";
import type { MetricEvent, ParamEvent } from "../event/types.ts";

const decoder = new TextDecoder();

interface Setup {
  fake: FakeMlflow;
  dir: string;
}

async function withFake(
  fn: (setup: Setup) => Promise<void>,
  options: FakeMlflowOptions = {},
): Promise<void> {
  const fake = await FakeMlflow.start(options);
  try {
    await withTempDir((dir) => fn({ fake, dir }), "uetai-mlflow-");
  } finally {
    await fake.close();
  }
}

function loggerOptions({ fake, dir }: Setup): {
  trackingUri: string;
  dir: string;
  exitFlushTimeoutMs: number;
  onError: (state: ErrorState) => void;
  env: Record<string, string>;
} {
  return {
    trackingUri: fake.url,
    dir: join(dir, ".uetai"),
    exitFlushTimeoutMs: 0,
    onError: () => {},
    env: {},
  };
}

describe("MlflowLogger: a training run", () => {
  it("logs params, metrics, tags, media and an artifact, and ends the run, as MLflow lays them out", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      await mkdir(join(dir, "ckpt", "sub"), { recursive: true });
      await writeFile(
        join(dir, "ckpt", "weights.bin"),
        new Uint8Array(3000).fill(9),
      );
      await writeFile(join(dir, "ckpt", "sub", "notes #1.txt"), "epoch 3");
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "demo",
        runName: "first",
        tags: ["baseline"],
      });
      logger.logParams({ lr: 0.01, optimizer: "adam", model: { layers: 2 } });
      for (let step = 0; step < 5; step++) {
        logger.log({ loss: 1 / (step + 1), eval: { acc: step / 5 } }, { step });
      }
      logger.log({
        samples: [[0, 255], [255, 0]],
        report: new Html("<b>ok</b>"),
        note: new Text("hello"),
        preds: new Table({ columns: ["y", "p"], rows: [[1, 0.9], [0, 0.2]] }),
      }, { step: 4 });
      const artifact = await logger.logArtifact({
        path: join(dir, "ckpt"),
        name: "mnist-mlp",
        type: "model",
        aliases: ["best"],
      });
      assert.equal(artifact.version, "v1");
      const saved = await logger.downloadArtifact({
        name: "mnist-mlp",
        version: "best",
        savePath: join(dir, "out"),
      });
      assert.equal(
        await readFile(join(saved, "sub", "notes #1.txt"), "utf8"),
        "epoch 3",
      );
      assert.ok((await logger.end()).ok);

      const mlflowRun = await logger.mlflowRun();
      assert.equal(
        fake.runs().length,
        1,
        "the artifact and the run share one MLflow run",
      );
      const run = fake.run(mlflowRun.runId)!;
      assert.equal(run.status, "FINISHED");
      assert.equal(typeof run.endTime, "number");
      assert.equal(run.runName, "first");
      assert.equal(run.tags["mlflow.runName"], "first");
      assert.equal(run.tags.baseline, "true");
      assert.equal(run.tags["uetai.runId"], logger.runId);
      assert.deepEqual(run.params, {
        lr: "0.01",
        optimizer: "adam",
        "model/layers": "2",
      });
      assert.deepEqual(
        run.metrics.filter((m) => m.key === "loss").map((m) => m.step),
        [0, 1, 2, 3, 4],
      );
      assert.equal(
        fake.experimentByName("demo")!.experimentId,
        mlflowRun.experimentId,
      );

      const files = fake.artifactPaths(
        `${mlflowRun.experimentId}/${mlflowRun.runId}/artifacts/`,
      )
        .map((p) => p.split("/artifacts/")[1]);
      const images = files.filter((f) => f.startsWith("images/"));
      assert.equal(images.length, 2);
      assert.match(
        images[0],
        /^images\/samples\+step\+4\+timestamp\+\d+\+[g-z][0-9a-f-]+(\+compressed\.webp|\.png)$/,
      );
      assert.equal(run.tags["mlflow.loggedImages"], "True");
      assert.ok(files.includes("html/report/step_4.html"));
      assert.ok(files.includes("text/note/step_4.txt"));
      assert.ok(files.includes("tables/preds/step_4.json"));
      const table = JSON.parse(decoder.decode(
        fake.artifact(
          `${mlflowRun.experimentId}/${mlflowRun.runId}/artifacts/tables/preds/step_4.json`,
        )!,
      ));
      assert.deepEqual(table, {
        columns: ["y", "p"],
        data: [[1, 0.9], [0, 0.2]],
      });
      assert.deepEqual(JSON.parse(run.tags["mlflow.loggedArtifacts"]), [
        { path: "tables/preds/step_4.json", type: "table" },
      ]);
      // The artifact: a registered model and a version tagged with the digest.
      assert.ok(
        files.some((f) => f.endsWith("files/sub/notes _1.txt")),
        files.join("\n"),
      );
      const [version] = fake.modelVersions("mnist-mlp");
      assert.equal(version.version, "1");
      assert.equal(version.tags["uetai.digest"], artifact.digest);
      assert.equal(version.runId, mlflowRun.runId);
      const [model] = fake.registeredModels();
      assert.equal(model.aliases.best, "1");
      assert.equal(model.tags["uetai.latest"], "1");
      // Every PUT carried a Content-Length.
      assert.ok(
        fake.requests.filter((r) => r.method === "PUT").every((r) =>
          !r.chunked
        ),
      );
    });
  });
});

describe("MLflow batching and values", () => {
  it("cutLogBatches keeps 1000 items, 1000 metrics, 100 params, 100 tags per body and never repeats a param key", () => {
    const metric = (i: number): MetricEvent => ({
      kind: "metric",
      runId: "r",
      seq: i,
      timestampMs: 1,
      key: `m${i % 3}`,
      value: i,
      step: i,
    });
    const param = (i: number, key = `p${i}`): ParamEvent => ({
      kind: "param",
      runId: "r",
      seq: i,
      timestampMs: 1,
      key,
      value: i,
    });
    assert.deepEqual(
      cutLogBatches(Array.from({ length: 2500 }, (_, i) => metric(i)), "x")
        .map((b) => b.count),
      [1000, 1000, 500],
    );
    assert.deepEqual(
      cutLogBatches(Array.from({ length: 250 }, (_, i) => param(i)), "x")
        .map((b) => b.body.params.length),
      [100, 100, 50],
    );
    const mixed = cutLogBatches([
      ...Array.from({ length: 950 }, (_, i) => metric(i)),
      ...Array.from({ length: 100 }, (_, i) => param(950 + i)),
    ], "x");
    for (const { body } of mixed) {
      assert.ok(
        body.metrics.length + body.params.length + body.tags.length <= 1000,
      );
    }
    assert.deepEqual(
      cutLogBatches([param(0, "a"), param(1, "b"), param(2, "a")], "x").map((
        b,
      ) => b.count),
      [2, 1],
    );
  });

  it("2500 points and 250 params reach MLflow in bodies it accepts, NaN and Infinity as MLflow stores them", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "limits",
        flushIntervalMs: 60_000,
      });
      const params: Record<string, number> = {};
      for (let i = 0; i < 250; i++) params[`p${i}`] = i;
      logger.logParams(params);
      for (let step = 0; step < 1250; step++) {
        logger.log({ a: step, b: -step }, { step });
      }
      logger.log({ nan: NaN, inf: Infinity }, { step: 1250 });
      assert.ok((await logger.end()).ok);
      const run = fake.run((await logger.mlflowRun()).runId)!;
      assert.equal(Object.keys(run.params).length, 250);
      assert.equal(run.metrics.filter((m) => m.key === "a").length, 1250);
      assert.deepEqual(run.metrics.find((m) => m.key === "nan")!.value, "NaN");
      assert.equal(
        Number(run.metrics.find((m) => m.key === "inf")!.value),
        1.7976931348623157e308,
      );
      const batches = fake.requests.filter((r) =>
        r.path.endsWith("/runs/log-batch")
      );
      assert.ok(batches.every((r) => r.status === 200));
      assert.ok(batches.length <= 8, `${batches.length} log-batch requests`);
    });
  });

  it("a changed parameter is a typed error through onError, dropped alone and never retried", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const errors: Error[] = [];
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "params",
        onError: ({ error }) => errors.push(error),
      });
      logger.logParams({ lr: 0.01, bs: 32 });
      await logger.flush();
      logger.logParams({ lr: 0.1, epochs: 3 });
      logger.log({ loss: 1 }, { step: 0 });
      const report = await logger.end();
      assert.equal(report.ok, false);
      const run = fake.run((await logger.mlflowRun()).runId)!;
      assert.deepEqual(run.params, { lr: "0.01", bs: "32", epochs: "3" });
      assert.equal(run.metrics.length, 1);
      assert.equal(logger.stats().dropped, 1);
      const changed = errors.map((e) => e.cause).find((c) =>
        c instanceof MlflowParamChangedError
      ) as MlflowParamChangedError;
      assert.ok(changed, errors.map((e) => e.message).join("\n"));
      assert.equal(changed.key, "lr");
      const tries = fake.requests.filter((r) =>
        r.path.endsWith("/runs/log-batch") &&
        JSON.stringify(r.json).includes('"0.1"')
      );
      assert.ok(tries.length <= 3, `${tries.length} attempts`);
    });
  });
});

describe("MLflow delivery without loss or duplicates", () => {
  it("a body whose answer was lost is not stored twice, and the bodies before a failure are not resent", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const realFetch = globalThis.fetch;
      let batches = 0;
      // The second log-batch reaches MLflow, but its answer is lost.
      globalThis.fetch =
        (async (input: RequestInfo | URL, init?: RequestInit) => {
          const response = await realFetch(input, init);
          if (String(input).endsWith("/runs/log-batch") && ++batches === 2) {
            await response.body?.cancel();
            throw new TypeError("connection reset by peer");
          }
          return response;
        }) as typeof fetch;
      try {
        const logger = new MlflowLogger({
          ...loggerOptions(setup),
          experimentName: "lost",
          flushIntervalMs: 60_000,
          retry: { initialDelayMs: 5, maxDelayMs: 20 },
        });
        for (let step = 0; step < 1500; step++) {
          logger.log({ loss: step }, { step });
        }
        assert.ok((await logger.end()).ok);
        const run = fake.run((await logger.mlflowRun()).runId)!;
        assert.deepEqual(
          run.metrics.map((m) => m.step),
          Array.from({ length: 1500 }, (_, i) => i),
        );
        assert.ok(logger.stats().retried >= 1);
        assert.ok(
          fake.requests.some((r) => r.path.endsWith("/metrics/get-history")),
          "the history was read before resending",
        );
      } finally {
        globalThis.fetch = realFetch;
      }
    });
  });

  it("a key MLflow would refuse is a typed error for that point alone", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const errors: Error[] = [];
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "keys",
        onError: ({ error }) => errors.push(error),
      });
      logger.log({ loss: 1, "acc (%)": 2, "a//b": 3, ok: 4 }, { step: 0 });
      assert.equal((await logger.end()).ok, false);
      const run = fake.run((await logger.mlflowRun()).runId)!;
      assert.deepEqual(run.metrics.map((m) => m.key).sort(), ["loss", "ok"]);
      assert.equal(logger.stats().dropped, 2);
      const messages = errors.map((e) => e.message).join("\n");
      assert.match(messages, /"acc \(%\)"/);
      assert.match(messages, /"a\/\/b"/);
    });
  });

  it("run ids with quotes find their own runs", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      for (const runId of ["bobs-run", "bob's-run", 'say-"hi"']) {
        const logger = createLogger({
          ...loggerOptions(setup),
          backend: new MlflowBackend({ trackingUri: fake.url, env: {} }),
          project: "quotes",
          runId,
        });
        logger.log({ x: 1 }, { step: 0 });
        assert.ok((await logger.end()).ok);
      }
      const runs = fake.runs();
      assert.equal(runs.length, 3);
      assert.deepEqual(
        runs.map((r) => r.tags["uetai.runId"]).sort(),
        ["bob's-run", "bobs-run", 'say-"hi"'],
      );
      assert.ok(runs.every((r) => r.metrics.length === 1));
    });
  });
});

describe("MLflow experiments and runs", () => {
  it("get-or-create: racing creators share one experiment", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const loggers = [0, 1, 2].map(() =>
        new MlflowLogger({ ...loggerOptions(setup), experimentName: "race" })
      );
      for (const logger of loggers) logger.log({ x: 1 }, { step: 0 });
      await Promise.all(
        loggers.map(async (l) => assert.ok((await l.end()).ok)),
      );
      const race = fake.experiments().filter((e) => e.name === "race");
      assert.equal(race.length, 1);
      assert.equal(
        fake.runs().filter((r) => r.experimentId === race[0].experimentId)
          .length,
        3,
      );
    });
  });

  it("a deleted experiment is reported clearly, or restored when asked", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const first = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "gone",
      });
      assert.ok((await first.end()).ok);
      const id = fake.experimentByName("gone")!.experimentId;
      await fetch(`${fake.url}/api/2.0/mlflow/experiments/delete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ experiment_id: id }),
      }).then((r) => r.body?.cancel());
      const errors: Error[] = [];
      const refused = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "gone",
        onError: ({ error }) => errors.push(error),
      });
      assert.equal((await refused.end()).ok, false);
      assert.ok(
        errors.some((e) =>
          /it was deleted.*restoreDeletedExperiment/s.test(e.message)
        ),
        errors.map((e) => e.message).join("\n"),
      );
      const restored = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "gone",
        restoreDeletedExperiment: true,
      });
      restored.log({ x: 1 }, { step: 0 });
      assert.ok((await restored.end()).ok);
      assert.equal(fake.experimentByName("gone")!.lifecycleStage, "active");
    });
  });

  it("resumes an MLflow run by its id", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const first = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "resume",
      });
      first.log({ loss: 1 }, { step: 0 });
      assert.ok((await first.end()).ok);
      const { runId } = await first.mlflowRun();
      const second = new MlflowLogger({ ...loggerOptions(setup), runId });
      second.log({ loss: 0.5 }, { step: 1 });
      assert.ok((await second.end({ status: "killed" })).ok);
      const run = fake.run(runId)!;
      assert.deepEqual(run.metrics.map((m) => m.step), [0, 1]);
      assert.equal(run.status, "KILLED");
      assert.equal(fake.runs().length, 1);
    });
  });

  it("createLogger picks MLflow from MLFLOW_TRACKING_URI, with Basic credentials from the environment", async () => {
    const auth = { username: "admin", password: "s3cret-pass" };
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const logger = createLogger({
        env: {
          MLFLOW_TRACKING_URI: fake.url,
          MLFLOW_TRACKING_USERNAME: auth.username,
          MLFLOW_TRACKING_PASSWORD: auth.password,
          MLFLOW_EXPERIMENT_NAME: "from-env",
        },
        dir: join(dir, ".uetai"),
        exitFlushTimeoutMs: 0,
      });
      assert.equal(logger.backends[0].name, "mlflow");
      logger.log({ x: 1 }, { step: 0 });
      assert.ok((await logger.end()).ok);
      assert.ok(fake.experimentByName("from-env"));
      const errors: Error[] = [];
      const wrong = createLogger({
        env: {
          MLFLOW_TRACKING_URI: fake.url,
          MLFLOW_TRACKING_USERNAME: auth.username,
          MLFLOW_TRACKING_PASSWORD: "wrong-password-123",
        },
        dir: join(dir, ".uetai2"),
        exitFlushTimeoutMs: 0,
        onError: ({ error }) => errors.push(error),
      });
      assert.equal((await wrong.end()).ok, false);
      assert.ok(errors.some((e) => /401/.test(e.message)));
      assert.ok(errors.every((e) => !e.message.includes("wrong-password-123")));
    }, { auth });
  });

  it("a bearer token goes as Authorization: Bearer", async () => {
    await withFake(async (setup) => {
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        auth: { token: "tok-123456" },
        experimentName: "bearer",
      });
      logger.log({ x: 1 }, { step: 0 });
      assert.ok((await logger.end()).ok);
    }, { auth: { token: "tok-123456" } });
  });
});

describe("MlflowClient: the raw API", () => {
  it("reads runs, metric history, artifacts and the registry", async () => {
    await withFake(async (setup) => {
      const logger = new MlflowLogger({
        ...loggerOptions(setup),
        experimentName: "raw",
      });
      for (let step = 0; step < 1500; step++) {
        logger.log({ loss: step }, { step });
      }
      logger.log({ page: new Html("<i>x</i>") }, { step: 3 });
      assert.ok((await logger.end()).ok);
      const { runId, experimentId } = await logger.mlflowRun();
      const client = logger.getExperiment();
      const history = await client.getMetricHistory(runId, "loss");
      assert.equal(history.length, 1500);
      assert.deepEqual(history.slice(0, 2).map((m) => m.step), [0, 1]);
      const runs = await client.searchRuns({
        experimentIds: [experimentId],
        filter: "attributes.status = 'FINISHED'",
      });
      assert.deepEqual(runs.map((r) => r.info.run_id), [runId]);
      assert.deepEqual(
        (await client.listArtifacts(runId)).map((f) => f.path),
        ["html"],
      );
      assert.deepEqual(
        (await client.listArtifacts(runId, "html/page")).map((f) => f.path),
        ["html/page/step_3.html"],
      );
      assert.equal(
        decoder.decode(
          await client.downloadArtifact(runId, "html/page/step_3.html"),
        ),
        "<i>x</i>",
      );
      await client.uploadArtifact(runId, "extra/readme.md", "# hi");
      await assert.rejects(
        client.uploadArtifact(runId, "bad#name", "x"),
        TypeError,
      );
      assert.equal(await client.getExperimentByName("nope"), undefined);
      assert.equal((await client.getRun(runId)).info.status, "FINISHED");
    });
  });
});

describe("MLflow configuration", () => {
  it("an unreachable server with credentials in its URL: no error holds the password", async () => {
    const errors: Error[] = [];
    const logger = new MlflowLogger({
      trackingUri: "http://admin:s3cret-pw@127.0.0.1:1",
      experimentName: "x",
      spool: "memory",
      exitFlushTimeoutMs: 0,
      retry: { initialDelayMs: 5, maxDelayMs: 10 },
      onError: ({ error }) => errors.push(error),
      env: {},
    });
    logger.log({ x: 1 }, { step: 0 });
    await logger.end({ timeoutMs: 300 });
    assert.ok(errors.length > 0);
    for (const error of errors) {
      for (let e: unknown = error; e instanceof Error; e = e.cause) {
        assert.ok(!e.message.includes("s3cret"), e.message);
      }
    }
  });

  it("a missing or non-http tracking URI is a clear TypeError; credentials never appear", () => {
    assert.throws(
      () => new MlflowLogger({ env: {} }),
      /no tracking server.*MLFLOW_TRACKING_URI/,
    );
    assert.throws(
      () => resolveMlflowConfig({ trackingUri: "file:./mlruns", env: {} }),
      /must be an http\(s\) URL/,
    );
    assert.throws(
      () =>
        resolveMlflowConfig({
          env: {
            MLFLOW_TRACKING_URI: "http://x",
            MLFLOW_TRACKING_USERNAME: "u",
          },
        }),
      /must be set together/,
    );
    const config = resolveMlflowConfig({
      trackingUri: "http://user:p%40ss@127.0.0.1:5000/",
      env: {},
    });
    assert.equal(config.trackingUri, "http://127.0.0.1:5000");
    assert.deepEqual(config.auth, { username: "user", password: "p@ss" });
    assert.throws(
      () =>
        new MlflowLogger({
          trackingUri: "http://127.0.0.1:1",
          runId: "nope",
          env: {},
        }),
      /'runId' must be an MLflow run id/,
    );
  });
});

artifactStoreConformance(
  "MlflowArtifactStore against the fake MLflow",
  async () => {
    const fake = await FakeMlflow.start();
    const backend = new MlflowBackend({ trackingUri: fake.url, env: {} });
    const runId = crypto.randomUUID().replaceAll("-", "");
    const store = new MlflowArtifactStore({
      http: backend.http,
      runId,
      ensureRun: (id) => backend.ensureRun(id, "artifacts"),
    });
    return { store, cleanup: () => fake.close() };
  },
);
