// This module is browser compatible.
import { Logger, type LoggerOptions } from "../../logger/logger.ts";
import { readEnvironment } from "../../runtime/fs.ts";
import { MlflowBackend, type MlflowRunInfo } from "./backend.ts";
import { MlflowClient } from "./client.ts";
import type { MlflowBackendOptions } from "./config.ts";

/** Options of {@linkcode MlflowLogger}: MLflow's settings and the logger's. */
export interface MlflowLoggerOptions
  extends
    Omit<LoggerOptions, "backend" | "backends" | "project" | "resume">,
    MlflowBackendOptions {
  /**
   * An existing MLflow run to continue: its MLflow run id (32 hex digits).
   * A new run by default.
   */
  runId?: string;
  /** Display name of the run (same as `name`). */
  runName?: string;
}

/**
 * A logger whose run is an MLflow run: `log()` sends metrics in
 * `runs/log-batch` requests cut to MLflow's limits and media as artifact
 * files MLflow's UI shows, `logArtifact` and `downloadArtifact` use the
 * Model Registry, and `getExperiment()` hands out the raw
 * {@linkcode MlflowClient}. Settings fall back to `MLFLOW_TRACKING_URI`,
 * `MLFLOW_EXPERIMENT_NAME`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD` and
 * `MLFLOW_TRACKING_TOKEN`; a missing tracking URI is a `TypeError` at once.
 *
 * @example
 * ```ts
 * import { MlflowLogger } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * assert.throws(() => new MlflowLogger({ env: {} }), /MLFLOW_TRACKING_URI/);
 * ```
 */
export class MlflowLogger extends Logger {
  #backend: MlflowBackend;
  #client: MlflowClient;
  #resume: boolean;

  /**
   * Creates the logger and starts its run (sent in the background).
   *
   * @param options MLflow settings (`trackingUri`, `experimentName`, `runId`, `auth`, ...) and logger settings.
   * @throws {TypeError} When the tracking URI is missing or malformed, or `runId` is not an MLflow run id.
   */
  constructor(options: MlflowLoggerOptions = {}) {
    const env = options.env ?? readEnvironment();
    const backend = new MlflowBackend({ ...options, env });
    if (options.runId !== undefined && !/^[0-9a-f]{32}$/.test(options.runId)) {
      throw new TypeError(
        `Cannot create MlflowLogger: 'runId' must be an MLflow run id of 32 hex digits (current value: ${
          JSON.stringify(options.runId)
        })`,
      );
    }
    super({
      ...options,
      env,
      project: backend.experimentName ?? env.UETAI_PROJECT ?? "Default",
      name: options.name ?? options.runName,
      runId: options.runId,
      resume: options.runId !== undefined,
      backend,
    });
    this.#backend = backend;
    this.#client = new MlflowClient(backend.http);
    this.#resume = options.runId !== undefined;
  }

  /**
   * MLflow's view of this run (its MLflow id, experiment and artifact root),
   * creating the run now if the pipeline has not sent it yet.
   *
   * @returns The run.
   */
  mlflowRun(): Promise<MlflowRunInfo> {
    return this.#backend.ensureRun(this.runId, this.project, this.#resume);
  }

  /**
   * The raw MLflow API, for what `log()` does not cover. The run's MLflow
   * id comes from {@linkcode MlflowLogger.mlflowRun}.
   *
   * @returns The client.
   */
  getExperiment(): MlflowClient {
    return this.#client;
  }
}
