/**
 * A fake W&B (Weights & Biases) server for tests: a `node:http` server on
 * 127.0.0.1 (random port) that answers the wire protocol described in
 * `../shared/reference/wandb.md`, as corrected by the captures of the real
 * 0.30.0 SDK (`wandb-captures/FINDINGS.md`; requests there are ground truth,
 * responses were written by a mock). Runs unchanged under Deno, Bun and Node.
 *
 * Served:
 * - `POST /graphql` `{query, variables?, operationName}`: a small GraphQL
 *   executor (fragments, inline fragments, aliases, `@include`/`@skip`,
 *   variable defaults, inline input objects). Answers carry exactly the
 *   fields asked for; a field the fake does not know is a 400 validation
 *   error (`Cannot query field "x" on type "Y"`), as on a real server. The
 *   operation is named by `operationName`, or by the query text when that is
 *   empty (the Python public API sends `""`); an operation the fake does not
 *   know is 400 `unknown operation X`. Undeclared variables are ignored; a
 *   missing `variables` key is fine; a missing required (`T!`) variable is
 *   400.
 * - `POST /files/{entity}/{project}/{runId}/file_stream` (gzip bodies too):
 *   strict append-only offsets for `wandb-history.jsonl` and
 *   `wandb-events.jsonl` (a byte-identical resend is accepted), the summary
 *   always one line at offset 0, replaceable `output.log` lines, `uploaded`,
 *   `complete` + `exitcode`, `{}` heartbeats. Lines are parsed leniently
 *   (bare `NaN`, `Infinity`, `-Infinity`).
 * - Signed storage URLs `/storage/...?X-Fake-Signature=...&X-Fake-Expires=3600`
 *   for run files, artifact files and manifests (PUT) and downloads (GET).
 *   They refuse any request carrying `Authorization` (403) and a PUT without
 *   the handed-out upload header `X-Fake-Upload` (403).
 * - `GET /artifactsV2/{region}/{entity}/{project}/{collection}/{birthArtifactID}/{hexMd5}/{name}`
 *   (Basic auth), the SDK's fallback download.
 *
 * Auth: `Authorization: Basic base64("api:" + key)` on `/graphql`,
 * file_stream and `artifactsV2`; anything else is 401
 * `{"errors":[{"message":...}]}`.
 *
 * Choices made where the reference is silent:
 * - Error statuses: GraphQL validation errors 400; a missing run, artifact or
 *   collection a mutation needs 404; the run name of a deleted run 409
 *   (`run e/p/id was previously created and deleted; try a new run name`);
 *   a commit whose manifest does not hash to the artifact's digest, or whose
 *   files were never uploaded, 400. GraphQL errors are
 *   `{"errors":[{"message"}],"data":null}`; file_stream errors
 *   `{"error":"..."}`.
 * - file_stream: a gap or a differing overlap in history/events is 400
 *   `offset mismatch ...` and nothing of the request is stored; a summary not
 *   at offset 0 or not exactly one line is 400; an `output.log` gap is 400.
 *   Anything but a `{}` heartbeat after `complete` is 409. An `UpsertBucket`
 *   of a finished run reopens it (resume). Other file names are accepted with
 *   `output.log` semantics and kept out of the snapshot.
 * - `config` is kept as the parsed JSONString the client sent (the
 *   `{k: {value}}` form), replaced whole by each upsert that sends one.
 * - Artifacts: `versionIndex` is assigned at commit (0, 1, 2... per
 *   collection; -1 while PENDING). `latest` is a stored alias like any other,
 *   as on the real server (the Python client asks for it in
 *   `CreateArtifact.aliases` itself): a version gets it only when it is
 *   requested (at creation, or by `AddAliases`), never by itself. Requested
 *   aliases apply at commit, each moving from the version that held it; a
 *   pending version has none. A dedup hit (same digest committed in the
 *   collection, with `enableDigestDeduplication` not false) returns that
 *   version COMMITTED and moves the requested aliases (`latest` too) to it at
 *   once. `AddAliases` moves aliases (`latest` too); `DeleteAliases` drops
 *   them (`latest` too) from that version only. `vN` aliases cannot be set
 *   and resolve by `versionIndex`; a name without `:alias` means
 *   `name:latest`. A version lists its aliases in the order they were last
 *   set on it. A collection's `latestArtifact` is still its newest committed
 *   version (by `versionIndex`), whoever holds the alias.
 * - Version lists (`artifactCollection(name:){ artifacts(first, after,
 *   order) }`, also under `artifactType(name:)` as the Python public API
 *   asks): PENDING versions included (`versionIndex: null`), newest created
 *   first (`order` null or `-createdAt`; `createdAt` gives oldest first, any
 *   other `order` and a non-null `filters` are 400). `first` defaults to 100.
 *   Cursors name a version, so a page stays right when versions are created
 *   between pages; an unknown cursor is 400. `ArtifactEdge.version` is `vN`,
 *   null while PENDING. The same paging serves `usedBy`; `before`/`last` are
 *   400 there and on version lists.
 * - `UpdateArtifact`: only a COMMITTED version (400 otherwise, 404 when
 *   unknown); `metadata` must be a string holding a JSON object (400 naming
 *   `metadata`), `description` a string; a null or missing field keeps its
 *   value; any other non-null input field (`aliases`, tags, TTL) is 400, not
 *   ignored. It sets `updatedAt`.
 * - `createdBy` is the run named by the `CreateArtifact` that created the
 *   version (a dedup hit from another run does not change it), null for a
 *   run-less version; `usedBy` lists the runs that called `UseArtifact`, in
 *   order of first use, once each. A run deleted with
 *   {@linkcode FakeWandb.deleteRun} drops out of both (null / not listed).
 * - Operation names the fake knows beyond the captures: `UpdateArtifact`,
 *   `ArtifactUsedBy` and `ArtifactCreatedBy` (the Python SDK's), and
 *   `ProjectArtifacts` (the SDK's version list) or `ArtifactVersions` for a
 *   version list. Inline fragments' type conditions are not checked
 *   (`createdBy { ... on Run { name } }` works; `... on User` fields would
 *   be 400 on a `Run`).
 * - File content is stored per entity by
 *   base64 MD5: `createArtifactFiles` answers `uploadUrl: null` for content
 *   already stored, with `artifact.id` = the version that first stored it.
 *   An artifact file PUT whose MD5 differs from the declared one is 400
 *   `BadDigest`. The manifest upload is not checked against the
 *   `createArtifactManifest` digest (captured manifests were scrubbed).
 *
 * Faults: {@linkcode FakeWandb.throttle}, `fail`, `hang`, `reset`, `setDown`,
 * each for requests matching a path and/or a GraphQL operation. Faults
 * without `operation` are queued in the shared {@linkcode LoopbackServer}
 * (checked first); faults with one are checked once the body is read.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
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

/** How to start a {@linkcode FakeWandb}. */
export interface FakeWandbOptions {
  /** The API key (default `"fake-wandb-key-"` + 40 characters). */
  apiKey?: string;
  /** The viewer's entity, the default one (default `"fake-entity"`). */
  entity?: string;
  /** Server features answered as enabled by `ServerFeaturesQuery`. */
  features?: string[];
}

/** One request the fake received, in arrival order. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** The path as sent, without the query. */
  path: string;
  /** Query parameters (the first value of each). */
  query: Record<string, string>;
  /** Request headers, with lower-case names. */
  headers: Record<string, string>;
  /** The GraphQL operation (from `operationName` or the query text). */
  operationName?: string;
  /** The GraphQL variables. */
  variables?: unknown;
  /** The parsed JSON body (file_stream bodies parsed leniently). */
  json?: unknown;
  /** How many body bytes arrived (before gunzip). */
  bodyBytes: number;
  /** The status answered; 0 while unanswered, or when it hung or was reset. */
  status: number;
}

/** Which requests a fault applies to. */
export interface FaultOptions {
  /** An exact path, or a pattern tested on it; all paths when absent. */
  path?: string | RegExp;
  /** Only this GraphQL operation (by operation name). */
  operation?: string;
  /** Only this method (any case). */
  method?: string;
  /**
   * How many matching requests get the fault.
   * @default {1}
   */
  count?: number;
}

/** A run (bucket) as stored: a live object. */
export interface FakeWandbRun {
  /** Entity. */
  entity: string;
  /** Project. */
  project: string;
  /** Run id (the `name` of the bucket). */
  name: string;
  /** Server storage id (`bucket.id`). */
  storageId: string;
  /** Display name (invented when the client gave none). */
  displayName: string;
  /** The config JSONString as parsed (`{k: {value: v}}`). */
  config: Record<string, unknown>;
  /** Tags. */
  tags: string[];
  /** History rows, parsed (NaN and infinities as numbers). */
  history: Record<string, unknown>[];
  /** History lines as received. */
  historyLines: string[];
  /** `wandb-events.jsonl` lines as received. */
  events: string[];
  /** The last summary line, parsed. */
  summary: Record<string, unknown>;
  /** `output.log` lines. */
  output: string[];
  /** Run files uploaded through `CreateRunFiles` + PUT. */
  files: Record<string, Uint8Array>;
  /** Paths reported in file_stream `uploaded`, first report order. */
  uploaded: string[];
  /** How many `{}` heartbeats arrived. */
  heartbeats: number;
  /** When each heartbeat arrived (ms since the epoch). */
  heartbeatTimes: number[];
  /** When the last accepted file_stream request arrived, or `null`. */
  lastRequestAt: number | null;
  /** Whether a `complete` request arrived (and no upsert reopened it). */
  complete: boolean;
  /** The `exitcode` of the `complete` request. */
  exitcode: number | null;
  /** Whether a request said `preempting: true`. */
  preempting: boolean;
  /** Whether {@linkcode FakeWandb.stop} was called for it. */
  stopped: boolean;
  /** Notes, group and job type from the upserts. */
  notes: string | null;
  /** Group name. */
  group: string | null;
  /** Job type. */
  jobType: string | null;
  /** Whether {@linkcode FakeWandb.deleteRun} deleted it. */
  deleted: boolean;
}

/** An artifact version as stored (a snapshot). */
export interface FakeArtifactVersion {
  /** Artifact id. */
  id: string;
  /** Collection (sequence) name. */
  collection: string;
  /** Entity. */
  entity: string;
  /** Project. */
  project: string;
  /** Artifact type. */
  type: string;
  /** Version index; -1 while PENDING. */
  versionIndex: number;
  /** The artifact digest given at creation. */
  digest: string;
  /** State. */
  state: "PENDING" | "COMMITTED";
  /**
   * Stored aliases, in the order they were last set on it: `latest` only
   * when it was requested or added (never automatically); never `vN`.
   */
  aliases: string[];
  /** Metadata, parsed, or `null`. */
  metadata: unknown;
  /** Description, or `null`. */
  description: string | null;
  /** The uploaded manifest, parsed, or `null`. */
  manifest: unknown | null;
  /** File bytes by path (filled at commit). */
  files: Record<string, Uint8Array>;
  /** The run that logged it, or `null`. */
  runName: string | null;
  /** Run ids of the runs that used it (`useArtifact`), first use order. */
  usedBy: string[];
}

