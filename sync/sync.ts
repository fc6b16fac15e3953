// This module is browser compatible: the filesystem is reached at run time.
import type { RunStartEvent, TrackingEvent } from "../event/types.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../pipeline/backend.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { MemorySpool } from "../pipeline/memory_spool.ts";
import type { RetryOptions } from "../pipeline/retry.ts";
import type { FlushReport } from "../pipeline/pipeline.ts";
import { LocalStore, type RunInfo } from "../backends/local/local_store.ts";
import { DroppedEventsError, TrackerError } from "../errors/errors.ts";
import { createHash, toHex } from "../artifact/hash.ts";
import {
  assertSafeName,
  DEFAULT_DIR,
  type FileSystemLike,
  isProcessAlive,
  joinPath,
  processId,
  processStartMs,
  readEnvironment,
  requireFileSystem,
  writeFileAtomic,
} from "../runtime/fs.ts";

/** Version of the sync state files' layout, written in their `schema` field. */
export const SYNC_STATE_SCHEMA_VERSION = 1;

/** The folder of a run's sync state files, inside the run's folder. */
export const SYNC_FOLDER = "sync";

/** What {@linkcode SyncOptions.onProgress} receives after every acknowledged batch. */
export interface SyncProgress {
  /** The run being sent. */
  runId: string;
  /** Its project. */
  project: string;
  /** Events of this sync the target acknowledged so far. */
  sent: number;
  /**
   * Events this sync has to send: the run's events after those an earlier
   * sync delivered (so `sent === total` at the end of a complete sync).
   */
  total: number;
}

/** Options of {@linkcode syncRun}. */
export interface SyncOptions {
  /**
   * Root folder of the local store.
   * @default {".uetai"} (or `UETAI_DIR`)
   */
  dir?: string;
  /** The run's project. */
  project: string;
  /** The run. */
  runId: string;
  /**
   * The backend to send to, such as `new CometBackend({ env })`. Built and
   * owned by the caller: sync never closes it (a Comet or W&B backend keeps
   * a heartbeat going for a run synced while it is still running until it
   * is closed), so call `target.close()` when done.
   */
  target: Backend;
  /** Called with the progress after every batch the target acknowledged (and once at the start). */
  onProgress?: (progress: SyncProgress) => void;
  /**
   * Stops the sync: the request on its way is abandoned and the sync
   * resolves with an incomplete report. What the target acknowledged is
   * recorded, so a later sync continues from there.
   */
  signal?: AbortSignal;
  /**
   * Longest the sync may take, in milliseconds; it then stops as on
   * `signal` (an incomplete report). No limit by default: a target that is
   * down is retried with backoff until `signal` aborts.
   */
  timeoutMs?: number;
  /**
   * Names where the target sends runs, to keep one sync state per
   * destination (a run synced to one Comet workspace is not "already
   * synced" to another). By default it is read from the target where it
   * exposes it (the URL, workspace or entity and fixed project of the
   * Comet, MLflow and W&B backends), never with credentials.
   */
  destination?: string;
  /** Backoff between retries of a batch the target could not take now. */
  retry?: RetryOptions;
  /** Receives each failure the target reported that will be retried (for logs). */
  onError?: (error: Error) => void;
  /** The filesystem; `node:fs/promises` reached at run time by default. */
  fs?: FileSystemLike;
}

/** Options of {@linkcode syncAll}: those of {@linkcode syncRun} for every run of a project, or of the store. */
export type SyncAllOptions = Omit<SyncOptions, "runId" | "project"> & {
  /** Only the runs of this project; every project of the store by default. */
  project?: string;
};

/** How the sync of one run ended. */
export interface SyncReport {
  /** The run. */
  runId: string;
  /** Its project. */
  project: string;
  /** The target's name, such as `"comet"`. */
  target: string;
  /** Events this sync delivered. */
  sent: number;
  /** Events an earlier sync had delivered already (not sent again). */
  skipped: number;
  /** Events of the run in the local store when the sync began. */
  total: number;
  /** Whether the target now holds every one of those events (`skipped + sent === total`). */
  complete: boolean;
  /** Why an incomplete sync stopped (aborted, out of time, refused). */
  error?: string;
}

/**
 * What a run's sync state file holds:
 * `<dir>/<project>/<runId>/sync/<target>[-<destination hash>].json`,
 * rewritten atomically after every batch the target acknowledged.
 */
