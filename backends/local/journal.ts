// This module is browser compatible: the filesystem is reached at run time.
/**
 * Reading and recovering a run's journal (`events.ndjson`): shared by the
 * local backend (which appends to it) and `LocalStore` (which reads it).
 */
import { decodeEvent } from "../../event/codec.ts";
import type { TrackingEvent } from "../../event/types.ts";
import {
  type FileHandleLike,
  type FileSystemLike,
  readAt,
} from "../../runtime/fs.ts";

const CHUNK_BYTES = 1024 * 1024;

/**
 * Streams the events of a journal in order, a chunk at a time. A torn last
 * line (a crash mid-write) is skipped.
 *
 * @param handle An open journal.
 * @returns The events.
 */
export async function* readJournal(
  handle: FileHandleLike,
): AsyncGenerator<TrackingEvent, void, undefined> {
  // One decoder per reader: a streaming decoder keeps state between chunks.
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(CHUNK_BYTES);
  let carry = "";
  let position = 0;
  while (true) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const text = carry +
      decoder.decode(buffer.subarray(0, bytesRead), { stream: true });
    const lastNewline = text.lastIndexOf("\n");
    carry = text.slice(lastNewline + 1);
    let start = 0;
    while (start <= lastNewline) {
      const end = text.indexOf("\n", start);
      if (end > start) yield decodeEvent(text.slice(start, end));
      start = end + 1;
    }
  }
}

/** What {@linkcode recoverJournal} found. */
export interface JournalState {
  /** `seq` of the last complete event, -1 when there is none. */
  lastSeq: number;
  /** Size in bytes after a torn last line was cut off. */
  size: number;
  /** The first event (the run's start), if any. */
  first: TrackingEvent | undefined;
}

/**
 * Cuts a torn last line off a journal (a write interrupted by a crash) and
 * tells its last `seq`, size and first event. A missing journal is empty.
 *
 * @param fs The filesystem.
 * @param path The journal.
 * @returns What the journal holds.
 */
export async function recoverJournal(
  fs: FileSystemLike,
  path: string,
): Promise<JournalState> {
  let handle: FileHandleLike;
  try {
    handle = await fs.open(path, "r+");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") {
      return { lastSeq: -1, size: 0, first: undefined };
    }
    throw error;
  }
  const decoder = new TextDecoder();
  try {
    const { size } = await handle.stat();
    // The last complete line, reading a growing window from the end.
    let window = 64 * 1024;
    let end = 0;
    let lastLine: Uint8Array | undefined;
    while (true) {
      const start = Math.max(0, size - window);
      const buffer = await readAt(handle, start, size - start);
      const lastNewline = buffer.lastIndexOf(10);
      if (lastNewline === -1) {
        if (start > 0) {
          window *= 4;
          continue;
        }
        break;
      }
      end = start + lastNewline + 1;
      const before = buffer.lastIndexOf(10, lastNewline - 1);
      if (before === -1 && start > 0) {
        window *= 4;
        continue;
      }
      lastLine = buffer.subarray(before + 1, lastNewline);
      break;
    }
    if (end < size) await handle.truncate(end);
    if (!lastLine) return { lastSeq: -1, size: end, first: undefined };
    const lastSeq = decodeEvent(decoder.decode(lastLine)).seq;
    const head = await readAt(handle, 0, Math.min(end, 64 * 1024));
    const firstNewline = head.indexOf(10);
    let first: TrackingEvent | undefined;
    try {
      first = firstNewline > 0
        ? decodeEvent(decoder.decode(head.subarray(0, firstNewline)))
        : undefined;
    } catch {
      first = undefined;
    }
    return { lastSeq, size: end, first };
  } finally {
    await handle.close();
  }
}
