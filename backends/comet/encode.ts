// This module is browser compatible.
//
// Pure encoders from uetai events to the bodies Comet's SDK sends, as the
// captures in the protocol reference show them.
import type {
  MediaEvent,
  MetricEvent,
  ParamEvent,
  ParamValue,
} from "../../event/types.ts";
import { type TableCell, tableToCsv } from "../../media/table.ts";

/** Comet's SDK version our requests claim to match (`libVersion`). */
export const LIB_VERSION = "3.32.5";

/** A metric value as Comet takes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`. */
export type CometNumber = number | "NaN" | "Infinity" | "-Infinity";

/**
 * Encodes a number as Comet's SDK does: non-finite values become strings,
 * since JSON has no literal for them.
 *
 * @param value Any number.
 * @returns The number, or its string name when not finite.
 */
export function cometNumber(value: number): CometNumber {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return value;
}

/** One value of a metric batch (`batch/logger/experiment/metric`). */
export interface CometMetricValue {
  /** Metric name. */
  metricName: string;
  /** The value. */
  metricValue: CometNumber;
  /** Step, or `null`. */
  step: number | null;
  /** Epoch, or `null`. */
  epoch: number | null;
  /** Context such as `"train"`, or `null`. */
  context: string | null;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/**
 * The batch entry of a metric event.
 *
 * @param event The event.
 * @returns Its entry.
 */
export function metricValue(event: MetricEvent): CometMetricValue {
  return {
    metricName: event.key,
    metricValue: cometNumber(event.value),
    step: event.step,
    epoch: event.epoch ?? null,
    context: event.context ?? null,
    timestamp: event.timestampMs,
  };
}

/** One value of a parameter batch (`batch/logger/experiment/parameter`). */
export interface CometParameterValue {
  /** Parameter name. */
  parameterName: string;
  /** The value: a JSON scalar. */
  parameterValue: Exclude<ParamValue, number> | CometNumber;
  /** Always `null`: uetai parameters are not step-wise. */
  step: null;
  /** `"manual"`: the user logged it. */
  source: "manual";
  /** Always `null`. */
  context: null;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/**
 * The batch entry of a parameter event.
 *
 * @param event The event.
 * @returns Its entry.
 */
export function parameterValue(event: ParamEvent): CometParameterValue {
  return {
    parameterName: event.key,
    parameterValue: typeof event.value === "number"
      ? cometNumber(event.value)
      : event.value,
    step: null,
    source: "manual",
    context: null,
    timestamp: event.timestampMs,
  };
}

/** How one media event reaches Comet. */
export type CometMediaRequest =
  | {
    /** An upload to `clientlib/asset/upload` or `clientlib/visualizations/upload`. */
    kind: "upload";
    /** `visualization` for images, `asset` for the rest. */
    endpoint: "asset" | "visualization";
    /** Comet's asset type, such as `"audio"` or `"histogram3d"`. */
    type: string | undefined;
    /** The file name Comet shows. */
    fileName: string;
    /** Extension without the dot. */
    extension: string | undefined;
    /** The file. */
    data: Uint8Array;
    /** The `metadata` form field, a JSON string; absent when empty. */
    metadata: string | undefined;
  }
  | {
    /** `write/experiment/html`. */
    kind: "html";
    /** The HTML. */
    html: string;
  }
  | {
    /** `write/experiment/graph`. */
    kind: "graph";
    /** The graph text. */
    graph: string;
  };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Maps a media event to the request Comet's SDK makes for that kind:
 * images to `visualizations/upload`; audio, text samples (`text-sample`),
 * curves, confusion matrices and 3-D histograms as typed assets with
 * Comet's JSON; tables as CSV assets; HTML and model graphs to their own
 * endpoints; anything else as a generic asset.
 *
 * @param event The media event, with its bytes.
 * @returns The request to make.
 * @throws {TypeError} When the bytes are not what the media type promises.
 */
export function mediaRequest(event: MediaEvent): CometMediaRequest {
  const extension = event.extension;
  const named = (ext: string | undefined): string =>
    ext && !event.key.toLowerCase().endsWith(`.${ext}`)
      ? `${event.key}.${ext}`
      : event.key;
  const metadata = (
    extra: Record<string, unknown> = {},
  ): string | undefined => {
    const merged = { ...(event.metadata ?? {}), ...extra };
    return Object.keys(merged).length === 0
      ? undefined
      : JSON.stringify(merged);
  };
  switch (event.mediaType) {
    case "image":
      return {
        kind: "upload",
        endpoint: "visualization",
        type: undefined,
        fileName: named(extension),
        extension,
        data: event.data,
        metadata: metadata(),
      };
    case "audio":
      return {
        kind: "upload",
        endpoint: "asset",
        type: "audio",
        fileName: named(extension),
        extension,
        data: event.data,
        metadata: metadata(),
      };
    case "text":
      return {
        kind: "upload",
        endpoint: "asset",
        type: "text-sample",
        fileName: "auto-generated-in-the-backend",
        extension: undefined,
        data: event.data,
        metadata: metadata({ key: event.key }),
      };
    case "html":
      return { kind: "html", html: decoder.decode(event.data) };
    case "graph": {
      const parsed = parseJson(event) as { text?: unknown };
      if (typeof parsed?.text !== "string") {
        throw new TypeError(
          `Cannot send graph '${event.key}' to Comet: its JSON has no 'text' string`,
        );
      }
      return { kind: "graph", graph: parsed.text };
    }
    case "histogram": {
      const parsed = parseJson(event) as { comet?: unknown };
      if (typeof parsed?.comet !== "object" || parsed.comet === null) {
        throw new TypeError(
          `Cannot send histogram '${event.key}' to Comet: its JSON has no 'comet' histogram`,
        );
      }
      return {
        kind: "upload",
        endpoint: "asset",
        type: "histogram3d",
        fileName: event.key,
        extension: undefined,
        data: encoder.encode(JSON.stringify(parsed.comet)),
        metadata: undefined,
      };
    }
    case "confusion_matrix":
      return {
        kind: "upload",
        endpoint: "asset",
        type: "confusion-matrix",
        fileName: named("json"),
        extension: "json",
        data: event.data,
        metadata: undefined,
      };
    case "curve":
      return {
        kind: "upload",
        endpoint: "asset",
        type: "curve",
        fileName: event.key,
        extension: undefined,
        data: event.data,
        metadata: undefined,
      };
    case "table": {
      const parsed = parseJson(event) as { columns?: unknown; rows?: unknown };
      if (!Array.isArray(parsed?.columns) || !Array.isArray(parsed?.rows)) {
        throw new TypeError(
          `Cannot send table '${event.key}' to Comet: its JSON has no 'columns' and 'rows' arrays`,
        );
      }
      return {
        kind: "upload",
        endpoint: "asset",
        type: undefined,
        fileName: named("csv"),
        extension: "csv",
        data: encoder.encode(
          tableToCsv(parsed.columns as string[], parsed.rows as TableCell[][]),
        ),
        metadata: undefined,
      };
    }
    default:
      return {
        kind: "upload",
        endpoint: "asset",
        type: undefined,
        fileName: named(extension),
        extension,
        data: event.data,
        metadata: metadata(),
      };
  }
}

function parseJson(event: MediaEvent): unknown {
  try {
    return JSON.parse(decoder.decode(event.data));
  } catch (cause) {
    throw new TypeError(
      `Cannot send ${event.mediaType} '${event.key}' to Comet: its bytes are not JSON`,
      { cause },
    );
  }
}

/**
 * Whether a string can be a Comet experiment key: 32 to 50 ASCII letters
 * and digits (Comet's SDK makes them as 32 lower-case hex digits).
 *
 * @param key The candidate.
 * @returns Whether it is valid.
 */
export function isExperimentKey(key: unknown): key is string {
  return typeof key === "string" && /^[A-Za-z0-9]{32,50}$/.test(key);
}
