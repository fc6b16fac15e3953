// This module is browser compatible.
import { randomHexId } from "../runtime/values.ts";
import { describe, isPlainObject } from "./describe.ts";
import type { RunStartEvent, RunStatus } from "../event/types.ts";
import { TrackerError } from "../errors/errors.ts";
import type { Backend } from "../pipeline/backend.ts";
import type {
  BatchProcessorSettings,
  ErrorState,
  MetricGroup,
  PendingMedia,
} from "../pipeline/batch_processor.ts";
import { FileSpool } from "../pipeline/file_spool.ts";
import { MemorySpool } from "../pipeline/memory_spool.ts";
import { OverflowSpool } from "../pipeline/overflow_spool.ts";
import {
  type FlushReport,
  Pipeline,
  type PipelineStats,
} from "../pipeline/pipeline.ts";
import type { Spool } from "../pipeline/spool.ts";
import { RelayBackend, type RelayClientOptions } from "../relay/client.ts";
import { systemClock } from "../runtime/clock.ts";
import {
  assertSafeName,
  DEFAULT_DIR,
  getFileSystem,
  joinPath,
  readEnvironment,
} from "../runtime/fs.ts";
import { flattenParams } from "./params.ts";
import { isMediaValue, type MediaValue } from "../media/media_value.ts";
import { Image } from "../media/image.ts";
import { createBackend, detectBackend } from "./registry.ts";
import {
  type DownloadArtifactOptions,
  downloadFromStore,
  type LogArtifactOptions,
  logArtifactToStores,
  type LoggedArtifact,
  type NamedArtifactStore,
} from "../artifact/client.ts";
import {
  assertAlias,
  assertArtifactName,
  parseVersionSelector,
} from "../artifact/names.ts";
import type { ArtifactManifest } from "../artifact/types.ts";

/** What to do with `NaN` and `±Infinity` metric values. */
export type NonFinitePolicy = "keep" | "drop" | "error";

/**
 * An image given as nested arrays of pixels: `[row][column]` grey levels,
 * or `[row][column][channel]` with 1, 3 or 4 channels; values in [0, 1], or
 * integers in [0, 255].
 */
export type PixelArray =
  | readonly (readonly number[])[]
  | readonly (readonly (readonly number[])[])[];

/** Values accepted by {@linkcode Logger.log}: numbers, and nested objects of them. */
export interface LogValues {
  /**
   * A metric value, a media value (`Image`, `Audio`, `Text`, `Table`, ...),
   * an image as nested arrays of pixels, or a nested object whose keys are
   * joined with `/`.
   */
  [key: string]: number | MediaValue | PixelArray | LogValues;
}

/** Options of one {@linkcode Logger.log} call. */
export interface LogOptions {
  /**
   * Training step, a non-negative integer. When omitted, the logger uses one
   * more than the highest step used so far (0 for the first call), as W&B does.
   */
  step?: number;
  /** Epoch, recorded with each point. */
  epoch?: number;
  /** Context such as `"train"` or `"validate"`, recorded with each point. */
  context?: string;
  /** Time of the points, in milliseconds since the epoch; now by default. */
  timestampMs?: number;
}

