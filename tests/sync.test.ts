// Sync (sync/): runs logged to the local store, sent later to the fake
// Comet, MLflow and W&B servers, read back from each fake's own state:
// every series equals the local one point for point, a second sync makes
// no request at all, and an interrupted sync (aborted after its first
// batch, or refused for good by the server) resumes with each point
// delivered exactly once.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger, type Logger } from "../mod.ts";
import { Image } from "../media/mod.ts";
import { LocalStore } from "../backends/local/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { CometBackend } from "../backends/comet/mod.ts";
import { MlflowBackend, RUN_ID_TAG } from "../backends/mlflow/mod.ts";
import { WandbBackend } from "../backends/wandb/mod.ts";
import type { Backend } from "../pipeline/backend.ts";
import { FakeComet } from "./helpers/fake_comet.ts";
import { FakeMlflow } from "./helpers/fake_mlflow.ts";
import { FakeWandb } from "./helpers/fake_wandb.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import {
  readSyncStates,
  syncAll,
  SyncBusyError,
  SyncError,
  type SyncProgress,
  syncRun,
  SyncRunNotFoundError,
} from "../sync/mod.ts";

const PROJECT = "sync-test";
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50 } as const;

/** What a service holds for one run. */
interface ReadBack {
  name: string | null;
  tags: string[];
  params: Record<string, unknown>;
  metrics: Record<string, { step: number; value: number }[]>;
  /** Image values: key, step and the bytes the service stored. */
  images: { key: string; step: number; data: Uint8Array }[];
  ended: boolean;
}

/** A fake service and how to build backends for it and look into it. */
interface Service {
  label: string;
  /** A fresh backend (closed by the test). */
  backend(): Backend;
  /** How many requests the fake received so far. */
  requestCount(): number;
  /** What the fake holds for a run of {@linkcode PROJECT}. */
  readRun(runId: string): ReadBack;
  /** The next request is refused for good (HTTP 400). */
  refuseNext(): void;
  /** The fake's API key, which no error may show (`undefined`: none). */
  secret?: string;
  close(): Promise<void>;
}

function emptyReadBack(): ReadBack {
  return {
    name: null,
    tags: [],
    params: {},
    metrics: {},
    images: [],
    ended: false,
  };
}

/** A service's value as a number: non-finite values may come back as text or clamped. */
function numberOf(value: unknown): number {
  if (typeof value === "number") {
    return Math.abs(value) === Number.MAX_VALUE
      ? Math.sign(value) * Infinity
      : value;
  }
  switch (String(value).trim().toLowerCase()) {
    case "nan":
      return NaN;
    case "infinity":
    case "inf":
      return Infinity;
    case "-infinity":
    case "-inf":
      return -Infinity;
  }
  return numberOf(Number(value));
}

async function startComet(): Promise<Service> {
  const fake = await FakeComet.start();
  const env = {
    COMET_API_KEY: fake.apiKey,
    COMET_WORKSPACE: fake.workspace,
    COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
  };
  return {
    label: "fake Comet",
    backend: () =>
      new CometBackend({ env, heartbeat: false, rateLimits: false }),
    requestCount: () => fake.requests.length,
    refuseNext: () => fake.fail({ status: 400 }),
    secret: fake.apiKey,
    readRun(runId) {
      const experiment = fake.experiment(runId);
      if (!experiment) return emptyReadBack();
      const readBack = emptyReadBack();
      for (const m of experiment.metrics) {
        (readBack.metrics[m.metricName] ??= []).push({
          step: m.step ?? 0,
          value: numberOf(m.metricValue),
        });
      }
      for (const p of experiment.parameters) {
        readBack.params[p.parameterName] = p.parameterValue;
      }
      for (const asset of experiment.assets) {
        if (asset.type !== "image" || asset.artifactVersionId !== null) {
          continue;
        }
        readBack.images.push({
          key: asset.fileName.replace(/\.png$/, ""),
          step: asset.step ?? 0,
          data: asset.data,
        });
      }
      readBack.name = experiment.name;
      readBack.tags = [...experiment.tags];
      readBack.ended = !experiment.alive && experiment.endTimeMillis !== null;
      return readBack;
    },
    close: () => fake.close(),
  };
}

