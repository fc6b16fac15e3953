// This module is browser compatible.
import type { ArtifactStore } from "../../artifact/types.ts";
import type { WandbBackend, WandbRunInfo } from "./backend.ts";
import type { WandbHttp } from "./http.ts";
import { parseWandbJson } from "./encode.ts";
import { RUN_STATE, RUN_STOPPED_STATUS, UPSERT_BUCKET } from "./queries.ts";

/** A run as W&B holds it, from {@linkcode WandbRun.read}. */
export interface WandbRunState {
  /** The run id. */
  runId: string;
  /** The name shown in the app. */
  displayName: string | null;
  /** `"running"`, `"finished"`, `"failed"`, `"crashed"`... */
  state: string | null;
  /** Notes. */
  notes: string | null;
  /** Tags. */
  tags: string[];
  /** The config, as plain values (W&B's `{key: {value}}` unwrapped). */
  config: Record<string, unknown>;
  /** The summary (the last value of each key, and what was set). */
  summary: Record<string, unknown>;
  /** History rows the server holds. */
  historyLineCount: number;
  /** Console lines the server holds. */
  logLineCount: number;
}

/** What {@linkcode WandbRun} needs of the logger that made it. */
export interface WandbRunOptions {
  /** The backend carrying the run. */
  backend: WandbBackend;
  /** The run id. */
  runId: string;
  /** The logger's project (unless fixed by W&B options). */
  project: string;
}

/**
 * The W&B run of a logger, for what the unified API does not cover: where
 * it lives, what the server holds of it, notes, files, console lines, the
 * Stop button, the run's artifact store, and any GraphQL operation with the
 * logger's credentials. Every call creates the run first if the pipeline has
 * not yet. `WandbLogger.getExperiment()` returns it.
 *
 * @example
 * ```ts
 * import { WandbBackend, WandbRun } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const backend = new WandbBackend({ apiKey: "k".repeat(40), entity: "me" });
 * const run = new WandbRun({ backend, runId: "abc123", project: "mnist" });
 * assert.equal(run.runId, "abc123");
 * await backend.close();
 * ```
 */
export class WandbRun {
  #backend: WandbBackend;
  #runId: string;
  #project: string;

  /**
   * Wraps a run of a backend.
   *
   * @param options Backend, run id and project.
   */
  constructor(options: WandbRunOptions) {
    this.#backend = options.backend;
    this.#runId = options.runId;
    this.#project = options.project;
  }

  /** The run id (the W&B run `name`). */
  get runId(): string {
    return this.#runId;
  }

  /** The authenticated HTTP client (GraphQL, file_stream, signed URLs). */
  get http(): WandbHttp {
    return this.#backend.http;
  }

  /** The project's artifact versions (W&B artifacts). */
  get artifacts(): ArtifactStore {
    return this.#backend.artifacts(this.#project);
  }

  /**
   * Where the run lives: entity, project, storage id and page URL.
   *
   * @param signal Aborts the wait.
   * @returns The run.
   */
  info(signal?: AbortSignal): Promise<WandbRunInfo> {
    return this.#backend.ensureRun(this.#runId, this.#project, signal);
  }

  /**
   * Runs any GraphQL operation with the logger's key.
   *
   * @param operationName The operation's name, as in `query`.
   * @param query The document.
   * @param variables Its variables.
   * @param options Abort signal.
   * @returns The `data` of the answer.
   * @throws {WandbApiError} On an HTTP error or GraphQL errors.
   */
  graphql<T = Record<string, unknown>>(
    operationName: string,
    query: string,
    variables?: Record<string, unknown>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#backend.http.graphql<T>(
      operationName,
      query,
      variables,
      options,
    );
  }

  /**
   * Reads what W&B holds of the run.
   *
   * @param signal Aborts the call.
   * @returns The run's state, config, summary and line counts.
   */
  async read(signal?: AbortSignal): Promise<WandbRunState> {
    const info = await this.info(signal);
    const data = await this.graphql<{
      project?: {
        run?: {
          displayName?: string | null;
          state?: string | null;
          notes?: string | null;
          tags?: string[] | null;
          config?: string | null;
          summaryMetrics?: string | null;
          historyLineCount?: number | null;
          logLineCount?: number | null;
        } | null;
      } | null;
    }>("RunState", RUN_STATE, {
      entity: info.entity,
      project: info.project,
      name: info.runId,
    }, { signal });
    const run = data.project?.run;
    const config: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(object(run?.config))) {
      if (key === "_wandb") continue;
      config[key] = entry !== null && typeof entry === "object" &&
          "value" in entry
        ? (entry as { value: unknown }).value
        : entry;
    }
    return {
      runId: info.runId,
      displayName: run?.displayName ?? null,
      state: run?.state ?? null,
      notes: run?.notes ?? null,
      tags: [...run?.tags ?? []],
      config,
      summary: object(run?.summaryMetrics),
      historyLineCount: run?.historyLineCount ?? 0,
      logLineCount: run?.logLineCount ?? 0,
    };
  }

  /**
   * Sets the run's notes (the description under its name in the app).
   *
   * @param notes The text.
   * @param signal Aborts the call.
   */
  async setNotes(notes: string, signal?: AbortSignal): Promise<void> {
    if (typeof notes !== "string") {
      throw new TypeError(
        `Cannot set notes of W&B run ${
          JSON.stringify(this.#runId)
        }: expected a string, got ${typeof notes}`,
      );
    }
    const info = await this.info(signal);
    await this.graphql("UpsertBucket", UPSERT_BUCKET, {
      id: info.storageId || null,
      name: info.runId,
      project: info.project,
      entity: info.entity,
      notes,
    }, { signal });
  }

  /**
   * Uploads files to the run's Files tab, as `wandb.save` does.
   *
   * @param files Paths in the run (such as `"model.onnx"`) and their bytes.
   * @param signal Aborts the uploads.
   */
  async uploadFiles(
    files: readonly { path: string; data: Uint8Array }[],
    signal?: AbortSignal,
  ): Promise<void> {
    for (const file of files) {
      if (
        typeof file?.path !== "string" || file.path === "" ||
        file.path.split("/").some((part) => part === "" || part === "..") ||
        !(file.data instanceof Uint8Array)
      ) {
        throw new TypeError(
          `Cannot upload ${JSON.stringify(file?.path)} to W&B run ${
            JSON.stringify(this.#runId)
          }: expected a relative path without empty or '..' parts and Uint8Array data`,
        );
      }
    }
    await this.#backend.uploadFiles(this.#runId, this.#project, files, signal);
  }

  /**
   * Appends console lines to the run's Logs tab (`output.log`).
   *
   * @param lines The lines.
   * @param options Whether they are stderr (shown as errors).
   */
  logOutput(
    lines: readonly string[],
    options: { stderr?: boolean } = {},
  ): Promise<void> {
    return this.#backend.postOutput(this.#runId, this.#project, lines, options);
  }

  /**
   * Whether someone pressed Stop on the run's page (W&B's
   * `RunStoppedStatus`); a training loop may check it and end early.
   *
   * @param signal Aborts the call.
   * @returns Whether the run was stopped.
   */
  async isStopped(signal?: AbortSignal): Promise<boolean> {
    const info = await this.info(signal);
    const data = await this.graphql<
      { project?: { run?: { stopped?: boolean } | null } | null }
    >("RunStoppedStatus", RUN_STOPPED_STATUS, {
      entityName: info.entity,
      projectName: info.project,
      runId: info.runId,
    }, { signal });
    return data.project?.run?.stopped === true;
  }
}

function object(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = parseWandbJson(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown>
      : {};
  } catch {
    return {};
  }
}
