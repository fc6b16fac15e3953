// The fake W&B server (tests/helpers/fake_wandb.ts): every request of the
// captures in ../shared/reference/wandb-captures/ (recorded from the real
// wandb 0.30.0 SDK) replayed in order and accepted, with the stored runs and
// artifacts checked; strict file_stream offsets; signed URLs that refuse
// credentials; GraphQL and artifact semantics (aliases with a stored
// `latest`, version lists, UpdateArtifact, usedBy/createdBy); injected
// faults; 401s; and lenient NaN/Infinity parsing.
//
// Replay: the captures are one recording (`seq` is global), so each file is
// replayed on a fresh fake after the files it depends on, interleaved by
// `seq` as recorded. The fake's entity is set to the mock's (`mock-entity`).
// Ids the mock made up are mapped onto the fake's by walking each captured
// answer beside the fake's answer; signed URLs likewise, so PUT/GET requests
// go to the URLs (and with the upload headers) the fake handed out. Upload
// bodies are rebuilt from the captured text, binaries from their first bytes
// padded with zeros to their size.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
import {
  FakeWandb,
  type FakeWandbOptions,
  manifestDigest,
  parseLenientJson,
} from "./helpers/fake_wandb.ts";
import { ROOT } from "./helpers/runtime.ts";

const CAPTURES = join(ROOT, "..", "shared", "reference", "wandb-captures");
const MOCK_PREFIX = "http://127.0.0.1:<port>";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string>;
  bytes: Uint8Array;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

interface Send {
  method: string;
  /** Path and query, or a full URL on the fake. */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Give up (reject) after this many ms without an answer. */
  timeoutMs?: number;
}

/** One request through node:http on a fresh connection. */
function send(fake: FakeWandb, o: Send): Promise<Answer> {
  const body = typeof o.body === "string"
    ? new TextEncoder().encode(o.body)
    : o.body;
  const headers = { ...o.headers };
  if (body !== undefined) headers["Content-Length"] = String(body.byteLength);
  const path = o.path.startsWith("http")
    ? o.path.slice(new URL(o.path).origin.length)
    : o.path;
  return new Promise((resolve, reject) => {
    const request = httpRequest({
      host: "127.0.0.1",
      port: Number(new URL(fake.url).port),
      method: o.method,
      path,
      headers,
      agent: false,
    }, (response) => {
      const chunks: Uint8Array[] = [];
      response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const bytes = new Uint8Array(Buffer.concat(chunks));
        const text = new TextDecoder().decode(bytes);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          // Not JSON.
        }
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) {
            flat[name] = Array.isArray(value) ? value.join(", ") : value;
          }
        }
        resolve({
          status: response.statusCode ?? 0,
          headers: flat,
          bytes,
          text,
          json,
        });
      });
    });
    request.on("error", reject);
    if (o.timeoutMs !== undefined) {
      request.setTimeout(
        o.timeoutMs,
        () => request.destroy(new Error("request timed out")),
      );
    }
    if (body !== undefined) request.write(body);
    request.end();
  });
}

function basic(user: string, key: string): string {
  return "Basic " + Buffer.from(`${user}:${key}`).toString("base64");
}

/** A fake plus short ways to call it. */
class Api {
  readonly fake: FakeWandb;

  constructor(fake: FakeWandb) {
    this.fake = fake;
  }

  get auth(): string {
    return basic("api", this.fake.apiKey);
  }

  call(o: Send): Promise<Answer> {
    return send(this.fake, o);
  }

  gql(
    query: string,
    variables?: Record<string, unknown>,
    operationName?: string,
    auth: string | null = this.auth,
  ): Promise<Answer> {
    const name = operationName ??
      /(?:query|mutation)\s+(\w+)/.exec(query)?.[1];
    const body: Record<string, unknown> = { query, operationName: name };
    if (variables !== undefined) body.variables = variables;
    return this.call({
      method: "POST",
      path: "/graphql",
      headers: {
        "Content-Type": "application/json",
        ...(auth === null ? {} : { Authorization: auth }),
      },
      body: JSON.stringify(body),
    });
  }

  /** A GraphQL call that must answer 200 without errors; returns `data`. */
  // deno-lint-ignore no-explicit-any
  async data(query: string, variables?: Record<string, unknown>): Promise<any> {
    const answer = await this.gql(query, variables);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.errors, undefined, answer.text);
    return answer.json.data;
  }

  stream(
    run: string,
    body: unknown,
    o: { project?: string; auth?: string | null; gzip?: boolean } = {},
  ): Promise<Answer> {
    let bytes: Uint8Array | string = typeof body === "string"
      ? body
      : JSON.stringify(body);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
    };
    if (o.gzip) {
      bytes = new Uint8Array(gzipSync(bytes));
      headers["Content-Encoding"] = "gzip";
    }
    const auth = o.auth === undefined ? this.auth : o.auth;
    if (auth !== null) headers.Authorization = auth;
    return this.call({
      method: "POST",
      path: `/files/${this.fake.entity}/${
        o.project ?? "proj"
      }/${run}/file_stream`,
      headers,
      body: bytes,
    });
  }

  /** Creates (upserts) a run; returns the bucket. */
  // deno-lint-ignore no-explicit-any
  async upsert(vars: Record<string, unknown>): Promise<any> {
    const data = await this.data(UPSERT, { project: "proj", ...vars });
    return data.upsertBucket.bucket;
  }
}

async function withApi(
  fn: (api: Api) => Promise<void>,
  options?: FakeWandbOptions,
): Promise<void> {
  const fake = await FakeWandb.start(options);
  try {
    await fn(new Api(fake));
  } finally {
    await fake.close();
  }
}

function b64md5(bytes: Uint8Array | string): string {
  return createHash("md5").update(bytes).digest("base64");
}

/** The `"K: V"` upload headers as a record. */
function uploadHeaders(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (list ?? []) as string[]) {
    const colon = item.indexOf(":");
    out[item.slice(0, colon)] = item.slice(colon + 1).trim();
  }
  return out;
}

const UPSERT = `
mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $displayName: String, $config: JSONString, $tags: [String!], $notes: String, $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity, displayName: $displayName, config: $config, tags: $tags, notes: $notes, summaryMetrics: $summaryMetrics}) {
    bucket { id name displayName description config sweepName project { id name entity { id name } } historyLineCount }
    inserted
  }
}`;

const RESUME = `
query RunResumeStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    id name entity { id name }
    bucket(name: $name, missingOk: true) {
      id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount
      historyTail eventsTail config tags notes wandbConfig(keys: ["t"])
    }
  }
}`;

const RUN_FILES = `
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}`;

const CREATE_ARTIFACT = `
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state versionIndex artifactSequence { latestArtifact { id } } } }
}`;

const CREATE_MANIFEST = `
mutation CreateArtifactManifest($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest, entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType}) {
    artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } }
  }
}`;

const CREATE_FILES = `
mutation CreateArtifactFiles($artifactFiles: [CreateArtifactFileSpecInput!]!, $storageLayout: ArtifactStorageLayout!) {
  createArtifactFiles(input: {artifactFiles: $artifactFiles, storageLayout: $storageLayout}) {
    files { edges { node { storagePath uploadUrl uploadHeaders artifact { id } } } }
  }
}`;

const COMMIT = `
mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } }
}`;

const BY_NAME = `
query ArtifactByName($entity: String, $project: String, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) {
      id digest state size fileCount versionIndex description metadata createdAt
      artifactType { name }
      aliases { alias }
      currentManifest { file { directUrl } }
    }
  }
}`;

const FILE_URLS = `
query ArtifactFileURLs($id: ID!, $cursor: String, $perPage: Int) {
  artifact(id: $id) {
    files(after: $cursor, first: $perPage) {
      pageInfo { hasNextPage endCursor }
      edges { node { name directUrl } }
    }
  }
}`;

interface LogOptions {
  collection: string;
  files: Record<string, string>;
  aliases?: string[];
  /**
   * Ask for `latest` after `aliases`, as the Python client does.
   * @default {true}
   */
  latest?: boolean;
  runName?: string;
  /** Make the manifest lie about one digest. */
  tamper?: boolean;
  /** Skip uploading the files. */
  skipUpload?: boolean;
  type?: string;
}