async function startMlflow(): Promise<Service> {
  const fake = await FakeMlflow.start();
  const env = { MLFLOW_TRACKING_URI: fake.url };
  return {
    label: "fake MLflow",
    backend: () => new MlflowBackend({ env }),
    requestCount: () => fake.requests.length,
    refuseNext: () => fake.fail({ status: 400 }),
    readRun(runId) {
      const runs = fake.runs().filter((r) => r.tags[RUN_ID_TAG] === runId);
      assert.ok(runs.length <= 1, `${runs.length} MLflow runs for one run`);
      const [run] = runs;
      if (!run) return emptyReadBack();
      const readBack = emptyReadBack();
      for (const m of run.metrics) {
        (readBack.metrics[m.key] ??= []).push({
          step: m.step,
          value: numberOf(m.value),
        });
      }
      readBack.params = { ...run.params };
      const root = `${run.experimentId}/${run.runId}/artifacts/`;
      for (const path of fake.artifactPaths(root)) {
        const image = /^images\/(.+)\+step\+(\d+)\+timestamp\+\d+\+[^+]+\.png$/
          .exec(path.slice(root.length));
        if (image) {
          readBack.images.push({
            key: image[1].replaceAll(".", "/"),
            step: Number(image[2]),
            data: fake.artifact(path)!,
          });
        }
      }
      readBack.name = run.tags["mlflow.runName"] ?? null;
      readBack.tags = Object.entries(run.tags)
        .filter(([key, value]) =>
          value === "true" && !key.startsWith("mlflow.") &&
          !key.startsWith("uetai.")
        )
        .map(([key]) => key);
      readBack.ended = run.status !== "RUNNING";
      return readBack;
    },
    close: () => fake.close(),
  };
}

async function startWandb(): Promise<Service> {
  const fake = await FakeWandb.start();
  const env = { WANDB_API_KEY: fake.apiKey, WANDB_BASE_URL: fake.url };
  return {
    label: "fake W&B",
    backend: () => new WandbBackend({ env }),
    requestCount: () => fake.requests.length,
    refuseNext: () => fake.fail({ status: 400 }),
    secret: fake.apiKey,
    readRun(runId) {
      const run = fake.run(runId, PROJECT);
      if (!run) return emptyReadBack();
      const readBack = emptyReadBack();
      for (const row of run.history) {
        const step = row._step as number;
        for (const [key, value] of Object.entries(row)) {
          if (key.startsWith("_")) continue;
          if (typeof value === "number") {
            (readBack.metrics[key] ??= []).push({ step, value });
          } else if (
            (value as { _type?: string })?._type === "image-file"
          ) {
            readBack.images.push({
              key,
              step,
              data: run.files[(value as { path: string }).path],
            });
          }
        }
      }
      for (const [key, entry] of Object.entries(run.config)) {
        if (key !== "_wandb") {
          readBack.params[key] = (entry as { value: unknown }).value;
        }
      }
      readBack.name = run.displayName;
      readBack.tags = [...run.tags];
      readBack.ended = run.complete;
      return readBack;
    },
    close: () => fake.close(),
  };
}

/** A fresh folder, a fresh fake and every backend made in the test closed afterwards. */
async function withService(
  start: () => Promise<Service>,
  fn: (service: Service, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const service = await start();
    const backends: Backend[] = [];
    const tracked: Service = {
      ...service,
      backend() {
        const backend = service.backend();
        backends.push(backend);
        return backend;
      },
    };
    try {
      await fn(tracked, dir);
    } finally {
      for (const backend of backends) await backend.close();
      await service.close();
    }
  }, "uetai-sync-");
}

function openLogger(dir: string): Logger {
  return createLogger({
    backend: "local",
    dir,
    project: PROJECT,
    name: "first-name",
    tags: ["offline"],
    flushIntervalMs: 10,
    exitFlushTimeoutMs: 0,
  });
}

function loss(step: number): number {
  return step === 2 ? NaN : 1 / (step + 3) + step * 1e-7;
}

function accuracy(step: number): number {
  return step === 3 ? Infinity : Math.sin(step + 0.5) / 3;
}

/** Logs steps `[from, to)`: two metrics a step, an image at step 5. */
function logSteps(logger: Logger, from: number, to: number): void {
  for (let step = from; step < to; step++) {
    const values: Record<string, unknown> = {
      loss: loss(step),
      eval: { acc: accuracy(step) },
    };
    if (step === 5) {
      values.sample = new Image(
        new Uint8Array(4 * 4 * 3).map((_, i) => (i * 37 + step) & 0xff),
        { width: 4, height: 4, channels: 3 },
      );
    }
    logger.log(values as Record<string, number>, { step });
  }
}

