// This module is browser compatible: the filesystem is reached at run time.
import { decodeEvent, encodeEvent } from "../../event/codec.ts";
import type { TrackingEvent } from "../../event/types.ts";
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
} from "../../runtime/fs.ts";
import {
  assertSafeName,
  DEFAULT_LOCAL_DIR,
  LOCAL_STORE_SCHEMA_VERSION,
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
  lastSeq: number;
  size: number;
  handle: FileHandleLike;
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "ENOSPC",
  "EMFILE",
  "ENFILE",
  "EAGAIN",
  "EBUSY",
  "EIO",
]);
const decoder = new TextDecoder();
const textEncoder = new TextEncoder();

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
  #chain: Promise<void> = Promise.resolve();

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
   * Appends the batch to each run's journal and updates `run.json`.
   *
   * @param batch Events in order within each run.
   * @returns `success`, or a `retryable` / `failure` result naming the cause.
   */
  send(
    batch: readonly TrackingEvent[],
    signal?: AbortSignal,
  ): Promise<SendResult> {
    // One send at a time: a send abandoned after a timeout may still be
    // writing when its retry starts, and must finish first.
    const result = this.#chain.then(() => this.#send(batch, signal));
    this.#chain = result.then(() => {}, () => {});
    return result;
  }

  async #send(
    batch: readonly TrackingEvent[],
    signal?: AbortSignal,
  ): Promise<SendResult> {
    try {
      const touched = new Map<
        RunState,
        { text: string; lastSeq: number; metadata: boolean }
      >();
      for (const event of batch) {
        if (this.#conflicts.has(event.runId)) {
          throw this.#conflicts.get(event.runId);
        }
        const run = this.#runs.get(event.runId) ?? await this.#openRun(event);
        let pending = touched.get(run);
        if (!pending) {
          pending = { text: "", lastSeq: run.lastSeq, metadata: false };
          touched.set(run, pending);
        }
        if (event.seq <= pending.lastSeq) continue; // stored already: a replay
        pending.text += encodeEvent(event) + "\n";
        pending.lastSeq = event.seq;
        if (event.kind !== "metric" && event.kind !== "media") {
          pending.metadata = applyToMetadata(run.metadata, event) ||
            pending.metadata;
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
        if (pending.text !== "") {
          const sizeBefore = run.size;
          try {
            // Bytes, not text: a string write is encoded again (and slower).
            const bytes = textEncoder.encode(pending.text);
            const written = await run.handle.write(bytes) as {
              bytesWritten?: number;
            } | undefined;
            const expected = bytes.length;
            if (
              typeof written?.bytesWritten === "number" &&
              written.bytesWritten !== expected
            ) {
              throw new Error(
                `short write: ${written.bytesWritten} of ${expected} bytes`,
              );
            }
            run.size = sizeBefore + expected;
          } catch (cause) {
            // Cut off whatever part was written: no torn line mid-journal.
            await run.handle.truncate(sizeBefore).catch(() => {});
            throw cause;
          }
          // Written: a retry must not write it again, even if the sync fails.
          run.lastSeq = pending.lastSeq;
          if (this.#sync) await run.handle.datasync();
        }
        if (pending.metadata) await this.#writeMetadata(run);
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

  /** Closes every open journal. */
  async close(): Promise<void> {
    const runs = [...this.#runs.values()];
    this.#runs.clear();
    for (const run of runs) await run.handle.close();
  }

  async #openRun(event: TrackingEvent): Promise<RunState> {
    const fs = this.#fs;
    let dir: string;
    let project: string;
    if (event.kind === "run_start") {
      project = event.project;
      dir = runDirectory(this.#root, project, event.runId);
      await fs.mkdir(dir, { recursive: true });
    } else {
      assertSafeName("runId", event.runId);
      const found = await this.#findRun(event.runId);
      if (!found) {
        throw new BackendError(
          `Cannot store events of run '${event.runId}': the run was never started in '${this.#root}'`,
          { backend: this.name, retryable: false },
        );
      }
      ({ dir, project } = found);
    }
    const metadata: RunMetadata = await fs.readFile(
      joinPath(dir, RUN_FILES.metadata),
      "utf8",
    )
      .then((text) => JSON.parse(text) as RunMetadata)
      .catch(() => ({
        schema: LOCAL_STORE_SCHEMA_VERSION,
        runId: event.runId,
        project,
        tags: [],
        params: {},
        status: "running" as const,
        startedMs: event.timestampMs,
      }));
    const eventsPath = joinPath(dir, RUN_FILES.events);
    const { lastSeq, size, first } = await recoverJournal(fs, eventsPath);
    if (
      event.kind === "run_start" && first?.kind === "run_start" &&
      first.timestampMs !== event.timestampMs
    ) {
      // Not a replay of the stored start: another logger reused the id.
      const conflict = new BackendError(
        `Cannot start run '${event.runId}' in '${dir}': a run with that id already exists (started at ${
          new Date(first.timestampMs).toISOString()
        }); resuming a stored run is not supported, use a new runId`,
        { backend: this.name, retryable: false },
      );
      this.#conflicts.set(event.runId, conflict);
      throw conflict;
    }
    const handle = await fs.open(eventsPath, "a");
    const run: RunState = { dir, metadata, lastSeq, size, handle };
    this.#runs.set(event.runId, run);
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
    const path = joinPath(run.dir, RUN_FILES.metadata);
    const temporary = `${path}.tmp`;
    await this.#fs.writeFile(
      temporary,
      JSON.stringify(run.metadata, null, 2) + "\n",
    );
    await this.#fs.rename(temporary, path);
  }
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

/**
 * Cuts a torn last line off a journal (a write interrupted by a crash) and
 * returns the `seq` of its last complete event (-1 when empty), its size
 * after the cut, and its first event.
 */
async function recoverJournal(
  fs: FileSystemLike,
  path: string,
): Promise<
  { lastSeq: number; size: number; first: TrackingEvent | undefined }
> {
  let handle: FileHandleLike;
  try {
    handle = await fs.open(path, "r+");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") {
      return { lastSeq: -1, size: 0, first: undefined };
    }
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const read = async (start: number, length: number): Promise<Uint8Array> => {
      const buffer = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(
          buffer,
          done,
          length - done,
          start + done,
        );
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buffer.subarray(0, done);
    };
    // The last complete line, reading a growing window from the end.
    let window = 64 * 1024;
    let end = size;
    let lastLine: Uint8Array | undefined;
    while (true) {
      const start = Math.max(0, size - window);
      const buffer = await read(start, size - start);
      const lastNewline = buffer.lastIndexOf(10);
      if (lastNewline === -1) {
        if (start > 0) {
          window *= 4;
          continue;
        }
        end = 0;
        break;
      }
      end = start + lastNewline + 1;
      const before = buffer.lastIndexOf(10, lastNewline - 1);
      if (before === -1 && start > 0) {
        window *= 4;
        continue;
      }
      lastLine = buffer.subarray(before + 1, lastNewline);
      break;
    }
    if (end < size) await handle.truncate(end);
    if (!lastLine) return { lastSeq: -1, size: end, first: undefined };
    const lastSeq = decodeEvent(decoder.decode(lastLine)).seq;
    // The first line: the run's start, to tell a replay from a reused id.
    const head = await read(0, Math.min(end, 64 * 1024));
    const firstNewline = head.indexOf(10);
    let first: TrackingEvent | undefined;
    try {
      first = firstNewline > 0
        ? decodeEvent(decoder.decode(head.subarray(0, firstNewline)))
        : undefined;
    } catch {
      first = undefined;
    }
    return { lastSeq, size: end, first };
  } finally {
    await handle.close();
  }
}