/** Options of {@linkcode Logger.flush}. */
export interface FlushOptions {
  /**
   * The longest wait, in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
}

/** Options of {@linkcode Logger.end}. */
export interface EndOptions {
  /**
   * How the run ended.
   * @default {"finished"}
   */
  status?: RunStatus;
  /**
   * The longest wait for the final flush, in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
}

/** Options of {@linkcode createLogger} and the {@linkcode Logger} constructor. */
export interface LoggerOptions extends BatchProcessorSettings {
  /**
   * The project the run belongs to.
   * @default {"default"} (or `UETAI_PROJECT`)
   */
  project?: string;
  /** Display name of the run. */
  name?: string;
  /** Tags of the run. */
  tags?: readonly string[];
  /** The run's id; a new random one by default. */
  runId?: string;
  /**
   * Continue the existing run `runId` (a Comet experiment key, say) instead
   * of creating it: its `run_start` event says so, and backends that keep
   * runs server-side append to it.
   * @default {false}
   */
  resume?: boolean;
  /**
   * The backend: an instance, or a registered name (`"local"`, `"memory"`,
   * and those later modules register). Default: `UETAI_BACKEND`, else the
   * first backend whose credentials are in the environment, else the local
   * store where the runtime has a filesystem, else memory.
   */
  backend?: Backend | string;
  /** Several backends at once (fan-out); overrides `backend`. */
  backends?: readonly (Backend | string)[];
  /**
   * Log through a uetai relay with a scoped token instead of holding a
   * dashboard key (browser pages, edge functions): same as
   * `backend: new RelayBackend(relay)`. Default: `UETAI_RELAY_URL` and
   * `UETAI_RELAY_TOKEN` when both are set.
   */
  relay?: RelayClientOptions;
  /**
   * Root folder of the local store and the spools.
   * @default {".uetai"} (or `UETAI_DIR`)
   */
  dir?: string;
  /**
   * Where events wait for their backend: `file` journals them under
   * `<dir>/.spool/` so they survive a crash or an outage; `memory` keeps
   * them in memory (bounded by `maxSpoolBytes`, past which they are dropped
   * and reported); `auto` journals to a file for remote backends, keeps the
   * queue of a backend that stores durably itself (the local store) in
   * memory and spills it to a file past `maxSpoolBytes`, and uses memory
   * where the runtime has no filesystem.
   * @default {"auto"}
   */
  spool?: "auto" | "file" | "memory";
  /**
   * Bound of a memory spool, in bytes: past it, events spill to a file
   * (`spool: "auto"` with a filesystem) or are dropped and reported.
   * @default {67108864}
   */
  maxSpoolBytes?: number;
  /**
   * What `log()` does with `NaN` and `±Infinity`: keep them (each backend
   * encodes them as its service expects), drop them, or throw a `RangeError`.
   * @default {"keep"}
   */
  nonFinite?: NonFinitePolicy;
  /** Environment variables to read instead of the process's. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * When the process is about to exit with the run still open, end it
   * (status `finished`) and flush, waiting at most this long, in
   * milliseconds. `0` turns the hook off.
   * @default {10000}
   */
  exitFlushTimeoutMs?: number;
}

interface ProcessEvents {
  on?: (event: string, listener: () => void) => unknown;
  off?: (event: string, listener: () => void) => unknown;
}

/** How often the default `onError` prints one kind of failure of one backend. */
const WARN_INTERVAL_MS = 60_000;
const warnings = new Map<string, { lastMs: number; suppressed: number }>();

/**
 * The default `onError`: prints a failure with `console.warn`, at most once
 * a minute per backend and kind of error, saying how many were held back.
 */
function warnRateLimited(state: ErrorState): void {
  const key = `${state.backend}:${state.error.name}`;
  const now = Date.now();
  const seen = warnings.get(key);
  if (seen && now - seen.lastMs < WARN_INTERVAL_MS) {
    seen.suppressed++;
    return;
  }
  const held = seen?.suppressed
    ? ` (${seen.suppressed} similar reports held back)`
    : "";
  warnings.set(key, { lastMs: now, suppressed: 0 });
  console.warn(`[uetai] ${state.backend}: ${state.error.message}${held}`);
}

/**
 * An image from nested arrays of pixels (`[row][column]` grey levels or
 * `[row][column][channel]`), as the Python uetai logged numpy arrays: values
 * are read in [0, 255] when they are integers and some exceed 1, else in
 * [0, 1].
 */
function imageFromArray(name: string, value: unknown[]): Image {
  let wide = false;
  let integral = true;
  const scan = (item: unknown, depth: number): void => {
    if (Array.isArray(item) && depth < 3) {
      for (const inner of item) scan(inner, depth + 1);
    } else if (typeof item === "number") {
      if (item > 1) wide = true;
      if (!Number.isInteger(item)) integral = false;
    }
  };
  scan(value, 0);
  try {
    return new Image(
      value as ConstructorParameters<typeof Image>[0],
      wide && integral ? { range: [0, 255] } : {},
    );
  } catch (error) {
    const message = (error as Error).message;
    const wrapped =
      `Cannot log "${name}" as an image (nested arrays of pixels): ${message}`;
    throw error instanceof RangeError
      ? new RangeError(wrapped, { cause: error })
      : new TypeError(wrapped, { cause: error });
  }
}

/**
 * A run, and the one logging API over every backend. `log()` is a cheap,
 * synchronous enqueue; a background pipeline batches, retries, spools and
 * fans out to the backends. Create it with {@linkcode createLogger}.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * await using logger = createLogger({ backend: "memory", project: "demo", tags: ["baseline"] });
 * logger.logParams({ lr: 0.01, model: { layers: 2 } });
 * for (let step = 0; step < 10; step++) {
 *   logger.log({ loss: 1 / (step + 1), eval: { accuracy: step / 10 } }, { step });
 * }
 * assert.equal(logger.stats().queued, 23); // run start, 2 params, 10 × 2 points
 * ```
 */
export class Logger {
  #runId: string;
  #project: string;
  #name: string | undefined;
  #pipeline: Pipeline;
  #nonFinite: NonFinitePolicy;
  #clock: () => number;
  #usesSystemClock: boolean;
  #seq = 0;
  #nextStep = 0;
  #ending: Promise<FlushReport> | undefined;
  #exitHook: (() => void) | undefined;
  #onError: (state: ErrorState) => void;

