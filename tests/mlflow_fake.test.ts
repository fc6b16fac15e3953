// The fake MLflow server (tests/helpers/fake_mlflow.ts): every request of the
// four captures in ../shared/reference/mlflow-captures/ (recorded from the
// real Python client against a real MLflow 3.6 server) replayed in order,
// with the same statuses and answer shapes; MLflow's rejections with their
// exact messages; the tracking, artifact and registry behaviour a client
// relies on; injected faults; and the chunked-upload pitfall.
//
// Replay: the captures are one recording (`seq` is global), so each file is
// replayed on a fresh fake after the files recorded before it (errors.jsonl
// uses the run and model made in training-run.jsonl and registry.jsonl).
// Run ids the real server made are mapped onto the fake's by comparing each
// captured answer with the fake's. Arrays the recorder cut ("elided") are
// rebuilt from their kept ends; binary bodies are rebuilt at their recorded
// size. Requests go out through node:http, byte for byte (a `..` path, a
// missing Content-Type), which fetch() would not allow.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { FakeMlflow, type FakeMlflowOptions } from "./helpers/fake_mlflow.ts";
import { ROOT } from "./helpers/runtime.ts";

const CAPTURES = join(ROOT, "..", "shared", "reference", "mlflow-captures");
const API = "/api/2.0/mlflow";
const ART = "/api/2.0/mlflow-artifacts/artifacts";
const DOCS = " See the API docs for more information about request parameters.";
const JSON_TYPE = { "Content-Type": "application/json" };

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
  /** The raw path and query, sent as is. */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean;
}

/** One request through node:http on a fresh connection. */
function send(fake: FakeMlflow, o: Send): Promise<Answer> {
  const body = typeof o.body === "string"
    ? new TextEncoder().encode(o.body)
    : o.body;
  const headers = { ...o.headers };
  if (body !== undefined && !o.chunked) {
    headers["Content-Length"] = String(body.byteLength);
  }
  return new Promise((resolve, reject) => {
    const request = httpRequest({
      host: "127.0.0.1",
      port: Number(new URL(fake.url).port),
      method: o.method,
      path: o.path,
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
          // Not JSON: an HTML page, a text body or artifact bytes.
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
    if (body !== undefined && o.chunked) {
      const half = body.byteLength >> 1;
      request.write(body.subarray(0, half));
      request.write(body.subarray(half));
    } else if (body !== undefined) {
      request.write(body);
    }
    request.end();
  });
}

type Query = Record<string, string | string[]>;

function search(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of [value].flat()) params.append(key, item);
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** A fake plus short ways to call it. */
class Api {
  readonly fake: FakeMlflow;
  readonly headers: Record<string, string>;

  constructor(fake: FakeMlflow, headers: Record<string, string> = {}) {
    this.fake = fake;
    this.headers = headers;
  }

  call(o: Send): Promise<Answer> {
    return send(this.fake, {
      ...o,
      headers: { ...this.headers, ...o.headers },
    });
  }

  /** A JSON RPC: POST by default, with `Content-Type: application/json`. */
  rpc(name: string, json: unknown = {}, method = "POST"): Promise<Answer> {
    return this.call({
      method,
      path: `${API}/${name}`,
      headers: JSON_TYPE,
      body: JSON.stringify(json),
    });
  }

  get(name: string, query: Query = {}): Promise<Answer> {
    return this.call({ method: "GET", path: `${API}/${name}${search(query)}` });
  }

  put(
    path: string,
    body: Uint8Array | string,
    chunked = false,
  ): Promise<Answer> {
    return this.call({ method: "PUT", path: `${ART}/${path}`, body, chunked });
  }

  artifact(path: string, method = "GET"): Promise<Answer> {
    return this.call({ method, path: `${ART}/${path}` });
  }

  list(path?: string): Promise<Answer> {
    const query = path === undefined ? "" : search({ path });
    return this.call({ method: "GET", path: `${ART}${query}` });
  }

  async experiment(name = "exp"): Promise<string> {
    return (await ok(this.rpc("experiments/create", { name }))).json
      .experiment_id;
  }

  async run(experimentId: string, extra: object = {}): Promise<string> {
    const answer = await ok(this.rpc("runs/create", {
      experiment_id: experimentId,
      start_time: 1700000000000,
      ...extra,
    }));
    return answer.json.run.info.run_id;
  }
}

async function withApi(
  fn: (api: Api) => Promise<void>,
  options?: FakeMlflowOptions,
): Promise<void> {
  const fake = await FakeMlflow.start(options);
  try {
    await fn(new Api(fake));
  } finally {
    await fake.close();
  }
}

/** Awaits a 200 answer. */
async function ok(answer: Promise<Answer>, what = "request"): Promise<Answer> {
  const a = await answer;
  assert.equal(a.status, 200, `${what}: ${a.status} ${a.text}`);
  return a;
}

/** Awaits an error answer `{error_code, message}`. */
async function no(
  answer: Promise<Answer>,
  status: number,
  code: string,
  message: string | RegExp,
): Promise<Answer> {
  const a = await answer;
  assert.equal(a.status, status, a.text);
  assert.equal(a.headers["content-type"], "application/json");
  assert.deepEqual(Object.keys(a.json).sort(), ["error_code", "message"]);
  assert.equal(a.json.error_code, code, a.text);
  if (typeof message === "string") assert.equal(a.json.message, message);
  else assert.match(a.json.message, message);
  return a;
}

/** Awaits a non-JSON answer. */
async function page(
  answer: Promise<Answer>,
  status: number,
  type: RegExp,
  text: RegExp,
): Promise<Answer> {
  const a = await answer;
  assert.equal(a.status, status, a.text);
  assert.match(a.headers["content-type"], type);
  assert.match(a.text, text);
  return a;
}

const HTML = /^text\/html; charset=utf-8$/;

function metric(key: string, value: unknown, step = 0): object {
  return { key, value, timestamp: 1700000000000 + step, step };
}

function range<T>(count: number, make: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

// ---------------------------------------------------------------------------
// Capture replay
// ---------------------------------------------------------------------------

interface Elision {
  count: number;
  kept_head: number;
  kept_tail: number;
}

interface BodyBytes {
  size: number;
  first_bytes_hex: string;
  text_preview?: string;
}

interface CaptureLine {
  seq: number;
  kind?: string;
  method: string;
  raw_path: string;
  headers: Record<string, string>;
  body?: unknown;
  body_bytes?: BodyBytes;
  response: {
    status: number;
    headers: Record<string, string>;
    body?: unknown;
    body_bytes?: BodyBytes;
  };
  elided?: Record<string, Elision>;
}

/** The capture files in recording order. */
const FILES = [
  "training-run.jsonl",
  "registry.jsonl",
  "errors.jsonl",
  "image-naming.jsonl",
];
const DROPPED = new Set([
  "host",
  "content-length",
  "connection",
  "accept-encoding",
]);
/** Answer fields whose value is the real server's clock. */
const CLOCK = new Set([
  "creation_time",
  "last_update_time",
  "creation_timestamp",
  "last_updated_timestamp",
]);
const ID_FIELDS = new Set(["run_id", "run_uuid"]);

function lines(file: string): CaptureLine[] {
  return readFileSync(join(CAPTURES, file), "utf8").split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CaptureLine)
    .filter((line) => line.kind !== "marker");
}

function mapIds<T>(value: T, ids: Map<string, string>): T {
  if (typeof value === "string") {
    let out: string = value;
    for (const [from, to] of ids) out = out.replaceAll(from, to);
    return out as T;
  }
  if (Array.isArray(value)) return value.map((v) => mapIds(v, ids)) as T;
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, mapIds(v, ids)]),
  ) as T;
}

/** One item of a cut array, from the pattern of its first two items. */
function patternItem(head: Record<string, unknown>[], index: number): object {
  const item: Record<string, unknown> = {};
  for (const [field, first] of Object.entries(head[0])) {
    const second = head[1][field];
    if (typeof first === "number" && typeof second === "number") {
      item[field] = first + index * (second - first);
    } else if (typeof first === "string" && first !== second) {
      const [, prefix, digits] = /^(.*?)(\d+)$/.exec(first) ?? [];
      const next = /^(.*?)(\d+)$/.exec(String(second))?.[2];
      const width = digits.length > 1 && digits.startsWith("0")
        ? digits.length
        : 0;
      const number = Number(digits) + index * (Number(next) - Number(digits));
      item[field] = `${prefix}${String(number).padStart(width, "0")}`;
    } else {
      item[field] = first;
    }
  }
  return item;
}