// ---------------------------------------------------------------------------
// Constants and small helpers
// ---------------------------------------------------------------------------

const DEFAULT_KEY = "fake-wandb-key-" +
  "0123456789abcdefghijklmnopqrstuvwxyzABCD";
const UPLOAD_HEADER = "X-Fake-Upload";
const HISTORY = "wandb-history.jsonl";
const EVENTS = "wandb-events.jsonl";
const SUMMARY = "wandb-summary.json";
const OUTPUT = "output.log";
const FEATURES = [
  "LARGE_FILENAMES",
  "ARTIFACT_TAGS",
  "CLIENT_IDS",
  "STRUCTURED_CONSOLE_LOGS",
  "USE_ARTIFACT_WITH_ENTITY_AND_PROJECT_INFORMATION",
  "MARK_RUN_FILES_UPLOADED",
  "FILESTREAM_GZIP",
  "ARTIFACT_DIGEST_ALGORITHM",
];
const OPERATIONS: ReadonlySet<string> = new Set([
  "Viewer",
  "ServerFeaturesQuery",
  "UpsertBucket",
  "RunResumeStatus",
  "RunStoppedStatus",
  "RunState",
  "CreateRunFiles",
  "OrganizationCoreWeaveOrganizationID",
  "CreateArtifact",
  "CreateArtifactManifest",
  "CreateArtifactFiles",
  "CommitArtifact",
  "UseArtifact",
  "AddAliases",
  "DeleteAliases",
  "UpdateArtifact",
  "ArtifactByName",
  "ArtifactType",
  "ArtifactByID",
  "ArtifactManifest",
  "FetchArtifactManifest",
  "ArtifactFileURLs",
  "ArtifactMembershipByName",
  "GetArtifactMembershipFileUrls",
  "ArtifactUsedBy",
  "ArtifactCreatedBy",
  "ProjectArtifacts",
  "ArtifactVersions",
]);
/** `UpdateArtifact` input fields the fake applies (others must be null). */
const UPDATE_FIELDS: ReadonlySet<string> = new Set([
  "artifactID",
  "description",
  "metadata",
  "clientMutationId",
]);
const ADJECTIVES =
  "fluent brisk calm eager gentle lively proud swift witty bold"
    .split(" ");
const NOUNS = "sun river forest meadow comet breeze dawn harbor valley star"
  .split(" ");

type Json = Record<string, unknown>;

function b64id(type: string, key: string | number): string {
  return Buffer.from(`${type}:${key}`).toString("base64");
}

function md5(bytes: Uint8Array | string): Buffer {
  return createHash("md5").update(bytes).digest();
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function now(): string {
  return new Date().toISOString().slice(0, 19);
}

/** The artifact digest of manifest entries `path → b64 md5` (wandb.md §5.1). */
export function manifestDigest(entries: Record<string, string>): string {
  const lines = Object.keys(entries).sort().map((path) =>
    `${path}:${entries[path]}\n`
  );
  return md5("wandb-artifact-manifest-v1\n" + lines.join("")).toString("hex");
}

// ---------------------------------------------------------------------------
// Lenient JSON (bare NaN, Infinity, -Infinity)
// ---------------------------------------------------------------------------

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const JSON_STRING =
  // deno-lint-ignore no-control-regex
  /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const JSON_SPACE = /[ \t\n\r]*/y;

/**
 * Parses JSON that may hold the bare tokens `NaN`, `Infinity` and
 * `-Infinity` (as wandb-core writes them).
 *
 * @param text The text.
 * @returns The value.
 * @throws {SyntaxError} When it is not (lenient) JSON.
 */
export function parseLenientJson(text: string): unknown {
  let at = 0;
  const space = () => {
    JSON_SPACE.lastIndex = at;
    JSON_SPACE.exec(text);
    at = JSON_SPACE.lastIndex;
  };
  const fail = (): never => {
    throw new SyntaxError(`Unexpected token at position ${at}`);
  };
  const value = (): unknown => {
    space();
    const c = text[at];
    if (c === "{") {
      at++;
      const out: Json = {};
      space();
      if (text[at] === "}") {
        at++;
        return out;
      }
      for (;;) {
        space();
        JSON_STRING.lastIndex = at;
        const key = JSON_STRING.exec(text);
        if (key === null) fail();
        at = JSON_STRING.lastIndex;
        space();
        if (text[at++] !== ":") fail();
        out[JSON.parse(key![0])] = value();
        space();
        const next = text[at++];
        if (next === "}") return out;
        if (next !== ",") fail();
      }
    }
    if (c === "[") {
      at++;
      const out: unknown[] = [];
      space();
      if (text[at] === "]") {
        at++;
        return out;
      }
      for (;;) {
        out.push(value());
        space();
        const next = text[at++];
        if (next === "]") return out;
        if (next !== ",") fail();
      }
    }
    if (c === '"') {
      JSON_STRING.lastIndex = at;
      const match = JSON_STRING.exec(text);
      if (match === null) fail();
      at = JSON_STRING.lastIndex;
      return JSON.parse(match![0]);
    }
    for (
      const [token, result] of [
        ["NaN", NaN],
        ["Infinity", Infinity],
        ["-Infinity", -Infinity],
        ["true", true],
        ["false", false],
        ["null", null],
      ] as const
    ) {
      if (text.startsWith(token, at)) {
        at += token.length;
        return result;
      }
    }
    JSON_NUMBER.lastIndex = at;
    const number = JSON_NUMBER.exec(text);
    if (number === null) fail();
    at = JSON_NUMBER.lastIndex;
    return Number(number![0]);
  };
  const result = value();
  space();
  if (at !== text.length) fail();
  return result;
}

// ---------------------------------------------------------------------------
// A small GraphQL executor
// ---------------------------------------------------------------------------

/** A GraphQL error with the HTTP status to answer. */
class GqlError extends Error {
  readonly status: number;

  constructor(message: string, status = 400) {
    super(message);
    this.name = "GqlError";
    this.status = status;
  }
}

type GValue =
  | { kind: "var"; name: string }
  | { kind: "list"; items: GValue[] }
  | { kind: "object"; fields: [string, GValue][] }
  | { kind: "const"; value: unknown };

interface GDirective {
  name: string;
  args: [string, GValue][];
}

type GSelection =
  | {
    kind: "field";
    alias?: string;
    name: string;
    args: [string, GValue][];
    directives: GDirective[];
    selections?: GSelection[];
  }
  | { kind: "spread"; name: string; directives: GDirective[] }
  | { kind: "inline"; directives: GDirective[]; selections: GSelection[] };

type GField = Extract<GSelection, { kind: "field" }>;

interface GOperation {
  type: string;
  name?: string;
  variables: { name: string; type: string; default?: GValue }[];
  selections: GSelection[];
}

interface GDocument {
  operations: GOperation[];
  fragments: Map<string, GSelection[]>;
}

const GQL_TOKEN =
  /[\s,\uFEFF]+|#[^\n\r]*|(\.\.\.|[!$&()[\]{}:=@|])|([_A-Za-z][_0-9A-Za-z]*)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|("""[\s\S]*?"""|"(?:[^"\\\n\r]|\\.)*")/y;

type Token = { type: "punct" | "name" | "number" | "string"; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < source.length) {
    GQL_TOKEN.lastIndex = at;
    const match = GQL_TOKEN.exec(source);
    if (match === null) {
      throw new GqlError(
        `Syntax Error: Unexpected character "${source[at]}" at ${at}`,
      );
    }
    at = GQL_TOKEN.lastIndex;
    if (match[1] !== undefined) tokens.push({ type: "punct", text: match[1] });
    else if (match[2] !== undefined) {
      tokens.push({ type: "name", text: match[2] });
    } else if (match[3] !== undefined) {
      tokens.push({ type: "number", text: match[3] });
    } else if (match[4] !== undefined) {
      tokens.push({ type: "string", text: match[4] });
    }
  }
  return tokens;
}

class GqlParser {
  #tokens: Token[];
  #at = 0;

  constructor(source: string) {
    this.#tokens = tokenize(source);
  }

  document(): GDocument {
    const doc: GDocument = { operations: [], fragments: new Map() };
    while (this.#at < this.#tokens.length) {
      const token = this.#peek();
      if (token?.text === "{") {
        doc.operations.push({
          type: "query",
          variables: [],
          selections: this.#selectionSet(),
        });
      } else if (token?.text === "fragment") {
        this.#at++;
        const name = this.#name();
        this.#expectName("on");
        this.#name();
        this.#directives();
        doc.fragments.set(name, this.#selectionSet());
      } else if (
        token?.type === "name" &&
        ["query", "mutation", "subscription"].includes(token.text)
      ) {
        this.#at++;
        const op: GOperation = {
          type: token.text,
          variables: [],
          selections: [],
        };
        if (this.#peek()?.type === "name") op.name = this.#name();
        if (this.#peek()?.text === "(") {
          this.#at++;
          while (!this.#skip(")")) {
            this.#expect("$");
            const name = this.#name();
            this.#expect(":");
            const type = this.#type();
            const variable: GOperation["variables"][number] = { name, type };
            if (this.#skip("=")) variable.default = this.#value(true);
            this.#directives();
            op.variables.push(variable);
          }
        }
        this.#directives();
        op.selections = this.#selectionSet();
        doc.operations.push(op);
      } else {
        this.#error();
      }
    }
    return doc;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#at];
  }

  #error(): never {
    const token = this.#peek();
    throw new GqlError(
      token === undefined
        ? "Syntax Error: Unexpected <EOF>"
        : `Syntax Error: Unexpected "${token.text}"`,
    );
  }

  #skip(text: string): boolean {
    const token = this.#peek();
    if (token?.type === "punct" && token.text === text) {
      this.#at++;
      return true;
    }
    return false;
  }

  #expect(text: string): void {
    if (!this.#skip(text)) this.#error();
  }

  #name(): string {
    const token = this.#peek();
    if (token?.type !== "name") this.#error();
    this.#at++;
    return token!.text;
  }

