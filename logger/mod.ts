// This module is browser compatible.

/**
 * The public logging API: {@linkcode createLogger} and {@linkcode Logger},
 * and the backend registry that later modules plug into.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai/logger";
 * import assert from "node:assert/strict";
 * const logger = createLogger({ backend: "memory" });
 * logger.log({ loss: 0.1 }, { step: 1 });
 * const report = await logger.end();
 * assert.ok(report.ok);
 * ```
 *
 * @module
 */
import "../backends/builtin.ts";

export {
  createLogger,
  type EndOptions,
  type FlushOptions,
  Logger,
  type LoggerOptions,
  type LogOptions,
  type LogValues,
  type NonFinitePolicy,
  type PixelArray,
} from "./logger.ts";
export {
  type BackendContext,
  type BackendFactory,
  createBackend,
  detectBackend,
  registerBackend,
  registeredBackends,
} from "./registry.ts";
export {
  OutputCapture,
  type OutputCaptureOptions,
  type OutputSink,
} from "./output.ts";