export interface SyncState {
  /** Layout version ({@linkcode SYNC_STATE_SCHEMA_VERSION}). */
  schema: number;
  /** The target's name, such as `"comet"`. */
  target: string;
  /** Where the target sends runs (URL, workspace, ...; never credentials); empty when unknown. */
  destination: string;
  /** The run's project. */
  project: string;
  /** The run. */
  runId: string;
  /** `seq` of the last event the target acknowledged, -1 before the first. Events up to it are never sent again. */
  ackedSeq: number;
  /** How many events of the run the target acknowledged. */
  ackedEvents: number;
  /** Whether the target held every event the run had when this state was written. */
  complete: boolean;
  /** When this state was written, in milliseconds since the epoch. */
  updatedMs: number;
  /** The refusal that stopped the last sync, if one did. */
  error?: string;
}

/**
 * The run to sync is not in the local store.
 *
 * @example
 * ```ts
 * import { SyncRunNotFoundError } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const error = new SyncRunNotFoundError({ dir: ".uetai", project: "p", runId: "r" });
 * assert.match(error.message, /run 'r' of project 'p'/);
 * ```
 */
export class SyncRunNotFoundError extends TrackerError {
  /** The store's root folder. */
  readonly dir: string;
  /** The project asked for. */
  readonly project: string;
  /** The run asked for. */
  readonly runId: string;

  /**
   * Creates the error.
   *
   * @param options The store, project and run, and the underlying error.
   */
  constructor(
    options: { dir: string; project: string; runId: string; cause?: unknown },
  ) {
    super(
      `Cannot sync run '${options.runId}' of project '${options.project}': there is no such run in the local store '${options.dir}'`,
      { cause: options.cause },
    );
    this.name = "SyncRunNotFoundError";
    this.dir = options.dir;
    this.project = options.project;
    this.runId = options.runId;
  }
}

/**
 * A sync stopped for good: the target refused a batch (its message is in
 * this one, and the refusal is the `cause`), or the sync state could not
 * be read or written. `report` tells how far the run got; `reports` holds
 * every run's report of a {@linkcode syncAll}, this one last.
 *
 * @example
 * ```ts
 * import { SyncError } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const report = { runId: "r", project: "p", target: "comet", sent: 3, skipped: 0, total: 9, complete: false };
 * const error = new SyncError("Cannot sync run 'r' to 'comet': forbidden", { report });
 * assert.equal(error.report.sent, 3);
 * assert.deepEqual(error.reports, [report]);
 * ```
 */
export class SyncError extends TrackerError {
  /** How far the run got. */
  readonly report: SyncReport;
  /** Every report of the call, this run's last. */
  readonly reports: SyncReport[];

