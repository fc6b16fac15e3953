// This module is browser compatible.

/**
 * Base class of every runtime failure uetai reports (bad input is a plain
 * `TypeError` or `RangeError` instead). Errors carry their context as fields.
 *
 * @example Catch any uetai failure
 * ```ts
 * import { isTrackerError, TrackerError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error: unknown = new TrackerError("Cannot reach the backend");
 * assert.ok(isTrackerError(error));
 * ```
 */
export class TrackerError extends Error {
  /**
   * Creates a tracker error.
   *
   * @param message What failed, in sentence case without a trailing period.
   * @param options Standard error options; `cause` keeps the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrackerError";
  }
}

/**
 * A backend could not accept events. `retryable` tells whether the pipeline
 * will try again; `status` is the HTTP status where there was one.
 *
 * @example
 * ```ts
 * import { BackendError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new BackendError("Request was rejected", { backend: "local", retryable: false });
 * assert.equal(error.backend, "local");
 * assert.equal(error.retryable, false);
 * ```
 */
export class BackendError extends TrackerError {
  /** Name of the backend that failed, such as `"local"`. */
  readonly backend: string;
  /** HTTP status of the failed request, when the backend speaks HTTP. */
  readonly status: number | undefined;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;

  /**
   * Creates a backend error.
   *
   * @param message What failed.
   * @param options The backend name, status, whether it is retryable and the cause.
   */
  constructor(
    message: string,
    options: {
      backend: string;
      status?: number;
      retryable?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = "BackendError";
    this.backend = options.backend;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * The spool (the journal of events not yet acknowledged by a backend) could
 * not be written or read.
 *
 * @example
 * ```ts
 * import { SpoolError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new SpoolError("Cannot append to the spool", { path: ".uetai/_spool" });
 * assert.equal(error.path, ".uetai/_spool");
 * ```
 */
export class SpoolError extends TrackerError {
  /** The spool folder or file involved, when there is one. */
  readonly path: string | undefined;

  /**
   * Creates a spool error.
   *
   * @param message What failed.
   * @param options The path involved and the cause.
   */
  constructor(
    message: string,
    options: { path?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "SpoolError";
    this.path = options.path;
  }
}

/**
 * The runtime lacks a capability the call needs, such as a filesystem in a
 * worker or a browser. `capability` names it.
 *
 * @example
 * ```ts
 * import { UnsupportedRuntimeError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new UnsupportedRuntimeError("Cannot open the local store: this runtime has no filesystem", {
 *   capability: "filesystem",
 * });
 * assert.equal(error.capability, "filesystem");
 * ```
 */
export class UnsupportedRuntimeError extends TrackerError {
  /** The missing capability, for example `"filesystem"`. */
  readonly capability: string;

  /**
   * Creates an unsupported-runtime error.
   *
   * @param message What could not be done and why.
   * @param options The missing capability.
   */
  constructor(message: string, options: { capability: string }) {
    super(message);
    this.name = "UnsupportedRuntimeError";
    this.capability = options.capability;
  }
}

/**
 * Some accepted events could not be delivered and were given up: the memory
 * spool was full, or the backend rejected them for good. Reported through
 * `onError` and counted in `stats().dropped`; never thrown from `log()`.
 *
 * @example
 * ```ts
 * import { DroppedEventsError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new DroppedEventsError("Dropped 3 events: the memory spool is full", {
 *   backend: "local",
 *   count: 3,
 * });
 * assert.equal(error.count, 3);
 * ```
 */
export class DroppedEventsError extends TrackerError {
  /** Name of the backend whose events were dropped. */
  readonly backend: string;
  /** How many events were dropped. */
  readonly count: number;

  /**
   * Creates a dropped-events error.
   *
   * @param message Why the events were dropped.
   * @param options The backend, the count and the cause.
   */
  constructor(
    message: string,
    options: { backend: string; count: number; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = "DroppedEventsError";
    this.backend = options.backend;
    this.count = options.count;
  }
}

/**
 * Content did not match what its manifest promised: a downloaded or stored
 * artifact file has another size or digest. Nothing unverified is left at
 * the file's final path.
 *
 * @example
 * ```ts
 * import { IntegrityError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new IntegrityError("model.bin", {
 *   algorithm: "sha256",
 *   expected: "aa",
 *   actual: "bb",
 * });
 * assert.equal(error.file, "model.bin");
 * assert.match(error.message, /expected sha256 aa, got bb/);
 * ```
 */
export class IntegrityError extends TrackerError {
  /** The file, by its path inside the artifact. */
  readonly file: string;
  /** What was compared: `"sha256"`, `"md5"` or `"size"`. */
  readonly algorithm: string;
  /** The value the manifest promised. */
  readonly expected: string;
  /** The value the content has. */
  readonly actual: string;

  /**
   * Creates an integrity error; the message names the file and both values.
   *
   * @param file The file, by its path inside the artifact.
   * @param options What was compared, the promised and the actual value, and where.
   */
  constructor(
    file: string,
    options: {
      algorithm: string;
      expected: string;
      actual: string;
      artifact?: string;
    },
  ) {
    super(
      `Artifact file ${JSON.stringify(file)}${
        options.artifact ? ` of ${options.artifact}` : ""
      } failed verification: expected ${options.algorithm} ${options.expected}, got ${options.actual}`,
    );
    this.name = "IntegrityError";
    this.file = file;
    this.algorithm = options.algorithm;
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

/**
 * No artifact of that name, or no version matching the selector.
 *
 * @example
 * ```ts
 * import { ArtifactNotFoundError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * const error = new ArtifactNotFoundError("No version v9 of artifact \"model\"", {
 *   backend: "local",
 *   artifact: "model",
 *   version: "v9",
 * });
 * assert.equal(error.version, "v9");
 * ```
 */
export class ArtifactNotFoundError extends TrackerError {
  /** The backend asked. */
  readonly backend: string;
  /** The artifact name. */
  readonly artifact: string;
  /** The selector that matched nothing, as written. */
  readonly version: string | undefined;

  /**
   * Creates a not-found error.
   *
   * @param message What was looked for and what exists.
   * @param options Backend, artifact name and selector.
   */
  constructor(
    message: string,
    options: { backend: string; artifact: string; version?: string },
  ) {
    super(message);
    this.name = "ArtifactNotFoundError";
    this.backend = options.backend;
    this.artifact = options.artifact;
    this.version = options.version;
  }
}

const TRACKER_ERROR_NAMES: ReadonlySet<string> = new Set([
  "TrackerError",
  "BackendError",
  "SpoolError",
  "UnsupportedRuntimeError",
  "DroppedEventsError",
  "IntegrityError",
  "ArtifactNotFoundError",
]);

/**
 * Tells whether a value is a uetai error, across realms (it checks `name`
 * as well as the prototype chain).
 *
 * @param value Anything caught.
 * @returns `true` when `value` is a {@linkcode TrackerError} or a subclass.
 *
 * @example
 * ```ts
 * import { isTrackerError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * assert.equal(isTrackerError(new Error("x")), false);
 * ```
 */
export function isTrackerError(value: unknown): value is TrackerError {
  if (value instanceof TrackerError) return true;
  return value instanceof Error && TRACKER_ERROR_NAMES.has(value.name);
}

/**
 * Tells whether a value is a {@linkcode BackendError}, across realms.
 *
 * @param value Anything caught.
 * @returns `true` when `value` is a backend error.
 *
 * @example
 * ```ts
 * import { BackendError, isBackendError } from "@uetai/uetai/errors";
 * import assert from "node:assert/strict";
 * assert.ok(isBackendError(new BackendError("x", { backend: "local" })));
 * ```
 */
export function isBackendError(value: unknown): value is BackendError {
  return value instanceof BackendError ||
    (value instanceof Error && value.name === "BackendError");
}
