// This module is browser compatible.
/**
 * The Comet ML backend: {@linkcode CometLogger} (a logger whose run is a
 * Comet experiment), the {@linkcode CometBackend} the pipeline feeds, the
 * raw {@linkcode CometExperiment} API, and Comet artifacts as uetai
 * artifact versions. Importing `@uetai/uetai` registers the backend as
 * `"comet"`, chosen by `createLogger()` when `COMET_API_KEY` is set.
 *
 * Requests are those of Comet's official Python SDK (its handshake, gzip
 * metric and parameter batches of up to 1000 values, uploads, REST v2
 * calls), authenticated with the API key, which never appears in a message.
 *
 * @example
 * ```ts
 * import { CometBackend, CometLogger } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * assert.throws(() => new CometLogger({ env: {} }), /no API key/);
 * const backend = new CometBackend({ env: { COMET_API_KEY: "k3y", COMET_WORKSPACE: "ws" } });
 * assert.equal(backend.workspace, "ws");
 * await backend.close();
 * ```
 *
 * @module
 */
export { CometLogger, type CometLoggerOptions } from "./logger.ts";
export {
  COMET_MAX_BATCH_VALUES,
  CometBackend,
  type CometBackendConstructorOptions,
  type CometExperimentInfo,
  type MediaPlacement,
  sendMedia,
} from "./backend.ts";
export {
  type CometBackendOptions,
  type CometConfig,
  DEFAULT_COMET_URL,
  resolveCometConfig,
} from "./config.ts";
export {
  type CometAsset,
  type CometAssetOptions,
  CometExperiment,
  type CometExperimentOptions,
  type CometMetricPoint,
  type CometStepOptions,
  type CometSummaryValue,
} from "./experiment.ts";
export {
  CometApiError,
  CometHttp,
  type CometHttpOptions,
  type CometRequestOptions,
  gzip,
  type MultipartField,
} from "./http.ts";
export {
  CometArtifactStore,
  type CometArtifactStoreOptions,
  compareSemver,
} from "./artifacts.ts";
export type { UploadBody } from "../../artifact/http.ts";
export type {
  ConfusionMatrixCountsInput,
  ConfusionMatrixInput,
  ConfusionMatrixPairsInput,
  ConfusionMatrixTitles,
} from "../../media/confusion_matrix.ts";
export type { CurveInput } from "../../media/curve.ts";
export type {
  HistogramCountsInput,
  HistogramInput,
  HistogramValuesInput,
} from "../../media/histogram.ts";
export {
  OutputCapture,
  type OutputCaptureOptions,
  type OutputSink,
} from "../../logger/output.ts";
export {
  COMET_RATE_LIMITS,
  type CometRateLimits,
  type RateCategory,
  RateLimiter,
} from "./rate_limiter.ts";
export {
  type CometMediaRequest,
  type CometMetricValue,
  type CometNumber,
  cometNumber,
  type CometParameterValue,
  isExperimentKey,
  LIB_VERSION,
  mediaRequest,
  metricValue,
  parameterValue,
} from "./encode.ts";