/** Logs an artifact the way wandb-core does (wandb.md §5.2). */
async function logArtifact(
  api: Api,
  o: LogOptions,
  // deno-lint-ignore no-explicit-any
): Promise<{ id: string; state: string; commit?: Answer; edges: any[] }> {
  const runName = o.runName ?? "run1";
  const entries = Object.fromEntries(
    Object.entries(o.files).map(([path, text]) => [path, b64md5(text)]),
  );
  const digest = manifestDigest(entries);
  const created = (await api.data(CREATE_ARTIFACT, {
    input: {
      entityName: api.fake.entity,
      projectName: "proj",
      artifactTypeName: o.type ?? "dataset",
      artifactCollectionName: o.collection,
      runName,
      digest,
      digestAlgorithm: "MANIFEST_MD5",
      aliases: [
        ...(o.aliases ?? []),
        ...(o.latest === false ? [] : ["latest"]),
      ].map((alias) => ({
        artifactCollectionName: o.collection,
        alias,
      })),
      enableDigestDeduplication: true,
      metadata: JSON.stringify({ n: Object.keys(o.files).length }),
    },
  })).createArtifact.artifact;
  if (created.state === "COMMITTED") {
    return { id: created.id, state: created.state, edges: [] };
  }
  const manifestVars = {
    artifactID: created.id,
    baseArtifactID: null,
    name: "wandb_manifest.json",
    entityName: api.fake.entity,
    projectName: "proj",
    runName,
    manifestType: "FULL",
  };
  const first = await api.data(CREATE_MANIFEST, {
    ...manifestVars,
    digest: "",
    includeUpload: false,
  });
  const manifestId = first.createArtifactManifest.artifactManifest.id;
  assert.equal(
    first.createArtifactManifest.artifactManifest.file.uploadUrl,
    undefined,
  );
  const specs = Object.entries(entries).map(([name, md5]) => ({
    artifactID: created.id,
    artifactManifestID: manifestId,
    name,
    md5,
    uploadPartsInput: null,
  }));
  const edges = (await api.data(CREATE_FILES, {
    artifactFiles: specs,
    storageLayout: "V2",
  })).createArtifactFiles.files.edges;
  const contents: Record<string, unknown> = {};
  for (const [k, [path, text]] of Object.entries(o.files).entries()) {
    const node = edges[k].node;
    contents[path] = {
      digest: o.tamper && k === 0 ? b64md5("tampered") : entries[path],
      size: new TextEncoder().encode(text).byteLength,
      birthArtifactID: node.artifact.id,
    };
    if (node.uploadUrl !== null && !o.skipUpload) {
      const put = await api.call({
        method: "PUT",
        path: node.uploadUrl,
        headers: uploadHeaders(node.uploadHeaders),
        body: text,
      });
      assert.equal(put.status, 200, put.text);
    }
  }
  const manifest = JSON.stringify({
    version: 1,
    storagePolicy: "wandb-storage-policy-v1",
    storagePolicyConfig: { storageLayout: "V2" },
    contents,
  });
  const second = await api.data(CREATE_MANIFEST, {
    ...manifestVars,
    digest: b64md5(manifest),
    includeUpload: true,
  });
  const file = second.createArtifactManifest.artifactManifest.file;
  const put = await api.call({
    method: "PUT",
    path: file.uploadUrl,
    headers: uploadHeaders(file.uploadHeaders),
    body: manifest,
  });
  assert.equal(put.status, 200, put.text);
  const commit = await api.gql(COMMIT, { artifactID: created.id });
  return { id: created.id, state: created.state, commit, edges };
}

// ---------------------------------------------------------------------------
// Capture replay
// ---------------------------------------------------------------------------

interface Capture {
  seq: number;
  method: string;
  path: string;
  query: Record<string, string[]>;
  headers: Record<string, string>;
  auth: unknown;
  kind: string;
  // deno-lint-ignore no-explicit-any
  body?: any;
  // deno-lint-ignore no-explicit-any
  response: { status: number; body: any };
  // deno-lint-ignore no-explicit-any
  response_preview?: any;
}

function load(dir: string, file: string): Capture[] {
  return readFileSync(join(CAPTURES, dir, file), "utf8").split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Capture)
    .filter((c) => c.kind !== "marker");
}

interface Replay {
  answers: Map<number, Answer>;
  captures: Map<number, Capture>;
}

function substitute(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === "string") return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids));
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, substitute(v, ids)]),
  );
}

function substituteText(text: string, ids: Map<string, string>): string {
  if (ids.size === 0) return text;
  const pattern = new RegExp(
    [...ids.keys()].map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("|"),
    "g",
  );
  return text.replace(pattern, (id) => ids.get(id) ?? id);
}

interface Learned {
  ids: Map<string, string>;
  urls: Map<string, { url: string; headers: Record<string, string> }>;
}

/** Walks a captured answer beside the fake's, learning ids and URLs. */
function learn(
  captured: unknown,
  mine: unknown,
  learned: Learned,
  headers: Record<string, string> = {},
): void {
  if (Array.isArray(captured) && Array.isArray(mine)) {
    captured.forEach((c, i) => learn(c, mine[i], learned, headers));
    return;
  }
  if (typeof captured !== "object" || captured === null) return;
  if (typeof mine !== "object" || mine === null) return;
  const m = mine as Record<string, unknown>;
  const here = Array.isArray(m.uploadHeaders)
    ? uploadHeaders(m.uploadHeaders)
    : headers;
  for (const [key, c] of Object.entries(captured)) {
    const value = m[key];
    if (typeof c === "string" && typeof value === "string") {
      if (key === "id" || key === "runID") {
        if (c !== value) learned.ids.set(c, value);
      } else if (c.startsWith(MOCK_PREFIX)) {
        const path = new URL(c.replace("<port>", "1")).pathname;
        learned.urls.set(path, { url: value, headers: here });
      }
    } else {
      learn(c, value, learned, here);
    }
  }
}

function uploadBody(c: Capture, ids: Map<string, string>): Uint8Array {
  const body = c.body;
  if (typeof body.text === "string") {
    const text = c.path.includes("/manifests/")
      ? substituteText(body.text, ids)
      : body.text;
    return new TextEncoder().encode(text);
  }
  const bytes = new Uint8Array(body.size);
  bytes.set(Buffer.from(body.head_hex, "hex"));
  return bytes;
}

/** Replays the files' requests in recorded order; every one must be 200. */
async function replay(
  api: Api,
  files: string[],
  dir = "",
): Promise<Replay> {
  const captures = files.flatMap((file) => load(dir, file))
    .sort((a, b) => a.seq - b.seq);
  const learned: Learned = { ids: new Map(), urls: new Map() };
  const answers = new Map<number, Answer>();
  const byseq = new Map<number, Capture>();
  for (const c of captures) {
    const what = `${dir}${files.join("+")} seq ${c.seq} ${c.method} ${c.path}`;
    let answer: Answer;
    if (c.kind === "graphql" || c.kind === "file_stream") {
      const body = c.kind === "graphql"
        ? {
          ...c.body,
          ...(c.body.variables === undefined
            ? {}
            : { variables: substitute(c.body.variables, learned.ids) }),
        }
        : c.body;
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "User-Agent": c.headers["User-Agent"] ?? "replay",
      };
      if (c.auth !== null) headers.Authorization = api.auth;
      answer = await api.call({
        method: c.method,
        path: c.path,
        headers,
        body: JSON.stringify(body),
      });
    } else {
      const target = learned.urls.get(c.path);
      assert.ok(target, `${what}: no URL handed out for this path`);
      const headers: Record<string, string> = { "User-Agent": "replay" };
      if (c.kind === "upload") Object.assign(headers, target.headers);
      answer = await api.call({
        method: c.method,
        path: target.url,
        headers,
        body: c.kind === "upload" ? uploadBody(c, learned.ids) : undefined,
      });
    }
    assert.equal(answer.status, 200, `${what}: ${answer.text.slice(0, 300)}`);
    assert.equal(c.response.status, 200);
    if (c.kind === "graphql") {
      assert.equal(answer.json.errors, undefined, `${what}: ${answer.text}`);
      learn(c.response.body, answer.json, learned);
    }
    if (c.kind === "file_stream") {
      assert.deepEqual(answer.json, { exitcode: null, limits: {} }, what);
    }
    if (
      c.kind === "download" && c.response_preview.text_scrubbed === undefined
    ) {
      assert.equal(answer.text, c.response_preview.text, what);
    }
    answers.set(c.seq, answer);
    byseq.set(c.seq, c);
  }
  return { answers, captures: byseq };
}

const MOCK = { entity: "mock-entity" };
const RUN1 = "l5jdnefi";
const RUN2 = "a49cdteb";

