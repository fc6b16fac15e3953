// The fake Comet ML server (tests/helpers/fake_comet.ts): every request of
// the three captures in ../shared/reference/comet-captures/ (recorded from
// the real Python SDK) replayed in order and accepted, with what was stored
// checked through the fake's state and the REST read endpoints; the
// rejections Comet makes (status, sdk_error_code, a msg naming the problem);
// injected faults (429, 5xx, hangs, resets, a server that is down); and no
// answer ever holding the API key.
//
// Replay: captured keys `<redacted>` become the fake's key and an
// `Authorization` header is added where the capture had one. Ids the
// recorder made up (project, run, artifact, version and asset ids) are
// mapped onto the fake's by comparing each captured answer with the fake's
// answer. The REST capture's `eeee...` key is mapped onto the key that
// `write/experiment/create` returned (no test-only hook).
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  FakeComet,
  type FakeCometOptions,
  type FakeExperiment,
  type FakeMetric,
} from "./helpers/fake_comet.ts";
import { ROOT } from "./helpers/runtime.ts";

const CAPTURES = join(ROOT, "..", "shared", "reference", "comet-captures");
const R = "/api/rest/v2";
const W = `${R}/write/experiment`;
const ART = `${R}/write/artifacts`;
const VERSION = `${R}/artifacts/version`;
const METRICS = "/clientlib/batch/logger/experiment/metric";
const PARAMS = "/clientlib/batch/logger/experiment/parameter";
const ONLINE_KEY = "b0581bc25a4048b29a6f195516ff6681";
const OFFLINE_KEY = "205cef39120d45b09a35b92c27bd1b3f";
const REST_CAPTURE_KEY = "e".repeat(32);
const KEY_A = "a".repeat(32);
const UNKNOWN = "c".repeat(32);

/** Every response body the tests read, and every API key in use. */
const seenBodies: string[] = [];
const seenKeys = new Set<string>();

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

interface CallOptions {
  query?: Record<string, string>;
  json?: unknown;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  /** The `Authorization` header: the fake's key by default, `null` for none. */
  auth?: string | null;
  gzip?: boolean;
  signal?: AbortSignal;
}

interface PartSpec {
  name: string;
  filename?: string;
  contentType?: string;
  data: string | Uint8Array;
}

type Query = Record<string, string>;

/** A fake plus short ways to call it; `key` is set by `create()`. */
class Api {
  readonly fake: FakeComet;
  key = "";

  constructor(fake: FakeComet) {
    this.fake = fake;
  }

