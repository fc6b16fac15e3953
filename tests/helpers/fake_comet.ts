/**
 * A fake Comet ML server for tests: a `node:http` server on 127.0.0.1 (random
 * port) that speaks both of Comet's HTTP surfaces as the protocol reference
 * (`../shared/reference/comet.md` and its captures) describes them: the REST v2
 * API (`/api/rest/v2/...`, `Authorization: <key>`) and the SDK's clientlib
 * (`/clientlib/...`, key in the body or the query). It stores what it accepts,
 * answers with Comet's shapes, rejects what Comet rejects with Comet's error
 * body `{msg, code, sdk_error_code}`, and can inject faults (429, 5xx, hangs,
 * resets, an unreachable server). Runs unchanged under Deno, Bun and Node.
 *
 * Choices made where the reference is silent:
 * - An unknown experiment key is `400` with `sdk_error_code` 90211 on every
 *   endpoint, reads included (never 404), so clients see one error for it.
 * - A known path with another method is `405`; an unknown path is `404`.
 * - Auth comes before the body checks (`415`, bad gzip, bad JSON), except on
 *   the clientlib endpoints whose key is inside the JSON body. The Java SDK's
 *   `Comet-Sdk-Api: <key>` header is accepted wherever `Authorization` is.
 * - A metric or parameter batch holds at most 1000 values. This is the Python
 *   SDK's batch size (`MESSAGE_BATCH_METRIC_MAX_BATCH_SIZE`); the reference
 *   states no server limit.
 * - `upsert` without `version`: the first version is `1.0.0`; each later one
 *   bumps the MAJOR of the highest existing version (`2.0.0`, `3.0.0`, ...).
 *   An alias given to a new version (or through `version/labels`) moves off
 *   the artifact's other versions, so an alias names at most one version.
 * - Reading a version (`artifacts/version`, `artifacts/version/files`) that is
 *   not CLOSED fails with 90402 (OPEN) or 90403 (ERROR) when it is looked up by
 *   name (`workspace` + `artifactName`) or for a consumer
 *   (`consumerExperimentKey`). By `artifactId` + `versionId` alone it answers in
 *   any state: the Python SDK reads the version it just created that way,
 *   while it is still OPEN (capture online seq 12). Without any version
 *   selector the highest version is meant.
 * - Uploading to an artifact version that does not exist is 624523; to one
 *   that is not OPEN, 90401.
 * - A re-upload with the same `assetId` (or `imageId`) replaces that asset, so
 *   a retried upload is stored once. In an artifact version a `fileName` is
 *   unique: a second upload of it replaces the first.
 * - Artifact assets are kept with the uploading experiment (`assets`, with
 *   `artifactVersionId` set) but `asset/list` leaves them out.
 * - A run marked not alive (`status-report/update` with `is_alive: false`,
 *   `update-status` with `isAlive: false`) gets `endTimeMillis = now` unless
 *   it has one.
 * - `experiment/output` reads are the lines concatenated in `offset` order.
 * - Any `workspace`/`workspaceName`/`teamName` other than the fake's is 90219
 *   (a missing `teamName` at the handshake means the fake's workspace).
 * - Errors from the body check use `sdk_error_code` 0 unless the reference
 *   names a code. No answer ever contains the API key: it is replaced by
 *   `<redacted>` should a client send it where a message would echo it (so
 *   the key must have at least 8 characters).
 * - Artifact reads take `artifactId` or `artifact_id`, `versionId` or
 *   `version_id`.
 * - While a `reset()` fault is pending the fake closes idle kept-alive
 *   connections and answers `Connection: close`: Deno's fetch silently
 *   retries a request once when a reused connection breaks, which would
 *   otherwise hide the reset. `setDown(true)` closes idle connections too.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import {
  failStatus,
  type Fault,
  headersOf,
  LoopbackServer,
} from "./fake_faults.ts";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** How to start a {@linkcode FakeComet}. */
export interface FakeCometOptions {
  /**
   * The only API key accepted.
   * @default {"fake-comet-api-key-0123456789"}
   */
  apiKey?: string;
  /**
   * The only workspace that exists.
   * @default {"ws"}
   */
  workspace?: string;
  /**
   * The heartbeat interval answered (`isAliveBeatDurationMillis`,
   * `is_alive_beat_duration_millis`), in milliseconds.
   * @default {3000}
   */
  heartbeatMs?: number;
}

/** One request the fake received, in arrival order. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** URL path, without the query. */
  path: string;
  /** Query parameters (the last one wins when a name repeats). */
  query: Record<string, string>;
  /** Request headers, with lower-case names. */
  headers: Record<string, string>;
  /** Whether the body came with `Content-Encoding: gzip`. */
  gzip: boolean;
  /** The parsed JSON body (after gunzip), when it was JSON. */
  json?: unknown;
  /** The parts of a `multipart/form-data` body. */
  parts?: {
    name: string;
    filename?: string;
    contentType?: string;
    data: Uint8Array;
  }[];
  /** The status answered; 0 while unanswered, or when it hung or was reset. */
  status: number;
}

/** Which requests a fault applies to. */
export interface FaultOptions {
  /** An exact path, or a pattern tested on the path; all paths when absent. */
  path?: string | RegExp;
  /**
   * How many matching requests get the fault.
   * @default {1}
   */
  count?: number;
}

/** One stored metric value. */
export interface FakeMetric {
  /** Metric name. */
  metricName: string;
  /** The value as sent: a number, or a numeric or `"NaN"`-like string. */
  metricValue: number | string;
  /** Step, or `null`. */
  step: number | null;
  /** Epoch, or `null`. */
  epoch: number | null;
  /** Context (`"train"`, ...), or `null`. */
  context: string | null;
  /** Timestamp in ms, or `null`. */
  timestamp: number | null;
}

/** One stored parameter value. */
export interface FakeParameter {
  /** Parameter name. */
  parameterName: string;
  /** A JSON scalar or an array of them. */
  parameterValue: unknown;
  /** Step, or `null`. */
  step: number | null;
  /** `"manual"`, `"auto-logged"`, ..., or `null`. */
  source: string | null;
  /** Context, or `null`. */
  context: string | null;
  /** Timestamp in ms, or `null`. */
  timestamp: number | null;
}

/** One stored asset (experiment asset, or artifact file when `artifactVersionId` is set). */
export interface FakeAsset {
  /** The client's `assetId`/`imageId`, or one the fake made (32 hex). */
  assetId: string;
  /** Upload type (`asset`, `image`, `histogram3d`, ...). */
  type: string;
  /** Logical file name (`fileName`, or `figName` for images). */
  fileName: string;
  /** The `extension` query parameter as sent, or `null`. */
  extension: string | null;
  /** Step, or `null`. */
  step: number | null;
  /** Epoch, or `null`. */
  epoch: number | null;
  /** Context, or `null`. */
  context: string | null;
  /** The `overwrite` flag sent. */
  overwrite: boolean;
  /** The `metadata` part: the JSON string as sent, or `null`. */
  metadata: string | null;
  /** The artifact version it belongs to, or `null`. */
  artifactVersionId: string | null;
  /** Whether it is a remote asset (a `link`, no bytes). */
  remote: boolean;
  /** The remote URI, or `null`. */
  link: string | null;
  /** The bytes (empty for a remote asset). */
  data: Uint8Array;
  /** When the fake stored it, in ms. */
  createdAt: number;
}

/** One experiment, as the fake stores it (a live object: read, do not change). */
export interface FakeExperiment {
  /** Experiment key. */
  experimentKey: string;
  /** Workspace. */
  workspaceName: string;
  /** Project. */
  projectName: string;
  /** Project id (32 hex). */
  projectId: string;
  /** From `experimentName` at create, or the log-other key `Name`. */
  name: string | null;
  /** Tags, in order, without duplicates. */
  tags: string[];
  /** Metric values, in arrival order. */
  metrics: FakeMetric[];
  /** Parameter values, in arrival order. */
  parameters: FakeParameter[];
  /** Log-other values, in arrival order. */
  others: { key: string; value: unknown; timestamp: number | null }[];
  /** Assets, artifact files included. */
  assets: FakeAsset[];
  /** HTML, appended or overridden. */
  html: string;
  /** Model graph, or `null`. */
  graph: string | null;
  /** stdout/stderr lines, in arrival order. */
  output: {
    output: string;
    stderr: boolean;
    offset: number;
    localTimestamp: number;
  }[];
  /** How many heartbeats (`set-status`, `status-report/update`) arrived. */
  heartbeats: number;
  /** Whether the run is alive (running). */
  alive: boolean;
  /** Start time in ms. */
  startTimeMillis: number;
  /** End time in ms, or `null`. */
  endTimeMillis: number | null;
  /** From `update-status`, or `null`. */
  hasCrashed: boolean | null;
  /** From `update-status`, or `null`. */
  error: string | null;
  /** From `git/metadata` (without `experimentKey`), or `null`. */
  gitMetadata: unknown;
  /** System details merged from every `system-details` call. */
  systemDetails: Record<string, unknown>;
  /** From `write/experiment/code`, or `null`. */
  code: string | null;
  /** From `write/experiment/file-path`, or `null`. */
  filePath: string | null;
  /** Whether `write/experiment/stop` was called. */
  stopRequested: boolean;
  /** Whether the handshake said `offline: true`. */
  offline: boolean;
}