describe("FakeWandb replays the captures", () => {
  it("online-run.jsonl: init, history 0..50, media and run files, finish", async () => {
    await withApi(async (api) => {
      const { answers } = await replay(api, ["online-run.jsonl"]);
      assert.equal(answers.size, 24);
      const run = api.fake.run(RUN1, "uetai-capture")!;
      assert.equal(run.entity, "mock-entity");
      assert.equal(run.displayName, "capture-run-1");
      assert.deepEqual(run.tags, ["capture", "baseline"]);
      assert.deepEqual(run.config.lr, { value: 0.01 });
      assert.deepEqual(run.config.model, { value: { layers: 3, act: "relu" } });
      assert.equal(run.historyLines.length, 51);
      assert.deepEqual(run.history.map((row) => row._step), [
        ...Array(51).keys(),
      ]);
      assert.equal(run.history[50].sample_image !== undefined, true);
      assert.equal(run.events.length, 3);
      assert.equal(run.output.length, 3);
      assert.match(run.output[2], /^ERROR .* a warning on stderr$/);
      assert.equal(run.summary.best_acc, 0.97);
      assert.equal(run.summary.final_note, "done");
      assert.equal(run.complete, true);
      assert.equal(run.exitcode, 0);
      assert.equal(Object.keys(run.files).length, 10);
      assert.equal(
        run.files["media/audio/sample_audio_50_ac6bcd824c86f23a145e.wav"]
          .byteLength,
        8044,
      );
      assert.match(
        new TextDecoder().decode(run.files["output.log"]),
        /hello from stdout/,
      );
      assert.equal(run.uploaded.length, 10);
      assert.equal(run.heartbeats, 0);
      // Upserts: one insert, then updates of the same bucket.
      const upserts = [...answers.values()].filter((a) =>
        a.json?.data?.upsertBucket
      );
      assert.deepEqual(upserts.map((a) => a.json.data.upsertBucket.inserted), [
        true,
        false,
        false,
      ]);
      assert.equal(api.fake.requests.every((r) => r.status === 200), true);
      assert.equal(
        api.fake.requests.filter((r) => r.path.startsWith("/storage/"))
          .every((r) => r.headers.authorization === undefined),
        true,
      );
    }, MOCK);
  });

  it("artifact-log.jsonl: three artifacts committed with the right digests and files", async () => {
    await withApi(async (api) => {
      const { answers, captures } = await replay(api, [
        "online-run.jsonl",
        "artifact-log.jsonl",
      ]);
      assert.equal(answers.size, 24 + 26);
      const arts = api.fake.artifacts();
      assert.deepEqual(
        arts.map((
          a,
        ) => [a.collection, a.type, a.state, a.versionIndex, a.digest]),
        [
          [
            "run-l5jdnefi-sample_table",
            "run_table",
            "COMMITTED",
            0,
            "6026cb6fd321a5ecf231350e5f6f1f19",
          ],
          [
            "run-l5jdnefi-conf_mat_table",
            "run_table",
            "COMMITTED",
            0,
            "8a8085d6f217c5b12b6faf527f2cf16d",
          ],
          [
            "capture-dataset",
            "dataset",
            "COMMITTED",
            0,
            "5cefbec687687397ebf1fc3ccec05c60",
          ],
        ],
      );
      const [dataset] = api.fake.artifacts("capture-dataset");
      assert.deepEqual(dataset.aliases, ["best", "latest"]);
      assert.equal(
        new TextDecoder().decode(dataset.files["hello.txt"]),
        "hello",
      );
      assert.equal(
        new TextDecoder().decode(dataset.files["sub/data.csv"]),
        "a,b\n1,2\n3,4\n",
      );
      assert.deepEqual(dataset.metadata, { source: "capture", rows: 2 });
      assert.equal(dataset.description, "two small files");
      assert.equal(dataset.runName, RUN1);
      // ArtifactByID (seq 39) reads back what the mock answered, field by field.
      const byId = answers.get(39)!.json.data.artifact;
      const mock = captures.get(39)!.response.body.data.artifact;
      for (
        const field of [
          "__typename",
          "versionIndex",
          "digest",
          "state",
          "size",
          "fileCount",
          "description",
          "metadata",
          "historyStep",
        ]
      ) {
        assert.deepEqual(byId[field], mock[field], field);
      }
      assert.deepEqual(byId.aliases.map((a: { alias: string }) => a.alias), [
        "best",
        "latest",
      ]);
      assert.deepEqual(Object.keys(byId), Object.keys(mock));
    }, MOCK);
  });

  it("resume-run.jsonl: resume status from what was stored, history continues at 51", async () => {
    await withApi(async (api) => {
      const { answers, captures } = await replay(api, [
        "online-run.jsonl",
        "resume-run.jsonl",
      ]);
      const status = answers.get(94)!.json.data.model.bucket;
      const mock = captures.get(94)!.response.body.data.model.bucket;
      for (
        const field of [
          "name",
          "displayName",
          "logLineCount",
          "historyLineCount",
          "eventsLineCount",
          "tags",
          "notes",
          "config",
        ]
      ) {
        assert.deepEqual(status[field], mock[field], field);
      }
      assert.deepEqual(
        JSON.parse(status.historyTail),
        JSON.parse(mock.historyTail),
      );
      assert.equal(JSON.parse(status.historyTail).length, 10);
      assert.deepEqual(
        JSON.parse(status.wandbConfig),
        JSON.parse(mock.wandbConfig),
      );
      assert.deepEqual(
        parseLenientJson(status.summaryMetrics),
        parseLenientJson(mock.summaryMetrics),
      );
      const run = api.fake.run(RUN1)!;
      assert.equal(api.fake.runs().length, 1);
      assert.equal(run.historyLines.length, 55);
      assert.deepEqual(run.history.map((row) => row._step), [
        ...Array(55).keys(),
      ]);
      assert.equal(Number.isNaN(run.history[54].nan_metric), true);
      assert.equal(run.history[54].pos_inf, Infinity);
      assert.equal(run.summary.neg_inf, -Infinity);
      assert.equal(run.output.length, 4);
      assert.match(run.output[3], /resumed run says hi$/);
      assert.equal(run.complete, true);
      assert.deepEqual(run.config.lr, { value: 0.01 });
    }, MOCK);
  });

  it("artifact-download.jsonl: use_artifact, manifest and file downloads return the bytes", async () => {
    await withApi(async (api) => {
      const { answers } = await replay(api, [
        "online-run.jsonl",
        "artifact-log.jsonl",
        "artifact-download.jsonl",
      ]);
      assert.equal(answers.get(73)!.text, "hello");
      assert.equal(answers.get(72)!.text, "a,b\n1,2\n3,4\n");
      const manifest = JSON.parse(answers.get(70)!.text);
      assert.equal(
        manifest.contents["hello.txt"].digest,
        "XUFAKrxLKna5cZ2REBfFkg==",
      );
      const membership =
        answers.get(66)!.json.data.project.artifactCollectionMembership;
      assert.equal(membership.versionIndex, 0);
      assert.deepEqual(
        membership.aliases.map((a: { alias: string }) => a.alias),
        ["best", "latest"],
      );
      assert.deepEqual(api.fake.artifacts("capture-dataset")[0].usedBy, [RUN2]);
      const run = api.fake.run(RUN2)!;
      assert.equal(run.heartbeats, 1);
      assert.equal(run.output.length, 1);
      assert.equal(run.complete, true);
      assert.equal(run.exitcode, 0);
      assert.deepEqual(Object.keys(run.files).sort(), [
        "config.yaml",
        "output.log",
        "requirements.txt",
        "wandb-metadata.json",
        "wandb-summary.json",
      ]);
    }, MOCK);
  });

  it("features-on/: all four files in recorded order", async () => {
    await withApi(async (api) => {
      const { answers } = await replay(
        api,
        [
          "online-run.jsonl",
          "artifact-log.jsonl",
          "artifact-download.jsonl",
          "resume-run.jsonl",
        ],
        "features-on/",
      );
      assert.equal(answers.size, 23 + 26 + 23 + 13);
      const run = api.fake.run(RUN1) ?? api.fake.runs()[0];
      assert.equal(run.historyLines.length, 55);
      assert.equal(
        api.fake.artifacts().every((a) => a.state === "COMMITTED"),
        true,
      );
    }, MOCK);
  });
});

// ---------------------------------------------------------------------------
// file_stream
// ---------------------------------------------------------------------------

const row = (step: number, extra = "") =>
  `{"_step":${step},"loss":${1 / (step + 1)}${extra}}`;

