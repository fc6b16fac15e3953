// This module is browser compatible.
import {
  type EndOptions,
  Logger,
  type LoggerOptions,
} from "../../logger/logger.ts";
import type { FlushReport } from "../../pipeline/pipeline.ts";
import { OutputCapture } from "../../logger/output.ts";
import { readEnvironment } from "../../runtime/fs.ts";
import { CometBackend } from "./backend.ts";
import type { CometBackendOptions } from "./config.ts";
import { isExperimentKey } from "./encode.ts";
import { CometExperiment } from "./experiment.ts";

/** Options of {@linkcode CometLogger}: Comet's settings and the logger's. */
export interface CometLoggerOptions extends
  Omit<
    LoggerOptions,
    "backend" | "backends" | "project" | "runId" | "resume"
  >,
  CometBackendOptions {
  /**
   * An existing experiment to continue (its key, 32 to 50 letters and
   * digits). A new experiment by default.
   */
  experimentKey?: string;
  /** Display name of the experiment (same as `name`). */
  experimentName?: string;
  /**
   * Copy what the program prints through `console` to the experiment's
   * Output tab (stdout: `log`, `info`, `debug`; stderr: `warn`, `error`),
   * in batches every 5 s or 500 lines, as Comet's SDK does. The console
   * still prints everything.
   * @default {false}
   */
  captureOutput?: boolean;
}

/**
 * A logger whose run is a Comet ML experiment, as the original Python
 * uetai's `CometLogger`: `log()` sends metrics and media, `logArtifact` and
 * `downloadArtifact` use Comet artifacts, and `getExperiment()` hands out
 * the raw {@linkcode CometExperiment}. Settings fall back to
 * `COMET_API_KEY`, `COMET_WORKSPACE`, `COMET_PROJECT_NAME` and
 * `COMET_URL_OVERRIDE`; a missing key or workspace is a `TypeError` at
 * once. While Comet is unreachable, events wait in the spool (on disk where
 * there is a filesystem) and are sent when it is back.
 *
 * @example
 * ```ts
 * import { CometLogger } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * assert.throws(() => new CometLogger({ projectName: "p", env: {} }), /COMET_API_KEY/);
 * ```
 */
export class CometLogger extends Logger {
  #backend: CometBackend;
  #experiment: CometExperiment;
  #capture: OutputCapture | undefined;

  /**
   * Creates the logger and starts its experiment (sent in the background).
   *
   * @param options Comet settings (`apiKey`, `workspace`, `projectName`, `experimentKey`, ...) and logger settings.
   * @throws {TypeError} When the key or workspace is missing, or `experimentKey` is malformed.
   */
  constructor(options: CometLoggerOptions = {}) {
    const env = options.env ?? readEnvironment();
    const backend = new CometBackend({ ...options, env, clock: options.clock });
    const key = options.experimentKey;
    if (key !== undefined && !isExperimentKey(key)) {
      throw new TypeError(
        `Cannot create CometLogger: 'experimentKey' must be 32 to 50 ASCII letters and digits (current value: ${
          JSON.stringify(key)
        })`,
      );
    }
    super({
      ...options,
      env,
      project: backend.projectName ?? env.UETAI_PROJECT ?? "general",
      name: options.name ?? options.experimentName,
      runId: key,
      resume: key !== undefined,
      backend,
    });
    this.#backend = backend;
    const runId = this.runId;
    const project = this.project;
    this.#experiment = new CometExperiment({
      http: backend.http,
      experimentKey: runId,
      // Creates the experiment now if the pipeline has not sent it yet.
      ready: (signal) =>
        backend.ensureExperiment(runId, project, signal, key !== undefined),
    });
    if (options.captureOutput === true) {
      const experiment = this.#experiment;
      this.#capture = new OutputCapture({
        sink: (lines, { stderr }) => experiment.logOutput(lines, { stderr }),
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

  /** The experiment key (the run id). */
  get experimentKey(): string {
    return this.runId;
  }

  /** The experiment's page on Comet, once Comet created it. */
  get experimentUrl(): string | undefined {
    return this.#backend.experiment(this.runId)?.url;
  }

  /**
   * The raw Comet API of this experiment, for what `log()` does not cover.
   *
   * @returns The experiment.
   */
  getExperiment(): CometExperiment {
    return this.#experiment;
  }
}