  /**
   * Creates the error.
   *
   * @param message What failed, with the target's own message.
   * @param options The run's report, earlier runs' reports and the cause.
   */
  constructor(
    message: string,
    options: { report: SyncReport; reports?: SyncReport[]; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = "SyncError";
    this.report = options.report;
    this.reports = options.reports ?? [options.report];
  }
}

/**
 * Another sync of the same run to the same destination is under way (in
 * this process or another one): running both would send events twice.
 *
 * @example
 * ```ts
 * import { SyncBusyError } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const error = new SyncBusyError("Cannot sync run 'r': busy", { path: ".uetai/p/r/sync/comet.json.lock" });
 * assert.equal(error.path, ".uetai/p/r/sync/comet.json.lock");
 * ```
 */
export class SyncBusyError extends TrackerError {
  /** The lock file. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done.
   * @param options The lock file.
   */
  constructor(message: string, options: { path: string }) {
    super(message);
    this.name = "SyncBusyError";
    this.path = options.path;
  }
}

/**
 * Sends one run of the local store to a dashboard backend, through the
 * logger's pipeline (batches cut to the target's limits, retries with
 * backoff, `Retry-After` and throttling honoured). Idempotent and
 * resumable: the highest `seq` the target acknowledged is recorded after
 * every batch in the run's sync state (see {@linkcode SyncState}), and only
 * later events are sent, so a second sync sends nothing and an interrupted
 * one continues where the acknowledged events end. A run still being
 * logged sends what its journal holds; a later sync sends the rest. Media
 * bytes are read back from their files.
 *
 * Resolves with an incomplete report when `signal` aborts or `timeoutMs`
 * passes; throws {@linkcode SyncError} when the target refuses a batch for
 * good (with the target's message), {@linkcode SyncRunNotFoundError} for a
 * run that is not in the store and {@linkcode SyncBusyError} while another
 * sync of the run to the same destination runs.
 *
 * @param options The store, the run, the target and how to report progress.
 * @returns How far the run got.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import { syncRun } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ backend: "local", dir, project: "p" });
 * logger.log({ loss: 0.5 }, { step: 0 });
 * await logger.end();
 * const target = new InMemoryBackend();
 * const report = await syncRun({ dir, project: "p", runId: logger.runId, target });
 * assert.equal(report.complete, true);
 * const again = await syncRun({ dir, project: "p", runId: logger.runId, target });
 * assert.deepEqual([again.sent, again.skipped], [0, report.sent]);
 * await target.close();
 * ```
 */
export async function syncRun(options: SyncOptions): Promise<SyncReport> {
  checkTarget(options?.target);
  assertSafeName("project", options.project);
  assertSafeName("runId", options.runId);
  const fs = requireFileSystem(options.fs, "sync runs of the local store");
  const dir = options.dir ?? readEnvironment().UETAI_DIR ?? DEFAULT_DIR;
  return await syncOne(fs, dir, options, deadlineOf(options.timeoutMs));
}

/**
 * Sends every run of a project (or of the whole store), oldest first, as
 * {@linkcode syncRun} does: runs synced before send nothing, interrupted
 * ones continue. Stops at the first run that fails (the
 * {@linkcode SyncError} carries every report so far in `reports`) and when
 * `signal` aborts or `timeoutMs` (for all runs together) passes: the runs
 * not reached yet have no report.
 *
 * @param options The store, optionally a project, the target and how to report progress.
 * @returns One report per run reached, in the order synced.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import { syncAll } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * for (const step of [0, 1]) {
 *   const logger = createLogger({ backend: "local", dir, project: "p" });
 *   logger.log({ loss: 1 / (step + 1) }, { step });
 *   await logger.end();
 * }
 * const target = new InMemoryBackend();
 * const reports = await syncAll({ dir, target });
 * assert.deepEqual(reports.map((r) => r.complete), [true, true]);
 * await target.close();
 * ```
 */
export async function syncAll(
  options: SyncAllOptions,
): Promise<SyncReport[]> {
  checkTarget(options?.target);
  if (options.project !== undefined) {
    assertSafeName("project", options.project);
  }
  const fs = requireFileSystem(options.fs, "sync runs of the local store");
  const dir = options.dir ?? readEnvironment().UETAI_DIR ?? DEFAULT_DIR;
  const deadlineMs = deadlineOf(options.timeoutMs);
  const store = new LocalStore({ dir, fs });
  const projects = options.project !== undefined
    ? [options.project]
    : await store.listProjects();
  const reports: SyncReport[] = [];
  for (const project of projects) {
    const runs = (await store.listRuns(project)).reverse();
    for (const run of runs) {
      if (options.signal?.aborted || Date.now() >= deadlineMs) return reports;
      try {
        const report = await syncOne(
          fs,
          dir,
          { ...options, project, runId: run.runId },
          deadlineMs,
        );
        reports.push(report);
        if (!report.complete) return reports;
      } catch (error) {
        if (error instanceof SyncError) error.reports.unshift(...reports);
        throw error;
      }
    }
  }
  return reports;
}

/**
 * Reads the sync states of a run: one per destination it was synced to.
 *
 * @param options The store, the project and the run.
 * @returns The states, sorted by target and destination; empty when the run was never synced.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import { readSyncStates, syncRun } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ backend: "local", dir, project: "p" });
 * await logger.end();
 * await syncRun({ dir, project: "p", runId: logger.runId, target: new InMemoryBackend() });
 * const [state] = await readSyncStates({ dir, project: "p", runId: logger.runId });
 * assert.deepEqual([state.target, state.complete], ["memory", true]);
 * ```
 */
export async function readSyncStates(
  options: {
    dir?: string;
    project: string;
    runId: string;
    fs?: FileSystemLike;
  },
): Promise<SyncState[]> {
  assertSafeName("project", options.project);
  assertSafeName("runId", options.runId);
  const fs = requireFileSystem(options.fs, "read sync states");
  const dir = options.dir ?? readEnvironment().UETAI_DIR ?? DEFAULT_DIR;
  const folder = joinPath(dir, options.project, options.runId, SYNC_FOLDER);
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  const states: SyncState[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".json")) continue;
    const text = await fs.readFile(joinPath(folder, name), "utf8").catch(
      () => undefined,
    );
    const state = text === undefined ? undefined : parseState(text);
    if (state) states.push(state);
  }
  return states.sort((a, b) =>
    a.target.localeCompare(b.target) ||
    a.destination.localeCompare(b.destination)
  );
}