describe("FakeWandb file_stream", () => {
  it("history offsets are strict: a gap or a differing overlap is 400 and stores nothing", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const ok = await api.stream("r1", {
        files: {
          "wandb-history.jsonl": { offset: 0, content: [row(0), row(1)] },
        },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json, { exitcode: null, limits: {} });
      const gap = await api.stream("r1", {
        files: {
          "wandb-history.jsonl": { offset: 3, content: [row(3)] },
          "wandb-summary.json": { offset: 0, content: ['{"loss":9}'] },
        },
        uploaded: ["x.txt"],
      });
      assert.equal(gap.status, 400);
      assert.match(gap.json.error, /^offset mismatch/);
      const overlap = await api.stream("r1", {
        files: {
          "wandb-history.jsonl": {
            offset: 1,
            content: [row(1, ',"x":1'), row(2)],
          },
        },
      });
      assert.equal(overlap.status, 400);
      assert.match(overlap.json.error, /^offset mismatch/);
      const run = api.fake.run("r1")!;
      assert.equal(run.historyLines.length, 2);
      assert.deepEqual(run.summary, {});
      assert.deepEqual(run.uploaded, []);
      // An identical resend is accepted; with new lines after it, they append.
      const resend = await api.stream("r1", {
        files: {
          "wandb-history.jsonl": {
            offset: 0,
            content: [row(0), row(1), row(2)],
          },
        },
      });
      assert.equal(resend.status, 200);
      const again = await api.stream("r1", {
        files: { "wandb-history.jsonl": { offset: 1, content: [row(1)] } },
      });
      assert.equal(again.status, 200);
      assert.deepEqual(run.history.map((r) => r._step), [0, 1, 2]);
      assert.equal(run.historyLines[2], row(2));
    });
  });

  it("events are strict too; summary is one line at 0; output.log lines replace", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const ev = (t: number) => `{"system.cpu":${t},"_wandb":true}`;
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-events.jsonl": { offset: 0, content: [ev(1)] } },
        })).status,
        200,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-events.jsonl": { offset: 0, content: [ev(2)] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-events.jsonl": { offset: 2, content: [ev(2)] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-summary.json": { offset: 1, content: ["{}"] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-summary.json": { offset: 0, content: ["{}", "{}"] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: {
            "wandb-history.jsonl": { offset: 0, content: ["not json"] },
          },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-history.jsonl": { offset: -1, content: [] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 0, content: ["1 of 2", "b"] } },
        })).status,
        200,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 0, content: ["2 of 2"] } },
        })).status,
        200,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 2, content: ["c"] } },
        })).status,
        200,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 4, content: ["gap"] } },
        })).status,
        400,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-summary.json": { offset: 0, content: ['{"a":1}'] } },
        })).status,
        200,
      );
      assert.equal(
        (await api.stream("r1", {
          files: { "wandb-summary.json": { offset: 0, content: ['{"b":2}'] } },
        })).status,
        200,
      );
      const run = api.fake.run("r1")!;
      assert.deepEqual(run.events, [ev(1)]);
      assert.deepEqual(run.output, ["2 of 2", "b", "c"]);
      assert.deepEqual(run.summary, { b: 2 });
      const status =
        (await api.data(RESUME, { project: "proj", name: "r1" })).model.bucket;
      assert.equal(status.logLineCount, 3);
      assert.equal(status.eventsLineCount, 1);
      assert.equal(status.historyLineCount, 0);
      assert.equal(status.summaryMetrics, '{"b":2}');
    });
  });

  it("heartbeats, uploaded, complete, data after complete 409, stop, unknown run 404", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      assert.equal((await api.stream("r1", {})).status, 200);
      assert.equal((await api.stream("r1", {})).status, 200);
      const run = api.fake.run("r1")!;
      assert.equal(run.heartbeats, 2);
      assert.equal(run.heartbeatTimes.length, 2);
      assert.ok(run.lastRequestAt !== null && run.lastRequestAt <= Date.now());
      api.fake.stop("r1");
      const stopped = await api.stream("r1", { uploaded: ["a.txt", "b.txt"] });
      assert.deepEqual(stopped.json, {
        exitcode: null,
        limits: {},
        stopped: true,
      });
      const done = await api.stream("r1", {
        uploaded: ["a.txt"],
        complete: true,
        exitcode: 3,
      });
      assert.equal(done.status, 200);
      assert.deepEqual(run.uploaded, ["a.txt", "b.txt"]);
      assert.equal(run.complete, true);
      assert.equal(run.exitcode, 3);
      const late = await api.stream("r1", {
        files: { "output.log": { offset: 0, content: ["late"] } },
      });
      assert.equal(late.status, 409);
      assert.deepEqual(run.output, []);
      assert.equal((await api.stream("nope", {})).status, 404);
      const stop = await api.data(
        `query RunStoppedStatus($entityName: String, $projectName: String, $runId: String!) {
          project(name: $projectName, entityName: $entityName) { run(name: $runId) { stopped } }
        }`,
        { projectName: "proj", runId: "r1" },
      );
      assert.equal(stop.project.run.stopped, true);
    });
  });
});

describe("FakeWandb lenient NaN / Infinity", () => {
  it("parses bare NaN, Infinity and -Infinity, and rejects what is not JSON", () => {
    const value = parseLenientJson(
      '{"a":NaN,"b":[Infinity,-Infinity,-1.5e+3],"c":{"d":"NaN"},"e":null}',
    ) as Record<string, unknown>;
    assert.equal(Number.isNaN(value.a), true);
    assert.deepEqual(value.b, [Infinity, -Infinity, -1500]);
    assert.deepEqual(value.c, { d: "NaN" });
    assert.equal(value.e, null);
    for (const bad of ["{a:1}", "[1,]", "nan", '{"a":1} x', ""]) {
      assert.throws(() => parseLenientJson(bad), SyntaxError, bad);
    }
  });

  it("file_stream keeps NaN rows (also gzipped, and NaN in the body itself)", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const line = '{"_step":0,"m":NaN,"p":Infinity,"n":-Infinity}';
      const answer = await api.stream("r1", {
        files: {
          "wandb-history.jsonl": { offset: 0, content: [line] },
          "wandb-summary.json": { offset: 0, content: ['{"m":NaN}'] },
        },
      }, { gzip: true });
      assert.equal(answer.status, 200, answer.text);
      const raw = await api.stream(
        "r1",
        '{"files":{"wandb-history.jsonl":{"offset":1,"content":["{\\"_step\\":1}"]}},"exitcode":null,"x":NaN}',
      );
      assert.equal(raw.status, 200, raw.text);
      const run = api.fake.run("r1")!;
      assert.deepEqual(run.historyLines[0], line);
      assert.equal(Number.isNaN(run.history[0].m), true);
      assert.equal(run.history[0].p, Infinity);
      assert.equal(run.history[0].n, -Infinity);
      assert.equal(Number.isNaN(run.summary.m), true);
      assert.equal(run.history[1]._step, 1);
    });
  });
});

// ---------------------------------------------------------------------------
// GraphQL and runs
// ---------------------------------------------------------------------------

