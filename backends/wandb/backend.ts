// This module is browser compatible.
import type {
  MediaEvent,
  MetricEvent,
  ParamValue,
  RunEndEvent,
  RunStartEvent,
  TrackingEvent,
} from "../../event/types.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../../pipeline/backend.ts";
import { sendInUnits } from "../../pipeline/units.ts";
import { waitFor } from "../../pipeline/retry.ts";
import {
  type Clock,
  systemClock,
  type TimerHandle,
} from "../../runtime/clock.ts";
import {
  resolveWandbConfig,
  type WandbBackendOptions,
  type WandbConfig,
} from "./config.ts";
import type { ArtifactStore } from "../../artifact/types.ts";
import { WandbArtifactStore } from "./artifacts.ts";
import { WandbApiError, WandbHttp } from "./http.ts";
import { configJson, parseWandbJson, wandbJson, wandbMedia } from "./encode.ts";
import {
  CREATE_RUN_FILES,
  RUN_RESUME_STATUS,
  UPSERT_BUCKET,
  VIEWER,
} from "./queries.ts";

/** Where a run lives on W&B. */
export interface WandbRunInfo {
  /** Entity (user or team), as the server names it. */
  entity: string;
  /** Project, as the server names it. */
  project: string;
  /** The run id (the uetai run id). */
  runId: string;
  /** The server's storage id of the run. */
  storageId: string;
  /** The run's page. */
  url: string;
}

interface RunState {
  project?: string;
  info?: WandbRunInfo;
  creating?: Promise<WandbRunInfo>;
  start?: RunStartEvent;
  config: Record<string, ParamValue>;
  tags: string[];
  displayName?: string;
  /** Lines of `wandb-history.jsonl` the server holds. */
  historyOffset: number;
  /**
   * The last `_step` the server held when this process found the run (-1:
   * none): steps up to it came from a process that died before its
   * acknowledgement and are not sent again. Steps this process sent are
   * never skipped (a step the pipeline split over two batches gets a
   * second row with the rest of its keys).
   */
  lastStep: number;
  /** Lines of `output.log` the server holds. */
  logOffset: number;
  /** Console lines being sent, one request after another. */
  output: Promise<void>;
  summary: Record<string, unknown>;
  startMs?: number;
  /** Run files uploaded and not yet reported in a file_stream request. */
  uploaded: string[];
  heartbeat?: TimerHandle;
  lastPostMs: number;
  /** The finish began: no console line is accepted any more. */
  finishing: boolean;
  ended: boolean;
}

interface Bucket {
  id?: string;
  name?: string;
  displayName?: string;
  historyLineCount?: number;
  project?: { name?: string; entity?: { name?: string } };
}

interface ResumeBucket extends Bucket {
  summaryMetrics?: string | null;
  logLineCount?: number | null;
  historyTail?: string | null;
  config?: string | null;
  tags?: string[] | null;
}

/** W&B marks a run crashed when nothing arrived for longer than this. */
const HEARTBEAT_MS = 30_000;

/**
 * The Weights & Biases backend: uetai runs become W&B runs (created with
 * `UpsertBucket`; the run id is the uetai run id), parameters are the run
 * config, metrics and media become history rows streamed through
 * `file_stream` with line offsets the server confirms (so a run continued by
 * another process after a crash has every step once), the summary follows
 * each row, media files are uploaded to signed URLs (`CreateRunFiles`)
 * without the key, and `run_end` finishes the stream with the exit code. A
 * heartbeat keeps a quiet run from being marked crashed.
 *
 * @example
 * ```ts
 * import { WandbBackend } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const backend = new WandbBackend({ apiKey: "k".repeat(40), entity: "me" });
 * assert.equal(backend.name, "wandb");
 * await backend.close();
 * ```
 */
export class WandbBackend implements Backend {
  /** `"wandb"`. */
  readonly name: string = "wandb";
  /** What one `send()` may carry. */
  readonly limits: BackendLimits = {
    maxEventsPerBatch: 1000,
    maxBatchBytes: 8 * 1024 * 1024,
  };
  #config: WandbConfig;
  #http: WandbHttp;
  #clock: Clock;
  #runs = new Map<string, RunState>();
  #entity: Promise<string> | undefined;
  /**
   * Where runs replayed without their start (from a dead process's spool)
   * are looked up: the logger's project, or that of a run started here.
   */
  #lastProject: string | undefined;
  #delivered = new Set<string>();
  #artifactStores = new Map<string, WandbArtifactStore>();
  #closed = false;

