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
} as const;

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
