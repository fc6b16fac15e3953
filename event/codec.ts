// This module is browser compatible.
/**
 * The NDJSON codec shared by the spool, the local store and the relay: one
 * event per line, each line a JSON object with the schema version in `v`.
 * Bytes travel as `{"$b64": "..."}` and non-finite numbers as
 * `{"$num": "NaN" | "Infinity" | "-Infinity"}`, since JSON has neither.
 */
import { decodeBase64, encodeBase64 } from "../runtime/base64.ts";
import { EVENT_KINDS, type MetricEvent, type TrackingEvent } from "./types.ts";

/** The schema version written in the `v` field of every encoded event. */
export const EVENT_SCHEMA_VERSION = 1;

const PREFIX = `{"v":${EVENT_SCHEMA_VERSION},`;

/**
 * Encodes one event as a single JSON line, without the trailing newline.
 *
 * @param event The event to encode.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { encodeEvent } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const line = encodeEvent({ kind: "tag", runId: "r1", seq: 1, timestampMs: 0, tags: ["a"] });
 * assert.equal(line, '{"v":1,"kind":"tag","runId":"r1","seq":1,"timestampMs":0,"tags":["a"]}');
 * ```
 */
export function encodeEvent(event: TrackingEvent): string {
  if (event.kind === "metric") return encodeMetric(event);
  let plain: unknown = event;
  if (event.kind === "media") {
    plain = { ...event, data: { $b64: encodeBase64(event.data) } };
  }
  const json = JSON.stringify(plain);
  return PREFIX + json.slice(1);
}

/** The hot path: metric lines are built by hand, several times faster than `JSON.stringify`. */
function encodeMetric(event: MetricEvent): string {
  const value = event.value;
  let line = PREFIX + '"kind":"metric","runId":' + JSON.stringify(event.runId) +
    ',"seq":' + event.seq +
    ',"timestampMs":' + event.timestampMs + ',"key":' +
    JSON.stringify(event.key) + ',"value":' +
    (value - value === 0 ? value : '{"$num":"' + value + '"}') + ',"step":' +
    event.step;
  if (event.epoch !== undefined) line += ',"epoch":' + event.epoch;
  if (event.context !== undefined) {
    line += ',"context":' + JSON.stringify(event.context);
  }
  return line + "}";
}

/**
 * Encodes events as NDJSON: one line per event, each ending in `\n`.
 *
 * @param events The events to encode.
 * @returns The NDJSON text.
 *
 * @example
 * ```ts
 * import { decodeEvents, encodeEvents } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const text = encodeEvents([{ kind: "tag", runId: "r1", seq: 1, timestampMs: 0, tags: ["a"] }]);
 * assert.equal(decodeEvents(text).length, 1);
 * ```
 */
export function encodeEvents(events: readonly TrackingEvent[]): string {
  let out = "";
  for (const event of events) out += encodeEvent(event) + "\n";
  return out;
}

const KINDS: ReadonlySet<string> = new Set<string>(EVENT_KINDS);

function fail(what: string, line: string): never {
  const shown = line.length > 120 ? line.slice(0, 117) + "..." : line;
  throw new SyntaxError(`Cannot decode event: ${what}: line is '${shown}'`);
}

function reviveNumber(value: unknown, line: string): number {
  if (typeof value === "number") return value;
  if (value !== null && typeof value === "object") {
    const text = (value as { $num?: unknown }).$num;
    if (text === "NaN") return NaN;
    if (text === "Infinity") return Infinity;
    if (text === "-Infinity") return -Infinity;
  }
  return fail("'value' is not a number", line);
}

/**
 * Decodes one JSON line produced by {@linkcode encodeEvent}.
 *
 * @param line One line of NDJSON, without its newline.
 * @returns The event.
 * @throws {SyntaxError} When the line is not JSON, has an unknown schema
 * version, or lacks the fields of its kind.
 *
 * @example
 * ```ts
 * import { decodeEvent } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const event = decodeEvent('{"v":1,"kind":"run_end","runId":"r1","seq":9,"timestampMs":5,"status":"finished"}');
 * assert.equal(event.kind, "run_end");
 * ```
 */
