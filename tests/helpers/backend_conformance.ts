// The contract every backend must keep, end to end through a real logger,
// as one suite that each backend's test calls with its own target: the local
// store and the memory backend here, Comet, MLflow and W&B against their
// fake servers on 127.0.0.1. Each scenario runs on a fresh temporary folder
// (the logger's `dir`) and a fresh run, and checks what the service holds
// afterwards through the target's `readRun()`, never through the backend's
// own bookkeeping.
//
// Scenarios: metrics (and non-finite values), params/tags/name, every media
// kind, an artifact round trip, retries under 429 and 5xx, spool replay
// after a SIGKILL (a child process in the same runtime), and the run's end.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, type Logger, type LoggerOptions } from "../../mod.ts";
import {
  Audio,
  ConfusionMatrix,
  Curve,
  Graph,
  Histogram,
  Html,
  Image,
  Table,
  Text,
} from "../../media/mod.ts";
import type { Backend } from "../../pipeline/backend.ts";
import type { FlushReport } from "../../pipeline/pipeline.ts";
import { pseudoRandomBytes, sha256Hex } from "./artifact_conformance.ts";
import { replayAccuracy, replayLoss } from "./conformance_values.ts";
import {
  type BackendFaults,
  type FaultyBackend,
  faultyBackend,
} from "./faulty_backend.ts";
import { ROOT, scriptCommand } from "./runtime.ts";
import { withTempDir } from "./temp_dir.ts";

export type { BackendFaults };

/** The project every run of the suite is logged in. */
export const CONFORMANCE_PROJECT = "conformance";

/** What a service holds for one run, in the suite's terms. */
export interface ConformanceReadBack {
  /** The run's display name, or `null` when it has none. */
  name: string | null;
  /** The run's tags, in any order (sorted or as stored), without repeats. */
  tags: string[];
  /**
   * The run's parameters by flattened key (`a/b`), as the service stores
   * them: strings are fine, values are compared through `String()`. Only
   * what the run logged (leave out what the service adds itself).
   */
  params: Record<string, unknown>;
  /**
   * Every metric series of the run by key (`a/b`), each point in the order
   * the service holds them (the logged order). Only what the run logged. A
   * value may be the service's encoding of a non-finite number (`"NaN"`,
   * `"Infinity"`, `"-Infinity"`, `"inf"`): the suite normalises those.
   */
  metrics: Record<string, { step: number; value: number }[]>;
  /**
   * Every media value of the run: its key (`a/b`), its kind in the uetai
   * vocabulary (`image`, `audio`, `text`, `html`, `graph`, `table`,
   * `histogram`, `confusion_matrix`, `curve`) and its step.
   */
  media: { key: string; mediaType: string; step: number }[];
  /** Whether the service knows the run ended. */
  ended: boolean;
}

/** How a child process builds the backend under test by name. */
export interface ConformanceChild {
  /** The registered backend name, such as `"local"`. */
  backend: string;
  /** The environment the backend reads its settings from (URL, API key of a fake server). */
  env: Record<string, string>;
  /**
   * Modules the child imports first, for their side effects (a backend
   * that registers itself there): absolute `file:` URLs, such as
   * `new URL("../backends/comet/mod.ts", import.meta.url).href`. The root
   * `mod.ts` (which registers `local` and `memory`) is always imported.
   */
  imports?: string[];
}

/** A backend under test, the service behind it and how to look into it. */
export interface ConformanceTarget {
  /**
   * Creates a fresh backend instance: one per logger; several may exist at
   * once against the same service (a logger, then the next one that replays
   * its spool).
   */
  createBackend(): Backend;
  /**
   * How a child process builds the same backend, given to
   * `createLogger({ backend, env, dir })` with the same `dir`. Omitted when
   * the backend cannot be rebuilt in another process (memory): the spool
   * replay scenario is then skipped.
   */
  child?: ConformanceChild;
  /**
   * Reads back what the service holds for a run of
   * {@linkcode CONFORMANCE_PROJECT}.
   *
   * @param runId The logger's `runId`.
   */
  readRun(runId: string): Promise<ConformanceReadBack>;
  /**
   * Faults staged at the service, when it is a fake server: the next
   * `count` requests answer 429 (with a short `Retry-After`) or a given
   * status, or every request fails to connect while down. Without it, the
   * suite stages the same faults in front of the backend (a wrapper with
   * the backend's name that answers `retryable`), so the pipeline's retry
   * and spool are exercised either way.
   */
  faults?: BackendFaults;
  /** Whether the backend stores artifacts (`Backend.artifacts`): the artifact scenario runs only then. */
  artifacts: boolean;
  /**
   * Media kinds the service keeps once per run, without key or step (Comet's
   * HTML tab and model graph). The read-back lists each as `{ key: "",
   * mediaType, step: -1 }`, and the media scenario expects them so.
   */
  unsteppedMedia?: readonly string[];
  /** Stops what the target started (fake servers); the temporary folder is removed by the suite. */
  close(): Promise<void>;
}