// ---------------------------------------------------------------------------

/** Most events (and estimated bytes) read ahead of what the target acknowledged. */
const WINDOW_EVENTS = 10_000;
const WINDOW_BYTES = 16 * 1024 * 1024;
/** Longest single wait on the pipeline, so an abort is noticed soon. */
const FLUSH_SLICE_MS = 250;
/** A lock file without a readable owner is taken over after this long. */
const UNREADABLE_LOCK_MS = 10_000;

function checkTarget(target: unknown): asserts target is Backend {
  const candidate = target as Partial<Backend> | undefined;
  if (
    typeof candidate !== "object" || candidate === null ||
    typeof candidate.name !== "string" ||
    typeof candidate.send !== "function" ||
    typeof candidate.limits !== "object"
  ) {
    throw new TypeError(
      `Cannot sync: 'target' must be a backend (an object with 'name', 'limits' and 'send'), got ${
        candidate === null ? "null" : typeof candidate
      }`,
    );
  }
}

function deadlineOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return Infinity;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new RangeError(
      `Cannot sync: 'timeoutMs' must be a number of milliseconds >= 0, got ${
        String(timeoutMs)
      }`,
    );
  }
  return Date.now() + timeoutMs;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

async function syncOne(
  fs: FileSystemLike,
  dir: string,
  options: SyncOptions,
  deadlineMs: number,
): Promise<SyncReport> {
  const { project, runId, target } = options;
  const store = new LocalStore({ dir, fs });
  let run: RunInfo;
  try {
    run = await store.getRun(project, runId);
  } catch (cause) {
    if (cause instanceof TypeError) throw cause;
    throw new SyncRunNotFoundError({ dir, project, runId, cause });
  }
  const destination = options.destination ?? describeDestination(target);
  const folder = joinPath(run.path, SYNC_FOLDER);
  await fs.mkdir(folder, { recursive: true });
  const statePath = joinPath(folder, stateFileName(target.name, destination));
  const release = await acquireLock(fs, `${statePath}.lock`, runId, target);
  try {
    return await new RunSync({
      fs,
      store,
      run,
      target,
      destination,
      statePath,
      options,
      deadlineMs,
    }).run();
  } finally {
    await release();
  }
}

/** Where a target sends runs, from what it exposes, without credentials. */
function describeDestination(target: Backend): string {
  const read = (object: unknown, key: string): string | undefined => {
    try {
      const value = (object as Record<string, unknown> | undefined)?.[key];
      return typeof value === "string" && value !== "" ? value : undefined;
    } catch {
      return undefined;
    }
  };
  let http: unknown;
  try {
    http = (target as unknown as { http?: unknown }).http;
  } catch {
    http = undefined;
  }
  const parts: string[] = [];
  const url = read(http, "rootUrl") ?? read(http, "baseUrl") ??
    read(http, "trackingUri");
  if (url !== undefined) parts.push(withoutCredentials(url));
  for (
    const key of [
      "workspace",
      "entity",
      "projectName",
      "project",
      "experimentName",
    ]
  ) {
    const value = read(target, key);
    if (value !== undefined) parts.push(`${key}=${value}`);
  }
  return parts.join(" ");
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    parsed.hash = "";
    return parsed.href;
  } catch {
    return "";
  }
}

/** `<target>.json`, or `<target>-<12 hex of the destination's SHA-256>.json`. */
function stateFileName(target: string, destination: string): string {
  const name = target.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\./, "_")
    .slice(0, 60) || "target";
  if (destination === "") return `${name}.json`;
  const hash = createHash("sha256");
  hash.update(new TextEncoder().encode(destination));
  return `${name}-${toHex(hash.digest()).slice(0, 12)}.json`;
}