  /**
   * Creates the backend. Nothing is sent until the first batch.
   *
   * @param options Key, entity, project, server (`WANDB_*` variables fill
   * the gaps); `replayProject`, where runs replayed from a dead process's
   * spool are looked up (the logger's project; `createLogger` passes it).
   * @throws {TypeError} When the key is missing or malformed.
   */
  constructor(
    options: WandbBackendOptions & { clock?: Clock; replayProject?: string } =
      {},
  ) {
    this.#config = resolveWandbConfig(options);
    this.#lastProject = options.replayProject;
    this.#clock = options.clock ?? systemClock;
    this.#http = new WandbHttp({
      apiKey: this.#config.apiKey,
      baseUrl: this.#config.baseUrl,
      timeoutMs: this.#config.timeoutMs,
    });
  }

  /** The authenticated HTTP client. */
  get http(): WandbHttp {
    return this.#http;
  }

  /** The project every run goes to, when fixed by options or `WANDB_PROJECT`. */
  get project(): string | undefined {
    return this.#config.project;
  }

  /**
   * Where a run lives, once this process created or found it.
   *
   * @param runId The run id.
   * @returns The run, or `undefined`.
   */
  run(runId: string): WandbRunInfo | undefined {
    return this.#runs.get(runId)?.info;
  }

  /**
   * Creates (or finds, on resume or after a crash) the W&B run of a uetai
   * run, reading the offsets and summary the server holds.
   *
   * @param runId The run id.
   * @param project The project, unless fixed by options.
   * @param signal Aborts the wait (not the creation, which others share).
   * @returns The run.
   */
  ensureRun(
    runId: string,
    project: string,
    signal?: AbortSignal,
  ): Promise<WandbRunInfo> {
    return this.#ensure(runId, this.#config.project ?? project, signal);
  }

  /**
   * Sends one batch in order: config and tag changes as upserts; metrics
   * and media of consecutive steps as history rows in one `file_stream`
   * request (media files uploaded first); `run_end` as the final request.
   *
   * @param batch Events in `(runId, seq)` order within each run.
   * @param signal Aborted when the pipeline gives up on this attempt.
   * @returns The outcome; never throws.
   */
  send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    // The project of a run this process starts, even if later in the
    // batch: where runs replayed without their start are looked up.
    for (const event of batch) {
      if (event.kind === "run_start") {
        this.#lastProject ??= this.#config.project ?? event.project;
        break;
      }
    }
    const full = batch.length >= this.limits.maxEventsPerBatch;
    return sendInUnits(batch, signal, {
      cut: (events, start) => cutUnit(events, start, full),
      // A full batch may end inside a step whose other values come in the
      // next one: that step (cut as a unit of its own) waits for them, so
      // its row is whole. A step filling a whole batch goes as it is.
      reserve: (unit) =>
        full && unit[unit.length - 1] === batch[batch.length - 1] &&
          unit[0] !== batch[0] && isRowEvent(unit[0])
          ? 1
          : 0,
      send: (unit, unitSignal) => this.#sendUnit(unit, unitSignal),
      delivered: this.#delivered,
      retryAfterMs: (error) =>
        error instanceof WandbApiError ? error.retryAfterMs : undefined,
    });
  }

  /**
   * Appends console lines to the run's `output.log` through `file_stream`
   * (after what the server holds, also on resume), in W&B's console format:
   * `2026-01-01T10:00:00.000000 text`, with `ERROR ` before stderr lines.
   * Calls for one run are sent one after another.
   *
   * @param runId The run.
   * @param project Its project, unless fixed by options.
   * @param lines The lines (a trailing newline is dropped).
   * @param options Whether they are stderr (all, or line by line), and
   * when each was printed.
   * @returns When W&B holds them.
   */
  postOutput(
    runId: string,
    project: string,
    lines: readonly string[],
    options: {
      stderr?: boolean;
      stderrLines?: readonly boolean[];
      timesMs?: readonly number[];
    } = {},
  ): Promise<void> {
    if (
      !Array.isArray(lines) || lines.some((line) => typeof line !== "string")
    ) {
      return Promise.reject(
        new TypeError(
          `Cannot add console lines to W&B run ${
            JSON.stringify(runId)
          }: expected an array of strings, got ${
            Array.isArray(lines) ? "an array with a non-string" : typeof lines
          }`,
        ),
      );
    }
    const state = this.#state(runId, this.#config.project ?? project);
    if (state.finishing || state.ended) {
      return Promise.reject(
        new WandbApiError(
          `Cannot add console lines to W&B run ${
            JSON.stringify(runId)
          }: it is finishing or finished`,
          { endpoint: "file_stream output.log", retryable: false },
        ),
      );
    }
    // One line per line: text with newlines in it is split, so the
    // server's line count (the offset of a resume) matches ours.
    const content: string[] = [];
    for (const [i, line] of lines.entries()) {
      const time = new Date(options.timesMs?.[i] ?? this.#clock.now())
        .toISOString().slice(0, 23) + "000";
      const text = line.endsWith("\n") ? line.slice(0, -1) : line;
      for (const part of text.split("\n")) {
        const stderr = options.stderrLines?.[i] ?? options.stderr;
        content.push(`${stderr ? "ERROR " : ""}${time} ${part}`);
      }
    }
    const send = async (): Promise<void> => {
      const info = await this.#ensure(runId, state.project);
      // Requests of at most 1000 lines, so a backlog never makes one
      // request too large for the server.
      for (let start = 0; start < content.length; start += 1000) {
        const chunk = content.slice(start, start + 1000);
        await this.#post(info, state, {
          files: { "output.log": { offset: state.logOffset, content: chunk } },
        });
        state.logOffset += chunk.length;
      }
    };
    const sent = state.output.then(send, send);
    state.output = sent.catch(() => {});
    return sent;
  }

  /**
   * Uploads files to the run's Files tab (`CreateRunFiles`, then a PUT to
   * each signed URL without the key), as `wandb.save` does; the next
   * `file_stream` request reports them.
   *
   * @param runId The run.
   * @param project Its project, unless fixed by options.
   * @param files Paths in the run and their bytes.
   * @param signal Aborts the uploads.
   */
  async uploadFiles(
    runId: string,
    project: string,
    files: readonly { path: string; data: Uint8Array }[],
    signal?: AbortSignal,
  ): Promise<void> {
    const info = await this.#ensure(
      runId,
      this.#config.project ?? project,
      signal,
    );
    const state = this.#state(runId, undefined);
    await this.#uploadRunFiles(
      info,
      state,
      files,
      signal ?? new AbortController().signal,
    );
  }

  /**
   * The artifact versions of a project, kept as W&B artifacts (`vN`
   * versions, W&B aliases); the logger's runs are their producers and users.
   *
   * @param project The logger's project (unless fixed by options).
   * @returns The store.
   */
  artifacts(project: string): ArtifactStore {
    const wandbProject = this.#config.project ?? project;
    // One store per project, so its saves are serialised.
    let store = this.#artifactStores.get(wandbProject);
    if (!store) {
      store = new WandbArtifactStore({
        http: this.#http,
        entity: () => this.#defaultEntity(),
        project: wandbProject,
        ensureRun: (runId, signal) => this.#ensure(runId, wandbProject, signal),
      });
      this.#artifactStores.set(wandbProject, store);
    }
    return store;
  }

  /** Stops the heartbeats. */
  close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#runs.values()) this.#stopHeartbeat(state);
    return Promise.resolve();
  }

  async #sendUnit(
    unit: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<void> {
    const first = unit[0];
    switch (first.kind) {
      case "run_start": {
        const state = this.#state(
          first.runId,
          this.#config.project ?? first.project,
        );
        state.start = first;
        state.startMs ??= first.timestampMs;
        if (first.name !== undefined) state.displayName = first.name;
        for (const tag of first.tags) {
          if (!state.tags.includes(tag)) state.tags.push(tag);
        }
        const info = await this.#ensure(first.runId, state.project!, signal);
        await this.#upsert(state, info, signal);
        this.#startHeartbeat(state, info);
        return;
      }
      case "param":
      case "tag":
      case "run_name": {
        const info = await this.#ensure(first.runId, undefined, signal);
        const state = this.#state(first.runId, undefined);
        for (const event of unit) {
          if (event.kind === "param") state.config[event.key] = event.value;
          else if (event.kind === "tag") {
            for (const tag of event.tags) {
              if (!state.tags.includes(tag)) state.tags.push(tag);
            }
          } else if (event.kind === "run_name") state.displayName = event.name;
        }
        await this.#upsert(state, info, signal);
        return;
      }
      case "metric":
      case "media":
        return await this.#rows(
          unit as (MetricEvent | MediaEvent)[],
          signal,
        );
      case "run_end":
        return await this.#finish(first, signal);
      default:
        // Artifact events: the versions and their lineage were made by the
        // artifact store's own calls (see `artifacts()`).
        return;
    }
  }

  async #rows(
    events: readonly (MetricEvent | MediaEvent)[],
    signal: AbortSignal,
  ): Promise<void> {
    const runId = events[0].runId;
    const info = await this.#ensure(runId, undefined, signal);
    const state = this.#state(runId, undefined);
    // One row per step, in order; steps the server holds already (sent by
    // a process that died before its acknowledgement) are skipped.
    const rows: Record<string, unknown>[] = [];
    const files: { path: string; data: Uint8Array }[] = [];
    let row: Record<string, unknown> | undefined;
    let rowStep = -1;
    for (const event of events) {
      if (event.step <= state.lastStep) continue;
      if (!row || event.step !== rowStep) {
        row = {};
        rowStep = event.step;
        rows.push(row);
        const startMs = state.startMs ?? event.timestampMs;
        row._step = event.step;
        row._timestamp = event.timestampMs / 1000;
        row._runtime = Math.max(0, (event.timestampMs - startMs) / 1000);
      }
      if (event.kind === "metric") {
        row[event.key] = event.value;
      } else {
        const media = wandbMedia(event);
        row[event.key] = media.value;
        if (media.file) files.push(media.file);
      }
    }
    if (rows.length === 0) return;
    if (files.length > 0) {
      await this.#uploadRunFiles(info, state, files, signal);
    }
    for (const r of rows) {
      for (const [key, value] of Object.entries(r)) state.summary[key] = value;
    }
    const last = rows[rows.length - 1];
    state.summary._wandb = { runtime: Math.floor(last._runtime as number) };
    await this.#post(info, state, {
      files: {
        "wandb-history.jsonl": {
          offset: state.historyOffset,
          content: rows.map((r) => wandbJson(r)),
        },
        "wandb-summary.json": {
          offset: 0,
          content: [wandbJson(state.summary)],
        },
      },
    }, signal);
    state.historyOffset += rows.length;
  }

  async #uploadRunFiles(
    info: WandbRunInfo,
    state: RunState,
    files: readonly { path: string; data: Uint8Array }[],
    signal: AbortSignal,
  ): Promise<void> {
    const answer = await this.#http.graphql<{
      createRunFiles?: {
        uploadHeaders?: string[] | null;
        files?: { name: string; uploadUrl: string | null }[];
      };
    }>("CreateRunFiles", CREATE_RUN_FILES, {
      entity: info.entity,
      project: info.project,
      run: info.runId,
      files: files.map((f) => f.path),
    }, { signal });
    const urls = new Map(
      (answer.createRunFiles?.files ?? []).map((f) => [f.name, f.uploadUrl]),
    );
    for (const file of files) {
      const url = urls.get(file.path);
      if (!url) continue;
      await this.#http.putSigned(
        url,
        answer.createRunFiles?.uploadHeaders,
        file.data,
        { signal },
      );
      state.uploaded.push(file.path);
    }
  }

  async #finish(event: RunEndEvent, signal: AbortSignal): Promise<void> {
    const info = await this.#ensure(event.runId, undefined, signal);
    const state = this.#state(event.runId, undefined);
    this.#stopHeartbeat(state);
    // Console lines on their way go first, and none is accepted from now
    // on: `complete` must be the run's last request.
    state.finishing = true;
    await state.output;
    const body: Record<string, unknown> = {
      complete: true,
      exitcode: event.status === "finished" ? 0 : 1,
    };
    if (Object.keys(state.summary).length > 0) {
      body.files = {
        "wandb-summary.json": {
          offset: 0,
          content: [wandbJson(state.summary)],
        },
      };
    }
    await this.#post(info, state, body, signal);
    state.ended = true;
  }

  async #post(
    info: WandbRunInfo,
    state: RunState,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<void> {
    const uploaded = state.uploaded.splice(0);
    if (uploaded.length > 0) body.uploaded = uploaded;
    try {
      await this.#http.fileStream(
        info.entity,
        info.project,
        info.runId,
        JSON.stringify(body),
        signal,
      );
      state.lastPostMs = this.#clock.now();
    } catch (error) {
      state.uploaded.unshift(...uploaded);
      throw error;
    }
  }

  #state(runId: string, project: string | undefined): RunState {
    let state = this.#runs.get(runId);
    if (!state) {
      state = {
        project: project ?? this.#config.project,
        config: {},
        tags: [],
        historyOffset: 0,
        lastStep: -1,
        logOffset: 0,
        output: Promise.resolve(),
        summary: {},
        uploaded: [],
        lastPostMs: 0,
        finishing: false,
        ended: false,
      };
      this.#runs.set(runId, state);
    } else if (project !== undefined && !state.info) {
      state.project = project;
    }
    return state;
  }

  #defaultEntity(): Promise<string> {
    if (this.#config.entity) return Promise.resolve(this.#config.entity);
    this.#entity ??= this.#http.graphql<{ viewer?: { entity?: string } }>(
      "Viewer",
      VIEWER,
    ).then((data) => {
      const entity = data.viewer?.entity;
      if (!entity) {
        throw new WandbApiError("W&B's Viewer answer names no entity", {
          endpoint: "POST /graphql Viewer",
          retryable: false,
        });
      }
      return entity;
    });
    this.#entity.catch(() => (this.#entity = undefined));
    return this.#entity;
  }

  #ensure(
    runId: string,
    project: string | undefined,
    signal?: AbortSignal,
  ): Promise<WandbRunInfo> {
    const state = this.#state(runId, project);
    if (state.info) return Promise.resolve(state.info);
    state.creating ??= this.#create(runId, state);
    const creating = state.creating;
    creating.then((info) => (state.info = info), () => {}).finally(() => {
      if (state.creating === creating) state.creating = undefined;
    });
    return waitFor(creating, signal);
  }

  /** Reads what the server holds of the run, then upserts it. */
  async #create(runId: string, state: RunState): Promise<WandbRunInfo> {
    const entity = await this.#defaultEntity();
    // A run replayed from a dead process's spool carries no project: it is
    // looked up in the project of the run this process started (the same
    // script, restarted), once that run has started.
    const project = state.project ?? this.#lastProject;
    if (project === undefined) {
      throw new WandbApiError(
        `Cannot continue W&B run ${
          JSON.stringify(runId)
        } yet: its project is not known until this process starts its own run (or set WANDB_PROJECT)`,
        { endpoint: "RunResumeStatus", retryable: true },
      );
    }
    state.project = project;
    const status = await this.#http.graphql<{
      model?: { bucket?: ResumeBucket | null } | null;
    }>("RunResumeStatus", RUN_RESUME_STATUS, { project, entity, name: runId });
    const bucket = status.model?.bucket;
    let storageId: string | undefined;
    if (bucket) {
      // The run exists (resumed, or continued after a crash): continue its
      // history where the server's ends, keep its summary, config and tags.
      storageId = bucket.id;
      state.historyOffset = bucket.historyLineCount ?? 0;
      state.logOffset = bucket.logLineCount ?? 0;
      state.summary = { ...parseJson(bucket.summaryMetrics), ...state.summary };
      state.lastStep = lastStep(bucket, state.summary);
      const config = parseJson(bucket.config) as Record<
        string,
        { value?: unknown }
      >;
      for (const [key, entry] of Object.entries(config)) {
        if (key !== "_wandb" && !(key in state.config)) {
          state.config[key] = (entry?.value ?? null) as ParamValue;
        }
      }
      for (const tag of bucket.tags ?? []) {
        if (!state.tags.includes(tag)) state.tags.push(tag);
      }
      state.displayName ??= bucket.displayName;
      const runtime = Number(
        (state.summary._wandb as { runtime?: number } | undefined)?.runtime ??
          state.summary._runtime ?? 0,
      );
      state.startMs ??= this.#clock.now() - runtime * 1000;
    }
    const info: WandbRunInfo = {
      entity,
      project,
      runId,
      storageId: storageId ?? "",
      url: "",
    };
    const bucketOut = await this.#upsert(state, info);
    return bucketOut;
  }

  async #upsert(
    state: RunState,
    info: WandbRunInfo,
    signal?: AbortSignal,
  ): Promise<WandbRunInfo> {
    const data = await this.#http.graphql<
      { upsertBucket?: { bucket?: Bucket } }
    >(
      "UpsertBucket",
      UPSERT_BUCKET,
      {
        id: info.storageId || null,
        name: info.runId,
        project: info.project,
        entity: info.entity,
        groupName: this.#config.group ?? null,
        description: null,
        displayName: state.displayName ?? null,
        notes: null,
        commit: null,
        config: configJson(state.config),
        host: null,
        debug: null,
        program: null,
        repo: null,
        jobType: this.#config.jobType ?? null,
        state: null,
        sweep: null,
        tags: state.tags,
        summaryMetrics: null,
      },
      { signal, upsert: true },
    );
    const bucket = data.upsertBucket?.bucket;
    info.storageId = bucket?.id ?? info.storageId;
    info.project = bucket?.project?.name ?? info.project;
    info.entity = bucket?.project?.entity?.name ?? info.entity;
    const app = this.#http.baseUrl.replace("://api.", "://");
    info.url = `${app}/${info.entity}/${info.project}/runs/${info.runId}`;
    return info;
  }

  #startHeartbeat(state: RunState, info: WandbRunInfo): void {
    if (state.heartbeat !== undefined || this.#closed || state.ended) return;
    const beat = async (): Promise<void> => {
      state.heartbeat = undefined;
      if (this.#closed || state.ended) return;
      if (this.#clock.now() - state.lastPostMs >= HEARTBEAT_MS - 1000) {
        try {
          await this.#post(info, state, {});
        } catch {
          // The next beat tries again; data is not at stake.
        }
      }
      if (!this.#closed && !state.ended) {
        state.heartbeat = this.#clock.setTimeout(
          () => void beat(),
          HEARTBEAT_MS,
        );
      }
    };
    state.heartbeat = this.#clock.setTimeout(() => void beat(), HEARTBEAT_MS);
  }

  #stopHeartbeat(state: RunState): void {
    if (state.heartbeat !== undefined) {
      this.#clock.clearTimeout(state.heartbeat);
    }
    state.heartbeat = undefined;
  }
}

