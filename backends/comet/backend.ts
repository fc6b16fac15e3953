// This module is browser compatible.
import type {
  MediaEvent,
  MetricEvent,
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
import {
  type Clock,
  systemClock,
  type TimerHandle,
} from "../../runtime/clock.ts";
import { BackendError } from "../../errors/errors.ts";
import {
  type CometBackendOptions,
  type CometConfig,
  resolveCometConfig,
} from "./config.ts";
import { CometApiError, CometHttp, type MultipartField } from "./http.ts";
import {
  type CometMediaRequest,
  isExperimentKey,
  LIB_VERSION,
  mediaRequest,
  metricValue,
  parameterValue,
} from "./encode.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { eventIdentity, sendInUnits } from "../../pipeline/units.ts";
import { waitFor } from "../../pipeline/retry.ts";
import { createHash, toHex } from "../../artifact/hash.ts";
import { CometArtifactStore } from "./artifacts.ts";

/** What Comet's handshake told us about an experiment. */
export interface CometExperimentInfo {
  /** The experiment key (the uetai run id). */
  experimentKey: string;
  /** Workspace. */
  workspace: string;
  /** Project name. */
  projectName: string;
  /** Comet's id of the project (`project_id`). */
  projectId: string;
  /** Comet's id of this session (`runId`), which uploads carry. */
  cometRunId: string;
  /** The experiment's page. */
  url: string;
}

interface Handshake {
  runId?: unknown;
  project_id?: unknown;
  focusUrl?: unknown;
}

interface RunState {
  project: string;
  info?: CometExperimentInfo;
  creating?: Promise<CometExperimentInfo>;
  startMs?: number;
  heartbeat?: TimerHandle;
  beating: boolean;
  beat?: Promise<void>;
  resumed: boolean;
  /** The project came from the run's start (else it is a default). */
  projectKnown?: boolean;
}

/** Options of {@linkcode CometBackend}. */
export interface CometBackendConstructorOptions extends CometBackendOptions {
  /** Time source for the rate limiter and heartbeats; tests pass a fake one. */
  clock?: Clock;
}

const HEARTBEAT_FALLBACK_MS = 3000;
const HEARTBEAT_MIN_MS = 100;
const HEARTBEAT_MAX_MS = 10 * 60_000;
/** Metric and parameter batches hold at most this many values, as Comet's SDK sends them. */
export const COMET_MAX_BATCH_VALUES = 1000;

/**
 * The Comet ML backend: encodes uetai events as the requests Comet's
 * official Python SDK makes and sends them. Runs become experiments whose
 * key is the run id (created with the SDK's handshake); metrics and
 * parameters go in gzip batches of up to 1000 values; media become Comet's
 * images, audio, text samples, curves, confusion matrices, 3-D histograms,
 * tables, HTML and model graphs; a heartbeat keeps a live run "running";
 * `run_end` sets the end time and status. A client-side rate limiter keeps
 * each data type under Comet's published limits; what it holds back shows
 * in `stats()` as `throttled`.
 *
 * Most users want {@linkcode CometLogger}, or `createLogger({ backend:
 * "comet" })`, which builds this from `COMET_*` variables.
 *
 * @example
 * ```ts
 * import { CometBackend } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const backend = new CometBackend({ apiKey: "k3y", workspace: "ws", heartbeat: false });
 * assert.equal(backend.name, "comet");
 * assert.equal(backend.limits.maxEventsPerBatch, 1000);
 * await backend.close();
 * ```
 */
export class CometBackend implements Backend {
  /** `"comet"`. */
  readonly name: string = "comet";
  /** One batch holds what one metric request may carry. */
  readonly limits: BackendLimits = {
    maxEventsPerBatch: COMET_MAX_BATCH_VALUES,
    maxBatchBytes: 16 * 1024 * 1024,
  };
  #config: CometConfig;
  #http: CometHttp;
  #limiter: RateLimiter;
  #clock: Clock;
  #runs = new Map<string, RunState>();
  #artifactStores = new Map<string, CometArtifactStore>();
  #delivered = new Set<string>();
  #closed = false;

  /**
   * Creates the backend. Nothing is sent until the first batch.
   *
   * @param options Key, workspace, project, URL, limits; `COMET_*` variables fill the gaps.
   * @throws {TypeError} When the API key or workspace is missing or malformed.
   */
  constructor(options: CometBackendConstructorOptions = {}) {
    this.#config = resolveCometConfig(options);
    this.#clock = options.clock ?? systemClock;
    this.#http = new CometHttp({
      apiKey: this.#config.apiKey,
      rootUrl: this.#config.rootUrl,
      timeoutMs: this.#config.timeoutMs,
    });
    this.#limiter = new RateLimiter(
      this.#config.rateLimits,
      () => this.#clock.now(),
    );
  }

  /** The HTTP client (authenticated) for raw API calls. */
  get http(): CometHttp {
    return this.#http;
  }

  /** The workspace. */
  get workspace(): string {
    return this.#config.workspace;
  }

  /** The project every run goes to, when fixed by options or `COMET_PROJECT_NAME`. */
  get projectName(): string | undefined {
    return this.#config.projectName;
  }

  /**
   * The experiment of a run, once Comet created it.
   *
   * @param runId The run.
   * @returns What the handshake said, or `undefined` before it.
   */
  experiment(runId: string): CometExperimentInfo | undefined {
    return this.#runs.get(runId)?.info;
  }

  /**
   * Creates the run's experiment now, if it does not exist yet (artifact
   * uploads need it before the pipeline has sent `run_start`).
   *
   * @param runId The run; its id is the experiment key.
   * @param project The project, unless fixed by options.
   * @param signal Stops waiting (the handshake itself goes on for others).
   * @param existing The experiment exists already (a resumed one).
   * @returns What the handshake said.
   * @throws {CometApiError} When Comet refuses or cannot be reached.
   */
  ensureExperiment(
    runId: string,
    project: string,
    signal?: AbortSignal,
    existing = false,
  ): Promise<CometExperimentInfo> {
    return this.#handshake(runId, project, existing, signal);
  }

  /**
   * Sends one batch, in order, as Comet's SDK would: consecutive metrics
   * (and parameters) of a run in one gzip batch request each, everything
   * else one request per event. On a failure part-way, the events already
   * delivered are acknowledged and only the rest is sent again.
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
      cut: (events, start) => {
        const first = events[start];
        let end = start + 1;
        if (first.kind === "metric" || first.kind === "param") {
          while (
            end < events.length && events[end].kind === first.kind &&
            events[end].runId === first.runId &&
            end - start < COMET_MAX_BATCH_VALUES
          ) end++;
        }
        return end;
      },
      reserve: (unit) => this.#reserve(unit),
      send: (unit, unitSignal) => this.#sendUnit(unit, unitSignal),
      delivered: this.#delivered,
      retryAfterMs: (error) =>
        error instanceof CometApiError ? error.retryAfterMs : undefined,
    });
  }

  /**
   * The artifact versions of a project's workspace, kept as Comet artifacts
   * with semantic versions.
   *
   * @param project The logger's project.
   * @returns The store.
   */
  artifacts(project: string): ArtifactStore {
    // One store per project, so its calls are serialised (identical content
    // logged at once makes one version).
    let store = this.#artifactStores.get(project);
    if (!store) {
      store = new CometArtifactStore({
        http: this.#http,
        workspace: this.#config.workspace,
        ensureExperiment: (runId, signal) =>
          this.ensureExperiment(
            runId,
            this.#config.projectName ?? project,
            signal,
            this.#runs.get(runId)?.resumed === true,
          ),
      });
      this.#artifactStores.set(project, store);
    }
    return store;
  }

  /** Stops the heartbeats, waiting for one on its way. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#runs.values()) this.#stopHeartbeat(state);
    await Promise.all([...this.#runs.values()].map((state) => state.beat));
  }

  #reserve(unit: readonly TrackingEvent[]): number {
    const first = unit[0];
    switch (first.kind) {
      case "metric":
        return this.#limiter.reserve([["metrics", unit.length]]);
      case "param":
        return this.#limiter.reserve([["parameters", unit.length]]);
      case "artifact":
        return 0;
      case "media":
        // Uploads go to the SDK's endpoints; HTML and graphs to REST v2.
        return this.#limiter.reserve(
          first.mediaType === "html" || first.mediaType === "graph"
            ? [["other", 1], ["rest", 1]]
            : [["other", 1]],
        );
      default:
        return this.#limiter.reserve([["other", 1], ["rest", 1]]);
    }
  }

  async #sendUnit(
    unit: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<void> {
    const first = unit[0];
    switch (first.kind) {
      case "run_start":
        return await this.#start(first, signal);
      case "run_name":
        await this.#info(first.runId, signal);
        await this.#logOther(first.runId, "Name", first.name, signal);
        return;
      case "tag":
        await this.#info(first.runId, signal);
        await this.#http.json("POST", "/api/rest/v2/write/experiment/tags", {
          body: { experimentKey: first.runId, addedTags: first.tags },
          signal,
        });
        return;
      case "metric":
        await this.#info(first.runId, signal);
        await this.#http.json(
          "POST",
          "/clientlib/batch/logger/experiment/metric",
          {
            body: {
              experimentKey: first.runId,
              values: (unit as MetricEvent[]).map(metricValue),
            },
            gzip: true,
            signal,
          },
        );
        return;
      case "param":
        await this.#info(first.runId, signal);
        await this.#http.json(
          "POST",
          "/clientlib/batch/logger/experiment/parameter",
          {
            body: {
              experimentKey: first.runId,
              values: (unit as ParamEvent[]).map(parameterValue),
            },
            gzip: true,
            signal,
          },
        );
        return;
      case "media":
        return await this.#media(first, signal);
      case "run_end":
        return await this.#end(first, signal);
      case "artifact":
        // Lineage is recorded by the artifact calls themselves (the
        // version's experiment, and `consumerExperimentKey` on download).
        return;
    }
  }

  async #start(event: RunStartEvent, signal: AbortSignal): Promise<void> {
    const project = this.#config.projectName ?? event.project;
    const state = this.#state(event.runId, project);
    state.projectKnown = true;
    // A resumed experiment keeps its own start time.
    if (event.resume === true) state.resumed = true;
    else state.startMs ??= event.timestampMs;
    await this.#handshake(event.runId, project, event.resume === true, signal);
    if (event.name !== undefined) {
      await this.#logOther(event.runId, "Name", event.name, signal);
    }
    if (event.tags.length > 0) {
      await this.#http.json("POST", "/api/rest/v2/write/experiment/tags", {
        body: { experimentKey: event.runId, addedTags: event.tags },
        signal,
      });
    }
    this.#startHeartbeat(event.runId, state);
  }

  async #end(event: RunEndEvent, signal: AbortSignal): Promise<void> {
    const state = this.#state(event.runId, undefined);
    await this.#info(event.runId, signal);
    this.#stopHeartbeat(state);
    // A beat already on its way must not mark the run alive after its end.
    await state.beat;
    const times: Record<string, unknown> = {
      experimentKey: event.runId,
      endTimeMillis: event.timestampMs,
    };
    if (state.startMs !== undefined) times.startTimeMillis = state.startMs;
    await this.#http.json(
      "POST",
      "/api/rest/v2/write/experiment/set-start-end-time",
      { body: times, signal },
    );
    const status: Record<string, unknown> = {
      experimentKey: event.runId,
      isAlive: false,
      hasCrashed: event.status !== "finished",
    };
    if (event.status !== "finished") status.error = `run ${event.status}`;
    await this.#http.json(
      "POST",
      "/api/rest/v2/write/experiment/update-status",
      { body: status, signal },
    );
  }

  async #media(event: MediaEvent, signal: AbortSignal): Promise<void> {
    const info = await this.#info(event.runId, signal);
    await sendMedia(this.#http, info, mediaRequest(event), {
      step: event.step,
      epoch: event.epoch,
      context: event.context,
      timestampMs: event.timestampMs,
      // A deterministic asset id: a retried upload replaces, never duplicates.
      assetId: eventAssetId(event),
      signal,
    });
  }

  #logOther(
    key: string,
    name: string,
    value: unknown,
    signal: AbortSignal,
  ): Promise<unknown> {
    return this.#http.json("POST", "/api/rest/v2/write/experiment/log-other", {
      body: { experimentKey: key, key: name, value },
      signal,
    });
  }

  /** The run's experiment, from this process's handshake or Comet's answer for an existing one. */
  #info(runId: string, signal: AbortSignal): Promise<CometExperimentInfo> {
    const state = this.#state(runId, undefined);
    if (state.info) return Promise.resolve(state.info);
    // A run this process did not start (replayed from a dead process's
    // spool, or resumed): its experiment exists already, in a project this
    // process does not know.
    return this.#handshake(
      runId,
      state.project,
      true,
      signal,
      state.projectKnown === true,
    );
  }

  #state(runId: string, project: string | undefined): RunState {
    let state = this.#runs.get(runId);
    if (!state) {
      state = {
        project: project ?? this.#config.projectName ?? "general",
        beating: false,
        resumed: false,
      };
      this.#runs.set(runId, state);
    } else if (project !== undefined && !state.info) {
      state.project = project;
    }
    return state;
  }

  #handshake(
    runId: string,
    project: string,
    existing: boolean,
    signal?: AbortSignal,
    projectKnown = true,
  ): Promise<CometExperimentInfo> {
    if (!isExperimentKey(runId)) {
      return Promise.reject(
        new BackendError(
          `Cannot use run id ${
            JSON.stringify(runId)
          } as a Comet experiment key: expected 32 to 50 ASCII letters and digits`,
          { backend: "comet", retryable: false },
        ),
      );
    }
    const state = this.#state(runId, project);
    if (state.info) return Promise.resolve(state.info);
    // One handshake per run, shared by every caller; it runs under the
    // client's own timeout, so one caller giving up cannot fail it for the
    // others: each only stops waiting.
    state.creating ??= this.#createExperiment(
      runId,
      state,
      existing,
      projectKnown,
    );
    const creating = state.creating;
    creating.catch(() => {}).finally(() => {
      if (state.creating === creating) state.creating = undefined;
    });
    return waitFor(creating, signal);
  }

  async #createExperiment(
    runId: string,
    state: RunState,
    existing: boolean,
    projectKnown: boolean,
  ): Promise<CometExperimentInfo> {
    let answer: Handshake;
    if (existing) {
      answer = await this.#getRun(runId);
      if (projectKnown) await this.#assertProject(runId, state.project);
    } else {
      try {
        answer = await this.#http.json<Handshake>(
          "POST",
          "/clientlib/logger/add/run",
          {
            auth: "body",
            body: {
              local_timestamp: this.#clock.now(),
              experimentKey: runId,
              offline: false,
              projectName: state.project,
              teamName: this.#config.workspace,
              libVersion: LIB_VERSION,
            },
          },
        );
      } catch (error) {
        // Created by an earlier attempt whose answer was lost (or by
        // someone else: then it must be in this project).
        if (
          !(error instanceof CometApiError) || error.sdkErrorCode !== 90999
        ) {
          throw error;
        }
        answer = await this.#getRun(runId);
        await this.#assertProject(runId, state.project);
      }
    }
    const info = this.#readHandshake(runId, state.project, answer);
    state.info = info;
    return info;
  }

  /**
   * An existing experiment is continued only in its own workspace and
   * project: a run id is no way into another project's experiment.
   */
  async #assertProject(runId: string, project: string): Promise<void> {
    const meta = await this.#http.json<
      { projectName?: unknown; workspaceName?: unknown }
    >("GET", "/api/rest/v2/experiment/metadata", {
      query: { experimentKey: runId },
    });
    const foundProject = meta.projectName;
    const foundWorkspace = meta.workspaceName;
    if (
      (typeof foundProject === "string" &&
        foundProject.toLowerCase() !== project.toLowerCase()) ||
      (typeof foundWorkspace === "string" &&
        foundWorkspace !== this.#config.workspace)
    ) {
      throw new BackendError(
        `Cannot continue Comet experiment ${runId} in project ${
          JSON.stringify(project)
        }: it belongs to ${JSON.stringify(foundWorkspace)}/${
          JSON.stringify(foundProject)
        }`,
        { backend: "comet", retryable: false },
      );
    }
  }

  #getRun(runId: string): Promise<Handshake> {
    return this.#http.json<Handshake>("POST", "/clientlib/logger/get/run", {
      auth: "body",
      body: {
        local_timestamp: this.#clock.now(),
        previousExperiment: runId,
        libVersion: LIB_VERSION,
      },
    });
  }

  #readHandshake(
    runId: string,
    project: string,
    answer: Handshake,
  ): CometExperimentInfo {
    if (typeof answer?.runId !== "string") {
      throw new CometApiError(
        `Comet's handshake for experiment ${runId} has no 'runId'`,
        { endpoint: "POST /clientlib/logger/add/run", retryable: false },
      );
    }
    const focus = typeof answer.focusUrl === "string"
      ? answer.focusUrl
      : `${this.#http.rootUrl}/${this.#config.workspace}/${project}/`;
    return {
      experimentKey: runId,
      workspace: this.#config.workspace,
      projectName: project,
      projectId: typeof answer.project_id === "string" ? answer.project_id : "",
      cometRunId: answer.runId,
      url: `${focus.endsWith("/") ? focus : `${focus}/`}${runId}`,
    };
  }

  #startHeartbeat(runId: string, state: RunState): void {
    if (!this.#config.heartbeat || state.beating || this.#closed) return;
    state.beating = true;
    const beat = async (): Promise<void> => {
      state.heartbeat = undefined;
      if (!state.beating || this.#closed) return;
      let nextMs = HEARTBEAT_FALLBACK_MS;
      try {
        const answer = await this.#http.json<
          { isAliveBeatDurationMillis?: unknown }
        >("GET", "/api/rest/v2/write/experiment/set-status", {
          query: { experimentKey: runId },
        });
        const asked = answer.isAliveBeatDurationMillis;
        if (typeof asked === "number" && asked > 0) {
          nextMs = Math.min(
            HEARTBEAT_MAX_MS,
            Math.max(HEARTBEAT_MIN_MS, asked),
          );
        }
      } catch {
        // A missed beat is not data loss; the next one tries again.
      }
      if (state.beating && !this.#closed) {
        state.heartbeat = this.#clock.setTimeout(() => {
          state.beat = beat();
        }, nextMs);
      }
    };
    state.beat = beat();
  }

  #stopHeartbeat(state: RunState): void {
    state.beating = false;
    if (state.heartbeat !== undefined) {
      this.#clock.clearTimeout(state.heartbeat);
      state.heartbeat = undefined;
    }
  }
}

