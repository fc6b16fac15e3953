// This module is browser compatible.
import { Logger, type LoggerOptions } from "../../logger/logger.ts";
import { readEnvironment } from "../../runtime/fs.ts";
import { WandbBackend, type WandbRunInfo } from "./backend.ts";
import { resolveWandbConfig, type WandbBackendOptions } from "./config.ts";
import type { WandbHttp } from "./http.ts";

/** Options of {@linkcode WandbLogger}: W&B's settings and the logger's. */
export interface WandbLoggerOptions
  extends
    Omit<LoggerOptions, "backend" | "backends" | "project" | "resume">,
    WandbBackendOptions {
  /**
   * The run id: continue that run (a resume, as `wandb.init(id=...,
   * resume="allow")`), else a new random id.
   */
  runId?: string;
  /** Continue the run `runId` already on W&B: its history goes on after its last step. */
  resume?: boolean;
}

/**
 * A logger whose run is a Weights & Biases run: `log()` streams history
 * rows (metrics and media) through `file_stream`, parameters become the run
 * config, and `getExperiment()` hands out the authenticated client with the
 * run's place. Settings fall back to `WANDB_API_KEY`, `WANDB_ENTITY`,
 * `WANDB_PROJECT` and `WANDB_BASE_URL`; a missing key is a `TypeError` at
 * once.
 *
 * @example
 * ```ts
 * import { WandbLogger } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * assert.throws(() => new WandbLogger({ env: {} }), /WANDB_API_KEY/);
 * ```
 */
export class WandbLogger extends Logger {
  #backend: WandbBackend;

  /**
   * Creates the logger and starts its run (sent in the background).
   *
   * @param options W&B settings and logger settings.
   * @throws {TypeError} When the key is missing or malformed, or `resume` has no `runId`.
   */
  constructor(options: WandbLoggerOptions = {}) {
    const env = options.env ?? readEnvironment();
    const project = resolveWandbConfig({ ...options, env }).project ??
      env.UETAI_PROJECT ?? "uncategorized";
    const backend = new WandbBackend({
      ...options,
      env,
      clock: options.clock,
      replayProject: project,
    });
    super({ ...options, env, project, backend });
    this.#backend = backend;
  }

  /**
   * Where this run lives on W&B (entity, project, page URL), creating it
   * now if the pipeline has not yet.
   *
   * @returns The run.
   */
  wandbRun(): Promise<WandbRunInfo> {
    return this.#backend.ensureRun(this.runId, this.project);
  }

  /**
   * The authenticated W&B client (GraphQL, file_stream, signed URLs), for
   * what `log()` does not cover.
   *
   * @returns The client.
   */
  getExperiment(): WandbHttp {
    return this.#backend.http;
  }
}