describe("FakeWandb GraphQL", () => {
  it("Viewer, ServerFeaturesQuery (no variables key), only the fields asked for", async () => {
    await withApi(async (api) => {
      const viewer = await api.data(
        "query Viewer { viewer { entity username } }",
      );
      assert.deepEqual(viewer, {
        viewer: { entity: "fake-entity", username: "fake-user" },
      });
      const features = await api.data(
        "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }",
      );
      const gzip = features.serverInfo.features.find((f: { name: string }) =>
        f.name === "FILESTREAM_GZIP"
      );
      assert.deepEqual(gzip, { name: "FILESTREAM_GZIP", isEnabled: true });
      assert.match(api.fake.apiKey, /^fake-wandb-key-[\w-]{40}$/);
    }, { features: ["FILESTREAM_GZIP"] });
  });

  it("rejects unknown operations, unknown fields and missing required variables; ignores undeclared ones", async () => {
    await withApi(async (api) => {
      const unknown = await api.gql("query Nope { viewer { id } }");
      assert.equal(unknown.status, 400);
      assert.match(unknown.json.errors[0].message, /^unknown operation Nope/);
      const field = await api.gql("query Viewer { viewer { shoeSize } }");
      assert.equal(field.status, 400);
      assert.match(
        field.json.errors[0].message,
        /Cannot query field "shoeSize" on type "User"/,
      );
      const missing = await api.gql(RESUME, { project: "proj" });
      assert.equal(missing.status, 400);
      assert.match(missing.json.errors[0].message, /\$name/);
      const syntax = await api.gql(
        "query Viewer { viewer { id }",
        undefined,
        "Viewer",
      );
      assert.equal(syntax.status, 400);
      const extra = await api.gql(RESUME, {
        project: "proj",
        name: "x",
        usedAs: null,
      });
      assert.equal(extra.status, 200);
      assert.deepEqual(extra.json.data, { model: null });
      // The operation named by the query text when operationName is "".
      const anonymous = await api.gql(
        "query Viewer { viewer { entity } }",
        undefined,
        "",
      );
      assert.equal(anonymous.status, 200);
      assert.equal(api.fake.requests.at(-1)!.operationName, "Viewer");
    });
  });

  it("UpsertBucket creates, updates (config replaced whole), resumes by storage id; deleted names 409", async () => {
    await withApi(async (api) => {
      const first = await api.data(UPSERT, {
        name: "r1",
        project: "proj",
        config: JSON.stringify({
          lr: { value: 0.1 },
          _wandb: { value: { t: { "1": 2 } } },
        }),
        tags: ["a"],
      });
      const bucket = first.upsertBucket.bucket;
      assert.equal(first.upsertBucket.inserted, true);
      assert.match(bucket.displayName, /^[a-z]+-[a-z]+-\d+$/);
      assert.deepEqual(bucket.project, {
        id: bucket.project.id,
        name: "proj",
        entity: { id: bucket.project.entity.id, name: "fake-entity" },
      });
      assert.equal(bucket.historyLineCount, 0);
      const second = await api.data(UPSERT, {
        name: "r1",
        project: "proj",
        entity: "fake-entity",
        config: JSON.stringify({ bs: { value: 32 } }),
      });
      assert.equal(second.upsertBucket.inserted, false);
      assert.equal(second.upsertBucket.bucket.id, bucket.id);
      const run = api.fake.run("r1")!;
      assert.deepEqual(run.config, { bs: { value: 32 } });
      assert.deepEqual(run.tags, ["a"]);
      let status =
        (await api.data(RESUME, { project: "proj", name: "r1" })).model.bucket;
      assert.equal(status.wandbConfig, "{}");
      await api.data(UPSERT, {
        id: bucket.id,
        config: JSON.stringify({ _wandb: { value: { t: { "3": [1] } } } }),
      });
      status =
        (await api.data(RESUME, { project: "proj", name: "r1" })).model.bucket;
      assert.deepEqual(JSON.parse(status.wandbConfig), { t: { "3": [1] } });
      assert.equal(status.historyTail, "[]");
      api.fake.deleteRun("r1");
      const again = await api.gql(UPSERT, { name: "r1", project: "proj" });
      assert.equal(again.status, 409);
      assert.equal(
        again.json.errors[0].message,
        "run fake-entity/proj/r1 was previously created and deleted; try a new run name",
      );
      assert.deepEqual(
        (await api.data(RESUME, { project: "proj", name: "r1" })).model.bucket,
        null,
      );
    });
  });

  it("CreateRunFiles: signed PUT URLs store run files; unknown run 404", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const data = await api.data(RUN_FILES, {
        entity: api.fake.entity,
        project: "proj",
        run: "r1",
        files: ["media/images/a.png", "config.yaml"],
      });
      const created = data.createRunFiles;
      assert.equal(created.runID, api.fake.run("r1")!.storageId);
      assert.deepEqual(created.files.map((f: { name: string }) => f.name), [
        "media/images/a.png",
        "config.yaml",
      ]);
      const put = await api.call({
        method: "PUT",
        path: created.files[0].uploadUrl,
        headers: uploadHeaders(created.uploadHeaders),
        body: "png!",
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(
        new TextDecoder().decode(
          api.fake.run("r1")!.files["media/images/a.png"],
        ),
        "png!",
      );
      const none = await api.gql(RUN_FILES, {
        entity: api.fake.entity,
        project: "proj",
        run: "zz",
        files: ["a"],
      });
      assert.equal(none.status, 404);
    });
  });
});

// ---------------------------------------------------------------------------
// Signed URLs
// ---------------------------------------------------------------------------

describe("FakeWandb signed storage URLs", () => {
  it("refuse Authorization, a missing upload header and a wrong signature", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const { createRunFiles } = await api.data(RUN_FILES, {
        entity: api.fake.entity,
        project: "proj",
        run: "r1",
        files: ["f.txt"],
      });
      const url: string = createRunFiles.files[0].uploadUrl;
      const headers = uploadHeaders(createRunFiles.uploadHeaders);
      assert.deepEqual(headers, { "X-Fake-Upload": "run-file" });
      const withAuth = await api.call({
        method: "PUT",
        path: url,
        headers: { ...headers, Authorization: api.auth },
        body: "x",
      });
      assert.equal(withAuth.status, 403);
      assert.match(withAuth.text, /Authorization/);
      const noHeader = await api.call({ method: "PUT", path: url, body: "x" });
      assert.equal(noHeader.status, 403);
      const badSig = await api.call({
        method: "PUT",
        path: url.replace(/Signature=\w+/, "Signature=000"),
        headers,
        body: "x",
      });
      assert.equal(badSig.status, 403);
      assert.equal(api.fake.run("r1")!.files["f.txt"], undefined);
      // Downloads too.
      await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "hello" },
        runName: "r1",
      });
      const art =
        (await api.data(BY_NAME, { project: "proj", name: "ds:latest" }))
          .project.artifact;
      const manifestUrl = art.currentManifest.file.directUrl;
      assert.equal(
        (await api.call({
          method: "GET",
          path: manifestUrl,
          headers: { Authorization: api.auth },
        })).status,
        403,
      );
      const manifest = await api.call({ method: "GET", path: manifestUrl });
      assert.equal(manifest.status, 200);
      assert.equal(manifest.json.contents["a.txt"].digest, b64md5("hello"));
    });
  });
});

// ---------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------

describe("FakeWandb artifacts", () => {
  it("log, commit, resolve by alias and vN, download every file through paged URLs", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const files = { "b.txt": "bee", "a.txt": "hello", "sub/c.csv": "1,2\n" };
      const v0 = await logArtifact(api, {
        collection: "ds",
        files,
        aliases: ["best"],
      });
      assert.equal(v0.state, "PENDING");
      assert.equal(v0.commit!.status, 200, v0.commit!.text);
      assert.equal(
        v0.commit!.json.data.commitArtifact.artifact.digest,
        manifestDigest(
          Object.fromEntries(
            Object.entries(files).map(([p, t]) => [p, b64md5(t)]),
          ),
        ),
      );
      for (const name of ["ds", "ds:latest", "ds:v0", "ds:best"]) {
        const art =
          (await api.data(BY_NAME, { project: "proj", name })).project.artifact;
        assert.equal(art.id, v0.id, name);
        assert.equal(art.versionIndex, 0);
        assert.equal(art.state, "COMMITTED");
        assert.equal(art.fileCount, 3);
        assert.equal(art.size, 3 + 5 + 4);
        assert.equal(art.artifactType.name, "dataset");
        assert.deepEqual(art.aliases.map((a: { alias: string }) => a.alias), [
          "best",
          "latest",
        ]);
        assert.equal(art.metadata, '{"n":3}');
      }
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:v1" })).project
          .artifact,
        null,
      );
      const got: Record<string, string> = {};
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const page:
          & { hasNextPage: boolean; endCursor: string | null }
          & Record<string, unknown> =
            (await api.data(FILE_URLS, { id: v0.id, cursor, perPage: 2 }))
              .artifact.files;
        pages++;
        for (
          const { node } of page.edges as {
            node: { name: string; directUrl: string };
          }[]
        ) {
          const body = await api.call({ method: "GET", path: node.directUrl });
          assert.equal(body.status, 200);
          got[node.name] = body.text;
        }
        const info = page.pageInfo as {
          hasNextPage: boolean;
          endCursor: string;
        };
        if (!info.hasNextPage) break;
        cursor = info.endCursor;
      }
      assert.equal(pages, 2);
      assert.deepEqual(got, files);
      // The artifactsV2 fallback needs Basic auth.
      const hex = createHash("md5").update("hello").digest("hex");
      const v2 = `/artifactsV2/default/${api.fake.entity}/proj/ds/${
        encodeURIComponent(v0.id)
      }/${hex}/a.txt`;
      assert.equal((await api.call({ method: "GET", path: v2 })).status, 401);
      const fallback = await api.call({
        method: "GET",
        path: v2,
        headers: { Authorization: api.auth },
      });
      assert.equal(fallback.status, 200);
      assert.equal(fallback.text, "hello");
    });
  });

  it("dedup: the same digest returns the committed version; known content gets uploadUrl null", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "hello" },
      });
      const again = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "hello" },
        aliases: ["prod"],
      });
      assert.equal(again.state, "COMMITTED");
      assert.equal(again.id, v0.id);
      assert.deepEqual(api.fake.artifacts("ds").map((a) => a.aliases), [[
        "prod",
        "latest",
      ]]);
      const v1 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "hello", "b.txt": "new" },
      });
      assert.equal(v1.commit!.status, 200, v1.commit!.text);
      assert.equal(v1.edges[0].node.uploadUrl, null);
      assert.equal(v1.edges[0].node.artifact.id, v0.id);
      assert.notEqual(v1.edges[1].node.uploadUrl, null);
      assert.equal(v1.edges[1].node.artifact.id, v1.id);
      const versions = api.fake.artifacts("ds");
      assert.deepEqual(versions.map((a) => [a.versionIndex, a.aliases]), [[0, [
        "prod",
      ]], [1, ["latest"]]]);
      assert.equal(
        new TextDecoder().decode(versions[1].files["a.txt"]),
        "hello",
      );
    });
  });

  it("commit checks the digest and the uploads; a pending version has no alias; latest moves at commit", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const bad = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "x" },
        tamper: true,
      });
      assert.equal(bad.commit!.status, 400);
      assert.match(bad.commit!.json.errors[0].message, /digest mismatch/);
      const missing = await logArtifact(api, {
        collection: "ds",
        files: { "m.txt": "never" },
        skipUpload: true,
      });
      assert.equal(missing.commit!.status, 400);
      assert.match(missing.commit!.json.errors[0].message, /never uploaded/);
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:latest" }))
          .project.artifact,
        null,
      );
      assert.deepEqual(
        api.fake.artifacts("ds").map((a) => [a.state, a.versionIndex]),
        [["PENDING", -1], ["PENDING", -1]],
      );
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "1" },
        aliases: ["best"],
      });
      const v1 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "2" },
        aliases: ["best"],
      });
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:latest" }))
          .project.artifact.id,
        v1.id,
      );
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:best" })).project
          .artifact.id,
        v1.id,
      );
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:v0" })).project
          .artifact.id,
        v0.id,
      );
      // Committing again is harmless; a manifest for a committed version is refused.
      assert.equal((await api.gql(COMMIT, { artifactID: v0.id })).status, 200);
      const late = await api.gql(CREATE_MANIFEST, {
        artifactID: v0.id,
        baseArtifactID: null,
        name: "wandb_manifest.json",
        digest: "",
        entityName: api.fake.entity,
        projectName: "proj",
        runName: "run1",
        manifestType: "FULL",
        includeUpload: false,
      });
      assert.equal(late.status, 409);
      // AddAliases / DeleteAliases.
      const aliasVars = (alias: string, id: string) => ({
        artifactID: id,
        aliases: [{
          artifactCollectionName: "ds",
          alias,
          entityName: api.fake.entity,
          projectName: "proj",
        }],
      });
      await api.data(
        `mutation AddAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) { addAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success } }`,
        aliasVars("best", v0.id),
      );
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:best" })).project
          .artifact.id,
        v0.id,
      );
      await api.data(
        `mutation DeleteAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) { deleteAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success } }`,
        aliasVars("best", v0.id),
      );
      assert.equal(
        (await api.data(BY_NAME, { project: "proj", name: "ds:best" })).project
          .artifact,
        null,
      );
      const reserved = await api.gql(
        `mutation AddAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) { addAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success } }`,
        aliasVars("v7", v0.id),
      );
      assert.equal(reserved.status, 400);
      // UseArtifact records the consumer run.
      await api.upsert({ name: "reader" });
      await api.data(
        `mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!, $artifactID: ID!) {
          useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName, artifactID: $artifactID}) { artifact { id } }
        }`,
        {
          entityName: api.fake.entity,
          projectName: "proj",
          runName: "reader",
          artifactID: v1.id,
        },
      );
      assert.deepEqual(
        api.fake.artifacts("ds").find((a) => a.id === v1.id)!.usedBy,
        ["reader"],
      );
    });
  });

  it("an artifact file whose bytes do not match the declared MD5 is refused", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const created = (await api.data(CREATE_ARTIFACT, {
        input: {
          projectName: "proj",
          artifactTypeName: "dataset",
          artifactCollectionName: "ds",
          runName: "run1",
          digest: "0".repeat(32),
        },
      })).createArtifact.artifact;
      const edges = (await api.data(CREATE_FILES, {
        artifactFiles: [{
          artifactID: created.id,
          artifactManifestID: null,
          name: "a.txt",
          md5: b64md5("hello"),
        }],
        storageLayout: "V2",
      })).createArtifactFiles.files.edges;
      const node = edges[0].node;
      const put = await api.call({
        method: "PUT",
        path: node.uploadUrl,
        headers: uploadHeaders(node.uploadHeaders),
        body: "HELLO",
      });
      assert.equal(put.status, 400);
      assert.match(put.text, /BadDigest/);
      const wrongType = await api.gql(CREATE_ARTIFACT, {
        input: {
          projectName: "proj",
          artifactTypeName: "model",
          artifactCollectionName: "ds",
          digest: "1".repeat(32),
        },
      });
      assert.equal(wrongType.status, 409);
    });
  });
});