export function decodeEvent(line: string): TrackingEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return fail("the line is not valid JSON", line);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return fail("the line is not a JSON object", line);
  }
  const record = raw as Record<string, unknown>;
  if (record.v !== EVENT_SCHEMA_VERSION) {
    return fail(
      `schema version ${
        JSON.stringify(record.v)
      } is not supported (expected ${EVENT_SCHEMA_VERSION})`,
      line,
    );
  }
  if (typeof record.kind !== "string" || !KINDS.has(record.kind)) {
    return fail(`unknown kind ${JSON.stringify(record.kind)}`, line);
  }
  if (typeof record.runId !== "string" || record.runId === "") {
    return fail("'runId' is not a non-empty string", line);
  }
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 0) {
    return fail("'seq' is not a non-negative integer", line);
  }
  if (typeof record.timestampMs !== "number") {
    return fail("'timestampMs' is not a number", line);
  }
  if (record.kind === "metric") {
    // The hot path: a fresh object of a fixed shape (deleting `v` would
    // turn the parsed object into a slow dictionary).
    if (typeof record.key !== "string") {
      return fail("'key' is not a string", line);
    }
    if (typeof record.step !== "number") {
      return fail("'step' is not a number", line);
    }
    const metric: MetricEvent = {
      kind: "metric",
      runId: record.runId,
      seq: record.seq as number,
      timestampMs: record.timestampMs,
      key: record.key,
      value: reviveNumber(record.value, line),
      step: record.step,
    };
    if (record.epoch !== undefined) metric.epoch = record.epoch as number;
    if (record.context !== undefined) metric.context = record.context as string;
    return metric;
  }
  delete record.v;
  switch (record.kind) {
    case "media": {
      const data = record.data as { $b64?: unknown } | null;
      if (
        data === null || typeof data !== "object" ||
        typeof data.$b64 !== "string"
      ) {
        return fail("'data' is not base64 bytes", line);
      }
      record.data = decodeBase64(data.$b64);
      break;
    }
    case "param":
      if (typeof record.key !== "string") {
        return fail("'key' is not a string", line);
      }
      break;
    case "tag":
      if (!Array.isArray(record.tags)) {
        return fail("'tags' is not an array", line);
      }
      break;
    case "run_start":
      if (typeof record.project !== "string") {
        return fail("'project' is not a string", line);
      }
      if (!Array.isArray(record.tags)) {
        return fail("'tags' is not an array", line);
      }
      break;
  }
  return record as unknown as TrackingEvent;
}

/**
 * Decodes NDJSON text. Blank lines are skipped; a last line without its
 * newline (a write torn by a crash) is skipped only when `allowTornTail` is
 * set.
 *
 * @param text NDJSON text.
 * @param options `allowTornTail`: skip an unterminated, undecodable last line.
 * @returns The events, in order.
 * @throws {SyntaxError} When a line cannot be decoded.
 *
 * @example
 * ```ts
 * import { decodeEvents } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const events = decodeEvents('{"v":1,"kind":"tag","runId":"r","seq":1,"timestampMs":0,"tags":[]}\n{"v":1,"ki', {
 *   allowTornTail: true,
 * });
 * assert.equal(events.length, 1);
 * ```
 */
export function decodeEvents(
  text: string,
  options: { allowTornTail?: boolean } = {},
): TrackingEvent[] {
  const events: TrackingEvent[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    const terminated = end !== -1;
    if (!terminated) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === "") continue;
    if (!terminated && options.allowTornTail) {
      try {
        events.push(decodeEvent(line));
      } catch {
        // A torn final line: the write that made it never completed.
      }
      continue;
    }
    events.push(decodeEvent(line));
  }
  return events;
}

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Counts the UTF-8 bytes of a string without encoding it.
 *
 * @param text Any string.
 * @returns Its length in UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { utf8ByteLength } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * assert.equal(utf8ByteLength("é"), 2);
 * ```
 */
export function utf8ByteLength(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // 4 bytes for the pair, which counted as 2 code units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
