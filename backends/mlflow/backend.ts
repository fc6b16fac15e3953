// This module is browser compatible.
import type {
  MediaEvent,
  ParamEvent,
  RunEndEvent,
  RunStartEvent,
  TrackingEvent,
} from "../../event/types.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../../pipeline/backend.ts";
import type { ArtifactStore } from "../../artifact/types.ts";
import { BackendError } from "../../errors/errors.ts";
import {
  type MlflowBackendOptions,
  type MlflowConfig,
  resolveMlflowConfig,
} from "./config.ts";
import { MlflowApiError, MlflowHttp } from "./http.ts";
import {
  type BatchableEvent,
  cutLogBatches,
  isBatchable,
  keyProblem,
  type LogBatchBody,
  mediaLayout,
  MLFLOW_BATCH_LIMITS,
  paramText,
  quoteFilterValue,
  tagKey,
} from "./encode.ts";
import { MlflowArtifactStore } from "./artifacts.ts";
import { MlflowClient } from "./client.ts";
import { eventIdentity, sendInUnits } from "../../pipeline/units.ts";
import { waitFor } from "../../pipeline/retry.ts";

/** The tag holding the uetai run id, so a run can be found again after a crash. */
export const RUN_ID_TAG = "uetai.runId";

/** What MLflow knows of a run. */
export interface MlflowRunInfo {
  /** MLflow's run id. */
  runId: string;
  /** The experiment's id. */
  experimentId: string;
  /** The run's artifact root, such as `mlflow-artifacts:/1/<run>/artifacts`. */
  artifactUri: string;
}

/**
 * MLflow refused to change a parameter already logged with another value
 * (parameters are write-once). The event is dropped and reported; it is
 * never retried.
 *
 * @example
 * ```ts
 * import { MlflowParamChangedError } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const error = new MlflowParamChangedError("lr", "Changing param values is not allowed.");
 * assert.equal(error.key, "lr");
 * assert.equal(error.retryable, false);
 * ```
 */
export class MlflowParamChangedError extends MlflowApiError {
  /** The parameter's key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The parameter.
   * @param detail MLflow's message.
   */
  constructor(key: string, detail: string) {
    super(
      `Cannot change parameter ${
        JSON.stringify(key)
      } in MLflow: parameters are write-once (${detail})`,
      {
        status: 400,
        errorCode: "INVALID_PARAMETER_VALUE",
        endpoint: "POST /api/2.0/mlflow/runs/log-batch",
        retryable: false,
      },
    );
    this.name = "MlflowParamChangedError";
    this.key = key;
  }
}

interface RunState {
  /** The experiment name, when known (unknown for a run replayed from a spool). */
  project?: string;
  info?: MlflowRunInfo;
  creating?: Promise<MlflowRunInfo>;
  imagesTagged: boolean;
  /** The run was created here with its start's name and tags. */
  startApplied: boolean;
  tables?: string[];
}

interface CreateRun {
  start?: RunStartEvent;
  existing: boolean;
}

interface RawRun {
  info?: {
    run_id?: string;
    experiment_id?: string;
    artifact_uri?: string;
    lifecycle_stage?: string;
  };
  data?: { tags?: { key: string; value: string }[] };
}

const STATUS = {
  finished: "FINISHED",
  failed: "FAILED",
  killed: "KILLED",
} as const;

/**
 * The MLflow backend: uetai runs become MLflow runs in an experiment
 * (get-or-create), metrics, parameters and tags go through `runs/log-batch`
 * cut to MLflow's limits, media become files in the run's artifacts laid
 * out as MLflow's own helpers write them, and `run_end` sets the status and
 * end time. Each run carries the tag `uetai.runId`, so a run whose events are
 * replayed from a spool by another process is found again, never created
 * twice.
 *
 * Most users want {@linkcode MlflowLogger}, or `createLogger({ backend:
 * "mlflow" })`, which builds this from `MLFLOW_*` variables.
 *
 * @example
 * ```ts
 * import { MlflowBackend } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const backend = new MlflowBackend({ trackingUri: "http://127.0.0.1:5000" });
 * assert.equal(backend.name, "mlflow");
 * assert.equal(backend.limits.maxEventsPerBatch, 1000);
 * await backend.close();
 * ```
 */
