// This module is browser compatible: the filesystem is reached at run time.
import type { TrackingEvent } from "../../event/types.ts";
import { LocalArtifactStore } from "./local_artifacts.ts";
import { TrackerError } from "../../errors/errors.ts";
import { readJournal } from "./journal.ts";
import {
  type FileSystemLike,
  joinPath,
  requireFileSystem,
} from "../../runtime/fs.ts";
import {
  assertSafeName,
  DEFAULT_LOCAL_DIR,
  type MediaEntry,
  type MediaIndex,
  RUN_FILES,
  runDirectory,
  type RunMetadata,
} from "./layout.ts";

/** A run as listed by {@linkcode LocalStore}. */
export interface RunInfo extends RunMetadata {
  /** The run's folder. */
  path: string;
}

/** One point of a metric series read back from the store. */
export interface MetricPoint {
  /** Training step. */
  step: number;
  /** The value (may be `NaN` or `±Infinity`). */
  value: number;
  /** When it was logged, in milliseconds since the epoch. */
  timestampMs: number;
  /** Epoch, if logged with one. */
  epoch?: number;
  /** Context, if logged with one. */
  context?: string;
}

/** Options of {@linkcode LocalStore}. */
export interface LocalStoreOptions {
  /**
   * Root folder of the store.
   * @default {".uetai"}
   */
  dir?: string;
  /** The filesystem; `node:fs/promises` reached at run time by default. */
  fs?: FileSystemLike;
}

/**
 * Reads the local store: projects, runs, their metadata, events and metric
 * series. The dashboard and `sync` are built on it.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { LocalBackend, LocalStore } from "@uetai/uetai/local";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ project: "p", backend: new LocalBackend({ dir }) });
 * for (let step = 0; step < 3; step++) logger.log({ loss: 1 / (step + 1) }, { step });
 * await logger.end();
 * const store = new LocalStore({ dir });
 * const [run] = await store.listRuns("p");
 * const series = await store.readMetrics("p", run.runId);
 * assert.deepEqual(series.get("loss")?.map((p) => p.step), [0, 1, 2]);
 * ```
 */
export class LocalStore {
  #fs: FileSystemLike;
  #root: string;

  /**
   * Opens the store for reading.
   *
   * @param options Root folder and filesystem.
   * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
   */
  constructor(options: LocalStoreOptions = {}) {
    this.#fs = requireFileSystem(options.fs, "read the local store");
    this.#root = options.dir ?? DEFAULT_LOCAL_DIR;
  }

  /** The store's root folder. */
  get dir(): string {
    return this.#root;
  }

  /**
   * The artifacts of a project: names, versions, aliases, lineage and files.
   *
   * @param project The project.
   * @returns Its artifact store.
   *
   * @example
   * ```ts
   * import { createLogger } from "@uetai/uetai";
   * import { LocalStore } from "@uetai/uetai/local";
   * import assert from "node:assert/strict";
   * const dir = await Deno.makeTempDir();
   * const logger = createLogger({ project: "p", dir });
   * await logger.logArtifact({ name: "model", type: "model", data: new Uint8Array(4) });
   * await logger.end();
   * const artifacts = new LocalStore({ dir }).artifacts("p");
   * assert.deepEqual(await artifacts.listArtifacts(), ["model"]);
   * ```
   */
  artifacts(project: string): LocalArtifactStore {
    return new LocalArtifactStore({ dir: this.#root, project, fs: this.#fs });
  }

  /**
   * Lists projects, sorted by name.
   *
   * @returns Project names; empty when the store does not exist yet.
   */
  async listProjects(): Promise<string[]> {
    const names = await this.#fs.readdir(this.#root).catch(() =>
      [] as string[]
    );
    const projects: string[] = [];
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const isDirectory = await this.#fs.stat(joinPath(this.#root, name)).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (isDirectory) projects.push(name);
    }
    return projects.sort();
  }