/** Logs a whole run: params, tags, a new name, `steps` steps, the end. */
async function logRun(dir: string, steps: number): Promise<string> {
  const logger = openLogger(dir);
  logger.logParams({
    lr: 0.01,
    model: { hidden: 64, activation: "relu" },
    shuffle: true,
  });
  logger.addTags(["mlp", "sync"]);
  logger.setName("synced-run");
  logSteps(logger, 0, steps);
  const report = await logger.end();
  assert.ok(report.ok, "the local store took the run");
  return logger.runId;
}

/** The local series, as `{ key: [{ step, value }] }`. */
async function localSeries(
  dir: string,
  runId: string,
): Promise<Record<string, { step: number; value: number }[]>> {
  const out: Record<string, { step: number; value: number }[]> = {};
  const series = await new LocalStore({ dir }).readMetrics(PROJECT, runId);
  for (const [key, points] of series) {
    out[key] = points.map(({ step, value }) => ({ step, value }));
  }
  return out;
}

/** Every series of the service equals the local one, point for point. */
async function assertSameSeries(
  service: Service,
  dir: string,
  runId: string,
): Promise<void> {
  const expected = await localSeries(dir, runId);
  const actual = service.readRun(runId).metrics;
  assert.deepEqual(
    Object.keys(actual).sort(),
    Object.keys(expected).sort(),
    `${service.label}: the same metric keys`,
  );
  for (const [key, points] of Object.entries(expected)) {
    assert.deepEqual(
      actual[key].map((p) => p.step),
      points.map((p) => p.step),
      `${service.label}: "${key}" has every step exactly once, in order`,
    );
    for (let i = 0; i < points.length; i++) {
      assert.ok(
        Object.is(actual[key][i].value, points[i].value),
        `${service.label}: "${key}" at step ${points[i].step} is ${
          actual[key][i].value
        }, logged ${points[i].value}`,
      );
    }
  }
}

async function assertRunMetadata(
  service: Service,
  dir: string,
  runId: string,
): Promise<void> {
  const readBack = service.readRun(runId);
  assert.equal(readBack.name, "synced-run");
  assert.deepEqual([...readBack.tags].sort(), ["mlp", "offline", "sync"]);
  const expected: Record<string, unknown> = {
    lr: 0.01,
    "model/hidden": 64,
    "model/activation": "relu",
    shuffle: true,
  };
  assert.deepEqual(
    Object.keys(readBack.params).sort(),
    Object.keys(expected).sort(),
  );
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(String(readBack.params[key]), String(value), `param ${key}`);
  }
  const store = new LocalStore({ dir });
  const [entry] = await store.listMedia(PROJECT, runId);
  const local = await store.readMediaFile(PROJECT, runId, entry.file);
  assert.equal(readBack.images.length, 1, "one image");
  assert.deepEqual(
    [readBack.images[0].key, readBack.images[0].step],
    ["sample", 5],
  );
  assert.deepEqual(
    new Uint8Array(readBack.images[0].data),
    new Uint8Array(local),
    "the image's bytes, read back from the store's file",
  );
  assert.equal(readBack.ended, true, "the run's end was synced");
}

const SERVICES: [string, () => Promise<Service>][] = [
  ["fake Comet", startComet],
  ["fake MLflow", startMlflow],
  ["fake W&B", startWandb],
];

