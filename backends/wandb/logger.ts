// This module is browser compatible.
import {
  type EndOptions,
  Logger,
  type LoggerOptions,
} from "../../logger/logger.ts";
import { OutputCapture } from "../../logger/output.ts";
import type { FlushReport } from "../../pipeline/pipeline.ts";
import { readEnvironment } from "../../runtime/fs.ts";
import { WandbBackend, type WandbRunInfo } from "./backend.ts";
import { resolveWandbConfig, type WandbBackendOptions } from "./config.ts";
import { WandbRun } from "./run.ts";

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
  /**
   * Copy what the program prints with `console` to the run's Logs tab
   * (`output.log`), as `wandb.init(console="auto")` does: stdout lines as
   * they are, `console.warn`/`error` as error lines, every 2 s.
   * @default {false}
   */
  captureOutput?: boolean;
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
  #run: WandbRun;
  #capture: OutputCapture | undefined;

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
    this.#run = new WandbRun({ backend, runId: this.runId, project });
    if (options.captureOutput === true) {
      const runId = this.runId;
      this.#capture = new OutputCapture({
        // Both streams in one call: W&B marks stderr line by line, and one
        // request per flush keeps the print order.
        sink: (lines, { stderrLines, timesMs }) =>
          backend.postOutput(runId, project, lines, { stderrLines, timesMs }),
        intervalMs: 2000,
        mixedStreams: true,
      });
      this.#capture.start();
    }
  }

  /**
   * Ends the run: stops capturing output (sending what is left, waiting at
   * most 5 s for it), then ends as every logger does.
   *
   * @param options Status and how long to wait for the final flush.
   * @returns How the final flush went.
   */
  override async end(options: EndOptions = {}): Promise<FlushReport> {
    const capture = this.#capture;
    this.#capture = undefined;
    await capture?.stopWithin(Math.min(options.timeoutMs ?? 5000, 5000));
    return await super.end(options);
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
   * The run's W&B API, for what `log()` does not cover: GraphQL with the
   * logger's key, what the server holds, notes, files, console lines, the
   * Stop button and the artifact store.
   *
   * @returns The run.
   */
  getExperiment(): WandbRun {
    return this.#run;
  }
}