  #expectName(text: string): void {
    if (this.#name() !== text) {
      this.#at--;
      this.#error();
    }
  }

  #type(): string {
    let type: string;
    if (this.#skip("[")) {
      type = `[${this.#type()}]`;
      this.#expect("]");
    } else {
      type = this.#name();
    }
    if (this.#skip("!")) type += "!";
    return type;
  }

  #value(constant = false): GValue {
    const token = this.#peek();
    if (token === undefined) this.#error();
    if (token!.type === "punct") {
      if (token!.text === "$" && !constant) {
        this.#at++;
        return { kind: "var", name: this.#name() };
      }
      if (token!.text === "[") {
        this.#at++;
        const items: GValue[] = [];
        while (!this.#skip("]")) items.push(this.#value(constant));
        return { kind: "list", items };
      }
      if (token!.text === "{") {
        this.#at++;
        const fields: [string, GValue][] = [];
        while (!this.#skip("}")) {
          const name = this.#name();
          this.#expect(":");
          fields.push([name, this.#value(constant)]);
        }
        return { kind: "object", fields };
      }
      this.#error();
    }
    this.#at++;
    if (token!.type === "number") {
      return { kind: "const", value: Number(token!.text) };
    }
    if (token!.type === "string") {
      const text = token!.text;
      return {
        kind: "const",
        value: text.startsWith('"""') ? text.slice(3, -3) : JSON.parse(text),
      };
    }
    const word = token!.text;
    return {
      kind: "const",
      value: word === "true"
        ? true
        : word === "false"
        ? false
        : word === "null"
        ? null
        : word,
    };
  }

  #arguments(): [string, GValue][] {
    const args: [string, GValue][] = [];
    if (this.#skip("(")) {
      while (!this.#skip(")")) {
        const name = this.#name();
        this.#expect(":");
        args.push([name, this.#value()]);
      }
    }
    return args;
  }

  #directives(): GDirective[] {
    const directives: GDirective[] = [];
    while (this.#skip("@")) {
      directives.push({ name: this.#name(), args: this.#arguments() });
    }
    return directives;
  }

  #selectionSet(): GSelection[] {
    this.#expect("{");
    const selections: GSelection[] = [];
    while (!this.#skip("}")) {
      if (this.#skip("...")) {
        const token = this.#peek();
        if (token?.type === "name" && token.text !== "on") {
          const name = this.#name();
          selections.push({
            kind: "spread",
            name,
            directives: this.#directives(),
          });
        } else {
          if (token?.text === "on") {
            this.#at++;
            this.#name();
          }
          const directives = this.#directives();
          selections.push({
            kind: "inline",
            directives,
            selections: this.#selectionSet(),
          });
        }
        continue;
      }
      let name = this.#name();
      let alias: string | undefined;
      if (this.#skip(":")) {
        alias = name;
        name = this.#name();
      }
      const field: GField = {
        kind: "field",
        alias,
        name,
        args: this.#arguments(),
        directives: this.#directives(),
      };
      if (this.#peek()?.text === "{") field.selections = this.#selectionSet();
      selections.push(field);
    }
    return selections;
  }
}

/**
 * A resolved object: each field a value or a function of its arguments.
 * `__typename` names the type in errors.
 */
type Node = Record<string, unknown>;

interface ExecContext {
  variables: Json;
  fragments: Map<string, GSelection[]>;
}

function resolveValue(value: GValue, ctx: ExecContext): unknown {
  switch (value.kind) {
    case "var":
      return ctx.variables[value.name] ?? null;
    case "list":
      return value.items.map((item) => resolveValue(item, ctx));
    case "object":
      return Object.fromEntries(
        value.fields.map(([name, v]) => [name, resolveValue(v, ctx)]),
      );
    default:
      return value.value;
  }
}

function resolveArgs(args: [string, GValue][], ctx: ExecContext): Json {
  return Object.fromEntries(
    args.map(([name, value]) => [name, resolveValue(value, ctx)]),
  );
}

function included(directives: GDirective[], ctx: ExecContext): boolean {
  for (const directive of directives) {
    const condition = resolveArgs(directive.args, ctx).if === true;
    if (directive.name === "include" && !condition) return false;
    if (directive.name === "skip" && condition) return false;
  }
  return true;
}

function collectFields(
  selections: GSelection[],
  ctx: ExecContext,
  out: Map<string, GField[]>,
  seen: Set<string>,
): void {
  for (const selection of selections) {
    if (!included(selection.directives, ctx)) continue;
    if (selection.kind === "field") {
      const key = selection.alias ?? selection.name;
      const list = out.get(key) ?? [];
      list.push(selection);
      out.set(key, list);
    } else if (selection.kind === "inline") {
      collectFields(selection.selections, ctx, out, seen);
    } else if (!seen.has(selection.name)) {
      const fragment = ctx.fragments.get(selection.name);
      if (fragment === undefined) {
        throw new GqlError(`Unknown fragment "${selection.name}".`);
      }
      seen.add(selection.name);
      collectFields(fragment, ctx, out, seen);
      seen.delete(selection.name);
    }
  }
}

function executeSelections(
  node: Node,
  selections: GSelection[],
  ctx: ExecContext,
): Json {
  const fields = new Map<string, GField[]>();
  collectFields(selections, ctx, fields, new Set());
  const out: Json = {};
  for (const [key, list] of fields) {
    const field = list[0];
    if (field.name === "__typename") {
      out[key] = node.__typename ?? null;
      continue;
    }
    if (!Object.hasOwn(node, field.name)) {
      throw new GqlError(
        `Cannot query field "${field.name}" on type "${
          node.__typename ?? "Object"
        }".`,
      );
    }
    let value = node[field.name];
    if (typeof value === "function") {
      value = value(resolveArgs(field.args, ctx));
    }
    const sub = list.flatMap((f) => f.selections ?? []);
    out[key] = complete(value, sub, list.some((f) => f.selections), ctx);
  }
  return out;
}

function complete(
  value: unknown,
  selections: GSelection[],
  hasSelections: boolean,
  ctx: ExecContext,
): unknown {
  if (value === null || value === undefined) return null;
  if (!hasSelections) return value;
  if (Array.isArray(value)) {
    return value.map((item) => complete(item, selections, true, ctx));
  }
  return executeSelections(value as Node, selections, ctx);
}

/** The operation name: `operationName`, else the query's own name. */
function operationNameOf(body: Json): string | undefined {
  if (typeof body.operationName === "string" && body.operationName !== "") {
    return body.operationName;
  }
  if (typeof body.query !== "string") return undefined;
  const text = body.query.replace(/#[^\n\r]*/g, "");
  return /^\s*(?:query|mutation|subscription)\s+([_A-Za-z]\w*)/.exec(text)
    ?.[1];
}

// ---------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------

interface RunState extends FakeWandbRun {
  num: number;
  configText: string | null;
  summaryLine: string | null;
  otherFiles: Map<string, string[]>;
  description: string | null;
  host: string | null;
  program: string | null;
  createdAt: string;
}

interface Collection {
  id: string;
  entity: string;
  project: string;
  name: string;
  type: string;
  createdAt: string;
  versions: ArtifactState[];
  aliases: Map<string, ArtifactState>;
}

interface ArtifactState {
  id: string;
  num: number;
  collection: Collection;
  digest: string;
  state: "PENDING" | "COMMITTED";
  versionIndex: number;
  description: string | null;
  metadata: string | null;
  historyStep: number | null;
  runName: string | null;
  /** The run that created it (`runName`), or `null`. */
  creator: RunState | null;
  /** Runs that used it, in order of first use. */
  usedBy: RunState[];
  requestedAliases: string[];
  createdAt: string;
  updatedAt: string;
  manifestId: string | null;
  manifestBytes: Uint8Array | null;
  manifest: Json | null;
  files: Record<string, Uint8Array>;
  size: number;
  fileCount: number;
}

interface Blob {
  bytes: Uint8Array | null;
  birthArtifactId: string;
  size: number;
}

type StorageTarget =
  | { kind: "run-file"; run: RunState; name: string }
  | { kind: "artifact-file"; entity: string; md5: string }
  | { kind: "manifest"; artifact: ArtifactState }
  | { kind: "blob"; entity: string; md5: string }
  | { kind: "manifest-download"; artifact: ArtifactState };

interface Signed {
  signatures: Set<string>;
  target: StorageTarget;
  headers: Record<string, string>;
}

type FaultKind = "throttle" | "throttle-ratelimit" | "fail";

interface OperationFault {
  kind: FaultKind | "hang" | "reset";
  operation: string;
  path: string | RegExp | undefined;
  method: string | undefined;
  remaining: number;
  status: number;
  retryAfterS: number;
}

interface Reply {
  status: number;
  body: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
}

function jsonReply(status: number, json: unknown): Reply {
  return {
    status,
    body: JSON.stringify(json),
    contentType: "application/json",
  };
}

function gqlError(status: number, message: string): Reply {
  return jsonReply(status, { errors: [{ message }], data: null });
}

function storageError(status: number, code: string, message: string): Reply {
  return {
    status,
    body:
      `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    contentType: "application/xml; charset=UTF-8",
  };
}

/** file_stream's own error, raised while checking a request. */
class StreamError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------

/** A fake W&B server (see the module notes). */
export class FakeWandb {
  /** Base URL, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** The API key the fake accepts. */
  readonly apiKey: string;
  /** The viewer's (default) entity. */
  readonly entity: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  #server: LoopbackServer<FaultKind>;
  #auth: string;
  #features: Set<string>;
  #opFaults: OperationFault[] = [];
  #ids = 0;
  #runs = new Map<string, RunState>();
  #projects = new Map<string, { entity: string; name: string }>();
  #collections = new Map<string, Collection>();
  #artifacts = new Map<string, ArtifactState>();
  #blobs = new Map<string, Blob>();
  #signed = new Map<string, Signed>();

  private constructor(
    server: LoopbackServer<FaultKind>,
    options: FakeWandbOptions,
  ) {
    this.#server = server;
    this.url = server.url;
    this.apiKey = options.apiKey ?? DEFAULT_KEY;
    this.entity = options.entity ?? "fake-entity";
    this.#features = new Set(options.features ?? []);
    this.#auth = "Basic " +
      Buffer.from(`api:${this.apiKey}`).toString("base64");
    server.onRequest((request, response) => this.#handle(request, response));
  }

  /**
   * Starts a fake on 127.0.0.1 with a random port.
   *
   * @param options The API key, the default entity and server features.
   * @returns The listening fake.
   */
  static async start(options: FakeWandbOptions = {}): Promise<FakeWandb> {
    return new FakeWandb(await LoopbackServer.start("W&B"), options);
  }

  // ------------------------------------------------------------- faults

  /**
   * Answers the next matching requests with 429 and `Retry-After`.
   *
   * @param options Which requests, how many, `retryAfterS` (default 1), and
   * `rateLimitHeaders` to add `RateLimit-Remaining: 0` and `RateLimit-Reset`.
   */
  throttle(
    options: FaultOptions & {
      retryAfterS?: number;
      rateLimitHeaders?: boolean;
    } = {},
  ): void {
    this.#addFault(
      options.rateLimitHeaders ? "throttle-ratelimit" : "throttle",
      options,
      429,
      options.retryAfterS ?? 1,
    );
  }

  /**
   * Answers the next matching requests with an error status; nothing is
   * stored.
   *
   * @param options Which requests, how many, and `status` (default 500).
   */
  fail(options: FaultOptions & { status?: number } = {}): void {
    this.#addFault("fail", options, failStatus(options.status ?? 500));
  }

  /**
   * Reads the next matching requests and never answers them.
   *
   * @param options Which requests and how many.
   */
  hang(options: FaultOptions = {}): void {
    this.#addFault("hang", options);
  }

  /**
   * Destroys the socket of the next matching requests after reading them.
   *
   * @param options Which requests and how many.
   */
  reset(options: FaultOptions = {}): void {
    this.#addFault("reset", options);
  }

  /**
   * While down, every request's socket is destroyed at once.
   *
   * @param down Whether the server is down.
   */
  setDown(down: boolean): void {
    this.#server.setDown(down);
  }

  #addFault(
    kind: OperationFault["kind"],
    options: FaultOptions,
    status = 0,
    retryAfterS = 0,
  ): void {
    const target = {
      path: options.path,
      method: options.method,
      count: options.count,
    };
    if (options.operation === undefined) {
      this.#server.addFault(kind, target, status, retryAfterS);
      return;
    }
    const count = options.count ?? 1;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot add a ${kind} fault: count ${count} is not a positive integer`,
      );
    }
    this.#opFaults.push({
      kind,
      operation: options.operation,
      path: options.path,
      method: options.method?.toUpperCase(),
      remaining: count,
      status,
      retryAfterS,
    });
    if (kind === "reset") {
      // Close idle kept-alive connections (see fake_faults.ts).
      this.#server.setDown(true);
      this.#server.setDown(false);
    }
  }

  #takeOpFault(
    method: string,
    path: string,
    operation: string | undefined,
  ): OperationFault | undefined {
    if (operation === undefined) return undefined;
    const index = this.#opFaults.findIndex((fault) => {
      if (fault.operation !== operation) return false;
      if (fault.method !== undefined && fault.method !== method) return false;
      if (fault.path === undefined) return true;
      if (typeof fault.path === "string") return fault.path === path;
      fault.path.lastIndex = 0;
      return fault.path.test(path);
    });
    if (index < 0) return undefined;
    const fault = this.#opFaults[index];
    if (--fault.remaining === 0) this.#opFaults.splice(index, 1);
    return fault;
  }

  // ------------------------------------------------------------- state

  /**
   * Marks the run stopped: file_stream answers carry `"stopped": true` and
   * `RunStoppedStatus` says so.
   *
   * @param runName The run id.
   */
  stop(runName: string): void {
    for (const run of this.#runs.values()) {
      if (run.name === runName) run.stopped = true;
    }
  }

  /**
   * Deletes a run: its name can no longer be upserted (409).
   *
   * @param runName The run id.
   * @param project Its project (any when absent).
   */
  deleteRun(runName: string, project?: string): void {
    for (const run of this.#runs.values()) {
      if (
        run.name === runName &&
        (project === undefined || run.project === project)
      ) {
        run.deleted = true;
      }
    }
  }

  /**
   * Every run, in creation order (live objects).
   *
   * @returns The runs.
   */
  runs(): FakeWandbRun[] {
    return [...this.#runs.values()];
  }

  /**
   * A run by id (a live object).
   *
   * @param name The run id.
   * @param project Its project (any when absent).
   * @returns The run, or `undefined`.
   */
  run(name: string, project?: string): FakeWandbRun | undefined {
    return [...this.#runs.values()].find((run) =>
      run.name === name && (project === undefined || run.project === project)
    );
  }

  /**
   * Every artifact version, in creation order (snapshots).
   *
   * @param collection Only this collection's.
   * @returns The versions.
   */
  artifacts(collection?: string): FakeArtifactVersion[] {
    return [...this.#artifacts.values()]
      .filter((a) =>
        collection === undefined || a.collection.name === collection
      )
      .map((a) => ({
        id: a.id,
        collection: a.collection.name,
        entity: a.collection.entity,
        project: a.collection.project,
        type: a.collection.type,
        versionIndex: a.versionIndex,
        digest: a.digest,
        state: a.state,
        aliases: this.#aliasesOf(a),
        metadata: a.metadata === null ? null : parseLenientJson(a.metadata),
        description: a.description,
        manifest: a.manifest,
        files: { ...a.files },
        runName: a.runName,
        usedBy: a.usedBy.map((run) => run.name),
      }));
  }

  /**
   * Closes the listening socket and every open connection.
   *
   * @returns When the server is closed.
   */
  close(): Promise<void> {
    return this.#server.close();
  }

  // ------------------------------------------------------------- HTTP

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const method = (request.method ?? "GET").toUpperCase();
    const url = new URL(request.url ?? "/", "http://fake");
    const path = url.pathname;
    const record: RecordedRequest = {
      method,
      path,
      query: {},
      headers: headersOf(request),
      bodyBytes: 0,
      status: 0,
    };
    for (const [key, value] of url.searchParams) {
      if (!(key in record.query)) record.query[key] = value;
    }
    this.#server.serve(request, response, {
      method,
      path,
      received: (body) => {
        record.bodyBytes = body.byteLength;
        this.requests.push(record);
      },
      answer: (raw, fault) => {
        const reply = this.#answer(record, url, raw, fault, request);
        if (reply === null) return;
        record.status = reply.status;
        const headers: Record<string, string> = { ...reply.headers };
        if (reply.contentType) headers["content-type"] = reply.contentType;
        if (
          this.#server.resetPending ||
          this.#opFaults.some((f) => f.kind === "reset")
        ) {
          headers.connection = "close";
        }
        response.writeHead(reply.status, headers);
        response.end(reply.body);
      },
    });
  }

  /** The reply, or `null` when the request hangs or was reset. */
  #answer(
    record: RecordedRequest,
    url: URL,
    raw: Uint8Array,
    fault: Fault<FaultKind> | undefined,
    request: IncomingMessage,
  ): Reply | null {
    const path = record.path;
    const kind = path === "/graphql"
      ? "graphql"
      : /^\/files\/[^/]+\/[^/]+\/[^/]+\/file_stream$/.test(path)
      ? "stream"
      : path.startsWith("/storage/")
      ? "storage"
      : "other";
    let body = raw;
    if (record.headers["content-encoding"]?.toLowerCase() === "gzip") {
      try {
        body = new Uint8Array(gunzipSync(raw));
      } catch {
        return jsonReply(400, { error: "invalid gzip body" });
      }
    }
    let text = "";
    if (kind === "graphql" || kind === "stream") {
      text = new TextDecoder().decode(body);
      try {
        record.json = kind === "graphql"
          ? JSON.parse(text)
          : parseLenientJson(text);
      } catch {
        // Answered below.
      }
    }
    if (kind === "graphql" && isObject(record.json)) {
      record.operationName = operationNameOf(record.json);
      record.variables = record.json.variables;
    }
    const opFault = fault ??
      this.#takeOpFault(record.method, path, record.operationName);
    if (opFault !== undefined) {
      if (opFault.kind === "hang") return null;
      if (opFault.kind === "reset") {
        request.socket.destroy();
        return null;
      }
      return this.#faultReply(kind, opFault as Fault<FaultKind>);
    }
    try {
      switch (kind) {
        case "graphql":
          if (record.method !== "POST") {
            return gqlError(405, `method ${record.method} not allowed`);
          }
          return this.#checkAuth(record) ?? this.#graphql(record.json);
        case "stream":
          if (record.method !== "POST") {
            return jsonReply(405, { error: "method not allowed" });
          }
          return this.#checkAuth(record) ?? this.#fileStream(record, text);
        case "storage":
          return this.#storage(record, url, body);
        default:
          if (record.method === "GET" && path.startsWith("/artifactsV2/")) {
            return this.#checkAuth(record) ?? this.#artifactsV2(path);
          }
          return jsonReply(404, { error: `not found: ${path}` });
      }
    } catch (error) {
      if (error instanceof GqlError) {
        return gqlError(error.status, error.message);
      }
      if (error instanceof StreamError) {
        return jsonReply(error.status, { error: error.message });
      }
      return jsonReply(500, {
        error: `fake W&B bug: ${(error as Error)?.message ?? error}`,
      });
    }
  }

  #faultReply(kind: string, fault: Fault<FaultKind>): Reply {
    const message = fault.kind === "fail"
      ? `Injected failure: HTTP ${fault.status}`
      : "rate limit exceeded";
    const reply = kind === "graphql"
      ? gqlError(fault.status, message)
      : kind === "storage"
      ? storageError(fault.status, "InjectedFault", message)
      : jsonReply(fault.status, { error: message });
    if (fault.kind !== "fail") {
      reply.headers = { "retry-after": String(fault.retryAfterS) };
      if (fault.kind === "throttle-ratelimit") {
        reply.headers["ratelimit-remaining"] = "0";
        reply.headers["ratelimit-reset"] = String(fault.retryAfterS);
      }
    }
    return reply;
  }

  #checkAuth(record: RecordedRequest): Reply | null {
    const header = record.headers.authorization;
    if (header === undefined) {
      return gqlError(401, "missing Authorization header: use Basic api:<key>");
    }
    const match = /^basic\s+(\S+)$/i.exec(header.trim());
    const decoded = match === null
      ? ""
      : Buffer.from(match[1], "base64").toString("utf8");
    if (decoded !== `api:${this.apiKey}`) {
      return gqlError(401, "invalid API key or credentials");
    }
    return null;
  }

  #nextId(): number {
    return ++this.#ids;
  }

  // ------------------------------------------------------------- GraphQL

  #graphql(json: unknown): Reply {
    if (!isObject(json) || typeof json.query !== "string") {
      return gqlError(
        400,
        "body must be JSON {query, variables?, operationName}",
      );
    }
    if (
      json.variables !== undefined && json.variables !== null &&
      !isObject(json.variables)
    ) {
      return gqlError(400, "variables must be an object");
    }
    const doc = new GqlParser(json.query).document();
    const wanted = typeof json.operationName === "string" &&
        json.operationName !== ""
      ? json.operationName
      : undefined;
    const op = wanted === undefined
      ? (doc.operations.length === 1 ? doc.operations[0] : undefined)
      : doc.operations.find((o) => o.name === wanted);
    if (op === undefined) {
      return gqlError(
        400,
        wanted === undefined
          ? "Must provide operation name if query contains multiple operations."
          : `Unknown operation named "${wanted}".`,
      );
    }
    const name = wanted ?? op.name;
    if (name === undefined || !OPERATIONS.has(name)) {
      return gqlError(400, `unknown operation ${name ?? "(anonymous)"}`);
    }
    const given = (json.variables ?? {}) as Json;
    const variables: Json = {};
    for (const declared of op.variables) {
      let value = given[declared.name];
      if (value === undefined && declared.default !== undefined) {
        value = resolveValue(declared.default, {
          variables: {},
          fragments: doc.fragments,
        });
      }
      if (
        (value === undefined || value === null) && declared.type.endsWith("!")
      ) {
        return gqlError(
          400,
          `Variable "$${declared.name}" of required type "${declared.type}" was not provided.`,
        );
      }
      variables[declared.name] = value ?? null;
    }
    const ctx: ExecContext = { variables, fragments: doc.fragments };
    const root = op.type === "mutation"
      ? this.#mutationRoot()
      : this.#queryRoot();
    const data = executeSelections(root, op.selections, ctx);
    return jsonReply(200, { data });
  }

  #queryRoot(): Node {
    return {
      __typename: "Query",
      viewer: () => ({
        __typename: "User",
        id: b64id("User", 1),
        entity: this.entity,
        username: "fake-user",
        email: "fake-user@example.invalid",
        name: "Fake User",
        admin: false,
        flags: "{}",
        teams: {
          edges: [{ node: { __typename: "Entity", name: this.entity } }],
        },
      }),
      serverInfo: () => ({
        __typename: "ServerInfo",
        features: FEATURES.map((name) => ({
          __typename: "ServerFeature",
          name,
          isEnabled: this.#features.has(name),
        })),
        cliVersionInfo: "{}",
        latestLocalVersionInfo: null,
      }),
      model: (a: Json) => this.#projectNode(a.entityName, a.name, false),
      project: (a: Json) => this.#projectNode(a.entityName, a.name, false),
      entity: (a: Json) => this.#entityNode(String(a.name ?? this.entity)),
      artifact: (a: Json) => {
        const artifact = this.#artifacts.get(String(a.id));
        return artifact === undefined ? null : this.#artifactNode(artifact);
      },
    };
  }

  #mutationRoot(): Node {
    return {
      __typename: "Mutation",
      upsertBucket: (a: Json) => this.#upsertBucket(input(a)),
      createRunFiles: (a: Json) => this.#createRunFiles(input(a)),
      createArtifact: (a: Json) => this.#createArtifact(input(a)),
      createArtifactManifest: (a: Json) => this.#createManifest(input(a)),
      createArtifactFiles: (a: Json) => this.#createArtifactFiles(input(a)),
      commitArtifact: (a: Json) => this.#commitArtifact(input(a)),
      useArtifact: (a: Json) => this.#useArtifact(input(a)),
      updateArtifact: (a: Json) => this.#updateArtifact(input(a)),
      addAliases: (a: Json) => this.#changeAliases(input(a), true),
      deleteAliases: (a: Json) => this.#changeAliases(input(a), false),
    };
  }

  #entityNode(name: string): Node {
    return {
      __typename: "Entity",
      id: b64id("Entity", name),
      name,
      organization: null,
    };
  }

  #projectKey(entity: unknown, project: unknown): [string, string] {
    return [
      typeof entity === "string" && entity !== "" ? entity : this.entity,
      typeof project === "string" && project !== "" ? project : "uncategorized",
    ];
  }

  #projectNode(
    entity: unknown,
    project: unknown,
    create: boolean,
  ): Node | null {
    const [e, p] = this.#projectKey(entity, project);
    const key = `${e}/${p}`;
    if (!this.#projects.has(key)) {
      if (!create) return null;
      this.#projects.set(key, { entity: e, name: p });
    }
    const runOf = (a: Json) => {
      const run = this.#runs.get(`${key}/${a.name}`);
      return run === undefined || run.deleted ? null : this.#runNode(run);
    };
    const collection = (a: Json) => {
      const c = this.#collections.get(`${key}/${a.name}`);
      return c === undefined ? null : this.#collectionNode(c);
    };
    return {
      __typename: "Project",
      id: b64id("Project", key),
      internalId: String(
        Buffer.from(key).reduce((s, b) => (s * 31 + b) % 1e9, 7),
      ),
      name: p,
      entityName: e,
      entity: () => this.#entityNode(e),
      bucket: runOf,
      run: runOf,
      artifact: (a: Json) => {
        const found = this.#resolve(e, p, String(a.name));
        return found === null ? null : this.#artifactNode(found);
      },
      artifactCollectionMembership: (a: Json) => {
        const found = this.#resolve(e, p, String(a.name));
        return found === null ? null : this.#membershipNode(found);
      },
      artifactCollection: collection,
      artifactSequence: collection,
      artifactType: (a: Json) => {
        const ofType = (b: Json) => {
          const c = this.#collections.get(`${key}/${b.name}`);
          return c === undefined || c.type !== a.name
            ? null
            : this.#collectionNode(c);
        };
        return {
          __typename: "ArtifactType",
          id: b64id("ArtifactType", `${key}/${a.name}`),
          name: a.name,
          artifactCollection: ofType,
          artifactSequence: ofType,
        };
      },
    };
  }

  // ------------------------------------------------------------- runs

  #runNode(run: RunState): Node {
    return {
      __typename: "Run",
      id: run.storageId,
      name: run.name,
      displayName: run.displayName,
      description: run.description,
      notes: run.notes,
      group: run.group,
      jobType: run.jobType,
      host: run.host,
      program: run.program,
      config: run.configText ?? "{}",
      summaryMetrics: run.summaryLine ?? "{}",
      historyLineCount: run.historyLines.length,
      eventsLineCount: run.events.length,
      logLineCount: run.output.length,
      historyTail: JSON.stringify(run.historyLines.slice(-10)),
      eventsTail: JSON.stringify(run.events.slice(-10)),
      tags: [...run.tags],
      sweepName: null,
      state: run.complete
        ? (run.exitcode === 0 || run.exitcode === null ? "finished" : "failed")
        : "running",
      stopped: run.stopped,
      createdAt: run.createdAt,
      heartbeatAt: run.lastRequestAt === null
        ? null
        : new Date(run.lastRequestAt).toISOString().slice(0, 19),
      wandbConfig: (a: Json) => {
        const internal = (run.config._wandb as Json | undefined)?.value;
        const out: Json = {};
        const keys = Array.isArray(a.keys) ? a.keys : ["t"];
        if (isObject(internal)) {
          for (const key of keys) {
            if (Object.hasOwn(internal, String(key))) {
              out[String(key)] = internal[String(key)];
            }
          }
        }
        return JSON.stringify(out);
      },
      project: () => this.#projectNode(run.entity, run.project, false),
    };
  }

  #upsertBucket(i: Json): Node {
    let run: RunState | undefined;
    if (typeof i.id === "string" && i.id !== "") {
      run = [...this.#runs.values()].find((r) => r.storageId === i.id);
      if (run === undefined) {
        throw new GqlError(`run with storage id ${i.id} not found`, 404);
      }
    }
    const [entity, project] = run === undefined
      ? this.#projectKey(i.entityName, i.modelName)
      : [run.entity, run.project];
    const name = typeof i.name === "string" && i.name !== ""
      ? i.name
      : run?.name ?? randomBytes(8).toString("hex").replace(/[^a-z0-9]/g, "")
        .slice(0, 8);
    const key = `${entity}/${project}/${name}`;
    run ??= this.#runs.get(key);
    if (run?.deleted) {
      throw new GqlError(
        `run ${key} was previously created and deleted; try a new run name`,
        409,
      );
    }
    let config: Json | undefined;
    if (typeof i.config === "string") {
      try {
        const parsed = parseLenientJson(i.config);
        if (!isObject(parsed)) throw new SyntaxError("not an object");
        config = parsed;
      } catch (error) {
        throw new GqlError(`config is not a JSON object: ${error}`);
      }
    }
    let summary: Json | undefined;
    if (typeof i.summaryMetrics === "string") {
      try {
        const parsed = parseLenientJson(i.summaryMetrics);
        if (!isObject(parsed)) throw new SyntaxError("not an object");
        summary = parsed;
      } catch (error) {
        throw new GqlError(`summaryMetrics is not a JSON object: ${error}`);
      }
    }
    if (
      i.tags !== undefined && i.tags !== null &&
      (!Array.isArray(i.tags) || i.tags.some((t) => typeof t !== "string"))
    ) {
      throw new GqlError("tags must be a list of strings");
    }
    const inserted = run === undefined;
    this.#projectNode(entity, project, true);
    if (run === undefined) {
      const num = this.#nextId();
      run = {
        entity,
        project,
        name,
        num,
        storageId: b64id("Run", num),
        displayName: `${ADJECTIVES[num % ADJECTIVES.length]}-${
          NOUNS[(num * 7) % NOUNS.length]
        }-${this.#runs.size + 1}`,
        config: {},
        configText: null,
        tags: [],
        history: [],
        historyLines: [],
        events: [],
        summary: {},
        summaryLine: null,
        output: [],
        otherFiles: new Map(),
        files: {},
        uploaded: [],
        heartbeats: 0,
        heartbeatTimes: [],
        lastRequestAt: null,
        complete: false,
        exitcode: null,
        preempting: false,
        stopped: false,
        notes: null,
        group: null,
        jobType: null,
        description: null,
        host: null,
        program: null,
        deleted: false,
        createdAt: now(),
      };
      this.#runs.set(key, run);
    }
    if (config !== undefined) {
      run.config = config;
      run.configText = i.config as string;
    }
    if (summary !== undefined) {
      run.summary = summary;
      run.summaryLine = i.summaryMetrics as string;
    }
    if (Array.isArray(i.tags)) run.tags = [...i.tags] as string[];
    if (typeof i.displayName === "string" && i.displayName !== "") {
      run.displayName = i.displayName;
    }
    if (typeof i.notes === "string") run.notes = i.notes;
    if (typeof i.groupName === "string") run.group = i.groupName;
    if (typeof i.jobType === "string") run.jobType = i.jobType;
    if (typeof i.description === "string") run.description = i.description;
    if (typeof i.host === "string") run.host = i.host;
    if (typeof i.program === "string") run.program = i.program;
    if (run.complete) {
      // An upsert of a finished run resumes it.
      run.complete = false;
      run.exitcode = null;
    }
    return {
      __typename: "UpsertBucketPayload",
      bucket: this.#runNode(run),
      inserted,
    };
  }

  #liveRun(entity: unknown, project: unknown, name: unknown): RunState {
    const [e, p] = this.#projectKey(entity, project);
    const run = this.#runs.get(`${e}/${p}/${name}`);
    if (run === undefined || run.deleted) {
      throw new GqlError(`run ${e}/${p}/${name} not found`, 404);
    }
    return run;
  }

  #createRunFiles(i: Json): Node {
    const run = this.#liveRun(i.entityName, i.projectName, i.runName);
    if (!Array.isArray(i.files) || i.files.some((f) => typeof f !== "string")) {
      throw new GqlError("files must be a list of strings");
    }
    const headers = { [UPLOAD_HEADER]: "run-file" };
    const files = (i.files as string[]).map((name) => {
      if (
        name === "" || name.startsWith("/") || name.split("/").includes("..")
      ) {
        throw new GqlError(`invalid run file name ${JSON.stringify(name)}`);
      }
      return {
        __typename: "File",
        id: b64id("File", this.#nextId()),
        name,
        uploadUrl: this.#sign(
          "PUT",
          `/storage/run-files/${run.num}/${encodePath(name)}`,
          { kind: "run-file", run, name },
          headers,
        ),
      };
    });
    return {
      __typename: "CreateRunFilesPayload",
      runID: run.storageId,
      uploadHeaders: [`${UPLOAD_HEADER}: run-file`],
      files,
    };
  }

  // ------------------------------------------------------------- file_stream

  #fileStream(record: RecordedRequest, text: string): Reply {
    const [, entity, project, name] = record.path.split("/").slice(1).map(
      decodeURIComponent,
    );
    const body = record.json;
    if (!isObject(body)) {
      throw new StreamError(
        400,
        `body is not a JSON object: ${text.slice(0, 80)}`,
      );
    }
    const run = this.#runs.get(`${entity}/${project}/${name}`);
    if (run === undefined) {
      throw new StreamError(404, `run ${entity}/${project}/${name} not found`);
    }
    if (run.deleted) {
      throw new StreamError(
        409,
        `run ${entity}/${project}/${name} was deleted`,
      );
    }
    const heartbeat = Object.keys(body).length === 0;
    if (run.complete && !heartbeat) {
      throw new StreamError(
        409,
        `run ${entity}/${project}/${name} is already finished: no data after complete`,
      );
    }
    // Check everything first: a rejected request stores nothing.
    const apply: (() => void)[] = [];
    if (body.files !== undefined) {
      if (!isObject(body.files)) {
        throw new StreamError(400, "files must be an object");
      }
      for (const [file, entry] of Object.entries(body.files)) {
        apply.push(this.#checkFile(run, file, entry));
      }
    }
    if (body.uploaded !== undefined) {
      if (
        !Array.isArray(body.uploaded) ||
        body.uploaded.some((u) => typeof u !== "string")
      ) {
        throw new StreamError(400, "uploaded must be a list of strings");
      }
    }
    if (body.complete !== undefined && typeof body.complete !== "boolean") {
      throw new StreamError(400, "complete must be a boolean");
    }
    if (
      body.exitcode !== undefined && body.exitcode !== null &&
      !Number.isInteger(body.exitcode)
    ) {
      throw new StreamError(400, "exitcode must be an integer");
    }
    for (const change of apply) change();
    for (const path of (body.uploaded ?? []) as string[]) {
      if (!run.uploaded.includes(path)) run.uploaded.push(path);
    }
    if (body.preempting === true) run.preempting = true;
    if (body.complete === true) {
      run.complete = true;
      run.exitcode = typeof body.exitcode === "number" ? body.exitcode : null;
    }
    const at = Date.now();
    if (heartbeat) {
      run.heartbeats++;
      run.heartbeatTimes.push(at);
    }
    run.lastRequestAt = at;
    const answer: Json = { exitcode: null, limits: {} };
    if (run.stopped) answer.stopped = true;
    return jsonReply(200, answer);
  }

  /** Checks one file's entry; returns how to store it. */
  #checkFile(run: RunState, file: string, entry: unknown): () => void {
    if (
      !isObject(entry) || !Number.isInteger(entry.offset) ||
      (entry.offset as number) < 0 || !Array.isArray(entry.content) ||
      entry.content.some((line) => typeof line !== "string")
    ) {
      throw new StreamError(
        400,
        `${file}: expected {offset: integer >= 0, content: [string]}`,
      );
    }
    const offset = entry.offset as number;
    const lines = entry.content as string[];
    const parseObject = (line: string, index: number): Json => {
      try {
        const value = parseLenientJson(line);
        if (isObject(value)) return value;
      } catch {
        // Answered below.
      }
      throw new StreamError(
        400,
        `${file}: line ${offset + index} is not a JSON object`,
      );
    };
    if (file === HISTORY || file === EVENTS) {
      const stored = file === HISTORY ? run.historyLines : run.events;
      const parsed = lines.map(parseObject);
      if (offset > stored.length) {
        throw new StreamError(
          400,
          `offset mismatch for ${file}: offset ${offset} leaves a gap after line ${stored.length}`,
        );
      }
      for (let k = 0; k < lines.length && offset + k < stored.length; k++) {
        if (stored[offset + k] !== lines[k]) {
          throw new StreamError(
            400,
            `offset mismatch for ${file}: line ${
              offset + k
            } is already stored with other content (stored ${stored.length} lines)`,
          );
        }
      }
      return () => {
        const start = stored.length - offset;
        for (let k = Math.max(0, start); k < lines.length; k++) {
          stored.push(lines[k]);
          if (file === HISTORY) run.history.push(parsed[k]);
        }
      };
    }
    if (file === SUMMARY) {
      if (offset !== 0 || lines.length !== 1) {
        throw new StreamError(
          400,
          `${file}: the summary is one line at offset 0 (got ${lines.length} at ${offset})`,
        );
      }
      const summary = parseObject(lines[0], 0);
      return () => {
        run.summary = summary;
        run.summaryLine = lines[0];
      };
    }
    const stored = file === OUTPUT
      ? run.output
      : run.otherFiles.get(file) ?? [];
    if (offset > stored.length) {
      throw new StreamError(
        400,
        `offset mismatch for ${file}: offset ${offset} leaves a gap after line ${stored.length}`,
      );
    }
    return () => {
      lines.forEach((line, k) => (stored[offset + k] = line));
      if (file !== OUTPUT) run.otherFiles.set(file, stored);
    };
  }

  // ------------------------------------------------------------- storage

  #sign(
    method: string,
    path: string,
    target: StorageTarget,
    headers: Record<string, string> = {},
  ): string {
    const key = `${method} ${path}`;
    const signature = randomBytes(6).toString("hex");
    const signed = this.#signed.get(key);
    if (signed === undefined) {
      this.#signed.set(key, {
        signatures: new Set([signature]),
        target,
        headers,
      });
    } else {
      signed.signatures.add(signature);
      signed.target = target;
      signed.headers = headers;
    }
    return `${this.url}${path}?X-Fake-Signature=${signature}&X-Fake-Expires=3600`;
  }

  #storage(record: RecordedRequest, url: URL, body: Uint8Array): Reply {
    if (record.headers.authorization !== undefined) {
      return storageError(
        403,
        "AccessDenied",
        "Signed URLs must not carry an Authorization header",
      );
    }
    const signed = this.#signed.get(`${record.method} ${record.path}`);
    const signature = url.searchParams.get("X-Fake-Signature");
    if (
      signed === undefined || signature === null ||
      !signed.signatures.has(signature)
    ) {
      return storageError(
        403,
        "SignatureDoesNotMatch",
        `No valid signature for ${record.method} ${record.path}`,
      );
    }
    for (const [name, value] of Object.entries(signed.headers)) {
      if (record.headers[name.toLowerCase()]?.trim() !== value) {
        return storageError(
          403,
          "SignatureDoesNotMatch",
          `Missing signed header ${name}: ${value}`,
        );
      }
    }
    const target = signed.target;
    const etag = { etag: `"${md5(body).toString("hex")}"` };
    switch (target.kind) {
      case "run-file":
        target.run.files[target.name] = body;
        return { status: 200, body: "", headers: etag };
      case "artifact-file": {
        const got = md5(body).toString("base64");
        if (got !== target.md5) {
          return storageError(
            400,
            "BadDigest",
            `The MD5 of the body (${got}) is not the declared ${target.md5}`,
          );
        }
        const blob = this.#blobs.get(`${target.entity}\0${target.md5}`);
        if (blob !== undefined) {
          blob.bytes = body;
          blob.size = body.byteLength;
        }
        return { status: 200, body: "", headers: etag };
      }
      case "manifest": {
        let manifest: unknown;
        try {
          manifest = parseLenientJson(new TextDecoder().decode(body));
        } catch {
          return storageError(400, "InvalidManifest", "not JSON");
        }
        target.artifact.manifestBytes = body;
        target.artifact.manifest = isObject(manifest) ? manifest : null;
        return { status: 200, body: "", headers: etag };
      }
      case "blob": {
        const blob = this.#blobs.get(`${target.entity}\0${target.md5}`);
        if (blob?.bytes == null) {
          return storageError(404, "NoSuchKey", "The object does not exist");
        }
        return {
          status: 200,
          body: blob.bytes,
          contentType: "application/octet-stream",
        };
      }
      case "manifest-download": {
        const bytes = target.artifact.manifestBytes;
        if (bytes === null) {
          return storageError(404, "NoSuchKey", "The object does not exist");
        }
        return { status: 200, body: bytes, contentType: "application/json" };
      }
    }
  }

  #artifactsV2(path: string): Reply {
    const parts = path.split("/").slice(2).map(decodeURIComponent);
    // region, entity, project, collection, birthArtifactID, hexMd5, name...
    if (parts.length < 7 || !/^[0-9a-f]{32}$/.test(parts[5])) {
      return jsonReply(404, { error: `not found: ${path}` });
    }
    const b64 = Buffer.from(parts[5], "hex").toString("base64");
    const blob = this.#blobs.get(`${parts[1]}\0${b64}`);
    if (blob?.bytes == null) {
      return jsonReply(404, { error: `not found: ${path}` });
    }
    return {
      status: 200,
      body: blob.bytes,
      contentType: "application/octet-stream",
    };
  }

  // ------------------------------------------------------------- artifacts

  #artifact(id: unknown): ArtifactState {
    const artifact = this.#artifacts.get(String(id));
    if (artifact === undefined) {
      throw new GqlError(`artifact ${id} not found`, 404);
    }
    return artifact;
  }

  #latest(collection: Collection): ArtifactState | null {
    let best: ArtifactState | null = null;
    for (const v of collection.versions) {
      if (
        v.state === "COMMITTED" &&
        (best === null || v.versionIndex > best.versionIndex)
      ) {
        best = v;
      }
    }
    return best;
  }

  #aliasesOf(artifact: ArtifactState): string[] {
    return [...artifact.collection.aliases]
      .filter(([, v]) => v === artifact).map(([alias]) => alias);
  }

  /** Gives `alias` to `artifact`, taking it from whichever version held it. */
  #setAlias(collection: Collection, alias: string, artifact: ArtifactState) {
    // Deleted first, so the alias is listed last: the order of last setting.
    collection.aliases.delete(alias);
    collection.aliases.set(alias, artifact);
  }

  #resolve(
    entity: string,
    project: string,
    name: string,
  ): ArtifactState | null {
    const colon = name.lastIndexOf(":");
    const collectionName = colon < 0 ? name : name.slice(0, colon);
    const alias = colon < 0 ? "latest" : name.slice(colon + 1);
    const collection = this.#collections.get(
      `${entity}/${project}/${collectionName}`,
    );
    if (collection === undefined) return null;
    const version = /^v(\d+)$/.exec(alias);
    if (version !== null) {
      return collection.versions.find((v) =>
        v.state === "COMMITTED" && v.versionIndex === Number(version[1])
      ) ?? null;
    }
    return collection.aliases.get(alias) ?? null;
  }

  #aliasNames(list: unknown): string[] {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw new GqlError("aliases must be a list");
    return list.map((item) => {
      const alias = isObject(item) ? item.alias : item;
      if (typeof alias !== "string" || alias === "") {
        throw new GqlError("an alias must be a non-empty string");
      }
      if (/^v\d+$/.test(alias)) {
        throw new GqlError(`alias ${alias} is reserved for version indexes`);
      }
      return alias;
    });
  }

  #collectionNode(c: Collection): Node {
    return {
      __typename: "ArtifactSequence",
      id: c.id,
      name: c.name,
      description: null,
      createdAt: c.createdAt,
      project: () => this.#projectNode(c.entity, c.project, false),
      defaultArtifactType: { __typename: "ArtifactType", name: c.type },
      latestArtifact: () => {
        const latest = this.#latest(c);
        return latest === null ? null : this.#artifactNode(latest);
      },
      artifactMembership: (a: Json) => {
        const found = this.#resolve(
          c.entity,
          c.project,
          `${c.name}:${a.aliasName}`,
        );
        return found === null ? null : this.#membershipNode(found);
      },
      artifacts: (a: Json) => this.#versionsConnection(c, a),
    };
  }

  /** A collection's versions, PENDING ones too, newest created first. */
  #versionsConnection(c: Collection, a: Json): Node {
    if (a.filters !== undefined && a.filters !== null) {
      throw new GqlError("artifacts(filters:) is not supported by the fake");
    }
    const order = a.order ?? "-createdAt";
    if (order !== "-createdAt" && order !== "createdAt") {
      throw new GqlError(
        `artifacts(order: ${
          JSON.stringify(order)
        }) is not supported by the fake: use "-createdAt" or "createdAt"`,
      );
    }
    const versions = order === "createdAt"
      ? [...c.versions]
      : [...c.versions].reverse();
    return connection(
      "Artifact",
      versions,
      a,
      (v) => `artifact:${v.num}`,
      (v) => ({
        version: v.state === "COMMITTED" ? `v${v.versionIndex}` : null,
        node: this.#artifactNode(v),
      }),
    );
  }

  #membershipNode(artifact: ArtifactState): Node {
    const node = this.#artifactNode(artifact);
    return {
      __typename: "ArtifactCollectionMembership",
      id: b64id("ArtifactCollectionMembership", artifact.num),
      versionIndex: artifact.versionIndex,
      createdAt: artifact.createdAt,
      aliases: node.aliases,
      artifactCollection: () => this.#collectionNode(artifact.collection),
      artifact: node,
      files: node.files,
    };
  }

  #artifactNode(artifact: ArtifactState): Node {
    const collection = () => this.#collectionNode(artifact.collection);
    return {
      __typename: "Artifact",
      id: artifact.id,
      digest: artifact.digest,
      digestAlgorithm: "MANIFEST_MD5",
      commitHash: artifact.state === "COMMITTED"
        ? artifact.digest.slice(0, 12)
        : null,
      state: artifact.state,
      size: artifact.size,
      fileCount: artifact.fileCount,
      versionIndex: artifact.versionIndex < 0 ? null : artifact.versionIndex,
      description: artifact.description,
      metadata: artifact.metadata,
      historyStep: artifact.historyStep,
      ttlDurationSeconds: -1,
      ttlIsInherited: true,
      tags: [],
      createdAt: artifact.createdAt,
      updatedAt: artifact.updatedAt,
      artifactType: {
        __typename: "ArtifactType",
        name: artifact.collection.type,
      },
      artifactSequence: collection,
      artifactCollection: collection,
      aliases: () =>
        this.#aliasesOf(artifact).map((alias) => ({
          __typename: "ArtifactAlias",
          id: b64id("ArtifactAlias", `${artifact.id}:${alias}`),
          alias,
          artifactCollectionName: artifact.collection.name,
          artifactCollection: collection,
        })),
      currentManifest: () =>
        artifact.manifestBytes === null ? null : {
          __typename: "ArtifactManifest",
          id: artifact.manifestId,
          file: this.#manifestFileNode(artifact),
        },
      files: (a: Json) => this.#filesConnection(artifact, a),
      createdBy: () =>
        artifact.creator === null || artifact.creator.deleted
          ? null
          : this.#runNode(artifact.creator),
      usedBy: (a: Json) =>
        connection(
          "Run",
          artifact.usedBy.filter((run) => !run.deleted),
          a,
          (run) => `run:${run.num}`,
          (run) => ({ node: this.#runNode(run) }),
        ),
    };
  }

  #manifestFileNode(artifact: ArtifactState): Node {
    const url = () =>
      this.#sign(
        "GET",
        `/storage/manifests/${artifact.num}/wandb_manifest.json`,
        { kind: "manifest-download", artifact },
      );
    return {
      __typename: "File",
      id: b64id("File", `manifest:${artifact.num}`),
      name: "wandb_manifest.json",
      directUrl: url,
      url,
    };
  }

  #entries(artifact: ArtifactState): [string, Json][] {
    const contents = artifact.manifest?.contents;
    if (!isObject(contents)) return [];
    return Object.entries(contents)
      .filter((entry): entry is [string, Json] =>
        isObject(entry[1]) && typeof entry[1].ref !== "string"
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  #filesConnection(artifact: ArtifactState, a: Json): Node {
    let entries = this.#entries(artifact);
    if (Array.isArray(a.names)) {
      entries = entries.filter(([path]) =>
        (a.names as unknown[]).includes(path)
      );
    }
    const start = typeof a.after === "string" && a.after !== ""
      ? Number(Buffer.from(a.after, "base64").toString().split(":")[1]) + 1
      : 0;
    const first = typeof a.first === "number" ? a.first : 100;
    const page = entries.slice(start, start + first);
    const cursor = (i: number) => Buffer.from(`cursor:${i}`).toString("base64");
    const entity = artifact.collection.entity;
    return {
      __typename: "FileConnection",
      totalCount: entries.length,
      pageInfo: {
        __typename: "PageInfo",
        hasNextPage: start + page.length < entries.length,
        endCursor: page.length === 0 ? null : cursor(start + page.length - 1),
      },
      edges: page.map(([path, entry], k) => {
        const digest = String(entry.digest);
        const url = () =>
          this.#sign(
            "GET",
            `/storage/blobs/${encodeURIComponent(entity)}/${
              Buffer.from(digest, "base64").toString("hex")
            }/${encodePath(path)}`,
            { kind: "blob", entity, md5: digest },
          );
        return {
          __typename: "FileEdge",
          cursor: cursor(start + k),
          node: {
            __typename: "File",
            id: b64id("File", `${artifact.num}:${path}`),
            name: path,
            displayName: path.split("/").pop(),
            digest,
            md5: digest,
            sizeBytes: entry.size ?? null,
            mimetype: null,
            directUrl: url,
            url,
          },
        };
      }),
    };
  }

  #createArtifact(i: Json): Node {
    const [entity, project] = this.#projectKey(i.entityName, i.projectName);
    const type = i.artifactTypeName;
    const name = i.artifactCollectionName ??
      (Array.isArray(i.artifactCollectionNames)
        ? i.artifactCollectionNames[0]
        : undefined);
    if (typeof type !== "string" || type === "") {
      throw new GqlError("artifactTypeName is required");
    }
    if (typeof name !== "string" || name === "" || /[:/]/.test(name)) {
      throw new GqlError(
        `invalid artifact collection name ${JSON.stringify(name)}`,
      );
    }
    if (typeof i.digest !== "string" || !/^[0-9a-f]{32}$/.test(i.digest)) {
      throw new GqlError(
        `digest must be 32 hex digits, got ${JSON.stringify(i.digest)}`,
      );
    }
    if (
      i.digestAlgorithm !== undefined && i.digestAlgorithm !== null &&
      i.digestAlgorithm !== "MANIFEST_MD5"
    ) {
      throw new GqlError(`unsupported digestAlgorithm ${i.digestAlgorithm}`);
    }
    const runName = typeof i.runName === "string" ? i.runName : null;
    const creator = runName === null
      ? null
      : this.#liveRun(entity, project, runName);
    const aliases = this.#aliasNames(i.aliases);
    this.#projectNode(entity, project, true);
    const key = `${entity}/${project}/${name}`;
    let collection = this.#collections.get(key);
    if (collection === undefined) {
      collection = {
        id: b64id("ArtifactSequence", this.#nextId()),
        entity,
        project,
        name,
        type,
        createdAt: now(),
        versions: [],
        aliases: new Map(),
      };
      this.#collections.set(key, collection);
    } else if (collection.type !== type) {
      throw new GqlError(
        `artifact collection ${name} has type ${collection.type}, not ${type}`,
        409,
      );
    }
    const payload = (artifact: ArtifactState) => ({
      __typename: "CreateArtifactPayload",
      artifact: this.#artifactNode(artifact),
    });
    if (i.enableDigestDeduplication !== false) {
      const same = collection.versions.filter((v) =>
        v.state === "COMMITTED" && v.digest === i.digest
      ).pop();
      if (same !== undefined) {
        for (const alias of aliases) this.#setAlias(collection, alias, same);
        return payload(same);
      }
    }
    const num = this.#nextId();
    const stamp = now();
    const artifact: ArtifactState = {
      id: b64id("Artifact", num),
      num,
      collection,
      digest: i.digest,
      state: "PENDING",
      versionIndex: -1,
      description: typeof i.description === "string" ? i.description : null,
      metadata: typeof i.metadata === "string" ? i.metadata : null,
      historyStep: typeof i.historyStep === "number" ? i.historyStep : null,
      runName,
      creator,
      usedBy: [],
      requestedAliases: aliases,
      createdAt: stamp,
      updatedAt: stamp,
      manifestId: null,
      manifestBytes: null,
      manifest: null,
      files: {},
      size: 0,
      fileCount: 0,
    };
    collection.versions.push(artifact);
    this.#artifacts.set(artifact.id, artifact);
    return payload(artifact);
  }

  #pending(id: unknown): ArtifactState {
    const artifact = this.#artifact(id);
    if (artifact.state !== "PENDING") {
      throw new GqlError(`artifact ${id} is already committed`, 409);
    }
    return artifact;
  }

  #createManifest(i: Json): Node {
    const artifact = this.#pending(i.artifactID);
    if (i.type !== undefined && i.type !== null && i.type !== "FULL") {
      throw new GqlError(
        `manifest type ${i.type} is not supported by the fake`,
      );
    }
    if (typeof i.digest !== "string") throw new GqlError("digest is required");
    const id = b64id("ArtifactManifest", this.#nextId());
    artifact.manifestId = id;
    return {
      __typename: "CreateArtifactManifestPayload",
      artifactManifest: {
        __typename: "ArtifactManifest",
        id,
        file: {
          __typename: "File",
          id: b64id("File", this.#nextId()),
          name: "wandb_manifest.json",
          uploadUrl: this.#sign(
            "PUT",
            `/storage/manifests/${artifact.num}/wandb_manifest.json`,
            { kind: "manifest", artifact },
            { [UPLOAD_HEADER]: "manifest" },
          ),
          uploadHeaders: [`${UPLOAD_HEADER}: manifest`],
        },
      },
    };
  }

  #createArtifactFiles(i: Json): Node {
    if (!Array.isArray(i.artifactFiles)) {
      throw new GqlError("artifactFiles must be a list");
    }
    const edges = i.artifactFiles.map((spec: unknown) => {
      if (
        !isObject(spec) || typeof spec.name !== "string" ||
        typeof spec.md5 !== "string"
      ) {
        throw new GqlError("each artifact file needs artifactID, name and md5");
      }
      if (Buffer.from(spec.md5, "base64").byteLength !== 16) {
        throw new GqlError(`md5 of ${spec.name} is not a base64 MD5`);
      }
      const artifact = this.#pending(spec.artifactID);
      const entity = artifact.collection.entity;
      const key = `${entity}\0${spec.md5}`;
      let blob = this.#blobs.get(key);
      if (blob === undefined) {
        blob = { bytes: null, birthArtifactId: artifact.id, size: 0 };
        this.#blobs.set(key, blob);
      }
      const stored = blob.bytes !== null;
      const hex = Buffer.from(spec.md5, "base64").toString("hex");
      return {
        __typename: "FileEdge",
        node: {
          __typename: "File",
          id: b64id("File", this.#nextId()),
          name: spec.name,
          storagePath: `fake-bucket/wandb_artifacts/${artifact.num}/${hex}`,
          uploadUrl: stored ? null : this.#sign(
            "PUT",
            `/storage/artifacts/${artifact.num}/${encodePath(spec.name)}`,
            { kind: "artifact-file", entity, md5: spec.md5 },
            { [UPLOAD_HEADER]: "artifact-file" },
          ),
          uploadHeaders: stored ? [] : [`${UPLOAD_HEADER}: artifact-file`],
          uploadMultipartUrls: null,
          artifact: this.#artifactNode(
            this.#artifacts.get(blob.birthArtifactId) ?? artifact,
          ),
        },
      };
    });
    return {
      __typename: "CreateArtifactFilesPayload",
      files: { __typename: "FileConnection", edges },
    };
  }

  #commitArtifact(i: Json): Node {
    const artifact = this.#artifact(i.artifactID);
    if (artifact.state === "PENDING") {
      if (artifact.manifestBytes === null || artifact.manifest === null) {
        throw new GqlError(
          `cannot commit artifact ${artifact.id}: no manifest was uploaded`,
        );
      }
      const contents = artifact.manifest.contents;
      if (!isObject(contents)) {
        throw new GqlError("the manifest has no contents object");
      }
      const digests: Record<string, string> = {};
      for (const [path, entry] of Object.entries(contents)) {
        if (!isObject(entry) || typeof entry.digest !== "string") {
          throw new GqlError(`manifest entry ${path} has no digest`);
        }
        digests[path] = entry.digest;
      }
      const computed = manifestDigest(digests);
      if (computed !== artifact.digest) {
        throw new GqlError(
          `digest mismatch: the manifest hashes to ${computed}, the artifact was created with ${artifact.digest}`,
        );
      }
      const files: Record<string, Uint8Array> = {};
      let size = 0;
      for (const [path, entry] of this.#entries(artifact)) {
        const blob = this.#blobs.get(
          `${artifact.collection.entity}\0${entry.digest}`,
        );
        if (blob?.bytes == null) {
          throw new GqlError(
            `cannot commit artifact ${artifact.id}: file ${path} was never uploaded`,
          );
        }
        files[path] = blob.bytes;
        size += blob.bytes.byteLength;
      }
      const collection = artifact.collection;
      artifact.versionIndex = collection.versions.filter((v) =>
        v.state === "COMMITTED"
      ).length;
      artifact.state = "COMMITTED";
      artifact.files = files;
      artifact.size = size;
      artifact.fileCount = Object.keys(files).length;
      artifact.updatedAt = now();
      for (const alias of artifact.requestedAliases) {
        this.#setAlias(collection, alias, artifact);
      }
    }
    return {
      __typename: "CommitArtifactPayload",
      artifact: this.#artifactNode(artifact),
    };
  }

  #useArtifact(i: Json): Node {
    const artifact = this.#artifact(i.artifactID);
    const run = this.#liveRun(i.entityName, i.projectName, i.runName);
    if (!artifact.usedBy.includes(run)) artifact.usedBy.push(run);
    return {
      __typename: "UseArtifactPayload",
      artifact: this.#artifactNode(artifact),
    };
  }

  #changeAliases(i: Json, add: boolean): Node {
    const artifact = this.#artifact(i.artifactID);
    if (artifact.state !== "COMMITTED") {
      throw new GqlError(`artifact ${artifact.id} is not committed`);
    }
    const collection = artifact.collection;
    for (const alias of this.#aliasNames(i.aliases)) {
      if (add) this.#setAlias(collection, alias, artifact);
      else if (collection.aliases.get(alias) === artifact) {
        collection.aliases.delete(alias);
      }
    }
    return {
      __typename: add ? "AddAliasesPayload" : "DeleteAliasesPayload",
      success: true,
    };
  }

  #updateArtifact(i: Json): Node {
    for (const [field, value] of Object.entries(i)) {
      if (!UPDATE_FIELDS.has(field) && value !== undefined && value !== null) {
        throw new GqlError(
          `updateArtifact: input field ${field} is not supported by the fake`,
        );
      }
    }
    const artifact = this.#artifact(i.artifactID);
    if (artifact.state !== "COMMITTED") {
      throw new GqlError(
        `cannot update artifact ${artifact.id}: it is ${artifact.state}, not COMMITTED`,
      );
    }
    const metadata = i.metadata ?? null;
    if (metadata !== null) {
      let parsed: unknown;
      if (typeof metadata === "string") {
        try {
          parsed = parseLenientJson(metadata);
        } catch {
          // Answered below.
        }
      }
      if (!isObject(parsed)) {
        throw new GqlError(
          `metadata must be a JSONString holding an object, got ${
            JSON.stringify(metadata).slice(0, 80)
          }`,
        );
      }
    }
    const description = i.description ?? null;
    if (description !== null && typeof description !== "string") {
      throw new GqlError("description must be a string");
    }
    if (metadata !== null) artifact.metadata = metadata as string;
    if (description !== null) artifact.description = description;
    artifact.updatedAt = now();
    return {
      __typename: "UpdateArtifactPayload",
      artifact: this.#artifactNode(artifact),
    };
  }
}