function isRowEvent(event: TrackingEvent): boolean {
  return event.kind === "metric" || event.kind === "media";
}

/** Consecutive events one request carries. */
function cutUnit(
  events: readonly TrackingEvent[],
  start: number,
  full: boolean,
): number {
  const first = events[start];
  let end = start + 1;
  const sameKind = (e: TrackingEvent): boolean =>
    isRowEvent(first)
      ? isRowEvent(e)
      : (first.kind === "param" || first.kind === "tag" ||
        first.kind === "run_name") &&
        (e.kind === "param" || e.kind === "tag" || e.kind === "run_name");
  if (first.kind === "run_start" || first.kind === "run_end") return end;
  while (
    end < events.length && events[end].runId === first.runId &&
    sameKind(events[end])
  ) end++;
  // A full batch may end inside a step: rows up to the step before go now,
  // and that last step becomes a unit of its own, which `reserve` holds
  // back until the next batch brings the rest of it.
  if (full && end === events.length && isRowEvent(first)) {
    const lastStep = (events[end - 1] as MetricEvent).step;
    let cut = end;
    while (
      cut > start && (events[cut - 1] as MetricEvent).step === lastStep
    ) cut--;
    if (cut > start) return cut;
  }
  return end;
}

/** Whether a unit of rows holds more than one step (so its last step may be cut). */

function parseJson(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const parsed = parseWandbJson(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? parsed as Record<string, unknown>
      : {};
  } catch {
    return {};
  }
}

function lastStep(
  bucket: ResumeBucket,
  summary: Record<string, unknown>,
): number {
  if (!bucket.historyLineCount) return -1;
  if (typeof summary._step === "number") return summary._step;
  try {
    const tail = JSON.parse(bucket.historyTail ?? "[]") as string[];
    const row = parseJson(tail[tail.length - 1]);
    return typeof row._step === "number" ? row._step : -1;
  } catch {
    return -1;
  }
}
