// This module is browser compatible: the filesystem is reached at run time.

/**
 * The local store: the embedded default backend, and a reader for what it
 * wrote. Layout: `<dir>/<project>/<runId>/run.json` and `events.ndjson`.
 *
 * @example
 * ```ts
 * import { LocalStore } from "@uetai/uetai/local";
 * import assert from "node:assert/strict";
 * const store = new LocalStore({ dir: await Deno.makeTempDir() });
 * assert.deepEqual(await store.listProjects(), []);
 * ```
 *
 * @module
 */
export { LocalBackend, type LocalBackendOptions } from "./local_backend.ts";
export {
  LocalArtifactStore,
  type LocalArtifactStoreOptions,
} from "./local_artifacts.ts";
export {
  LocalStore,
  type LocalStoreOptions,
  type MetricPoint,
  type RunInfo,
} from "./local_store.ts";
export {
  DEFAULT_LOCAL_DIR,
  LOCAL_STORE_SCHEMA_VERSION,
  type MediaEntry,
  mediaFilePath,
  type MediaIndex,
  RUN_FILES,
  type RunMetadata,
} from "./layout.ts";
