/**
 * A fake MLflow 3.6 tracking server for tests: a `node:http` server on
 * 127.0.0.1 (random port) that answers the REST API the way the real server
 * did in `../shared/reference/mlflow.md` ([live] facts) and its captures
 * (`mlflow-captures/`, which win where they disagree). Tracking
 * (`/api/2.0/mlflow/...`), the artifact proxy (`/api/2.0/mlflow-artifacts/...`)
 * and the model registry are served from memory, with MLflow's validation,
 * limits, error bodies `{error_code, message}` and statuses, and its non-JSON
 * answers (Werkzeug 404/405/500 pages, auth and host-check text). Faults
 * (429, 5xx, 403, hangs, resets, an unreachable server) can be injected.
 * Runs unchanged under Deno, Bun and Node.
 *
 * How requests are read, as the server does it (`mlflow/server/handlers.py`):
 * - A POST or PUT needs `Content-Type: application/json` (parameters after
 *   `;` allowed, no trimming, case-sensitive); DELETE and PATCH are not
 *   checked. A body that is not JSON reads as `{}` (so required fields are
 *   then "missing"), except on `runs/log-batch`, where it is a 500 page (the
 *   server calls `len(None)`). A JSON string body is decoded a second time.
 * - A GET with a query string reads only the query (known fields; repeated
 *   fields repeat the key). A GET without one, and every other method, reads
 *   the JSON body; DELETE and PATCH never read the query.
 * - The body is parsed the protobuf way, field by field in JSON order: unknown
 *   fields are ignored, numeric strings are accepted for numbers, `"NaN"` and
 *   `"Infinity"` for doubles, an integer `experiment_id` becomes a string, and
 *   lowerCamelCase names work too. At the first value of the wrong type (for
 *   example an unknown `status` enum) parsing stops silently: the fields
 *   after it are dropped, and only then are the types checked against the
 *   endpoint's schema ("Invalid value ... Hint: Value was of type ...").
 * - A chunked body without `Content-Length` reads as empty (uvicorn's
 *   WSGI bridge), on every endpoint: an artifact PUT stores a 0-byte file and
 *   answers 200, as the real server did. Such uploads are listed in
 *   {@linkcode FakeMlflow.chunkedUploads}.
 * - Artifact paths are decoded by the router, then again until stable
 *   (`_decode`, with Python's `unquote` and `urlunparse(urlparse())`
 *   round trip, at most 10 times), control characters are re-escaped as
 *   `%xx`, and `#`, `..` segments, absolute paths (POSIX or `C:/`) and
 *   backslashes are "Invalid path". The decoded name is what is stored, so
 *   `%` names get corrupted exactly as on the real server. The `?path=` of a
 *   listing is form-decoded first (`+` is a space there).
 *
 * Choices made where the reference is silent (marked here so tests can tell
 * them from observed behaviour):
 * - Security checks run before auth: a `Host` that is not localhost, a
 *   loopback or a private address is 403 "Invalid Host header - possible DNS
 *   rebinding attack detected"; a POST/PUT/PATCH/DELETE with an `Origin`
 *   that is not localhost is 403 "Cross-origin request blocked" (both text).
 *   `GET /health` ("OK") and `GET /version` never need auth.
 * - Basic-auth failures are 401 with `WWW-Authenticate: Basic realm="mlflow"`
 *   and the basic-auth app's text; with `{ token }` a missing or wrong
 *   `Authorization: Bearer` is 401 with `WWW-Authenticate: Bearer
 *   realm="mlflow"`. Flask's default `text/html; charset=utf-8` is used for
 *   these text bodies, and for the 403 "Permission denied" of
 *   {@linkcode FakeMlflow.deny}.
 * - Changing a param inside `runs/log-batch` answers the batch form of the
 *   message ("Params were already logged='[{'key': ..., 'old_value': ...,
 *   'new_value': ...}]' for run ID='...'."), from the SQL store's source.
 * - Key validation messages use MLflow 3's `invalid_value` form with the JSON
 *   path: `metrics[0].name`, `params[0].key`, `tags[0].key` in a batch,
 *   `name` for `log-metric`, `key` for `log-parameter` and `set-tag`.
 *   Too-long keys fail ("Param key '...' had length 251, which exceeded
 *   length limit of 250"); param values over 6000 and tag values over 8000
 *   characters are truncated silently.
 * - `runs/search` pages like the SQL store: a full page always carries a
 *   `next_page_token` (the next page may be empty). The other searches give a
 *   token only when more results exist. Page tokens are base64 of
 *   `{"offset": N}`; a token whose offset is 0 is refused as the real
 *   server does ("Invalid page token, parsed value={'offset': 0}").
 * - Search filters support `AND`-joined comparisons (`=`, `!=`, `<`, `<=`,
 *   `>`, `>=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`) on attributes, `metrics.`,
 *   `params.` and `tags.` (keys bare, in backticks or double quotes). Runs
 *   sort by `start_time DESC, run_id` by default, experiments by
 *   `last_update_time DESC, experiment_id`, registered models by `name`,
 *   model versions newest first.
 * - Deleting an experiment deletes its runs; restoring restores them.
 *   Deleting an experiment that is not active, or restoring one that is not
 *   deleted, is 404; the Default experiment "0" cannot be deleted.
 * - An artifact path starting with `/` right after `.../artifacts/` (a
 *   literal `//` or `%2F`) is a 404 page: Werkzeug's `<path>` cannot start
 *   with a slash (the real server may redirect to the merged URL instead).
 *   `%252F...` reaches the path check and is "Invalid path".
 * - `DELETE .../mlflow-artifacts/artifacts/<path>` removes a file or a whole
 *   directory and answers `{}` even when nothing was there. A GET of a
 *   directory is a 500 page (the server opens it as a file).
 * - `GET registered-models/alias?alias=latest` (any case) resolves to the
 *   highest version; `v<digits>` aliases are not resolved; an unknown alias
 *   is 400 "Registered model alias X not found.", an unknown model 404.
 * - Model version sources are checked as `_validate_source_run` does: local
 *   paths are refused (every run's artifacts are proxied); `models:/`
 *   sources are stored verbatim without looking up a logged model (there
 *   are none here).
 * - `model-versions/get` and `registered-models/alias` include the version's
 *   `aliases`; no other answer does. `description`, `run_id` and `run_link`
 *   are `""` when not given.
 * - `logged-models/search` answers `{}`; other logged-model endpoints,
 *   `runs/log-model` and `metrics/get-history-bulk-interval` are not served
 *   (404 page).
 *
 * While a `reset()` fault is pending the fake closes idle kept-alive
 * connections and answers `Connection: close`: Deno's fetch silently retries
 * a request once when a reused connection breaks, which would otherwise hide
 * the reset. `setDown(true)` closes idle connections too.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
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

/** How to start a {@linkcode FakeMlflow}. */
export interface FakeMlflowOptions {
  /**
   * Require credentials on every request (but `/health` and `/version`):
   * HTTP Basic (`mlflow server --app-name basic-auth`), or a bearer token (an
   * auth proxy in front of MLflow). No auth when absent.
   */
  auth?: { username: string; password: string } | { token: string };
}

/** One request the fake received, in arrival order. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** The path as sent (percent-escapes kept, `..` not resolved), no query. */
  path: string;
  /** Query parameters, form-decoded; a repeated name gives an array. */
  query: Record<string, string | string[]>;
  /** Request headers, with lower-case names. */
  headers: Record<string, string>;
  /** The parsed body, when it was sent as `application/json` and parses. */
  json?: unknown;
  /** How many body bytes arrived. */
  bodyBytes: number;
  /** Whether the body came chunked without a `Content-Length`. */
  chunked: boolean;
  /** The status answered; 0 while unanswered, or when it hung or was reset. */
  status: number;
}

/** Which requests a fault applies to. */
export interface FaultOptions {
  /** An exact raw path, or a pattern tested on it; all paths when absent. */
  path?: string | RegExp;
  /** Only this method (any case); all methods when absent. */
  method?: string;
  /**
   * How many matching requests get the fault.
   * @default {1}
   */
  count?: number;
}

/** A run as stored (a snapshot). */
export interface FakeRun {
  /** Run id (32 hex). */
  runId: string;
  /** Its experiment. */
  experimentId: string;
  /** Run name (also the `mlflow.runName` tag). */
  runName: string;
  /** `RUNNING`, `FINISHED`, `FAILED`, `KILLED` or `SCHEDULED`. */
  status: string;
  /** Start time in ms (0 when the client sent none). */
  startTime: number;
  /** End time in ms, or `null`. */
  endTime: number | null;
  /** `active` or `deleted`. */
  lifecycleStage: string;
  /** `mlflow-artifacts:/<exp>/<run>/artifacts`. */
  artifactUri: string;
  /** Every point in logged order; NaN as `"NaN"`, infinities clamped. */
  metrics: {
    key: string;
    value: number | string;
    timestamp: number;
    step: number;
  }[];
  /** Params. */
  params: Record<string, string>;
  /** Tags. */
  tags: Record<string, string>;
}

/** An experiment as stored (a snapshot). */
export interface FakeExperiment {
  /** Experiment id, a decimal string (`"0"` is Default). */
  experimentId: string;
  /** Name. */
  name: string;
  /** `active` or `deleted`. */
  lifecycleStage: string;
  /** Tags. */
  tags: Record<string, string>;
}

/** A model version as stored (a snapshot). */
export interface FakeModelVersion {
  /** Registered model name. */
  name: string;
  /** Version number as a string (`"1"`, `"2"`, ...). */
  version: string;
  /** Source URI, verbatim. */
  source: string;
  /** Run id, or `""`. */
  runId: string;
  /** Tags. */
  tags: Record<string, string>;
  /** Description, or `""`. */
  description: string;
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const VERSION = "3.6.1.dev0";
const ARTIFACT_ROOT = "/fake-mlflow/artifacts";
const MAX_KEY_LENGTH = 250;
const MAX_PARAM_VALUE_LENGTH = 6000;
const MAX_TAG_VALUE_LENGTH = 8000;
const MAX_EXPERIMENT_NAME_LENGTH = 500;
const MAX_EXPERIMENT_TAG_VALUE_LENGTH = 5000;
const MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000;
const MAX_ALIAS_LENGTH = 255;
const MAX_METRICS_PER_BATCH = 1000;
const MAX_PARAMS_TAGS_PER_BATCH = 100;
const MAX_ENTITIES_PER_BATCH = 1000;
const DOUBLE_MAX = 1.7976931348623157e308;
const RUN_STATUSES = [
  "RUNNING",
  "SCHEDULED",
  "FINISHED",
  "FAILED",
  "KILLED",
] as const;
const VIEW_TYPES = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] as const;
const STAGES = ["None", "Staging", "Production", "Archived"] as const;

/** `error_code` → HTTP status (`mlflow/exceptions.py`). */
const STATUS_OF: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_STATE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
};

/** Werkzeug's error pages: title and text. */
const PAGES: Record<number, [string, string]> = {
  400: [
    "Bad Request",
    "The browser (or proxy) sent a request that this server could not understand.",
  ],
  404: [
    "Not Found",
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
  ],
  405: [
    "Method Not Allowed",
    "The method is not allowed for the requested URL.",
  ],
  500: [
    "Internal Server Error",
    "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
  ],
};

const NOT_AUTHENTICATED =
  "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.";
const API_DOCS =
  " See the API docs for more information about request parameters.";
const BAD_CHARACTERS =
  "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";
const BAD_ALIAS_CHARACTERS =
  "Names may only contain alphanumerics, underscores (_), and dashes (-).";
const MPU_UNSUPPORTED =
  "Multipart upload is not supported for the current artifact repository";
const NAME_CHARS = /^[/\p{L}\p{N}\p{M}_.\- :]*$/u;
const ALIAS_CHARS = /^[\p{L}\p{N}\p{M}_-]*$/u;
const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;
const TEXT_EXTENSIONS: ReadonlySet<string> = new Set(
  ("txt log err cfg conf cnf cf ini properties prop hocon toml yaml yml xml " +
    "json js py py3 csv tsv md rst MLmodel MLproject").split(" "),
);
const MIME_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  bmp: "image/bmp",
  svg: "image/svg+xml",
  webp: "image/webp",
  tif: "image/tiff",
  tiff: "image/tiff",
  ico: "image/vnd.microsoft.icon",
  html: "text/html",
  htm: "text/html",
  css: "text/css",
  pdf: "application/pdf",
  zip: "application/zip",
  tar: "application/x-tar",
  wav: "audio/x-wav",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  avi: "video/x-msvideo",
  bin: "application/octet-stream",
};
const ADJECTIVES =
  "able bold brave calm clever eager fair gentle happy jolly kind lively merry nimble polite proud quiet sharp swift witty"
    .split(" ");
const ANIMALS =
  "ant bat bear cat crab deer dog duck eel fox frog goat hawk lark lion mole owl ram seal wolf"
    .split(" ");

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** An answer `{error_code, message}` with the code's status. */
class ApiError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

/** A non-JSON answer: an HTML error page or a text body. */
class PageError extends Error {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    body?: string,
    headers: Record<string, string> = {},
    contentType = "text/html; charset=utf-8",
  ) {
    super(body ?? `HTTP ${status}`);
    this.name = "PageError";
    this.status = status;
    this.body = body ?? htmlPage(status);
    this.headers = headers;
    this.contentType = contentType;
  }
}

