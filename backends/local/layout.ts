// This module is browser compatible.
import type { ParamValue, RunStatus } from "../../event/types.ts";
import { assertSafeName, DEFAULT_DIR, joinPath } from "../../runtime/fs.ts";

export { assertSafeName };

/** Version of the local store's file layout, written in `run.json`. */
export const LOCAL_STORE_SCHEMA_VERSION = 1;

/** Default root folder of the local store. */
export const DEFAULT_LOCAL_DIR: string = DEFAULT_DIR;

/** File names inside a run folder. */
export const RUN_FILES = {
  /** Run metadata, rewritten atomically. */
  metadata: "run.json",
  /** Append-only NDJSON journal of every event of the run. */
  events: "events.ndjson",
  /** Folder of media files, one sub-folder per kind of media. */
  media: "media",
  /** Index of the media files, rewritten atomically. */
  mediaIndex: "media/index.json",
} as const;

/** One media file of a run, as listed in `media/index.json`. */
export interface MediaEntry {
  /** Name it was logged under. */
  key: string;
  /** Training step. */
  step: number;
  /** Epoch, when one was given. */
  epoch?: number;
  /** Context such as `"validate"`, when one was given. */
  context?: string;
  /** `seq` of its event. */
  seq: number;
  /** When it was logged, in milliseconds since the epoch. */
  timestampMs: number;
  /** Kind of media, such as `"image"`. */
  mediaType: string;
  /** MIME type. */
  contentType: string;
  /** The file, relative to the run folder, such as `"media/image/sample_step3_12.png"`. */
  file: string;
  /** Size of the file in bytes. */
  sizeBytes: number;
  /** The media value's description (caption, width, labels, ...). */
  metadata: Record<string, unknown>;
}

/** What `media/index.json` holds. */
export interface MediaIndex {
  /** Layout version. */
  schema: number;
  /** `seq` of the last journal event this index reflects. */
  journalSeq: number;
  /** The media files, in logging order. */
  items: MediaEntry[];
}

const EXTENSIONS: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "audio/wav": "wav",
  "audio/mpeg": "mp3",
  "audio/ogg": "ogg",
  "audio/flac": "flac",
  "application/json": "json",
  "text/plain": "txt",
  "text/html": "html",
};

/**
 * Where a media event's bytes go inside its run folder: one folder per kind,
 * a name carrying the key, the step and the seq (so it is unique, and the
 * same again on a replay).
 *
 * @param event The media event's kind, key, step, seq, type and extension.
 * @returns A relative path such as `media/image/samples_digit_step3_42.png`.
 */
export function mediaFilePath(
  event: {
    mediaType: string;
    key: string;
    step: number;
    seq: number;
    contentType: string;
    extension?: string;
  },
): string {
  // Letters, digits, "_", "-" and single dots inside: never "..".
  const safe = (text: string): string =>
    text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/\.{2,}/g, "_").replace(
      /^\./,
      "_",
    ).slice(0, 80);
  const extension = safe(
    event.extension ?? EXTENSIONS[event.contentType] ?? "bin",
  );
  return `${RUN_FILES.media}/${safe(event.mediaType)}/${
    safe(event.key)
  }_step${event.step}_${event.seq}.${extension}`;
}

/** What `run.json` holds. */
export interface RunMetadata {
  /** Layout version. */
  schema: number;
  /** The run's id (its folder name). */
  runId: string;
  /** The project (its parent folder name). */
  project: string;
  /** Display name, if set. */
  name?: string;
  /** Tags, in the order added, without repeats. */
  tags: string[];
  /** Parameters, by flattened key. */
  params: Record<string, ParamValue>;
  /** `running` until the run's end event is stored. */
  status: "running" | RunStatus;
  /** When the run started, in milliseconds since the epoch. */
  startedMs: number;
  /** When the run ended, if it did. */
  endedMs?: number;
  /**
   * `seq` of the last journal event this metadata reflects. When the
   * journal holds later events (a crash between the two writes), the
   * metadata is rebuilt from the journal when the run is opened again.
   */
  journalSeq?: number;
}

/**
 * The folder of one run.
 *
 * @param root The store's root folder.
 * @param project The project.
 * @param runId The run.
 * @returns `<root>/<project>/<runId>`.
 */
export function runDirectory(
  root: string,
  project: string,
  runId: string,
): string {
  assertSafeName("project", project);
  assertSafeName("runId", runId);
  return joinPath(root, project, runId);
}