const CHILD = fileURLToPath(
  new URL("./conformance_child.ts", import.meta.url),
);
/** Longest a child may take to print what we wait for. */
const CHILD_TIMEOUT_MS = 30_000;
/** Short backoff, so retries and replays take milliseconds. */
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50 } as const;

const nodeProcess = (globalThis as {
  process: { env: Record<string, string | undefined> };
}).process;

/** A target set up on a fresh folder, with a way to open loggers on it. */
interface Session {
  /** The logger's `dir`, fresh for each scenario. */
  dir: string;
  target: ConformanceTarget;
  /** Everything any logger of the session reported to `onError`. */
  errors: Error[];
  /** Opens a logger on a fresh backend of the target (or on `options.backend`). */
  open(options?: Partial<LoggerOptions>): Logger;
}

async function withSession(
  makeTarget: (dir: string) => Promise<ConformanceTarget>,
  fn: (session: Session) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const target = await makeTarget(dir);
    const errors: Error[] = [];
    const session: Session = {
      dir,
      target,
      errors,
      open: (options = {}) =>
        createLogger({
          backend: target.createBackend(),
          dir,
          project: CONFORMANCE_PROJECT,
          flushIntervalMs: 10,
          exitFlushTimeoutMs: 0,
          retry: FAST_RETRY,
          onError: (state) => errors.push(state.error),
          ...options,
        }),
    };
    try {
      await fn(session);
    } finally {
      await target.close();
    }
  }, "uetai-conformance-");
}

function assertNoErrors(errors: readonly Error[], when: string): void {
  assert.deepEqual(
    errors.map((error) => `${error.name}: ${error.message}`),
    [],
    `no failure may be reported ${when}`,
  );
}

function assertDelivered(report: FlushReport, when: string): void {
  for (const backend of report.backends) {
    assert.equal(
      backend.status,
      "flushed",
      `${when}: '${backend.backend}' ended ${backend.status} with ${backend.pendingEvents} events pending${
        backend.error ? `: ${backend.error.message}` : ""
      }`,
    );
    assert.equal(backend.droppedEvents, 0, `${when}: events were dropped`);
  }
  assert.equal(report.ok, true, `${when}: the final flush was not ok`);
}

/** A metric value as a number: the service may encode non-finite ones as text. */
function normaliseValue(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    switch (value.trim().toLowerCase()) {
      case "nan":
        return NaN;
      case "infinity":
      case "+infinity":
      case "inf":
      case "+inf":
        return Infinity;
      case "-infinity":
      case "-inf":
        return -Infinity;
    }
  }
  return Number(value);
}

/**
 * Checks a series holds exactly the expected points: each step once, in
 * order, with values equal (`Object.is`, so NaN equals NaN and 0 is not -0).
 */
function assertSeries(
  readBack: ConformanceReadBack,
  key: string,
  expected: readonly { step: number; value: number }[],
): void {
  const actual = readBack.metrics[key];
  assert.ok(
    actual !== undefined,
    `no series "${key}" was read back; series: ${
      JSON.stringify(Object.keys(readBack.metrics))
    }`,
  );
  assert.deepEqual(
    actual.map((point) => point.step),
    expected.map((point) => point.step),
    `"${key}": every step exactly once, in order`,
  );
  for (let i = 0; i < expected.length; i++) {
    const value = normaliseValue(actual[i].value);
    assert.ok(
      Object.is(value, expected[i].value),
      `"${key}" at step ${expected[i].step}: read back ${
        String(actual[i].value)
      }, logged ${String(expected[i].value)}`,
    );
  }
}

function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort();
}

/** Every file under `root`, as sorted relative paths with `/`. */
async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (
    const entry of await readdir(join(root, prefix), { withFileTypes: true })
  ) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...await listFiles(root, path));
    else out.push(path);
  }
  return out.sort();
}