// ---------------------------------------------------------------------------
// latest as a stored alias, version lists, UpdateArtifact, usedBy/createdBy
// ---------------------------------------------------------------------------

const ADD_ALIASES = `
mutation AddAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) {
  addAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success }
}`;

const DELETE_ALIASES = `
mutation DeleteAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) {
  deleteAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success }
}`;

const USE_ARTIFACT = `
mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!, $artifactID: ID!) {
  useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName, artifactID: $artifactID}) { artifact { id } }
}`;

const VERSIONS = `
query ArtifactVersions($entity: String, $project: String!, $collection: String!, $first: Int, $cursor: String, $order: String) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      latestArtifact { id }
      artifacts(first: $first, after: $cursor, order: $order) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id state versionIndex digest aliases { alias } } }
      }
    }
  }
}`;

/** The Python public API's version list (`ArtifactCollection.artifacts()`). */
const PROJECT_ARTIFACTS = `
query ProjectArtifacts($entity: String!, $project: String!, $type: String!, $collection: String!, $cursor: String, $perPage: Int = 50, $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $collection) {
        name
        artifacts(filters: $filters, after: $cursor, first: $perPage, order: $order) {
          totalCount
          edges { version cursor node { id versionIndex state } }
          pageInfo { endCursor hasNextPage }
        }
      }
    }
  }
}`;

const UPDATE_ARTIFACT = `
mutation UpdateArtifact($artifactID: ID!, $description: String, $metadata: JSONString) {
  updateArtifact(input: {artifactID: $artifactID, description: $description, metadata: $metadata}) {
    artifact { id metadata description }
  }
}`;

const USED_BY = `
query ArtifactUsedBy($id: ID!, $first: Int, $after: String) {
  artifact(id: $id) {
    usedBy(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { name displayName project { name entityName } } }
    }
  }
}`;

const CREATED_BY = `
query ArtifactCreatedBy($id: ID!) {
  artifact(id: $id) {
    createdBy {
      __typename
      ... on Run { name displayName project { name entityName } }
    }
  }
}`;

function aliasNames(artifact: { aliases: { alias: string }[] }): string[] {
  return artifact.aliases.map((a) => a.alias);
}

/** `project.artifact(name:)` → `{id, aliases}` or `null`. */
async function resolveName(
  api: Api,
  name: string,
): Promise<{ id: string; aliases: string[] } | null> {
  const art = (await api.data(BY_NAME, { project: "proj", name })).project
    .artifact;
  return art === null ? null : { id: art.id, aliases: aliasNames(art) };
}

/** Creates a version and leaves it PENDING; returns its id. */
async function createPending(
  api: Api,
  collection: string,
  content: string,
  aliases: string[] = [],
): Promise<string> {
  return (await api.data(CREATE_ARTIFACT, {
    input: {
      projectName: "proj",
      artifactTypeName: "dataset",
      artifactCollectionName: collection,
      digest: manifestDigest({ "a.txt": b64md5(content) }),
      aliases: aliases.map((alias) => ({
        artifactCollectionName: collection,
        alias,
      })),
    },
  })).createArtifact.artifact.id;
}

function aliasInput(alias: string) {
  return [{
    artifactCollectionName: "ds",
    alias,
    entityName: "fake-entity",
    projectName: "proj",
  }];
}