/** The request body with every cut array rebuilt (checked against its ends). */
function fullBody(line: CaptureLine): unknown {
  const body = structuredClone(line.body) as Record<string, unknown>;
  for (const [path, cut] of Object.entries(line.elided ?? {})) {
    if (!path.startsWith("body.")) continue;
    const field = path.slice("body.".length);
    const kept = body[field] as Record<string, unknown>[];
    const head = kept.slice(0, cut.kept_head);
    const rebuilt = range(cut.count, (i) => patternItem(head, i));
    assert.deepEqual(rebuilt.slice(0, cut.kept_head), head);
    assert.deepEqual(rebuilt.slice(-cut.kept_tail), kept.slice(-cut.kept_tail));
    body[field] = rebuilt;
  }
  return body;
}

/** A non-JSON body of the recorded size: the text when whole, else zero-padded. */
function fullBytes(recorded: BodyBytes): Uint8Array {
  const text = new TextEncoder().encode(recorded.text_preview ?? "");
  if (text.byteLength === recorded.size) return text;
  const out = new Uint8Array(recorded.size);
  out.set(Buffer.from(recorded.first_bytes_hex, "hex"));
  return out;
}

function learnIds(
  real: unknown,
  mine: unknown,
  ids: Map<string, string>,
): void {
  if (typeof real !== "object" || real === null) return;
  if (typeof mine !== "object" || mine === null) return;
  for (const [key, value] of Object.entries(real)) {
    const actual = (mine as Record<string, unknown>)[key];
    if (
      ID_FIELDS.has(key) && typeof value === "string" &&
      typeof actual === "string"
    ) {
      if (value !== actual) ids.set(value, actual);
    } else {
      learnIds(value, actual, ids);
    }
  }
}

/** Normalises what legitimately differs in a message: clock and artifact root. */
function normal(text: string, fake: FakeMlflow): string {
  return text.replaceAll("<scratch>/server/artifacts", fake.artifactRoot)
    .replace(/\b\d{13}\b/g, "<ms>");
}

/** Same keys, same stable values, same array lengths (cut arrays: their ends). */
function sameShape(
  real: unknown,
  mine: unknown,
  path: string,
  elided: Record<string, Elision>,
  fake: FakeMlflow,
): void {
  if (Array.isArray(real)) {
    assert.ok(Array.isArray(mine), `${path} is an array`);
    const cut = elided[path];
    assert.equal(mine.length, cut?.count ?? real.length, `${path} length`);
    const head = cut?.kept_head ?? real.length;
    for (let i = 0; i < head; i++) {
      sameShape(real[i], mine[i], `${path}[${i}]`, elided, fake);
    }
    for (let i = 1; cut !== undefined && i <= cut.kept_tail; i++) {
      sameShape(real.at(-i), mine.at(-i), `${path}[-${i}]`, elided, fake);
    }
  } else if (typeof real === "object" && real !== null) {
    assert.ok(
      typeof mine === "object" && mine !== null,
      `${path} is an object`,
    );
    assert.deepEqual(
      Object.keys(mine).sort(),
      Object.keys(real).sort(),
      `${path} keys`,
    );
    for (const [key, value] of Object.entries(real)) {
      const actual: unknown = (mine as Record<string, unknown>)[key];
      if (CLOCK.has(key)) {
        assert.equal(typeof actual, "number", `${path}.${key}`);
      } else sameShape(value, actual, `${path}.${key}`, elided, fake);
    }
  } else if (typeof real === "string" && typeof mine === "string") {
    assert.equal(normal(mine, fake), normal(real, fake), path);
  } else {
    assert.equal(mine, real, path);
  }
}

interface Replay {
  answers: Map<number, Answer>;
  ids: Map<string, string>;
}

/**
 * Replays `file` on `fake`; every answer must have the captured status and,
 * when `check`, the captured shape and headers.
 */
async function replay(
  fake: FakeMlflow,
  file: string,
  ids: Map<string, string>,
  check: boolean,
): Promise<Map<number, Answer>> {
  const answers = new Map<number, Answer>();
  for (const line of lines(file)) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(line.headers)) {
      if (!DROPPED.has(name.toLowerCase())) headers[name] = value;
    }
    const body = line.body !== undefined
      ? JSON.stringify(mapIds(fullBody(line), ids))
      : line.body_bytes !== undefined
      ? fullBytes(line.body_bytes)
      : undefined;
    const what = `${file} seq ${line.seq} ${line.method} ${line.raw_path}`;
    const answer = await send(fake, {
      method: line.method,
      path: mapIds(line.raw_path, ids),
      headers,
      body,
    });
    const real = line.response;
    assert.equal(answer.status, real.status, `${what}: ${answer.text}`);
    learnIds(real.body, answer.json, ids);
    answers.set(line.seq, answer);
    if (!check) continue;
    for (
      const name of ["content-type", "content-disposition", "transfer-encoding"]
    ) {
      assert.equal(
        answer.headers[name],
        real.headers[name],
        `${what}: ${name}`,
      );
    }
    if (real.body !== undefined) {
      const elided: Record<string, Elision> = {};
      for (const [path, cut] of Object.entries(line.elided ?? {})) {
        if (path.startsWith("response.body")) {
          elided[path.replace("response.body", "body")] = cut;
        }
      }
      sameShape(mapIds(real.body, ids), answer.json, "body", elided, fake);
    } else if (real.body_bytes !== undefined) {
      assert.equal(
        answer.bytes.byteLength,
        real.body_bytes.size,
        `${what}: size`,
      );
    }
  }
  return answers;
}

/** A fresh fake with `file` replayed after the files recorded before it. */
async function replayed(
  file: string,
  fn: (fake: FakeMlflow, replay: Replay) => void,
): Promise<void> {
  const fake = await FakeMlflow.start();
  try {
    const ids = new Map<string, string>();
    for (const before of FILES.slice(0, FILES.indexOf(file))) {
      await replay(fake, before, ids, false);
    }
    const answers = await replay(fake, file, ids, true);
    fn(fake, { answers, ids });
  } finally {
    await fake.close();
  }
}

const RUN1 = "f10f7ff4ce2540f397ecab4d95ed8fd2";
const RUN_ERR = "e514a8f22c1c4a7aae0d2c23b3936258";
const RUN_IMG = "37cb4bbd77c24db3a9afa1c0004a6b58";