/** One artifact version. */
export interface FakeArtifactVersion {
  /** Version id (32 hex). */
  artifactVersionId: string;
  /** SemVer string. */
  version: string;
  /** State: created OPEN, then CLOSED or ERROR. */
  state: "OPEN" | "CLOSED" | "ERROR";
  /** Aliases. */
  alias: string[];
  /** Version tags. */
  tags: string[];
  /** `versionMetadata`: the JSON string as sent, or `null`. */
  metadata: string | null;
  /** The experiment that created it. */
  experimentKey: string;
  /** When it was created, in ms. */
  createdAt: number;
  /** Experiments that read it with `consumerExperimentKey` (lineage). */
  consumers: string[];
}

/** One artifact. */
export interface FakeArtifact {
  /** Artifact id (32 hex). */
  artifactId: string;
  /** Name, unique in its workspace. */
  artifactName: string;
  /** Type (`dataset`, `model`, ...). */
  artifactType: string;
  /** Workspace. */
  workspaceName: string;
  /** Versions, in creation order. */
  versions: FakeArtifactVersion[];
}

// ---------------------------------------------------------------------------
// Constants and errors
// ---------------------------------------------------------------------------

const DEFAULT_API_KEY = "fake-comet-api-key-0123456789";
const BACKEND_VERSION = "3.30.0";
const USER_NAME = "fake-user";
const MAX_BATCH_VALUES = 1000;
const MAX_PROJECT_NAME = 100;
const MONITOR_INTERVAL_MS = 60_000;

/** Comet's `sdk_error_code` values (comet.md §9). */
const SDK = {
  keyNotRegistered: 90212,
  noWorkspace: 90219,
  noProjectName: 98219,
  runMissing: 90211,
  keyMissing: 90998,
  runExists: 90999,
  projectNameTooLong: 1341241,
  noArtifact: 624522,
  noArtifactVersion: 624523,
  versionExists: 90399,
  stateImmutable: 90401,
  notClosed: 90402,
  closedWithError: 90403,
  invalidState: 90410,
} as const;

/** Upload types (comet.md §5.3), without the list-only `all`/`histogram_combined_3d`. */
const ASSET_TYPES: ReadonlySet<string> = new Set([
  "asset",
  "image",
  "audio",
  "video",
  "text-sample",
  "curve",
  "confusion-matrix",
  "histogram3d",
  "model-element",
  "source_code",
  "notebook",
  "embeddings",
  "dataframe",
  "dataframe-profile",
  "3d-points",
  "tensorflow-file",
  "conda-environment-definition",
  "conda-specification",
  "conda-info",
  "unknown",
]);

const EXPERIMENT_KEY = /^[A-Za-z0-9]{32,50}$/;
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOATS: ReadonlySet<string> = new Set([
  "NaN",
  "Infinity",
  "-Infinity",
]);
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** An answer that is an error: `{msg, code, sdk_error_code}`. */
class HttpError extends Error {
  readonly status: number;
  readonly sdkErrorCode: number;

  constructor(status: number, message: string, sdkErrorCode: number = 0) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.sdkErrorCode = sdkErrorCode;
  }
}

function badRequest(message: string, sdkErrorCode: number = 0): HttpError {
  return new HttpError(400, message, sdkErrorCode);
}

// ---------------------------------------------------------------------------
// Body validation
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The API key of every fake started in this process. {@linkcode describe}
 * redacts them before it shortens a value, so that no part of a key is ever
 * quoted in an answer (whole keys are also redacted from every JSON answer).
 */
const SECRETS: Set<string> = new Set();

/** A short description of a value for error messages. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  let text = JSON.stringify(value) ?? String(value);
  for (const secret of SECRETS) text = text.replaceAll(secret, "<redacted>");
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function invalid(label: string, expected: string, value: unknown): HttpError {
  return badRequest(
    `Invalid "${label}": expected ${expected}, got ${describe(value)}`,
  );
}

function requireString(body: Json, name: string, label: string = name): string {
  const value = body[name];
  if (value === undefined || value === null || value === "") {
    throw badRequest(`Missing "${label}": a non-empty string is required`);
  }
  if (typeof value !== "string") throw invalid(label, "a string", value);
  return value;
}

function optionalString(
  body: Json,
  name: string,
  label: string = name,
): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw invalid(label, "a string", value);
  return value;
}

function optionalInteger(
  body: Json,
  name: string,
  label: string = name,
): number | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw invalid(label, "an integer", value);
  }
  return value;
}

function optionalBoolean(
  body: Json,
  name: string,
  label: string = name,
): boolean | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "boolean") throw invalid(label, "a boolean", value);
  return value;
}

function optionalStringArray(
  body: Json,
  name: string,
  label: string = name,
): string[] | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw invalid(label, "an array of strings", value);
  }
  return value as string[];
}

function requireValues(body: Json): Json[] {
  const values = body.values;
  if (values === undefined || values === null) {
    throw badRequest(`Missing "values": an array of values is required`);
  }
  if (!Array.isArray(values)) throw invalid("values", "an array", values);
  if (values.length === 0) throw badRequest(`Invalid "values": it is empty`);
  if (values.length > MAX_BATCH_VALUES) {
    throw badRequest(
      `Invalid "values": ${values.length} items, at most ${MAX_BATCH_VALUES} are accepted in one batch`,
    );
  }
  values.forEach((item, i) => {
    if (!isObject(item)) throw invalid(`values[${i}]`, "an object", item);
  });
  return values as Json[];
}

/** A JSON string field that must parse to an object (`versionMetadata`). */
function optionalJsonObjectString(body: Json, name: string): string | null {
  const value = optionalString(body, name);
  if (value === null) return null;
  checkJsonObjectText(value, name);
  return value;
}

function checkJsonObjectText(text: string, label: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest(`Invalid "${label}": not a JSON string`);
  }
  if (!isObject(parsed)) {
    throw badRequest(`Invalid "${label}": the JSON must be an object`);
  }
}

function metricValueOf(value: unknown, label: string): number | string {
  if (value === undefined) throw badRequest(`Missing "${label}"`);
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (
    typeof value === "string" &&
    (NUMERIC.test(value) || SPECIAL_FLOATS.has(value))
  ) {
    return value;
  }
  throw invalid(
    label,
    'a finite number, a numeric string, "NaN", "Infinity" or "-Infinity"',
    value,
  );
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value));
}

function parameterValueOf(value: unknown, label: string): unknown {
  if (value === undefined) throw badRequest(`Missing "${label}"`);
  if (isScalar(value) || (Array.isArray(value) && value.every(isScalar))) {
    return value;
  }
  throw invalid(label, "a JSON scalar or an array of scalars", value);
}

function metricOf(body: Json, prefix: string): FakeMetric {
  return {
    metricName: requireString(body, "metricName", `${prefix}metricName`),
    metricValue: metricValueOf(body.metricValue, `${prefix}metricValue`),
    step: optionalInteger(body, "step", `${prefix}step`),
    epoch: optionalInteger(body, "epoch", `${prefix}epoch`),
    context: optionalString(body, "context", `${prefix}context`),
    timestamp: optionalInteger(body, "timestamp", `${prefix}timestamp`),
  };
}

function parameterOf(body: Json, prefix: string): FakeParameter {
  return {
    parameterName: requireString(
      body,
      "parameterName",
      `${prefix}parameterName`,
    ),
    parameterValue: parameterValueOf(
      body.parameterValue,
      `${prefix}parameterValue`,
    ),
    step: optionalInteger(body, "step", `${prefix}step`),
    source: optionalString(body, "source", `${prefix}source`),
    context: optionalString(body, "context", `${prefix}context`),
    timestamp: optionalInteger(body, "timestamp", `${prefix}timestamp`),
  };
}

function queryInteger(
  query: Record<string, string>,
  name: string,
): number | null {
  const value = query[name];
  if (value === undefined || value === "") return null;
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalid(name, "an integer", value);
  }
  return Number(value);
}

function queryBoolean(
  query: Record<string, string>,
  name: string,
): boolean | null {
  const value = query[name];
  if (value === undefined || value === "") return null;
  if (value === "true" || value === "True") return true;
  if (value === "false" || value === "False") return false;
  throw invalid(name, "true, false, True or False", value);
}

function parseSemver(
  version: string,
): [number, number, number, string[]] | null {
  const match = SEMVER.exec(version);
  if (match === null) return null;
  return [
    Number(match[1]),
    Number(match[2]),
    Number(match[3]),
    match[4] === undefined ? [] : match[4].split("."),
  ];
}

/** SemVer precedence: negative when `a` comes before `b`. */
function compareSemver(a: string, b: string): number {
  const [x, y] = [parseSemver(a), parseSemver(b)];
  if (x === null || y === null) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < 3; i++) {
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  }
  const [p, q] = [x[3], y[3]];
  if (p.length === 0 || q.length === 0) return q.length - p.length;
  for (let i = 0; i < Math.min(p.length, q.length); i++) {
    if (p[i] === q[i]) continue;
    const [m, n] = [/^\d+$/.test(p[i]), /^\d+$/.test(q[i])];
    if (m && n) return Number(p[i]) - Number(q[i]);
    if (m !== n) return m ? -1 : 1;
    return p[i] < q[i] ? -1 : 1;
  }
  return p.length - q.length;
}