describe("FakeWandb artifact aliases, versions, updates and lineage", () => {
  it("latest is a stored alias: only when asked; moves at commit, on a dedup hit and by AddAliases; a bare name means :latest", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
      });
      assert.equal((await resolveName(api, "ds"))!.id, v0.id);
      // v1 does not ask for latest: it stays with v0, whatever is newest.
      const v1 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "1" },
        aliases: ["candidate"],
        latest: false,
      });
      assert.equal(v1.commit!.status, 200, v1.commit!.text);
      assert.deepEqual(await resolveName(api, "ds"), {
        id: v0.id,
        aliases: ["latest"],
      });
      assert.equal((await resolveName(api, "ds:latest"))!.id, v0.id);
      assert.deepEqual(await resolveName(api, "ds:v1"), {
        id: v1.id,
        aliases: ["candidate"],
      });
      const collection = (await api.data(VERSIONS, {
        project: "proj",
        collection: "ds",
        first: 0,
      })).project.artifactCollection;
      assert.equal(collection.latestArtifact.id, v1.id);
      // AddAliases moves latest.
      await api.data(ADD_ALIASES, {
        artifactID: v1.id,
        aliases: aliasInput("latest"),
      });
      assert.deepEqual(await resolveName(api, "ds"), {
        id: v1.id,
        aliases: ["candidate", "latest"],
      });
      assert.deepEqual(api.fake.artifacts("ds").map((a) => a.aliases), [
        [],
        ["candidate", "latest"],
      ]);
      // A dedup hit asking for latest (and prod) moves them to the old version.
      const again = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
        aliases: ["prod"],
      });
      assert.deepEqual([again.id, again.state], [v0.id, "COMMITTED"]);
      assert.deepEqual(api.fake.artifacts("ds").map((a) => a.aliases), [
        ["prod", "latest"],
        ["candidate"],
      ]);
      assert.equal((await resolveName(api, "ds"))!.id, v0.id);
      // A dedup hit without latest leaves it where it is.
      const hit = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "1" },
        aliases: ["best"],
        latest: false,
      });
      assert.equal(hit.id, v1.id);
      assert.deepEqual(api.fake.artifacts("ds").map((a) => a.aliases), [
        ["prod", "latest"],
        ["candidate", "best"],
      ]);
      // A pending version asking for latest has none until it commits.
      const pending = await createPending(api, "ds", "2", ["latest"]);
      assert.deepEqual(
        api.fake.artifacts("ds").find((a) => a.id === pending)!.aliases,
        [],
      );
      assert.equal((await resolveName(api, "ds"))!.id, v0.id);
      const v2 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "3" },
      });
      assert.deepEqual(await resolveName(api, "ds"), {
        id: v2.id,
        aliases: ["latest"],
      });
      assert.deepEqual((await resolveName(api, "ds:v2"))!.id, v2.id);
      // DeleteAliases drops latest: a bare name no longer resolves.
      await api.data(DELETE_ALIASES, {
        artifactID: v2.id,
        aliases: aliasInput("latest"),
      });
      assert.equal(await resolveName(api, "ds"), null);
      assert.equal(await resolveName(api, "ds:latest"), null);
      assert.equal((await resolveName(api, "ds:v0"))!.id, v0.id);
      // Still refused: vN, and aliases on a pending version.
      const reserved = await api.gql(ADD_ALIASES, {
        artifactID: v0.id,
        aliases: aliasInput("v1"),
      });
      assert.equal(reserved.status, 400);
      const onPending = await api.gql(ADD_ALIASES, {
        artifactID: pending,
        aliases: aliasInput("latest"),
      });
      assert.equal(onPending.status, 400);
    });
  });

  it("artifactCollection.artifacts lists every version newest first, PENDING ones too, in pages", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
        aliases: ["best"],
      });
      const v1 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "1" },
      });
      const pending = await createPending(api, "ds", "p");
      const page = (vars: Record<string, unknown>) =>
        api.data(VERSIONS, { project: "proj", collection: "ds", ...vars });
      const first = (await page({ first: 2 })).project.artifactCollection
        .artifacts;
      assert.equal(first.totalCount, 3);
      assert.equal(first.pageInfo.hasNextPage, true);
      assert.equal(first.pageInfo.endCursor, first.edges[1].cursor);
      assert.deepEqual(
        first.edges.map((e: { node: unknown }) => e.node),
        [
          {
            id: pending,
            state: "PENDING",
            versionIndex: null,
            digest: manifestDigest({ "a.txt": b64md5("p") }),
            aliases: [],
          },
          {
            id: v1.id,
            state: "COMMITTED",
            versionIndex: 1,
            digest: manifestDigest({ "a.txt": b64md5("1") }),
            aliases: [{ alias: "latest" }],
          },
        ],
      );
      // A version created between pages does not shift the next page.
      await createPending(api, "ds", "q");
      const second = (await page({
        first: 2,
        cursor: first.pageInfo.endCursor,
      })).project.artifactCollection.artifacts;
      assert.equal(second.totalCount, 4);
      assert.deepEqual(
        second.edges.map((e: { node: { id: string } }) => e.node.id),
        [v0.id],
      );
      assert.deepEqual(second.pageInfo, {
        hasNextPage: false,
        endCursor: second.edges[0].cursor,
      });
      assert.deepEqual(
        aliasNames(second.edges[0].node),
        ["best"],
      );
      // Oldest first on request; other orders and unknown cursors are 400.
      const oldest = (await page({ order: "createdAt" })).project
        .artifactCollection.artifacts;
      assert.deepEqual(
        oldest.edges.map((e: { node: { id: string } }) => e.node.id).slice(
          0,
          3,
        ),
        [v0.id, v1.id, pending],
      );
      const badOrder = await api.gql(VERSIONS, {
        project: "proj",
        collection: "ds",
        order: "name",
      });
      assert.equal(badOrder.status, 400);
      assert.match(badOrder.json.errors[0].message, /order/);
      const badCursor = await api.gql(VERSIONS, {
        project: "proj",
        collection: "ds",
        cursor: "bm9wZQ==",
      });
      assert.equal(badCursor.status, 400);
      assert.match(badCursor.json.errors[0].message, /cursor/);
      assert.equal(
        (await api.data(VERSIONS, { project: "proj", collection: "nope" }))
          .project.artifactCollection,
        null,
      );
      // The Python public API's form, under the artifact type.
      const sdk = await api.data(PROJECT_ARTIFACTS, {
        entity: api.fake.entity,
        project: "proj",
        type: "dataset",
        collection: "ds",
        cursor: null,
        order: null,
        filters: null,
      });
      const listed = sdk.project.artifactType.artifactCollection.artifacts;
      assert.equal(listed.totalCount, 4);
      assert.deepEqual(
        listed.edges.map((e: { version: string | null }) => e.version),
        [null, null, "v1", "v0"],
      );
      assert.equal(listed.pageInfo.hasNextPage, false);
      const otherType = await api.data(PROJECT_ARTIFACTS, {
        entity: api.fake.entity,
        project: "proj",
        type: "model",
        collection: "ds",
      });
      assert.equal(otherType.project.artifactType.artifactCollection, null);
    });
  });

  it("UpdateArtifact sets description and metadata of a committed version; null keeps; PENDING and non-object metadata are 400", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1" });
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
      });
      const described = await api.data(UPDATE_ARTIFACT, {
        artifactID: v0.id,
        description: "first version",
      });
      assert.deepEqual(described.updateArtifact.artifact, {
        id: v0.id,
        metadata: '{"n":1}',
        description: "first version",
      });
      const updated = await api.data(UPDATE_ARTIFACT, {
        artifactID: v0.id,
        metadata: '{"rows":2,"nested":{"a":[1]}}',
        description: null,
      });
      assert.deepEqual(updated.updateArtifact.artifact, {
        id: v0.id,
        metadata: '{"rows":2,"nested":{"a":[1]}}',
        description: "first version",
      });
      const stored = api.fake.artifacts("ds")[0];
      assert.deepEqual(stored.metadata, { rows: 2, nested: { a: [1] } });
      assert.equal(stored.description, "first version");
      const read =
        (await api.data(BY_NAME, { project: "proj", name: "ds:v0" })).project
          .artifact;
      assert.equal(read.metadata, '{"rows":2,"nested":{"a":[1]}}');
      assert.equal(read.description, "first version");
      // Metadata that is not a JSON object is refused, naming it.
      for (const metadata of ["[1,2]", '"text"', "not json", "3", 3]) {
        const bad = await api.gql(UPDATE_ARTIFACT, {
          artifactID: v0.id,
          metadata,
          description: "never stored",
        });
        assert.equal(bad.status, 400, String(metadata));
        assert.match(bad.json.errors[0].message, /metadata/);
      }
      assert.deepEqual(api.fake.artifacts("ds")[0].metadata, {
        rows: 2,
        nested: { a: [1] },
      });
      assert.equal(api.fake.artifacts("ds")[0].description, "first version");
      // A PENDING version cannot be updated; an unknown one is 404.
      const pending = await createPending(api, "ds", "p");
      const early = await api.gql(UPDATE_ARTIFACT, {
        artifactID: pending,
        description: "too early",
      });
      assert.equal(early.status, 400);
      assert.match(early.json.errors[0].message, /PENDING/);
      assert.equal(
        api.fake.artifacts("ds").find((a) => a.id === pending)!.description,
        null,
      );
      const unknown = await api.gql(UPDATE_ARTIFACT, {
        artifactID: "QXJ0aWZhY3Q6OTk5",
        description: "x",
      });
      assert.equal(unknown.status, 404);
      // Input fields the fake does not apply are refused, not ignored.
      const ttl = await api.gql(
        `mutation UpdateArtifact($artifactID: ID!) { updateArtifact(input: {artifactID: $artifactID, ttlDurationSeconds: 60}) { artifact { id } } }`,
        { artifactID: v0.id },
      );
      assert.equal(ttl.status, 400);
      assert.match(ttl.json.errors[0].message, /ttlDurationSeconds/);
    });
  });

  it("usedBy lists the runs that used it in first-use order; createdBy is the run that logged it", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "run1", displayName: "the-logger" });
      await api.upsert({ name: "reader" });
      await api.upsert({ name: "reader", project: "other" });
      await api.upsert({ name: "late" });
      const v0 = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
      });
      const empty = (await api.data(USED_BY, { id: v0.id })).artifact.usedBy;
      assert.deepEqual(empty, {
        totalCount: 0,
        pageInfo: { hasNextPage: false, endCursor: null },
        edges: [],
      });
      const use = (runName: string, projectName = "proj") =>
        api.data(USE_ARTIFACT, {
          entityName: api.fake.entity,
          projectName,
          runName,
          artifactID: v0.id,
        });
      await use("reader", "other");
      await use("reader");
      await use("reader", "other");
      await use("late");
      const all = (await api.data(USED_BY, { id: v0.id })).artifact.usedBy;
      assert.equal(all.totalCount, 3);
      assert.deepEqual(
        all.edges.map((e: { node: unknown }) => e.node),
        [
          {
            name: "reader",
            displayName: api.fake.run("reader", "other")!.displayName,
            project: { name: "other", entityName: "fake-entity" },
          },
          {
            name: "reader",
            displayName: api.fake.run("reader", "proj")!.displayName,
            project: { name: "proj", entityName: "fake-entity" },
          },
          {
            name: "late",
            displayName: api.fake.run("late")!.displayName,
            project: { name: "proj", entityName: "fake-entity" },
          },
        ],
      );
      assert.deepEqual(api.fake.artifacts("ds")[0].usedBy, [
        "reader",
        "reader",
        "late",
      ]);
      // Paged.
      const one = (await api.data(USED_BY, { id: v0.id, first: 2 })).artifact
        .usedBy;
      assert.equal(one.edges.length, 2);
      assert.equal(one.pageInfo.hasNextPage, true);
      const rest = (await api.data(USED_BY, {
        id: v0.id,
        first: 2,
        after: one.pageInfo.endCursor,
      })).artifact.usedBy;
      assert.deepEqual(
        rest.edges.map((e: { node: { name: string } }) => e.node.name),
        ["late"],
      );
      assert.equal(rest.pageInfo.hasNextPage, false);
      // createdBy: the logging run, as a Run.
      assert.deepEqual(
        (await api.data(CREATED_BY, { id: v0.id })).artifact.createdBy,
        {
          __typename: "Run",
          name: "run1",
          displayName: "the-logger",
          project: { name: "proj", entityName: "fake-entity" },
        },
      );
      // A dedup hit from another run does not change the creator.
      const again = await logArtifact(api, {
        collection: "ds",
        files: { "a.txt": "0" },
        runName: "late",
      });
      assert.equal(again.id, v0.id);
      assert.equal(
        (await api.data(CREATED_BY, { id: v0.id })).artifact.createdBy.name,
        "run1",
      );
      // A run-less version has no creator; a deleted run drops out.
      const runless = await createPending(api, "ds", "p");
      assert.deepEqual(await api.data(CREATED_BY, { id: runless }), {
        artifact: { createdBy: null },
      });
      api.fake.deleteRun("late");
      api.fake.deleteRun("run1");
      assert.equal(
        (await api.data(USED_BY, { id: v0.id })).artifact.usedBy.totalCount,
        2,
      );
      assert.deepEqual(await api.data(CREATED_BY, { id: v0.id }), {
        artifact: { createdBy: null },
      });
    });
  });
});

