// This module is browser compatible.

/** Fields every tracking event carries. */
export interface EventBase {
  /** The run the event belongs to. */
  runId: string;
  /**
   * Position of the event within its run: strictly increasing, starting at
   * 0. Together with `runId` it identifies the event, so replays can be
   * de-duplicated.
   */
  seq: number;
  /** Wall-clock time the event was created, in milliseconds since the epoch. */
  timestampMs: number;
}

/** How a run ended. */
export type RunStatus = "finished" | "failed" | "killed";

/** A run started. Always the first event of a run (`seq` 0). */
export interface RunStartEvent extends EventBase {
  /** Discriminant. */
  kind: "run_start";
  /** The project (Comet project, MLflow experiment, W&B project) the run belongs to. */
  project: string;
  /** Display name of the run, if one was given. */
  name?: string;
  /** Tags given when the run was created. */
  tags: string[];
  /**
   * The run existed before (a resumed Comet experiment, MLflow run or W&B
   * run): backends continue it instead of creating it.
   */
  resume?: boolean;
}

/** A run was renamed. */
export interface RunNameEvent extends EventBase {
  /** Discriminant. */
  kind: "run_name";
  /** The new display name. */
  name: string;
}

/** A run ended. No event of the run follows it. */
export interface RunEndEvent extends EventBase {
  /** Discriminant. */
  kind: "run_end";
  /** How the run ended. */
  status: RunStatus;
}

/** One point of a metric series. */
export interface MetricEvent extends EventBase {
  /** Discriminant. */
  kind: "metric";
  /** Metric name; nested objects flatten to `a/b`. */
  key: string;
  /** The value. May be `NaN` or `±Infinity` when `nonFinite: "keep"` is in force. */
  value: number;
  /** Training step. */
  step: number;
  /** Epoch, when one was given. */
  epoch?: number;
  /** Context such as `"train"` or `"validate"`, when one was given. */
  context?: string;
}

/** A parameter value of a run (hyper-parameter, configuration). */
export type ParamValue = string | number | boolean | null;

/** A run parameter was set. */
export interface ParamEvent extends EventBase {
  /** Discriminant. */
  kind: "param";
  /** Parameter name; nested objects flatten to `a/b`. */
  key: string;
  /** The value. */
  value: ParamValue;
}

/** Tags were added to a run. */
export interface TagEvent extends EventBase {
  /** Discriminant. */
  kind: "tag";
  /** The tags added. */
  tags: string[];
}

/** A media value (image, audio, text, table, ...) logged at a step. */
export interface MediaEvent extends EventBase {
  /** Discriminant. */
  kind: "media";
  /** Name the value was logged under. */
  key: string;
  /** Training step. */
  step: number;
  /** Epoch, when one was given. */
  epoch?: number;
  /** Context such as `"train"` or `"validate"`, when one was given. */
  context?: string;
  /** The kind of media, such as `"image"`, `"audio"`, `"text"`, `"table"`. */
  mediaType: string;
  /** MIME type of `data`, such as `"image/png"`. */
  contentType: string;
  /** The encoded bytes. */
  data: Uint8Array;
  /** Extra, JSON-serialisable description (caption, size, labels, ...). */
  metadata?: Record<string, unknown>;
  /** File extension for `data`, without the dot, such as `"png"`. */
  extension?: string;
  /**
   * Where the bytes are stored instead of inline, relative to the run's
   * folder (the local store's journal keeps media this way; `data` is then
   * empty until read back).
   */
  file?: string;
}

/**
 * A run logged an artifact version (`usage: "output"`) or downloaded one
 * (`"input"`): its lineage.
 */
export interface ArtifactEvent extends EventBase {
  /** Discriminant. */
  kind: "artifact";
  /** Whether the run produced the version or used it. */
  usage: "output" | "input";
  /** Artifact name. */
  name: string;
  /** Artifact type, such as `"model"` or `"dataset"`. */
  type: string;
  /** The version, as the first backend numbers it, such as `"v3"`. */
  version: string;
  /** Digest over the artifact's manifest. */
  digest: string;
  /** Total size of the artifact's files, in bytes. */
  sizeBytes: number;
}

/** Every kind of event that flows from a logger to its backends. */
export type TrackingEvent =
  | RunStartEvent
  | RunNameEvent
  | RunEndEvent
  | MetricEvent
  | ParamEvent
  | TagEvent
  | MediaEvent
  | ArtifactEvent;

/** The `kind` discriminant of {@linkcode TrackingEvent}. */
export type EventKind = TrackingEvent["kind"];

/** Every event kind, in a stable order. */
export const EVENT_KINDS: readonly EventKind[] = [
  "run_start",
  "run_name",
  "run_end",
  "metric",
  "param",
  "tag",
  "media",
  "artifact",
];