  /**
   * Creates a logger and starts its run. Prefer {@linkcode createLogger}.
   *
   * @param options Backends, run identity and pipeline settings.
   * @throws {TypeError} When an option has the wrong type or names an unknown backend.
   */
  constructor(options: LoggerOptions = {}) {
    const env = options.env ?? readEnvironment();
    const dir = options.dir ?? env.UETAI_DIR ?? DEFAULT_DIR;
    this.#project = options.project ?? env.UETAI_PROJECT ?? "default";
    assertSafeName("project", this.#project);
    this.#runId = options.runId ?? randomHexId();
    assertSafeName("runId", this.#runId);
    if (options.resume === true && options.runId === undefined) {
      throw new TypeError(
        "Cannot create logger: 'resume' needs the 'runId' of the run to continue",
      );
    }
    if (options.name !== undefined) this.#assertName(options.name);
    this.#name = options.name;
    const tags = this.#checkTags(options.tags ?? []);
    const nonFinite = options.nonFinite ?? "keep";
    if (nonFinite !== "keep" && nonFinite !== "drop" && nonFinite !== "error") {
      throw new TypeError(
        `Cannot create logger: 'nonFinite' must be "keep", "drop" or "error": current value is ${
          describe(nonFinite)
        }`,
      );
    }
    this.#nonFinite = nonFinite;
    const onError = options.onError ?? warnRateLimited;
    this.#onError = onError;
    const clock = options.clock ?? systemClock;
    this.#usesSystemClock = clock === systemClock;
    this.#clock = this.#usesSystemClock ? Date.now : () => clock.now();

    const backends = this.#resolveBackends(options, env, dir, onError);
    const spoolMode = options.spool ?? "auto";
    if (
      spoolMode !== "auto" && spoolMode !== "file" && spoolMode !== "memory"
    ) {
      throw new TypeError(
        `Cannot create logger: 'spool' must be "auto", "file" or "memory": current value is ${
          describe(spoolMode)
        }`,
      );
    }
    const hasFs = getFileSystem() !== undefined;
    const spoolDir = joinPath(dir, ".spool");
    const createSpool = (backend: Backend, lane: string): Spool => {
      if (spoolMode === "file") {
        return new FileSpool({
          dir: spoolDir,
          lane,
          onError: (error) => onError({ error, backend: backend.name }),
        });
      }
      if (spoolMode === "memory" || !hasFs) {
        return new MemorySpool({ maxBytes: options.maxSpoolBytes });
      }
      if (!backend.durable) {
        return new FileSpool({
          dir: spoolDir,
          lane,
          onError: (error) => onError({ error, backend: backend.name }),
        });
      }
      // A backend that stores durably itself: keep its queue in memory, and
      // spill to disk rather than drop when it falls behind.
      return new OverflowSpool({
        primary: new MemorySpool({ maxBytes: Infinity }),
        createOverflow: () =>
          new FileSpool({
            dir: spoolDir,
            lane,
            onError: (error) => onError({ error, backend: backend.name }),
          }),
        maxPrimaryBytes: options.maxSpoolBytes,
      });
    };
    this.#pipeline = new Pipeline({
      ...options,
      clock,
      onError,
      backends,
      createSpool,
    });

    const start: RunStartEvent = {
      kind: "run_start",
      runId: this.#runId,
      seq: this.#seq++,
      timestampMs: this.#clock(),
      project: this.#project,
      tags,
    };
    if (this.#name !== undefined) start.name = this.#name;
    if (options.resume === true) start.resume = true;
    this.#pipeline.enqueue(start);
    this.#installExitHook(options.exitFlushTimeoutMs ?? 10_000);
  }

  /** The run's id. */
  get runId(): string {
    return this.#runId;
  }

  /** The run's project. */
  get project(): string {
    return this.#project;
  }

  /** The run's display name, if set. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The backends this logger feeds. */
  get backends(): Backend[] {
    return this.#pipeline.backends;
  }

  /** Whether `end()` was called. */
  get ended(): boolean {
    return this.#ending !== undefined;
  }

  /**
   * Logs values at a step: finite numbers become metric points, media
   * values (`Image`, `Audio`, `Text`, `Table`, ...) media events (encoded
   * later, off this call); nested objects flatten to `a/b` keys.
   * Synchronous and cheap: it only queues.
   * The call is all-or-nothing: when a value is rejected, nothing of the
   * call is logged.
   *
   * @param values Metric values by name.
   * @param options Step (auto-incremented when omitted), epoch, context, time.
   * @throws {TypeError} Naming the key, for a value that is not a number or nested object.
   * @throws {RangeError} For a bad step, or a non-finite value under `nonFinite: "error"`.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.log({ loss: 0.5, accuracy: 0.9 }, { step: 1, context: "train" });
   * logger.log({ loss: 0.4 }); // step 2
   * await logger.end();
   * assert.equal(logger.stats().sent, 5); // run start, 3 points, run end
   * ```
   */
  log(values: LogValues, options?: LogOptions): void {
    if (this.#ending) {
      throw new TrackerError(
        `Cannot log to run '${this.#runId}': the run has ended`,
      );
    }
    if (!isPlainObject(values)) {
      throw new TypeError(
        `Cannot log: expected an object of values by name, got ${
          describe(values)
        }`,
      );
    }
    let step = this.#nextStep;
    let timestampMs: number;
    let epoch: number | undefined;
    let context: string | undefined;
    if (options !== undefined) {
      if (options.step !== undefined) {
        step = options.step;
        if (!Number.isSafeInteger(step) || step < 0) {
          throw new RangeError(
            `Cannot log at step ${
              describe(step)
            }: 'step' must be a non-negative integer`,
          );
        }
      }
      epoch = options.epoch;
      if (epoch !== undefined && !Number.isFinite(epoch)) {
        throw new RangeError(
          `Cannot log at epoch ${
            describe(epoch)
          }: 'epoch' must be a finite number`,
        );
      }
      context = options.context;
      if (context !== undefined && typeof context !== "string") {
        throw new TypeError(
          `Cannot log with context ${
            describe(context)
          }: 'context' must be a string`,
        );
      }
      timestampMs = options.timestampMs ??
        (this.#usesSystemClock ? Date.now() : this.#clock());
      if (!Number.isFinite(timestampMs)) {
        throw new RangeError(
          `Cannot log at time ${
            describe(timestampMs)
          }: 'timestampMs' must be a finite number`,
        );
      }
    } else {
      timestampMs = this.#usesSystemClock ? Date.now() : this.#clock();
    }
    // Fast path: a flat object of finite numbers is copied once and queued
    // as one group; it is expanded into one event per key off the hot path.
    let flat: Record<string, number> = { ...values } as Record<string, number>;
    let count = 0;
    let media: [string, MediaValue][] | undefined;
    for (const key in flat) {
      const value = flat[key];
      if (typeof value !== "number" || value - value !== 0 || key === "") {
        flat = Object.create(null) as Record<string, number>;
        media = [];
        count = this.#flatten(values, "", flat, 0, media);
        break;
      }
      count++;
    }
    if (count > 0) {
      const group: MetricGroup = {
        kind: "metric_group",
        runId: this.#runId,
        seq: this.#seq,
        timestampMs,
        step,
        values: flat,
        count,
      };
      if (epoch !== undefined) group.epoch = epoch;
      if (context !== undefined) group.context = context;
      this.#seq += count;
      this.#pipeline.enqueue(group);
    }
    if (media !== undefined) {
      for (const [key, value] of media) {
        const item: PendingMedia = {
          kind: "pending_media",
          runId: this.#runId,
          seq: this.#seq++,
          timestampMs,
          step,
          key,
          value,
        };
        if (epoch !== undefined) item.epoch = epoch;
        if (context !== undefined) item.context = context;
        this.#pipeline.enqueue(item);
      }
    }
    if (step >= this.#nextStep) this.#nextStep = step + 1;
  }

  /**
   * Logs run parameters. Nested objects flatten to `a/b` keys; arrays are
   * stored as JSON text; `undefined` values are skipped.
   *
   * @param params Parameters, such as parsed command-line flags or a config.
   * @throws {TypeError} Naming the key, for a value that cannot be a parameter.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.logParams({ lr: 3e-4, batch_size: 64, optimizer: { name: "adam", betas: [0.9, 0.999] } });
   * await logger.end();
   * assert.equal(logger.stats().sent, 6); // run start, 4 flattened params, run end
   * ```
   */
  logParams(params: Record<string, unknown>): void {
    this.#assertOpen("log parameters");
    const pairs = flattenParams(params);
    const timestampMs = this.#clock();
    for (const [key, value] of pairs) {
      this.#pipeline.enqueue({
        kind: "param",
        runId: this.#runId,
        seq: this.#seq++,
        timestampMs,
        key,
        value,
      });
    }
  }

  /**
   * Adds tags to the run.
   *
   * @param tags Non-empty strings.
   * @throws {TypeError} Naming the first tag that is not a non-empty string.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.addTags(["mnist", "mlp"]);
   * await logger.end();
   * assert.equal(logger.stats().sent, 3); // run start, one tag event, run end
   * ```
   */
  addTags(tags: readonly string[]): void {
    this.#assertOpen("add tags");
    const checked = this.#checkTags(tags);
    if (checked.length === 0) return;
    this.#pipeline.enqueue({
      kind: "tag",
      runId: this.#runId,
      seq: this.#seq++,
      timestampMs: this.#clock(),
      tags: checked,
    });
  }