// ---------------------------------------------------------------------------
// Asset payload checks (comet.md §5.3)
// ---------------------------------------------------------------------------

function fileJson(data: Uint8Array, what: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw badRequest(`Invalid "file": a ${what} must be JSON`);
  }
  if (!isObject(parsed)) {
    throw badRequest(`Invalid "file": a ${what} must be a JSON object`);
  }
  return parsed;
}

function checkHistogram(data: Uint8Array): void {
  const json = fileJson(data, "3-D histogram");
  if (json.version !== 2) {
    throw badRequest(
      `Invalid "file": a 3-D histogram needs "version" 2, got ${
        describe(json.version)
      }`,
    );
  }
  const pairs = json.index_values;
  const isPair = (pair: unknown): boolean =>
    Array.isArray(pair) && pair.length === 2 &&
    pair.every((n) => Number.isSafeInteger(n));
  if (!Array.isArray(pairs) || !pairs.every(isPair)) {
    throw badRequest(
      `Invalid "file": a 3-D histogram needs "index_values" as [[binIndex, count], ...]`,
    );
  }
}

function checkConfusionMatrix(data: Uint8Array): void {
  const json = fileJson(data, "confusion matrix");
  if (json.version !== 1) {
    throw badRequest(
      `Invalid "file": a confusion matrix needs "version" 1, got ${
        describe(json.version)
      }`,
    );
  }
  const { labels, matrix } = json;
  if (!Array.isArray(labels)) {
    throw badRequest(
      `Invalid "file": a confusion matrix needs "labels" as an array`,
    );
  }
  if (!Array.isArray(matrix) || !matrix.every(Array.isArray)) {
    throw badRequest(
      `Invalid "file": a confusion matrix needs "matrix" as rows`,
    );
  }
  const size = matrix.length;
  (matrix as unknown[][]).forEach((row, i) => {
    if (row.length !== size) {
      throw badRequest(
        `Invalid "file": the confusion "matrix" is not square: row ${i} has ${row.length} cells, expected ${size}`,
      );
    }
    if (
      !row.every((cell) => typeof cell === "number" && Number.isFinite(cell))
    ) {
      throw badRequest(
        `Invalid "file": confusion "matrix" row ${i} holds a non-number`,
      );
    }
  });
  if (labels.length !== size) {
    throw badRequest(
      `Invalid "file": the confusion matrix has ${labels.length} "labels" for a ${size}x${size} "matrix"`,
    );
  }
}

function checkCurve(data: Uint8Array): void {
  const json = fileJson(data, "curve");
  const { x, y, name } = json;
  const numbers = (list: unknown): boolean =>
    Array.isArray(list) &&
    list.every((n) => typeof n === "number" && Number.isFinite(n));
  if (!numbers(x) || !numbers(y)) {
    throw badRequest(
      `Invalid "file": a curve needs "x" and "y" as arrays of numbers`,
    );
  }
  if ((x as number[]).length !== (y as number[]).length) {
    throw badRequest(
      `Invalid "file": the curve's "x" has ${
        (x as number[]).length
      } values and "y" has ${(y as number[]).length}`,
    );
  }
  if (typeof name !== "string") {
    throw badRequest(`Invalid "file": a curve needs a "name" string`);
  }
}

// ---------------------------------------------------------------------------
// Wire decoding: gzip, JSON, multipart
// ---------------------------------------------------------------------------

type Part = NonNullable<RecordedRequest["parts"]>[number];

function mediaType(headers: Record<string, string>): string {
  return (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
}

/** The body after `Content-Encoding` is undone. */
function decodeContent(
  headers: Record<string, string>,
  raw: Uint8Array,
): Uint8Array {
  const encoding = (headers["content-encoding"] ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return raw;
  if (encoding !== "gzip") {
    throw new HttpError(
      415,
      `Unsupported Content-Encoding "${encoding}": only gzip is accepted`,
    );
  }
  try {
    return new Uint8Array(gunzipSync(raw));
  } catch {
    throw badRequest(
      "Invalid body: Content-Encoding is gzip but the body is not valid gzip",
    );
  }
}

function parseJsonBody(
  headers: Record<string, string>,
  bytes: Uint8Array,
): Json {
  if (mediaType(headers) !== "application/json") {
    throw new HttpError(
      415,
      `Unsupported Content-Type ${
        describe(headers["content-type"] ?? null)
      }: this endpoint takes application/json`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes),
    );
  } catch {
    throw badRequest("Invalid body: not valid JSON");
  }
  if (!isObject(parsed)) {
    throw badRequest("Invalid body: expected a JSON object");
  }
  return parsed;
}

function headerParameters(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const pattern = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const match of value.matchAll(pattern)) {
    let text = match[2].trim();
    if (text.startsWith('"')) text = text.slice(1, -1).replace(/\\(.)/g, "$1");
    params[match[1].toLowerCase()] = text;
  }
  return params;
}

/** Parses `multipart/form-data` (RFC 7578) from the whole body. */
function parseMultipart(
  headers: Record<string, string>,
  bytes: Uint8Array,
): Part[] {
  if (mediaType(headers) !== "multipart/form-data") {
    throw new HttpError(
      415,
      `Unsupported Content-Type ${
        describe(headers["content-type"] ?? null)
      }: this endpoint takes multipart/form-data`,
    );
  }
  const boundary = headerParameters(headers["content-type"]).boundary;
  if (!boundary) {
    throw badRequest(
      "Invalid multipart body: the Content-Type has no boundary",
    );
  }
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opening = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let position: number;
  if (body.subarray(0, opening.length).equals(opening)) {
    position = opening.length;
  } else {
    const first = body.indexOf(delimiter);
    if (first < 0) {
      throw badRequest("Invalid multipart body: no boundary found");
    }
    position = first + delimiter.length;
  }
  const parts: Part[] = [];
  for (;;) {
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    while (body[position] === 0x20 || body[position] === 0x09) position++;
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) {
      throw badRequest("Invalid multipart body: malformed boundary line");
    }
    position += 2;
    let headerText = "";
    let dataStart = position + 2;
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) {
      const headerEnd = body.indexOf("\r\n\r\n", position);
      if (headerEnd < 0) {
        throw badRequest("Invalid multipart body: a part's headers never end");
      }
      headerText = body.toString("utf8", position, headerEnd);
      dataStart = headerEnd + 4;
    }
    const next = body.indexOf(delimiter, dataStart);
    if (next < 0) {
      throw badRequest(
        "Invalid multipart body: truncated (no closing boundary)",
      );
    }
    const partHeaders: Record<string, string> = {};
    for (const line of headerText.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        partHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(
          colon + 1,
        ).trim();
      }
    }
    const disposition = partHeaders["content-disposition"] ?? "";
    if (!/^form-data\b/i.test(disposition)) {
      throw badRequest(
        "Invalid multipart body: a part has no Content-Disposition: form-data",
      );
    }
    const params = headerParameters(disposition);
    if (params.name === undefined) {
      throw badRequest("Invalid multipart body: a part has no name");
    }
    const part: Part = {
      name: params.name,
      data: new Uint8Array(body.subarray(dataStart, next)),
    };
    const extended = /^utf-8''(.*)$/i.exec(params["filename*"] ?? "");
    const filename = extended !== null
      ? decodeURIComponent(extended[1])
      : params.filename;
    if (filename !== undefined) part.filename = filename;
    if (partHeaders["content-type"] !== undefined) {
      part.contentType = partHeaders["content-type"];
    }
    parts.push(part);
    position = next + delimiter.length;
  }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/** Removes, in place, the items for which `predicate` holds. */
function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  for (let i = items.length - 1; i >= 0; i--) {
    if (predicate(items[i])) items.splice(i, 1);
  }
}

function hex32(): string {
  return randomBytes(16).toString("hex");
}

/** Read values are strings, as Comet answers them. */
function valueText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return JSON.stringify(value);
}

interface SummaryEntry {
  name: string;
  value: unknown;
  timestamp: number | null;
  step: number | null;
  context: string | null;
}

