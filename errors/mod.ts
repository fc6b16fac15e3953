// This module is browser compatible.

/**
 * The error family of uetai. Bad input is reported with the built-in
 * `TypeError` and `RangeError`; runtime failures with {@linkcode TrackerError}
 * and its subclasses, which carry their context as fields.
 *
 * @example
 * ```ts
 * import { BackendError, isTrackerError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * assert.ok(isTrackerError(new BackendError("Server said 500", { backend: "local", status: 500 })));
 * ```
 *
 * @module
 */
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
} from "./errors.ts";