  async call(
    method: string,
    path: string,
    o: CallOptions = {},
  ): Promise<Answer> {
    const url = new URL(this.fake.url + path);
    for (const [k, v] of Object.entries(o.query ?? {})) {
      url.searchParams.set(k, v);
    }
    const headers: Record<string, string> = {};
    const auth = o.auth === undefined ? this.fake.apiKey : o.auth;
    if (auth !== null) headers.Authorization = auth;
    let body = o.body;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers["Content-Type"] = "application/json;charset=utf-8";
    }
    if (o.gzip && body !== undefined) {
      body = new Uint8Array(gzipSync(body));
      headers["Content-Encoding"] = "gzip";
    }
    Object.assign(headers, o.headers);
    const response = await fetch(url, {
      method,
      headers,
      body: body as BodyInit | undefined,
      signal: o.signal,
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    seenBodies.push(text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON (asset bytes).
    }
    return {
      status: response.status,
      headers: response.headers,
      bytes,
      text,
      json,
    };
  }

  post(path: string, json: unknown, o: CallOptions = {}): Promise<Answer> {
    return this.call("POST", path, { ...o, json });
  }

  get(path: string, query: Query = {}, o: CallOptions = {}): Promise<Answer> {
    return this.call("GET", path, { ...o, query });
  }

  /** A clientlib call whose key is in the body (no header). */
  lib(path: string, json: Record<string, unknown>): Promise<Answer> {
    return this.post(path, { apiKey: this.fake.apiKey, ...json }, {
      auth: null,
    });
  }

  /** A multipart upload, by default REST `upload-asset` for `key`. */
  up(
    query: Query,
    parts: PartSpec[] = [file("data")],
    path: string = `${W}/upload-asset`,
  ): Promise<Answer> {
    const boundary = "----uetai-test-boundary-7f3a";
    const rest = path === `${W}/upload-asset`;
    const experiment: Query = rest ? { experimentKey: this.key } : {};
    return this.call("POST", path, {
      query: { ...experiment, ...query },
      body: multipart(parts, boundary),
      headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
    });
  }

  /** Posts to `W/<what>` for `key`. */
  write(what: string, json: object, o: CallOptions = {}): Promise<Answer> {
    return this.post(`${W}/${what}`, { experimentKey: this.key, ...json }, o);
  }

  /** Reads `R/experiment/<what>` for `key`. */
  read(what: string, query: Query = {}): Promise<Answer> {
    return this.get(`${R}/experiment/${what}`, {
      experimentKey: this.key,
      ...query,
    });
  }

  async create(experimentName?: string): Promise<string> {
    const answer = await ok(this.post(`${W}/create`, {
      workspaceName: this.fake.workspace,
      projectName: "proj",
      experimentName,
    }));
    this.key = answer.json.experimentKey;
    return this.key;
  }

  /** The clientlib handshake with `KEY_A` unless `body` says otherwise. */
  addRun(body: Record<string, unknown> = {}): Promise<Answer> {
    return this.lib("/clientlib/logger/add/run", {
      local_timestamp: Date.now(),
      experimentKey: KEY_A,
      offline: false,
      projectName: "proj",
      teamName: this.fake.workspace,
      libVersion: "3.32.5",
      ...body,
    });
  }

  /** The stored experiment (`key` by default). */
  stored(key: string = this.key): FakeExperiment {
    const experiment = this.fake.experiment(key);
    assert.ok(experiment, `experiment ${key} exists`);
    return experiment;
  }
}

async function withApi(
  fn: (api: Api) => Promise<void>,
  options?: FakeCometOptions,
): Promise<void> {
  const fake = await FakeComet.start(options);
  seenKeys.add(fake.apiKey);
  try {
    await fn(new Api(fake));
  } finally {
    await fake.close();
  }
}

/** Awaits a 2xx answer. */
async function ok(answer: Promise<Answer>, what = "request"): Promise<Answer> {
  const a = await answer;
  assert.ok(
    a.status >= 200 && a.status < 300,
    `${what}: ${a.status} ${a.text}`,
  );
  return a;
}

/** Awaits an error answer: status, body `{msg, code, sdk_error_code}`. */
async function no(
  answer: Promise<Answer>,
  sdkErrorCode: number,
  msg: RegExp,
  status = 400,
): Promise<Answer> {
  const a = await answer;
  assert.equal(a.status, status, a.text);
  assert.deepEqual(Object.keys(a.json).sort(), [
    "code",
    "msg",
    "sdk_error_code",
  ]);
  assert.equal(a.json.code, status, a.text);
  assert.equal(a.json.sdk_error_code, sdkErrorCode, a.text);
  assert.match(a.json.msg, msg);
  return a;
}

function file(data: string | Uint8Array): PartSpec {
  return { name: "file", filename: "file", data };
}

function multipart(parts: PartSpec[], boundary: string): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    let head =
      `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    if (part.contentType) head += `\r\nContent-Type: ${part.contentType}`;
    chunks.push(encoder.encode(`${head}\r\n\r\n`));
    chunks.push(
      typeof part.data === "string" ? encoder.encode(part.data) : part.data,
    );
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce(
    (offset, chunk) => (out.set(chunk, offset), offset + chunk.length),
    0,
  );
  return out;
}

function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** A value as text: strings bare, anything else as JSON. */
function show(value: unknown): string {
  return typeof value === "string"
    ? value
    : JSON.stringify(value) ?? "undefined";
}

/** Several values as one line of text, for compact comparisons. */
function line(...values: unknown[]): string {
  return values.map(show).join(" ");
}

/** The named fields of each item, one line each. */
function table<T>(items: readonly T[], fields: (keyof T)[]): string[] {
  return items.map((item) => line(...fields.map((field) => item[field])));
}

/** `assert.deepEqual`, shorter. */
function eq(actual: unknown, expected: unknown): void {
  assert.deepEqual(actual, expected);
}

// ---------------------------------------------------------------------------
// Capture replay
// ---------------------------------------------------------------------------

interface CapturedPart {
  name: string;
  filename: string | null;
  content_type: string | null;
  size: number;
  preview: string;
}

interface Capture {
  seq: number;
  method: string;
  path: string;
  query: Query;
  headers: Record<string, string>;
  auth_headers_present: string[];
  body:
    | null
    | { kind: "json"; gzip: boolean; json: unknown }
    | { kind: "multipart"; parts: CapturedPart[] };
  response: unknown;
}

/** Answer fields holding ids the recorder made up. */
const ID_FIELDS = new Set(
  "experimentKey runId project_id projectId artifactId artifactVersionId assetId"
    .split(" "),
);

function learnIds(
  captured: unknown,
  mine: unknown,
  ids: Map<string, string>,
): void {
  if (typeof captured !== "object" || captured === null) return;
  if (typeof mine !== "object" || mine === null) return;
  for (const [key, value] of Object.entries(captured)) {
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

function substitute(
  value: unknown,
  ids: Map<string, string>,
  apiKey: string,
): unknown {
  if (typeof value === "string") {
    if (value === "<redacted>") return apiKey;
    return [...ids].reduce(
      (out, [from, to]) => out.replaceAll(from, to),
      value,
    );
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids, apiKey));
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, substitute(v, ids, apiKey)]),
  );
}

/** The bytes of a Python `b'...'` literal. */
function pythonBytes(literal: string): number[] {
  const escapes: Record<string, number> = {
    n: 10,
    r: 13,
    t: 9,
    "\\": 92,
    "'": 39,
  };
  const out: number[] = [];
  for (let i = 0; i < literal.length; i++) {
    if (literal[i] !== "\\") {
      out.push(literal.charCodeAt(i));
    } else if (literal[i + 1] === "x") {
      out.push(parseInt(literal.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      out.push(escapes[literal[++i]] ?? literal.charCodeAt(i));
    }
  }
  return out;
}

/**
 * A captured part's bytes: the preview when it is the whole text; binaries
 * as their captured first bytes padded with zeros to `size` (the fake does
 * not decode images or audio).
 */
function partContent(part: CapturedPart): Uint8Array {
  const binary = /^<binary (\d+) bytes, starts b'(.*)'>$/s.exec(part.preview);
  if (binary !== null) {
    const out = new Uint8Array(part.size);
    out.set(pythonBytes(binary[2]));
    return out;
  }
  let content = part.preview;
  if (new TextEncoder().encode(content).length !== part.size) {
    // The one cut preview: Python's confusion-matrix JSON, whose last two
    // fields are null when it has no samples (comet.md §5.3).
    assert.match(content, /^\{"version": 1, "title": "Confusion Matrix"/);
    content += '": null, "type": null}';
  }
  const bytes = new TextEncoder().encode(content);
  assert.equal(bytes.length, part.size, `rebuilt part ${part.name}`);
  return bytes;
}

const DROPPED = new Set(["content-length", "connection", "accept-encoding"]);

interface Replay {
  answers: Map<number, Answer>;
  ids: Map<string, string>;
}

/** Replays every request of a capture file in order; each must be 2xx. */
async function replay(api: Api, name: string): Promise<Replay> {
  const lines = readFileSync(join(CAPTURES, name), "utf8").split("\n");
  const captures = lines.filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as Capture
  );
  const { apiKey } = api.fake;
  const ids = new Map<string, string>();
  const answers = new Map<number, Answer>();
  for (const capture of captures) {
    const headers: Record<string, string> = {};
    for (const [header, value] of Object.entries(capture.headers)) {
      if (!DROPPED.has(header.toLowerCase())) {
        headers[header] = substitute(value, ids, apiKey) as string;
      }
    }
    let body: Uint8Array | string | undefined;
    if (capture.body?.kind === "json") {
      body = JSON.stringify(substitute(capture.body.json, ids, apiKey));
      if (capture.body.gzip) body = new Uint8Array(gzipSync(body));
    } else if (capture.body?.kind === "multipart") {
      const boundary = /boundary=([^;]+)/.exec(headers["Content-Type"])?.[1] ??
        "";
      const parts = capture.body.parts.map((part) => ({
        name: part.name,
        filename: part.filename ?? undefined,
        contentType: part.content_type ?? undefined,
        data: partContent(part),
      }));
      body = multipart(parts, boundary);
    }
    const answer = await ok(
      api.call(capture.method, capture.path, {
        query: substitute(capture.query, ids, apiKey) as Query,
        auth: capture.auth_headers_present.includes("Authorization")
          ? apiKey
          : null,
        headers,
        body,
      }),
      `${name} seq ${capture.seq} ${capture.method} ${capture.path}`,
    );
    learnIds(capture.response, answer.json, ids);
    if (capture.path === `${W}/create`) {
      ids.set(REST_CAPTURE_KEY, answer.json.experimentKey);
    }
    answers.set(capture.seq, answer);
  }
  assert.equal(answers.size, captures.length);
  return { answers, ids };
}

describe("FakeComet replays the captures", () => {
  it("online Experiment session: accepted and stored", async () => {
    await withApi(async (api) => {
      const { answers } = await replay(api, "online-experiment.jsonl");
      const at = (seq: number) => answers.get(seq) as Answer;
      assert.equal(answers.size, 40);
      const hello = at(2).json;
      assert.equal(hello.focusUrl, `${api.fake.url}/ws/proj/`);
      const toggle = { name: "sdk_use_http_messages", enabled: true };
      eq(hello.featureToggles, [toggle]);
      eq(line(hello.upload_file_size_limit_in_mb, hello.lastOffset), "200 0");
      assert.match(hello.runId, /^[0-9a-f]{32}$/);
      assert.equal(at(4).json.is_alive_beat_duration_millis, 3000);

      const e = api.stored(ONLINE_KEY);
      eq(
        line(e.name, e.tags, e.html, e.graph),
        [
          'run-1 ["a","b","c"] <b>hi</b> Sequential(Linear(2, 2))',
        ].join(),
      );
      const metricFields: (keyof FakeMetric)[] = ["metricName", "metricValue"];
      eq(table(e.metrics, [...metricFields, "step", "epoch", "context"]), [
        "loss 0.5 1 0 null",
        "train_acc 0.9 2 0 null",
        "train_loss 0.4 2 0 null",
        "loss 0.6 2 0 validate",
      ]);
      const manual = e.parameters.filter((p) => p.source === "manual");
      eq(table(manual, ["parameterName", "parameterValue"]), [
        "opt_bs 32",
        "opt_lr 0.01",
        'opt_nested {"x": 1}',
        "optimizer adam",
      ]);
      eq(table(e.others, ["key", "value"]), ["Name run-1", "note x"]);
      const details = e.systemDetails;
      assert.equal(details.hostname, "vm");
      assert.ok(Array.isArray(details.installedPackages));
      assert.ok(Array.isArray(details.osPackages));
      eq(line(e.heartbeats, e.alive, e.output.length), "2 false 21");
      assert.notEqual(e.endTimeMillis, null);

      const own = e.assets.filter((a) => a.artifactVersionId === null);
      eq(table(own, ["fileName", "type", "step", "remote", "metadata"]), [
        'auto-generated-in-the-backend text-sample 3 false {"k":"v"}',
        "img.png image 3 false null",
        'a.wav audio 3 false {"sr":8000}',
        'notes.txt asset 4 false {"m":1}',
        'x.csv asset 4 true {"r":1}',
        "w histogram3d 5 false null",
        "pr curve 5 false null",
        "data.json asset 4 false null",
        "confusion-matrix.json confusion-matrix 5 false null",
      ]);
      const sizes = own.map((a) => a.data.length);
      eq(sizes.join(), "10,69,1644,11,0,160,40,8,222");
      const [sample, image, , notes, remote] = own;
      assert.equal(text(sample.data), "hello text");
      assert.equal(sample.assetId, "cf2bed5ae8cc410081bfd3637be2e606");
      assert.equal(image.assetId, "f4ec6c250dda4a1ab6633526c82cd0fc");
      assert.equal(image.extension, "png");
      eq(text(image.data.subarray(1, 4)), "PNG");
      assert.equal(text(notes.data), "some notes\n");
      assert.equal(remote.link, "s3://bucket/x.csv");

      const [artifact] = api.fake.artifacts();
      eq(line(artifact.artifactName, artifact.artifactType), "my-ds dataset");
      assert.equal(artifact.versions.length, 1);
      const [v] = artifact.versions;
      eq(
        line(v.version, v.state, v.alias, v.tags, v.metadata),
        [
          '1.0.0 CLOSED ["prod"] ["v"] {"k":1}',
        ].join(),
      );
      eq(v.consumers, [ONLINE_KEY]);
      assert.equal(at(12).json.state, "OPEN", "by id right after upsert");
      const detail = at(31).json;
      const { artifact: nested } = detail;
      eq(
        line(detail.artifactVersion, detail.state, detail.sizeInBytes),
        "1.0.0 CLOSED 11",
      );
      eq(line(nested.artifactName, nested.workspaceName), "my-ds ws");
      eq(table(at(32).json.files, ["fileName", "fileSize", "remote", "link"]), [
        "data.txt 11 false null",
        "remote.csv 0 true s3://bucket/remote.csv",
      ]);
      assert.equal(at(34).text, "hello world");
      eq(line(at(36).json.running, at(36).json.throttle), "true false");

      // The REST reads agree.
      api.key = ONLINE_KEY;
      const loss = await api.read("metrics/get-metric", { metricName: "loss" });
      eq(table(loss.json.metrics, ["metricValue", "runContext", "step"]), [
        "0.5 null 1",
        "0.6 validate 2",
      ]);
      const all = await api.read("asset/list", { type: "all" });
      assert.equal(all.json.assets.length, 9, "artifact files not listed");
      const type = "histogram_combined_3d";
      const histograms = (await api.read("asset/list", { type })).json;
      eq(table(histograms.assets, ["fileName", "type", "histogram"]), [
        "w histogram_combined_3d true",
      ]);
      const images = await api.read("asset/list", { type: "image" });
      const [png] = images.json.assets;
      eq(line(png.fileName, png.image, png.fileSize), "img.png true 69");
      const link = new URL(png.link);
      const query = Object.fromEntries(link.searchParams);
      const download = await api.get(link.pathname, query);
      assert.equal(download.bytes.length, 69);
      const { output } = (await api.read("output")).json;
      assert.match(output, new RegExp(`MARK create done ${ONLINE_KEY}\n`));
      assert.match(output, /hello stdout line\n/);
      const metadata = (await api.read("metadata")).json;
      eq(line(metadata.experimentName, metadata.running), "run-1 false");
    });
  });

  it("REST v2 client session: accepted, eeee... mapped to the created key", async () => {
    await withApi(async (api) => {
      const { answers, ids } = await replay(api, "rest-v2-client.jsonl");
      const at = (seq: number) => answers.get(seq)?.json;
      const key = ids.get(REST_CAPTURE_KEY) as string;
      assert.match(key, /^[0-9a-f]{32}$/);
      eq(at(2), {
        experimentKey: key,
        workspaceName: "ws",
        projectName: "proj",
        link: `${api.fake.url}/ws/proj/${key}`,
        name: "named-run",
      });
      const e = api.stored(key);
      assert.equal(e.name, "named-run");
      eq(e.metrics, [{
        metricName: "loss",
        metricValue: 0.5,
        step: 1,
        epoch: 0,
        context: "train",
        timestamp: 1700000000000,
      }]);
      const params = table(e.parameters, ["parameterName", "parameterValue"]);
      eq(params, ["lr 0.01"]);
      eq(
        line(e.tags, e.startTimeMillis, e.endTimeMillis),
        [
          '["a","b"] 1700000000000 1700000100000',
        ].join(),
      );
      assert.equal((e.gitMetadata as { branch: string }).branch, "main");
      eq(line(e.heartbeats, e.stopRequested), "1 true");
      assert.equal(e.output.map((l) => l.output).join(""), "line1\nline2\n");
      eq(
        table(e.assets, ["fileName", "type", "step", "context", "extension"]),
        [
          "<scratch> asset 2 c txt",
          "img.png image 3 null .png",
        ],
      );
      assert.equal(e.assets[0].metadata, '{"a":1}');
      eq(at(10), {
        isAliveBeatDurationMillis: 3000,
        gpuMonitorIntervalMillis: 60000,
        cpuMonitorIntervalMillis: 60000,
      });
      eq(at(13).metrics, [{
        metricName: "loss",
        metricValue: "0.5",
        timestamp: 1700000000000,
        step: 1,
        epoch: 0,
        runContext: "train",
      }]);
      eq(
        table(at(14).values, ["name", "valueMax", "valueMin", "valueCurrent"]),
        [
          "loss 0.5 0.5 0.5",
        ],
      );
      const [summary] = at(14).values;
      eq(line(summary.runContextCurrent, summary.stepCurrent), "train 1");
      assert.equal(at(15).values[0].valueCurrent, "0.01");
      eq(table(at(16).assets, ["fileName", "fileSize", "type", "tags"]), [
        "<scratch> 11 asset []",
        "img.png 69 image []",
      ]);
      assert.equal(at(17).values[0].valueCurrent, "v");
      eq(at(18), { tags: ["a", "b"] });
      eq(at(19), { graph: null });
      const meta = at(20);
      eq(
        line(meta.experimentName, meta.durationMillis, meta.throttle),
        "named-run 100000 false",
      );
      eq(at(21), { msg: "Stop Requested" });
    });
  });

  it("offline archive upload: offline handshake and offline-metadata accepted", async () => {
    await withApi(async (api) => {
      await replay(api, "offline-upload-replay.jsonl");
      const e = api.stored(OFFLINE_KEY);
      eq(line(e.offline, e.name, e.tags), 'true offline-run ["off"]');
      eq(table(e.others, ["key", "value"]), [
        "offline_experiment true",
        "Name offline-run",
        "note x",
      ]);
      eq(line(e.graph, e.html), "G <b>hi</b>");
      eq(table(e.metrics, ["metricName", "metricValue", "step"]), [
        "loss 0.5 1",
      ]);
      const names = e.parameters.map((p) => p.parameterName);
      eq(names, ["lr", "curr_step", "curr_epoch"]);
      eq(table(e.assets, ["fileName", "type", "remote"]), [
        "auto-generated-in-the-backend text-sample false",
        "notes.txt asset false",
        "img.png image false",
        "x.csv asset true",
      ]);
      eq(line(e.output.length, e.alive), "3 false");
      eq(
        line(e.startTimeMillis, e.endTimeMillis),
        "1795789206469 1795789206497",
      );
      const batch = api.fake.requests.find((r) => r.path === METRICS);
      assert.equal(batch?.gzip, true);
      const sent = batch?.json as { experimentKey: string };
      assert.equal(sent.experimentKey, OFFLINE_KEY);
      const image = api.fake.requests.find((r) =>
        r.path.endsWith("/visualizations/upload")
      );
      const parts = image?.parts ?? [];
      eq(table(parts, ["name", "filename"]), ["file file"]);
      assert.equal(parts[0].data.length, 69);
    });
  });
});

// ---------------------------------------------------------------------------
// Experiments: handshake, lifecycle, tags, others, lists
// ---------------------------------------------------------------------------

describe("FakeComet experiments", () => {
  it("get/run answers the handshake with lastOffset; a missing run is 90211", async () => {
    await withApi(async (api) => {
      await ok(api.addRun());
      api.key = KEY_A;
      const output = { output: "x\n", stderr: false, offset: 0 };
      await ok(api.write("output", { outputLines: [output] }));
      const getRun = (previousExperiment: string) =>
        api.lib("/clientlib/logger/get/run", { previousExperiment });
      const again = (await ok(getRun(KEY_A))).json;
      eq(line(again.lastOffset, again.focusUrl), `1 ${api.fake.url}/ws/proj/`);
      assert.equal(again.project_id, api.stored().projectId);
      await no(getRun(UNKNOWN), 90211, /does not exist/);
    });
  });

  it("heartbeats answer the configured interval; status and times are kept", async () => {
    await withApi(async (api) => {
      await api.create();
      const beat = await api.get(`${W}/set-status`, { experimentKey: api.key });
      eq(beat.json, {
        isAliveBeatDurationMillis: 1234,
        gpuMonitorIntervalMillis: 60000,
        cpuMonitorIntervalMillis: 60000,
      });
      const crash = { isAlive: false, error: "boom", hasCrashed: true };
      await ok(api.write("update-status", crash));
      const e = api.stored();
      eq(
        line(e.alive, e.error, e.hasCrashed, e.heartbeats),
        "false boom true 1",
      );
      assert.notEqual(e.endTimeMillis, null);
      const status = await api.lib("/clientlib/status-report/update", {
        experimentKey: api.key,
        is_alive: true,
      });
      assert.equal(status.json.is_alive_beat_duration_millis, 1234);
      eq(line(e.alive, e.heartbeats), "true 2");
      const times = (json: Record<string, unknown>) =>
        api.write("set-start-end-time", json);
      const backwards = { startTimeMillis: 2000, endTimeMillis: 1000 };
      await no(
        times(backwards),
        0,
        /"endTimeMillis": 1000 would put the end \(1000\) before/,
      );
      await no(
        times({ startTimeMillis: 1.5 }),
        0,
        /"startTimeMillis".*integer/,
      );
      await no(api.write("update-status", {}), 0, /"isAlive"/);
      await ok(times({ startTimeMillis: 10, endTimeMillis: 20 }));
      eq(line(e.startTimeMillis, e.endTimeMillis), "10 20");
      await no(times({ startTimeMillis: 30 }), 0, /"startTimeMillis": 30/);
    }, { heartbeatMs: 1234 });
  });

  it("tags without duplicates, html append/override, Name, code, file path", async () => {
    await withApi(async (api) => {
      await api.create("first");
      await ok(api.write("tags", { addedTags: ["a", "b"] }));
      await ok(api.lib("/clientlib/tags/add-tags-to-experiment", {
        experimentKey: api.key,
        addedTags: ["b", "c"],
      }));
      await no(api.write("tags", { addedTags: [1] }), 0, /"addedTags"/);
      eq((await api.read("tags")).json, { tags: ["a", "b", "c"] });
      const html = (content: string, override: boolean) =>
        api.write("html", { html: content, override });
      await ok(html("<p>1</p>", false));
      await ok(html("<p>2</p>", false));
      eq((await api.read("html")).json, { html: "<p>1</p><p>2</p>" });
      await ok(html("<p>3</p>", true));
      assert.equal(api.stored().html, "<p>3</p>");
      const other = { key: "Name", value: "second", timestamp: 5 };
      await ok(api.write("log-other", other));
      assert.equal(api.stored().name, "second");
      const others = (await api.read("log-other")).json.values;
      const fields = ["name", "valueCurrent", "timestampCurrent"];
      eq(table(others, fields), ["Name second 5"]);
      await no(api.write("log-other", { key: "k" }), 0, /Missing "value"/);
      await ok(api.write("code", { code: "print(1)" }));
      await ok(api.write("file-path", { filePath: "/src/train.py" }));
      eq((await api.read("code")).json, { code: "print(1)" });
      const meta = (await api.read("metadata")).json;
      eq(
        line(meta.fileName, meta.filePath, meta.experimentName),
        "train.py /src/train.py second",
      );
    });
  });

  it("metric summary: min, max and current per name and context", async () => {
    await withApi(async (api) => {
      await api.create();
      const values = [3, 1, "NaN", 2].map((metricValue, step) => ({
        metricName: "loss",
        metricValue,
        step,
        timestamp: 100 + step,
      }));
      values.push({ ...values[0], metricValue: 9, context: "test" } as never);
      const batch = { experimentKey: api.key, values };
      await ok(api.post(METRICS, batch, { gzip: true }));
      const summary = (await api.read("metrics/summary")).json.values;
      const minMax = ["valueMax", "valueMin", "valueCurrent", "runContextMax"];
      eq(table(summary, ["name", ...minMax]), [
        "loss 3 1 2 null",
        "loss 9 9 9 test",
      ]);
      const steps = ["stepMax", "stepMin", "stepCurrent", "timestampMax"];
      eq(table(summary, [...steps, "editable"]), [
        "0 1 3 100 false",
        "0 0 0 100 false",
      ]);
    });
  });

  it("lists workspaces, projects and experiments; takes the Java key header", async () => {
    await withApi(async (api) => {
      await api.create("listed");
      const workspaces = await api.get(`${R}/workspaces`);
      eq(workspaces.json, { workspaceNames: ["team"] });
      const inTeam = { workspaceName: "team" };
      const projects = (await api.get(`${R}/projects`, inTeam)).json.projects;
      eq(table(projects, ["projectName", "numberOfExperiments"]), ["proj 1"]);
      const query = { ...inTeam, projectName: "proj" };
      const list = (await api.get(`${R}/experiments`, query)).json.experiments;
      const fields = ["experimentKey", "experimentName", "running"];
      eq(table(list, fields), [`${api.key} listed true`]);
      const ws = { workspaceName: "ws" };
      await no(api.get(`${R}/projects`, ws), 90219, /"workspaceName"/);
      const java = { auth: null, headers: { "Comet-Sdk-Api": "k-12345678" } };
      await ok(
        api.get(`${R}/experiment/tags`, { experimentKey: api.key }, java),
      );
    }, { workspace: "team", apiKey: "k-12345678" });
  });
});

// ---------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------

describe("FakeComet rejections", () => {
  it("a missing or wrong key: 401 on REST, 400 on clientlib, both 90212", async () => {
    await withApi(async (api) => {
      const create = (auth: string | null) =>
        api.post(`${W}/create`, { workspaceName: "ws", projectName: "p" }, {
          auth,
        });
      await no(create(null), 90212, /Missing API key/, 401);
      await no(create("wrong"), 90212, /Invalid API key/, 401);
      await no(
        api.get(`${R}/workspaces`, {}, { auth: "x" }),
        90212,
        /API key/,
        401,
      );
      const batch = { experimentKey: KEY_A, values: [] };
      await no(api.post(METRICS, batch, { auth: null }), 90212, /API key/, 401);
      await no(api.addRun({ apiKey: "wrong" }), 90212, /Invalid "apiKey"/);
      await no(api.addRun({ apiKey: undefined }), 90212, /Missing "apiKey"/);
      const notice = { api_key: "x" };
      const notify = "/clientlib/notification/experiment";
      await no(api.post(notify, notice, { auth: null }), 90212, /"api_key"/);
      await ok(api.addRun());
      const query = { experimentId: KEY_A, apiKey: "wrong", fileName: "f" };
      const upload = api.up(query, undefined, "/clientlib/asset/upload");
      await no(upload, 90212, /"apiKey"/);
      assert.equal(api.stored(KEY_A).assets.length, 0);
    });
  });

  it("handshake and create: experiment key, workspace, project", async () => {
    await withApi(async (api) => {
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ experimentKey: "short" }, 0, /"experimentKey".*32 to 50/],
        [{ experimentKey: `${"g".repeat(31)}-` }, 0, /"experimentKey"/],
        [{ experimentKey: undefined }, 90998, /Missing "experimentKey"/],
        [{ teamName: "other" }, 90219, /Workspace "other".*"teamName"/],
        [{ projectName: undefined }, 98219, /Missing "projectName"/],
        [{ projectName: "p".repeat(101) }, 1341241, /"projectName".*101/],
      ];
      for (const [body, code, msg] of cases) {
        await no(api.addRun(body), code, msg);
      }
      assert.equal(api.fake.experiments().length, 0);
      await ok(api.addRun({ experimentKey: "A".repeat(50) }));
      const again = api.addRun({ experimentKey: "A".repeat(50) });
      await no(again, 90999, /already exists/);
      const creates: [Record<string, unknown>, number, RegExp][] = [
        [
          { workspaceName: "other", projectName: "p" },
          90219,
          /"workspaceName"/,
        ],
        [{ workspaceName: "ws" }, 98219, /"projectName"/],
        [{ projectName: "p" }, 0, /Missing "workspaceName"/],
        [{ workspaceName: "ws", projectName: 7 }, 0, /"projectName"/],
      ];
      for (const [body, code, msg] of creates) {
        await no(api.post(`${W}/create`, body), code, msg);
      }
    });
  });

  it("an unknown or missing experiment key: 90211 / 90998, reads included", async () => {
    await withApi(async (api) => {
      const other = (json: Record<string, unknown>) =>
        api.post(`${W}/log-other`, { key: "k", value: 1, ...json });
      await no(other({ experimentKey: UNKNOWN }), 90211, /does not exist/);
      await no(other({}), 90998, /Missing "experimentKey"/);
      await no(other({ experimentKey: 5 }), 0, /"experimentKey".*string/);
      api.key = UNKNOWN;
      await no(api.read("metadata"), 90211, /does not exist/);
      await no(api.read("asset/list"), 90211, /does not exist/);
      await no(api.get(`${W}/set-status`), 90998, /"experimentKey"/);
      await no(api.up({ fileName: "f" }), 90211, /does not exist/);
      const status = { experimentKey: UNKNOWN };
      const report = api.lib("/clientlib/status-report/update", status);
      await no(report, 90211, /does not exist/);
    });
  });

  it("metric batches: 1 to 1000 typed values; nothing stored on error", async () => {
    await withApi(async (api) => {
      await api.create();
      const value = (i: number, more: Record<string, unknown> = {}) => ({
        metricName: "m",
        metricValue: i,
        step: i,
        epoch: null,
        context: null,
        timestamp: 1,
        ...more,
      });
      const send = (values: unknown[]) =>
        api.post(METRICS, { experimentKey: api.key, values }, { gzip: true });
      const many = (n: number) => Array.from({ length: n }, (_, i) => value(i));
      await no(send(many(1001)), 0, /"values".*1001.*at most 1000/);
      await no(send([]), 0, /"values".*empty/);
      await no(send([1]), 0, /"values\[0\]"/);
      const cases: [Record<string, unknown>, string][] = [
        [{ metricValue: {} }, "metricValue"],
        [{ metricValue: "abc" }, "metricValue"],
        [{ metricValue: true }, "metricValue"],
        [{ metricValue: undefined }, "metricValue"],
        [{ step: 1.5 }, "step"],
        [{ epoch: "1" }, "epoch"],
        [{ metricName: "" }, "metricName"],
        [{ timestamp: "now" }, "timestamp"],
        [{ context: 3 }, "context"],
      ];
      for (const [more, field] of cases) {
        const named = new RegExp(`"values\\[1\\]\\.${field}"`);
        await no(send([value(0), value(1, more)]), 0, named);
      }
      const single = { experimentKey: api.key, metricName: "m" };
      await no(api.post(`${W}/metric`, single), 0, /Missing "metricValue"/);
      assert.equal(api.stored().metrics.length, 0);
      const special = ["NaN", "Infinity", "-Infinity", "1.0E-4", "-2"];
      const specials = special.map((v, i) => value(i, { metricValue: v }));
      await ok(send([...specials, ...many(995)]));
      const stored = api.stored().metrics;
      assert.equal(stored.length, 1000);
      assert.deepEqual(stored.slice(0, 5).map((m) => m.metricValue), special);
      const read = await api.read("metrics/get-metric", { metricName: "m" });
      const [nan, infinity] = read.json.metrics;
      assert.deepEqual(
        [nan.metricValue, infinity.metricValue],
        special.slice(0, 2),
      );
      await no(api.read("metrics/get-metric"), 0, /"metricName"/);
    });
  });

  it("parameters: JSON scalars or arrays of scalars", async () => {
    await withApi(async (api) => {
      await api.create();
      const param = (parameterValue: unknown) => ({
        parameterName: "p",
        parameterValue,
        step: null,
        source: "manual",
        context: null,
        timestamp: 1,
      });
      const send = (...values: unknown[]) =>
        api.post(PARAMS, { experimentKey: api.key, values });
      await no(send(param({ a: 1 })), 0, /"values\[0\]\.parameterValue"/);
      await no(
        send(param("a"), param([[1]])),
        0,
        /"values\[1\]\.parameterValue"/,
      );
      await no(send({ ...param(1), source: 2 }), 0, /"values\[0\]\.source"/);
      const single = { experimentKey: api.key, parameterName: "p" };
      await no(
        api.post(`${W}/parameter`, single),
        0,
        /Missing "parameterValue"/,
      );
      const scalars = ["a", 1, true, null, [1, "x"]];
      await ok(send(...scalars.map(param)));
      await ok(
        api.post(`${W}/parameter`, { ...single, parameterValue: "0.1" }),
      );
      const stored = api.stored().parameters.map((p) => p.parameterValue);
      assert.deepEqual(stored, [...scalars, "0.1"]);
      const [summary] = (await api.read("parameters")).json.values;
      assert.equal(summary.valueCurrent, "0.1");
    });
  });

  it("uploads: histogram3d needs a step and v2 JSON; matrices square; curves even", async () => {
    await withApi(async (api) => {
      await api.create();
      const json = (value: unknown) => [file(JSON.stringify(value))];
      const histogram = { version: 2, index_values: [[1065, 1]], values: null };
      const h3d = { fileName: "h", type: "histogram3d" };
      const h3dStep = { ...h3d, step: "1" };
      const cm = { fileName: "cm", type: "confusion-matrix" };
      const matrix = (matrix: number[][], labels = ["a", "b"]) =>
        json({ version: 1, labels, matrix });
      const curve = { fileName: "c", type: "curve" };
      const xy = (x: number[], y: number[]) => json({ x, y, name: "c" });
      const cases: [Query, PartSpec[], RegExp][] = [
        [h3d, json(histogram), /Missing "step".*histogram3d/],
        [h3dStep, json({ ...histogram, version: 1 }), /"version" 2/],
        [
          h3dStep,
          json({ version: 2, index_values: [[1, 2, 3]] }),
          /"index_values"/,
        ],
        [h3dStep, [file("{")], /histogram must be JSON/],
        [cm, matrix([[1, 2], [3]]), /not square.*row 1 has 1/],
        [cm, matrix([[1, 2], [3, 4]], ["a"]), /1 "labels" for a 2x2/],
        [
          cm,
          matrix([[1, "x"], [3, 4]] as number[][]),
          /row 0 holds a non-number/,
        ],
        [cm, json({ version: 2, labels: [], matrix: [] }), /"version" 1/],
        [curve, xy([1, 2], [1, 2, 3]), /"x" has 2 values and "y" has 3/],
        [curve, [file("not json")], /curve must be JSON/],
        [curve, json({ x: [1], y: [1] }), /"name"/],
      ];
      for (const [query, parts, msg] of cases) {
        await no(api.up(query, parts), 0, msg);
      }
      await ok(api.up(h3dStep, json(histogram)));
      await ok(api.up(cm, matrix([[1, 2], [3, 4]])));
      await ok(api.up(curve, xy([1, 2], [3, 4])));
      const types = api.stored().assets.map((a) => a.type);
      assert.deepEqual(types, ["histogram3d", "confusion-matrix", "curve"]);
    });
  });

  it("uploads: type, booleans, integers, metadata, file or link, multipart", async () => {
    await withApi(async (api) => {
      await api.create();
      const f = { fileName: "f" };
      const meta = (data: string) => [file("x"), { name: "metadata", data }];
      const cases: [Query, PartSpec[] | undefined, RegExp][] = [
        [{ ...f, type: "weird" }, undefined, /"type".*"weird"/],
        [{ ...f, type: "all" }, undefined, /"type"/],
        [{ ...f, overwrite: "yes" }, undefined, /"overwrite"/],
        [{ ...f, isRemote: "1" }, undefined, /"isRemote"/],
        [{ ...f, step: "1.5" }, undefined, /"step".*integer/],
        [{ ...f, epoch: "x" }, undefined, /"epoch"/],
        [{}, undefined, /Missing "fileName"/],
        [f, meta("{bad"), /"metadata".*JSON/],
        [f, meta("[1]"), /"metadata".*object/],
        [f, [{ name: "other", data: "x" }], /"file".*"link"/],
        [{ ...f, isRemote: "true" }, undefined, /Missing "link"/],
      ];
      for (const [query, parts, msg] of cases) {
        await no(api.up(query, parts), 0, msg);
      }
      const lib = { experimentId: api.key, apiKey: api.fake.apiKey };
      const image = api.up(lib, undefined, "/clientlib/visualizations/upload");
      await no(image, 0, /Missing "figName"/);
      const raw = (body: string, contentType: string) =>
        api.call("POST", `${W}/upload-asset`, {
          query: { experimentKey: api.key, ...f },
          body,
          headers: { "Content-Type": contentType },
        });
      const cut =
        '--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc';
      await no(raw(cut, "multipart/form-data; boundary=b"), 0, /truncated/);
      await no(raw("x", "multipart/form-data"), 0, /no boundary/);
      await no(raw("{}", "application/json"), 0, /multipart\/form-data/, 415);
      assert.equal(api.stored().assets.length, 0);
    });
  });

  it("uploads: overwrite and a repeated assetId replace; remote and downloads", async () => {
    await withApi(async (api) => {
      await api.create();
      const first = await ok(
        api.up({ fileName: "f.txt", step: "1" }, [file("one")]),
      );
      assert.match(first.json.data.assetId, /^[0-9a-f]{32}$/);
      assert.deepEqual([first.json.msg, first.json.code], ["ok", 200]);
      await ok(
        api.up({ fileName: "f.txt", overwrite: "false" }, [file("two")]),
      );
      assert.equal(api.stored().assets.length, 2);
      await ok(
        api.up({ fileName: "f.txt", overwrite: "True" }, [file("three")]),
      );
      assert.deepEqual(api.stored().assets.map((a) => text(a.data)), ["three"]);
      await ok(api.up({ fileName: "g", assetId: "id1" }, [file("a")]));
      const retry = await ok(
        api.up({ fileName: "g", assetId: "id1" }, [file("b")]),
      );
      assert.equal(retry.json.data.assetId, "id1");
      const data = api.stored().assets.map((a) => text(a.data));
      assert.deepEqual(data, ["three", "b"]);
      const link = [{ name: "link", data: "s3://b/r.csv" }, {
        name: "metadata",
        data: "{}",
      }];
      const remote = await ok(
        api.up({ fileName: "r.csv", isRemote: "true" }, link),
      );
      const asset = (assetId: string) =>
        api.read("asset/get-asset", { assetId });
      await no(asset(remote.json.data.assetId), 0, /is remote/);
      const bytes = await asset("id1");
      assert.equal(bytes.text, "b");
      assert.equal(
        bytes.headers.get("content-type"),
        "application/octet-stream",
      );
      assert.equal(bytes.headers.get("content-length"), "1");
      await no(asset("nope"), 0, /Asset "nope" does not exist/);
      const listed =
        (await api.read("asset/list", { type: "asset" })).json.assets;
      eq(table(listed, ["fileName", "remote", "metadata"]), [
        "f.txt false null",
        "g false null",
        "r.csv true {}",
      ]);
      assert.equal(listed[2].link, "s3://b/r.csv");
      await no(api.read("asset/list", { type: "nope" }), 0, /"type"/);
    });
  });

  it("bodies: a JSON Content-Type (415), valid gzip, a JSON object; 404 and 405", async () => {
    await withApi(async (api) => {
      await api.create();
      const body = JSON.stringify({ experimentKey: api.key, graph: "g" });
      const graph = (b: string, headers: Record<string, string>) =>
        api.call("POST", `${W}/graph`, { body: b, headers });
      const JSON_TYPE = { "Content-Type": "application/json" };
      const gz = { ...JSON_TYPE, "Content-Encoding": "gzip" };
      const br = { ...JSON_TYPE, "Content-Encoding": "br" };
      const cases: [string, Record<string, string>, RegExp, number][] = [
        [body, { "Content-Type": "text/plain" }, /application\/json/, 415],
        [body, {}, /Content-Type/, 415],
        ["not gzip at all", gz, /not valid gzip/, 400],
        [body, br, /Content-Encoding "br"/, 415],
        ["{", JSON_TYPE, /not valid JSON/, 400],
        ["[1]", JSON_TYPE, /JSON object/, 400],
        [
          JSON.stringify({ experimentKey: api.key, graph: 1 }),
          JSON_TYPE,
          /"graph"/,
          400,
        ],
      ];
      for (const [b, headers, msg, status] of cases) {
        await no(graph(b, headers), 0, msg, status);
      }
      assert.equal(api.stored().graph, null);
      await ok(
        api.post(`${W}/graph`, { experimentKey: api.key, graph: "g" }, {
          gzip: true,
        }),
      );
      await ok(graph(body, JSON_TYPE), "no charset");
      await ok(
        graph(body, { "Content-Type": "Application/JSON; charset=UTF-8" }),
      );
      await no(api.get(`${R}/nowhere`), 0, /No such endpoint: GET/, 404);
      await no(api.get(`${W}/graph`), 0, /not allowed.*use POST/, 405);
      const recorded = api.fake.requests.filter((r) => r.path === `${W}/graph`);
      const statuses = [...cases.map((c) => c[3]), 200, 200, 200, 405];
      assert.deepEqual(recorded.map((r) => r.status), statuses);
      assert.equal(recorded[7].gzip, true);
      assert.deepEqual(recorded[7].json, {
        experimentKey: api.key,
        graph: "g",
      });
    });
  });
});

// ---------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------

function upsert(api: Api, json: Record<string, unknown> = {}): Promise<Answer> {
  return api.post(`${ART}/upsert`, {
    artifactName: "ds",
    artifactType: "dataset",
    experimentKey: api.key,
    ...json,
  });
}

function setState(
  api: Api,
  artifactVersionId: string,
  state: string,
): Promise<Answer> {
  return api.post(`${ART}/state`, {
    artifactVersionId,
    experimentKey: api.key,
    state,
  });
}

describe("FakeComet artifacts", () => {
  it("versions: 1.0.0, then MAJOR bumps; explicit SemVer; 90399 on a duplicate", async () => {
    await withApi(async (api) => {
      await api.create();
      const versions = async (json: Record<string, unknown> = {}) => {
        const answer = (await ok(upsert(api, json))).json;
        return `${answer.currentVersion} after ${answer.previousVersion}`;
      };
      const first = (await ok(upsert(api))).json;
      assert.deepEqual(first.previousVersion, null);
      assert.deepEqual(first.currentVersion, "1.0.0");
      assert.match(first.artifactVersionId, /^[0-9a-f]{32}$/);
      assert.equal(await versions(), "2.0.0 after 1.0.0");
      const rc = "2.1.0-rc.1";
      assert.equal(await versions({ version: rc }), `${rc} after 2.0.0`);
      assert.equal(await versions({ version: "2.1.0" }), `2.1.0 after ${rc}`);
      assert.equal(await versions(), "3.0.0 after 2.1.0");
      const taken = /already has version 2\.0\.0/;
      await no(upsert(api, { version: "2.0.0" }), 90399, taken);
      for (const version of ["1.0", "v1.0.0", "1.0.0+b", "01.0.0", "1.0.0-"]) {
        await no(upsert(api, { version }), 0, /"version".*not a semantic/);
      }
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ versionMetadata: { k: 1 } }, 0, /"versionMetadata".*string/],
        [{ versionMetadata: "nope" }, 0, /"versionMetadata".*JSON/],
        [{ versionMetadata: "[1]" }, 0, /"versionMetadata".*object/],
        [{ alias: "prod" }, 0, /"alias"/],
        [{ artifactName: "" }, 0, /Missing "artifactName"/],
        [{ artifactType: undefined }, 0, /Missing "artifactType"/],
        [{ workspaceName: "other" }, 90219, /"workspaceName"/],
        [{ experimentKey: UNKNOWN }, 90211, /does not exist/],
      ];
      for (const [json, code, msg] of cases) {
        await no(upsert(api, json), code, msg);
      }
      const [artifact] = api.fake.artifacts();
      assert.equal(artifact.artifactId, first.artifactId);
      assert.equal(artifact.versions.length, 5);
    });
  });

  it("states: OPEN to CLOSED or ERROR once (90401, 90410); uploads into OPEN", async () => {
    await withApi(async (api) => {
      await api.create();
      const { artifactVersionId: id } = (await ok(upsert(api))).json;
      const missing = "f".repeat(32);
      await no(setState(api, id, "OPEN"), 90410, /"state".*CLOSED or ERROR/);
      await no(setState(api, id, "DONE"), 90410, /"state"/);
      await no(setState(api, missing, "CLOSED"), 624523, /does not exist/);
      const query = { fileName: "data.txt", artifactVersionId: id };
      await ok(api.up(query, [file("hello")]));
      await ok(api.up(query, [file("hello world")]), "same name replaces");
      await ok(setState(api, id, "CLOSED"));
      const closed = /is CLOSED: its state cannot change/;
      await no(setState(api, id, "ERROR"), 90401, closed);
      await no(setState(api, id, "CLOSED"), 90401, closed);
      const late = { fileName: "more.txt", artifactVersionId: id };
      await no(api.up(late), 90401, /CLOSED: no more assets/);
      const nowhere = { fileName: "x", artifactVersionId: missing };
      await no(api.up(nowhere), 624523, /does not exist/);
      const files = await api.get(`${VERSION}/files`, {
        workspace: "ws",
        artifactName: "ds",
        version: "1.0.0",
      });
      eq(table(files.json.files, ["fileName", "fileSize"]), ["data.txt 11"]);
    });
  });

  it("reads: by name or for a consumer only CLOSED (90402/90403); by id any", async () => {
    await withApi(async (api) => {
      const consumer = await api.create();
      const producer = await api.create();
      const labels = { alias: ["prod"], versionTags: ["t"] };
      const meta = { ...labels, versionMetadata: '{"k":1}' };
      const v1 = (await ok(upsert(api, meta))).json;
      const v1Id = v1.artifactVersionId;
      const name = { workspace: "ws", artifactName: "ds" };
      const ids = { artifactId: v1.artifactId, versionId: v1Id };
      const version = (query: Query) => api.get(VERSION, query);
      const files = (query: Query) => api.get(`${VERSION}/files`, query);
      const opened = /1\.0\.0 is OPEN, not CLOSED/;
      await no(version({ ...name, version: "1.0.0" }), 90402, opened);
      await no(files({ ...name, alias: "prod" }), 90402, opened);
      const asConsumer = { ...ids, consumerExperimentKey: consumer };
      await no(version(asConsumer), 90402, opened);
      assert.equal((await ok(version(ids))).json.state, "OPEN");
      const query = { fileName: "a/b.txt", artifactVersionId: v1Id };
      const upload = await ok(api.up(query, [file("12345")]));
      const assetId = upload.json.data.assetId;
      await ok(setState(api, v1Id, "CLOSED"));
      const v2 = (await ok(upsert(api, { alias: ["prod"] }))).json;
      await ok(setState(api, v2.artifactVersionId, "ERROR"));
      const cases: [Query, number, RegExp][] = [
        [{ ...name, version: "2.0.0" }, 90403, /2\.0\.0 is ERROR/],
        [{ ...name, versionOrAlias: "prod" }, 90403, /2\.0\.0 is ERROR/],
        [name, 90403, /2\.0\.0 is ERROR/],
        [{ ...name, version: "9.0.0" }, 624523, /no version 9\.0\.0/],
        [{ ...name, alias: "gone" }, 624523, /no alias gone/],
        [{ ...name, artifactName: "x" }, 624522, /"ws\/x" does not exist/],
        [{ ...name, workspace: "away" }, 90219, /"workspace"/],
        [{ artifactId: UNKNOWN }, 624522, /does not exist/],
        [{ workspace: "ws" }, 0, /Missing "artifactName"/],
        [{ ...ids, consumerExperimentKey: UNKNOWN }, 90211, /"consumer/],
      ];
      for (const [q, code, msg] of cases) await no(version(q), code, msg);

      const detail = (await ok(version({
        ...name,
        versionOrAlias: "1.0.0",
        experimentKey: consumer,
        consumerExperimentKey: consumer,
      }))).json;
      assert.deepEqual(
        [detail.artifactVersion, detail.state, detail.sizeInBytes],
        ["1.0.0", "CLOSED", 5],
      );
      assert.deepEqual(
        [detail.experimentKey, detail.metadata, detail.alias, detail.tags],
        [producer, '{"k":1}', [], ["t"]],
      );
      const { artifact } = detail;
      assert.deepEqual(
        [artifact.artifactId, artifact.artifactType, artifact.tags],
        [v1.artifactId, "dataset", []],
      );
      assert.deepEqual(api.fake.artifacts()[0].versions[0].consumers, [
        consumer,
      ]);
      const byId = { artifact_id: v1.artifactId, versionId: v1Id };
      assert.deepEqual((await ok(files(byId))).json.files, [{
        artifactId: v1.artifactId,
        artifactVersionId: v1Id,
        assetId,
        fileName: "a/b.txt",
        fileSize: 5,
        link: null,
        dir: "",
        type: "asset",
        metadata: null,
        remote: false,
      }]);
      const download = await ok(api.get(`${R}/experiment/asset/get-asset`, {
        assetId,
        experimentKey: consumer,
        artifactVersionId: v1Id,
      }));
      assert.equal(download.text, "12345");
      assert.deepEqual((await api.read("asset/list")).json, { assets: [] });
    });
  });

  it("labels, get and get-all: aliases move, versions listed", async () => {
    await withApi(async (api) => {
      await api.create();
      const v1 = (await ok(upsert(api, { alias: ["prod"] }))).json;
      const v2 = (await ok(upsert(api))).json;
      await ok(setState(api, v1.artifactVersionId, "CLOSED"));
      await ok(setState(api, v2.artifactVersionId, "CLOSED"));
      await ok(api.post(`${ART}/version/labels`, {
        artifactVersionId: v2.artifactVersionId,
        alias: ["prod", "best"],
        versionTags: ["u"],
        versionMetadata: '{"m":2}',
      }));
      const unknown = { artifactVersionId: "x" };
      const relabel = api.post(`${ART}/version/labels`, unknown);
      await no(relabel, 624523, /"x" does not exist/);
      const name = { workspace: "ws", artifactName: "ds" };
      const prod = await ok(api.get(VERSION, { ...name, alias: "prod" }));
      assert.deepEqual(
        [prod.json.artifactVersion, prod.json.alias, prod.json.tags],
        ["2.0.0", ["prod", "best"], ["u"]],
      );
      assert.equal(prod.json.metadata, '{"m":2}');
      const [first] = api.fake.artifacts()[0].versions;
      assert.deepEqual(first.alias, []);
      const whole = (await ok(api.get(`${R}/artifacts/get`, name))).json;
      assert.deepEqual([whole.artifactName, whole.version], ["ds", "2.0.0"]);
      const fields = ["artifactVersion", "state", "artifact"];
      eq(table(whole.versions, fields), [
        "1.0.0 CLOSED undefined",
        "2.0.0 CLOSED undefined",
      ]);
      const byId = { artifact_id: v1.artifactId };
      const same = await ok(api.get(`${R}/artifacts/get`, byId));
      assert.equal(same.json.artifactId, v1.artifactId);
      const all = (query: Query) => api.get(`${R}/artifacts/get-all`, query);
      const listed = (await ok(all({ workspace: "ws" }))).json.artifacts;
      eq(table(listed, ["artifactName", "artifactType"]), ["ds dataset"]);
      const models = await ok(all({ workspace: "ws", type: "model" }));
      assert.deepEqual(models.json, { artifacts: [] });
      await no(all({}), 0, /Missing "workspace"/);
    });
  });
});

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail("the request did not fail");
}

function logOther(api: Api, o: CallOptions = {}): Promise<Answer> {
  return api.write("log-other", { key: "k", value: 1 }, o);
}

describe("FakeComet faults", () => {
  it("throttle: 429 with Retry-After before auth, then the next request passes", async () => {
    await withApi(async (api) => {
      await api.create();
      api.fake.throttle({ path: `${W}/log-other`, retryAfterS: 2 });
      await ok(api.read("tags"), "another path");
      const throttled = await no(
        logOther(api, { auth: "wrong" }),
        0,
        /Too many/,
        429,
      );
      assert.equal(throttled.headers.get("retry-after"), "2");
      assert.equal(api.stored().others.length, 0);
      await ok(logOther(api));
      assert.equal(api.stored().others.length, 1);
      const [first, second] = api.fake.requests.slice(-2);
      assert.deepEqual([first.status, second.status], [429, 200]);
      assert.deepEqual(first.json, {
        experimentKey: api.key,
        key: "k",
        value: 1,
      });
      assert.equal(first.headers.authorization, "wrong");
    });
  });

  it("fail: the given status for `count` requests matching a RegExp", async () => {
    await withApi(async (api) => {
      await api.create();
      api.fake.fail({ path: /\/metric$/, status: 503, count: 2 });
      const metric = {
        experimentKey: api.key,
        metricName: "m",
        metricValue: 1,
      };
      await no(api.post(`${W}/metric`, metric), 0, /503/, 503);
      const batch = { experimentKey: api.key, values: [metric] };
      await no(api.post(METRICS, batch), 0, /503/, 503);
      assert.equal(api.stored().metrics.length, 0);
      await ok(api.post(`${W}/metric`, metric));
      api.fake.fail();
      await no(api.get(`${R}/workspaces`), 0, /500/, 500);
      await ok(api.get(`${R}/workspaces`));
      assert.throws(() => api.fake.fail({ status: 200 }), RangeError);
      assert.throws(() => api.fake.hang({ count: 0 }), RangeError);
    });
  });

  it("hang: the client times out, nothing is stored, the next request passes", async () => {
    await withApi(async (api) => {
      await api.create();
      api.fake.hang({ path: `${W}/log-other` });
      const error = await rejection(
        logOther(api, { signal: AbortSignal.timeout(200) }),
      );
      assert.match(error.name, /TimeoutError|AbortError/);
      assert.equal(api.stored().others.length, 0);
      assert.equal(api.fake.requests.at(-1)?.status, 0);
      await ok(logOther(api));
    });
  });

  it("reset and setDown: fetch rejects and nothing is stored; back up, it passes", async () => {
    await withApi(async (api) => {
      await api.create();
      api.fake.reset({ path: `${W}/log-other` });
      await rejection(logOther(api));
      assert.equal(api.stored().others.length, 0);
      await ok(logOther(api));
      api.fake.setDown(true);
      await rejection(api.read("tags"));
      await rejection(logOther(api));
      assert.equal(api.stored().others.length, 1);
      assert.equal(api.fake.requests.at(-1)?.status, 0);
      api.fake.setDown(false);
      await ok(logOther(api));
      assert.equal(api.stored().others.length, 2);
    });
  });

  it("close() returns promptly with a hung request pending, which then fails", async () => {
    const fake = await FakeComet.start();
    seenKeys.add(fake.apiKey);
    fake.hang();
    const pending = rejection(new Api(fake).get("/clientlib/isAlive/ver"));
    while (fake.requests.length === 0) {
      await new Promise((r) => setTimeout(r, 5));
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
// The API key is never echoed
// ---------------------------------------------------------------------------

describe("FakeComet never echoes the API key", () => {
  it("redacts a key sent where a message would quote it", async () => {
    await withApi(async (api) => {
      await no(api.addRun({ experimentKey: api.fake.apiKey }), 0, /<redacted>/);
      api.key = api.fake.apiKey;
      await no(api.read("tags"), 90211, /<redacted>/);
      api.key = `${"x".repeat(30)}${api.fake.apiKey}`;
      await no(api.read("tags"), 90211, /x{30}<redac/);
    });
    await assert.rejects(FakeComet.start({ apiKey: "short" }), RangeError);
  });

  it("no response body read by any test holds an API key", () => {
    assert.ok(seenBodies.length > 300, `${seenBodies.length} bodies seen`);
    for (const key of seenKeys) {
      const leaks = seenBodies.filter((body) => body.includes(key));
      assert.deepEqual(leaks, [], `a body holds the key ${key.slice(0, 4)}...`);
    }
  });
});