/** The `{values: [...]}` min/max/current answer (metrics, parameters, others). */
function summarize(entries: SummaryEntry[]): Json[] {
  const groups = new Map<string, SummaryEntry[]>();
  for (const entry of entries) {
    const key = `${entry.name}\u0000${entry.context ?? ""}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [entry]);
    else group.push(entry);
  }
  return [...groups.values()].map((group) => {
    const current = group[group.length - 1];
    const numeric = group.filter((e) =>
      (typeof e.value === "number" || typeof e.value === "string") &&
      Number.isFinite(Number(e.value)) && e.value !== ""
    );
    let [max, min] = numeric.length === 0
      ? [current, current]
      : [numeric[0], numeric[0]];
    for (const e of numeric) {
      if (Number(e.value) > Number(max.value)) max = e;
      if (Number(e.value) < Number(min.value)) min = e;
    }
    return {
      name: current.name,
      valueMax: valueText(max.value),
      valueMin: valueText(min.value),
      valueCurrent: valueText(current.value),
      timestampMax: max.timestamp,
      timestampMin: min.timestamp,
      timestampCurrent: current.timestamp,
      runContextMax: max.context,
      runContextMin: min.context,
      runContextCurrent: current.context,
      stepMax: max.step,
      stepMin: min.step,
      stepCurrent: current.step,
      editable: false,
    };
  });
}

type Auth = "none" | "header" | "query" | "apiKey" | "api_key";

interface Context {
  query: Record<string, string>;
  json: Json;
  parts: Part[];
}

interface Reply {
  status: number;
  json?: unknown;
  bytes?: Uint8Array;
  headers?: Record<string, string>;
}

interface Route {
  auth: Auth;
  body: "none" | "json" | "multipart";
  handle: (context: Context) => Reply;
}

/** The faults FakeComet answers itself (hangs and resets are the server's). */
type AnsweredFault = Fault<"throttle" | "fail">;

interface Project {
  projectId: string;
  projectName: string;
  lastUpdated: number;
}

interface ArtifactExtras {
  projectId: string;
  tags: string[];
  description: string | null;
  isPublic: boolean;
  experimentKey: string;
}

/**
 * Where a route takes its key and what body it reads, from its method and
 * path (comet.md §1): REST v2 and the clientlib `batch/` and `rest/v2/`
 * endpoints use the `Authorization` header, clientlib uploads the `apiKey`
 * query parameter, the other clientlib endpoints an `apiKey` (`api_key` for
 * the notification) body field.
 */
function routeKind(key: string): Pick<Route, "auth" | "body"> {
  const [method, path] = key.split(" ");
  const upload = /\/(upload-asset|asset\/upload|visualizations\/upload)$/.test(
    path,
  );
  const body = method === "GET" ? "none" : upload ? "multipart" : "json";
  if (
    !path.startsWith("/clientlib/") || /^\/clientlib\/(batch|rest)\//.test(path)
  ) {
    return { auth: "header", body };
  }
  if (upload) return { auth: "query", body };
  if (/^\/clientlib\/(isAlive|health)\//.test(path)) {
    return { auth: "none", body };
  }
  return {
    auth: path.endsWith("/notification/experiment") ? "api_key" : "apiKey",
    body,
  };
}

const OK: Reply = { status: 200, json: { msg: "ok", code: 200 } };

function ok(json: unknown): Reply {
  return { status: 200, json };
}

/** The fields of {@linkcode FaultOptions} the queue reads (no `method` here). */
function target(options: FaultOptions): FaultOptions {
  return { path: options.path, count: options.count };
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/**
 * A fake Comet ML server on 127.0.0.1. Clients use `${url}/clientlib/` as
 * `COMET_URL_OVERRIDE` and `url` as the REST root.
 *
 * @example Start, use and close
 * ```ts
 * const fake = await FakeComet.start();
 * const response = await fetch(`${fake.url}/api/rest/v2/write/experiment/create`, {
 *   method: "POST",
 *   headers: { Authorization: fake.apiKey, "Content-Type": "application/json" },
 *   body: JSON.stringify({ workspaceName: fake.workspace, projectName: "p" }),
 * });
 * const { experimentKey } = await response.json();
 * fake.experiment(experimentKey); // the stored experiment
 * await fake.close();
 * ```
 */
export class FakeComet {
  /** Base URL, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** The only API key accepted. */
  readonly apiKey: string;
  /** The only workspace that exists. */
  readonly workspace: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  #server: LoopbackServer<AnsweredFault["kind"]>;
  #heartbeatMs: number;
  #routes: Map<string, Route>;
  #experiments: Map<string, FakeExperiment> = new Map();
  #projects: Map<string, Project> = new Map();
  #artifacts: Map<string, FakeArtifact> = new Map();
  #artifactExtras: Map<string, ArtifactExtras> = new Map();

  private constructor(
    server: LoopbackServer<AnsweredFault["kind"]>,
    options: FakeCometOptions,
  ) {
    this.#server = server;
    this.url = server.url;
    this.apiKey = options.apiKey ?? DEFAULT_API_KEY;
    this.workspace = options.workspace ?? "ws";
    this.#heartbeatMs = options.heartbeatMs ?? 3000;
    this.#routes = this.#buildRoutes();
    server.onRequest((request, response) => this.#onRequest(request, response));
  }

  /**
   * Starts a fake on 127.0.0.1 with a random port.
   *
   * @param options API key, workspace and heartbeat interval.
   * @returns The listening fake.
   */
  static async start(options: FakeCometOptions = {}): Promise<FakeComet> {
    const apiKey = options.apiKey ?? DEFAULT_API_KEY;
    if (apiKey.length < 8) {
      throw new RangeError(
        "Cannot start the fake Comet server: the API key needs at least 8 characters, so answers can be checked for it",
      );
    }
    SECRETS.add(apiKey);
    return new FakeComet(await LoopbackServer.start("Comet"), options);
  }

  // ------------------------------------------------------------- faults

  /**
   * Answers the next matching requests with 429, a `Retry-After` header and
   * `{msg, code: 429, sdk_error_code: 0}`.
   *
   * @param options Which requests, how many, and `retryAfterS` (default 1).
   */
  throttle(options: FaultOptions & { retryAfterS?: number } = {}): void {
    this.#server.addFault(
      "throttle",
      target(options),
      429,
      options.retryAfterS ?? 1,
    );
  }

  /**
   * Answers the next matching requests with an error status and
   * `{msg, code, sdk_error_code: 0}`; nothing is stored.
   *
   * @param options Which requests, how many, and `status` (default 500).
   */
  fail(options: FaultOptions & { status?: number } = {}): void {
    const status = failStatus(options.status ?? 500);
    this.#server.addFault("fail", target(options), status);
  }

  /**
   * Reads the next matching requests and never answers them (until the
   * client gives up or {@linkcode FakeComet.close} runs).
   *
   * @param options Which requests and how many.
   */
  hang(options: FaultOptions = {}): void {
    this.#server.addFault("hang", target(options));
  }

  /**
   * Destroys the socket of the next matching requests after reading them
   * (the client sees a network error).
   *
   * @param options Which requests and how many.
   */
  reset(options: FaultOptions = {}): void {
    this.#server.addFault("reset", target(options));
  }

  /**
   * While down, every request's socket is destroyed at once, as if the
   * server were unreachable.
   *
   * @param down Whether the server is down.
   */
  setDown(down: boolean): void {
    this.#server.setDown(down);
  }

  /** Comet's answer to an injected throttle or failure. */
  #faultReply(fault: AnsweredFault): Reply {
    return {
      status: fault.status,
      json: {
        msg: fault.kind === "throttle"
          ? "Too many requests: the experiment is throttled"
          : `Injected failure: HTTP ${fault.status}`,
        code: fault.status,
        sdk_error_code: 0,
      },
      headers: fault.kind === "throttle"
        ? { "retry-after": String(fault.retryAfterS) }
        : undefined,
    };
  }

  // ------------------------------------------------------------- state

  /**
   * Every experiment, in creation order (live objects).
   *
   * @returns The experiments.
   */
  experiments(): FakeExperiment[] {
    return [...this.#experiments.values()];
  }

  /**
   * One experiment (a live object).
   *
   * @param key The experiment key.
   * @returns The experiment, or `undefined`.
   */
  experiment(key: string): FakeExperiment | undefined {
    return this.#experiments.get(key);
  }

  /**
   * Every artifact, in creation order (live objects).
   *
   * @returns The artifacts.
   */
  artifacts(): FakeArtifact[] {
    return [...this.#artifacts.values()];
  }

  /**
   * Closes the listening socket and every open connection, hung ones too.
   *
   * @returns When the server is closed.
   */
  async close(): Promise<void> {
    await this.#server.close();
  }

  // ------------------------------------------------------------- plumbing

  #onRequest(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const headers = headersOf(request);
    const record: RecordedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      gzip: (headers["content-encoding"] ?? "").trim().toLowerCase() === "gzip",
      status: 0,
    };
    this.requests.push(record);
    this.#server.serve(request, response, {
      method: record.method,
      path: record.path,
      received: (raw) => this.#recordBody(record, raw),
      answer: (raw, fault) => {
        this.#send(
          response,
          record,
          fault === undefined
            ? this.#reply(record, raw)
            : this.#faultReply(fault),
        );
      },
    });
  }

  /** Dispatches a request, an error answered in Comet's error body. */
  #reply(record: RecordedRequest, raw: Uint8Array): Reply {
    try {
      return this.#dispatch(record, raw);
    } catch (error) {
      const httpError = error instanceof HttpError ? error : new HttpError(
        500,
        `The fake Comet server failed: ${(error as Error).message}`,
      );
      return {
        status: httpError.status,
        json: {
          msg: httpError.message,
          code: httpError.status,
          sdk_error_code: httpError.sdkErrorCode,
        },
      };
    }
  }

  /** Best-effort decoding for {@linkcode RecordedRequest}, whatever happens next. */
  #recordBody(record: RecordedRequest, raw: Uint8Array): void {
    try {
      const bytes = decodeContent(record.headers, raw);
      const media = mediaType(record.headers);
      if (media === "application/json") {
        record.json = JSON.parse(new TextDecoder().decode(bytes));
      } else if (media === "multipart/form-data") {
        record.parts = parseMultipart(record.headers, bytes);
      }
    } catch {
      // Left undecoded: the route's own checks answer the error.
    }
  }

  #dispatch(record: RecordedRequest, raw: Uint8Array): Reply {
    const route = this.#routes.get(`${record.method} ${record.path}`);
    if (route === undefined) {
      const methods = ["GET", "POST", "PUT", "DELETE"].filter((method) =>
        this.#routes.has(`${method} ${record.path}`)
      );
      if (methods.length > 0) {
        throw new HttpError(
          405,
          `Method ${record.method} is not allowed on ${record.path}: use ${
            methods.join(", ")
          }`,
        );
      }
      throw new HttpError(
        404,
        `No such endpoint: ${record.method} ${record.path}`,
      );
    }
    const { headers, query } = record;
    if (route.auth === "header") {
      const key = headers.authorization ?? headers["comet-sdk-api"];
      if (key !== this.apiKey) {
        throw new HttpError(
          401,
          key === undefined
            ? "Missing API key: send it in the Authorization header"
            : "Invalid API key: it is not registered",
          SDK.keyNotRegistered,
        );
      }
    }
    if (route.auth === "query" && query.apiKey !== this.apiKey) {
      throw badRequest(
        query.apiKey === undefined
          ? `Missing "apiKey" query parameter`
          : `Invalid "apiKey" query parameter: the API key is not registered`,
        SDK.keyNotRegistered,
      );
    }
    let json: Json = {};
    let parts: Part[] = [];
    if (route.body !== "none") {
      const bytes = decodeContent(headers, raw);
      if (route.body === "json") json = parseJsonBody(headers, bytes);
      else parts = parseMultipart(headers, bytes);
    }
    if (route.auth === "apiKey" || route.auth === "api_key") {
      const key = json[route.auth];
      if (key !== this.apiKey) {
        throw badRequest(
          key === undefined
            ? `Missing "${route.auth}": the API key is required in the body`
            : `Invalid "${route.auth}": the API key is not registered`,
          SDK.keyNotRegistered,
        );
      }
    }
    return route.handle({ query, json, parts });
  }

  #send(response: ServerResponse, record: RecordedRequest, reply: Reply): void {
    record.status = reply.status;
    let body: Uint8Array;
    let contentType: string;
    if (reply.bytes !== undefined) {
      body = reply.bytes;
      contentType = "application/octet-stream";
    } else {
      let text = JSON.stringify(reply.json ?? null);
      if (this.apiKey !== "") text = text.replaceAll(this.apiKey, "<redacted>");
      body = new TextEncoder().encode(text);
      contentType = "application/json; charset=utf-8";
    }
    response.writeHead(reply.status, {
      ...(this.#server.resetPending ? { connection: "close" } : {}),
      "content-type": contentType,
      "content-length": String(body.byteLength),
      ...reply.headers,
    });
    response.end(body);
  }

  // ------------------------------------------------------------- lookups

  #experimentOf(
    value: unknown,
    label: string = "experimentKey",
  ): FakeExperiment {
    if (value === undefined || value === null || value === "") {
      throw badRequest(
        `Missing "${label}": the experiment key is required`,
        SDK.keyMissing,
      );
    }
    if (typeof value !== "string") throw invalid(label, "a string", value);
    const experiment = this.#experiments.get(value);
    if (experiment === undefined) {
      throw badRequest(
        `Experiment ${describe(value)} does not exist ("${label}")`,
        SDK.runMissing,
      );
    }
    return experiment;
  }

  #checkWorkspace(value: string, label: string): void {
    if (value !== this.workspace) {
      throw badRequest(
        `Workspace ${describe(value)} does not exist ("${label}")`,
        SDK.noWorkspace,
      );
    }
  }

  #checkProjectName(value: unknown, label: string): string {
    if (value === undefined || value === null || value === "") {
      throw badRequest(
        `Missing "${label}": a project name is required`,
        SDK.noProjectName,
      );
    }
    if (typeof value !== "string") throw invalid(label, "a string", value);
    if (value.length > MAX_PROJECT_NAME) {
      throw badRequest(
        `Invalid "${label}": ${value.length} characters, at most ${MAX_PROJECT_NAME}`,
        SDK.projectNameTooLong,
      );
    }
    return value;
  }

  #newExperiment(
    key: string,
    projectName: string,
    name: string | null,
  ): FakeExperiment {
    const now = Date.now();
    let project = this.#projects.get(projectName);
    if (project === undefined) {
      project = { projectId: hex32(), projectName, lastUpdated: now };
      this.#projects.set(projectName, project);
    }
    project.lastUpdated = now;
    const experiment: FakeExperiment = {
      experimentKey: key,
      workspaceName: this.workspace,
      projectName,
      projectId: project.projectId,
      name,
      tags: [],
      metrics: [],
      parameters: [],
      others: [],
      assets: [],
      html: "",
      graph: null,
      output: [],
      heartbeats: 0,
      alive: true,
      startTimeMillis: now,
      endTimeMillis: null,
      hasCrashed: null,
      error: null,
      gitMetadata: null,
      systemDetails: {},
      code: null,
      filePath: null,
      stopRequested: false,
      offline: false,
    };
    this.#experiments.set(key, experiment);
    return experiment;
  }

  #handshake(experiment: FakeExperiment): Reply {
    return ok({
      runId: hex32(),
      ws_url: `${this.url.replace(/^http/, "ws")}/ws/`,
      project_id: experiment.projectId,
      githubEnabled: false,
      focusUrl:
        `${this.url}/${experiment.workspaceName}/${experiment.projectName}/`,
      lastOffset: experiment.output.length,
      upload_file_size_limit_in_mb: 200,
      asset_upload_file_size_limit_in_mb: 10000,
      featureToggles: [{ name: "sdk_use_http_messages", enabled: true }],
      name: experiment.name,
      msg: null,
    });
  }

  #markAlive(experiment: FakeExperiment, alive: boolean): void {
    experiment.alive = alive;
    if (!alive && experiment.endTimeMillis === null) {
      experiment.endTimeMillis = Date.now();
    }
  }

  #addTags(experiment: FakeExperiment, body: Json): Reply {
    const tags = optionalStringArray(body, "addedTags");
    if (tags === null) {
      throw badRequest(`Missing "addedTags": an array of strings is required`);
    }
    for (const tag of tags) {
      if (!experiment.tags.includes(tag)) experiment.tags.push(tag);
    }
    return OK;
  }

  #setTimes(
    experiment: FakeExperiment,
    start: number | null,
    end: number | null,
    labels: [string, string],
  ): void {
    const newStart = start ?? experiment.startTimeMillis;
    const newEnd = end ?? experiment.endTimeMillis;
    if (newEnd !== null && newEnd < newStart) {
      const [label, value] = end !== null
        ? [labels[1], end]
        : [labels[0], start];
      throw badRequest(
        `Invalid "${label}": ${value} would put the end (${newEnd}) before the start (${newStart})`,
      );
    }
    if (start !== null) experiment.startTimeMillis = start;
    if (end !== null) experiment.endTimeMillis = end;
  }

  #metadata(experiment: FakeExperiment): Json {
    const end = experiment.endTimeMillis;
    return {
      experimentKey: experiment.experimentKey,
      experimentName: experiment.name,
      optimizationId: null,
      userName: USER_NAME,
      projectId: experiment.projectId,
      projectName: experiment.projectName,
      workspaceName: experiment.workspaceName,
      filePath: experiment.filePath,
      fileName: experiment.filePath?.split(/[\\/]/).pop() ?? null,
      throttle: false,
      throttleMessage: null,
      throttleReasons: null,
      durationMillis: (end ?? Date.now()) - experiment.startTimeMillis,
      startTimeMillis: experiment.startTimeMillis,
      endTimeMillis: end,
      archived: false,
      running: experiment.alive,
    };
  }

  // ------------------------------------------------------------- routes

  #buildRoutes(): Map<string, Route> {
    const routes = new Map<string, Route>();
    const add = (key: string, handle: (context: Context) => Reply): void => {
      routes.set(key, { ...routeKind(key), handle });
    };
    const REST = "/api/rest/v2";
    const WRITE = `${REST}/write/experiment`;
    const CLIENT_WRITE = "/clientlib/rest/v2/write/experiment";

    // -- clientlib: version, health, handshake, status, tags, notification
    add("GET /clientlib/isAlive/ver", () => ok({ version: BACKEND_VERSION }));
    add("GET /clientlib/health/ping", () => ok({ msg: "ok" }));
    add("POST /clientlib/logger/add/run", ({ json }) => this.#addRun(json));
    add("POST /clientlib/logger/get/run", ({ json }) => {
      return this.#handshake(
        this.#experimentOf(json.previousExperiment, "previousExperiment"),
      );
    });
    add("POST /clientlib/status-report/update", ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const alive = optionalBoolean(json, "is_alive") ?? true;
      optionalBoolean(json, "offline");
      experiment.heartbeats++;
      this.#markAlive(experiment, alive);
      return ok({
        is_alive_beat_duration_millis: this.#heartbeatMs,
        gpu_monitor_interval_millis: MONITOR_INTERVAL_MS,
        cpu_monitor_interval_millis: MONITOR_INTERVAL_MS,
        parameter_update_interval_millis: 2000,
        pending_rpcs: false,
      });
    });
    add("POST /clientlib/status-report/offline-metadata", ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      this.#setTimes(
        experiment,
        optionalInteger(json, "startTimestamp"),
        optionalInteger(json, "endTimestamp"),
        ["startTimestamp", "endTimestamp"],
      );
      return OK;
    });
    add("POST /clientlib/tags/add-tags-to-experiment", ({ json }) => {
      return this.#addTags(this.#experimentOf(json.experimentKey), json);
    });
    add("POST /clientlib/notification/experiment", ({ json }) => {
      if (json.experiment_key !== undefined) {
        this.#experimentOf(json.experiment_key, "experiment_key");
      }
      return OK;
    });

    // -- experiment lifecycle (REST v2)
    add(`POST ${WRITE}/create`, ({ json }) => {
      this.#checkWorkspace(
        requireString(json, "workspaceName"),
        "workspaceName",
      );
      const projectName = this.#checkProjectName(
        json.projectName,
        "projectName",
      );
      const name = optionalString(json, "experimentName");
      optionalBoolean(json, "disableHeartBeat");
      const experiment = this.#newExperiment(hex32(), projectName, name);
      return ok({
        experimentKey: experiment.experimentKey,
        workspaceName: experiment.workspaceName,
        projectName,
        link:
          `${this.url}/${experiment.workspaceName}/${projectName}/${experiment.experimentKey}`,
        name,
      });
    });
    add(`GET ${WRITE}/set-status`, ({ query }) => {
      const experiment = this.#experimentOf(query.experimentKey);
      experiment.heartbeats++;
      experiment.alive = true;
      return ok({
        isAliveBeatDurationMillis: this.#heartbeatMs,
        gpuMonitorIntervalMillis: MONITOR_INTERVAL_MS,
        cpuMonitorIntervalMillis: MONITOR_INTERVAL_MS,
      });
    });
    add(`POST ${WRITE}/update-status`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const alive = optionalBoolean(json, "isAlive");
      if (alive === null) {
        throw badRequest(`Missing "isAlive": a boolean is required`);
      }
      const error = optionalString(json, "error");
      const hasCrashed = optionalBoolean(json, "hasCrashed");
      this.#markAlive(experiment, alive);
      if (error !== null) experiment.error = error;
      if (hasCrashed !== null) experiment.hasCrashed = hasCrashed;
      return OK;
    });
    add(`POST ${WRITE}/set-start-end-time`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      this.#setTimes(
        experiment,
        optionalInteger(json, "startTimeMillis"),
        optionalInteger(json, "endTimeMillis"),
        ["startTimeMillis", "endTimeMillis"],
      );
      return OK;
    });
    add(`GET ${WRITE}/stop`, ({ query }) => {
      this.#experimentOf(query.experimentKey).stopRequested = true;
      return ok({ msg: "Stop Requested" });
    });
    add(`POST ${WRITE}/tags`, ({ json }) => {
      return this.#addTags(this.#experimentOf(json.experimentKey), json);
    });

    // -- metrics and parameters
    add("POST /clientlib/batch/logger/experiment/metric", ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const metrics = requireValues(json).map((value, i) =>
        metricOf(value, `values[${i}].`)
      );
      experiment.metrics.push(...metrics);
      return OK;
    });
    add(`POST ${WRITE}/metric`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      experiment.metrics.push(metricOf(json, ""));
      return OK;
    });
    add("POST /clientlib/batch/logger/experiment/parameter", ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const parameters = requireValues(json).map((value, i) =>
        parameterOf(value, `values[${i}].`)
      );
      experiment.parameters.push(...parameters);
      return OK;
    });
    add(`POST ${WRITE}/parameter`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      experiment.parameters.push(parameterOf(json, ""));
      return OK;
    });

    // -- others, html, graph, output, system details, git, code, file path
    add(`POST ${WRITE}/log-other`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const key = requireString(json, "key");
      if (json.value === undefined) throw badRequest(`Missing "value"`);
      const timestamp = optionalInteger(json, "timestamp");
      if (key === "Name") experiment.name = valueText(json.value);
      experiment.others.push({ key, value: json.value, timestamp });
      return OK;
    });
    add(`POST ${WRITE}/html`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      if (typeof json.html !== "string") {
        throw invalid("html", "a string", json.html);
      }
      const override = optionalBoolean(json, "override") ?? false;
      optionalInteger(json, "timestamp");
      experiment.html = override ? json.html : experiment.html + json.html;
      return OK;
    });
    add(`POST ${WRITE}/graph`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      if (typeof json.graph !== "string") {
        throw invalid("graph", "a string", json.graph);
      }
      experiment.graph = json.graph;
      return OK;
    });
    const output = ({ json }: Context): Reply => {
      const experiment = this.#experimentOf(json.experimentKey);
      optionalString(json, "runContext");
      const lines = json.outputLines;
      if (!Array.isArray(lines)) {
        throw invalid("outputLines", "an array", lines);
      }
      const parsed = lines.map((line, i) => {
        const label = `outputLines[${i}]`;
        if (!isObject(line)) throw invalid(label, "an object", line);
        if (typeof line.output !== "string") {
          throw invalid(`${label}.output`, "a string", line.output);
        }
        return {
          output: line.output,
          stderr: optionalBoolean(line, "stderr", `${label}.stderr`) ?? false,
          offset: optionalInteger(line, "offset", `${label}.offset`) ??
            experiment.output.length + i,
          localTimestamp: optionalInteger(
            line,
            "localTimestamp",
            `${label}.localTimestamp`,
          ) ??
            Date.now(),
        };
      });
      experiment.output.push(...parsed);
      return OK;
    };
    add(`POST ${WRITE}/output`, output);
    add(`POST ${CLIENT_WRITE}/output`, output);
    const systemDetails = ({ json }: Context): Reply => {
      const experiment = this.#experimentOf(json.experimentKey);
      const { experimentKey: _key, ...details } = json;
      Object.assign(experiment.systemDetails, details);
      return OK;
    };
    add(`POST ${WRITE}/system-details`, systemDetails);
    add(`POST ${CLIENT_WRITE}/system-details`, systemDetails);
    add(`POST ${WRITE}/git/metadata`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      const metadata: Json = {};
      for (const field of ["user", "root", "branch", "parent", "origin"]) {
        metadata[field] = optionalString(json, field);
      }
      experiment.gitMetadata = metadata;
      return OK;
    });
    add(`POST ${WRITE}/code`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      if (typeof json.code !== "string") {
        throw invalid("code", "a string", json.code);
      }
      experiment.code = json.code;
      return OK;
    });
    add(`POST ${WRITE}/file-path`, ({ json }) => {
      const experiment = this.#experimentOf(json.experimentKey);
      experiment.filePath = requireString(json, "filePath");
      return OK;
    });

    // -- uploads
    add(`POST ${WRITE}/upload-asset`, (c) => this.#upload(c, "rest"));
    add("POST /clientlib/asset/upload", (c) => this.#upload(c, "asset"));
    add(
      "POST /clientlib/visualizations/upload",
      (c) => this.#upload(c, "visualization"),
    );

    // -- artifacts
    add(
      `POST ${REST}/write/artifacts/upsert`,
      ({ json }) => this.#upsert(json),
    );
    add(`POST ${REST}/write/artifacts/state`, ({ json }) => {
      const versionId = requireString(json, "artifactVersionId");
      this.#experimentOf(json.experimentKey);
      const state = requireString(json, "state");
      const [, version] = this.#versionById(versionId);
      if (state !== "CLOSED" && state !== "ERROR") {
        throw badRequest(
          `Invalid "state": ${
            describe(state)
          } is not a state to move to (CLOSED or ERROR)`,
          SDK.invalidState,
        );
      }
      if (version.state !== "OPEN") {
        throw badRequest(
          `Artifact version ${version.version} is ${version.state}: its state cannot change`,
          SDK.stateImmutable,
        );
      }
      version.state = state;
      return OK;
    });
    add(`POST ${REST}/write/artifacts/version/labels`, ({ json }) => {
      const [artifact, version] = this.#versionById(
        requireString(json, "artifactVersionId"),
      );
      const alias = optionalStringArray(json, "alias");
      const tags = optionalStringArray(json, "versionTags");
      const metadata = optionalJsonObjectString(json, "versionMetadata");
      if (alias !== null) {
        this.#takeAliases(artifact, alias);
        version.alias = [...alias];
      }
      if (tags !== null) version.tags = [...tags];
      if (metadata !== null) version.metadata = metadata;
      return OK;
    });
    add(`GET ${REST}/artifacts/version`, ({ query }) => {
      const [artifact, version] = this.#resolveVersion(query);
      return ok(this.#versionDetail(artifact, version, true));
    });
    add(`GET ${REST}/artifacts/version/files`, ({ query }) => {
      const [artifact, version] = this.#resolveVersion(query);
      return ok({
        files: this.#versionAssets(version.artifactVersionId).map((
          asset,
        ) => ({
          artifactId: artifact.artifactId,
          artifactVersionId: version.artifactVersionId,
          assetId: asset.assetId,
          fileName: asset.fileName,
          fileSize: asset.data.byteLength,
          link: asset.link,
          dir: "",
          type: asset.type,
          metadata: asset.metadata,
          remote: asset.remote,
        })),
      });
    });
    add(`GET ${REST}/artifacts/get`, ({ query }) => {
      const artifact = this.#resolveArtifact(query);
      return ok({
        ...this.#artifactDto(artifact),
        versions: artifact.versions.map((v) =>
          this.#versionDetail(artifact, v, false)
        ),
      });
    });
    add(`GET ${REST}/artifacts/get-all`, ({ query }) => {
      this.#checkWorkspace(requireString(query, "workspace"), "workspace");
      const type = query.type;
      return ok({
        artifacts: this.artifacts()
          .filter((a) =>
            type === undefined || type === "" || a.artifactType === type
          )
          .map((a) => this.#artifactDto(a)),
      });
    });
    add(`GET ${REST}/experiment/asset/get-asset`, ({ query }) => {
      const assetId = requireString(query, "assetId");
      const experiment = this.#experimentOf(query.experimentKey);
      const versionId = query.artifactVersionId;
      let asset: FakeAsset | undefined;
      if (versionId !== undefined && versionId !== "") {
        this.#versionById(versionId);
        asset = this.#versionAssets(versionId).find((a) =>
          a.assetId === assetId
        );
      } else {
        asset = experiment.assets.find((a) => a.assetId === assetId);
      }
      if (asset === undefined) {
        throw badRequest(
          `Asset ${describe(assetId)} does not exist`,
        );
      }
      if (asset.remote) {
        throw badRequest(
          `Asset ${describe(assetId)} is remote: download its link instead`,
        );
      }
      return { status: 200, bytes: asset.data };
    });

    // -- experiment reads
    const read = (
      path: string,
      answer: (experiment: FakeExperiment, context: Context) => unknown,
    ) =>
      add(`GET ${REST}/experiment/${path}`, (context) => {
        return ok(
          answer(this.#experimentOf(context.query.experimentKey), context),
        );
      });
    read("metrics/get-metric", (experiment, { query }) => {
      const name = requireString(query, "metricName");
      return {
        metrics: experiment.metrics.filter((m) => m.metricName === name).map((
          m,
        ) => ({
          metricName: m.metricName,
          metricValue: valueText(m.metricValue),
          timestamp: m.timestamp,
          step: m.step,
          epoch: m.epoch,
          runContext: m.context,
        })),
      };
    });
    read("metrics/summary", (experiment) => ({
      values: summarize(experiment.metrics.map((m) => ({
        name: m.metricName,
        value: m.metricValue,
        timestamp: m.timestamp,
        step: m.step,
        context: m.context,
      }))),
    }));
    read("parameters", (experiment) => ({
      values: summarize(experiment.parameters.map((p) => ({
        name: p.parameterName,
        value: p.parameterValue,
        timestamp: p.timestamp,
        step: p.step,
        context: p.context,
      }))),
    }));
    read("log-other", (experiment) => ({
      values: summarize(experiment.others.map((o) => ({
        name: o.key,
        value: o.value,
        timestamp: o.timestamp,
        step: null,
        context: null,
      }))),
    }));
    read(
      "asset/list",
      (experiment, { query }) => this.#assetList(experiment, query.type),
    );
    read("tags", (experiment) => ({ tags: [...experiment.tags] }));
    read("graph", (experiment) => ({ graph: experiment.graph }));
    read("html", (experiment) => ({ html: experiment.html }));
    read("output", (experiment) => ({
      output: [...experiment.output].sort((a, b) => a.offset - b.offset).map((
        l,
      ) => l.output)
        .join(""),
    }));
    read("code", (experiment) => ({ code: experiment.code }));
    read("system-details", (experiment) => ({
      experimentKey: experiment.experimentKey,
      ...experiment.systemDetails,
    }));
    read("git/metadata", (experiment) => experiment.gitMetadata ?? {});
    read("metadata", (experiment) => this.#metadata(experiment));

    // -- workspaces, projects, experiment lists
    add(
      `GET ${REST}/workspaces`,
      () => ok({ workspaceNames: [this.workspace] }),
    );
    add(`GET ${REST}/projects`, ({ query }) => {
      this.#checkWorkspace(
        requireString(query, "workspaceName"),
        "workspaceName",
      );
      return ok({
        projects: [...this.#projects.values()].map((project) => ({
          projectId: project.projectId,
          projectName: project.projectName,
          ownerUserName: USER_NAME,
          projectDescription: null,
          workspaceName: this.workspace,
          public: false,
          numberOfExperiments: this.experiments().filter((e) =>
            e.projectId === project.projectId
          ).length,
          lastUpdated: project.lastUpdated,
        })),
      });
    });
    add(`GET ${REST}/experiments`, ({ query }) => {
      let projectId = query.projectId;
      if (projectId === undefined || projectId === "") {
        this.#checkWorkspace(
          requireString(query, "workspaceName"),
          "workspaceName",
        );
        const name = this.#checkProjectName(query.projectName, "projectName");
        projectId = this.#projects.get(name)?.projectId ?? "";
      }
      return ok({
        experiments: this.experiments().filter((e) => e.projectId === projectId)
          .map((e) => this.#metadata(e)),
      });
    });
    return routes;
  }

  // ------------------------------------------------------------- handshake

  #addRun(json: Json): Reply {
    const key = json.experimentKey;
    if (key === undefined || key === null || key === "") {
      throw badRequest(
        `Missing "experimentKey": the experiment key is required`,
        SDK.keyMissing,
      );
    }
    if (typeof key !== "string" || !EXPERIMENT_KEY.test(key)) {
      throw badRequest(
        `Invalid "experimentKey": ${
          describe(key)
        } is not 32 to 50 ASCII letters and digits`,
      );
    }
    const team = optionalString(json, "teamName");
    if (team !== null) this.#checkWorkspace(team, "teamName");
    const projectName = this.#checkProjectName(json.projectName, "projectName");
    const offline = optionalBoolean(json, "offline") ?? false;
    if (this.#experiments.has(key)) {
      throw badRequest(
        `Experiment ${describe(key)} already exists`,
        SDK.runExists,
      );
    }
    const experiment = this.#newExperiment(key, projectName, null);
    experiment.offline = offline;
    return this.#handshake(experiment);
  }

  // ------------------------------------------------------------- uploads

  #upload(
    { query, parts }: Context,
    source: "rest" | "asset" | "visualization",
  ): Reply {
    const experiment = source === "rest"
      ? this.#experimentOf(query.experimentKey)
      : this.#experimentOf(query.experimentId, "experimentId");
    const image = source === "visualization";
    const nameKey = image ? "figName" : "fileName";
    const fileName = requireString(query, nameKey);
    const type = query.type === undefined || query.type === ""
      ? (image ? "image" : "asset")
      : query.type;
    if (!ASSET_TYPES.has(type)) {
      throw badRequest(
        `Invalid "type": ${describe(type)} is not a known asset type`,
      );
    }
    const step = queryInteger(query, "step");
    const epoch = queryInteger(query, "epoch");
    const overwrite = queryBoolean(query, "overwrite") ?? false;
    const isRemote = queryBoolean(query, "isRemote") ?? false;
    const clientId = query[image ? "imageId" : "assetId"];
    if (type === "histogram3d" && step === null) {
      throw badRequest(`Missing "step": a histogram3d asset needs a step`);
    }
    const file = parts.find((part) => part.name === "file");
    const linkPart = parts.find((part) => part.name === "link");
    const metadataPart = parts.find((part) => part.name === "metadata");
    let metadata: string | null = null;
    if (metadataPart !== undefined) {
      metadata = new TextDecoder().decode(metadataPart.data);
      checkJsonObjectText(metadata, "metadata");
    }
    if (file === undefined && linkPart === undefined) {
      throw badRequest(
        `Missing "file": the upload has neither a "file" nor a "link" part`,
      );
    }
    const remote = isRemote || file === undefined;
    const link = linkPart === undefined
      ? ""
      : new TextDecoder().decode(linkPart.data);
    if (remote && link === "") {
      throw badRequest(`Missing "link": a remote asset needs its URI`);
    }
    if (!remote && file !== undefined) {
      if (type === "histogram3d") checkHistogram(file.data);
      if (type === "confusion-matrix") checkConfusionMatrix(file.data);
      if (type === "curve") checkCurve(file.data);
    }
    const versionId = query.artifactVersionId === ""
      ? undefined
      : query.artifactVersionId;
    if (versionId !== undefined) {
      const [, version] = this.#versionById(versionId);
      if (version.state !== "OPEN") {
        throw badRequest(
          `Artifact version ${version.version} is ${version.state}: no more assets can be added`,
          SDK.stateImmutable,
        );
      }
    }
    const asset: FakeAsset = {
      assetId: clientId === undefined || clientId === "" ? hex32() : clientId,
      type,
      fileName,
      extension: query.extension ?? null,
      step,
      epoch,
      context: query.context ?? null,
      overwrite,
      metadata,
      artifactVersionId: versionId ?? null,
      remote,
      link: remote ? link : null,
      data: remote || file === undefined ? new Uint8Array(0) : file.data,
      createdAt: Date.now(),
    };
    // A retry (same id) or an overwrite replaces; a file name is unique in a
    // version. Arrays are changed in place: experiments are live objects.
    removeWhere(experiment.assets, (a) =>
      a.assetId === asset.assetId ||
      (versionId === undefined && overwrite && a.artifactVersionId === null &&
        a.fileName === fileName && a.type === type));
    if (versionId !== undefined) {
      for (const owner of this.#experiments.values()) {
        removeWhere(
          owner.assets,
          (a) => a.artifactVersionId === versionId && a.fileName === fileName,
        );
      }
    }
    experiment.assets.push(asset);
    return ok({ msg: "ok", code: 200, data: { assetId: asset.assetId } });
  }

  #assetList(experiment: FakeExperiment, filter: string | undefined): Json {
    const all = filter === undefined || filter === "" || filter === "all";
    const wanted = filter === "histogram_combined_3d" ? "histogram3d" : filter;
    if (!all && !ASSET_TYPES.has(wanted ?? "")) {
      throw badRequest(
        `Invalid "type": ${describe(filter)} is not a known asset type`,
      );
    }
    return {
      assets: experiment.assets
        .filter((a) =>
          a.artifactVersionId === null && (all || a.type === wanted)
        )
        .map((a) => ({
          fileName: a.fileName,
          fileSize: a.data.byteLength,
          runContext: a.context,
          step: a.step,
          remote: a.remote,
          link: a.remote
            ? a.link
            : `${this.url}/api/rest/v2/experiment/asset/get-asset?experimentKey=${experiment.experimentKey}&assetId=${a.assetId}`,
          createdAt: a.createdAt,
          dir: a.fileName.includes("/")
            ? a.fileName.slice(0, a.fileName.lastIndexOf("/"))
            : "",
          canView: ["image", "audio", "video", "text-sample"].includes(a.type),
          audio: a.type === "audio",
          video: a.type === "video",
          histogram: a.type === "histogram3d",
          image: a.type === "image",
          type: a.type === "histogram3d" ? "histogram_combined_3d" : a.type,
          metadata: a.metadata,
          assetId: a.assetId,
          tags: [],
        })),
    };
  }

  // ------------------------------------------------------------- artifacts

  #upsert(json: Json): Reply {
    const experiment = this.#experimentOf(json.experimentKey);
    const name = requireString(json, "artifactName");
    const type = requireString(json, "artifactType");
    const workspace = optionalString(json, "workspaceName");
    if (workspace !== null) this.#checkWorkspace(workspace, "workspaceName");
    const requested = optionalString(json, "version");
    if (requested !== null && parseSemver(requested) === null) {
      throw badRequest(
        `Invalid "version": ${
          describe(requested)
        } is not a semantic version (MAJOR.MINOR.PATCH)`,
      );
    }
    const alias = optionalStringArray(json, "alias") ?? [];
    const versionTags = optionalStringArray(json, "versionTags") ?? [];
    const metadata = optionalJsonObjectString(json, "versionMetadata");
    const tags = optionalStringArray(json, "tags");
    const description = optionalString(json, "description");
    const isPublic = optionalBoolean(json, "isPublic");
    let artifact = this.artifacts().find((a) =>
      a.workspaceName === experiment.workspaceName && a.artifactName === name
    );
    if (
      requested !== null &&
      artifact?.versions.some((v) => v.version === requested)
    ) {
      throw badRequest(
        `Artifact "${name}" already has version ${requested}`,
        SDK.versionExists,
      );
    }
    if (artifact === undefined) {
      artifact = {
        artifactId: hex32(),
        artifactName: name,
        artifactType: type,
        workspaceName: experiment.workspaceName,
        versions: [],
      };
      this.#artifacts.set(artifact.artifactId, artifact);
      this.#artifactExtras.set(artifact.artifactId, {
        projectId: experiment.projectId,
        tags: [],
        description: null,
        isPublic: false,
        experimentKey: experiment.experimentKey,
      });
    }
    const extras = this.#artifactExtras.get(
      artifact.artifactId,
    ) as ArtifactExtras;
    if (tags !== null) extras.tags = [...tags];
    if (description !== null) extras.description = description;
    if (isPublic !== null) extras.isPublic = isPublic;
    const previous = this.#latest(artifact);
    const major = previous === undefined
      ? 0
      : (parseSemver(previous.version)?.[0] ?? 0);
    const current = requested ??
      (previous === undefined ? "1.0.0" : `${major + 1}.0.0`);
    this.#takeAliases(artifact, alias);
    const version: FakeArtifactVersion = {
      artifactVersionId: hex32(),
      version: current,
      state: "OPEN",
      alias: [...alias],
      tags: [...versionTags],
      metadata,
      experimentKey: experiment.experimentKey,
      createdAt: Date.now(),
      consumers: [],
    };
    artifact.versions.push(version);
    return ok({
      artifactId: artifact.artifactId,
      artifactVersionId: version.artifactVersionId,
      currentVersion: current,
      previousVersion: previous?.version ?? null,
    });
  }

  #latest(artifact: FakeArtifact): FakeArtifactVersion | undefined {
    return [...artifact.versions].sort((a, b) =>
      compareSemver(b.version, a.version)
    )[0];
  }

  #takeAliases(artifact: FakeArtifact, alias: string[]): void {
    for (const version of artifact.versions) {
      version.alias = version.alias.filter((a) => !alias.includes(a));
    }
  }

  #versionById(versionId: string): [FakeArtifact, FakeArtifactVersion] {
    for (const artifact of this.#artifacts.values()) {
      const version = artifact.versions.find((v) =>
        v.artifactVersionId === versionId
      );
      if (version !== undefined) return [artifact, version];
    }
    throw badRequest(
      `Artifact version ${describe(versionId)} does not exist`,
      SDK.noArtifactVersion,
    );
  }

  #versionAssets(versionId: string): FakeAsset[] {
    return this.experiments().flatMap((e) =>
      e.assets.filter((a) => a.artifactVersionId === versionId)
    );
  }

  #resolveArtifact(query: Record<string, string>): FakeArtifact {
    const id = query.artifactId || query.artifact_id;
    if (id) {
      const artifact = this.#artifacts.get(id);
      if (artifact === undefined) {
        throw badRequest(
          `Artifact ${describe(id)} does not exist`,
          SDK.noArtifact,
        );
      }
      return artifact;
    }
    const workspace = requireString(query, "workspace");
    this.#checkWorkspace(workspace, "workspace");
    const name = requireString(query, "artifactName");
    const artifact = this.artifacts().find((a) =>
      a.workspaceName === workspace && a.artifactName === name
    );
    if (artifact === undefined) {
      throw badRequest(
        `Artifact "${workspace}/${name}" does not exist`,
        SDK.noArtifact,
      );
    }
    return artifact;
  }

  /** The version a read names; see the module notes for the state rule. */
  #resolveVersion(
    query: Record<string, string>,
  ): [FakeArtifact, FakeArtifactVersion] {
    if (query.experimentKey) this.#experimentOf(query.experimentKey);
    const consumer = query.consumerExperimentKey || undefined;
    if (consumer !== undefined) {
      this.#experimentOf(consumer, "consumerExperimentKey");
    }
    const artifact = this.#resolveArtifact(query);
    const versionId = query.versionId || query.version_id ||
      query.artifactVersionId;
    const byId = Boolean((query.artifactId || query.artifact_id) && versionId);
    const { version, alias, versionOrAlias } = query;
    let found: FakeArtifactVersion | undefined;
    let wanted: string;
    if (versionId) {
      found = artifact.versions.find((v) => v.artifactVersionId === versionId);
      wanted = `id ${versionId}`;
    } else if (version) {
      found = artifact.versions.find((v) => v.version === version);
      wanted = `version ${version}`;
    } else if (alias) {
      found = artifact.versions.find((v) => v.alias.includes(alias));
      wanted = `alias ${alias}`;
    } else if (versionOrAlias) {
      found = artifact.versions.find((v) => v.version === versionOrAlias) ??
        artifact.versions.find((v) => v.alias.includes(versionOrAlias));
      wanted = `version or alias ${versionOrAlias}`;
    } else {
      found = this.#latest(artifact);
      wanted = "any version";
    }
    if (found === undefined) {
      throw badRequest(
        `Artifact "${artifact.artifactName}" has no ${wanted}`,
        SDK.noArtifactVersion,
      );
    }
    if ((!byId || consumer !== undefined) && found.state !== "CLOSED") {
      throw badRequest(
        `Artifact "${artifact.artifactName}" version ${found.version} is ${found.state}, not CLOSED`,
        found.state === "OPEN" ? SDK.notClosed : SDK.closedWithError,
      );
    }
    if (consumer !== undefined && !found.consumers.includes(consumer)) {
      found.consumers.push(consumer);
    }
    return [artifact, found];
  }

  #artifactDto(artifact: FakeArtifact): Json {
    const extras = this.#artifactExtras.get(
      artifact.artifactId,
    ) as ArtifactExtras;
    return {
      artifactId: artifact.artifactId,
      artifactName: artifact.artifactName,
      artifactType: artifact.artifactType,
      workspaceName: artifact.workspaceName,
      projectId: extras.projectId,
      experimentKey: extras.experimentKey,
      description: extras.description,
      version: this.#latest(artifact)?.version ?? null,
      metadata: null,
      isPublic: extras.isPublic,
      owner: USER_NAME,
      emoji: null,
      tags: [...extras.tags],
    };
  }

  #versionDetail(
    artifact: FakeArtifact,
    version: FakeArtifactVersion,
    nested: boolean,
  ): Json {
    const detail: Json = {
      artifactVersionId: version.artifactVersionId,
      artifactVersion: version.version,
      owner: USER_NAME,
      createdFrom: version.experimentKey,
      sizeInBytes: this.#versionAssets(version.artifactVersionId).reduce(
        (sum, asset) => sum + asset.data.byteLength,
        0,
      ),
      metadata: version.metadata,
      note: null,
      added: version.createdAt,
      state: version.state,
      tags: [...version.tags],
      alias: [...version.alias],
      experimentKey: version.experimentKey,
    };
    if (nested) detail.artifact = this.#artifactDto(artifact);
    return detail;
  }
}