function htmlPage(status: number): string {
  const [title, text] = PAGES[status] ?? PAGES[500];
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`;
}

function invalid(message: string): ApiError {
  return new ApiError("INVALID_PARAMETER_VALUE", message);
}

function notFound(message: string): ApiError {
  return new ApiError("RESOURCE_DOES_NOT_EXIST", message);
}

// ---------------------------------------------------------------------------
// Python look-alikes: repr, json.dumps, float repr, unquote, urlparse
// ---------------------------------------------------------------------------

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `text` with each control character (C0 or DEL) replaced. */
function mapControls(text: string, replace: (code: number) => string): string {
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? replace(code) : c;
  }
  return out;
}

/** Python's `repr()` of a JSON-like value. */
function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return pyFloat(value, true);
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const named: Record<string, string> = {
      "\\": "\\\\",
      "\n": "\\n",
      "\r": "\\r",
      "\t": "\\t",
    };
    const body = mapControls(
      value.replace(/[\\\n\r\t]/g, (c) => named[c]),
      (code) => `\\x${code.toString(16).padStart(2, "0")}`,
    ).replaceAll(
      quote,
      `\\${quote}`,
    );
    return `${quote}${body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  return `{${
    Object.entries(value as Json).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(", ")
  }}`;
}

/** Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))`. */
function pyJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    if (Number.isFinite(value)) return JSON.stringify(value);
    return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(",")}]`;
  const keys = Object.keys(value as Json).sort();
  return `{${
    keys.map((k) => `${pyJson(k)}:${pyJson((value as Json)[k])}`).join(",")
  }}`;
}

/** Python's type name of a JSON value. */
function pyType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") {
    return Number.isInteger(value) ? "int" : "float";
  }
  return Array.isArray(value) ? "list" : "dict";
}

/** A number as Python prints it (`1.0`, `nan`, `inf`; ints bare if `int`). */
function pyFloat(value: number, int = false): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (Number.isInteger(value) && !int && Math.abs(value) < 1e16) {
    return `${value}.0`;
  }
  return String(value);
}

const UTF8 = new TextDecoder();

/** Python's `urllib.parse.unquote` (UTF-8, invalid bytes replaced). */
function pyUnquote(text: string): string {
  if (!text.includes("%")) return text;
  return text.replace(
    /(?:%[0-9A-Fa-f]{2})+/g,
    (run) =>
      UTF8.decode(
        Uint8Array.from(run.slice(1).split("%"), (hex) => parseInt(hex, 16)),
      ),
  );
}

interface UrlParts {
  scheme: string;
  netloc: string;
  path: string;
  params: string;
  query: string;
  fragment: string;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const USES_PARAMS: ReadonlySet<string> = new Set(
  "_ ftp hdl prospero http imap https shttp rtsp rtspu sip sips mms sftp tel"
    .split(" ").map((s) => s === "_" ? "" : s),
);
const USES_NETLOC: ReadonlySet<string> = new Set(
  ("ftp http gopher nntp telnet imap wais file mms https shttp snews prospero " +
    "rtsp rtspu rsync svn svn+ssh sftp nfs git git+ssh ws wss").split(" "),
);

/** Python 3.11's `urllib.parse.urlparse`. */
function pyUrlparse(input: string): UrlParts {
  let start = 0;
  while (start < input.length && input.charCodeAt(start) <= 0x20) start++;
  let url = input.slice(start).replace(/[\t\r\n]/g, "");
  const parts: UrlParts = {
    scheme: "",
    netloc: "",
    path: "",
    params: "",
    query: "",
    fragment: "",
  };
  const colon = url.indexOf(":");
  if (colon > 0 && SCHEME.test(url.slice(0, colon))) {
    parts.scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  if (url.startsWith("//")) {
    const ends = ["/", "?", "#"].map((c) => url.indexOf(c, 2)).filter((i) =>
      i >= 0
    );
    const end = Math.min(url.length, ...ends);
    parts.netloc = url.slice(2, end);
    url = url.slice(end);
  }
  const hash = url.indexOf("#");
  if (hash >= 0) {
    [url, parts.fragment] = [url.slice(0, hash), url.slice(hash + 1)];
  }
  const question = url.indexOf("?");
  if (question >= 0) {
    [url, parts.query] = [url.slice(0, question), url.slice(question + 1)];
  }
  if (USES_PARAMS.has(parts.scheme) && url.includes(";")) {
    const slash = url.lastIndexOf("/");
    const semi = url.indexOf(";", Math.max(slash, 0));
    if (semi >= 0) {
      [url, parts.params] = [url.slice(0, semi), url.slice(semi + 1)];
    }
  }
  parts.path = url;
  return parts;
}

/** Python's `urllib.parse.urlunparse`. */
function pyUrlunparse(parts: UrlParts): string {
  let url = parts.params ? `${parts.path};${parts.params}` : parts.path;
  if (
    parts.netloc ||
    (parts.scheme && USES_NETLOC.has(parts.scheme) && !url.startsWith("//"))
  ) {
    if (url && !url.startsWith("/")) url = `/${url}`;
    url = `//${parts.netloc}${url}`;
  }
  if (parts.scheme) url = `${parts.scheme}:${url}`;
  if (parts.query) url += `?${parts.query}`;
  if (parts.fragment) url += `#${parts.fragment}`;
  return url;
}

/** `mlflow.utils.uri._decode`: unquote until stable, at most 10 times. */
function pyDecode(input: string): string {
  let url = input;
  for (let i = 0; i < 10; i++) {
    const parsed = pyUrlunparse(pyUrlparse(pyUnquote(url)));
    if (parsed === url) return url;
    url = parsed;
  }
  throw new PageError(500); // ValueError("Failed to decode url")
}

/** `validate_path_is_safe`: the decoded path, or 400 "Invalid path". */
function safePath(input: string): string {
  let path = mapControls(
    pyDecode(input),
    (code) => `%${code.toString(16).padStart(2, "0")}`,
  );
  const error = invalid("Invalid path");
  if (path.includes("#")) throw error;
  const parts = pyUrlparse(path);
  if (parts.scheme === "file") path = pyUnquote(parts.path);
  if (
    path.includes("\\") || path.split("/").includes("..") ||
    path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)
  ) {
    throw error;
  }
  return path;
}

/** Python's `posixpath.normpath`. */
function normpath(path: string): string {
  if (path === "") return ".";
  let slashes = path.startsWith("/") ? 1 : 0;
  if (path.startsWith("//") && !path.startsWith("///")) slashes = 2;
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (
      part !== ".." || (!slashes && out.length === 0) || out.at(-1) === ".."
    ) {
      out.push(part);
    } else if (out.length > 0) {
      out.pop();
    }
  }
  return "/".repeat(slashes) + out.join("/") || ".";
}

/** The content type the server guesses from a file name. */
function mimeType(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot + 1) : name;
  if (TEXT_EXTENSIONS.has(extension)) return "text/plain";
  return MIME_TYPES[extension.toLowerCase()] ?? "application/octet-stream";
}

/** Werkzeug's `Content-Disposition: attachment; filename=...`. */
function attachment(name: string): string {
  const token = (value: string): string =>
    /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)
      ? value
      : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const ascii = (text: string): string =>
    [...text].filter((c) => c.charCodeAt(0) < 0x80).join("");
  if (ascii(name) === name) return `attachment; filename=${token(name)}`;
  const simple = ascii(name.normalize("NFKD"));
  const quoted = [...new TextEncoder().encode(name)].map((byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9_.~!#$&+^`|-]/.test(c)
      ? c
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
  return `attachment; filename=${token(simple)}; filename*=UTF-8''${quoted}`;
}

/** `SearchUtils.create_page_token`. */
function pageToken(offset: number): string {
  return Buffer.from(`{"offset": ${offset}}`).toString("base64");
}

/** `SearchUtils.parse_start_offset_from_page_token`. */
function pageOffset(token: unknown): number {
  if (typeof token !== "string" || token === "") return 0;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token) || token.length % 4 !== 0) {
    throw invalid("Invalid page token, could not base64-decode");
  }
  const decoded = Buffer.from(token, "base64").toString("latin1");
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    throw invalid(`Invalid page token, decoded value=b${pyRepr(decoded)}`);
  }
  const offset = isObject(parsed) ? parsed.offset : undefined;
  if (!offset) {
    throw invalid(`Invalid page token, parsed value=${pyRepr(parsed)}`);
  }
  return Number(offset);
}

/** MLflow 3's `invalid_value(path, value, message)`. */
function invalidValue(path: string, value: unknown, message?: string): string {
  return message === undefined
    ? `Invalid value ${pyJson(value)} for parameter '${path}' supplied.`
    : `Invalid value ${
      pyJson(value)
    } for parameter '${path}' supplied: ${message}`;
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** `_validate_length_limit`: the value (maybe truncated), or an error. */
function lengthLimit(
  entity: string,
  limit: number,
  value: string,
  truncate = false,
): string {
  if (value.length <= limit) return value;
  if (truncate) return value.slice(0, limit);
  throw invalid(
    `${entity} '${
      value.slice(0, 250)
    }' had length ${value.length}, which exceeded length limit of ${limit}`,
  );
}

/** `_validate_metric_name` / `_validate_param_name` / `_validate_tag_name`. */
function checkName(name: string, path: string): void {
  if (!NAME_CHARS.test(name)) {
    throw invalid(invalidValue(path, name, BAD_CHARACTERS));
  }
  const norm = normpath(name);
  if (
    norm !== name || norm === "." || norm.startsWith("..") ||
    norm.startsWith("/")
  ) {
    throw invalid(invalidValue(
      path,
      name,
      `Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`,
    ));
  }
}

// ---------------------------------------------------------------------------
// Protobuf-style request parsing and schema checks
// ---------------------------------------------------------------------------

type Scalar = "string" | "int" | "double" | "bool";
type Field =
  | Scalar
  | { enum: readonly string[] }
  | { message: Spec }
  | { repeated: Scalar | { message: Spec } };
interface Spec {
  [field: string]: Field;
}

/** Thrown where protobuf's `ParseDict` would raise `ParseError`. */
class ParseStop extends Error {}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fieldOf(spec: Spec, name: string): [string, Field] | undefined {
  if (Object.hasOwn(spec, name)) return [name, spec[name]];
  const match = Object.keys(spec).find((field) => camel(field) === name);
  return match === undefined ? undefined : [match, spec[match]];
}

function convert(value: unknown, type: Field): unknown {
  if (typeof type === "object" && "enum" in type) {
    if (typeof value === "string" && type.enum.includes(value)) return value;
    const number = typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)
      ? Number(value)
      : value;
    if (
      typeof number === "number" && Number.isInteger(number) && number >= 1 &&
      number <= type.enum.length
    ) {
      return type.enum[number - 1];
    }
    throw new ParseStop();
  }
  switch (type) {
    case "string":
      if (typeof value === "string") return value;
      throw new ParseStop();
    case "bool":
      if (typeof value === "boolean") return value;
      throw new ParseStop();
    case "int":
      if (typeof value === "number" && Number.isInteger(value)) return value;
      if (
        typeof value === "string" && !value.includes(" ") &&
        /^\s*[+-]?\d+\s*$/.test(value)
      ) {
        return Number(value);
      }
      throw new ParseStop();
    case "double": {
      if (typeof value === "number") {
        if (Number.isFinite(value)) return value;
        throw new ParseStop(); // 1e400 parses as inf: "use quoted Infinity"
      }
      if (typeof value === "boolean") return value ? 1 : 0;
      const parsed = typeof value === "string" && value !== "nan"
        ? pyParseFloat(value)
        : undefined;
      if (parsed === undefined) throw new ParseStop();
      return parsed;
    }
  }
  throw new ParseStop();
}

/** Python's `float(text)`, or `undefined`. */
function pyParseFloat(text: string): number | undefined {
  const value = text.trim().replaceAll("_", "");
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(value);
  if (special !== null) {
    if (special[2].toLowerCase() === "nan") return NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)
    ? Number(value)
    : undefined;
}

function fill(json: Json, spec: Spec, out: Json): void {
  for (const [name, value] of Object.entries(json)) {
    const found = fieldOf(spec, name);
    if (found === undefined || value === null) continue;
    const [field, type] = found;
    if (typeof type === "object" && "repeated" in type) {
      if (!Array.isArray(value)) throw new ParseStop();
      const list: unknown[] = [];
      out[field] = list;
      for (const item of value) {
        const itemType = type.repeated;
        if (typeof itemType === "object") {
          if (!isObject(item)) throw new ParseStop();
          const sub: Json = {};
          list.push(sub);
          fill(item, itemType.message, sub);
        } else {
          list.push(convert(item, itemType));
        }
      }
    } else if (typeof type === "object" && "message" in type) {
      if (!isObject(value)) throw new ParseStop();
      const sub: Json = {};
      out[field] = sub;
      fill(value, type.message, sub);
    } else {
      out[field] = convert(value, type);
    }
  }
}

/** `ParseDict(json, message, ignore_unknown_fields=True)`, stopping at an error. */
function parseMessage(json: Json, spec: Spec): { message: Json; ok: boolean } {
  const message: Json = {};
  try {
    fill(json, spec, message);
    return { message, ok: true };
  } catch (error) {
    if (error instanceof ParseStop) return { message, ok: false };
    throw error;
  }
}

interface Rule {
  /** Type checks are skipped when protobuf parsing succeeded. */
  kind: "required" | "type" | "other";
  /** `true` when valid; a string is the whole error message. */
  check: (value: unknown) => boolean | string;
}
type Schema = Record<string, Rule[]>;

const REQUIRED: Rule = {
  kind: "required",
  check: (v) => v !== undefined && v !== null && v !== "",
};
const STRING: Rule = { kind: "type", check: (v) => typeof v === "string" };
const INTLIKE: Rule = {
  kind: "type",
  check: (v) =>
    typeof v === "number" || typeof v === "boolean" ||
    (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)),
};
const FLOATLIKE: Rule = {
  kind: "type",
  check: (v) =>
    typeof v === "number" || typeof v === "boolean" ||
    (typeof v === "string" && pyParseFloat(v) !== undefined),
};
const ARRAY: Rule = { kind: "type", check: (v) => Array.isArray(v) };
const BOOL: Rule = { kind: "type", check: (v) => typeof v === "boolean" };
const STRINGS: Rule = {
  kind: "type",
  check: (v) => Array.isArray(v) && v.every((i) => typeof i === "string"),
};

