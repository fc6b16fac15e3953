// This module is browser compatible.
//
// Pure encoders from uetai events to MLflow's requests: `runs/log-batch`
// bodies cut to MLflow's limits, and the artifact layout of media.
import type {
  MediaEvent,
  MetricEvent,
  ParamEvent,
  ParamValue,
  RunNameEvent,
  TagEvent,
  TrackingEvent,
} from "../../event/types.ts";
import { createHash, toHex } from "../../artifact/hash.ts";

/** What one `runs/log-batch` may carry ("Log batch" in MLflow's REST reference). */
export const MLFLOW_BATCH_LIMITS: Readonly<{
  metrics: number;
  params: number;
  tags: number;
  items: number;
  bytes: number;
}> = Object.freeze({
  metrics: 1000,
  params: 100,
  tags: 100,
  items: 1000,
  bytes: 1_000_000,
});

/** A metric value as MLflow takes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`. */
export type MlflowNumber = number | "NaN" | "Infinity" | "-Infinity";

/**
 * Encodes a number as MLflow's Python client does: JSON has no literal for
 * non-finite values, so they travel as strings (MLflow stores infinities as
 * ±1.7976931348623157e308).
 *
 * @param value Any number.
 * @returns The number, or its string name when not finite.
 */
export function mlflowNumber(value: number): MlflowNumber {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return value;
}

/** The body of one `runs/log-batch`. */
export interface LogBatchBody {
  /** MLflow's run id. */
  run_id: string;
  /** Metric points. */
  metrics: {
    key: string;
    value: MlflowNumber;
    timestamp: number;
    step: number;
  }[];
  /** Parameters (strings; write-once). */
  params: { key: string; value: string }[];
  /** Tags (strings; last write wins). */
  tags: { key: string; value: string }[];
}

/** The events `runs/log-batch` carries. */
export type BatchableEvent = MetricEvent | ParamEvent | TagEvent | RunNameEvent;

/**
 * Whether an event travels in `runs/log-batch`.
 *
 * @param event Any event.
 * @returns Whether it is a metric, parameter, tag or rename.
 */
export function isBatchable(event: TrackingEvent): event is BatchableEvent {
  return event.kind === "metric" || event.kind === "param" ||
    event.kind === "tag" || event.kind === "run_name";
}

/**
 * A parameter value as MLflow stores it: text.
 *
 * @param value The value.
 * @returns Its text (`String(value)`).
 */
export function paramText(value: ParamValue): string {
  return String(value);
}

const KEY_CHARS = /[^\w./\- :]/g;

/**
 * Why MLflow would refuse an event's metric or parameter key (its rules in
 * `validation.py`: at most 250 of `[A-Za-z0-9_ - . / : space]`, a normal
 * path: no empty, `.` or `..` segment), or `undefined` when it is fine.
 * Tags and renames always have valid keys.
 *
 * @param event A batchable event.
 * @returns The problem, naming the key, or `undefined`.
 */
export function keyProblem(event: BatchableEvent): string | undefined {
  if (event.kind !== "metric" && event.kind !== "param") return undefined;
  const key = event.key;
  const valid = key.length > 0 && key.length <= 250 &&
    /^[\w./\- :]+$/.test(key) &&
    !key.split("/").some((part) =>
      part === "" || part === "." || part === ".."
    );
  return valid
    ? undefined
    : `Cannot log ${event.kind} ${
      JSON.stringify(key)
    } to MLflow: keys must be 1 to 250 letters, digits, '_', '-', '.', ' ', ':' or '/', without empty, '.' or '..' path segments`;
}

/**
 * A run tag's key for a uetai tag (a label): MLflow's key characters
 * (letters, digits, `_ - . / : space`), others replaced by `_`, at most 250.
 *
 * @param tag The label.
 * @returns The key; the tag's value is `"true"`.
 */
export function tagKey(tag: string): string {
  const key = tag.replace(KEY_CHARS, "_").slice(0, 250);
  return key === "" ? "_" : key;
}

