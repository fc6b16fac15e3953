// This module is browser compatible.

/**
 * uetai: experiment tracking for TypeScript. One logging API over every
 * dashboard, with the local store under `./.uetai/` as the embedded default.
 * `log()` is a cheap enqueue; a background pipeline batches, retries with
 * backoff, spools through outages and fans out to several backends.
 *
 * Web-standard only: this module and everything it imports use no `node:`
 * module; the filesystem is reached at run time where the runtime has one.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * await using logger = createLogger({ project: "quickstart", backend: "memory" });
 * logger.logParams({ lr: 0.01, epochs: 3 });
 * for (let step = 0; step < 100; step++) {
 *   logger.log({ loss: Math.exp(-step / 30), accuracy: 1 - Math.exp(-step / 20) }, { step });
 * }
 * const report = await logger.flush();
 * assert.ok(report.ok);
 * ```
 *
 * @module
 */
import "./backends/builtin.ts";

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
} from "./logger/logger.ts";
export {
  type BackendContext,
  type BackendFactory,
  registerBackend,
  registeredBackends,
} from "./logger/registry.ts";
export type {
  Backend,
  BackendLimits,
  SendFailure,
  SendResult,
  SendRetryable,
  SendSuccess,
  SendThrottled,
} from "./pipeline/backend.ts";
export type {
  BackendFlushReport,
  BackendStats,
  BatchProcessorSettings,
  ErrorState,
} from "./pipeline/batch_processor.ts";
export type { FlushReport, PipelineStats } from "./pipeline/pipeline.ts";
export type {
  ArtifactData,
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactFileInput,
  ArtifactManifest,
  ArtifactProgress,
  ArtifactRunRef,
  ArtifactSourceOptions,
  ArtifactStore,
  ArtifactTransferOptions,
  DownloadArtifactOptions,
  LogArtifactOptions,
  LoggedArtifact,
  StagedFile,
  VersionSelector,
} from "./artifact/mod.ts";
export type { RetryOptions } from "./pipeline/retry.ts";
export type { Clock, TimerHandle } from "./runtime/clock.ts";
export type {
  ArtifactEvent,
  EventBase,
  MediaEvent,
  MetricEvent,
  ParamEvent,
  ParamValue,
  RunEndEvent,
  RunNameEvent,
  RunStartEvent,
  RunStatus,
  TagEvent,
  TrackingEvent,
} from "./event/types.ts";
export {
  Audio,
  ConfusionMatrix,
  Curve,
  type EncodedMedia,
  Graph,
  Histogram,
  Html,
  Image,
  isMediaValue,
  MEDIA_VALUE,
  type MediaValue,
  prCurve,
  rocCurve,
  type ScoreCurveOptions,
  Table,
  Text,
} from "./media/mod.ts";
export {
  CometApiError,
  CometExperiment,
  type CometExperimentInfo,
  CometLogger,
  type CometLoggerOptions,
} from "./backends/comet/mod.ts";
export type {
  CometAsset,
  CometAssetOptions,
  CometBackendOptions,
  CometExperimentOptions,
  CometHttp,
  CometHttpOptions,
  CometMetricPoint,
  CometRateLimits,
  CometRequestOptions,
  CometStepOptions,
  CometSummaryValue,
  ConfusionMatrixCountsInput,
  ConfusionMatrixInput,
  ConfusionMatrixPairsInput,
  ConfusionMatrixTitles,
  CurveInput,
  HistogramCountsInput,
  HistogramInput,
  HistogramValuesInput,
  MultipartField,
  UploadBody,
} from "./backends/comet/mod.ts";
export {
  MlflowApiError,
  MlflowClient,
  MlflowLogger,
  type MlflowLoggerOptions,
  MlflowParamChangedError,
} from "./backends/mlflow/mod.ts";
export type {
  MlflowAuth,
  MlflowBackendOptions,
  MlflowExperiment,
  MlflowFileInfo,
  MlflowHttp,
  MlflowHttpOptions,
  MlflowMetric,
  MlflowModelVersion,
  MlflowNumber,
  MlflowRegisteredModel,
  MlflowRequestOptions,
  MlflowRun,
  MlflowRunInfo,
  MlflowTag,
  SearchRunsOptions,
} from "./backends/mlflow/mod.ts";
export {
  WandbApiError,
  WandbLogger,
  type WandbLoggerOptions,
} from "./backends/wandb/mod.ts";
export type {
  WandbBackendOptions,
  WandbHttp,
  WandbHttpOptions,
  WandbRun,
  WandbRunInfo,
  WandbRunState,
} from "./backends/wandb/mod.ts";
export {
  type FlushableLogger,
  flushInBackground,
  flushOnPageHide,
  RelayBackend,
  type RelayClientOptions,
  RelayError,
  type RelayIngestAnswer,
  type WaitUntilContext,
} from "./relay/client.ts";
export { RelayArtifactStore } from "./relay/artifact_client.ts";
export {
  ArtifactNotFoundError,
  BackendError,
  DroppedEventsError,
  IntegrityError,
  isBackendError,
  isTrackerError,
  SpoolError,
  TrackerError,
  UnsupportedRuntimeError,
} from "./errors/errors.ts";