  /**
   * Renames the run.
   *
   * @param name A non-empty display name.
   * @throws {TypeError} When `name` is not a non-empty string.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.setName("mlp-64-hidden");
   * assert.equal(logger.name, "mlp-64-hidden");
   * await logger.end();
   * ```
   */
  setName(name: string): void {
    this.#assertOpen("rename the run");
    this.#assertName(name);
    this.#name = name;
    this.#pipeline.enqueue({
      kind: "run_name",
      runId: this.#runId,
      seq: this.#seq++,
      timestampMs: this.#clock(),
      name,
    });
  }

  /**
   * Logs a new version of an artifact (a model, a checkpoint, a dataset) to
   * every backend that keeps artifacts. The content (`path`: a file or a
   * folder; `files`: `{ path, data }` items; or one `data`) is hashed as it
   * streams, then stored; nothing is read whole into memory. Content
   * identical to an existing version makes no new version: the aliases move
   * to it. `latest` always moves to the returned version. The run records
   * the version it produced (lineage).
   *
   * @param options The content, name, type, metadata, aliases, progress and abort signal.
   * @returns The first backend's version, with `created` and each backend's version.
   * @throws {TypeError} When an option is malformed.
   * @throws {UnsupportedRuntimeError} When `path` is given and the runtime has no filesystem.
   * @throws {TrackerError} When no backend of this logger keeps artifacts.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * const weights = new Uint8Array([1, 2, 3]);
   * const v0 = await logger.logArtifact({ name: "model", type: "model", data: weights, fileName: "w.bin" });
   * assert.equal(v0.version, "v0");
   * const again = await logger.logArtifact({ name: "model", type: "model", data: weights, fileName: "w.bin", aliases: ["best"] });
   * assert.equal(again.version, "v0"); // same content: no new version
   * assert.deepEqual(again.aliases, ["best", "latest"]);
   * await logger.end();
   * ```
   */
  async logArtifact(options: LogArtifactOptions): Promise<LoggedArtifact> {
    this.#assertOpen("log an artifact");
    const stores = this.#artifactStores("log an artifact");
    const logged = await logArtifactToStores(stores, options, {
      project: this.#project,
      runId: this.#runId,
      timestampMs: this.#clock(),
    }, {
      onStoreError: (error, backend) =>
        this.#onError({ error: error as Error, backend }),
    });
    this.#recordArtifact(logged, "output");
    return logged;
  }

  /**
   * Downloads a version of an artifact into `savePath`, from the first
   * backend that keeps artifacts: each file is streamed to a temporary file,
   * verified (size and SHA-256), then renamed into place; files already
   * there with the right content are not fetched again. Manifest paths that
   * would escape `savePath` are refused before anything is written. The run
   * records the version it used (lineage).
   *
   * @param options Name, version (`"latest"` by default, `3`, `"v3"`, an alias, or semver for Comet), folder, progress, abort signal.
   * @returns The folder written.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   * @throws {IntegrityError} When a file does not match the manifest.
   * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const dir = await Deno.makeTempDir();
   * const logger = createLogger({ project: "p", dir });
   * await logger.logArtifact({ name: "notes", type: "text", files: [{ path: "a/readme.txt", data: new TextEncoder().encode("hi") }] });
   * const folder = await logger.downloadArtifact({ name: "notes", savePath: `${dir}/out` });
   * assert.equal(await Deno.readTextFile(`${folder}/a/readme.txt`), "hi");
   * await logger.end();
   * ```
   */
  async downloadArtifact(options: DownloadArtifactOptions): Promise<string> {
    this.#assertOpen("download an artifact");
    const [first] = this.#artifactStores("download an artifact");
    const manifest = await downloadFromStore(first.store, options, {
      project: this.#project,
      runId: this.#runId,
      timestampMs: this.#clock(),
    });
    this.#recordArtifact(manifest, "input");
    return options.savePath;
  }

  /**
   * Reads the manifest of a version from the first backend that keeps
   * artifacts: its files (path, size, SHA-256, MD5), digest, aliases,
   * metadata and the run that created it.
   *
   * @param name Artifact name.
   * @param version `"latest"` (default), `3`, `"v3"`, an alias, or semver for Comet.
   * @returns The manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * await logger.logArtifact({ name: "data", type: "dataset", data: new Uint8Array(10), fileName: "x.bin" });
   * const manifest = await logger.getArtifact("data", "v0");
   * assert.equal(manifest.files[0].size, 10);
   * await logger.end();
   * ```
   */
  async getArtifact(
    name: string,
    version?: string | number,
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    const selector = parseVersionSelector(version);
    const [first] = this.#artifactStores("read an artifact");
    return await first.store.resolveVersion(name, selector);
  }

  /**
   * Lists the versions of an artifact, oldest first, from the first backend
   * that keeps artifacts.
   *
   * @param name Artifact name.
   * @returns The versions' manifests; empty when there is no such artifact.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * await logger.logArtifact({ name: "ckpt", type: "model", data: new Uint8Array([1]) });
   * await logger.logArtifact({ name: "ckpt", type: "model", data: new Uint8Array([2]) });
   * const versions = await logger.listArtifactVersions("ckpt");
   * assert.deepEqual(versions.map((v) => v.version), ["v0", "v1"]);
   * await logger.end();
   * ```
   */
  async listArtifactVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const [first] = this.#artifactStores("list artifact versions");
    return await first.store.listVersions(name);
  }

  /**
   * Points user aliases at a version of an artifact (moving them from other
   * versions), in every backend that keeps artifacts and has that version.
   *
   * @param name Artifact name.
   * @param version Which version of the first backend: `3`, `"v3"`, an alias or `"latest"`; other backends move the aliases to their version with the same digest.
   * @param aliases The aliases, such as `["best"]`.
   * @returns The version's manifest in the first backend.
   * @throws {TypeError} When an argument is malformed.
   * @throws {ArtifactNotFoundError} When the first backend has no such version.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * await logger.logArtifact({ name: "ckpt", type: "model", data: new Uint8Array([1]) });
   * await logger.logArtifact({ name: "ckpt", type: "model", data: new Uint8Array([2]) });
   * await logger.setArtifactAliases("ckpt", "v0", ["best"]);
   * assert.equal((await logger.getArtifact("ckpt", "best")).version, "v0");
   * await logger.end();
   * ```
   */
  async setArtifactAliases(
    name: string,
    version: string | number,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    const selector = parseVersionSelector(version);
    if (!Array.isArray(aliases)) {
      throw new TypeError(
        `Cannot move aliases of artifact ${JSON.stringify(name)}: aliases is ${
          describe(aliases)
        }; expected an array of strings`,
      );
    }
    for (const alias of aliases) assertAlias(alias);
    const [first, ...others] = this.#artifactStores("move artifact aliases");
    const target = await first.store.resolveVersion(name, selector);
    const moved = await first.store.setAliases(name, target.version, aliases);
    for (const { backend, store } of others) {
      try {
        const same = (await store.listVersions(name)).find((v) =>
          v.digest === target.digest
        );
        if (same) await store.setAliases(name, same.version, aliases);
      } catch (error) {
        this.#onError({ error: error as Error, backend });
      }
    }
    return moved;
  }

  /**
   * Sends everything logged so far, waiting at most `timeoutMs`. What is
   * not acknowledged by then stays queued (on disk for a file spool).
   *
   * @param options The timeout.
   * @returns One report per backend: `flushed`, `spooled` or `pending`.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.log({ loss: 1 });
   * const report = await logger.flush({ timeoutMs: 5000 });
   * assert.ok(report.ok);
   * await logger.end();
   * ```
   */
  flush(options: FlushOptions = {}): Promise<FlushReport> {
    return this.#pipeline.flush(options.timeoutMs);
  }

  /**
   * Ends the run: records its status, flushes, and closes the backends.
   * Calling it again returns the same report.
   *
   * @param options The status and the flush timeout.
   * @returns The final flush report.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * const report = await logger.end({ status: "failed" });
   * assert.equal(report.backends[0].status, "flushed");
   * ```
   */
  end(options: EndOptions = {}): Promise<FlushReport> {
    if (this.#ending) return this.#ending;
    const status = options.status ?? "finished";
    if (status !== "finished" && status !== "failed" && status !== "killed") {
      throw new TypeError(
        `Cannot end the run with status ${
          describe(status)
        }: expected "finished", "failed" or "killed"`,
      );
    }
    this.#pipeline.enqueue({
      kind: "run_end",
      runId: this.#runId,
      seq: this.#seq++,
      timestampMs: this.#clock(),
      status,
    });
    this.#removeExitHook();
    this.#ending = this.#pipeline.shutdown(options.timeoutMs);
    return this.#ending;
  }

  /**
   * Counters: events queued, sent, retried, spooled bytes and dropped, in
   * total and per backend. Dropped events are also reported to `onError`.
   *
   * @returns The counters.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import assert from "node:assert/strict";
   * const logger = createLogger({ backend: "memory" });
   * logger.log({ loss: 1 });
   * await logger.flush();
   * assert.equal(logger.stats().sent, 2); // run start and one point
   * await logger.end();
   * ```
   */
  stats(): PipelineStats {
    return this.#pipeline.stats();
  }

  /**
   * Ends the run if it is still open, so `await using` works.
   *
   * @returns Resolves once the run has ended.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  /** The slow path of `log()`: nested objects, non-finite values, bad input. */
  #flatten(
    values: Record<string, unknown>,
    prefix: string,
    out: Record<string, number>,
    depth: number,
    media: [string, MediaValue][],
  ): number {
    let count = 0;
    for (const key in values) {
      const value = values[key];
      const name = prefix + key;
      if (typeof value === "number") {
        if (key === "") {
          throw new TypeError(
            `Cannot log a value with an empty key under "${prefix}"`,
          );
        }
        if (value - value !== 0) { // NaN or ±Infinity
          if (this.#nonFinite === "drop") continue;
          if (this.#nonFinite === "error") {
            throw new RangeError(
              `Cannot log "${name}": value ${value} is not a finite number`,
            );
          }
        }
        if (!(name in out)) count++;
        out[name] = value;
      } else if (isMediaValue(value)) {
        if (key === "") {
          throw new TypeError(
            `Cannot log a value with an empty key under "${prefix}"`,
          );
        }
        media.push([name, value]);
      } else if (Array.isArray(value)) {
        if (key === "") {
          throw new TypeError(
            `Cannot log a value with an empty key under "${prefix}"`,
          );
        }
        media.push([name, imageFromArray(name, value)]);
      } else if (isPlainObject(value)) {
        if (depth > 32) {
          throw new TypeError(
            `Cannot log "${name}": objects are nested more than 32 levels deep`,
          );
        }
        count += this.#flatten(value, name + "/", out, depth + 1, media);
      } else {
        throw new TypeError(
          `Cannot log "${name}": expected a finite number, a media value (Image, Audio, Text, ...), an image as nested arrays of pixels, or a nested object of them, got ${
            describe(value)
          }`,
        );
      }
    }
    return count;
  }

  #resolveBackends(
    options: LoggerOptions,
    env: Readonly<Record<string, string | undefined>>,
    dir: string,
    onError: (state: ErrorState) => void,
  ): Backend[] {
    const context = { env, dir, project: this.#project };
    const build = (spec: Backend | string): Backend => {
      if (typeof spec === "string") return createBackend(spec, context);
      if (
        spec && typeof spec === "object" && typeof spec.send === "function" &&
        typeof spec.name === "string"
      ) {
        return spec;
      }
      throw new TypeError(
        `Cannot create logger: expected a backend or a backend name, got ${
          describe(spec)
        }`,
      );
    };
    if (options.backends !== undefined) {
      if (!Array.isArray(options.backends) || options.backends.length === 0) {
        throw new TypeError(
          "Cannot create logger: 'backends' must be a non-empty array",
        );
      }
      return options.backends.map(build);
    }
    if (options.backend !== undefined) return [build(options.backend)];
    if (options.relay !== undefined) return [new RelayBackend(options.relay)];
    const named = env.UETAI_BACKEND?.split(",").map((name) => name.trim())
      .filter((name) => name !== "");
    if (named && named.length > 0) return named.map(build);
    const detected = detectBackend(env);
    if (detected) return [build(detected)];
    if (getFileSystem()) return [build("local")];
    onError({
      backend: "memory",
      error: new TrackerError(
        "No backend configured and this runtime has no filesystem for the local store: logging to memory only",
      ),
    });
    return [build("memory")];
  }

  #checkTags(tags: readonly string[]): string[] {
    if (!Array.isArray(tags)) {
      throw new TypeError(
        `Cannot add tags: expected an array of strings, got ${describe(tags)}`,
      );
    }
    const out: string[] = [];
    for (const tag of tags) {
      if (typeof tag !== "string" || tag === "") {
        throw new TypeError(
          `Cannot add tag ${describe(tag)}: tags must be non-empty strings`,
        );
      }
      if (!out.includes(tag)) out.push(tag);
    }
    return out;
  }

  #assertName(name: unknown): void {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Cannot name the run ${describe(name)}: expected a non-empty string`,
      );
    }
  }

  #artifactStores(action: string): NamedArtifactStore[] {
    const stores: NamedArtifactStore[] = [];
    for (const backend of this.#pipeline.backends) {
      if (typeof backend.artifacts === "function") {
        stores.push({
          backend: backend.name,
          store: backend.artifacts(this.#project),
        });
      }
    }
    if (stores.length === 0) {
      throw new TrackerError(
        `Cannot ${action}: no backend of this logger (${
          this.#pipeline.backends.map((b) => b.name).join(", ")
        }) keeps artifacts`,
      );
    }
    return stores;
  }

  #recordArtifact(
    manifest: ArtifactManifest,
    usage: "output" | "input",
  ): void {
    if (this.#ending) return;
    this.#pipeline.enqueue({
      kind: "artifact",
      runId: this.#runId,
      seq: this.#seq++,
      timestampMs: this.#clock(),
      usage,
      name: manifest.name,
      type: manifest.type,
      version: manifest.version,
      digest: manifest.digest,
      sizeBytes: manifest.size,
    });
  }

  #assertOpen(action: string): void {
    if (this.#ending) {
      throw new TrackerError(
        `Cannot ${action} of run '${this.#runId}': the run has ended`,
      );
    }
  }

  #installExitHook(timeoutMs: number): void {
    const process = (globalThis as { process?: ProcessEvents }).process;
    if (timeoutMs <= 0 || typeof process?.on !== "function") return;
    this.#exitHook = () => {
      this.#removeExitHook();
      if (!this.#ending) this.end({ timeoutMs }).catch(() => {});
    };
    process.on("beforeExit", this.#exitHook);
  }

  #removeExitHook(): void {
    const process = (globalThis as { process?: ProcessEvents }).process;
    if (this.#exitHook) process?.off?.("beforeExit", this.#exitHook);
    this.#exitHook = undefined;
  }
}

/**
 * Creates a logger and starts its run. The backend comes from the options,
 * else from the environment (`UETAI_BACKEND`, then the credentials of
 * registered backends), else the local store under `./.uetai/` where the
 * runtime has a filesystem, else memory (with a warning).
 *
 * @param options Backends, run identity and pipeline settings.
 * @returns The logger.
 * @throws {TypeError} When an option has the wrong type or names an unknown backend.
 *
 * @example Log to the local store
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * const logger = createLogger({ project: "mnist", dir: await Deno.makeTempDir() });
 * logger.logParams({ lr: 0.1 });
 * logger.log({ loss: 0.7 }, { step: 0 });
 * const report = await logger.end();
 * assert.ok(report.ok);
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return new Logger(options);
}