/**
 * Cuts a run of consecutive batchable events into `runs/log-batch` bodies
 * that keep every MLflow limit (1000 items, 1000 metrics, 100 params, 100
 * tags, under 1 MB) and never repeat a parameter key in one body (MLflow
 * refuses the whole body). Each body covers a contiguous run of events.
 *
 * @param events Consecutive events of one run, in order.
 * @param mlflowRunId MLflow's id of the run.
 * @returns Bodies with how many events each covers.
 *
 * @example
 * ```ts
 * import { cutLogBatches } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const events = Array.from({ length: 1500 }, (_, i) => ({
 *   kind: "metric" as const, runId: "r", seq: i, timestampMs: 0, key: "loss", value: i, step: i,
 * }));
 * assert.deepEqual(cutLogBatches(events, "abc").map((b) => b.count), [1000, 500]);
 * ```
 */
export function cutLogBatches(
  events: readonly BatchableEvent[],
  mlflowRunId: string,
): { body: LogBatchBody; count: number }[] {
  const out: { body: LogBatchBody; count: number }[] = [];
  let body: LogBatchBody | undefined;
  let count = 0;
  let bytes = 0;
  let paramKeys = new Set<string>();
  const open = (): LogBatchBody => {
    body = { run_id: mlflowRunId, metrics: [], params: [], tags: [] };
    count = 0;
    bytes = 100;
    paramKeys = new Set();
    out.push({ body, count: 0 });
    return body;
  };
  for (const event of events) {
    let current = body ?? open();
    const items = current.metrics.length + current.params.length +
      current.tags.length;
    const adds = event.kind === "tag" ? event.tags.length : 1;
    const size = estimate(event);
    const full = items + adds > MLFLOW_BATCH_LIMITS.items ||
      bytes + size > MLFLOW_BATCH_LIMITS.bytes ||
      (event.kind === "metric" &&
        current.metrics.length >= MLFLOW_BATCH_LIMITS.metrics) ||
      (event.kind === "param" &&
        (current.params.length >= MLFLOW_BATCH_LIMITS.params ||
          paramKeys.has(event.key))) ||
      ((event.kind === "tag" || event.kind === "run_name") &&
        current.tags.length + adds > MLFLOW_BATCH_LIMITS.tags);
    if (full && count > 0) {
      out[out.length - 1].count = count;
      current = open();
    }
    switch (event.kind) {
      case "metric":
        current.metrics.push({
          key: event.key,
          value: mlflowNumber(event.value),
          timestamp: Math.round(event.timestampMs),
          step: event.step,
        });
        break;
      case "param":
        current.params.push({ key: event.key, value: paramText(event.value) });
        paramKeys.add(event.key);
        break;
      case "tag":
        for (const tag of event.tags) {
          current.tags.push({ key: tagKey(tag), value: "true" });
        }
        break;
      case "run_name":
        current.tags.push({ key: "mlflow.runName", value: event.name });
        break;
    }
    count++;
    bytes += size;
  }
  if (body) out[out.length - 1].count = count;
  return out;
}

function estimate(event: BatchableEvent): number {
  switch (event.kind) {
    case "metric":
      return 70 + event.key.length * 1.2;
    case "param":
      return 30 + (event.key.length + String(event.value).length) * 1.5;
    case "tag":
      return event.tags.reduce((sum, tag) => sum + 40 + tag.length * 1.5, 0);
    case "run_name":
      return 60 + event.name.length * 1.5;
  }
}

/** One file of a media value in the run's artifacts. */
export interface MediaFile {
  /** Path under the run's artifact root. */
  path: string;
  /** The bytes. */
  data: Uint8Array;
}

