// This module is browser compatible: the filesystem is reached at run time.
import { encodeEvent } from "../../event/codec.ts";
import type {
  MediaEvent,
  RunStartEvent,
  TrackingEvent,
} from "../../event/types.ts";
import { BackendError } from "../../errors/errors.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../../pipeline/backend.ts";
import {
  type FileHandleLike,
  type FileSystemLike,
  joinPath,
  requireFileSystem,
  writeFileAtomic,
} from "../../runtime/fs.ts";
import { readJournal, recoverJournal } from "./journal.ts";
import { LocalArtifactStore } from "./local_artifacts.ts";
import {
  assertSafeName,
  DEFAULT_LOCAL_DIR,
  LOCAL_STORE_SCHEMA_VERSION,
  type MediaEntry,
  mediaFilePath,
  type MediaIndex,
  RUN_FILES,
  runDirectory,
  type RunMetadata,
} from "./layout.ts";

/** Options of {@linkcode LocalBackend}. */
export interface LocalBackendOptions {
  /**
   * Root folder of the store.
   * @default {".uetai"}
   */
  dir?: string;
  /**
   * Flush each batch to the storage device before acknowledging it, so a
   * power loss, not only a crash, loses nothing acknowledged.
   * @default {true}
   */
  syncWrites?: boolean;
  /** The filesystem; `node:fs/promises` reached at run time by default. */
  fs?: FileSystemLike;
}

interface RunState {
  dir: string;
  metadata: RunMetadata;
  /** `seq` of the last event in the journal. */
  lastSeq: number;
  /** Journal size in bytes. */
  size: number;
  handle: FileHandleLike;
  /** Time of the run's start event: a different one means a reused id. */
  startedMs: number | undefined;
  /** The metadata changed and `run.json` was not written since. */
  dirty: boolean;
  /** The run's media files. */
  media: MediaEntry[];
  /** `media` changed and `media/index.json` was not written since. */
  mediaDirty: boolean;
}

/** What one send appends to one run's journal. */
interface PendingWrite {
  text: string;
  lastSeq: number;
  /** The events among them that change `run.json`. */
  metadataEvents: TrackingEvent[];
  /** Media files to write before the journal names them. */
  mediaFiles: { event: MediaEvent; file: string }[];
}

const EMPTY_BYTES = new Uint8Array(0);

const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "ENOSPC",
  "EMFILE",
  "ENFILE",
  "EAGAIN",
  "EBUSY",
  "EIO",
]);
const textEncoder = new TextEncoder();

function randomSuffix(): string {
  return crypto.randomUUID().slice(0, 8);
}

function newMetadata(
  runId: string,
  project: string,
  startedMs: number,
): RunMetadata {
  return {
    schema: LOCAL_STORE_SCHEMA_VERSION,
    runId,
    project,
    tags: [],
    params: {},
    status: "running",
    startedMs,
    journalSeq: -1,
  };
}

/**
 * The local store backend, the embedded default: every run lands in
 * `<dir>/<project>/<runId>/` as `run.json` (metadata: name, tags, params,
 * status, start and end) and `events.ndjson` (an append-only journal of
 * every event, crash-safe: a torn last line is cut off when the run is
 * opened again). Events already stored are recognised by `(runId, seq)` and
 * skipped, so a replay never duplicates. Read it back with `LocalStore`.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { LocalBackend, LocalStore } from "@uetai/uetai/local";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ project: "demo", backend: new LocalBackend({ dir }) });
 * logger.log({ loss: 0.5 }, { step: 1 });
 * await logger.end();
 * const runs = await new LocalStore({ dir }).listRuns("demo");
 * assert.equal(runs[0].status, "finished");
 * ```
 */
