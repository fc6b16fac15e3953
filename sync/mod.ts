// This module is browser compatible: the filesystem is reached at run time.

/**
 * Sync: sends runs of the local store (`./.uetai/`) to a dashboard backend
 * later (Comet, MLflow, W&B, or any {@linkcode Backend}), through the
 * logger's own pipeline. Idempotent: each run keeps, per destination, the
 * highest `seq` the target acknowledged in
 * `<dir>/<project>/<runId>/sync/<target>[-<destination hash>].json`
 * (rewritten atomically after every batch), and only later events are
 * sent, so a second sync sends nothing and an interrupted one (aborted,
 * timed out, refused, killed) continues where the acknowledged events end.
 * Media bytes are read back from the store's files.
 *
 * @example Log offline, then sync
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import { syncRun } from "@uetai/uetai/sync";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ backend: "local", dir, project: "mnist" });
 * for (let step = 0; step < 3; step++) logger.log({ loss: 1 / (step + 1) }, { step });
 * await logger.end();
 *
 * // In real use: new CometBackend({ env }), new MlflowBackend(...), new WandbBackend(...).
 * const target = new InMemoryBackend();
 * const first = await syncRun({
 *   dir,
 *   project: "mnist",
 *   runId: logger.runId,
 *   target,
 *   onProgress: ({ sent, total }) => console.log(`${sent}/${total}`),
 * });
 * assert.equal(first.complete, true);
 * assert.equal(target.events.filter((e) => e.kind === "metric").length, 3);
 *
 * const second = await syncRun({ dir, project: "mnist", runId: logger.runId, target });
 * assert.equal(second.sent, 0); // nothing new
 * await target.close();
 * ```
 *
 * @module
 */
export {
  readSyncStates,
  SYNC_FOLDER,
  SYNC_STATE_SCHEMA_VERSION,
  syncAll,
  type SyncAllOptions,
  SyncBusyError,
  SyncError,
  type SyncOptions,
  type SyncProgress,
  type SyncReport,
  syncRun,
  SyncRunNotFoundError,
  type SyncState,
} from "./sync.ts";