async function assertSameFiles(
  folder: string,
  expected: Readonly<Record<string, Uint8Array>>,
  label: string,
): Promise<void> {
  assert.deepEqual(
    await listFiles(folder),
    Object.keys(expected).sort(),
    `${label}: exactly the artifact's files, nothing left over`,
  );
  for (const [path, data] of Object.entries(expected)) {
    const got = new Uint8Array(await readFile(join(folder, path)));
    assert.equal(got.length, data.length, `${label}: size of ${path}`);
    assert.equal(sha256Hex(got), sha256Hex(data), `${label}: bytes of ${path}`);
  }
}

/** What the child printed and how it ended. */
interface ChildResult {
  up?: string;
  down?: { status: string; pendingEvents: number };
  signal: string | null;
  code: number | null;
  stderr: string;
}

/** How the replay child should run. */
interface ChildOptions {
  child: ConformanceChild;
  dir: string;
  runId: string;
  upSteps: number;
  downSteps: number;
  /** Stage the outage in the child, in front of its backend (no fake server). */
  gated: boolean;
  /** Called when the child printed `up`; the child goes on once it resolves. */
  takeDown: () => Promise<void>;
}

/**
 * Runs the replay child until it printed `down`, then kills it with
 * SIGKILL and waits for it to be gone (so its spool session is an orphan).
 */
function runReplayChild(options: ChildOptions): Promise<ChildResult> {
  const go = join(options.dir, ".conformance-go");
  const [command, args] = scriptCommand(CHILD);
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...nodeProcess.env,
      NO_COLOR: "1",
      CONFORMANCE_BACKEND: options.child.backend,
      CONFORMANCE_BACKEND_ENV: JSON.stringify(options.child.env),
      CONFORMANCE_IMPORTS: JSON.stringify(options.child.imports ?? []),
      CONFORMANCE_DIR: options.dir,
      CONFORMANCE_PROJECT: CONFORMANCE_PROJECT,
      CONFORMANCE_RUN_ID: options.runId,
      CONFORMANCE_UP_STEPS: String(options.upSteps),
      CONFORMANCE_DOWN_STEPS: String(options.downSteps),
      CONFORMANCE_GATE: options.gated ? "1" : "0",
      CONFORMANCE_GO: go,
    },
  });
  const result: ChildResult = { signal: null, code: null, stderr: "" };
  return new Promise((resolve, reject) => {
    let buffered = "";
    let timedOut = false;
    let failed: unknown;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, CHILD_TIMEOUT_MS);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      result.stderr += chunk;
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const words = buffered.slice(0, newline).trim().split(" ");
        buffered = buffered.slice(newline + 1);
        if (words[0] === "up") {
          result.up = words[1];
          options.takeDown().then(
            () => writeFile(go, "go"),
          ).catch((error) => {
            failed = error;
            child.kill("SIGKILL");
          });
        } else if (words[0] === "down") {
          result.down = {
            status: words[1],
            pendingEvents: Number(words[2]),
          };
          child.kill("SIGKILL");
        }
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      result.code = code;
      result.signal = signal;
      if (failed !== undefined) reject(failed);
      else if (timedOut) {
        reject(
          new Error(
            `The replay child timed out after ${CHILD_TIMEOUT_MS} ms; stderr:\n${result.stderr}`,
          ),
        );
      } else resolve(result);
    });
  });
}

/** Spool session folders left in a lane: none once everything was delivered. */
async function leftoverSessions(dir: string, lane: string): Promise<string[]> {
  const names = await readdir(join(dir, ".spool", lane)).catch(
    () => [] as string[],
  );
  return names.filter((name) => /^[sat]-/.test(name));
}

/** A run id shaped like the logger's own (32 hex digits), which every service accepts. */
function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * Registers the backend conformance suite: one `describe(label)` with one
 * `it` per scenario, each on a fresh folder, a fresh target and a fresh
 * run. Scenarios the target cannot run (artifacts without `artifacts`,
 * spool replay without `child`) skip themselves with the reason.
 *
 * @param label The `describe` label, such as `"LocalBackend conformance"`.
 * @param makeTarget Sets up the backend and its service for one scenario;
 * `dir` is a fresh empty folder, the loggers' `dir`.
 */
