// This module is browser compatible.

/**
 * The backend-neutral event model: plain, serialisable data that flows from
 * a logger through the pipeline to every backend, and the NDJSON codec that
 * the spool, the local store and the relay share.
 *
 * @example Encode and decode
 * ```ts
 * import { decodeEvents, encodeEvents, type MetricEvent } from "@uetai/uetai/event";
 * import assert from "node:assert/strict";
 * const point: MetricEvent = { kind: "metric", runId: "r1", seq: 1, timestampMs: 0, key: "loss", value: NaN, step: 0 };
 * const [back] = decodeEvents(encodeEvents([point]));
 * assert.equal(back.kind, "metric");
 * assert.ok(Number.isNaN((back as MetricEvent).value));
 * ```
 *
 * @module
 */
export type {
  ArtifactEvent,
  EventBase,
  EventKind,
  MediaEvent,
  MetricEvent,
  ParamEvent,
  ParamValue,
  RunEndEvent,
  RunNameEvent,
  RunStartEvent,
  RunStatus,
  TagEvent,
  TrackingEvent,
} from "./types.ts";
export { EVENT_KINDS } from "./types.ts";
export {
  decodeEvent,
  decodeEvents,
  encodeEvent,
  encodeEvents,
  EVENT_SCHEMA_VERSION,
  utf8ByteLength,
} from "./codec.ts";