for (const [label, start] of SERVICES) {
  describe(`sync to the ${label}`, () => {
    it("sends a finished run point for point; a second sync makes no request", async () => {
      await withService(start, async (service, dir) => {
        const runId = await logRun(dir, 20);
        const progress: SyncProgress[] = [];
        const first = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
          onProgress: (p) => progress.push(p),
        });
        assert.equal(first.complete, true);
        assert.equal(first.skipped, 0);
        assert.equal(first.sent, first.total);
        assert.ok(first.total >= 45, `${first.total} events`);
        assert.deepEqual(progress.at(-1), {
          runId,
          project: PROJECT,
          sent: first.total,
          total: first.total,
        });
        await assertSameSeries(service, dir, runId);
        await assertRunMetadata(service, dir, runId);

        const [state] = await readSyncStates({ dir, project: PROJECT, runId });
        assert.equal(state.complete, true);
        assert.equal(state.ackedEvents, first.total);

        const before = service.requestCount();
        const second = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
        });
        assert.deepEqual(
          [second.sent, second.skipped, second.total, second.complete],
          [0, first.total, first.total, true],
        );
        assert.equal(
          service.requestCount(),
          before,
          "the second sync sent no request at all",
        );
        await assertSameSeries(service, dir, runId);
      });
    });

    it("an aborted sync resumes with each point delivered exactly once", async () => {
      await withService(start, async (service, dir) => {
        // 2 metrics × 700 steps: more than one batch (1000 events).
        const runId = await logRun(dir, 700);
        const controller = new AbortController();
        const first = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
          signal: controller.signal,
          onProgress: ({ sent }) => {
            if (sent > 0) controller.abort(new Error("stop after a batch"));
          },
        });
        assert.equal(first.complete, false);
        assert.ok(
          first.sent > 0 && first.sent < first.total,
          `sent ${first.sent} of ${first.total}`,
        );
        assert.match(first.error ?? "", /stop after a batch/);
        const held = Object.values(service.readRun(runId).metrics)
          .reduce((sum, points) => sum + points.length, 0);
        assert.ok(held > 0 && held < 1400, `${held} points after the abort`);

        const second = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
        });
        assert.equal(second.complete, true);
        assert.equal(second.skipped, first.sent);
        assert.equal(second.skipped + second.sent, second.total);
        await assertSameSeries(service, dir, runId);
        await assertRunMetadata(service, dir, runId);
      });
    });

    it("a refusal midway throws the server's message; a later sync resumes exactly once", async () => {
      await withService(start, async (service, dir) => {
        const runId = await logRun(dir, 700);
        let staged = false;
        const error = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
          onProgress: ({ sent }) => {
            if (sent > 0 && !staged) {
              staged = true;
              service.refuseNext();
            }
          },
        }).then(
          () => assert.fail("the sync should have been refused"),
          (error: unknown) => error,
        );
        assert.ok(error instanceof SyncError, String(error));
        assert.match(error.message, new RegExp(`run '${runId}'`));
        assert.match(error.message, /400|[Ii]njected/);
        if (service.secret) {
          assert.ok(!error.message.includes(service.secret), "no key shown");
        }
        assert.equal(error.report.complete, false);
        assert.ok(
          error.report.sent > 0 && error.report.sent < error.report.total,
        );
        const [state] = await readSyncStates({ dir, project: PROJECT, runId });
        assert.equal(state.complete, false);
        assert.equal(state.ackedEvents, error.report.sent);
        assert.equal(state.error, (error.cause as Error).message);

        const second = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
        });
        assert.equal(second.complete, true);
        assert.equal(second.skipped, error.report.sent);
        await assertSameSeries(service, dir, runId);
        await assertRunMetadata(service, dir, runId);
        const [after] = await readSyncStates({ dir, project: PROJECT, runId });
        assert.deepEqual([after.complete, after.error], [true, undefined]);
      });
    });

    it("a run still being logged syncs what exists; a later sync sends the rest", async () => {
      await withService(start, async (service, dir) => {
        const logger = openLogger(dir);
        logger.logParams({
          lr: 0.01,
          model: { hidden: 64, activation: "relu" },
          shuffle: true,
        });
        logger.addTags(["mlp", "sync"]);
        logger.setName("synced-run");
        logSteps(logger, 0, 10);
        await logger.flush({ timeoutMs: 5000 });
        const runId = logger.runId;
        const first = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
        });
        assert.equal(first.complete, true);
        await assertSameSeries(service, dir, runId);
        assert.equal(service.readRun(runId).ended, false);

        logSteps(logger, 10, 30);
        await logger.end();
        const second = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: service.backend(),
          retry: FAST_RETRY,
        });
        assert.equal(second.complete, true);
        assert.equal(second.skipped, first.total);
        assert.ok(second.sent >= 41, `${second.sent} events sent`);
        await assertSameSeries(service, dir, runId);
        await assertRunMetadata(service, dir, runId);
      });
    });
  });
}

