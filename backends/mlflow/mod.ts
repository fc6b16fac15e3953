// This module is browser compatible.
/**
 * The MLflow backend: {@linkcode MlflowLogger} (a logger whose run is an
 * MLflow run), the {@linkcode MlflowBackend} the pipeline feeds, the raw
 * {@linkcode MlflowClient}, and artifact versions in MLflow's Model
 * Registry. Importing `@uetai/uetai` registers the backend as `"mlflow"`,
 * chosen by `createLogger()` when `MLFLOW_TRACKING_URI` is set.
 *
 * @example
 * ```ts
 * import { MlflowBackend, MlflowLogger } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * assert.throws(() => new MlflowLogger({ env: {} }), /no tracking server/);
 * const backend = new MlflowBackend({ env: { MLFLOW_TRACKING_URI: "http://127.0.0.1:5000" } });
 * assert.equal(backend.name, "mlflow");
 * await backend.close();
 * ```
 *
 * @module
 */
export { MlflowLogger, type MlflowLoggerOptions } from "./logger.ts";
export {
  MlflowBackend,
  MlflowParamChangedError,
  type MlflowRunInfo,
  RUN_ID_TAG,
} from "./backend.ts";
export {
  type MlflowBackendOptions,
  type MlflowConfig,
  resolveMlflowConfig,
} from "./config.ts";
export {
  MlflowApiError,
  type MlflowAuth,
  MlflowHttp,
  type MlflowHttpOptions,
  type MlflowRequestOptions,
} from "./http.ts";
export {
  MlflowClient,
  type MlflowExperiment,
  type MlflowFileInfo,
  type MlflowMetric,
  type MlflowModelVersion,
  type MlflowRegisteredModel,
  type MlflowRun,
  type MlflowTag,
  type SearchRunsOptions,
} from "./client.ts";
export {
  MlflowArtifactStore,
  type MlflowArtifactStoreOptions,
} from "./artifacts.ts";
export {
  type BatchableEvent,
  cutLogBatches,
  imageId,
  imageKey,
  isBatchable,
  keyPath,
  keyProblem,
  type LogBatchBody,
  type MediaFile,
  type MediaLayout,
  mediaLayout,
  MLFLOW_BATCH_LIMITS,
  type MlflowNumber,
  mlflowNumber,
  paramText,
  quoteFilterValue,
  tagKey,
} from "./encode.ts";
export type { UploadBody } from "../../artifact/http.ts";