/** How one media value is laid out in a run's artifacts. */
export interface MediaLayout {
  /** The files to upload. */
  files: MediaFile[];
  /** A run tag to set (`mlflow.loggedImages`), if any. */
  tag?: { key: string; value: string };
  /** A table to list in the run's `mlflow.loggedArtifacts` tag, if any. */
  table?: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A path segment without what MLflow's artifact proxy cannot store (`%`, `#`, `\`). */
function segment(text: string): string {
  // Control characters would be re-escaped as %xx by the proxy.
  // deno-lint-ignore no-control-regex
  const safe = text.replace(/[%#\\\u0000-\u001f]/g, "_");
  return safe === "." || safe === ".." || safe === "" ? "_" : safe;
}

/**
 * A media key as a folder path: `/` keeps its meaning, every segment is
 * made safe for the artifact proxy.
 *
 * @param key The media key, such as `eval/samples`.
 * @returns The path, such as `eval/samples`.
 */
export function keyPath(key: string): string {
  return key.split("/").map(segment).join("/");
}

/**
 * The key MLflow's image grid groups by: `/` becomes `.` (MLflow's own
 * client turns it into `#`, which the server refuses), `+` (the name
 * delimiter) and anything outside `[A-Za-z0-9_\-. ]` become `_`.
 *
 * @param key The media key.
 * @returns The image key.
 */
export function imageKey(key: string): string {
  return key.replaceAll("/", ".").replace(/[^A-Za-z0-9_\-. ]/g, "_");
}

/**
 * The 32-character id of a step-wise image file: derived from the event
 * (so a retried upload rewrites the same files), its first character forced
 * into g–z as MLflow's client does, so it can never form a `%XX` escape.
 *
 * @param event The media event.
 * @returns The id.
 */
export function imageId(event: MediaEvent): string {
  const hash = createHash("sha256");
  hash.update(
    encoder.encode(
      `${event.runId}\u0000${event.seq}\u0000${event.timestampMs}`,
    ),
  );
  const hex = toHex(hash.digest());
  const first = "ghijklmnopqrstuvwxyz"[parseInt(hex.slice(0, 2), 16) % 20];
  return `${first}${hex.slice(1, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20, 32)}`;
}

/**
 * Lays a media value out as MLflow's own helpers would, so MLflow's UI shows it:
 * - images: `images/<key>+step+<step>+timestamp+<ms>+<id>.png` and
 *   `...+compressed.webp` (the same PNG bytes: browsers sniff the format),
 *   with the run tag `mlflow.loggedImages = "True"` (the `+` names of MLflow
 *   3.10, which the server stores unchanged);
 * - tables: `tables/<key>/step_<step>.json` in `log_table`'s
 *   `{"columns", "data"}` form, listed in `mlflow.loggedArtifacts`;
 * - text `.txt`, HTML `.html`, audio `.wav`, and graphs, histograms,
 *   confusion matrices and curves as uetai's JSON: under `text/`, `html/`,
 *   `audio/`, `graphs/`, `histograms/`, `confusion_matrices/`, `curves/`,
 *   each at `<folder>/<key>/step_<step>.<ext>`; other kinds under `media/`.
 *
 * @param event The media event, with its bytes.
 * @returns The files and the run tag to set.
 */
export function mediaLayout(event: MediaEvent): MediaLayout {
  const step = event.step;
  const ext = event.extension ?? "bin";
  const at = (folder: string, extension: string, data: Uint8Array) => ({
    files: [{
      path: `${folder}/${keyPath(event.key)}/step_${step}.${extension}`,
      data,
    }],
  });
  switch (event.mediaType) {
    case "image": {
      const base = `images/${imageKey(event.key)}+step+${step}+timestamp+${
        Math.round(event.timestampMs)
      }+${imageId(event)}`;
      return {
        files: [
          { path: `${base}.${ext}`, data: event.data },
          { path: `${base}+compressed.webp`, data: event.data },
        ],
        tag: { key: "mlflow.loggedImages", value: "True" },
      };
    }
    case "table": {
      const parsed = JSON.parse(decoder.decode(event.data)) as {
        columns: unknown[];
        rows: unknown[][];
      };
      const path = `tables/${keyPath(event.key)}/step_${step}.json`;
      return {
        files: [{
          path,
          data: encoder.encode(
            JSON.stringify({ columns: parsed.columns, data: parsed.rows }),
          ),
        }],
        table: path,
      };
    }
    case "text":
      return at("text", "txt", event.data);
    case "html":
      return at("html", "html", event.data);
    case "audio":
      return at("audio", ext, event.data);
    case "graph":
      return at("graphs", ext, event.data);
    case "histogram":
      return at("histograms", ext, event.data);
    case "confusion_matrix":
      return at("confusion_matrices", ext, event.data);
    case "curve":
      return at("curves", ext, event.data);
    default:
      return at(`media/${segment(event.mediaType)}`, ext, event.data);
  }
}

/**
 * A string literal for MLflow's search filters: in single quotes, or double
 * quotes when it holds a single quote (MLflow's filter syntax has no
 * escapes).
 *
 * @param value The value.
 * @returns The literal.
 * @throws {TypeError} When it holds both kinds of quote.
 *
 * @example
 * ```ts
 * import { quoteFilterValue } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * assert.equal(quoteFilterValue("bob's-run"), `"bob's-run"`);
 * ```
 */
export function quoteFilterValue(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new TypeError(
    `Cannot search MLflow for ${
      JSON.stringify(value)
    }: a value with both ' and " cannot be written in its filter syntax`,
  );
}