  /**
   * Lists the runs of a project, newest first.
   *
   * @param project The project.
   * @returns Each run's metadata and folder; runs without `run.json` yet are skipped.
   */
  async listRuns(project: string): Promise<RunInfo[]> {
    assertSafeName("project", project);
    const dir = joinPath(this.#root, project);
    const names = await this.#fs.readdir(dir).catch(() => [] as string[]);
    const runs: RunInfo[] = [];
    for (const runId of names) {
      if (runId.startsWith(".")) continue;
      const info = await this.#readRun(project, runId).catch(() => undefined);
      if (info) runs.push(info);
    }
    return runs.sort((a, b) =>
      b.startedMs - a.startedMs || a.runId.localeCompare(b.runId)
    );
  }

  /**
   * Reads one run's metadata.
   *
   * @param project The project.
   * @param runId The run.
   * @returns The run.
   * @throws {TrackerError} When the run does not exist.
   */
  async getRun(project: string, runId: string): Promise<RunInfo> {
    try {
      return await this.#readRun(project, runId);
    } catch (cause) {
      if (cause instanceof TypeError) throw cause;
      throw new TrackerError(
        `Cannot find run '${runId}' of project '${project}' in '${this.#root}'`,
        { cause },
      );
    }
  }

  /**
   * Streams every event of a run in order, reading the journal in chunks.
   * A torn last line (a crash mid-write) is skipped. Media events come with
   * their bytes, read from their files, unless `mediaBytes` is `false`
   * (their `file` then says where the bytes are).
   *
   * @param project The project.
   * @param runId The run.
   * @param options `mediaBytes`: read media files too (default `true`).
   * @returns The events.
   */
  async *readEvents(
    project: string,
    runId: string,
    options: { mediaBytes?: boolean } = {},
  ): AsyncGenerator<TrackingEvent, void, undefined> {
    const path = joinPath(
      runDirectory(this.#root, project, runId),
      RUN_FILES.events,
    );
    let handle;
    try {
      handle = await this.#fs.open(path, "r");
    } catch (cause) {
      throw new TrackerError(
        `Cannot read the events of run '${runId}' of project '${project}'`,
        { cause },
      );
    }
    try {
      for await (const event of readJournal(handle)) {
        if (
          event.kind === "media" && event.file !== undefined &&
          options.mediaBytes !== false
        ) {
          // The journal names the file the bytes were written to.
          event.data = await this.readMediaFile(project, runId, event.file);
        }
        yield event;
      }
    } finally {
      await handle.close();
    }
  }

  /**
   * Lists a run's media files (images, audio, tables, ...) from its
   * `media/index.json`, in logging order.
   *
   * @param project The project.
   * @param runId The run.
   * @returns The entries; empty when the run logged no media.
   */
  async listMedia(project: string, runId: string): Promise<MediaEntry[]> {
    const path = joinPath(
      runDirectory(this.#root, project, runId),
      RUN_FILES.mediaIndex,
    );
    const text = await this.#fs.readFile(path, "utf8").catch(() => undefined);
    return text === undefined ? [] : (JSON.parse(text) as MediaIndex).items;
  }

  /**
   * Reads the bytes of one media file of a run.
   *
   * @param project The project.
   * @param runId The run.
   * @param file The file, relative to the run folder, as in a {@linkcode MediaEntry}.
   * @returns The bytes.
   * @throws {TypeError} When `file` is not a path under the run's `media/` folder.
   */
  async readMediaFile(
    project: string,
    runId: string,
    file: string,
  ): Promise<Uint8Array> {
    if (
      typeof file !== "string" || !file.startsWith(`${RUN_FILES.media}/`) ||
      file.split("/").includes("..") ||
      file.includes("\\") || file.includes("\0")
    ) {
      throw new TypeError(
        `Cannot read media file ${
          JSON.stringify(file)
        }: expected a path under 'media/'`,
      );
    }
    return await this.#fs.readFile(
      joinPath(runDirectory(this.#root, project, runId), file),
    );
  }

  /**
   * Reads a run's metric series.
   *
   * @param project The project.
   * @param runId The run.
   * @param options `keys`: read only these metrics.
   * @returns Points by metric name, in logging order.
   */
  async readMetrics(
    project: string,
    runId: string,
    options: { keys?: readonly string[] } = {},
  ): Promise<Map<string, MetricPoint[]>> {
    const wanted = options.keys ? new Set(options.keys) : undefined;
    const series = new Map<string, MetricPoint[]>();
    for await (
      const event of this.readEvents(project, runId, { mediaBytes: false })
    ) {
      if (event.kind !== "metric" || (wanted && !wanted.has(event.key))) {
        continue;
      }
      let points = series.get(event.key);
      if (!points) series.set(event.key, points = []);
      const point: MetricPoint = {
        step: event.step,
        value: event.value,
        timestampMs: event.timestampMs,
      };
      if (event.epoch !== undefined) point.epoch = event.epoch;
      if (event.context !== undefined) point.context = event.context;
      points.push(point);
    }
    return series;
  }

  async #readRun(project: string, runId: string): Promise<RunInfo> {
    const dir = runDirectory(this.#root, project, runId);
    const text = await this.#fs.readFile(
      joinPath(dir, RUN_FILES.metadata),
      "utf8",
    );
    return { ...(JSON.parse(text) as RunMetadata), path: dir };
  }
}