export class LocalBackend implements Backend {
  /** Always `"local"`. */
  readonly name: string = "local";
  /** Events are durable once `send()` succeeds, so no file spool is needed in front. */
  readonly durable: boolean = true;
  /** Large batches: each costs one write (and one sync) per run. */
  readonly limits: BackendLimits = {
    maxEventsPerBatch: 20_000,
    maxBatchBytes: 16 * 1024 * 1024,
  };
  #fs: FileSystemLike;
  #root: string;
  #sync: boolean;
  #runs = new Map<string, RunState>();
  #conflicts = new Map<string, BackendError>();
  #artifacts = new Map<string, LocalArtifactStore>();
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  /**
   * Creates the backend; folders are made on first use.
   *
   * @param options Root folder, sync policy and filesystem.
   * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
   */
  constructor(options: LocalBackendOptions = {}) {
    this.#fs = requireFileSystem(
      options.fs,
      "open the local store (use the memory backend or a remote one)",
    );
    this.#root = options.dir ?? DEFAULT_LOCAL_DIR;
    this.#sync = options.syncWrites ?? true;
  }

  /** The store's root folder. */
  get dir(): string {
    return this.#root;
  }

  /**
   * The project's artifacts, under `<dir>/<project>/.artifacts/`.
   *
   * @param project The project.
   * @returns Its artifact store.
   */
  artifacts(project: string): LocalArtifactStore {
    let store = this.#artifacts.get(project);
    if (!store) {
      store = new LocalArtifactStore({
        dir: this.#root,
        project,
        syncWrites: this.#sync,
        fs: this.#fs,
      });
      this.#artifacts.set(project, store);
    }
    return store;
  }

  /**
   * Appends the batch to each run's journal and updates `run.json`.
   *
   * @param batch Events in order within each run.
   * @param signal Aborted when the pipeline abandons this send; it then stops
   * before its next write.
   * @returns `success`, or a `retryable` / `failure` result naming the cause.
   */
  send(
    batch: readonly TrackingEvent[],
    signal?: AbortSignal,
  ): Promise<SendResult> {
    // One operation at a time: a send abandoned after a timeout may still be
    // writing when its retry starts, and must finish first.
    return this.#serially(() => this.#send(batch, signal));
  }

  /** Closes every open journal, after the sends under way. */
  close(): Promise<void> {
    return this.#serially(async () => {
      this.#closed = true;
      const runs = [...this.#runs.values()];
      this.#runs.clear();
      for (const run of runs) await run.handle.close();
    });
  }

  #serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(operation);
    this.#chain = result.catch(() => {});
    return result;
  }

  async #send(
    batch: readonly TrackingEvent[],
    signal?: AbortSignal,
  ): Promise<SendResult> {
    if (this.#closed) {
      return {
        status: "failure",
        error: new BackendError(
          "Cannot write: the local store backend is closed",
          { backend: this.name },
        ),
      };
    }
    try {
      const touched = new Map<RunState, PendingWrite>();
      for (const event of batch) {
        const conflict = this.#conflicts.get(event.runId);
        if (conflict) throw conflict;
        const run = this.#runs.get(event.runId) ?? await this.#openRun(event);
        if (event.kind === "run_start") this.#checkStart(run, event);
        let pending = touched.get(run);
        if (!pending) {
          pending = {
            text: "",
            lastSeq: run.lastSeq,
            metadataEvents: [],
            mediaFiles: [],
          };
          touched.set(run, pending);
        }
        if (event.seq <= pending.lastSeq) continue; // stored already: a replay
        if (event.kind === "media") {
          // The bytes go to their own file; the journal names it.
          const file = mediaFilePath(event);
          pending.mediaFiles.push({ event, file });
          pending.text += encodeEvent({ ...event, data: EMPTY_BYTES, file }) +
            "\n";
        } else {
          pending.text += encodeEvent(event) + "\n";
        }
        pending.lastSeq = event.seq;
        if (event.kind !== "metric" && event.kind !== "media") {
          pending.metadataEvents.push(event);
        }
      }
      for (const [run, pending] of touched) {
        if (signal?.aborted) {
          return {
            status: "retryable",
            error: new BackendError("The write was abandoned", {
              backend: this.name,
            }),
          };
        }
        for (const { event, file } of pending.mediaFiles) {
          await this.#writeAtomically(
            joinPath(run.dir, file),
            event.data,
            this.#sync,
          );
        }
        if (pending.text !== "") await this.#append(run, pending);
        // Metadata and the media index follow the journal: applied only for
        // what was written, and written until a write succeeds (a replay
        // retries them too).
        if (run.dirty) await this.#writeMetadata(run);
        if (run.mediaDirty) await this.#writeMediaIndex(run);
        if (run.metadata.status !== "running") {
          await run.handle.close();
          this.#runs.delete(run.metadata.runId);
        }
      }
      return { status: "success" };
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      const error = cause instanceof BackendError ? cause : new BackendError(
        `Cannot write to the local store at '${this.#root}': ${
          (cause as Error).message
        }`,
        {
          backend: this.name,
          retryable: code !== undefined && RETRYABLE_CODES.has(code),
          cause,
        },
      );
      return error.retryable
        ? { status: "retryable", error }
        : { status: "failure", error };
    }
  }

  /** Appends journal lines; on failure cuts off whatever part was written. */
  async #append(run: RunState, pending: PendingWrite): Promise<void> {
    const sizeBefore = run.size;
    // Bytes, not text: a string write is encoded again (and slower).
    const bytes = textEncoder.encode(pending.text);
    try {
      const written = await run.handle.write(bytes) as
        | { bytesWritten?: number }
        | undefined;
      if (
        typeof written?.bytesWritten === "number" &&
        written.bytesWritten !== bytes.length
      ) {
        throw new Error(
          `short write: ${written.bytesWritten} of ${bytes.length} bytes`,
        );
      }
    } catch (cause) {
      await run.handle.truncate(sizeBefore).catch(() => {});
      throw cause;
    }
    run.size = sizeBefore + bytes.length;
    // Written: a retry must not write it again, even if the sync fails.
    run.lastSeq = pending.lastSeq;
    for (const event of pending.metadataEvents) {
      if (applyToMetadata(run.metadata, event)) run.dirty = true;
    }
    for (const { event, file } of pending.mediaFiles) {
      run.media.push(mediaEntry(event, file, event.data.byteLength));
      run.mediaDirty = true;
    }
    run.metadata.journalSeq = pending.lastSeq;
    if (this.#sync) await run.handle.datasync();
  }

  /** A start event for a run already known: a replay if it is the same start. */
  #checkStart(run: RunState, event: RunStartEvent): void {
    if (run.startedMs === undefined || run.startedMs === event.timestampMs) {
      return;
    }
    const conflict = new BackendError(
      `Cannot start run '${event.runId}' in '${run.dir}': a run with that id already exists (started at ${
        new Date(run.startedMs).toISOString()
      }); resuming a stored run is not supported, use a new runId`,
      { backend: this.name, retryable: false },
    );
    this.#conflicts.set(event.runId, conflict);
    throw conflict;
  }

  async #openRun(event: TrackingEvent): Promise<RunState> {
    assertSafeName("runId", event.runId);
    let found: { dir: string; project: string } | undefined;
    if (event.kind === "run_start") {
      const dir = runDirectory(this.#root, event.project, event.runId);
      if (await this.#claimRun(dir, event)) {
        return await this.#attach(dir, event.project, event.runId);
      }
      found = { dir, project: event.project };
    } else {
      found = await this.#findRun(event.runId);
      if (!found) {
        throw new BackendError(
          `Cannot store events of run '${event.runId}': the run was never started in '${this.#root}'`,
          { backend: this.name, retryable: false },
        );
      }
    }
    return await this.#attach(found.dir, found.project, event.runId);
  }

  /**
   * Creates a run's folder with its start already in the journal, in one
   * atomic rename, so that of two loggers starting the same id at once one
   * wins and the other sees the winner's start.
   *
   * @returns `false` when the folder exists already.
   */
  async #claimRun(dir: string, start: RunStartEvent): Promise<boolean> {
    const fs = this.#fs;
    const projectDir = joinPath(this.#root, start.project);
    await fs.mkdir(projectDir, { recursive: true });
    if (await fs.stat(dir).then(() => true, () => false)) return false;
    const temporary = joinPath(
      projectDir,
      `.tmp-${start.runId}-${randomSuffix()}`,
    );
    await fs.mkdir(temporary, { recursive: true });
    try {
      const metadata = newMetadata(
        start.runId,
        start.project,
        start.timestampMs,
      );
      applyToMetadata(metadata, start);
      metadata.journalSeq = start.seq;
      await fs.writeFile(
        joinPath(temporary, RUN_FILES.events),
        encodeEvent(start) + "\n",
      );
      await fs.writeFile(
        joinPath(temporary, RUN_FILES.metadata),
        JSON.stringify(metadata, null, 2) + "\n",
      );
      await fs.rename(temporary, dir);
      return true;
    } catch (cause) {
      await fs.rm(temporary, { recursive: true, force: true }).catch(() => {});
      if (await fs.stat(dir).then(() => true, () => false)) return false; // another logger won
      throw cause;
    }
  }

  /** Opens an existing run: recovers its journal and, if stale, its metadata. */
  async #attach(
    dir: string,
    project: string,
    runId: string,
  ): Promise<RunState> {
    const fs = this.#fs;
    const eventsPath = joinPath(dir, RUN_FILES.events);
    const { lastSeq, size, first } = await recoverJournal(fs, eventsPath);
    let metadata = await fs.readFile(joinPath(dir, RUN_FILES.metadata), "utf8")
      .then((text) => JSON.parse(text) as RunMetadata, () => undefined);
    const index = await fs.readFile(joinPath(dir, RUN_FILES.mediaIndex), "utf8")
      .then((text) => JSON.parse(text) as MediaIndex, () => undefined);
    const media = [...(index?.items ?? [])];
    const indexed = media.length;
    const metadataFrom = metadata?.journalSeq ?? -1;
    const mediaFrom = index?.journalSeq ?? -1;
    const dirty = metadataFrom < lastSeq;
    const mediaDirty = mediaFrom < lastSeq;
    metadata ??= newMetadata(runId, project, first?.timestampMs ?? 0);
    if (dirty || mediaDirty) {
      // A crash between the journal and run.json or the media index (or a
      // run without media yet): bring them up to the journal.
      const handle = await fs.open(eventsPath, "r");
      try {
        for await (const event of readJournal(handle)) {
          if (event.seq > metadataFrom) applyToMetadata(metadata, event);
          if (
            event.seq > mediaFrom && event.kind === "media" &&
            event.file !== undefined
          ) {
            const size = await fs.stat(joinPath(dir, event.file)).then(
              (stat) => stat.size,
              () => 0,
            );
            media.push(mediaEntry(event, event.file, size));
          }
        }
      } finally {
        await handle.close();
      }
      metadata.journalSeq = lastSeq;
    }
    const handle = await fs.open(eventsPath, "a");
    const run: RunState = {
      dir,
      metadata,
      lastSeq,
      size,
      handle,
      startedMs: first?.kind === "run_start" ? first.timestampMs : undefined,
      dirty,
      media,
      mediaDirty: mediaDirty && media.length > indexed,
    };
    this.#runs.set(runId, run);
    return run;
  }

  async #findRun(
    runId: string,
  ): Promise<{ dir: string; project: string } | undefined> {
    const projects = await this.#fs.readdir(this.#root).catch(() =>
      [] as string[]
    );
    for (const project of projects) {
      if (project.startsWith(".")) continue;
      const dir = joinPath(this.#root, project, runId);
      const exists = await this.#fs.stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (exists) return { dir, project };
    }
    return undefined;
  }

  async #writeMetadata(run: RunState): Promise<void> {
    await this.#writeAtomically(
      joinPath(run.dir, RUN_FILES.metadata),
      JSON.stringify(run.metadata, null, 2) + "\n",
    );
    run.dirty = false;
  }

  async #writeMediaIndex(run: RunState): Promise<void> {
    const index: MediaIndex = {
      schema: LOCAL_STORE_SCHEMA_VERSION,
      journalSeq: run.lastSeq,
      items: run.media,
    };
    await this.#writeAtomically(
      joinPath(run.dir, RUN_FILES.mediaIndex),
      JSON.stringify(index) + "\n",
    );
    run.mediaDirty = false;
  }

  /**
   * Writes a whole file under a temporary name, then renames it into place;
   * with `durable`, the bytes reach the storage device before the rename
   * (media files: unlike run.json, they cannot be rebuilt from the journal).
   */
  async #writeAtomically(
    path: string,
    data: string | Uint8Array,
    durable = false,
  ): Promise<void> {
    const folder = path.slice(0, path.lastIndexOf("/"));
    if (folder !== "") await this.#fs.mkdir(folder, { recursive: true });
    await writeFileAtomic(this.#fs, path, data, { durable });
  }
}