describe("FakeMlflow replays the captures", () => {
  it("training-run.jsonl: same statuses and shapes; metrics, params, files stored", async () => {
    await replayed("training-run.jsonl", (fake, { ids }) => {
      const run = fake.run(ids.get(RUN1) as string);
      assert.ok(run);
      assert.equal(run.status, "FINISHED");
      assert.equal(run.endTime, 1795792615537);
      assert.equal(run.metrics.length, 40 + 3 + 2 + 1500 + 1200);
      const weird = run.metrics.filter((m) => m.key.startsWith("weird"));
      assert.deepEqual(weird.map((m) => m.value), [
        "NaN",
        1.7976931348623157e308,
      ]);
      assert.equal(Object.keys(run.params).length, 155);
      assert.equal(run.tags["mlflow.loggedImages"], "True");
      assert.equal(run.tags.stage, "done");
      const root = run.artifactUri.replace("mlflow-artifacts:/", "");
      const files = fake.artifactPaths(`${root}/`).map((p) =>
        p.slice(root.length + 1)
      );
      assert.equal(files.length, 20);
      assert.ok(files.includes("outputs/nested/weights.bin"));
      assert.equal(
        fake.artifact(`${root}/outputs/nested/weights.bin`)?.length,
        2048,
      );
      assert.equal(fake.experimentByName("uetai-capture")?.experimentId, "1");
    });
  });

  it("registry.jsonl: versions, alias, download URIs as captured", async () => {
    await replayed("registry.jsonl", (fake, { answers, ids }) => {
      const versions = fake.modelVersions("uetai-capture-model");
      assert.deepEqual(versions.map((v) => v.version), ["1", "2"]);
      assert.equal(versions[1].source, `runs:/${ids.get(RUN1)}/outputs`);
      assert.deepEqual(fake.registeredModels()[0].aliases, { champion: "1" });
      assert.equal(answers.get(159)?.json.model_version.version, "2");
      assert.equal(answers.get(172)?.bytes.byteLength, 2048);
    });
  });

  it("errors.jsonl: every rejection with the captured status and message", async () => {
    await replayed("errors.jsonl", (fake, { ids }) => {
      const run = fake.run(ids.get(RUN_ERR) as string);
      assert.ok(run);
      assert.equal(run.status, "FAILED");
      // Only the 900-metric batch and the two single metrics got in.
      assert.deepEqual(
        [...new Set(run.metrics.map((m) => m.key))],
        ["m", "m3", "ct"],
      );
      assert.equal(run.metrics.length, 902);
      assert.equal(fake.run(ids.get(RUN1) as string)?.params.lr, "0.001");
      const root = run.artifactUri.replace("mlflow-artifacts:/", "");
      assert.deepEqual(fake.artifactPaths(`${root}/`), [`${root}/images/val`]);
    });
  });

  it("image-naming.jsonl: the stored names are the real server's (corrupted % names, + kept)", async () => {
    await replayed("image-naming.jsonl", (fake, { ids }) => {
      const results = JSON.parse(
        readFileSync(
          join(CAPTURES, "client-results-image-naming.json"),
          "utf8",
        ),
      );
      const runId = ids.get(RUN_IMG) as string;
      assert.equal(results.run_id, RUN_IMG);
      const root = `1/${runId}/artifacts/`;
      const stored = fake.artifactPaths(root).map((p) => p.slice(root.length));
      const [images, , , , , lists] = results.out;
      assert.deepEqual(
        stored,
        [
          ...images.stored_image_names,
          ...lists.images2,
          ...lists.pct,
        ].sort(),
      );
      assert.ok(
        stored.includes(
          "images/samples%stepE%timestamp%1795792612808%n8f93a3f-10d7-42eb-8eaa-1d49e1806dbf.png",
        ),
      );
    });
  });
});

// ---------------------------------------------------------------------------
// Rejections, with MLflow's exact messages
// ---------------------------------------------------------------------------

const BATCH = "A batch logging request can contain at most";
const SPLIT = "across multiple requests and try again.";

interface Rejection {
  name: string;
  body: (runId: string) => object;
  message: (runId: string) => string;
  status?: number;
  code?: string;
}

/** `runs/log-batch` bodies the server refuses, whole. */
const BATCH_REJECTIONS: Rejection[] = [
  {
    name: "1001 metrics",
    body: () => ({ metrics: range(1001, (i) => metric("m", i, i)) }),
    message: () =>
      `${BATCH} 1000 metrics. Got 1001 metrics. Please split up metrics ${SPLIT}`,
  },
  {
    name: "101 params",
    body: () => ({ params: range(101, (i) => ({ key: `q${i}`, value: "1" })) }),
    message: () =>
      `${BATCH} 100 params. Got 101 params. Please split up params ${SPLIT}`,
  },
  {
    name: "101 tags",
    body: () => ({ tags: range(101, (i) => ({ key: `u${i}`, value: "1" })) }),
    message: () =>
      `${BATCH} 100 tags. Got 101 tags. Please split up tags ${SPLIT}`,
  },
  {
    name: "1050 items",
    body: () => ({
      metrics: range(950, (i) => metric("m", i, i)),
      params: range(100, (i) => ({ key: `r${i}`, value: "1" })),
    }),
    message: () =>
      `${BATCH} 1000 metrics, params, and tags. Got 1050 metrics, params, and tags. Please split up metrics, params, and tags ${SPLIT}`,
  },
  {
    name: "a metric without timestamp",
    body: () => ({
      metrics: [metric("ok", 1), { key: "m2", value: 1, step: 0 }],
    }),
    message: () =>
      `Missing value for required parameter 'metrics[1].timestamp'.${DOCS}`,
  },
  {
    name: "a NaN sent by JSON.stringify (null)",
    body: () => ({ metrics: [metric("m", null)] }),
    message: () =>
      `Missing value for required parameter 'metrics[0].value'.${DOCS}`,
  },
  {
    name: "the same param key three times",
    body: () => ({
      params: ["1", "2", "3"].map((value) => ({ key: "dup", value })),
    }),
    message: () =>
      "Duplicate parameter keys have been submitted: ['dup', 'dup']. Please ensure the request contains only one param value per param key.",
  },
  {
    name: "a bad metric key",
    body: () => ({ metrics: [metric("bad key!", 1)] }),
    message: () =>
      `Invalid value "bad key!" for parameter 'metrics[0].name' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
  },
  {
    name: "a param key that resolves to another name",
    body: () => ({
      params: [{ key: "ok", value: "1" }, { key: "a//b", value: "1" }],
    }),
    message: () =>
      `Invalid value "a//b" for parameter 'params[1].key' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to 'a/b'`,
  },
  {
    name: "a 251-character key",
    body: () => ({ tags: [{ key: "k".repeat(251), value: "v" }] }),
    message: () =>
      `Tag key '${
        "k".repeat(250)
      }' had length 251, which exceeded length limit of 250`,
  },
  {
    name: "a changed param",
    body: () => ({
      params: [{ key: "new", value: "1" }, { key: "lr", value: "0.1" }],
    }),
    message: (runId) =>
      `Changing param values is not allowed. Params were already logged='[{'key': 'lr', 'old_value': '0.01', 'new_value': '0.1'}]' for run ID='${runId}'.`,
  },
  {
    name: "an unknown run",
    body: () => ({ run_id: "f".repeat(32), metrics: [metric("m", 1)] }),
    message: () => `Run with id=${"f".repeat(32)} not found`,
    status: 404,
    code: "RESOURCE_DOES_NOT_EXIST",
  },
  {
    name: "a malformed run id",
    body: () => ({ run_id: "-x", metrics: [metric("m", 1)] }),
    message: () => "Invalid run ID: '-x'",
  },
];