function parseState(text: string): SyncState | undefined {
  let value: Partial<SyncState>;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    typeof value !== "object" || value === null ||
    value.schema !== SYNC_STATE_SCHEMA_VERSION ||
    typeof value.target !== "string" ||
    typeof value.destination !== "string" ||
    typeof value.project !== "string" || typeof value.runId !== "string" ||
    !Number.isSafeInteger(value.ackedSeq) || value.ackedSeq! < -1 ||
    !Number.isSafeInteger(value.ackedEvents) || value.ackedEvents! < 0 ||
    typeof value.complete !== "boolean"
  ) return undefined;
  return value as SyncState;
}

// ------------------------------------------------------------------- lock

interface LockOwner {
  pid?: number;
  process?: string;
  startedMs?: number;
}

/** Lock files held by this copy of the library. */
const HELD_LOCKS = new Set<string>();
let processNonce: string | undefined;

function lockOwner(): LockOwner {
  processNonce ??= crypto.randomUUID();
  return { pid: processId(), process: processNonce, startedMs: Date.now() };
}

async function isStaleLock(fs: FileSystemLike, path: string): Promise<boolean> {
  let owner: LockOwner | undefined;
  try {
    owner = JSON.parse(await fs.readFile(path, "utf8"));
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return true;
    owner = undefined;
  }
  if (typeof owner !== "object" || owner === null) {
    // Being written by its owner, or torn by a crash: old means torn.
    const stat = await fs.stat(path).catch(() => undefined);
    return stat === undefined ||
      Date.now() - stat.mtimeMs > UNREADABLE_LOCK_MS;
  }
  // Left by this copy of the library (it no longer holds it).
  if (owner.process === processNonce) return true;
  if (typeof owner.pid !== "number") return true;
  if (owner.pid === processId()) {
    // Our pid, another copy: a process that had this pid before (a
    // container restarted) if it started before this one.
    const startedMs = processStartMs();
    return startedMs !== undefined && typeof owner.startedMs === "number" &&
      owner.startedMs < startedMs - 1000;
  }
  return !isProcessAlive(owner.pid);
}

async function acquireLock(
  fs: FileSystemLike,
  path: string,
  runId: string,
  target: Backend,
): Promise<() => Promise<void>> {
  const busy = (): SyncBusyError =>
    new SyncBusyError(
      `Cannot sync run '${runId}' to '${target.name}': another sync of it to the same destination is under way (lock file '${path}')`,
      { path },
    );
  if (HELD_LOCKS.has(path)) throw busy();
  HELD_LOCKS.add(path);
  try {
    for (let attempt = 0;; attempt++) {
      try {
        const handle = await fs.open(path, "wx");
        try {
          await handle.write(JSON.stringify(lockOwner()));
        } finally {
          await handle.close();
        }
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== "EEXIST" || attempt > 0) {
          throw error;
        }
        if (!(await isStaleLock(fs, path))) throw busy();
        await fs.rm(path, { force: true });
      }
    }
  } catch (error) {
    HELD_LOCKS.delete(path);
    if (error instanceof SyncBusyError) throw error;
    if ((error as { code?: string }).code === "EEXIST") throw busy();
    throw error;
  }
  return async (): Promise<void> => {
    await fs.rm(path, { force: true }).catch(() => {});
    HELD_LOCKS.delete(path);
  };
}

// ------------------------------------------------------------- the target

/**
 * The target as the pipeline sees it: sends go one at a time, each
 * acknowledged prefix is recorded before the pipeline hears of it, and once
 * the target refused a batch for good (or the sync stopped) nothing more
 * reaches it.
 */