// ---------------------------------------------------------------------------
// Faults and auth
// ---------------------------------------------------------------------------

describe("FakeWandb faults", () => {
  it("throttle by operation (Retry-After, RateLimit-*) and by path; fail with a status; nothing stored", async () => {
    await withApi(async (api) => {
      api.fake.throttle({
        operation: "UpsertBucket",
        retryAfterS: 3,
        rateLimitHeaders: true,
      });
      const throttled = await api.gql(UPSERT, { name: "r1", project: "proj" });
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers["retry-after"], "3");
      assert.equal(throttled.headers["ratelimit-remaining"], "0");
      assert.equal(throttled.headers["ratelimit-reset"], "3");
      assert.ok(Array.isArray(throttled.json.errors));
      assert.equal(api.fake.runs().length, 0);
      // Other operations pass meanwhile; the fault is used up.
      assert.equal(
        (await api.gql("query Viewer { viewer { id } }")).status,
        200,
      );
      await api.upsert({ name: "r1" });
      api.fake.throttle({ path: /file_stream$/ });
      const t2 = await api.stream("r1", {
        files: { "output.log": { offset: 0, content: ["x"] } },
      });
      assert.equal(t2.status, 429);
      assert.equal(t2.headers["retry-after"], "1");
      assert.equal(t2.headers["ratelimit-remaining"], undefined);
      api.fake.fail({ path: /file_stream$/, status: 503, count: 2 });
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 0, content: ["x"] } },
        })).status,
        503,
      );
      const f2 = await api.stream("r1", {
        files: { "output.log": { offset: 0, content: ["x"] } },
      });
      assert.equal(f2.status, 503);
      assert.match(f2.json.error, /503/);
      assert.deepEqual(api.fake.run("r1")!.output, []);
      assert.equal(
        (await api.stream("r1", {
          files: { "output.log": { offset: 0, content: ["x"] } },
        })).status,
        200,
      );
      api.fake.fail({ operation: "Viewer" });
      const failed = await api.gql("query Viewer { viewer { id } }");
      assert.equal(failed.status, 500);
      assert.match(failed.json.errors[0].message, /Injected/);
      assert.throws(() => api.fake.fail({ status: 200 }), RangeError);
      assert.throws(
        () => api.fake.hang({ operation: "Viewer", count: 0 }),
        RangeError,
      );
      assert.deepEqual(
        api.fake.requests.filter((r) => r.operationName === "Viewer").map((r) =>
          r.status
        ),
        [200, 500],
      );
    });
  });

  it("hang, reset and setDown: fetch fails, nothing stored; the next request passes", async () => {
    await withApi(async (api) => {
      // Fresh connections (node:http, no agent): a pooled connection that the
      // fake closed could fail a request before it reaches the fake.
      const viewer = () =>
        send(api.fake, {
          method: "POST",
          path: "/graphql",
          headers: {
            Authorization: api.auth,
            "Content-Type": "application/json",
          },
          body: JSON.stringify({
            query: "query Viewer { viewer { entity } }",
            operationName: "Viewer",
          }),
          timeoutMs: 300,
        });
      api.fake.hang({ operation: "Viewer" });
      await assert.rejects(viewer(), /timed out/);
      api.fake.reset({ operation: "Viewer" });
      await assert.rejects(viewer());
      api.fake.reset({ path: "/graphql" });
      await assert.rejects(viewer());
      api.fake.setDown(true);
      await assert.rejects(viewer());
      api.fake.setDown(false);
      const ok = await viewer();
      assert.equal(ok.status, 200);
      assert.equal(ok.json.data.viewer.entity, "fake-entity");
      // The hung and reset requests were read (status 0); while down, none is.
      assert.deepEqual(api.fake.requests.map((r) => r.status), [0, 0, 0, 200]);
      assert.deepEqual(
        api.fake.requests.map((r) => r.status),
        [0, 0, 0, 200],
      );
    });
  });
});

describe("FakeWandb auth", () => {
  it("401 with {errors} for a missing or wrong key on /graphql and file_stream (artifactsV2: see artifacts)", async () => {
    await withApi(async (api) => {
      await api.upsert({ name: "r1" });
      const q = "query Viewer { viewer { id } }";
      for (
        const auth of [
          null,
          basic("api", "wrong"),
          basic("user", api.fake.apiKey),
          `Bearer ${api.fake.apiKey}`,
        ]
      ) {
        const answer = await api.gql(q, undefined, "Viewer", auth);
        assert.equal(answer.status, 401, String(auth));
        assert.equal(typeof answer.json.errors[0].message, "string");
        assert.equal(answer.text.includes(api.fake.apiKey), false);
        const stream = await api.stream("r1", {}, { auth });
        assert.equal(stream.status, 401);
        assert.ok(Array.isArray(stream.json.errors));
      }
      assert.equal(api.fake.run("r1")!.heartbeats, 0);
      assert.equal(
        (await api.gql(
          q,
          undefined,
          "Viewer",
          `basic ${Buffer.from(`api:${api.fake.apiKey}`).toString("base64")}`,
        )).status,
        200,
      );
      const custom = await FakeWandb.start({
        apiKey: "k".repeat(40),
        entity: "team",
      });
      try {
        const answer = await send(custom, {
          method: "POST",
          path: "/graphql",
          headers: {
            Authorization: basic("api", "k".repeat(40)),
            "Content-Type": "application/json",
          },
          body: JSON.stringify({
            query: q.replace("id", "entity"),
            operationName: "Viewer",
          }),
        });
        assert.equal(answer.json.data.viewer.entity, "team");
      } finally {
        await custom.close();
      }
    });
  });
});