function input(args: Json): Json {
  return isObject(args.input) ? args.input : args;
}

/**
 * One page (`first`, default 100, `after`) of a connection over `items`:
 * `{totalCount, pageInfo, edges}`, each edge `{cursor, ...edgeOf(item)}`. A
 * cursor names its item (`keyOf`), not a position, so a page stays right
 * when items are added in front; an unknown cursor is 400, and so are
 * `before` and `last`.
 */
function connection<T>(
  type: string,
  items: T[],
  args: Json,
  keyOf: (item: T) => string,
  edgeOf: (item: T) => Json,
): Node {
  for (const arg of ["before", "last"]) {
    if (args[arg] !== undefined && args[arg] !== null) {
      throw new GqlError(
        `${arg} is not supported by the fake: page with first and after`,
      );
    }
  }
  const first = args.first ?? 100;
  if (!Number.isInteger(first) || (first as number) < 0) {
    throw new GqlError(
      `first must be a non-negative integer, got ${JSON.stringify(first)}`,
    );
  }
  const cursorOf = (item: T) =>
    Buffer.from(`cursor:${keyOf(item)}`).toString("base64");
  let start = 0;
  if (typeof args.after === "string" && args.after !== "") {
    const at = items.findIndex((item) => cursorOf(item) === args.after);
    if (at < 0) {
      throw new GqlError(`unknown cursor ${JSON.stringify(args.after)}`);
    }
    start = at + 1;
  } else if (
    args.after !== undefined && args.after !== null && args.after !== ""
  ) {
    throw new GqlError("after must be a cursor string");
  }
  const page = items.slice(start, start + (first as number));
  return {
    __typename: `${type}Connection`,
    totalCount: items.length,
    pageInfo: {
      __typename: "PageInfo",
      hasNextPage: start + page.length < items.length,
      endCursor: page.length === 0 ? null : cursorOf(page[page.length - 1]),
    },
    edges: page.map((item) => ({
      __typename: `${type}Edge`,
      cursor: cursorOf(item),
      ...edgeOf(item),
    })),
  };
}