class TrackedTarget implements Backend {
  readonly name: string;
  readonly limits: BackendLimits;
  #target: Backend;
  #halt: AbortSignal;
  #onAck: (events: readonly TrackingEvent[]) => Promise<void>;
  #failure: Error | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    target: Backend,
    halt: AbortSignal,
    onAck: (events: readonly TrackingEvent[]) => Promise<void>,
  ) {
    this.name = target.name;
    this.limits = target.limits;
    this.#target = target;
    this.#halt = halt;
    this.#onAck = onAck;
  }

  /** The refusal (or state failure) that stopped the sync, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    // One send at a time, also when the pipeline abandoned one that is
    // still on its way.
    const attempt = this.#chain.then(() => this.#attempt(batch, signal));
    this.#chain = attempt.catch(() => {});
    return attempt;
  }

  /** Resolves once no send is on its way. */
  async settled(): Promise<void> {
    await this.#chain;
  }

  /** The caller owns the target: nothing to release here. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async #attempt(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    if (this.#failure) {
      return {
        status: "failure",
        error: this.#failure,
        rejected: batch.length,
      };
    }
    if (this.#halt.aborted || signal.aborted) {
      return {
        status: "retryable",
        error: toError(this.#halt.aborted ? this.#halt.reason : signal.reason),
      };
    }
    const controller = new AbortController();
    const abort = (): void =>
      controller.abort(this.#halt.aborted ? this.#halt.reason : signal.reason);
    this.#halt.addEventListener("abort", abort, { once: true });
    signal.addEventListener("abort", abort, { once: true });
    let result: SendResult;
    try {
      result = await this.#target.send(batch, controller.signal);
    } catch (error) {
      result = { status: "retryable", error: toError(error) };
    } finally {
      this.#halt.removeEventListener("abort", abort);
      signal.removeEventListener("abort", abort);
    }
    const acked = result.status === "success" ? batch.length : Math.min(
      batch.length,
      Math.max(0, Math.floor(result.acked ?? 0)),
    );
    if (acked > 0) {
      try {
        await this.#onAck(batch.slice(0, acked));
      } catch (error) {
        this.#failure = toError(error);
      }
    }
    if (result.status === "failure") this.#failure ??= result.error;
    return result;
  }
}

// -------------------------------------------------------------- one run

interface RunSyncOptions {
  fs: FileSystemLike;
  store: LocalStore;
  run: RunInfo;
  target: Backend;
  destination: string;
  statePath: string;
  options: SyncOptions;
  deadlineMs: number;
}

function isRowEvent(event: TrackingEvent): boolean {
  return event.kind === "metric" || event.kind === "media";
}

function estimateBytes(event: TrackingEvent): number {
  switch (event.kind) {
    case "metric":
      return 160 + event.key.length;
    case "media":
      return 320 + event.key.length + Math.ceil(event.data.byteLength * 4 / 3);
    default:
      return 320;
  }
}

class RunSync {
  #fs: FileSystemLike;
  #store: LocalStore;
  #run: RunInfo;
  #target: Backend;
  #statePath: string;
  #options: SyncOptions;
  #deadlineMs: number;
  #state: SyncState;
  #halt = new AbortController();
  #lastRetryError: Error | undefined;
  #preamble: RunStartEvent | undefined;
  #sent = 0;
  #toSend = 0;
  #writes: Promise<void> = Promise.resolve();

  constructor(options: RunSyncOptions) {
    this.#fs = options.fs;
    this.#store = options.store;
    this.#run = options.run;
    this.#target = options.target;
    this.#statePath = options.statePath;
    this.#options = options.options;
    this.#deadlineMs = options.deadlineMs;
    this.#state = {
      schema: SYNC_STATE_SCHEMA_VERSION,
      target: options.target.name,
      destination: options.destination,
      project: options.run.project,
      runId: options.run.runId,
      ackedSeq: -1,
      ackedEvents: 0,
      complete: false,
      updatedMs: 0,
    };
  }

  async run(): Promise<SyncReport> {
    const { project, runId } = this.#run;
    await this.#readState();
    const state = this.#state;
    // An ended run synced whole before: nothing to read or send.
    if (
      state.complete && this.#run.status !== "running" &&
      this.#run.journalSeq !== undefined &&
      state.ackedSeq >= this.#run.journalSeq
    ) {
      this.#progress();
      return this.#report(state.ackedEvents, state.ackedEvents);
    }

    // What the journal holds now, what the target has, and the run's
    // start, name and tags as far as the target has them.
    let total = 0;
    let skipped = 0;
    let lastSeq = -1;
    let start: RunStartEvent | undefined;
    let name: string | undefined;
    const tags: string[] = [];
    for await (
      const event of this.#store.readEvents(project, runId, {
        mediaBytes: false,
      })
    ) {
      if (event.seq <= lastSeq) continue;
      total++;
      lastSeq = event.seq;
      if (event.seq > state.ackedSeq) continue;
      skipped++;
      if (event.kind === "run_start") {
        start = event;
        name = event.name;
        for (const tag of event.tags) if (!tags.includes(tag)) tags.push(tag);
      } else if (event.kind === "run_name") name = event.name;
      else if (event.kind === "tag") {
        for (const tag of event.tags) if (!tags.includes(tag)) tags.push(tag);
      }
    }
    state.ackedEvents = skipped;
    this.#toSend = total - skipped;
    this.#progress();
    if (this.#toSend === 0) {
      if (!state.complete || state.error !== undefined) {
        state.complete = true;
        delete state.error;
        await this.#writeState();
      }
      return this.#report(skipped, total);
    }
    if (start) {
      // Resuming: the target starts the run again (found, not created) in
      // this process before the rest, with its name and tags so far.
      const preamble: RunStartEvent = { ...start, tags };
      if (name === undefined) delete preamble.name;
      else preamble.name = name;
      this.#preamble = preamble;
    }

    const userSignal = this.#options.signal;
    const onAbort = (): void => this.#stop(userSignal!.reason);
    if (userSignal?.aborted) onAbort();
    userSignal?.addEventListener("abort", onAbort, { once: true });
    const tracked = new TrackedTarget(
      this.#target,
      this.#halt.signal,
      (events) => this.#acked(events),
    );
    const pipeline = new Pipeline({
      backends: [tracked],
      createSpool: () => new MemorySpool({ maxBytes: Number.MAX_SAFE_INTEGER }),
      // Nothing goes out before a window is complete (see #drain): batches
      // are full or end where a step ends.
      flushIntervalMs: 2_147_483_647,
      maxQueueBytes: Number.MAX_SAFE_INTEGER,
      retry: this.#options.retry,
      onError: ({ error }) => {
        if (error instanceof DroppedEventsError) return;
        this.#lastRetryError = error;
        try {
          this.#options.onError?.(error);
        } catch {
          // A failing hook must not stop the sync.
        }
      },
    });
    let flushing: Promise<unknown> = Promise.resolve();
    const drain = async (): Promise<void> => {
      while (!this.#halt.signal.aborted && !tracked.failure) {
        const left = this.#deadlineMs - Date.now();
        if (left <= 0) {
          this.#stop(
            new TrackerError(
              `Sync of run '${runId}' to '${this.#target.name}' did not finish within ${this.#options.timeoutMs} ms${
                this.#lastRetryError ? `: ${this.#lastRetryError.message}` : ""
              }`,
            ),
          );
          return;
        }
        const flush = pipeline.flush(Math.min(FLUSH_SLICE_MS, left));
        flushing = flush;
        const report = await flush as FlushReport;
        if (report.backends[0].pendingEvents === 0) return;
      }
    };
    let readError: Error | undefined;
    try {
      if (this.#preamble) pipeline.enqueue(this.#preamble);
      let windowEvents = 0;
      let windowBytes = 0;
      let lastRowStep: number | undefined;
      let previousSeq = state.ackedSeq;
      for await (
        const event of this.#store.readEvents(project, runId, {
          mediaBytes: false,
        })
      ) {
        if (event.seq <= previousSeq) continue;
        if (event.seq > lastSeq) break;
        previousSeq = event.seq;
        if (this.#halt.signal.aborted || tracked.failure) break;
        if (event.kind === "media" && event.file !== undefined) {
          try {
            event.data = await this.#store.readMediaFile(
              project,
              runId,
              event.file,
            );
          } catch (cause) {
            readError = new TrackerError(
              `Cannot read media file '${event.file}' of run '${runId}' (event ${event.seq}): ${
                toError(cause).message
              }`,
              { cause },
            );
            break;
          }
          delete event.file;
        }
        const continuesStep = isRowEvent(event) &&
          lastRowStep === (event as { step: number }).step;
        if (
          (windowEvents >= WINDOW_EVENTS || windowBytes >= WINDOW_BYTES) &&
          (!continuesStep || windowEvents >= 2 * WINDOW_EVENTS ||
            windowBytes >= 2 * WINDOW_BYTES)
        ) {
          await drain();
          windowEvents = 0;
          windowBytes = 0;
          if (this.#halt.signal.aborted || tracked.failure) break;
        }
        pipeline.enqueue(event);
        windowEvents++;
        windowBytes += estimateBytes(event);
        lastRowStep = isRowEvent(event)
          ? (event as { step: number }).step
          : undefined;
      }
      if (!readError) await drain();
    } finally {
      userSignal?.removeEventListener("abort", onAbort);
      const stopped = this.#halt.signal.aborted || tracked.failure ||
        readError;
      if (stopped && !this.#halt.signal.aborted) {
        this.#halt.abort(tracked.failure ?? readError);
      }
      await pipeline.shutdown(0);
      await flushing.catch(() => {});
      await tracked.settled();
      await this.#writes.catch(() => {});
    }

    const complete = !this.#halt.signal.aborted && state.ackedSeq >= lastSeq;
    const failure = tracked.failure ?? readError;
    if (failure) {
      const report = this.#report(skipped, total, failure.message);
      state.complete = false;
      state.error = failure.message;
      await this.#writeState().catch(() => {});
      throw new SyncError(
        `Cannot sync run '${runId}' of project '${project}' to '${this.#target.name}': ${failure.message}`,
        { report, cause: failure },
      );
    }
    if (!complete) {
      const reason = this.#halt.signal.reason;
      return this.#report(
        skipped,
        total,
        reason === undefined
          ? `${total - skipped - this.#sent} events were not acknowledged`
          : `Stopped: ${toError(reason).message}`,
      );
    }
    state.complete = true;
    delete state.error;
    await this.#writeState();
    return this.#report(skipped, total);
  }

  #stop(reason: unknown): void {
    if (!this.#halt.signal.aborted) {
      this.#halt.abort(
        reason ?? new TrackerError("The sync was aborted"),
      );
    }
  }

  #report(skipped: number, total: number, error?: string): SyncReport {
    const report: SyncReport = {
      runId: this.#run.runId,
      project: this.#run.project,
      target: this.#target.name,
      sent: this.#sent,
      skipped,
      total,
      complete: error === undefined && skipped + this.#sent >= total,
    };
    if (error !== undefined) report.error = error;
    return report;
  }

  #progress(): void {
    try {
      this.#options.onProgress?.({
        runId: this.#run.runId,
        project: this.#run.project,
        sent: this.#sent,
        total: this.#toSend,
      });
    } catch (error) {
      try {
        this.#options.onError?.(toError(error));
      } catch {
        // Nothing more to tell.
      }
    }
  }

  /** Records events the target acknowledged (in order), then reports progress. */
  async #acked(events: readonly TrackingEvent[]): Promise<void> {
    const state = this.#state;
    let advanced = false;
    for (const event of events) {
      if (event === this.#preamble || event.seq <= state.ackedSeq) continue;
      state.ackedSeq = event.seq;
      state.ackedEvents++;
      this.#sent++;
      advanced = true;
    }
    if (!advanced) return;
    await this.#writeState();
    this.#progress();
  }

  async #readState(): Promise<void> {
    let text: string;
    try {
      text = await this.#fs.readFile(this.#statePath, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return;
      throw this.#stateError("read", error);
    }
    const state = parseState(text);
    if (
      !state || state.runId !== this.#run.runId ||
      state.project !== this.#run.project
    ) {
      throw this.#stateError(
        "read",
        new SyntaxError("it is not a sync state of this run"),
      );
    }
    this.#state = { ...state, destination: this.#state.destination };
  }

  /** Writes the state atomically; writes are serialised. */
  #writeState(): Promise<void> {
    const write = async (): Promise<void> => {
      this.#state.updatedMs = Date.now();
      try {
        await writeFileAtomic(
          this.#fs,
          this.#statePath,
          JSON.stringify(this.#state, null, 2) + "\n",
          { durable: true },
        );
      } catch (error) {
        throw this.#stateError("write", error);
      }
    };
    const next = this.#writes.then(write, write);
    this.#writes = next.catch(() => {});
    return next;
  }

  #stateError(what: "read" | "write", cause: unknown): SyncError {
    const hint = what === "read"
      ? "remove it to sync the run from its start (events the target holds already would be sent again)"
      : "the events last acknowledged may be sent again by the next sync";
    return new SyncError(
      `Cannot ${what} the sync state '${this.#statePath}' of run '${this.#run.runId}': ${
        toError(cause).message
      }; ${hint}`,
      { report: this.#report(0, 0, toError(cause).message), cause },
    );
  }
}