export function backendConformance(
  label: string,
  makeTarget: (dir: string) => Promise<ConformanceTarget>,
): void {
  const run = (fn: (session: Session) => Promise<void>) => () =>
    withSession(makeTarget, fn);

  describe(label, () => {
    it(
      "metrics: 3 keys × 50 steps (nested keys as a/b, with epoch and context) read back once each, in step order, with equal values",
      run(async ({ open, target, errors }) => {
        const logger = open();
        const expected: Record<string, { step: number; value: number }[]> = {
          loss: [],
          "eval/acc": [],
          "eval/f1": [],
        };
        for (let step = 0; step < 50; step++) {
          const loss = 2 / (step + 1) + 1e-9 * step;
          const acc = 0.1 + step * 0.017 + Math.sin(step) * 1e-6;
          const f1 = Math.fround(step / 7) - 1 / 3;
          logger.log({ loss, eval: { acc, f1 } }, {
            step,
            epoch: Math.floor(step / 10),
            context: "train",
          });
          expected.loss.push({ step, value: loss });
          expected["eval/acc"].push({ step, value: acc });
          expected["eval/f1"].push({ step, value: f1 });
        }
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
        const readBack = await target.readRun(logger.runId);
        assert.deepEqual(sortedKeys(readBack.metrics), sortedKeys(expected));
        for (const [key, points] of Object.entries(expected)) {
          assertSeries(readBack, key, points);
        }
      }),
    );

    it(
      'metrics: NaN and Infinity (nonFinite: "keep") read back as NaN and Infinity',
      run(async ({ open, target, errors }) => {
        const logger = open();
        logger.log({ loss: 0.5 }, { step: 0 });
        logger.log({ loss: NaN }, { step: 1 });
        logger.log({ loss: Infinity }, { step: 2 });
        logger.log({ loss: 0.25 }, { step: 3 });
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
        const readBack = await target.readRun(logger.runId);
        assert.deepEqual(sortedKeys(readBack.metrics), ["loss"]);
        assertSeries(readBack, "loss", [
          { step: 0, value: 0.5 },
          { step: 1, value: NaN },
          { step: 2, value: Infinity },
          { step: 3, value: 0.25 },
        ]);
      }),
    );

    it(
      "params, tags and name: logParams (nested as a/b, numbers, strings, booleans), addTags and setName read back equal",
      run(async ({ open, target, errors }) => {
        const logger = open({ name: "first-name", tags: ["initial"] });
        logger.logParams({
          lr: 0.001,
          batch_size: 32,
          model: { name: "mlp", hidden: 64, dropout: 0.125 },
          shuffle: true,
          debug: false,
        });
        logger.addTags(["zeta", "alpha"]);
        logger.addTags(["alpha"]); // a repeat adds nothing
        logger.setName("conformance-run");
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
        const readBack = await target.readRun(logger.runId);
        assert.equal(readBack.name, "conformance-run");
        assert.deepEqual([...readBack.tags].sort(), [
          "alpha",
          "initial",
          "zeta",
        ]);
        const expected: Record<string, unknown> = {
          lr: 0.001,
          batch_size: 32,
          "model/name": "mlp",
          "model/hidden": 64,
          "model/dropout": 0.125,
          shuffle: true,
          debug: false,
        };
        assert.deepEqual(sortedKeys(readBack.params), sortedKeys(expected));
        for (const [key, value] of Object.entries(expected)) {
          assert.equal(
            String(readBack.params[key]),
            String(value),
            `param "${key}"`,
          );
        }
      }),
    );

    it(
      "media: one value of each of the 9 kinds reads back once, with its key, type and step",
      run(async ({ open, target, errors }) => {
        const logger = open();
        const rgb = new Uint8Array(4 * 4 * 3).map((_, i) => (i * 37) & 0xff);
        const sine = new Float32Array(800).map((_, i) =>
          0.5 * Math.sin(2 * Math.PI * 440 * i / 8000)
        );
        const values = [
          ["image", new Image(rgb, { width: 4, height: 4, channels: 3 })],
          ["audio", new Audio(sine, { sampleRate: 8000 })],
          ["text", new Text("hello, conformance")],
          ["html", new Html("<p><b>done</b></p>")],
          [
            "graph",
            new Graph({
              nodes: [{ id: "x" }, { id: "fc", op: "Linear" }],
              edges: [{ from: "x", to: "fc" }],
            }),
          ],
          [
            "table",
            new Table([{ epoch: 1, acc: 0.9 }, { epoch: 2, acc: 0.95 }]),
          ],
          [
            "histogram",
            new Histogram({ values: [0.1, 0.2, 0.2, 0.9], bins: 4 }),
          ],
          [
            "confusion_matrix",
            new ConfusionMatrix({
              yTrue: ["cat", "dog", "dog"],
              yPred: ["cat", "dog", "cat"],
            }),
          ],
          [
            "curve",
            new Curve({ name: "pr", x: [0, 0.5, 1], y: [1, 0.8, 0.5] }),
          ],
        ] as const;
        const expected: { key: string; mediaType: string; step: number }[] = [];
        values.forEach(([kind, value], i) => {
          const step = 10 + i * 3;
          logger.log({ samples: { [kind]: value } }, { step });
          expected.push(
            target.unsteppedMedia?.includes(kind)
              ? { key: "", mediaType: kind, step: -1 }
              : { key: `samples/${kind}`, mediaType: kind, step },
          );
        });
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
        const readBack = await target.readRun(logger.runId);
        const byKey = (
          a: { key: string; step: number },
          b: { key: string; step: number },
        ) => a.key.localeCompare(b.key) || a.step - b.step;
        assert.deepEqual(
          readBack.media.map(({ key, mediaType, step }) => ({
            key,
            mediaType,
            step,
          })).sort(byKey),
          expected.sort(byKey),
          "each (key, mediaType, step) exactly once",
        );
      }),
    );

    it("artifacts: a folder round-trips byte for byte by its version and by latest, and latest moves to a newer version", async (t) => {
      // Decided inside the test: the target is only known once made.
      await withSession(makeTarget, async ({ dir, open, target, errors }) => {
        if (!target.artifacts) {
          t.skip(
            "the backend stores no artifacts",
          );
          return;
        }
        const work = join(dir, ".work");
        const source = join(work, "source");
        await mkdir(join(source, "weights"), { recursive: true });
        const files: Record<string, Uint8Array> = {
          "config.json": new TextEncoder().encode('{"hidden":64}'),
          "weights/layer1.bin": pseudoRandomBytes(4096, 7),
          "data.bin": pseudoRandomBytes(1024 * 1024 + 4099, 11),
        };
        for (const [path, data] of Object.entries(files)) {
          await writeFile(join(source, path), data);
        }
        const logger = open();
        const first = await logger.logArtifact({
          path: source,
          name: "model",
          type: "model",
        });
        assert.equal(first.created, true);
        assert.equal(first.files.length, 3);

        const byVersion = join(work, "by-version");
        await logger.downloadArtifact({
          name: "model",
          version: first.version,
          savePath: byVersion,
        });
        await assertSameFiles(byVersion, files, "by version");
        const latest = join(work, "latest");
        await logger.downloadArtifact({
          name: "model",
          version: "latest",
          savePath: latest,
        });
        await assertSameFiles(latest, files, "by latest");

        const changed = {
          ...files,
          "config.json": new TextEncoder().encode('{"hidden":128}'),
        };
        await writeFile(join(source, "config.json"), changed["config.json"]);
        const second = await logger.logArtifact({
          path: source,
          name: "model",
          type: "model",
        });
        assert.equal(second.created, true);
        assert.notEqual(second.version, first.version);
        assert.equal(
          (await logger.getArtifact("model", "latest")).version,
          second.version,
          "latest moves to the newer version",
        );
        const versions = await logger.listArtifactVersions("model");
        assert.deepEqual(
          versions.map((v) => v.version).sort(),
          [first.version, second.version].sort(),
        );
        const latestAgain = join(work, "latest-again");
        await logger.downloadArtifact({
          name: "model",
          savePath: latestAgain,
        });
        await assertSameFiles(
          latestAgain,
          changed,
          "latest after a new version",
        );
        const older = join(work, "older");
        await logger.downloadArtifact({
          name: "model",
          version: first.version,
          savePath: older,
        });
        await assertSameFiles(older, files, "the older version, later");
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
      });
    });

    it(
      "retry: 429s and 503s in the middle of 200 points are retried, and every point reads back once",
      run(async ({ open, target, errors }) => {
        let faults = target.faults;
        let faulty: FaultyBackend | undefined;
        if (!faults) {
          faulty = faultyBackend(target.createBackend());
          faults = faulty.faults;
        }
        const logger = open(faulty ? { backend: faulty.backend } : {});
        const value = (step: number) => step / 200 + 0.001;
        const log = (from: number, to: number) => {
          for (let step = from; step < to; step++) {
            logger.log({ retry: { loss: value(step) } }, { step });
          }
        };
        log(0, 100);
        assertDelivered(await logger.flush(), "flush() before the faults");
        faults.throttle(3);
        log(100, 150);
        assertDelivered(await logger.flush(), "flush() through three 429s");
        faults.fail(3, 503);
        log(150, 200);
        assertDelivered(await logger.end(), "end() through three 503s");
        const stats = logger.stats();
        assert.ok(stats.retried > 0, `retried ${stats.retried} times`);
        assert.equal(stats.dropped, 0, "nothing dropped");
        if (faulty) assert.equal(faulty.faultsServed, 6, "faults served");
        assert.ok(
          errors.every((error) =>
            (error as { retryable?: boolean }).retryable === true
          ),
          `only retryable failures are reported: ${
            errors.map((error) => error.message).join("; ")
          }`,
        );
        const readBack = await target.readRun(logger.runId);
        assert.deepEqual(sortedKeys(readBack.metrics), ["retry/loss"]);
        assertSeries(
          readBack,
          "retry/loss",
          Array.from(
            { length: 200 },
            (_, step) => ({ step, value: value(step) }),
          ),
        );
      }),
    );

    for (
      const [name, upSteps, downSteps] of [
        [
          "spool replay: points logged while the service was down are delivered once, in order, by the next logger after a SIGKILL",
          0,
          40,
        ],
        [
          "spool replay: a run begun while the service was up is completed by the next logger after an outage and a SIGKILL",
          20,
          20,
        ],
      ] as const
    ) {
      it(name, async (t) => {
        await withSession(makeTarget, async (session) => {
          const { dir, target, errors } = session;
          const child = target.child;
          if (!child) {
            t.skip(
              "the backend cannot be rebuilt in another process",
            );
            return;
          }
          const faults = target.faults;
          const runId = newRunId();
          if (upSteps === 0) faults?.setDown(true);
          const result = await runReplayChild({
            child,
            dir,
            runId,
            upSteps,
            downSteps,
            gated: faults === undefined,
            takeDown: () => {
              faults?.setDown(true);
              return Promise.resolve();
            },
          });
          assert.equal(
            result.signal,
            "SIGKILL",
            `the child should have been killed, it exited with ${result.code}; stderr:\n${result.stderr}`,
          );
          if (upSteps > 0) {
            assert.equal(
              result.up,
              "flushed",
              `while up, the child delivered everything; stderr:\n${result.stderr}`,
            );
          }
          assert.ok(
            result.down,
            `the child never went down; stderr:\n${result.stderr}`,
          );
          assert.equal(
            result.down.status,
            "spooled",
            `while down, what the child logged is safe in its file spool; stderr:\n${result.stderr}`,
          );
          assert.ok(result.down.pendingEvents >= downSteps * 2);
          // Before the replay, the service holds only what was sent while up.
          const before = await target.readRun(runId).catch(() => undefined);
          const deliveredSteps = before?.metrics.loss?.map((p) => p.step) ??
            [];
          assert.deepEqual(
            deliveredSteps,
            Array.from({ length: upSteps }, (_, step) => step),
            "before the replay, only the steps logged while up were delivered",
          );

          // The service is back; the next logger over the same folder
          // adopts the dead session and delivers it.
          faults?.setDown(false);
          const logger = session.open();
          assertDelivered(await logger.end(), "end() of the next logger");
          assertNoErrors(errors, "while replaying");
          const lane = logger.backends[0].name;
          assert.deepEqual(
            await leftoverSessions(dir, lane),
            [],
            "no spool session is left once everything was delivered",
          );

          const readBack = await target.readRun(runId);
          const steps = Array.from(
            { length: upSteps + downSteps },
            (_, step) => step,
          );
          assert.deepEqual(sortedKeys(readBack.metrics), ["eval/acc", "loss"]);
          assertSeries(
            readBack,
            "loss",
            steps.map((step) => ({ step, value: replayLoss(step) })),
          );
          assertSeries(
            readBack,
            "eval/acc",
            steps.map((step) => ({ step, value: replayAccuracy(step) })),
          );
          assert.equal(readBack.ended, false, "the killed run never ended");
          assert.equal((await target.readRun(logger.runId)).ended, true);
        });
      });
    }

    it(
      "run end: the run is open after flush() and ended after end()",
      run(async ({ open, target, errors }) => {
        const logger = open();
        logger.log({ loss: 1 }, { step: 0 });
        assertDelivered(await logger.flush(), "flush()");
        assert.equal(
          (await target.readRun(logger.runId)).ended,
          false,
          "open after flush()",
        );
        assertDelivered(await logger.end(), "end()");
        assertNoErrors(errors, "while the service is up");
        assert.equal(
          (await target.readRun(logger.runId)).ended,
          true,
          "ended after end()",
        );
      }),
    );
  });
}