function atMost(limit: number): Rule {
  return { kind: "other", check: (v) => Number(v) <= limit };
}

/** `_assert_required(item.get(field), path=...)` for each item of a list. */
function itemsHave(list: string, fields: string[]): Rule {
  return {
    kind: "other",
    check: (items) => {
      if (!Array.isArray(items)) return true;
      for (const [index, item] of items.entries()) {
        for (const field of fields) {
          const value = isObject(item) ? item[field] : undefined;
          if (value === undefined || value === null || value === "") {
            return `Missing value for required parameter '${list}[${index}].${field}'.`;
          }
        }
      }
      return true;
    },
  };
}

/** `_validate_request_json_with_schema`. */
function checkSchema(json: Json, schema: Schema, parsed: boolean): void {
  for (const [key, rules] of Object.entries(schema)) {
    if (!(key in json) && !rules.includes(REQUIRED)) continue;
    let value = json[key];
    if (key === "run_id" && (value === undefined || value === null)) {
      value = json.run_uuid;
    }
    for (const rule of rules) {
      if (rule.kind === "type" && parsed) continue;
      const result = rule.check(value);
      if (result === true) continue;
      const message = typeof result === "string"
        ? result
        : rule.kind === "required"
        ? `Missing value for required parameter '${key}'.`
        : invalidValue(
          key,
          value,
          ` Hint: Value was of type '${pyType(value)}'.`,
        );
      throw invalid(`${message}${API_DOCS}`);
    }
  }
}

// Request messages (the fields this fake reads, from `service.proto` & co).
const KEY_VALUE: Spec = { key: "string", value: "string" };
const TAGS = { repeated: { message: KEY_VALUE } } as const;
const RUN_REF: Spec = { run_id: "string", run_uuid: "string" };
const METRIC: Spec = {
  key: "string",
  value: "double",
  timestamp: "int",
  step: "int",
  model_id: "string",
  dataset_name: "string",
  dataset_digest: "string",
  run_id: "string",
};
const SEARCH: Spec = {
  filter: "string",
  max_results: "int",
  order_by: { repeated: "string" },
  page_token: "string",
};
const MODEL_VERSION_REF: Spec = { name: "string", version: "string" };
const DATASET_INPUT: Spec = {
  tags: TAGS,
  dataset: {
    message: {
      name: "string",
      digest: "string",
      source_type: "string",
      source: "string",
      schema: "string",
      profile: "string",
    },
  },
};

// ---------------------------------------------------------------------------
// Search filters
// ---------------------------------------------------------------------------

interface Clause {
  type: string;
  key: string;
  op: string;
  value: string | number | (string | number)[];
}

interface Token {
  kind: "word" | "str" | "num" | "op" | "punct";
  text: string;
}

function tokenize(text: string, what: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s+|'((?:[^']|'')*)'|"((?:[^"]|"")*)"|`([^`]*)`|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])|(<=|>=|!=|<>|=|<|>)|([(),])|([A-Za-z_][\w.:/-]*)/y;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (match === null) throw invalid(`Invalid ${what} '${text}'`);
    index = pattern.lastIndex;
    const [all, single, double, tick, num, op, punct, word] = match;
    const previous = tokens.at(-1);
    const quoted = tick ?? double;
    if (
      quoted !== undefined && previous?.kind === "word" &&
      previous.text.endsWith(".")
    ) {
      previous.text += quoted; // tags.`key` or tags."key"
    } else if (tick !== undefined) {
      tokens.push({ kind: "word", text: tick });
    } else if (single !== undefined || double !== undefined) {
      tokens.push({
        kind: "str",
        text: (single ?? double).replace(/''/g, "'"),
      });
    } else if (num !== undefined) tokens.push({ kind: "num", text: num });
    else if (op !== undefined) tokens.push({ kind: "op", text: op });
    else if (punct !== undefined) tokens.push({ kind: "punct", text: punct });
    else if (word !== undefined) tokens.push({ kind: "word", text: word });
    else if (all.trim() !== "") throw invalid(`Invalid ${what} '${text}'`);
  }
  return tokens;
}

const ENTITY_TYPES: Record<string, string> = {
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
};

function identifier(
  text: string,
  what: string,
  source: string,
): [string, string] {
  const dot = text.indexOf(".");
  if (dot < 0) return ["attribute", text];
  const type = ENTITY_TYPES[text.slice(0, dot).toLowerCase()];
  const key = text.slice(dot + 1);
  if (type === undefined || key === "") {
    throw invalid(`Invalid ${what} '${source}': unknown entity '${text}'`);
  }
  return [type, key];
}

/** Parses `a = 'x' AND tags.b LIKE 'y%' AND metrics.m > 1`. */
function parseFilter(filter: string): Clause[] {
  if (filter.trim() === "") return [];
  const tokens = tokenize(filter, "filter string");
  const clauses: Clause[] = [];
  let i = 0;
  const fail = (): never => {
    throw invalid(`Invalid filter string '${filter}'`);
  };
  const literal = (token: Token | undefined): string | number => {
    if (token?.kind === "str") return token.text;
    if (token?.kind === "num") return Number(token.text);
    return fail();
  };
  for (;;) {
    const name = tokens[i++];
    if (name?.kind !== "word") fail();
    const [type, key] = identifier(name.text, "filter string", filter);
    let op = tokens[i++]?.text.toUpperCase() ?? fail();
    if (op === "NOT" && tokens[i]?.text.toUpperCase() === "IN") {
      i++;
      op = "NOT IN";
    }
    if (
      !["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]
        .includes(op)
    ) {
      fail();
    }
    let value: Clause["value"];
    if (op.endsWith("IN")) {
      if (tokens[i++]?.text !== "(") fail();
      value = [];
      for (;;) {
        value.push(literal(tokens[i++]));
        const next = tokens[i++]?.text;
        if (next === ")") break;
        if (next !== ",") fail();
      }
    } else {
      value = literal(tokens[i++]);
    }
    clauses.push({ type, key, op, value });
    if (i >= tokens.length) return clauses;
    if (tokens[i++].text.toUpperCase() !== "AND") fail();
  }
}

function likeToRegExp(pattern: string, flags: string): RegExp {
  const body = pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(
    /%/g,
    ".*",
  ).replace(/_/g, ".");
  return new RegExp(`^${body}$`, `s${flags}`);
}

/** Whether `actual` satisfies a clause (`undefined` never does). */
function matches(actual: string | number | undefined, clause: Clause): boolean {
  if (actual === undefined) return false;
  const { op, value } = clause;
  if (op === "IN" || op === "NOT IN") {
    const found = (value as (string | number)[]).some((v) =>
      String(v) === String(actual)
    );
    return op === "IN" ? found : !found;
  }
  if (op === "LIKE" || op === "ILIKE") {
    return likeToRegExp(String(value), op === "ILIKE" ? "i" : "").test(
      String(actual),
    );
  }
  const [a, b] = typeof actual === "number"
    ? [actual, Number(value)]
    : [actual, String(value)];
  switch (op) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    default:
      return a >= b;
  }
}

interface Order {
  type: string;
  key: string;
  descending: boolean;
}

function parseOrderBy(clauses: string[]): Order[] {
  return clauses.map((clause) => {
    const match = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(clause);
    if (match === null) throw invalid(`Invalid order_by clause '${clause}'`);
    const tokens = tokenize(match[1], "order_by clause");
    if (tokens.length !== 1 || tokens[0].kind !== "word") {
      throw invalid(`Invalid order_by clause '${clause}'`);
    }
    const [type, key] = identifier(tokens[0].text, "order_by clause", clause);
    return { type, key, descending: match[2]?.toUpperCase() === "DESC" };
  });
}

/** Compares two sort keys; `undefined` sorts last either way. */
function compareKeys(
  a: string | number | undefined,
  b: string | number | undefined,
  descending: boolean,
): number {
  if (a === undefined || b === undefined) {
    return a === b ? 0 : a === undefined ? 1 : -1;
  }
  const order = a < b ? -1 : a > b ? 1 : 0;
  return descending ? -order : order;
}

/** Sorts `items` in place by `orders` (missing keys last). */
function sortBy<T>(
  items: T[],
  orders: Order[],
  value: (item: T, type: string, key: string) => string | number | undefined,
): void {
  items.sort((a, b) => {
    for (const order of orders) {
      const result = compareKeys(
        value(a, order.type, order.key),
        value(b, order.type, order.key),
        order.descending,
      );
      if (result !== 0) return result;
    }
    return 0;
  });
}

// ---------------------------------------------------------------------------
// Stored state
// ---------------------------------------------------------------------------

interface Point {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

interface ExperimentState {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: string;
  creationTime: number;
  lastUpdateTime: number;
  tags: Map<string, string>;
}

interface RunState {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: string;
  startTime: number;
  endTime: number | null;
  lifecycleStage: string;
  artifactUri: string;
  metrics: Point[];
  latest: Map<string, Point>;
  params: Map<string, string>;
  tags: Map<string, string>;
  datasets: Json[];
  modelInputs: Json[];
  modelOutputs: Json[];
}

interface VersionState {
  version: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  currentStage: string;
  description: string;
  source: string;
  runId: string;
  runLink: string;
  tags: Map<string, string>;
}

interface ModelState {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  description: string;
  tags: Map<string, string>;
  aliases: Map<string, string>;
  versions: VersionState[];
  nextVersion: number;
}

function tagList(tags: Map<string, string>): Json[] {
  return [...tags].map(([key, value]) => ({ key, value }));
}

/** Adds `list` under `key` unless it is empty (proto3 JSON omits it). */
function withList(target: Json, key: string, list: unknown[]): Json {
  if (list.length > 0) target[key] = list;
  return target;
}

function metricJson(point: Point): Json {
  return {
    key: point.key,
    value: Number.isNaN(point.value) ? "NaN" : point.value,
    timestamp: point.timestamp,
    step: point.step,
  };
}

function hex32(): string {
  return randomBytes(16).toString("hex");
}

function randomRunName(): string {
  const pick = (words: string[]): string =>
    words[randomBytes(1)[0] % words.length];
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${
    randomBytes(2).readUInt16BE() % 1000
  }`;
}

/** Whether a Host header names this machine or a private network. */
function allowedHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.startsWith("[")
    ? host.slice(1, host.indexOf("]"))
    : host.replace(/:\d*$/, "");
  if (name === "localhost" || name.endsWith(".localhost") || name === "::1") {
    return true;
  }
  const octets = name.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) {
    return false;
  }
  const [a, b] = octets;
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 169 && b === 254) || a === 0;
}

function allowedOrigin(origin: string): boolean {
  try {
    const { hostname } = new URL(origin);
    return ["localhost", "127.0.0.1", "[::1]"].includes(hostname);
  } catch {
    return false;
  }
}

/** Python's `posixpath.join(a, b)`. */
function posixJoin(a: string, b: string): string {
  if (b.startsWith("/") || a === "") return b;
  return a.endsWith("/") ? `${a}${b}` : `${a}/${b}`;
}

/** The artifact-store path of a `mlflow-artifacts:` URI, or `undefined`. */
function proxiedPath(uri: string): string | undefined {
  const parts = pyUrlparse(uri);
  return parts.scheme === "mlflow-artifacts"
    ? parts.path.replace(/^\/+/, "")
    : undefined;
}

/** `is_local_uri`: a path or `file:` URI on this host. */
function isLocalUri(uri: string): boolean {
  if (uri === "databricks") return false;
  const parts = pyUrlparse(uri);
  const host = parts.netloc.replace(/^.*@/, "").replace(/:\d*$/, "")
    .toLowerCase();
  if (
    host !== "" &&
    !(host === "." || host.startsWith("localhost") ||
      host.startsWith("127.0.0.1"))
  ) {
    return false;
  }
  return parts.scheme === "" || parts.scheme === "file";
}

/** `_validate_non_local_source_contains_relative_paths`. */
function checkRemoteSource(source: string): void {
  let text = source;
  for (;;) {
    const unquoted = pyUnquote(text.replaceAll("+", " "));
    if (unquoted === text) break;
    text = unquoted;
  }
  const path = pyUrlparse(text).path.replace(/\/+$/, "").replace(/\/+/g, "/");
  if (
    path.includes("\0") || text.split("/").includes("..") ||
    !path.startsWith("/") || normpath(path) !== path
  ) {
    throw invalid(
      `Invalid model version source: '${text}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.`,
    );
  }
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value as Json[] : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value as string[] : [];
}

function keyValues(value: unknown): [string, string][] {
  return list(value).map((tag) => [str(tag.key), str(tag.value)]);
}

function ok(json: Json = {}): Reply {
  return { status: 200, json };
}