function mediaEntry(
  event: MediaEvent,
  file: string,
  sizeBytes: number,
): MediaEntry {
  const entry: MediaEntry = {
    key: event.key,
    step: event.step,
    seq: event.seq,
    timestampMs: event.timestampMs,
    mediaType: event.mediaType,
    contentType: event.contentType,
    file,
    sizeBytes,
    metadata: event.metadata ?? {},
  };
  if (event.epoch !== undefined) entry.epoch = event.epoch;
  if (event.context !== undefined) entry.context = event.context;
  return entry;
}

function applyToMetadata(metadata: RunMetadata, event: TrackingEvent): boolean {
  switch (event.kind) {
    case "run_start":
      metadata.project = event.project;
      metadata.startedMs = event.timestampMs;
      if (event.name !== undefined) metadata.name = event.name;
      for (const tag of event.tags) {
        if (!metadata.tags.includes(tag)) metadata.tags.push(tag);
      }
      return true;
    case "run_name":
      metadata.name = event.name;
      return true;
    case "tag":
      for (const tag of event.tags) {
        if (!metadata.tags.includes(tag)) metadata.tags.push(tag);
      }
      return true;
    case "param":
      metadata.params[event.key] = event.value;
      return true;
    case "run_end":
      metadata.status = event.status;
      metadata.endedMs = event.timestampMs;
      return true;
    default:
      return false;
  }
}