describe("sync", () => {
  it("an unknown run is a SyncRunNotFoundError naming it, before any request", async () => {
    await withService(startMlflow, async (service, dir) => {
      await logRun(dir, 1);
      await assert.rejects(
        syncRun({
          dir,
          project: PROJECT,
          runId: "0123456789abcdef0123456789abcdef",
          target: service.backend(),
        }),
        (error: unknown) => {
          assert.ok(error instanceof SyncRunNotFoundError);
          assert.equal(error.runId, "0123456789abcdef0123456789abcdef");
          assert.match(error.message, /'0123456789abcdef0123456789abcdef'/);
          assert.match(error.message, new RegExp(`project '${PROJECT}'`));
          return true;
        },
      );
      await assert.rejects(
        syncRun({
          dir,
          project: "../escape",
          runId: "r",
          target: service.backend(),
        }),
        TypeError,
      );
      assert.equal(service.requestCount(), 0);
    });
  });

  it("each destination has its own state: another MLflow server gets the whole run", async () => {
    await withService(startMlflow, async (service, dir) => {
      const runId = await logRun(dir, 10);
      const first = await syncRun({
        dir,
        project: PROJECT,
        runId,
        target: service.backend(),
      });
      assert.equal(first.complete, true);
      await withService(startMlflow, async (other) => {
        const report = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target: other.backend(),
        });
        assert.deepEqual([report.sent, report.skipped], [first.total, 0]);
        await assertSameSeries(other, dir, runId);
      });
      const states = await readSyncStates({ dir, project: PROJECT, runId });
      assert.equal(states.length, 2);
      assert.ok(states.every((s) => s.target === "mlflow" && s.complete));
      assert.notEqual(states[0].destination, states[1].destination);
    });
  });

  it("a server that stays down: timeoutMs ends the sync incomplete; a later sync completes it", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir, 10);
      const fake = await FakeMlflow.start();
      const target = new MlflowBackend({
        env: { MLFLOW_TRACKING_URI: fake.url },
      });
      try {
        fake.setDown(true);
        const retried: Error[] = [];
        const started = Date.now();
        const report = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target,
          timeoutMs: 300,
          retry: FAST_RETRY,
          onError: (error) => retried.push(error),
        });
        assert.ok(Date.now() - started < 5000, "stopped near the deadline");
        assert.deepEqual([report.complete, report.sent], [false, 0]);
        assert.match(report.error ?? "", /did not finish within 300 ms/);
        assert.ok(retried.length > 0, "the retries were reported");
        fake.setDown(false);
        const again = await syncRun({
          dir,
          project: PROJECT,
          runId,
          target,
          retry: FAST_RETRY,
        });
        assert.deepEqual([again.complete, again.sent], [true, again.total]);
        const runs = fake.runs();
        assert.equal(runs.length, 1);
        assert.equal(runs[0].metrics.length, 20);
      } finally {
        await target.close();
        await fake.close();
      }
    }, "uetai-sync-");
  });

  it("syncAll sends every run once; a second syncAll sends nothing", async () => {
    await withService(startComet, async (service, dir) => {
      const runs = [await logRun(dir, 5), await logRun(dir, 7)];
      const target = service.backend();
      const reports = await syncAll({ dir, target, retry: FAST_RETRY });
      assert.deepEqual(
        reports.map((r) => r.runId).sort(),
        [...runs].sort(),
      );
      assert.ok(reports.every((r) => r.complete && r.skipped === 0));
      for (const runId of runs) await assertSameSeries(service, dir, runId);
      const before = service.requestCount();
      const again = await syncAll({ dir, project: PROJECT, target });
      assert.ok(again.every((r) => r.complete && r.sent === 0));
      assert.equal(service.requestCount(), before);
    });
  });

  it("two syncs of one run to one destination at once: one runs, the other is refused", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir, 50);
      const target = new InMemoryBackend();
      const results = await Promise.allSettled([
        syncRun({ dir, project: PROJECT, runId, target }),
        syncRun({ dir, project: PROJECT, runId, target }),
      ]);
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok(
        (refused[0] as PromiseRejectedResult).reason instanceof SyncBusyError,
      );
      const seqs = target.events.map((e) => e.seq);
      assert.equal(new Set(seqs).size, seqs.length, "no event twice");
      const again = await syncRun({ dir, project: PROJECT, runId, target });
      assert.deepEqual([again.sent, again.complete], [0, true]);
      await target.close();
    }, "uetai-sync-");
  });

  it("a stale lock of a dead process is taken over; a corrupt state is an error", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir, 3);
      const target = new InMemoryBackend();
      await syncRun({ dir, project: PROJECT, runId, target });
      const folder = join(dir, PROJECT, runId, "sync");
      // A lock left by a process that is gone (pid 2^22 + 1 is never alive).
      await writeFile(
        join(folder, "memory.json.lock"),
        JSON.stringify({ pid: 4194305, process: "gone", startedMs: 0 }),
      );
      const again = await syncRun({ dir, project: PROJECT, runId, target });
      assert.equal(again.complete, true);
      const text = await readFile(join(folder, "memory.json"), "utf8");
      assert.equal(JSON.parse(text).schema, 1);
      await writeFile(join(folder, "memory.json"), "{ torn");
      await assert.rejects(
        syncRun({ dir, project: PROJECT, runId, target }),
        (error: unknown) =>
          error instanceof SyncError &&
          /Cannot read the sync state/.test(error.message),
      );
      await target.close();
    }, "uetai-sync-");
  });
});