/**
 * A media event's asset id: 32 hex digits derived from the event, so a
 * retried upload replaces the first one instead of adding a copy, and a
 * resumed run (whose `seq` starts again at 0) never reuses an id.
 */
function eventAssetId(event: MediaEvent): string {
  const hash = createHash("sha256");
  hash.update(new TextEncoder().encode(eventIdentity(event)));
  return toHex(hash.digest()).slice(0, 32);
}

/** Where and when a media request belongs. */
export interface MediaPlacement {
  /** Step. */
  step?: number;
  /** Epoch. */
  epoch?: number;
  /** Context such as `"train"`. */
  context?: string;
  /** When it was logged. */
  timestampMs: number;
  /** The asset id to use (32 hex digits). */
  assetId: string;
  /** Replace an asset of the same name. */
  overwrite?: boolean;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * Makes the request of one media value as Comet's SDK does (an upload, or
 * the HTML or graph endpoint).
 *
 * @param http The client.
 * @param info The experiment.
 * @param request What to send.
 * @param placement Step, epoch, context, time and asset id.
 */
export async function sendMedia(
  http: CometHttp,
  info: CometExperimentInfo,
  request: CometMediaRequest,
  placement: MediaPlacement,
): Promise<void> {
  const key = info.experimentKey;
  const signal = placement.signal;
  if (request.kind === "html") {
    await http.json("POST", "/api/rest/v2/write/experiment/html", {
      body: {
        experimentKey: key,
        html: request.html,
        override: placement.overwrite === true,
        timestamp: placement.timestampMs,
      },
      signal,
    });
    return;
  }
  if (request.kind === "graph") {
    await http.json("POST", "/api/rest/v2/write/experiment/graph", {
      body: { experimentKey: key, graph: request.graph },
      signal,
    });
    return;
  }
  const common = {
    experimentId: key,
    projectId: info.projectId,
    runId: info.cometRunId,
    step: placement.step,
    epoch: placement.epoch,
    context: placement.context,
    overwrite: placement.overwrite === true ? "true" : "false",
    extension: request.extension,
  };
  const query = request.endpoint === "visualization"
    ? { ...common, figName: request.fileName, imageId: placement.assetId }
    : {
      ...common,
      assetId: placement.assetId,
      fileName: request.fileName,
      type: request.type,
    };
  const fields: MultipartField[] = [
    { name: "file", filename: "file", value: request.data },
  ];
  if (request.metadata !== undefined) {
    fields.push({ name: "metadata", value: request.metadata });
  }
  await http.upload(
    request.endpoint === "visualization"
      ? "/clientlib/visualizations/upload"
      : "/clientlib/asset/upload",
    fields,
    { query, auth: "query", signal },
  );
}