export class MlflowBackend implements Backend {
  /** `"mlflow"`. */
  readonly name: string = "mlflow";
  /** One batch holds what one `runs/log-batch` may carry. */
  readonly limits: BackendLimits = {
    maxEventsPerBatch: 1000,
    maxBatchBytes: 16 * 1024 * 1024,
  };
  #config: MlflowConfig;
  #http: MlflowHttp;
  #runs = new Map<string, RunState>();
  #experiments = new Map<string, Promise<string>>();
  #artifactStores = new Map<string, MlflowArtifactStore>();
  #delivered = new Set<string>();
  #ambiguous = new Set<string>();

  /**
   * Creates the backend. Nothing is sent until the first batch.
   *
   * @param options Tracking URI, experiment, credentials; `MLFLOW_*` variables fill the gaps.
   * @throws {TypeError} When the tracking URI is missing or malformed.
   */
  constructor(options: MlflowBackendOptions = {}) {
    this.#config = resolveMlflowConfig(options);
    this.#http = new MlflowHttp({
      trackingUri: this.#config.trackingUri,
      auth: this.#config.auth,
      timeoutMs: this.#config.timeoutMs,
    });
  }

  /** The authenticated HTTP client, for raw API calls. */
  get http(): MlflowHttp {
    return this.#http;
  }

  /** The experiment every run goes to, when fixed by options or `MLFLOW_EXPERIMENT_NAME`. */
  get experimentName(): string | undefined {
    return this.#config.experimentName;
  }

  /**
   * MLflow's view of a run, once this process created or found it.
   *
   * @param runId The uetai run id.
   * @returns The run, or `undefined`.
   */
  run(runId: string): MlflowRunInfo | undefined {
    return this.#runs.get(runId)?.info;
  }

  /**
   * Finds or creates the MLflow run of a uetai run: the one tagged with its
   * id, or (with `existing`) the MLflow run of that id, else a new one.
   *
   * @param runId The uetai run id.
   * @param project The experiment name, unless fixed by options.
   * @param existing The run id is an existing MLflow run's id (resume).
   * @returns The run.
   * @throws {MlflowApiError} When MLflow refuses or cannot be reached.
   */
  ensureRun(
    runId: string,
    project: string,
    existing = false,
  ): Promise<MlflowRunInfo> {
    return this.#ensureRun(runId, project, { existing });
  }

  /**
   * The experiment id of a name, created when missing (racing creators
   * re-read it); a deleted one is restored when `restoreDeletedExperiment`
   * is set, else an error.
   *
   * @param name The experiment name.
   * @returns Its id.
   */
  experimentId(name: string): Promise<string> {
    let found = this.#experiments.get(name);
    if (!found) {
      found = this.#getOrCreateExperiment(name);
      this.#experiments.set(name, found);
      found.catch(() => this.#experiments.delete(name));
    }
    return found;
  }

  /**
   * Sends one batch in order: consecutive metrics, tags and renames of a run
   * in `runs/log-batch` bodies, parameters in bodies of their own (a changed
   * value is refused alone), media as artifact files, run start and end. On
   * a failure part-way, what was delivered is acknowledged.
   *
   * @param batch Events in `(runId, seq)` order within each run.
   * @param signal Aborted when the pipeline gives up on this attempt.
   * @returns The outcome; never throws.
   */
  send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    return sendInUnits(batch, signal, {
      cut: (events, start) => this.#cut(events, start),
      send: (unit, unitSignal) => this.#sendUnit(unit, unitSignal),
      delivered: this.#delivered,
      retryAfterMs: (error) =>
        error instanceof MlflowApiError ? error.retryAfterMs : undefined,
    });
  }

  /**
   * The artifact versions of a project, kept in MLflow's Model Registry.
   *
   * @param project The logger's project.
   * @returns The store.
   */
  artifacts(project: string): ArtifactStore {
    let store = this.#artifactStores.get(project);
    if (!store) {
      store = new MlflowArtifactStore({
        http: this.#http,
        ensureRun: (runId) =>
          this.#ensureRun(runId, this.#config.experimentName ?? project, {
            existing: false,
          }),
      });
      this.#artifactStores.set(project, store);
    }
    return store;
  }

  /** Nothing to release: every request is complete when `send` returns. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Where the unit starting at `start` ends: one `runs/log-batch` body of
   * consecutive metrics, tags and renames of a run (or of parameters), cut
   * before an event whose key MLflow would refuse (it is then a unit alone,
   * refused alone); anything else is a unit of one.
   */
  #cut(events: readonly TrackingEvent[], start: number): number {
    const first = events[start];
    if (!isBatchable(first) || keyProblem(first) !== undefined) {
      return start + 1;
    }
    if (first.kind === "tag" && first.tags.length > MLFLOW_BATCH_LIMITS.tags) {
      return start + 1;
    }
    const params = first.kind === "param";
    let end = start + 1;
    while (
      end < events.length && events[end].runId === first.runId &&
      isBatchable(events[end]) &&
      (events[end].kind === "param") === params &&
      keyProblem(events[end] as BatchableEvent) === undefined &&
      end - start < MLFLOW_BATCH_LIMITS.items
    ) end++;
    const [body] = cutLogBatches(
      events.slice(start, end) as BatchableEvent[],
      "",
    );
    return start + body.count;
  }

  /** Sends a unit; returns the one parameter MLflow refused, if any. */
  async #sendUnit(
    unit: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<{ index: number; error: Error } | undefined> {
    const first = unit[0];
    if (isBatchable(first)) {
      const problem = keyProblem(first);
      if (problem !== undefined) {
        throw new BackendError(problem, {
          backend: "mlflow",
          retryable: false,
        });
      }
      const info = await this.#info(first.runId, signal);
      if (first.kind === "param") {
        return await this.#sendParams(unit as ParamEvent[], info, signal);
      }
      if (
        first.kind === "tag" && first.tags.length > MLFLOW_BATCH_LIMITS.tags
      ) {
        // More labels than one body holds: several bodies (tags are
        // last-write-wins, so a repeat is harmless).
        for (let i = 0; i < first.tags.length; i += MLFLOW_BATCH_LIMITS.tags) {
          await this.#logBatch({
            run_id: info.runId,
            metrics: [],
            params: [],
            tags: first.tags.slice(i, i + MLFLOW_BATCH_LIMITS.tags).map((
              tag,
            ) => ({
              key: tagKey(tag),
              value: "true",
            })),
          }, signal);
        }
        return undefined;
      }
      const [{ body }] = cutLogBatches(unit as BatchableEvent[], info.runId);
      await this.#logMetricsOnce(unit, body, signal);
      return undefined;
    }
    switch (first.kind) {
      case "run_start":
        await this.#start(first, signal);
        return undefined;
      case "run_end":
        await this.#end(first, signal);
        return undefined;
      case "media":
        await this.#media(first, signal);
        return undefined;
      default:
        // Artifact lineage is kept by the artifact calls themselves.
        return undefined;
    }
  }

  /**
   * Sends a body with metrics so that a resend never duplicates points:
   * when an earlier attempt got no answer (the server may have stored it),
   * the metric history is read first and the body skipped if its first
   * point is there (MLflow stores a body whole or not at all).
   */
  async #logMetricsOnce(
    unit: readonly TrackingEvent[],
    body: LogBatchBody,
    signal: AbortSignal,
  ): Promise<void> {
    const id = eventIdentity(unit[unit.length - 1]);
    const point = body.metrics[0];
    if (point && this.#ambiguous.has(id)) {
      const stored = await this.#storedPoint(body.run_id, point, signal);
      this.#ambiguous.delete(id);
      if (stored) return;
    }
    try {
      await this.#logBatch(body, signal);
    } catch (error) {
      const unanswered = signal.aborted ||
        (error instanceof MlflowApiError && error.status === undefined);
      if (point && unanswered) {
        if (this.#ambiguous.size > 10_000) this.#ambiguous.clear();
        this.#ambiguous.add(id);
      }
      throw error;
    }
  }

  async #storedPoint(
    runId: string,
    point: LogBatchBody["metrics"][number],
    signal: AbortSignal,
  ): Promise<boolean> {
    let pageToken: string | undefined;
    do {
      const page = await this.#http.json<{
        metrics?: { step?: number; timestamp?: number }[];
        next_page_token?: string;
      }>("GET", "metrics/get-history", {
        query: {
          run_id: runId,
          metric_key: point.key,
          max_results: 25000,
          page_token: pageToken,
        },
        signal,
      });
      const metrics = page.metrics ?? [];
      if (
        metrics.some((m) =>
          (m.step ?? 0) === point.step && m.timestamp === point.timestamp
        )
      ) return true;
      pageToken = metrics.length > 0 ? page.next_page_token : undefined;
    } while (pageToken);
    return false;
  }

  async #sendParams(
    params: readonly ParamEvent[],
    info: MlflowRunInfo,
    signal: AbortSignal,
  ): Promise<{ index: number; error: Error } | undefined> {
    try {
      const [{ body }] = cutLogBatches(params, info.runId);
      await this.#logBatch(body, signal);
      return undefined;
    } catch (error) {
      if (!isParamChange(error)) throw error;
    }
    // One value changed: find it by sending one at a time (write-once
    // parameters make the repeats harmless).
    for (const [index, event] of params.entries()) {
      try {
        await this.#logBatch({
          run_id: info.runId,
          metrics: [],
          params: [{ key: event.key, value: paramText(event.value) }],
          tags: [],
        }, signal);
      } catch (error) {
        if (!isParamChange(error)) throw error;
        return {
          index,
          error: new MlflowParamChangedError(
            event.key,
            (error as Error).message,
          ),
        };
      }
    }
    return undefined;
  }

  async #logBatch(body: LogBatchBody, signal: AbortSignal): Promise<void> {
    const trimmed: Partial<LogBatchBody> = { run_id: body.run_id };
    if (body.metrics.length > 0) trimmed.metrics = body.metrics;
    if (body.params.length > 0) trimmed.params = body.params;
    if (body.tags.length > 0) trimmed.tags = body.tags;
    await this.#http.json("POST", "runs/log-batch", { body: trimmed, signal });
  }

  async #start(event: RunStartEvent, signal: AbortSignal): Promise<void> {
    const project = this.#config.experimentName ?? event.project;
    const state = this.#state(event.runId, project);
    const info = await this.#ensureRun(event.runId, project, {
      existing: event.resume === true,
      start: event,
    });
    // Found rather than created here (made earlier by an artifact call or a
    // lost attempt, or resumed): name and tags now (tags are last-write-wins).
    if (!state.startApplied) {
      const tags = event.tags.map((tag) => ({
        key: tagKey(tag),
        value: "true",
      }));
      if (event.name !== undefined) {
        tags.push({ key: "mlflow.runName", value: event.name });
      }
      if (tags.length > 0) {
        await this.#logBatch(
          { run_id: info.runId, metrics: [], params: [], tags },
          signal,
        );
      }
      state.startApplied = true;
    }
  }

  async #end(event: RunEndEvent, signal: AbortSignal): Promise<void> {
    const info = await this.#info(event.runId, signal);
    await this.#http.json("POST", "runs/update", {
      body: {
        run_id: info.runId,
        status: STATUS[event.status],
        end_time: Math.round(event.timestampMs),
      },
      signal,
    });
  }

  async #media(event: MediaEvent, signal: AbortSignal): Promise<void> {
    const info = await this.#info(event.runId, signal);
    const state = this.#state(event.runId, undefined);
    const layout = mediaLayout(event);
    for (const file of layout.files) {
      await this.#http.putArtifact(
        `${info.artifactUri}/${file.path}`,
        file.data,
        {
          signal,
        },
      );
    }
    if (layout.tag && !state.imagesTagged) {
      await this.#setTag(info.runId, layout.tag.key, layout.tag.value, signal);
      state.imagesTagged = true;
    }
    if (layout.table) {
      state.tables ??= await this.#loggedTables(info.runId, signal);
      if (!state.tables.includes(layout.table)) {
        const tables = [...state.tables, layout.table];
        await this.#setTag(
          info.runId,
          "mlflow.loggedArtifacts",
          JSON.stringify(tables.map((path) => ({ path, type: "table" }))),
          signal,
        );
        state.tables = tables;
      }
    }
  }

  async #loggedTables(runId: string, signal: AbortSignal): Promise<string[]> {
    const answer = await this.#http.json<{ run?: RawRun }>("GET", "runs/get", {
      query: { run_id: runId },
      signal,
    });
    const tag = answer.run?.data?.tags?.find((t) =>
      t.key === "mlflow.loggedArtifacts"
    );
    try {
      const list = JSON.parse(tag?.value ?? "[]") as { path?: unknown }[];
      return list.map((entry) => String(entry.path));
    } catch {
      return [];
    }
  }

  async #setTag(
    runId: string,
    key: string,
    value: string,
    signal: AbortSignal,
  ): Promise<void> {
    await this.#http.json("POST", "runs/set-tag", {
      body: { run_id: runId, key, value },
      signal,
    });
  }

  #info(runId: string, signal: AbortSignal): Promise<MlflowRunInfo> {
    const state = this.#state(runId, undefined);
    if (state.info) return Promise.resolve(state.info);
    // A run this process did not start: replayed from a dead process's
    // spool (found by its tag), or resumed by its MLflow id.
    return waitFor(
      this.#ensureRun(runId, state.project, { existing: false }),
      signal,
    );
  }

  #state(runId: string, project: string | undefined): RunState {
    let state = this.#runs.get(runId);
    if (!state) {
      state = {
        project: project ?? this.#config.experimentName,
        imagesTagged: false,
        startApplied: false,
      };
      this.#runs.set(runId, state);
    } else if (project !== undefined && !state.info) {
      state.project = project;
    }
    return state;
  }

  #ensureRun(
    runId: string,
    project: string | undefined,
    how: CreateRun,
  ): Promise<MlflowRunInfo> {
    const state = this.#state(runId, project);
    if (state.info) return Promise.resolve(state.info);
    // One lookup per run, shared by every caller, under the client's own
    // timeout (no caller's abort can fail it for the others).
    state.creating ??= this.#findOrCreateRun(runId, state, how);
    const creating = state.creating;
    creating.then((info) => (state.info = info), () => {}).finally(() => {
      if (state.creating === creating) state.creating = undefined;
    });
    return creating;
  }

  async #findOrCreateRun(
    runId: string,
    state: RunState,
    how: CreateRun,
  ): Promise<MlflowRunInfo> {
    if (how.existing) {
      const answer = await this.#http.json<{ run?: RawRun }>(
        "GET",
        "runs/get",
        { query: { run_id: runId } },
      );
      return readRun(answer.run, `run ${runId}`);
    }
    if (state.project === undefined) {
      // Replayed from a spool without its run_start: the run exists (its
      // start was delivered by the process that died), in some experiment.
      const ids = (await new MlflowClient(this.#http).searchExperiments())
        .map((e) => e.experiment_id);
      const found = await this.#findTagged(runId, ids);
      if (found) return found;
      if (/^[0-9a-f]{32}$/.test(runId)) {
        // A resumed MLflow run: its own id, without our tag.
        try {
          return readRun(
            (await new MlflowClient(this.#http).getRun(runId)) as RawRun,
            `run ${runId}`,
          );
        } catch (error) {
          if (
            !(error instanceof MlflowApiError) ||
            error.errorCode !== "RESOURCE_DOES_NOT_EXIST"
          ) throw error;
        }
      }
      throw new BackendError(
        `Cannot find the MLflow run of uetai run ${
          JSON.stringify(runId)
        }: no active run is tagged ${RUN_ID_TAG}=${runId} (was it deleted?)`,
        { backend: "mlflow", retryable: false },
      );
    }
    const experimentId = await this.experimentId(state.project);
    // Created by an earlier attempt whose answer was lost: found by its tag,
    // never created twice.
    const found = await this.#findTagged(runId, [experimentId]);
    if (found) return found;
    const start = how.start;
    const tags = [
      { key: RUN_ID_TAG, value: runId },
      { key: "mlflow.source.type", value: "LOCAL" },
      { key: "mlflow.user", value: "uetai" },
      ...(start?.tags ?? []).map((tag) => ({
        key: tagKey(tag),
        value: "true",
      })),
    ];
    const body: Record<string, unknown> = {
      experiment_id: experimentId,
      start_time: Math.round(start?.timestampMs ?? Date.now()),
      tags,
    };
    if (start?.name !== undefined) {
      body.run_name = start.name;
      tags.push({ key: "mlflow.runName", value: start.name });
    }
    const created = await this.#http.json<{ run?: RawRun }>(
      "POST",
      "runs/create",
      { body },
    );
    const info = readRun(created.run, `new run of ${runId}`);
    if (start) state.startApplied = true;
    return info;
  }

  async #findTagged(
    runId: string,
    experimentIds: readonly string[],
  ): Promise<MlflowRunInfo | undefined> {
    for (let i = 0; i < experimentIds.length; i += 100) {
      const found = await this.#http.json<{ runs?: RawRun[] }>(
        "POST",
        "runs/search",
        {
          body: {
            experiment_ids: experimentIds.slice(i, i + 100),
            filter: `tags.\`${RUN_ID_TAG}\` = ${quoteFilterValue(runId)}`,
            run_view_type: "ACTIVE_ONLY",
            max_results: 1,
          },
        },
      );
      if (found.runs && found.runs.length > 0) {
        return readRun(found.runs[0], `run ${runId}`);
      }
    }
    return undefined;
  }

  async #getOrCreateExperiment(name: string): Promise<string> {
    const read = async (): Promise<
      { experiment_id?: string; lifecycle_stage?: string } | undefined
    > => {
      try {
        const answer = await this.#http.json<{
          experiment?: { experiment_id?: string; lifecycle_stage?: string };
        }>("GET", "experiments/get-by-name", {
          query: { experiment_name: name },
        });
        return answer.experiment;
      } catch (error) {
        if (
          error instanceof MlflowApiError &&
          error.errorCode === "RESOURCE_DOES_NOT_EXIST"
        ) return undefined;
        throw error;
      }
    };
    let experiment = await read();
    if (!experiment) {
      try {
        const created = await this.#http.json<{ experiment_id?: string }>(
          "POST",
          "experiments/create",
          { body: { name } },
        );
        if (typeof created.experiment_id === "string") {
          return created.experiment_id;
        }
      } catch (error) {
        // Another process created it first: read it again.
        if (
          !(error instanceof MlflowApiError) ||
          error.errorCode !== "RESOURCE_ALREADY_EXISTS"
        ) throw error;
      }
      experiment = await read();
    }
    if (!experiment || typeof experiment.experiment_id !== "string") {
      throw new MlflowApiError(
        `MLflow has no experiment ${JSON.stringify(name)} after creating it`,
        { endpoint: "GET /api/2.0/mlflow/experiments/get-by-name" },
      );
    }
    if (experiment.lifecycle_stage === "deleted") {
      if (!this.#config.restoreDeletedExperiment) {
        throw new BackendError(
          `Cannot log to MLflow experiment ${
            JSON.stringify(name)
          }: it was deleted. Restore it (mlflow experiments restore --experiment-id ${experiment.experiment_id}), choose another name, or pass restoreDeletedExperiment: true`,
          { backend: "mlflow", retryable: false },
        );
      }
      await this.#http.json("POST", "experiments/restore", {
        body: { experiment_id: experiment.experiment_id },
      });
    }
    return experiment.experiment_id;
  }
}

function readRun(run: RawRun | undefined, what: string): MlflowRunInfo {
  const info = run?.info;
  if (
    typeof info?.run_id !== "string" ||
    typeof info.experiment_id !== "string" ||
    typeof info.artifact_uri !== "string"
  ) {
    throw new MlflowApiError(`MLflow's answer about ${what} has no run info`, {
      endpoint: "POST /api/2.0/mlflow/runs/create",
      retryable: false,
    });
  }
  if (info.lifecycle_stage === "deleted") {
    throw new BackendError(
      `Cannot log to MLflow run ${info.run_id}: it was deleted (restore it with runs/restore)`,
      { backend: "mlflow", retryable: false },
    );
  }
  return {
    runId: info.run_id,
    experimentId: info.experiment_id,
    artifactUri: info.artifact_uri,
  };
}

function isParamChange(error: unknown): boolean {
  return error instanceof MlflowApiError && error.status === 400 &&
    /Changing param values is not allowed/.test(error.message);
}
