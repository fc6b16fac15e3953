// This module is browser compatible.
/**
 * The Weights & Biases backend: {@linkcode WandbLogger} and the
 * {@linkcode WandbBackend} the pipeline feeds. Runs, config, history rows
 * with media, summary, heartbeats and the finish go over W&B's GraphQL API
 * and `file_stream`, with offsets that survive a crash and a resume;
 * artifacts are W&B artifacts (`vN` versions, aliases, lineage).
 * Importing `@uetai/uetai` registers the backend as `"wandb"`, chosen by
 * `createLogger()` when `WANDB_API_KEY` is set.
 *
 * @example
 * ```ts
 * import { WandbBackend, wandbJson } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * assert.equal(wandbJson({ x: NaN }), '{"x":NaN}');
 * const backend = new WandbBackend({ env: { WANDB_API_KEY: "k".repeat(40) } });
 * assert.equal(backend.name, "wandb");
 * await backend.close();
 * ```
 *
 * @module
 */
export { WandbLogger, type WandbLoggerOptions } from "./logger.ts";
export { WandbBackend, type WandbRunInfo } from "./backend.ts";
export { WandbRun, type WandbRunOptions, type WandbRunState } from "./run.ts";
export {
  WandbArtifactStore,
  type WandbArtifactStoreOptions,
} from "./artifacts.ts";
export {
  DEFAULT_WANDB_URL,
  resolveWandbConfig,
  type WandbBackendOptions,
  type WandbConfig,
} from "./config.ts";
export { WandbApiError, WandbHttp, type WandbHttpOptions } from "./http.ts";
export {
  CLI_VERSION,
  configJson,
  md5Base64,
  parseWandbJson,
  randomClientId,
  wandbJson,
  wandbManifestDigest,
  type WandbMedia,
  wandbMedia,
} from "./encode.ts";
export type { UploadBody } from "../../artifact/http.ts";