/** `_validate_batch_limit`. */
function batchLimit(entity: string, limit: number, length: number): void {
  if (length > limit) {
    throw invalid(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

/** `_validate_metric` on a parsed metric; the point to store. */
function metricPoint(metric: Json, path: string): Point {
  const key = str(metric.key);
  checkName(key, joinPath(path, "name"));
  const value = typeof metric.value === "number" ? metric.value : 0;
  const timestamp = typeof metric.timestamp === "number" ? metric.timestamp : 0;
  if (timestamp < 0) {
    throw invalid(invalidValue(
      joinPath(path, "timestamp"),
      timestamp,
      `metric '${key}' (value=${
        pyFloat(value)
      }). Timestamp must be a nonnegative long (64-bit integer) `,
    ));
  }
  const step = typeof metric.step === "number" ? metric.step : 0;
  lengthLimit("Metric name", MAX_KEY_LENGTH, key);
  const stored = Number.isNaN(value)
    ? NaN
    : Math.max(-DOUBLE_MAX, Math.min(DOUBLE_MAX, value));
  return { key, value: stored, timestamp, step };
}

/** `_validate_param`: key and (truncated) value. */
function paramOf(param: Json, path: string): [string, string] {
  const key = str(param.key);
  checkName(key, joinPath(path, "key"));
  lengthLimit("Param key", MAX_KEY_LENGTH, key);
  const value = lengthLimit(
    "Param value",
    MAX_PARAM_VALUE_LENGTH,
    str(param.value),
    true,
  );
  return [key, value];
}

/** `_validate_tag`: key and (truncated) value. */
function tagOf(tag: Json, path: string): [string, string] {
  const key = str(tag.key);
  checkName(key, joinPath(path, "key"));
  lengthLimit("Tag key", MAX_KEY_LENGTH, key);
  return [
    key,
    lengthLimit("Tag value", MAX_TAG_VALUE_LENGTH, str(tag.value), true),
  ];
}

/** Registry tags (`_validate_registered_model_tag` and the version one). */
function registryTag(tag: Json, entity: string): [string, string] {
  const key = str(tag.key);
  checkName(key, "key");
  lengthLimit(`${entity} key`, MAX_KEY_LENGTH, key);
  const value = str(tag.value);
  lengthLimit(`${entity} value`, MAX_REGISTRY_TAG_VALUE_LENGTH, value);
  return [key, value];
}

function checkAlias(alias: string): void {
  if (alias === "") {
    throw invalid("Registered model alias name cannot be empty.");
  }
  if (!ALIAS_CHARS.test(alias)) {
    throw invalid(`Invalid alias name: '${alias}'. ${BAD_ALIAS_CHARACTERS}`);
  }
  lengthLimit("Registered model alias name", MAX_ALIAS_LENGTH, alias);
  if (alias.toLowerCase() === "latest") {
    throw invalid("'latest' alias name (case insensitive) is reserved.");
  }
  if (/^[vV]\d+$/.test(alias)) {
    throw invalid(`Version alias name '${alias}' is reserved.`);
  }
}

function canonicalStage(stage: string): string {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (found === undefined) {
    throw invalid(
      `Invalid Model Version stage: ${stage}. Value must be one of ${
        STAGES.join(", ")
      }.`,
    );
  }
  return found;
}

function inView(stage: string, view: unknown): boolean {
  if (view === "ALL") return true;
  return view === "DELETED_ONLY" ? stage === "deleted" : stage === "active";
}

/** The items after `page_token`, `max_results` of them, and the next token. */
function paged<T>(
  items: T[],
  token: unknown,
  maxResults: number,
): { page: T[]; next?: string } {
  const offset = pageOffset(token);
  const end = offset + maxResults;
  return {
    page: items.slice(offset, end),
    next: items.length > end ? pageToken(end) : undefined,
  };
}

function stringifyExperimentIds(json: Json): void {
  if (typeof json.experiment_id === "number") {
    json.experiment_id = String(json.experiment_id);
  }
  if (Array.isArray(json.experiment_ids)) {
    json.experiment_ids = json.experiment_ids.map((id) =>
      typeof id === "number" ? String(id) : id
    );
  }
}

function contentTypeGate(headers: Record<string, string>): void {
  const type = headers["content-type"];
  if (type === undefined) {
    throw invalid("Bad Request. Content-Type header is missing.");
  }
  if (type.split(";")[0] !== "application/json") {
    throw invalid(
      "Bad Request. Content-Type must be one of ['application/json'].",
    );
  }
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

interface Context {
  record: RecordedRequest;
  /** The method, HEAD served as GET. */
  method: string;
  /** The body; empty when it came chunked without a length. */
  body: Uint8Array;
  query: URLSearchParams;
  /** The `<path>` part of an artifact route (decoded once, by the router). */
  rest: string;
}

interface Reply {
  status: number;
  json?: unknown;
  bytes?: Uint8Array;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Stream the bytes without a `Content-Length`, as the artifact GET does. */
  chunked?: boolean;
}

type Handler = (context: Context) => Reply;

/** The faults FakeMlflow answers itself (hangs and resets are the server's). */
type AnsweredFault = Fault<"throttle" | "fail" | "deny">;

/** The route key of a decoded path and its `<path>` part. */
function routeOf(path: string): [string | undefined, string] {
  if (path === "/get-artifact") return ["get-artifact", ""];
  const prefix = ["/api/2.0/", "/ajax-api/2.0/"].find((p) =>
    path.startsWith(p)
  );
  if (prefix === undefined) return [undefined, ""];
  const rest = path.slice(prefix.length);
  const file = /^mlflow-artifacts\/artifacts\/([^/].*)$/s.exec(rest);
  if (file !== null) return ["proxy:file", file[1]];
  const mpu = /^mlflow-artifacts\/mpu\/(create|complete|abort)\/([^/].*)$/s
    .exec(rest);
  if (mpu !== null) return [`proxy:mpu/${mpu[1]}`, mpu[2]];
  if (rest === "mlflow-artifacts/artifacts") return ["proxy:list", ""];
  if (rest.startsWith("mlflow/")) return [rest.slice("mlflow/".length), ""];
  return [undefined, ""];
}

function errorCodeFor(status: number): string {
  const codes: Record<number, string> = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
  };
  return codes[status] ??
    (status >= 500 ? "TEMPORARILY_UNAVAILABLE" : "BAD_REQUEST");
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/**
 * A fake MLflow tracking server on 127.0.0.1; {@linkcode FakeMlflow.url} is
 * the tracking URI.
 *
 * @example Start, create an experiment, close
 * ```ts
 * const fake = await FakeMlflow.start();
 * const response = await fetch(`${fake.url}/api/2.0/mlflow/experiments/create`, {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ name: "demo" }),
 * });
 * const { experiment_id } = await response.json(); // "1"
 * fake.experimentByName("demo"); // the stored experiment
 * await fake.close();
 * ```
 */
export class FakeMlflow {
  /** The tracking URI, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /**
   * Artifact PUTs that came chunked without a `Content-Length`: stored as 0
   * bytes (answered 200), as by the real server. `path` is the store path.
   */
  readonly chunkedUploads: { path: string; receivedBytes: number }[] = [];
  /** The artifact root named in "missing artifact" messages. */
  readonly artifactRoot: string = ARTIFACT_ROOT;

  #server: LoopbackServer<AnsweredFault["kind"]>;
  #auth: FakeMlflowOptions["auth"];
  #routes: Map<string, Record<string, Handler>>;
  #experiments: Map<string, ExperimentState> = new Map();
  #nextExperimentId = 1;
  #runs: Map<string, RunState> = new Map();
  #files: Map<string, Uint8Array> = new Map();
  #models: Map<string, ModelState> = new Map();

  private constructor(
    server: LoopbackServer<AnsweredFault["kind"]>,
    options: FakeMlflowOptions,
  ) {
    this.#server = server;
    this.url = server.url;
    this.#auth = options.auth;
    this.#routes = this.#buildRoutes();
    const now = Date.now();
    this.#experiments.set("0", {
      experimentId: "0",
      name: "Default",
      artifactLocation: "mlflow-artifacts:/0",
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(),
    });
    server.onRequest((request, response) => this.#onRequest(request, response));
  }

  /**
   * Starts a fake on 127.0.0.1 with a random port.
   *
   * @param options Optional auth.
   * @returns The listening fake.
   * @throws {TypeError} When `auth` has an empty username, password or token.
   */
  static async start(options: FakeMlflowOptions = {}): Promise<FakeMlflow> {
    const { auth } = options;
    if (
      auth !== undefined &&
      ("token" in auth ? !auth.token : !auth.username || !auth.password)
    ) {
      throw new TypeError(
        "Cannot start the fake MLflow server: 'auth' needs a non-empty token, or a username and password",
      );
    }
    return new FakeMlflow(await LoopbackServer.start("MLflow"), options);
  }

  // ------------------------------------------------------------- faults

  /**
   * Answers the next matching requests with 429, a `Retry-After` header and
   * `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":...}`.
   *
   * @param options Which requests, how many, and `retryAfterS` (default 1).
   */
  throttle(options: FaultOptions & { retryAfterS?: number } = {}): void {
    this.#server.addFault("throttle", options, 429, options.retryAfterS ?? 1);
  }

  /**
   * Answers the next matching requests with an error status and
   * `{error_code, message}`: 503 `TEMPORARILY_UNAVAILABLE` by default, 500
   * `INTERNAL_ERROR`, ...; nothing is stored.
   *
   * @param options Which requests, how many, and `status` (default 503).
   * @throws {RangeError} When `status` is not 400-599.
   */
  fail(options: FaultOptions & { status?: number } = {}): void {
    this.#server.addFault("fail", options, failStatus(options.status ?? 503));
  }

  /**
   * Answers the next matching requests with basic-auth's 403 "Permission
   * denied" text (a user without permission on the resource).
   *
   * @param options Which requests and how many.
   */
  deny(options: FaultOptions = {}): void {
    this.#server.addFault("deny", options, 403);
  }

  /**
   * Reads the next matching requests and never answers them (until the
   * client gives up or {@linkcode FakeMlflow.close} runs).
   *
   * @param options Which requests and how many.
   */
  hang(options: FaultOptions = {}): void {
    this.#server.addFault("hang", options);
  }

  /**
   * Destroys the socket of the next matching requests after reading them
   * (the client sees a network error).
   *
   * @param options Which requests and how many.
   */
  reset(options: FaultOptions = {}): void {
    this.#server.addFault("reset", options);
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

  #faultReply(fault: AnsweredFault): Reply {
    if (fault.kind === "deny") {
      return {
        status: 403,
        text: "Permission denied",
        contentType: "text/html; charset=utf-8",
      };
    }
    if (fault.kind === "throttle") {
      return {
        status: 429,
        json: {
          error_code: "REQUEST_LIMIT_EXCEEDED",
          message: "Too many requests: injected throttling, retry later",
        },
        headers: { "retry-after": String(fault.retryAfterS) },
      };
    }
    return {
      status: fault.status,
      json: {
        error_code: errorCodeFor(fault.status),
        message: `Injected failure: HTTP ${fault.status}`,
      },
    };
  }

  // ------------------------------------------------------------- state

  /**
   * Every experiment, Default (`"0"`) first, in creation order.
   *
   * @returns Snapshots of the experiments.
   */
  experiments(): FakeExperiment[] {
    return [...this.#experiments.values()].map((e) => ({
      experimentId: e.experimentId,
      name: e.name,
      lifecycleStage: e.lifecycleStage,
      tags: Object.fromEntries(e.tags),
    }));
  }

  /**
   * One experiment by name, deleted ones included.
   *
   * @param name The experiment name.
   * @returns A snapshot, or `undefined`.
   */
  experimentByName(name: string): FakeExperiment | undefined {
    return this.experiments().find((e) => e.name === name);
  }

  /**
   * Every run, in creation order.
   *
   * @returns Snapshots of the runs.
   */
  runs(): FakeRun[] {
    return [...this.#runs.values()].map((run) => ({
      runId: run.runId,
      experimentId: run.experimentId,
      runName: run.runName,
      status: run.status,
      startTime: run.startTime,
      endTime: run.endTime,
      lifecycleStage: run.lifecycleStage,
      artifactUri: run.artifactUri,
      metrics: run.metrics.map((p) => ({
        key: p.key,
        value: Number.isNaN(p.value) ? "NaN" : p.value,
        timestamp: p.timestamp,
        step: p.step,
      })),
      params: Object.fromEntries(run.params),
      tags: Object.fromEntries(run.tags),
    }));
  }

  /**
   * One run.
   *
   * @param runId The run id.
   * @returns A snapshot, or `undefined`.
   */
  run(runId: string): FakeRun | undefined {
    return this.runs().find((run) => run.runId === runId);
  }

  /**
   * A stored artifact file by its store path (`<exp>/<run>/artifacts/<rel>`,
   * the name as the server decoded it).
   *
   * @param path The store path.
   * @returns A copy of the bytes, or `undefined`.
   */
  artifact(path: string): Uint8Array | undefined {
    const bytes = this.#files.get(normpath(path));
    return bytes === undefined ? undefined : new Uint8Array(bytes);
  }

  /**
   * Every stored artifact file path, sorted.
   *
   * @param prefix Only paths starting with this.
   * @returns The store paths.
   */
  artifactPaths(prefix = ""): string[] {
    return [...this.#files.keys()].filter((p) => p.startsWith(prefix)).sort();
  }

  /**
   * Every registered model, in creation order.
   *
   * @returns Names, tags and aliases (alias → version).
   */
  registeredModels(): {
    name: string;
    tags: Record<string, string>;
    aliases: Record<string, string>;
  }[] {
    return [...this.#models.values()].map((m) => ({
      name: m.name,
      tags: Object.fromEntries(m.tags),
      aliases: Object.fromEntries(m.aliases),
    }));
  }

  /**
   * The versions of a registered model, oldest first (deleted ones left out).
   *
   * @param name The registered model name.
   * @returns Snapshots; empty when the model does not exist.
   */
  modelVersions(name: string): FakeModelVersion[] {
    return (this.#models.get(name)?.versions ?? []).map((v) => ({
      name,
      version: v.version,
      source: v.source,
      runId: v.runId,
      tags: Object.fromEntries(v.tags),
      description: v.description,
    }));
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
    const target = request.url ?? "/";
    const question = target.indexOf("?");
    const path = question < 0 ? target : target.slice(0, question);
    const search = new URLSearchParams(
      question < 0 ? "" : target.slice(question + 1),
    );
    const headers = headersOf(request);
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(search.keys())) {
      const values = search.getAll(name);
      query[name] = values.length === 1 ? values[0] : values;
    }
    const record: RecordedRequest = {
      method: request.method ?? "GET",
      path,
      query,
      headers,
      bodyBytes: 0,
      chunked: /chunked/i.test(headers["transfer-encoding"] ?? "") &&
        headers["content-length"] === undefined,
      status: 0,
    };
    this.requests.push(record);
    this.#server.serve(request, response, {
      method: record.method,
      path,
      received: (raw) => {
        record.bodyBytes = raw.byteLength;
        if (
          (headers["content-type"] ?? "").split(";")[0].trim()
            .toLowerCase() === "application/json"
        ) {
          try {
            record.json = JSON.parse(new TextDecoder().decode(raw));
          } catch {
            // Not JSON: the endpoint's own reading decides what happens.
          }
        }
      },
      answer: (raw, fault) => {
        let reply: Reply;
        if (fault !== undefined) {
          reply = this.#faultReply(fault);
        } else {
          try {
            reply = this.#handle({
              record,
              method: record.method === "HEAD" ? "GET" : record.method,
              body: record.chunked ? new Uint8Array(0) : raw,
              query: search,
              rest: "",
            });
          } catch (error) {
            reply = errorReply(error);
          }
        }
        this.#send(response, record, reply);
      },
    });
  }

  #send(response: ServerResponse, record: RecordedRequest, reply: Reply): void {
    record.status = reply.status;
    let body: Uint8Array;
    let contentType: string;
    if (reply.bytes !== undefined) {
      body = reply.bytes;
      contentType = reply.contentType ?? "application/octet-stream";
    } else if (reply.text !== undefined) {
      body = new TextEncoder().encode(reply.text);
      contentType = reply.contentType ?? "text/plain; charset=utf-8";
    } else {
      body = new TextEncoder().encode(JSON.stringify(reply.json ?? {}));
      contentType = "application/json";
    }
    response.writeHead(reply.status, {
      ...(this.#server.resetPending ? { connection: "close" } : {}),
      "content-type": contentType,
      ...(reply.chunked ? {} : { "content-length": String(body.byteLength) }),
      ...reply.headers,
    });
    if (reply.chunked && body.byteLength > 0) response.write(body);
    response.end(reply.chunked ? undefined : body);
  }

  #handle(context: Context): Reply {
    const { record } = context;
    const { headers } = record;
    if (!allowedHost(headers.host)) {
      throw new PageError(
        403,
        "Invalid Host header - possible DNS rebinding attack detected",
        {},
        "text/plain; charset=utf-8",
      );
    }
    if (
      ["POST", "PUT", "PATCH", "DELETE"].includes(record.method) &&
      headers.origin !== undefined && !allowedOrigin(headers.origin)
    ) {
      throw new PageError(
        403,
        "Cross-origin request blocked",
        {},
        "text/plain; charset=utf-8",
      );
    }
    const path = pyUnquote(record.path);
    if (path === "/health" || path === "/version") {
      if (context.method !== "GET") throw new PageError(405);
      return {
        status: 200,
        text: path === "/health" ? "OK" : VERSION,
        contentType: "text/html; charset=utf-8",
      };
    }
    this.#checkAuth(headers);
    const [key, rest] = routeOf(path);
    const handlers = key === undefined ? undefined : this.#routes.get(key);
    if (handlers === undefined) throw new PageError(404);
    const allow = [
      ...new Set(
        Object.keys(handlers).flatMap((m) =>
          m === "GET" ? ["GET", "HEAD"] : [m]
        ),
      ),
      "OPTIONS",
    ].sort().join(", ");
    if (record.method === "OPTIONS") {
      return { status: 200, text: "", headers: { allow } };
    }
    const handler = handlers[context.method];
    if (handler === undefined) throw new PageError(405, undefined, { allow });
    return handler({ ...context, rest });
  }

  #checkAuth(headers: Record<string, string>): void {
    const auth = this.#auth;
    if (auth === undefined) return;
    const given = (headers.authorization ?? "").trim();
    if ("token" in auth) {
      if (/^bearer\s+(.+)$/i.exec(given)?.[1] === auth.token) return;
      throw new PageError(
        401,
        "Unauthorized: a valid bearer token is required",
        { "www-authenticate": 'Bearer realm="mlflow"' },
      );
    }
    const basic = /^basic\s+(.+)$/i.exec(given);
    if (basic !== null) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (
        colon >= 0 && decoded.slice(0, colon) === auth.username &&
        decoded.slice(colon + 1) === auth.password
      ) {
        return;
      }
    }
    throw new PageError(401, NOT_AUTHENTICATED, {
      "www-authenticate": 'Basic realm="mlflow"',
    });
  }

  // ------------------------------------------------------------- reading

  /** `_get_request_json`: the Content-Type gate, then a silent JSON parse. */
  #rawJson(context: Context): unknown {
    if (context.method === "POST" || context.method === "PUT") {
      contentTypeGate(context.record.headers);
    }
    if (context.body.byteLength === 0) return undefined;
    try {
      return JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(context.body),
      );
    } catch {
      return undefined;
    }
  }

  /** `_get_request_message`: the parsed message (see the module notes). */
  #message(context: Context, spec: Spec, schema: Schema = {}): Json {
    let json: Json = {};
    if (context.method === "GET" && [...context.query.keys()].length > 0) {
      for (const [name, type] of Object.entries(spec)) {
        if (!context.query.has(name)) continue;
        if (typeof type === "object" && "repeated" in type) {
          json[name] = context.query.getAll(name);
        } else {
          const value = context.query.get(name) as string;
          if (
            type === "bool" && !["true", "false"].includes(value.toLowerCase())
          ) {
            throw invalid(
              `Invalid boolean value: ${value}, must be 'true' or 'false'.`,
            );
          }
          json[name] = type === "bool" ? value.toLowerCase() === "true" : value;
        }
      }
    } else {
      let value = this.#rawJson(context);
      if (typeof value === "string") {
        try {
          value = JSON.parse(value);
        } catch {
          throw new PageError(500);
        }
      }
      if (value !== undefined && value !== null && !isObject(value)) {
        throw new PageError(500);
      }
      json = value ?? {};
    }
    stringifyExperimentIds(json);
    const { message, ok: parsed } = parseMessage(json, spec);
    checkSchema(json, schema, parsed);
    return message;
  }

  // ------------------------------------------------------------- routes

  #buildRoutes(): Map<string, Record<string, Handler>> {
    const routes = new Map<string, Record<string, Handler>>();
    const add = (methods: string, key: string, handler: Handler): void => {
      const entry = routes.get(key) ?? {};
      for (const method of methods.split(",")) entry[method] = handler;
      routes.set(key, entry);
    };
    add("POST", "experiments/create", (c) => this.#createExperiment(c));
    add("GET", "experiments/get", (c) => this.#getExperiment(c));
    add("GET", "experiments/get-by-name", (c) => this.#experimentByName(c));
    add(
      "POST",
      "experiments/delete",
      (c) => this.#setExperimentStage(c, "deleted"),
    );
    add(
      "POST",
      "experiments/restore",
      (c) => this.#setExperimentStage(c, "active"),
    );
    add("POST", "experiments/update", (c) => this.#renameExperiment(c));
    add(
      "POST",
      "experiments/set-experiment-tag",
      (c) => this.#experimentTag(c, true),
    );
    add(
      "POST",
      "experiments/delete-experiment-tag",
      (c) => this.#experimentTag(c, false),
    );
    add("GET,POST", "experiments/search", (c) => this.#searchExperiments(c));
    add("POST", "runs/create", (c) => this.#createRun(c));
    add("POST", "runs/update", (c) => this.#updateRun(c));
    add("POST", "runs/delete", (c) => this.#setRunStage(c, "deleted"));
    add("POST", "runs/restore", (c) => this.#setRunStage(c, "active"));
    add("POST", "runs/log-metric", (c) => this.#logMetric(c));
    add("POST", "runs/log-parameter", (c) => this.#logParam(c));
    add("POST", "runs/set-tag", (c) => this.#setTag(c));
    add("POST", "runs/delete-tag", (c) => this.#deleteTag(c));
    add("POST", "runs/log-batch", (c) => this.#logBatch(c));
    add("POST", "runs/log-inputs", (c) => this.#logInputs(c));
    add("POST", "runs/outputs", (c) => this.#logOutputs(c));
    add("GET", "runs/get", (c) => this.#getRun(c));
    add("POST", "runs/search", (c) => this.#searchRuns(c));
    add("GET", "metrics/get-history", (c) => this.#metricHistory(c));
    add("GET", "artifacts/list", (c) => this.#listRunArtifacts(c));
    add("POST", "logged-models/search", (c) => {
      this.#message(c, {
        experiment_ids: { repeated: "string" },
        filter: "string",
        max_results: "int",
        page_token: "string",
      });
      return ok();
    });
    add("POST", "registered-models/create", (c) => this.#createModel(c));
    add("GET", "registered-models/get", (c) => this.#getModel(c));
    add("POST", "registered-models/rename", (c) => this.#renameModel(c));
    add("PATCH", "registered-models/update", (c) => this.#updateModel(c));
    add("DELETE", "registered-models/delete", (c) => this.#deleteModel(c));
    add("GET", "registered-models/search", (c) => this.#searchModels(c));
    add(
      "GET,POST",
      "registered-models/get-latest-versions",
      (c) => this.#latestVersions(c),
    );
    add("POST", "registered-models/set-tag", (c) => this.#modelTag(c, true));
    add(
      "DELETE",
      "registered-models/delete-tag",
      (c) => this.#modelTag(c, false),
    );
    add("POST", "registered-models/alias", (c) => this.#setAlias(c));
    add("GET", "registered-models/alias", (c) => this.#getAlias(c));
    add("DELETE", "registered-models/alias", (c) => this.#deleteAlias(c));
    add("POST", "model-versions/create", (c) => this.#createVersion(c));
    add("GET", "model-versions/get", (c) => this.#getVersion(c));
    add("PATCH", "model-versions/update", (c) => this.#updateVersion(c));
    add("DELETE", "model-versions/delete", (c) => this.#deleteVersion(c));
    add("POST", "model-versions/transition-stage", (c) => this.#transition(c));
    add("GET", "model-versions/search", (c) => this.#searchVersions(c));
    add("GET", "model-versions/get-download-uri", (c) => this.#downloadUri(c));
    add("POST", "model-versions/set-tag", (c) => this.#versionTag(c, true));
    add(
      "DELETE",
      "model-versions/delete-tag",
      (c) => this.#versionTag(c, false),
    );
    add("GET", "proxy:list", (c) => this.#listArtifacts(c));
    add("GET", "proxy:file", (c) => this.#download(safePath(c.rest)));
    add("PUT", "proxy:file", (c) => this.#upload(c));
    add("DELETE", "proxy:file", (c) => this.#deleteArtifact(c));
    add("POST", "proxy:mpu/create", (c) => this.#multipart(c, ["path"]));
    add(
      "POST",
      "proxy:mpu/complete",
      (c) => this.#multipart(c, ["path", "upload_id"]),
    );
    add(
      "POST",
      "proxy:mpu/abort",
      (c) => this.#multipart(c, ["path", "upload_id"]),
    );
    add("GET", "get-artifact", (c) => this.#uiArtifact(c));
    return routes;
  }

  // ------------------------------------------------------------- experiments

  #experiment(id: string): ExperimentState {
    const experiment = this.#experiments.get(id);
    if (experiment === undefined) {
      throw notFound(`No Experiment with id=${id} exists`);
    }
    return experiment;
  }

  #activeExperiment(id: string): ExperimentState {
    const experiment = this.#experiment(id);
    if (experiment.lifecycleStage !== "active") {
      throw invalid(
        `The experiment ${id} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`,
      );
    }
    return experiment;
  }

  #experimentJson(e: ExperimentState): Json {
    return withList(
      {
        experiment_id: e.experimentId,
        name: e.name,
        artifact_location: e.artifactLocation,
        lifecycle_stage: e.lifecycleStage,
        last_update_time: e.lastUpdateTime,
        creation_time: e.creationTime,
      },
      "tags",
      tagList(e.tags),
    );
  }

  #createExperiment(c: Context): Reply {
    const m = this.#message(
      c,
      { name: "string", artifact_location: "string", tags: TAGS },
      { name: [REQUIRED, STRING], artifact_location: [STRING], tags: [ARRAY] },
    );
    const name = str(m.name);
    if (name.length > MAX_EXPERIMENT_NAME_LENGTH) {
      throw invalid(
        `Experiment name exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`,
      );
    }
    const location = str(m.artifact_location);
    if (location.startsWith("runs:")) {
      throw invalid(
        `Artifact location cannot be a runs:/ URI. Given: '${location}'`,
      );
    }
    const tags = keyValues(m.tags).map(([key, value]) => {
      checkName(key, "key");
      lengthLimit("Tag key", MAX_KEY_LENGTH, key);
      lengthLimit("Tag value", MAX_EXPERIMENT_TAG_VALUE_LENGTH, value);
      return [key, value] as const;
    });
    const now = Date.now();
    if ([...this.#experiments.values()].some((e) => e.name === name)) {
      throw new ApiError(
        "RESOURCE_ALREADY_EXISTS",
        `Experiment(name=${name}) already exists. Error: (raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this flush is occurring prematurely)\n(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.name\n[SQL: INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)]\n[parameters: (${
          pyRepr(name)
        }, ${
          pyRepr(location)
        }, 'active', ${now}, ${now})]\n(Background on this error at: https://sqlalche.me/e/14/gkpj)`,
      );
    }
    const id = String(this.#nextExperimentId++);
    this.#experiments.set(id, {
      experimentId: id,
      name,
      artifactLocation: location || `mlflow-artifacts:/${id}`,
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(tags),
    });
    return ok({ experiment_id: id });
  }

  #getExperiment(c: Context): Reply {
    const m = this.#message(c, { experiment_id: "string" }, {
      experiment_id: [REQUIRED, STRING],
    });
    const experiment = this.#experiment(str(m.experiment_id));
    return ok({ experiment: this.#experimentJson(experiment) });
  }

  #experimentByName(c: Context): Reply {
    const m = this.#message(c, { experiment_name: "string" }, {
      experiment_name: [REQUIRED, STRING],
    });
    const name = str(m.experiment_name);
    const experiment = [...this.#experiments.values()].find((e) =>
      e.name === name
    );
    if (experiment === undefined) {
      throw notFound(`Could not find experiment with name '${name}'`);
    }
    return ok({ experiment: this.#experimentJson(experiment) });
  }

  #setExperimentStage(c: Context, stage: "active" | "deleted"): Reply {
    const m = this.#message(c, { experiment_id: "string" }, {
      experiment_id: [REQUIRED, STRING],
    });
    const id = str(m.experiment_id);
    if (stage === "deleted" && id === "0") {
      throw invalid(
        "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
      );
    }
    const experiment = this.#experiment(id);
    if (experiment.lifecycleStage === stage) {
      throw notFound(`No Experiment with id=${id} exists`);
    }
    experiment.lifecycleStage = stage;
    experiment.lastUpdateTime = Date.now();
    for (const run of this.#runs.values()) {
      if (run.experimentId === id) run.lifecycleStage = stage;
    }
    return ok();
  }

  #renameExperiment(c: Context): Reply {
    const m = this.#message(
      c,
      { experiment_id: "string", new_name: "string" },
      {
        experiment_id: [REQUIRED, STRING],
        new_name: [STRING, REQUIRED],
      },
    );
    const experiment = this.#activeExperiment(str(m.experiment_id));
    const name = str(m.new_name);
    if (
      [...this.#experiments.values()].some((e) =>
        e !== experiment && e.name === name
      )
    ) {
      throw new ApiError(
        "RESOURCE_ALREADY_EXISTS",
        `Experiment(name=${name}) already exists.`,
      );
    }
    experiment.name = name;
    experiment.lastUpdateTime = Date.now();
    return ok();
  }

  #experimentTag(c: Context, set: boolean): Reply {
    const m = this.#message(
      c,
      { experiment_id: "string", key: "string", value: "string" },
      set
        ? {
          experiment_id: [REQUIRED, STRING],
          key: [REQUIRED, STRING],
          value: [STRING],
        }
        : { experiment_id: [REQUIRED, STRING], key: [REQUIRED, STRING] },
    );
    const experiment = this.#activeExperiment(str(m.experiment_id));
    const key = str(m.key);
    if (set) {
      checkName(key, "key");
      lengthLimit("Tag key", MAX_KEY_LENGTH, key);
      const value = str(m.value);
      lengthLimit("Tag value", MAX_EXPERIMENT_TAG_VALUE_LENGTH, value);
      experiment.tags.set(key, value);
    } else if (!experiment.tags.delete(key)) {
      throw notFound(
        `No tag with name: ${key} in experiment with id ${experiment.experimentId}`,
      );
    }
    experiment.lastUpdateTime = Date.now();
    return ok();
  }

  #searchExperiments(c: Context): Reply {
    const m = this.#message(
      c,
      { ...SEARCH, view_type: { enum: VIEW_TYPES } },
      {
        view_type: [INTLIKE],
        max_results: [INTLIKE],
        order_by: [ARRAY],
        filter: [STRING],
        page_token: [STRING],
      },
    );
    const maxResults = typeof m.max_results === "number" ? m.max_results : 1000;
    if (maxResults < 1) {
      throw invalid(
        `Invalid value for max_results. It must be a positive integer, but got ${maxResults}`,
      );
    }
    if (maxResults > 50000) {
      throw invalid(
        `Invalid value for max_results. It must be at most 50000, but got ${maxResults}`,
      );
    }
    const clauses = parseFilter(str(m.filter));
    const orders = parseOrderBy(strings(m.order_by));
    const value = (
      e: ExperimentState,
      type: string,
      key: string,
    ): string | number | undefined => {
      if (type === "tag") return e.tags.get(key);
      const attributes: Record<string, string | number> = {
        name: e.name,
        experiment_id: Number(e.experimentId),
        creation_time: e.creationTime,
        last_update_time: e.lastUpdateTime,
      };
      if (type !== "attribute" || !(key in attributes)) {
        throw invalid(
          `Invalid attribute key '${key}' specified. Valid keys are ${
            pyRepr(Object.keys(attributes))
          }`,
        );
      }
      return attributes[key];
    };
    const found = [...this.#experiments.values()].filter((e) =>
      inView(e.lifecycleStage, m.view_type ?? "ACTIVE_ONLY") &&
      clauses.every((clause) =>
        matches(value(e, clause.type, clause.key), clause)
      )
    );
    const sorting: Order[] = [
      ...orders,
      ...(orders.length === 0
        ? [{ type: "attribute", key: "last_update_time", descending: true }]
        : []),
      { type: "attribute", key: "experiment_id", descending: false },
    ];
    sortBy(found, sorting, value);
    const { page, next } = paged(found, m.page_token, maxResults);
    const out = withList(
      {},
      "experiments",
      page.map((e) => this.#experimentJson(e)),
    );
    if (next !== undefined) out.next_page_token = next;
    return ok(out);
  }

  // ------------------------------------------------------------- runs

  #run(runId: string): RunState {
    const run = this.#runs.get(runId);
    if (run === undefined) throw notFound(`Run with id=${runId} not found`);
    return run;
  }

  #activeRun(runId: string): RunState {
    const run = this.#run(runId);
    if (run.lifecycleStage !== "active") {
      throw invalid(
        `The run ${runId} must be in the 'active' state. Current state is ${run.lifecycleStage}.`,
      );
    }
    return run;
  }

  #runInfo(run: RunState): Json {
    const info: Json = {
      run_uuid: run.runId,
      experiment_id: run.experimentId,
      run_name: run.runName,
      user_id: run.userId,
      status: run.status,
      start_time: run.startTime,
    };
    if (run.endTime !== null) info.end_time = run.endTime;
    info.artifact_uri = run.artifactUri;
    info.lifecycle_stage = run.lifecycleStage;
    info.run_id = run.runId;
    return info;
  }

  #runJson(run: RunState, withOutputs: boolean): Json {
    const data: Json = {};
    withList(data, "metrics", [...run.latest.values()].map(metricJson));
    withList(data, "params", tagList(run.params));
    withList(data, "tags", tagList(run.tags));
    const inputs = withList({}, "dataset_inputs", run.datasets);
    withList(inputs, "model_inputs", run.modelInputs);
    const out: Json = { info: this.#runInfo(run), data, inputs };
    if (withOutputs) {
      out.outputs = withList({}, "model_outputs", run.modelOutputs);
    }
    return out;
  }

  #createRun(c: Context): Reply {
    const m = this.#message(
      c,
      {
        experiment_id: "string",
        user_id: "string",
        run_name: "string",
        start_time: "int",
        tags: TAGS,
      },
      { experiment_id: [STRING], start_time: [INTLIKE], run_name: [STRING] },
    );
    const experimentId = str(m.experiment_id);
    if (experimentId === "") {
      throw new ApiError(
        "BAD_REQUEST",
        "(sqlite3.IntegrityError) FOREIGN KEY constraint failed",
      );
    }
    const experiment = this.#activeExperiment(experimentId);
    const tags = new Map(
      keyValues(m.tags).map((tag, i) =>
        tagOf({ key: tag[0], value: tag[1] }, `tags[${i}]`)
      ),
    );
    const runName = str(m.run_name);
    const tagName = tags.get("mlflow.runName");
    if (runName && tagName && runName !== tagName) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${tagName}').`,
      );
    }
    const name = runName || tagName || randomRunName();
    if (!tagName) tags.set("mlflow.runName", name);
    const runId = hex32();
    const run: RunState = {
      runId,
      experimentId,
      runName: name,
      userId: str(m.user_id),
      status: "RUNNING",
      startTime: typeof m.start_time === "number" ? m.start_time : 0,
      endTime: null,
      lifecycleStage: "active",
      artifactUri: `${
        experiment.artifactLocation.replace(/\/+$/, "")
      }/${runId}/artifacts`,
      metrics: [],
      latest: new Map(),
      params: new Map(),
      tags,
      datasets: [],
      modelInputs: [],
      modelOutputs: [],
    };
    this.#runs.set(runId, run);
    return ok({ run: this.#runJson(run, false) });
  }

  #updateRun(c: Context): Reply {
    const m = this.#message(
      c,
      {
        ...RUN_REF,
        status: { enum: RUN_STATUSES },
        end_time: "int",
        run_name: "string",
      },
      {
        run_id: [REQUIRED, STRING],
        end_time: [INTLIKE],
        status: [STRING],
        run_name: [STRING],
      },
    );
    const run = this.#activeRun(str(m.run_id) || str(m.run_uuid));
    if (typeof m.status === "string") run.status = m.status;
    if (typeof m.end_time === "number") run.endTime = m.end_time;
    if (typeof m.run_name === "string") {
      run.runName = m.run_name;
      run.tags.set("mlflow.runName", m.run_name);
    }
    return ok({ run_info: this.#runInfo(run) });
  }

  #setRunStage(c: Context, stage: "active" | "deleted"): Reply {
    const m = this.#message(c, { run_id: "string" }, {
      run_id: [REQUIRED, STRING],
    });
    this.#run(str(m.run_id)).lifecycleStage = stage;
    return ok();
  }

  #addPoints(run: RunState, points: Point[]): void {
    for (const point of points) {
      run.metrics.push(point);
      const latest = run.latest.get(point.key);
      if (
        latest === undefined || point.step > latest.step ||
        (point.step === latest.step &&
          (point.timestamp > latest.timestamp ||
            (point.timestamp === latest.timestamp &&
              point.value > latest.value)))
      ) {
        run.latest.set(point.key, point);
      }
    }
  }

  #setTags(run: RunState, tags: [string, string][]): void {
    for (const [key, value] of tags) {
      run.tags.set(key, value);
      if (key === "mlflow.runName") run.runName = value;
    }
  }

  #logMetric(c: Context): Reply {
    const m = this.#message(c, { ...METRIC, run_uuid: "string" }, {
      run_id: [REQUIRED, STRING],
      key: [REQUIRED, STRING],
      value: [REQUIRED, FLOATLIKE],
      timestamp: [INTLIKE, REQUIRED],
      step: [INTLIKE],
      model_id: [STRING],
      dataset_name: [STRING],
      dataset_digest: [STRING],
    });
    const point = metricPoint(m, "");
    this.#addPoints(this.#activeRun(str(m.run_id) || str(m.run_uuid)), [point]);
    return ok();
  }

  #logParam(c: Context): Reply {
    const m = this.#message(c, { ...RUN_REF, ...KEY_VALUE }, {
      run_id: [REQUIRED, STRING],
      key: [REQUIRED, STRING],
      value: [STRING],
    });
    const [key, value] = paramOf(m, "");
    const run = this.#activeRun(str(m.run_id) || str(m.run_uuid));
    const old = run.params.get(key);
    if (old !== undefined && old !== value) {
      throw invalid(
        `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${run.runId}'. Attempted logging new value '${value}'.`,
      );
    }
    run.params.set(key, value);
    return ok();
  }

  #setTag(c: Context): Reply {
    const m = this.#message(c, { ...RUN_REF, ...KEY_VALUE }, {
      run_id: [REQUIRED, STRING],
      key: [REQUIRED, STRING],
      value: [STRING],
    });
    const tag = tagOf(m, "");
    this.#setTags(this.#activeRun(str(m.run_id) || str(m.run_uuid)), [tag]);
    return ok();
  }

  #deleteTag(c: Context): Reply {
    const m = this.#message(c, { run_id: "string", key: "string" }, {
      run_id: [REQUIRED, STRING],
      key: [REQUIRED, STRING],
    });
    const run = this.#activeRun(str(m.run_id));
    const key = str(m.key);
    if (!run.tags.delete(key)) {
      throw notFound(`No tag with name: ${key} in run with id ${run.runId}`);
    }
    return ok();
  }

  #logBatch(c: Context): Reply {
    const raw = this.#rawJson(c);
    if (
      raw === undefined || raw === null || typeof raw === "number" ||
      typeof raw === "boolean"
    ) {
      throw new PageError(500); // len(None): the server has no JSON to measure
    }
    const m = this.#message(
      c,
      {
        run_id: "string",
        metrics: { repeated: { message: METRIC } },
        params: { repeated: { message: KEY_VALUE } },
        tags: TAGS,
      },
      {
        run_id: [STRING, REQUIRED],
        metrics: [ARRAY, itemsHave("metrics", ["key", "value", "timestamp"])],
        params: [ARRAY, itemsHave("params", ["key"])],
        tags: [ARRAY, itemsHave("tags", ["key"])],
      },
    );
    const runId = str(m.run_id);
    if (!RUN_ID.test(runId)) throw invalid(`Invalid run ID: '${runId}'`);
    const metrics = list(m.metrics).map((x, i) =>
      metricPoint(x, `metrics[${i}]`)
    );
    const params = list(m.params).map((x, i) => paramOf(x, `params[${i}]`));
    const tags = list(m.tags).map((x, i) => tagOf(x, `tags[${i}]`));
    batchLimit("metrics", MAX_METRICS_PER_BATCH, metrics.length);
    batchLimit("params", MAX_PARAMS_TAGS_PER_BATCH, params.length);
    batchLimit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags.length);
    batchLimit(
      "metrics, params, and tags",
      MAX_ENTITIES_PER_BATCH,
      metrics.length + params.length + tags.length,
    );
    const seen = new Set<string>();
    const duplicates: string[] = [];
    for (const [key] of params) {
      if (seen.has(key)) duplicates.push(key);
      seen.add(key);
    }
    if (duplicates.length > 0) {
      throw invalid(
        `Duplicate parameter keys have been submitted: ${
          pyRepr(duplicates)
        }. Please ensure the request contains only one param value per param key.`,
      );
    }
    const run = this.#activeRun(runId);
    const changed = params.filter(([key, value]) =>
      run.params.has(key) && run.params.get(key) !== value
    ).map(([key, value]) => ({
      key,
      old_value: run.params.get(key),
      new_value: value,
    }));
    if (changed.length > 0) {
      throw invalid(
        `Changing param values is not allowed. Params were already logged='${
          pyRepr(changed)
        }' for run ID='${runId}'.`,
      );
    }
    for (const [key, value] of params) run.params.set(key, value);
    this.#addPoints(run, metrics);
    this.#setTags(run, tags);
    return ok();
  }

  #logInputs(c: Context): Reply {
    const m = this.#message(
      c,
      {
        run_id: "string",
        datasets: { repeated: { message: DATASET_INPUT } },
        models: { repeated: { message: { model_id: "string" } } },
      },
      { run_id: [REQUIRED, STRING], datasets: [ARRAY], models: [ARRAY] },
    );
    const run = this.#activeRun(str(m.run_id));
    const inputs = list(m.datasets).map((input) => {
      const dataset = isObject(input.dataset) ? input.dataset : {};
      const limits: [string, string, number][] = [
        ["name", "Dataset name", 500],
        ["digest", "Dataset digest", 36],
        ["source", "Dataset source", 65535],
        ["schema", "Dataset schema", 1048575],
        ["profile", "Dataset profile", 16777215],
      ];
      for (const [field, entity, limit] of limits) {
        lengthLimit(entity, limit, str(dataset[field]));
      }
      const tags = keyValues(input.tags).map(([key, value]) => {
        lengthLimit("Input tag key", 255, key);
        lengthLimit("Input tag value", 500, value);
        return { key, value };
      });
      const stored: Json = {
        name: str(dataset.name),
        digest: str(dataset.digest),
        source_type: str(dataset.source_type),
        source: str(dataset.source),
      };
      for (const field of ["schema", "profile"]) {
        if (typeof dataset[field] === "string") stored[field] = dataset[field];
      }
      const entry = withList({}, "tags", tags);
      entry.dataset = stored;
      return entry;
    });
    for (const input of inputs) {
      const dataset = input.dataset as Json;
      const index = run.datasets.findIndex((d) =>
        (d.dataset as Json).name === dataset.name &&
        (d.dataset as Json).digest === dataset.digest
      );
      if (index >= 0) run.datasets[index] = input;
      else run.datasets.push(input);
    }
    for (const model of list(m.models)) {
      const id = str(model.model_id);
      if (!run.modelInputs.some((i) => i.model_id === id)) {
        run.modelInputs.push({ model_id: id });
      }
    }
    return ok();
  }

  #logOutputs(c: Context): Reply {
    const m = this.#message(
      c,
      {
        run_id: "string",
        models: { repeated: { message: { model_id: "string", step: "int" } } },
      },
      { run_id: [REQUIRED, STRING], models: [REQUIRED, ARRAY] },
    );
    const run = this.#activeRun(str(m.run_id));
    for (const model of list(m.models)) {
      run.modelOutputs.push({
        model_id: str(model.model_id),
        step: typeof model.step === "number" ? model.step : 0,
      });
    }
    return ok();
  }

  #getRun(c: Context): Reply {
    const m = this.#message(c, RUN_REF, { run_id: [REQUIRED, STRING] });
    const run = this.#run(str(m.run_id) || str(m.run_uuid));
    return ok({ run: this.#runJson(run, true) });
  }

  #runValue(
    run: RunState,
    type: string,
    key: string,
  ): string | number | undefined {
    if (type === "metric") return run.latest.get(key)?.value;
    if (type === "param") return run.params.get(key);
    if (type === "tag") return run.tags.get(key);
    const attributes: Record<string, string | number | undefined> = {
      status: run.status,
      run_name: run.runName,
      run_id: run.runId,
      user_id: run.userId,
      start_time: run.startTime,
      end_time: run.endTime ?? undefined,
      artifact_uri: run.artifactUri,
      experiment_id: run.experimentId,
    };
    const name = key === "run name" ? "run_name" : key;
    if (!(name in attributes)) {
      throw invalid(
        `Invalid attribute key '${key}' specified. Valid keys are ${
          pyRepr(Object.keys(attributes))
        }`,
      );
    }
    return attributes[name];
  }

  #searchRuns(c: Context): Reply {
    const m = this.#message(
      c,
      {
        experiment_ids: { repeated: "string" },
        filter: "string",
        run_view_type: { enum: VIEW_TYPES },
        max_results: "int",
        order_by: { repeated: "string" },
        page_token: "string",
      },
      {
        experiment_ids: [ARRAY],
        filter: [STRING],
        max_results: [INTLIKE, atMost(50000)],
        order_by: [ARRAY, STRINGS],
      },
    );
    const ids = new Set(strings(m.experiment_ids));
    const clauses = parseFilter(str(m.filter));
    const orders = parseOrderBy(strings(m.order_by));
    const found = [...this.#runs.values()].filter((run) =>
      ids.has(run.experimentId) &&
      inView(run.lifecycleStage, m.run_view_type ?? "ACTIVE_ONLY") &&
      clauses.every((clause) =>
        matches(this.#runValue(run, clause.type, clause.key), clause)
      )
    );
    const sorting: Order[] = [
      ...orders,
      { type: "attribute", key: "start_time", descending: true },
      { type: "attribute", key: "run_id", descending: false },
    ];
    sortBy(found, sorting, (run, type, key) => this.#runValue(run, type, key));
    const maxResults = typeof m.max_results === "number" ? m.max_results : 1000;
    const offset = pageOffset(m.page_token);
    const page = found.slice(offset, offset + maxResults);
    const out = withList(
      {},
      "runs",
      page.map((run) => this.#runJson(run, true)),
    );
    if (page.length === maxResults) {
      out.next_page_token = pageToken(offset + maxResults);
    }
    return ok(out);
  }

  #metricHistory(c: Context): Reply {
    const m = this.#message(
      c,
      {
        ...RUN_REF,
        metric_key: "string",
        page_token: "string",
        max_results: "int",
      },
      {
        run_id: [STRING, REQUIRED],
        metric_key: [STRING, REQUIRED],
        page_token: [STRING],
      },
    );
    const run = this.#run(str(m.run_id) || str(m.run_uuid));
    const points = run.metrics.filter((p) => p.key === str(m.metric_key));
    // An unset max_results reads as 0: no metrics, and a token to offset 0.
    const maxResults = typeof m.max_results === "number" ? m.max_results : 0;
    const { page, next } = paged(points, m.page_token, maxResults);
    const out = withList({}, "metrics", page.map(metricJson));
    if (next !== undefined) out.next_page_token = next;
    return ok(out);
  }

  // ------------------------------------------------------------- artifacts

  /** One level of the artifact store, sorted by name. */
  #list(dir: string): Json[] {
    const base = normpath(dir);
    const prefix = base === "." ? "" : `${base}/`;
    const entries = new Map<string, number | undefined>();
    for (const [key, bytes] of this.#files) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash < 0) entries.set(rest, bytes.byteLength);
      else entries.set(rest.slice(0, slash), undefined);
    }
    return [...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map((
      [name, size],
    ) => {
      const info: Json = { path: name, is_dir: size === undefined };
      if (size) info.file_size = size;
      return info;
    });
  }

  #isDir(key: string): boolean {
    if (key === ".") return true;
    return [...this.#files.keys()].some((k) => k.startsWith(`${key}/`));
  }

  #listArtifacts(c: Context): Reply {
    const m = this.#message(c, { path: "string" });
    const path = typeof m.path === "string" ? safePath(m.path) : "";
    return ok(withList({}, "files", this.#list(path)));
  }

  #listRunArtifacts(c: Context): Reply {
    const m = this.#message(c, {
      ...RUN_REF,
      path: "string",
      page_token: "string",
    }, {
      run_id: [STRING, REQUIRED],
      path: [STRING],
      page_token: [STRING],
    });
    const relative = typeof m.path === "string" ? safePath(m.path) : "";
    const run = this.#run(str(m.run_id) || str(m.run_uuid));
    const out: Json = { root_uri: run.artifactUri };
    const base = proxiedPath(run.artifactUri);
    if (base !== undefined) {
      const files = this.#list(relative ? posixJoin(base, relative) : base);
      for (const file of files) {
        file.path = relative
          ? posixJoin(relative, file.path as string)
          : file.path;
      }
      withList(out, "files", files);
    }
    return ok(out);
  }

  #download(path: string): Reply {
    const key = normpath(path);
    const bytes = this.#files.get(key);
    if (bytes === undefined) {
      if (this.#isDir(key)) throw new PageError(500); // open() on a directory
      throw new ApiError(
        "INTERNAL_ERROR",
        `The following failures occurred while downloading one or more artifacts from ${ARTIFACT_ROOT}:\n##### File ${path} #####\n[Errno 2] No such file or directory: '${ARTIFACT_ROOT}/${path}'`,
      );
    }
    return {
      status: 200,
      bytes,
      contentType: mimeType(key),
      chunked: true,
      headers: {
        "content-disposition": attachment(key.slice(key.lastIndexOf("/") + 1)),
        "x-content-type-options": "nosniff",
      },
    };
  }

  #upload(c: Context): Reply {
    const path = safePath(c.rest);
    const slash = path.lastIndexOf("/");
    const head = slash < 0 ? "" : path.slice(0, slash);
    const tail = path.slice(slash + 1);
    if (tail === "") throw new PageError(500); // open() on the temp directory
    let key = normpath(head ? `${head}/${tail}` : tail);
    const parts = key.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (this.#files.has(parts.slice(0, i).join("/"))) {
        throw new PageError(500);
      }
    }
    if (this.#isDir(key)) key = `${key}/${tail}`; // shutil.copy2 into the dir
    if (this.#isDir(key)) throw new PageError(500);
    if (c.record.chunked) {
      this.chunkedUploads.push({
        path: key,
        receivedBytes: c.record.bodyBytes,
      });
    }
    this.#files.set(key, new Uint8Array(c.body));
    return ok();
  }

  #deleteArtifact(c: Context): Reply {
    const key = normpath(safePath(c.rest));
    const prefix = key === "." ? "" : `${key}/`;
    for (const file of [...this.#files.keys()]) {
      if (file === key || file.startsWith(prefix)) this.#files.delete(file);
    }
    return ok();
  }

  #multipart(c: Context, required: string[]): Reply {
    const schema: Schema = {};
    for (const field of required) schema[field] = [REQUIRED, STRING];
    this.#message(
      c,
      {
        path: "string",
        num_parts: "int",
        upload_id: "string",
        parts: {
          repeated: {
            message: { part_number: "int", etag: "string", url: "string" },
          },
        },
      },
      schema,
    );
    safePath(c.rest);
    throw new ApiError("NOT_IMPLEMENTED", MPU_UNSUPPORTED);
  }

  #uiArtifact(c: Context): Reply {
    const path = c.query.get("path");
    if (path === null) throw new PageError(400);
    const safe = safePath(path);
    const run = this.#run(
      c.query.get("run_id") || c.query.get("run_uuid") || "",
    );
    const base = proxiedPath(run.artifactUri);
    if (base === undefined) throw new PageError(500);
    return this.#download(posixJoin(base, safe));
  }

  // ------------------------------------------------------------- registry

  #model(name: string): ModelState {
    if (name === "") throw invalid("Registered model name cannot be empty.");
    const model = this.#models.get(name);
    if (model === undefined) {
      throw notFound(`Registered Model with name=${name} not found`);
    }
    return model;
  }

  #version(model: ModelState, version: string): VersionState {
    if (!/^\s*[+-]?\d+\s*$/.test(version)) {
      throw invalid(
        `Parameter 'version' must be an integer, got '${version}'.`,
      );
    }
    const found = model.versions.find((v) =>
      Number(v.version) === Number(version)
    );
    if (found === undefined) {
      throw notFound(
        `Model Version (name=${model.name}, version=${version}) not found`,
      );
    }
    return found;
  }

  #versionJson(model: ModelState, v: VersionState, aliases: boolean): Json {
    const out: Json = {
      name: model.name,
      version: v.version,
      creation_timestamp: v.creationTimestamp,
      last_updated_timestamp: v.lastUpdatedTimestamp,
      current_stage: v.currentStage,
      description: v.description,
      source: v.source,
      run_id: v.runId,
      status: "READY",
    };
    withList(out, "tags", tagList(v.tags));
    out.run_link = v.runLink;
    if (aliases) {
      withList(
        out,
        "aliases",
        [...model.aliases].filter(([, to]) => to === v.version).map(([a]) => a),
      );
    }
    return out;
  }

  /** The highest version in each stage. */
  #latest(model: ModelState, stages: string[] = []): VersionState[] {
    const best = new Map<string, VersionState>();
    for (const v of model.versions) {
      if (stages.length > 0 && !stages.includes(v.currentStage)) continue;
      const current = best.get(v.currentStage);
      if (
        current === undefined || Number(v.version) > Number(current.version)
      ) {
        best.set(v.currentStage, v);
      }
    }
    return [...best.values()].sort((a, b) =>
      Number(a.version) - Number(b.version)
    );
  }

  #modelJson(model: ModelState): Json {
    const out: Json = {
      name: model.name,
      creation_timestamp: model.creationTimestamp,
      last_updated_timestamp: model.lastUpdatedTimestamp,
      description: model.description,
    };
    withList(
      out,
      "latest_versions",
      this.#latest(model).map((v) => this.#versionJson(model, v, false)),
    );
    withList(out, "tags", tagList(model.tags));
    withList(
      out,
      "aliases",
      [...model.aliases].map(([alias, version]) => ({ alias, version })),
    );
    return out;
  }

  #createModel(c: Context): Reply {
    const m = this.#message(
      c,
      { name: "string", tags: TAGS, description: "string" },
      { name: [STRING, REQUIRED], tags: [ARRAY], description: [STRING] },
    );
    const name = str(m.name);
    const tags = list(m.tags).map((tag) =>
      registryTag(tag, "Registered model")
    );
    if (this.#models.has(name)) {
      throw new ApiError(
        "RESOURCE_ALREADY_EXISTS",
        `Registered Model (name=${name}) already exists.`,
      );
    }
    const now = Date.now();
    const model: ModelState = {
      name,
      creationTimestamp: now,
      lastUpdatedTimestamp: now,
      description: str(m.description),
      tags: new Map(tags),
      aliases: new Map(),
      versions: [],
      nextVersion: 1,
    };
    this.#models.set(name, model);
    return ok({ registered_model: this.#modelJson(model) });
  }

  #getModel(c: Context): Reply {
    const m = this.#message(c, { name: "string" }, {
      name: [STRING, REQUIRED],
    });
    return ok({ registered_model: this.#modelJson(this.#model(str(m.name))) });
  }

  #renameModel(c: Context): Reply {
    const m = this.#message(c, { name: "string", new_name: "string" }, {
      name: [STRING, REQUIRED],
      new_name: [STRING, REQUIRED],
    });
    const model = this.#model(str(m.name));
    const name = str(m.new_name);
    if (this.#models.has(name)) {
      throw new ApiError(
        "RESOURCE_ALREADY_EXISTS",
        `Registered Model (name=${name}) already exists.`,
      );
    }
    this.#models.delete(model.name);
    model.name = name;
    model.lastUpdatedTimestamp = Date.now();
    this.#models.set(name, model);
    return ok({ registered_model: this.#modelJson(model) });
  }

  #updateModel(c: Context): Reply {
    const m = this.#message(c, { name: "string", description: "string" }, {
      name: [STRING, REQUIRED],
      description: [STRING],
    });
    const model = this.#model(str(m.name));
    model.description = str(m.description);
    model.lastUpdatedTimestamp = Date.now();
    return ok({ registered_model: this.#modelJson(model) });
  }

  #deleteModel(c: Context): Reply {
    const m = this.#message(c, { name: "string" }, {
      name: [STRING, REQUIRED],
    });
    this.#models.delete(this.#model(str(m.name)).name);
    return ok();
  }

  #searchModels(c: Context): Reply {
    const m = this.#message(c, SEARCH, {
      filter: [STRING],
      max_results: [INTLIKE, atMost(1000)],
      order_by: [ARRAY, STRINGS],
      page_token: [STRING],
    });
    const clauses = parseFilter(str(m.filter));
    const orders = parseOrderBy(strings(m.order_by));
    const value = (
      model: ModelState,
      type: string,
      key: string,
    ): string | number | undefined => {
      if (type === "tag") return model.tags.get(key);
      const attributes: Record<string, string | number> = {
        name: model.name,
        timestamp: model.lastUpdatedTimestamp,
        creation_timestamp: model.creationTimestamp,
        last_updated_timestamp: model.lastUpdatedTimestamp,
      };
      if (type !== "attribute" || !(key in attributes)) {
        throw invalid(`Invalid attribute key '${key}' specified.`);
      }
      return attributes[key];
    };
    const found = [...this.#models.values()].filter((model) =>
      clauses.every((clause) =>
        matches(value(model, clause.type, clause.key), clause)
      )
    );
    const sorting: Order[] = [...orders, {
      type: "attribute",
      key: "name",
      descending: false,
    }];
    sortBy(found, sorting, value);
    const maxResults = typeof m.max_results === "number" ? m.max_results : 100;
    const { page, next } = paged(found, m.page_token, maxResults);
    const out = withList(
      {},
      "registered_models",
      page.map((model) => this.#modelJson(model)),
    );
    if (next !== undefined) out.next_page_token = next;
    return ok(out);
  }

  #latestVersions(c: Context): Reply {
    const m = this.#message(c, {
      name: "string",
      stages: { repeated: "string" },
    }, {
      name: [STRING, REQUIRED],
      stages: [ARRAY, STRINGS],
    });
    const model = this.#model(str(m.name));
    const stages = strings(m.stages).map(canonicalStage);
    return ok(withList(
      {},
      "model_versions",
      this.#latest(model, stages).map((v) =>
        this.#versionJson(model, v, false)
      ),
    ));
  }

  #modelTag(c: Context, set: boolean): Reply {
    const m = this.#message(
      c,
      { name: "string", ...KEY_VALUE },
      set
        ? { name: [STRING, REQUIRED], key: [STRING, REQUIRED], value: [STRING] }
        : { name: [STRING, REQUIRED], key: [STRING, REQUIRED] },
    );
    const model = this.#model(str(m.name));
    if (set) {
      const [key, value] = registryTag(m, "Registered model");
      model.tags.set(key, value);
    } else {
      model.tags.delete(str(m.key));
    }
    return ok();
  }

  #setAlias(c: Context): Reply {
    const m = this.#message(c, {
      name: "string",
      alias: "string",
      version: "string",
    }, {
      name: [STRING, REQUIRED],
      alias: [STRING, REQUIRED],
      version: [STRING, REQUIRED],
    });
    const alias = str(m.alias);
    checkAlias(alias);
    const model = this.#model(str(m.name));
    const version = this.#version(model, str(m.version));
    model.aliases.set(alias, version.version);
    return ok();
  }

  #getAlias(c: Context): Reply {
    const m = this.#message(c, { name: "string", alias: "string" }, {
      name: [STRING, REQUIRED],
      alias: [STRING, REQUIRED],
    });
    const model = this.#model(str(m.name));
    const alias = str(m.alias);
    let version = model.aliases.get(alias);
    if (version === undefined && alias.toLowerCase() === "latest") {
      version = model.versions.reduce<VersionState | undefined>(
        (best, v) =>
          best === undefined || Number(v.version) > Number(best.version)
            ? v
            : best,
        undefined,
      )?.version;
    }
    if (version === undefined) {
      throw invalid(`Registered model alias ${alias} not found.`);
    }
    return ok({
      model_version: this.#versionJson(
        model,
        this.#version(model, version),
        true,
      ),
    });
  }

  #deleteAlias(c: Context): Reply {
    const m = this.#message(c, { name: "string", alias: "string" }, {
      name: [STRING, REQUIRED],
      alias: [STRING, REQUIRED],
    });
    this.#model(str(m.name)).aliases.delete(str(m.alias));
    return ok();
  }

  #createVersion(c: Context): Reply {
    const m = this.#message(
      c,
      {
        name: "string",
        source: "string",
        run_id: "string",
        tags: TAGS,
        run_link: "string",
        description: "string",
        model_id: "string",
      },
      {
        name: [STRING, REQUIRED],
        source: [STRING, REQUIRED],
        run_id: [STRING],
        tags: [ARRAY],
        run_link: [STRING],
        description: [STRING],
        model_id: [STRING],
      },
    );
    const source = str(m.source);
    const runId = str(m.run_id);
    if (isLocalUri(source)) {
      if (runId !== "" && str(m.model_id) === "") this.#run(runId);
      const shown = source.startsWith("/") ? normpath(source) : source;
      const owner = str(m.model_id) === ""
        ? ["run_id", "run specified by the run_id"]
        : ["model_id", "run specified by the model_id"];
      throw invalid(
        `Invalid model version source: '${shown}'. To use a local path as a model version source, the ${
          owner[0]
        } request parameter has to be specified and the local path has to be contained within the artifact directory of the ${
          owner[1]
        }.`,
      );
    }
    checkRemoteSource(source);
    const model = this.#model(str(m.name));
    const tags = list(m.tags).map((tag) => registryTag(tag, "Model version"));
    const now = Date.now();
    const version: VersionState = {
      version: String(model.nextVersion++),
      creationTimestamp: now,
      lastUpdatedTimestamp: now,
      currentStage: "None",
      description: str(m.description),
      source,
      runId,
      runLink: str(m.run_link),
      tags: new Map(tags),
    };
    model.versions.push(version);
    model.lastUpdatedTimestamp = now;
    return ok({ model_version: this.#versionJson(model, version, false) });
  }

  #versionOf(c: Context, extra: Spec = {}, schema: Schema = {}): {
    message: Json;
    model: ModelState;
    version: VersionState;
  } {
    const message = this.#message(c, { ...MODEL_VERSION_REF, ...extra }, {
      name: [STRING, REQUIRED],
      version: [STRING, REQUIRED],
      ...schema,
    });
    const model = this.#model(str(message.name));
    return {
      message,
      model,
      version: this.#version(model, str(message.version)),
    };
  }

  #getVersion(c: Context): Reply {
    const { model, version } = this.#versionOf(c);
    return ok({ model_version: this.#versionJson(model, version, true) });
  }

  #updateVersion(c: Context): Reply {
    const { message, model, version } = this.#versionOf(
      c,
      { description: "string" },
      { description: [STRING] },
    );
    if (typeof message.description === "string") {
      version.description = message.description;
    }
    version.lastUpdatedTimestamp = Date.now();
    return ok({ model_version: this.#versionJson(model, version, false) });
  }

  #deleteVersion(c: Context): Reply {
    const { model, version } = this.#versionOf(c);
    model.versions = model.versions.filter((v) => v !== version);
    for (const [alias, to] of [...model.aliases]) {
      if (to === version.version) model.aliases.delete(alias);
    }
    model.lastUpdatedTimestamp = Date.now();
    return ok();
  }

  #transition(c: Context): Reply {
    const { message, model, version } = this.#versionOf(
      c,
      { stage: "string", archive_existing_versions: "bool" },
      { stage: [STRING, REQUIRED], archive_existing_versions: [BOOL] },
    );
    const stage = canonicalStage(str(message.stage));
    const archive = message.archive_existing_versions === true;
    if (archive && stage !== "Staging" && stage !== "Production") {
      throw invalid(
        `Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are Staging, Production`,
      );
    }
    const now = Date.now();
    if (archive) {
      for (const other of model.versions) {
        if (other !== version && other.currentStage === stage) {
          other.currentStage = "Archived";
          other.lastUpdatedTimestamp = now;
        }
      }
    }
    version.currentStage = stage;
    version.lastUpdatedTimestamp = now;
    return ok({ model_version: this.#versionJson(model, version, false) });
  }

  #downloadUri(c: Context): Reply {
    const m = this.#message(c, MODEL_VERSION_REF);
    const model = this.#model(str(m.name));
    return ok({ artifact_uri: this.#version(model, str(m.version)).source });
  }

  #searchVersions(c: Context): Reply {
    const m = this.#message(c, SEARCH, {
      filter: [STRING],
      max_results: [INTLIKE, atMost(200_000)],
      order_by: [ARRAY, STRINGS],
      page_token: [STRING],
    });
    const clauses = parseFilter(str(m.filter));
    const orders = parseOrderBy(strings(m.order_by));
    type Entry = [ModelState, VersionState];
    const value = (
      [model, v]: Entry,
      type: string,
      key: string,
    ): string | number | undefined => {
      if (type === "tag") return v.tags.get(key);
      const attributes: Record<string, string | number> = {
        name: model.name,
        run_id: v.runId,
        source_path: v.source,
        version_number: Number(v.version),
        creation_timestamp: v.creationTimestamp,
        last_updated_timestamp: v.lastUpdatedTimestamp,
        current_stage: v.currentStage,
      };
      if (type !== "attribute" || !(key in attributes)) {
        throw invalid(`Invalid attribute key '${key}' specified.`);
      }
      return attributes[key];
    };
    const found: Entry[] = [...this.#models.values()].flatMap((model) =>
      model.versions.map((v): Entry => [model, v])
    ).filter((entry) =>
      clauses.every((clause) =>
        matches(value(entry, clause.type, clause.key), clause)
      )
    );
    const sorting: Order[] = [
      ...orders,
      ...(orders.length === 0
        ? [
          {
            type: "attribute",
            key: "last_updated_timestamp",
            descending: true,
          },
          { type: "attribute", key: "name", descending: false },
        ]
        : []),
      { type: "attribute", key: "version_number", descending: true },
    ];
    sortBy(found, sorting, value);
    const maxResults = typeof m.max_results === "number"
      ? m.max_results
      : 10000;
    const { page, next } = paged(found, m.page_token, maxResults);
    const out = withList(
      {},
      "model_versions",
      page.map(([model, v]) => this.#versionJson(model, v, false)),
    );
    if (next !== undefined) out.next_page_token = next;
    return ok(out);
  }

  #versionTag(c: Context, set: boolean): Reply {
    const { message, version } = this.#versionOf(
      c,
      KEY_VALUE,
      set
        ? { key: [STRING, REQUIRED], value: [STRING] }
        : { key: [STRING, REQUIRED] },
    );
    if (set) {
      const [key, value] = registryTag(message, "Model version");
      version.tags.set(key, value);
    } else {
      version.tags.delete(str(message.key));
    }
    return ok();
  }
}

/** The answer for an error thrown by a handler. */
function errorReply(error: unknown): Reply {
  if (error instanceof ApiError) {
    return {
      status: STATUS_OF[error.code] ?? 500,
      json: { error_code: error.code, message: error.message },
    };
  }
  if (error instanceof PageError) {
    return {
      status: error.status,
      text: error.body,
      contentType: error.contentType,
      headers: error.headers,
    };
  }
  // A bug in the fake: Flask's 500 page, with the cause in a header.
  return {
    status: 500,
    text: htmlPage(500),
    contentType: "text/html; charset=utf-8",
    headers: {
      "x-fake-mlflow-error": String((error as Error)?.message ?? error)
        .replace(/[^\x20-\x7e]/g, "?").slice(0, 200),
    },
  };
}