describe("FakeMlflow rejects what MLflow rejects", () => {
  it("runs/log-batch: limits, required fields, keys, duplicates; a rejected batch stores nothing", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      await ok(
        api.rpc("runs/log-parameter", {
          run_id: runId,
          key: "lr",
          value: "0.01",
        }),
      );
      for (const c of BATCH_REJECTIONS) {
        await no(
          api.rpc("runs/log-batch", { run_id: runId, ...c.body(runId) }),
          c.status ?? 400,
          c.code ?? "INVALID_PARAMETER_VALUE",
          c.message(runId),
        ).catch((error) => assert.fail(`${c.name}: ${error.message}`));
      }
      const run = api.fake.run(runId);
      assert.deepEqual([run?.metrics, run?.params, run?.tags], [
        [],
        { lr: "0.01" },
        { "mlflow.runName": run?.runName },
      ]);
      const exactly1000 = {
        run_id: runId,
        metrics: range(900, (i) => metric("m", i, i)),
        params: range(50, (i) => ({ key: `s${i}`, value: "1" })),
        tags: range(50, (i) => ({ key: `w${i}`, value: "1" })),
      };
      await ok(api.rpc("runs/log-batch", exactly1000));
      await ok(
        api.rpc("runs/log-batch", {
          run_id: runId,
          params: [{ key: "lr", value: "0.01" }],
        }),
      );
      assert.equal(api.fake.run(runId)?.metrics.length, 900);
    });
  });

  it("single writes: changed param, unknown run, deleted run, missing tag, malformed JSON", async () => {
    await withApi(async (api) => {
      const experimentId = await api.experiment();
      const runId = await api.run(experimentId);
      const param = (value: string) =>
        api.rpc("runs/log-parameter", {
          run_uuid: runId,
          key: "lr",
          value,
          run_id: runId,
        });
      await ok(param("0.001"));
      await ok(param("0.001"));
      await no(
        param("0.01"),
        400,
        "INVALID_PARAMETER_VALUE",
        `Changing param values is not allowed. Param with key='lr' was already logged with value='0.001' for run ID='${runId}'. Attempted logging new value '0.01'.`,
      );
      const zeros = "0".repeat(32);
      await no(
        api.get("runs/get", { run_id: zeros }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        `Run with id=${zeros} not found`,
      );
      await no(
        api.rpc("runs/log-metric", {
          run_id: runId,
          key: "bad key!",
          value: 1,
          timestamp: 1,
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        /^Invalid value "bad key!" for parameter 'name' supplied: Names may only/,
      );
      await no(
        api.rpc("runs/log-metric", {
          run_id: runId,
          key: "m",
          value: "abc",
          timestamp: 1,
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        `Invalid value "abc" for parameter 'value' supplied:  Hint: Value was of type 'str'.${DOCS}`,
      );
      await no(
        api.rpc("runs/delete-tag", { run_id: runId, key: "nope" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        `No tag with name: nope in run with id ${runId}`,
      );
      const broken = { method: "POST", headers: JSON_TYPE, body: "{not json" };
      await no(
        api.call({ ...broken, path: `${API}/runs/log-metric` }),
        400,
        "INVALID_PARAMETER_VALUE",
        `Missing value for required parameter 'run_id'.${DOCS}`,
      );
      await page(
        api.call({ ...broken, path: `${API}/runs/log-batch` }),
        500,
        HTML,
        /<title>500 Internal Server Error<\/title>/,
      );
      await ok(api.rpc("runs/delete", { run_id: runId }));
      await no(
        api.rpc("runs/set-tag", { run_id: runId, key: "k", value: "v" }),
        400,
        "INVALID_PARAMETER_VALUE",
        `The run ${runId} must be in the 'active' state. Current state is deleted.`,
      );
      assert.equal(
        (await ok(api.get("runs/get", { run_id: runId }))).json.run.info
          .lifecycle_stage,
        "deleted",
      );
    });
  });

  it("Content-Type gate, unknown route (404 page), wrong method (405 page)", async () => {
    await withApi(async (api) => {
      const body = JSON.stringify({ name: "x" });
      const post = (headers: Record<string, string>) =>
        api.call({
          method: "POST",
          path: `${API}/experiments/create`,
          headers,
          body,
        });
      const gate: [Record<string, string>, string][] = [
        [{}, "Bad Request. Content-Type header is missing."],
        [
          { "Content-Type": "text/plain" },
          "Bad Request. Content-Type must be one of ['application/json'].",
        ],
        [
          { "Content-Type": "application/x-www-form-urlencoded" },
          "Bad Request. Content-Type must be one of ['application/json'].",
        ],
      ];
      for (const [headers, message] of gate) {
        await no(post(headers), 400, "INVALID_PARAMETER_VALUE", message);
      }
      await ok(post({ "Content-Type": "application/json; charset=utf-8" }));
      const missing = await page(
        api.get("no-such-endpoint"),
        404,
        HTML,
        /^<!doctype html>\n<html lang=en>\n<title>404 Not Found<\/title>/,
      );
      assert.equal(missing.bytes.byteLength, 207);
      const wrong = await page(
        api.get("runs/log-batch"),
        405,
        HTML,
        /<title>405 Method Not Allowed<\/title>/,
      );
      assert.equal(wrong.bytes.byteLength, 153);
      assert.equal(wrong.headers.allow, "OPTIONS, POST");
    });
  });

  it("artifacts: #, .., absolute, backslash are 400 'Invalid path'; a missing file is 500", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const base = `1/${runId}/artifacts`;
      // Decoded twice (router, then _decode): %252F is an absolute path.
      for (
        const path of [
          `${base}/a%23b.txt`,
          `${base}/../x.txt`,
          `${base}/a/..%2F..%2Fx`,
          `${base}/a%5Cb.txt`,
          "%252Fetc%252Fpasswd",
          "C:%252Fx",
        ]
      ) {
        await no(
          api.put(path, "x"),
          400,
          "INVALID_PARAMETER_VALUE",
          "Invalid path",
        )
          .catch((error) => assert.fail(`${path}: ${error.message}`));
      }
      await no(
        api.list("../1"),
        400,
        "INVALID_PARAMETER_VALUE",
        "Invalid path",
      );
      const root = api.fake.artifactRoot;
      await no(
        api.artifact(`${base}/nope.txt`),
        500,
        "INTERNAL_ERROR",
        `The following failures occurred while downloading one or more artifacts from ${root}:\n##### File ${base}/nope.txt #####\n[Errno 2] No such file or directory: '${root}/${base}/nope.txt'`,
      );
      assert.deepEqual(api.fake.artifactPaths(), []);
      for (const step of ["create", "complete", "abort"]) {
        await no(
          api.call({
            method: "POST",
            path: `/api/2.0/mlflow-artifacts/mpu/${step}/${base}/big.bin`,
            headers: JSON_TYPE,
            body: JSON.stringify({
              path: "big.bin",
              upload_id: "u",
              num_parts: 2,
            }),
          }),
          501,
          "NOT_IMPLEMENTED",
          "Multipart upload is not supported for the current artifact repository",
        );
      }
    });
  });

  it("registry: duplicates, reserved and bad aliases, refused model sources", async () => {
    await withApi(async (api) => {
      await ok(api.rpc("registered-models/create", { name: "m" }));
      await no(
        api.rpc("registered-models/create", { name: "m" }),
        400,
        "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=m) already exists.",
      );
      await ok(
        api.rpc("model-versions/create", {
          name: "m",
          source: "s3://bucket/m",
        }),
      );
      const alias = (name: string) =>
        api.rpc("registered-models/alias", {
          name: "m",
          alias: name,
          version: "1",
        });
      const aliases: [string, string][] = [
        ["latest", "'latest' alias name (case insensitive) is reserved."],
        ["LaTeSt", "'latest' alias name (case insensitive) is reserved."],
        ["v3", "Version alias name 'v3' is reserved."],
        [
          "a b",
          "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-).",
        ],
        [
          "a".repeat(256),
          `Registered model alias name '${
            "a".repeat(250)
          }' had length 256, which exceeded length limit of 255`,
        ],
      ];
      for (const [name, message] of aliases) {
        await no(alias(name), 400, "INVALID_PARAMETER_VALUE", message);
      }
      await ok(alias("champion-2"));
      const version = (source: string, extra: object = {}) =>
        api.rpc("model-versions/create", { name: "m", source, ...extra });
      const local = (source: string) =>
        `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.`;
      const relative = (source: string) =>
        `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.`;
      const sources: [string, string][] = [
        ["/etc/passwd", local("/etc/passwd")],
        ["file:///tmp/model", local("file:///tmp/model")],
        ["relative/dir", local("relative/dir")],
        [
          "mlflow-artifacts:/1/x/../../etc",
          relative("mlflow-artifacts:/1/x/../../etc"),
        ],
        ["s3://bucket", relative("s3://bucket")],
        ["http://h/a/%2E%2E/b", relative("http://h/a/../b")],
      ];
      for (const [source, message] of sources) {
        await no(version(source), 400, "INVALID_PARAMETER_VALUE", message);
      }
      const runs = "0".repeat(32);
      await no(
        version("/tmp/x", { run_id: runs }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        `Run with id=${runs} not found`,
      );
      await no(
        api.get("registered-models/get", { name: "nope" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=nope not found",
      );
      await no(
        api.get("model-versions/get", { name: "m", version: "9" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Model Version (name=m, version=9) not found",
      );
      await no(
        api.get("model-versions/get", { name: "m", version: "x" }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Parameter 'version' must be an integer, got 'x'.",
      );
      await no(
        api.get("registered-models/alias", { name: "m", alias: "gone" }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Registered model alias gone not found.",
      );
      assert.deepEqual(api.fake.modelVersions("m").map((v) => v.version), [
        "1",
      ]);
    });
  });

  it("experiments: duplicate name, missing name, runs in a deleted experiment, the Default one", async () => {
    await withApi(async (api) => {
      const id = await api.experiment("demo");
      await no(
        api.rpc("experiments/create", { name: "demo" }),
        400,
        "RESOURCE_ALREADY_EXISTS",
        /^Experiment\(name=demo\) already exists\. Error: .*UNIQUE constraint failed: experiments\.name/s,
      );
      await no(
        api.get("experiments/get-by-name", { experiment_name: "nope" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Could not find experiment with name 'nope'",
      );
      await no(
        api.rpc("experiments/create", {}),
        400,
        "INVALID_PARAMETER_VALUE",
        `Missing value for required parameter 'name'.${DOCS}`,
      );
      await no(
        api.get("experiments/get", { experiment_id: "42" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "No Experiment with id=42 exists",
      );
      await ok(api.rpc("experiments/delete", { experiment_id: id }));
      await no(
        api.rpc("experiments/create", { name: "demo" }),
        400,
        "RESOURCE_ALREADY_EXISTS",
        /already exists/,
      );
      const deleted = await ok(
        api.get("experiments/get-by-name", { experiment_name: "demo" }),
      );
      assert.equal(deleted.json.experiment.lifecycle_stage, "deleted");
      await no(
        api.rpc("runs/create", { experiment_id: id }),
        400,
        "INVALID_PARAMETER_VALUE",
        `The experiment ${id} must be in the 'active' state. Current state is deleted.`,
      );
      await no(
        api.rpc("runs/create", {}),
        400,
        "BAD_REQUEST",
        /FOREIGN KEY constraint failed/,
      );
      await no(
        api.rpc("experiments/delete", { experiment_id: "0" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Cannot delete the default experiment '0'/,
      );
      await ok(api.rpc("experiments/restore", { experiment_id: id }));
      await api.run(id);
      const [defaultExperiment] = api.fake.experiments();
      assert.deepEqual(
        [defaultExperiment.experimentId, defaultExperiment.name],
        ["0", "Default"],
      );
    });
  });

  it("auth: 401 with WWW-Authenticate (basic and bearer), /health open, 403 on deny", async () => {
    const basic = { username: "admin", password: "password1234" };
    await withApi(async (api) => {
      const none = await page(
        api.get("experiments/search"),
        401,
        HTML,
        /^You are not authenticated\. Please see https:\/\/www\.mlflow\.org/,
      );
      assert.equal(none.headers["www-authenticate"], 'Basic realm="mlflow"');
      const token = Buffer.from("admin:wrong").toString("base64");
      await page(
        api.call({
          method: "GET",
          path: `${API}/experiments/search`,
          headers: { Authorization: `Basic ${token}` },
        }),
        401,
        HTML,
        /not authenticated/,
      );
      await page(
        api.call({
          method: "GET",
          path: `${API}/experiments/search`,
          headers: { Authorization: "Bearer password1234" },
        }),
        401,
        HTML,
        /not authenticated/,
      );
      await page(
        api.call({ method: "GET", path: "/health" }),
        200,
        HTML,
        /^OK$/,
      );
      const good = new Api(api.fake, {
        Authorization: `Basic ${
          Buffer.from("admin:password1234").toString("base64")
        }`,
      });
      await ok(good.rpc("experiments/create", { name: "x" }));
      api.fake.deny({ path: `${API}/experiments/search` });
      await page(
        good.get("experiments/search"),
        403,
        HTML,
        /^Permission denied$/,
      );
      await ok(good.get("experiments/search"));
    }, { auth: basic });
    await withApi(async (api) => {
      const none = await page(
        api.get("experiments/search"),
        401,
        HTML,
        /bearer token/,
      );
      assert.equal(none.headers["www-authenticate"], 'Bearer realm="mlflow"');
      await page(
        api.call({
          method: "GET",
          path: `${API}/experiments/search`,
          headers: { Authorization: "Bearer nope" },
        }),
        401,
        HTML,
        /bearer token/,
      );
      await ok(
        new Api(api.fake, { Authorization: "Bearer s3cr3t" }).get(
          "experiments/search",
        ),
      );
    }, { auth: { token: "s3cr3t" } });
    await assert.rejects(FakeMlflow.start({ auth: { token: "" } }), TypeError);
  });

  it("security middleware: foreign Host and cross-origin writes are 403 text", async () => {
    await withApi(async (api) => {
      await page(
        api.call({
          method: "GET",
          path: `${API}/experiments/search`,
          headers: { Host: "evil.example:80" },
        }),
        403,
        /^text\/plain/,
        /^Invalid Host header - possible DNS rebinding attack detected$/,
      );
      await ok(
        api.call({
          method: "GET",
          path: `${API}/experiments/search`,
          headers: { Host: "10.1.2.3:5000" },
        }),
      );
      const write = {
        method: "POST",
        path: `${API}/experiments/create`,
        body: JSON.stringify({ name: "x" }),
      };
      await page(
        api.call({
          ...write,
          headers: { ...JSON_TYPE, Origin: "https://evil.example" },
        }),
        403,
        /^text\/plain/,
        /^Cross-origin request blocked$/,
      );
      await ok(
        api.call({
          ...write,
          headers: { ...JSON_TYPE, Origin: "http://localhost:3000" },
        }),
      );
    });
  });
});

// ---------------------------------------------------------------------------
// What a client relies on
// ---------------------------------------------------------------------------

describe("FakeMlflow tracking", () => {
  it("runs/create: info, artifact_uri, runName tag, numeric experiment_id, generated names", async () => {
    await withApi(async (api) => {
      const exp = await api.experiment();
      const created = await ok(api.rpc("runs/create", {
        experiment_id: Number(exp),
        user_id: "alice",
        run_name: "r1",
        start_time: 1700000000000,
        tags: [{ key: "team", value: "ts" }],
      }));
      const { info, data, inputs, outputs } = created.json.run;
      const runId = info.run_id;
      assert.deepEqual(info, {
        run_uuid: runId,
        experiment_id: exp,
        run_name: "r1",
        user_id: "alice",
        status: "RUNNING",
        start_time: 1700000000000,
        artifact_uri: `mlflow-artifacts:/${exp}/${runId}/artifacts`,
        lifecycle_stage: "active",
        run_id: runId,
      });
      assert.deepEqual(data, {
        tags: [{ key: "team", value: "ts" }, {
          key: "mlflow.runName",
          value: "r1",
        }],
      });
      assert.deepEqual([inputs, outputs], [{}, undefined]);
      const unnamed = await ok(api.rpc("runs/create", { experiment_id: exp }));
      assert.match(unnamed.json.run.info.run_name, /^[a-z]+-[a-z]+-\d+$/);
      assert.equal(unnamed.json.run.info.start_time, 0);
      await no(
        api.rpc("runs/create", {
          experiment_id: exp,
          run_name: "a",
          tags: [{ key: "mlflow.runName", value: "b" }],
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').",
      );
      assert.equal(api.fake.runs().length, 2);
    });
  });

  it("logging: run_uuid alone, numeric strings, NaN/Infinity, step 0, unknown fields; latest per key", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const logs: object[] = [
        {
          run_uuid: runId,
          key: "m",
          value: "1.5",
          timestamp: "1700000000001",
          step: "3",
          bogus: 1,
        },
        {
          run_id: runId,
          key: "m",
          value: 9,
          timestamp: 1700000000002,
          step: 1,
        },
        { run_id: runId, key: "w", value: "NaN", timestamp: 1, step: -1 },
        { run_id: runId, key: "inf", value: "Infinity", timestamp: 1 },
        { run_id: runId, key: "ninf", value: "-Infinity", timestamp: 1 },
      ];
      for (const body of logs) await ok(api.rpc("runs/log-metric", body));
      await ok(api.rpc("runs/log-batch", {
        run_id: runId,
        metrics: [{
          key: "b",
          value: 2,
          timestamp: 5,
          run_id: runId,
          model_id: "x",
        }],
        params: [{ key: "long", value: "p".repeat(6001) }],
        tags: [{ key: "t", value: "t".repeat(8001) }],
      }));
      const run = api.fake.run(runId);
      assert.deepEqual(run?.metrics.map((m) => [m.key, m.value, m.step]), [
        ["m", 1.5, 3],
        ["m", 9, 1],
        ["w", "NaN", -1],
        ["inf", 1.7976931348623157e308, 0],
        ["ninf", -1.7976931348623157e308, 0],
        ["b", 2, 0],
      ]);
      assert.equal(run?.params.long.length, 6000);
      assert.equal(run?.tags.t.length, 8000);
      const { data } =
        (await ok(api.get("runs/get", { run_uuid: runId }))).json.run;
      assert.deepEqual(
        data.metrics.map((
          m: { key: string; value: unknown },
        ) => [m.key, m.value]),
        [
          ["m", 1.5],
          ["w", "NaN"],
          ["inf", 1.7976931348623157e308],
          ["ninf", -1.7976931348623157e308],
          ["b", 2],
        ],
      );
    });
  });

  it("runs/update: an unknown status is ignored with the fields after it; set-tag renames; delete/restore", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const update = (body: object) =>
        api.rpc("runs/update", { run_id: runId, ...body });
      let info =
        (await ok(update({ status: "DONE", end_time: 5 }))).json.run_info;
      assert.deepEqual([info.status, info.end_time], ["RUNNING", undefined]);
      info = (await ok(update({ end_time: 5, status: "DONE" }))).json.run_info;
      assert.deepEqual([info.status, info.end_time], ["RUNNING", 5]);
      info =
        (await ok(update({ status: "FINISHED", end_time: 7 }))).json.run_info;
      assert.deepEqual([info.status, info.end_time], ["FINISHED", 7]);
      await ok(
        api.rpc("runs/log-metric", {
          run_id: runId,
          key: "late",
          value: 1,
          timestamp: 1,
        }),
      );
      await ok(
        api.rpc("runs/set-tag", {
          run_id: runId,
          key: "mlflow.runName",
          value: "renamed",
        }),
      );
      await ok(
        api.rpc("runs/set-tag", { run_id: runId, key: "k", value: "v" }),
      );
      await ok(api.rpc("runs/delete-tag", { run_id: runId, key: "k" }));
      const run = api.fake.run(runId);
      assert.deepEqual([run?.runName, run?.tags.k, run?.metrics.length], [
        "renamed",
        undefined,
        1,
      ]);
      await ok(api.rpc("runs/delete", { run_id: runId }));
      assert.equal(api.fake.run(runId)?.lifecycleStage, "deleted");
      await ok(api.rpc("runs/restore", { run_id: runId }));
      assert.equal(api.fake.run(runId)?.lifecycleStage, "active");
      await ok(api.rpc("runs/log-inputs", {
        run_id: runId,
        datasets: [{
          tags: [{ key: "mlflow.data.context", value: "training" }],
          dataset: {
            name: "mnist",
            digest: "abc",
            source_type: "local",
            source: "{}",
          },
        }],
      }));
      const { inputs, outputs } =
        (await ok(api.get("runs/get", { run_id: runId }))).json.run;
      assert.deepEqual(inputs.dataset_inputs, [{
        tags: [{ key: "mlflow.data.context", value: "training" }],
        dataset: {
          name: "mnist",
          digest: "abc",
          source_type: "local",
          source: "{}",
        },
      }]);
      assert.deepEqual(outputs, {});
    });
  });

  it("metrics/get-history: max_results and page_token; without max_results, no metrics and a token", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      await ok(api.rpc("runs/log-batch", {
        run_id: runId,
        metrics: range(5, (i) => metric("loss", i / 10, i)),
      }));
      const history = (query: Query) =>
        api.get("metrics/get-history", {
          run_id: runId,
          metric_key: "loss",
          ...query,
        });
      const first = (await ok(history({ max_results: "2" }))).json;
      assert.deepEqual(first.metrics.map((m: { step: number }) => m.step), [
        0,
        1,
      ]);
      const second = (await ok(
        history({ max_results: "2", page_token: first.next_page_token }),
      )).json;
      assert.deepEqual(second.metrics.map((m: { step: number }) => m.step), [
        2,
        3,
      ]);
      const last = (await ok(
        history({ max_results: "2", page_token: second.next_page_token }),
      )).json;
      assert.deepEqual([last.metrics.length, last.next_page_token], [
        1,
        undefined,
      ]);
      const all = (await ok(history({ max_results: "25000" }))).json;
      assert.deepEqual(all.metrics[4], {
        key: "loss",
        value: 0.4,
        timestamp: 1700000000004,
        step: 4,
      });
      const pitfall = (await ok(history({}))).json;
      assert.deepEqual(pitfall, { next_page_token: "eyJvZmZzZXQiOiAwfQ==" });
      await no(
        history({ max_results: "2", page_token: pitfall.next_page_token }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Invalid page token, parsed value={'offset': 0}",
      );
      assert.deepEqual(
        (await ok(history({ metric_key: "nope", max_results: "9" }))).json,
        {},
      );
    });
  });

  it("runs/search: tag and attribute filters, metrics, order_by, max_results paging, view types", async () => {
    await withApi(async (api) => {
      const exp = await api.experiment();
      const ids: string[] = [];
      for (const [i, team] of ["a", "b", "a"].entries()) {
        ids.push(
          await api.run(exp, {
            start_time: 1000 * (i + 1),
            tags: [{ key: "team", value: team }, {
              key: "my key",
              value: `v${i}`,
            }],
          }),
        );
        await ok(
          api.rpc("runs/log-metric", {
            run_id: ids[i],
            key: "loss",
            value: i,
            timestamp: 1,
          }),
        );
      }
      await ok(api.rpc("runs/update", { run_id: ids[1], status: "FINISHED" }));
      const find = async (
        body: object,
      ): Promise<[string[], string | undefined]> => {
        const answer = await ok(
          api.rpc("runs/search", { experiment_ids: [exp], ...body }),
        );
        return [
          (answer.json.runs ?? []).map((r: { info: { run_id: string } }) =>
            r.info.run_id
          ),
          answer.json.next_page_token,
        ];
      };
      assert.deepEqual(await find({ filter: "tags.team = 'a'" }), [[
        ids[2],
        ids[0],
      ], undefined]);
      assert.deepEqual(await find({ filter: "tags.`my key` = 'v1'" }), [[
        ids[1],
      ], undefined]);
      assert.deepEqual(
        await find({
          filter: "tags.\"my key\" LIKE 'v%' and metrics.loss >= 1",
        }),
        [[ids[2], ids[1]], undefined],
      );
      assert.deepEqual(
        await find({ filter: "attributes.status = 'FINISHED'" }),
        [[ids[1]], undefined],
      );
      assert.deepEqual(
        await find({
          filter: "attributes.status != 'FINISHED' AND params.x = 'y'",
        }),
        [[], undefined],
      );
      const ascending = await find({
        order_by: ["attributes.start_time ASC"],
        max_results: 2,
      });
      assert.deepEqual(ascending[0], [ids[0], ids[1]]);
      const rest = await find({
        order_by: ["attributes.start_time ASC"],
        max_results: 2,
        page_token: ascending[1],
      });
      assert.deepEqual(rest, [[ids[2]], undefined]);
      assert.deepEqual((await find({ order_by: ["metrics.loss DESC"] }))[0], [
        ids[2],
        ids[1],
        ids[0],
      ]);
      await ok(api.rpc("runs/delete", { run_id: ids[0] }));
      assert.deepEqual((await find({ run_view_type: "DELETED_ONLY" }))[0], [
        ids[0],
      ]);
      assert.equal((await find({ run_view_type: "ALL" }))[0].length, 3);
      assert.equal((await find({}))[0].length, 2);
      await no(
        api.rpc("runs/search", {
          experiment_ids: [exp],
          filter: "tags.team ==",
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Invalid filter string/,
      );
    });
  });

  it("experiments: search (filter, paging, GET), tags, rename, get-by-name", async () => {
    await withApi(async (api) => {
      const one = await api.experiment("exp-1");
      await api.experiment("exp-2");
      await api.experiment("other");
      await ok(
        api.rpc("experiments/set-experiment-tag", {
          experiment_id: one,
          key: "team",
          value: "ts",
        }),
      );
      const page1 = (await ok(
        api.rpc("experiments/search", {
          filter: "name LIKE 'exp-%'",
          max_results: 1,
          order_by: ["name ASC"],
        }),
      )).json;
      assert.deepEqual(page1.experiments.map((e: { name: string }) => e.name), [
        "exp-1",
      ]);
      assert.deepEqual(page1.experiments[0].tags, [{
        key: "team",
        value: "ts",
      }]);
      const page2 = (await ok(
        api.get("experiments/search", {
          filter: "name LIKE 'exp-%'",
          max_results: "1",
          order_by: "name ASC",
          page_token: page1.next_page_token,
        }),
      )).json;
      assert.deepEqual([page2.experiments[0].name, page2.next_page_token], [
        "exp-2",
        undefined,
      ]);
      const all =
        (await ok(api.get("experiments/search", { view_type: "ALL" }))).json;
      assert.equal(all.experiments.length, 4);
      await ok(
        api.rpc("experiments/update", {
          experiment_id: one,
          new_name: "renamed",
        }),
      );
      await ok(
        api.rpc("experiments/delete-experiment-tag", {
          experiment_id: one,
          key: "team",
        }),
      );
      const got = (await ok(
        api.get("experiments/get-by-name", { experiment_name: "renamed" }),
      )).json.experiment;
      assert.deepEqual([got.experiment_id, got.artifact_location, got.tags], [
        one,
        `mlflow-artifacts:/${one}`,
        undefined,
      ]);
      assert.deepEqual(api.fake.experimentByName("renamed")?.tags, {});
    });
  });
});

describe("FakeMlflow artifacts", () => {
  it("PUT, GET (content type, attachment, chunked), listings (proxy and run), DELETE", async () => {
    await withApi(async (api) => {
      const exp = await api.experiment();
      const runId = await api.run(exp);
      const base = `${exp}/${runId}/artifacts`;
      await ok(api.put(`${base}/dir/a.txt`, "hello"));
      await ok(api.put(`${base}/dir/b.bin`, new Uint8Array([0, 1, 2])));
      await ok(api.put(`${base}/img%2Bstep%2B1.png`, "png"));
      await ok(api.put(`${base}/img+step+2.png`, "png"));
      await ok(api.put(`${base}/with%20space.json`, "{}"));
      await ok(api.put(`${base}/empty.txt`, ""));
      const a = await ok(api.artifact(`${base}/dir/a.txt`));
      assert.deepEqual(
        [
          a.text,
          a.headers["content-type"],
          a.headers["content-disposition"],
          a.headers["transfer-encoding"],
          a.headers["content-length"],
        ],
        [
          "hello",
          "text/plain",
          "attachment; filename=a.txt",
          "chunked",
          undefined,
        ],
      );
      const spaced = await ok(api.artifact(`${base}/with%20space.json`));
      assert.equal(
        spaced.headers["content-disposition"],
        'attachment; filename="with space.json"',
      );
      assert.equal(
        (await ok(api.artifact(`${base}/dir/b.bin`))).headers["content-type"],
        "application/octet-stream",
      );
      assert.equal(
        (await ok(api.artifact(`${base}/img+step+1.png`)))
          .headers["content-type"],
        "image/png",
      );
      assert.deepEqual((await ok(api.list(base))).json, {
        files: [
          { path: "dir", is_dir: true },
          { path: "empty.txt", is_dir: false },
          { path: "img+step+1.png", is_dir: false, file_size: 3 },
          { path: "img+step+2.png", is_dir: false, file_size: 3 },
          { path: "with space.json", is_dir: false, file_size: 2 },
        ],
      });
      assert.deepEqual((await ok(api.list(`${base}/dir/a.txt`))).json, {});
      assert.deepEqual((await ok(api.list(`${base}/nope`))).json, {});
      assert.deepEqual((await ok(api.list())).json, {
        files: [{ path: exp, is_dir: true }],
      });
      const runList = await ok(
        api.get("artifacts/list", { run_id: runId, path: "dir" }),
      );
      assert.deepEqual(runList.json, {
        root_uri: `mlflow-artifacts:/${base}`,
        files: [
          { path: "dir/a.txt", is_dir: false, file_size: 5 },
          { path: "dir/b.bin", is_dir: false, file_size: 3 },
        ],
      });
      const ui = await ok(
        api.call({
          method: "GET",
          path: `/get-artifact?path=dir%2Fa.txt&run_uuid=${runId}`,
        }),
      );
      assert.equal(ui.text, "hello");
      await page(
        api.artifact(`${base}/dir`),
        500,
        HTML,
        /Internal Server Error/,
      );
      await ok(api.artifact(`${base}/dir/a.txt`, "DELETE"));
      await no(
        api.artifact(`${base}/dir/a.txt`),
        500,
        "INTERNAL_ERROR",
        /No such file or directory/,
      );
      await ok(api.artifact(`${base}/dir`, "DELETE"));
      assert.deepEqual(api.fake.artifactPaths(), [
        `${base}/empty.txt`,
        `${base}/img+step+1.png`,
        `${base}/img+step+2.png`,
        `${base}/with space.json`,
      ]);
      assert.deepEqual(
        api.fake.artifact(`${base}/empty.txt`),
        new Uint8Array(0),
      );
      await ok(
        api.rpc("logged-models/search", {
          experiment_ids: [exp],
          filter: "name = 'dir'",
        }),
      );
    });
  });

  it("names with % are decoded again, as the real server does", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const base = `1/${runId}/artifacts/pct`;
      const cases: [string, string][] = [
        ["a%2525b.txt", "a%b.txt"],
        ["x%2541.txt", "xA.txt"],
        ["s%25step%2545%25t.png", "s%stepE%t.png"],
        ["s%25step%25200%25t.png", "s%step 0%t.png"],
        ["s%25step%2510%25t.png", "s%step%10%t.png"],
        ["s%25step%259%25t.png", "s%step%9%t.png"],
        ["tab%2509x.txt", "tabx.txt"],
      ];
      for (const [sent] of cases) await ok(api.put(`${base}/${sent}`, "x"));
      assert.deepEqual(
        api.fake.artifactPaths(base).map((p) => p.slice(base.length + 1)),
        cases.map(([, stored]) => stored).sort(),
      );
    });
  });
});

describe("FakeMlflow model registry", () => {
  it("versions, aliases (latest resolves), search, latest versions, tags, download URI, rename, delete", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const created = await ok(api.rpc("registered-models/create", {
        name: "ds",
        tags: [{ key: "artifact.type", value: "dataset" }],
      }));
      assert.deepEqual(Object.keys(created.json.registered_model).sort(), [
        "creation_timestamp",
        "description",
        "last_updated_timestamp",
        "name",
        "tags",
      ]);
      const sources = [
        `mlflow-artifacts:/1/${runId}/artifacts/ds`,
        `runs:/${runId}/ds`,
        "s3://bucket/ds",
      ];
      for (const [i, source] of sources.entries()) {
        const v = (await ok(api.rpc("model-versions/create", {
          name: "ds",
          source,
          run_id: runId,
          tags: [{ key: "n", value: String(i) }],
        }))).json.model_version;
        assert.deepEqual(
          [
            v.version,
            v.status,
            v.current_stage,
            v.description,
            v.run_link,
            v.aliases,
          ],
          [String(i + 1), "READY", "None", "", "", undefined],
        );
      }
      await ok(
        api.rpc("registered-models/alias", {
          name: "ds",
          alias: "champion",
          version: "1",
        }),
      );
      const alias = (name: string) =>
        api.get("registered-models/alias", { name: "ds", alias: name });
      const champion = (await ok(alias("champion"))).json.model_version;
      assert.deepEqual([champion.version, champion.aliases], ["1", [
        "champion",
      ]]);
      assert.equal((await ok(alias("Latest"))).json.model_version.version, "3");
      const got =
        (await ok(api.get("model-versions/get", { name: "ds", version: "1" })))
          .json.model_version;
      assert.deepEqual(got.aliases, ["champion"]);
      const uri = await ok(
        api.get("model-versions/get-download-uri", {
          name: "ds",
          version: "2",
        }),
      );
      assert.deepEqual(uri.json, { artifact_uri: `runs:/${runId}/ds` });
      const found = (await ok(
        api.get("model-versions/search", {
          filter: "name='ds'",
          max_results: "10000",
        }),
      )).json;
      assert.deepEqual(
        found.model_versions.map((v: { version: string }) => v.version),
        ["3", "2", "1"],
      );
      assert.ok(found.model_versions.every((v: object) => !("aliases" in v)));
      const byTag = await ok(
        api.get("model-versions/search", { filter: "tags.n = '1'" }),
      );
      assert.deepEqual(
        byTag.json.model_versions.map((v: { version: string }) => v.version),
        ["2"],
      );
      for (const method of ["GET", "POST"]) {
        const latest = method === "GET"
          ? await ok(
            api.get("registered-models/get-latest-versions", { name: "ds" }),
          )
          : await ok(
            api.rpc("registered-models/get-latest-versions", { name: "ds" }),
          );
        assert.deepEqual(
          latest.json.model_versions.map((v: { version: string }) => v.version),
          ["3"],
        );
      }
      await ok(
        api.rpc("model-versions/set-tag", {
          name: "ds",
          version: "3",
          key: "k",
          value: "v",
        }),
      );
      await ok(
        api.rpc("model-versions/delete-tag", {
          name: "ds",
          version: "3",
          key: "n",
        }, "DELETE"),
      );
      await ok(
        api.rpc("model-versions/update", {
          name: "ds",
          version: "3",
          description: "third",
        }, "PATCH"),
      );
      await ok(
        api.rpc("registered-models/set-tag", {
          name: "ds",
          key: "owner",
          value: "me",
        }),
      );
      const model =
        (await ok(api.get("registered-models/get", { name: "ds" }))).json
          .registered_model;
      assert.deepEqual(model.aliases, [{ alias: "champion", version: "1" }]);
      assert.deepEqual(
        model.latest_versions.map((
          v: { version: string; description: string },
        ) => [v.version, v.description]),
        [["3", "third"]],
      );
      assert.deepEqual(api.fake.modelVersions("ds")[2].tags, { k: "v" });
      await ok(
        api.rpc(
          "registered-models/alias",
          { name: "ds", alias: "champion" },
          "DELETE",
        ),
      );
      await ok(
        api.rpc(
          "model-versions/delete",
          { name: "ds", version: "3" },
          "DELETE",
        ),
      );
      assert.equal((await ok(alias("latest"))).json.model_version.version, "2");
      await ok(
        api.rpc("model-versions/create", { name: "ds", source: "s3://b/4" }),
      );
      assert.deepEqual(api.fake.modelVersions("ds").map((v) => v.version), [
        "1",
        "2",
        "4",
      ]);
      await ok(
        api.rpc("registered-models/rename", { name: "ds", new_name: "ds2" }),
      );
      const listed = (await ok(
        api.get("registered-models/search", { filter: "name LIKE 'ds%'" }),
      )).json;
      assert.deepEqual(
        listed.registered_models.map((m: { name: string }) => m.name),
        ["ds2"],
      );
      await ok(api.rpc("registered-models/delete", { name: "ds2" }, "DELETE"));
      assert.deepEqual(api.fake.registeredModels(), []);
    });
  });
});

// ---------------------------------------------------------------------------
// Faults (through fetch, as a client would meet them)
// ---------------------------------------------------------------------------

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail("the request did not fail");
}

function createExperiment(
  fake: FakeMlflow,
  name: string,
  o: RequestInit = {},
): Promise<Response> {
  return fetch(`${fake.url}${API}/experiments/create`, {
    method: "POST",
    headers: JSON_TYPE,
    body: JSON.stringify({ name }),
    ...o,
  });
}

describe("FakeMlflow faults", () => {
  it("throttle: 429 with Retry-After before auth and state, then the request passes", async () => {
    const fake = await FakeMlflow.start({ auth: { token: "t" } });
    try {
      fake.throttle({ path: `${API}/experiments/create`, retryAfterS: 2 });
      const throttled = await createExperiment(fake, "x");
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers.get("retry-after"), "2");
      assert.equal(
        (await throttled.json()).error_code,
        "REQUEST_LIMIT_EXCEEDED",
      );
      assert.equal(fake.experimentByName("x"), undefined);
      const passed = await createExperiment(fake, "x", {
        headers: { ...JSON_TYPE, Authorization: "Bearer t" },
      });
      assert.equal(passed.status, 200);
      assert.ok(fake.experimentByName("x"));
      const [first, second] = fake.requests.slice(-2);
      assert.deepEqual([first.status, second.status, first.json], [429, 200, {
        name: "x",
      }]);
    } finally {
      await fake.close();
    }
  });

  it("fail: 503 TEMPORARILY_UNAVAILABLE by default, 500 INTERNAL_ERROR, by method, `count` times", async () => {
    await withApi(async (api) => {
      const { fake } = api;
      fake.fail({ path: /experiments\/create$/, count: 2 });
      for (let i = 0; i < 2; i++) {
        const failed = await createExperiment(fake, "x");
        assert.equal(failed.status, 503);
        assert.deepEqual(await failed.json(), {
          error_code: "TEMPORARILY_UNAVAILABLE",
          message: "Injected failure: HTTP 503",
        });
      }
      assert.equal((await createExperiment(fake, "x")).status, 200);
      fake.fail({ status: 500, method: "get" });
      assert.equal((await createExperiment(fake, "y")).status, 200);
      const failed = await fetch(`${fake.url}${API}/experiments/search`);
      assert.equal(failed.status, 500);
      assert.equal((await failed.json()).error_code, "INTERNAL_ERROR");
      assert.throws(() => fake.fail({ status: 200 }), RangeError);
      assert.throws(() => fake.hang({ count: 0 }), RangeError);
    });
  });

  it("hang: the client aborts, nothing is stored, the next request passes", async () => {
    await withApi(async ({ fake }) => {
      fake.hang({ path: `${API}/experiments/create` });
      const error = await rejection(
        createExperiment(fake, "x", { signal: AbortSignal.timeout(200) }),
      );
      assert.match(error.name, /TimeoutError|AbortError/);
      assert.equal(fake.experimentByName("x"), undefined);
      assert.equal(fake.requests.at(-1)?.status, 0);
      assert.equal((await createExperiment(fake, "x")).status, 200);
    });
  });

  it("reset and setDown: fetch rejects and nothing is stored; back up, it passes", async () => {
    await withApi(async ({ fake }) => {
      assert.equal((await createExperiment(fake, "a")).status, 200);
      fake.reset({ path: `${API}/experiments/create` });
      await rejection(createExperiment(fake, "b"));
      assert.equal(fake.experimentByName("b"), undefined);
      assert.equal((await createExperiment(fake, "b")).status, 200);
      fake.setDown(true);
      await rejection(fetch(`${fake.url}${API}/experiments/search`));
      await rejection(createExperiment(fake, "c"));
      assert.equal(fake.experimentByName("c"), undefined);
      assert.equal(fake.requests.at(-1)?.status, 0);
      fake.setDown(false);
      assert.equal((await createExperiment(fake, "c")).status, 200);
    });
  });

  it("close() returns promptly with a hung request pending, which then fails", async () => {
    const fake = await FakeMlflow.start();
    fake.hang();
    const pending = rejection(fetch(`${fake.url}/health`));
    while (fake.requests.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    const began = Date.now();
    await fake.close();
    assert.ok(
      Date.now() - began < 1000,
      `close() took ${Date.now() - began} ms`,
    );
    assert.ok((await pending) instanceof Error);
  });
});

// ---------------------------------------------------------------------------
// Chunked bodies: stored as 0 bytes, answered 200 (uvicorn's WSGI bridge)
// ---------------------------------------------------------------------------

describe("FakeMlflow chunked uploads", () => {
  it("a chunked PUT without Content-Length stores 0 bytes and answers 200", async () => {
    await withApi(async (api) => {
      const runId = await api.run(await api.experiment());
      const base = `1/${runId}/artifacts`;
      const data = new Uint8Array(300_000).fill(7);
      assert.deepEqual(
        (await ok(api.put(`${base}/node.bin`, data, true))).json,
        {},
      );
      const response = await fetch(`${api.fake.url}${ART}/${base}/fetch.bin`, {
        method: "PUT",
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(data.subarray(0, 1000));
            controller.enqueue(data.subarray(1000, 2000));
            controller.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {});
      await ok(api.put(`${base}/sized.bin`, data));
      assert.deepEqual(api.fake.chunkedUploads, [
        { path: `${base}/node.bin`, receivedBytes: 300_000 },
        { path: `${base}/fetch.bin`, receivedBytes: 2000 },
      ]);
      const puts = api.fake.requests.filter((r) => r.method === "PUT");
      assert.deepEqual(puts.map((r) => [r.chunked, r.bodyBytes]), [
        [true, 300_000],
        [true, 2000],
        [false, 300_000],
      ]);
      assert.equal(api.fake.artifact(`${base}/node.bin`)?.byteLength, 0);
      assert.equal(api.fake.artifact(`${base}/sized.bin`)?.byteLength, 300_000);
      assert.deepEqual((await ok(api.list(base))).json.files, [
        { path: "fetch.bin", is_dir: false },
        { path: "node.bin", is_dir: false },
        { path: "sized.bin", is_dir: false, file_size: 300_000 },
      ]);
      // A chunked JSON body reads as empty too.
      await no(
        api.call({
          method: "POST",
          path: `${API}/runs/log-metric`,
          headers: JSON_TYPE,
          body: JSON.stringify({
            run_id: runId,
            key: "m",
            value: 1,
            timestamp: 1,
          }),
          chunked: true,
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        `Missing value for required parameter 'run_id'.${DOCS}`,
      );
    });
  });
});
