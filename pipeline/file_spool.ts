// This module is browser compatible: the filesystem is reached at run time
// (see runtime/fs.ts); without one, constructing a FileSpool throws
// UnsupportedRuntimeError.
import { decodeEvent, encodeEvent, utf8ByteLength } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import { SpoolError } from "../errors/errors.ts";
import {
  type FileHandleLike,
  type FileSystemLike,
  isProcessAlive,
  joinPath,
  processId,
  processStartMs,
  readAt,
  requireFileSystem,
} from "../runtime/fs.ts";
import type { Spool, SpoolRecord } from "./spool.ts";

/** Options of {@linkcode FileSpool}. */
export interface FileSpoolOptions {
  /** Root folder of all spools, such as `".uetai/.spool"`. */
  dir: string;
  /** The lane: one backend's queue (its name). Each lane is a sub-folder. */
  lane: string;
  /**
   * A segment file is closed and a new one started past this size.
   * @default {8388608}
   */
  maxSegmentBytes?: number;
  /**
   * Most bytes of pending records also kept in memory, so sending does not
   * read back what was just written. Past it, records are read from disk.
   * @default {4194304}
   */
  maxCacheBytes?: number;
  /**
   * Replay the pending events of lanes left behind by processes that died.
   * @default {true}
   */
  adoptOrphans?: boolean;
  /** The filesystem; `node:fs/promises` reached at run time by default. */
  fs?: FileSystemLike;
  /**
   * Receives problems the spool works around rather than fails on: an
   * orphan session it could not replay, lines it could not decode (kept in
   * `<dir>/<lane>/corrupt.ndjson`).
   */
  onError?: (error: SpoolError) => void;
}

interface Resident extends SpoolRecord {
  segment: number;
  end: number;
}

interface Owner {
  pid?: number;
  /** Random per process: tells this process from an earlier one with the same pid (containers). */
  process?: string;
  startedMs?: number;
}

/** Identifies this process in owner files, beside its pid. */
let processNonce: string | undefined;

/** Made on first use: workers forbid random values at module scope. */
function processNonceOf(): string {
  return processNonce ??= crypto.randomUUID();
}

/** Session folders open in this process: never adopted by another spool of it. */
const OPEN_SESSIONS = new Set<string>();

function ownerOfThisProcess(): Owner {
  return { pid: processId(), process: processNonceOf(), startedMs: Date.now() };
}

/** Whether the process that owns a session is gone, so its events are orphans. */
function isOrphan(owner: Owner, path: string): boolean {
  if (OPEN_SESSIONS.has(path)) return false;
  // Closed (with events pending) earlier by this copy of the library.
  if (owner.process === processNonceOf()) return true;
  if (owner.pid === processId()) {
    // Our pid but another copy of the library: either a process that had
    // this pid before (containers, where every run may be pid 1), or a live
    // worker or second copy in this very process. Only the first started
    // before this process did (with a second of margin for clock reads).
    const startedMs = processStartMs();
    return startedMs !== undefined && typeof owner.startedMs === "number" &&
      owner.startedMs < startedMs - 1000;
  }
  return typeof owner.pid !== "number" || !isProcessAlive(owner.pid);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function segmentName(index: number): string {
  return `segment-${String(index).padStart(6, "0")}.ndjson`;
}

function segmentIndex(name: string): number | undefined {
  const match = /^segment-(\d{6,})\.ndjson$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

async function readRange(
  fs: FileSystemLike,
  path: string,
  start: number,
  length: number,
): Promise<Uint8Array> {
  const handle = await fs.open(path, "r");
  try {
    return await readAt(handle, start, length);
  } finally {
    await handle.close();
  }
}

/**
 * A durable spool: events are appended to NDJSON segment files under
 * `<dir>/<lane>/s-<session>/` and an `ack.json` cursor records what the
 * backend acknowledged. When a process dies, the next one that opens the
 * same lane adopts the dead session's pending events and replays them
 * first, de-duplicated by `(runId, seq)`. Events a backend rejected for good
 * are kept in `<dir>/<lane>/rejected.ndjson`, never deleted silently.
 *
 * @example
 * ```ts
 * import { FileSpool } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const spool = new FileSpool({ dir, lane: "demo" });
 * const event = { kind: "tag" as const, runId: "r", seq: 1, timestampMs: 0, tags: ["x"] };
 * await spool.append([{ event, bytes: 0 }]);
 * assert.equal(spool.pendingEvents, 1);
 * await spool.ack(1);
 * assert.equal(spool.pendingEvents, 0);
 * await spool.close();
 * ```
 */
export class FileSpool implements Spool {
  #fs: FileSystemLike;
  #laneDir: string;
  #sessionDir: string;
  #session: string;
  #maxSegmentBytes: number;
  #maxCacheBytes: number;
  #adopt: boolean;
  #ready: Promise<void> | undefined;

  #handle: FileHandleLike | undefined;
  #tailSegment = 0;
  #tailSize = 0;
  #headSegment = 0;
  #headOffset = 0;
  #oldestSegment = 0;
  #onError: (error: SpoolError) => void;

  #resident: Resident[] = [];
  #residentHead = 0;
  #residentBytes = 0;
  #allResident = true;

  #pendingEvents = 0;
  #pendingBytes = 0;
  #adoptedEvents = 0;
  #closed = false;

  /**
   * Creates the spool; its folder is made on first use.
   *
   * @param options Where, and the cache and segment sizes.
   * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
   */
  constructor(options: FileSpoolOptions) {
    const fs = requireFileSystem(
      options.fs,
      `open a file spool at '${options.dir}' (use a MemorySpool)`,
    );
    if (
      !/^[A-Za-z0-9._-]+$/.test(options.lane) || options.lane.startsWith(".")
    ) {
      throw new TypeError(
        `Cannot open a file spool lane: lane '${options.lane}' must be letters, digits, '.', '_' or '-', not starting with '.'`,
      );
    }
    this.#fs = fs;
    this.#laneDir = joinPath(options.dir, options.lane);
    this.#session = randomId();
    this.#sessionDir = joinPath(this.#laneDir, `s-${this.#session}`);
    this.#maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
    this.#maxCacheBytes = options.maxCacheBytes ?? 4 * 1024 * 1024;
    this.#adopt = options.adoptOrphans ?? true;
    this.#onError = options.onError ?? (() => {});
  }

  /** Events appended (or adopted) and not yet acknowledged. */
  get pendingEvents(): number {
    return this.#pendingEvents;
  }

  /** Every pending event is on disk. */
  get durableEvents(): number {
    return this.#pendingEvents;
  }

  /** Bytes on disk of events not yet acknowledged. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Events replayed from sessions of processes that died. */
  get adoptedEvents(): number {
    return this.#adoptedEvents;
  }

  /** This session's folder. */
  get path(): string {
    return this.#sessionDir;
  }

  /**
   * Appends records to the current segment; resolves once written (a crash
   * of the process after that loses nothing; `sync()` also survives power loss).
   *
   * @param records The records, in order.
   * @returns Always 0: a file spool keeps everything.
   */
  async append(records: readonly SpoolRecord[]): Promise<number> {
    await this.#open();
    await this.#appendNow(records);
    return 0;
  }

  /**
   * Returns records from the head, from memory or from disk.
   *
   * @param maxEvents Most records.
   * @param maxBytes Most bytes (at least one record is returned).
   * @returns The records.
   */
  async peek(
    maxEvents: number,
    maxBytes: number,
  ): Promise<readonly SpoolRecord[]> {
    await this.#open();
    if (
      this.#residentHead >= this.#resident.length && this.#pendingEvents > 0
    ) {
      await this.#readFromDisk(maxBytes);
    }
    const out: SpoolRecord[] = [];
    let bytes = 0;
    for (
      let i = this.#residentHead;
      i < this.#resident.length && out.length < maxEvents;
      i++
    ) {
      const record = this.#resident[i];
      if (out.length > 0 && bytes + record.bytes > maxBytes) break;
      out.push(record);
      bytes += record.bytes;
    }
    return out;
  }

  /**
   * Acknowledges the first `count` records and persists the cursor.
   *
   * @param count How many records, as returned by the last `peek()`.
   */
  async ack(count: number): Promise<void> {
    await this.#open();
    if (count <= 0) return;
    const available = this.#resident.length - this.#residentHead;
    if (count > available) {
      throw new RangeError(
        `Cannot ack ${count} records: only ${available} were peeked`,
      );
    }
    const last = this.#resident[this.#residentHead + count - 1];
    for (let i = this.#residentHead; i < this.#residentHead + count; i++) {
      const bytes = this.#resident[i].bytes;
      this.#pendingBytes -= bytes + 1;
      this.#residentBytes -= bytes;
    }
    this.#pendingEvents -= count;
    this.#residentHead += count;
    if (this.#residentHead === this.#resident.length) {
      this.#resident = [];
      this.#residentHead = 0;
    } else if (this.#residentHead > 4096) {
      this.#resident = this.#resident.slice(this.#residentHead);
      this.#residentHead = 0;
    }
    this.#headSegment = last.segment;
    this.#headOffset = last.end;
    await this.#writeCursor();
    for (; this.#oldestSegment < this.#headSegment; this.#oldestSegment++) {
      await this.#fs.rm(
        joinPath(this.#sessionDir, segmentName(this.#oldestSegment)),
        { force: true },
      );
    }
  }

  /**
   * Moves the first `count` records to `rejected.ndjson` and acknowledges them.
   *
   * @param count How many records, as returned by the last `peek()`.
   * @param reason Why the backend rejected them (recorded once per call).
   */
  async reject(count: number, reason: Error): Promise<void> {
    await this.#open();
    const records = this.#resident.slice(
      this.#residentHead,
      this.#residentHead + count,
    );
    let text = JSON.stringify({ rejected: reason.message, at: Date.now() }) +
      "\n";
    for (const record of records) {
      text += (record.line ?? encodeEvent(record.event)) + "\n";
    }
    await this.#fs.appendFile(joinPath(this.#laneDir, "rejected.ndjson"), text);
    await this.ack(count);
  }

  /** Flushes the current segment to the storage device. */
  async sync(): Promise<void> {
    await this.#open();
    await this.#handle?.datasync();
  }

  /**
   * Closes the segment file. A session with nothing pending is removed; one
   * with pending events stays for the next process to replay.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#ready) return;
    await this.#ready.catch(() => {});
    await this.#handle?.close();
    this.#handle = undefined;
    OPEN_SESSIONS.delete(this.#sessionDir);
    if (this.#pendingEvents === 0) {
      await this.#fs.rm(this.#sessionDir, { recursive: true, force: true });
    }
  }

  #open(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new SpoolError("Cannot use the spool: it is closed", {
          path: this.#sessionDir,
        }),
      );
    }
    this.#ready ??= this.#init().catch((cause) => {
      // Not cached: the next call tries again, in a new session folder.
      this.#ready = undefined;
      this.#session = randomId();
      const failed = this.#sessionDir;
      OPEN_SESSIONS.delete(failed);
      this.#sessionDir = joinPath(this.#laneDir, `s-${this.#session}`);
      throw cause instanceof SpoolError ? cause : new SpoolError(
        `Cannot open the spool at '${failed}': ${(cause as Error).message}`,
        { path: failed, cause },
      );
    });
    return this.#ready;
  }

  async #init(): Promise<void> {
    const fs = this.#fs;
    await fs.mkdir(this.#laneDir, { recursive: true });
    // Create the session under a temporary name and publish it complete, so
    // that no other process ever sees a session without its owner file.
    const temporary = joinPath(this.#laneDir, `t-${this.#session}`);
    await fs.mkdir(temporary, { recursive: true });
    const owner = ownerOfThisProcess();
    await fs.writeFile(
      joinPath(temporary, "owner.json"),
      JSON.stringify(owner),
    );
    OPEN_SESSIONS.add(this.#sessionDir);
    await fs.rename(temporary, this.#sessionDir);
    this.#handle = await fs.open(
      joinPath(this.#sessionDir, segmentName(0)),
      "a",
    );
    await this.#writeCursor();
    if (this.#adopt) await this.#adoptOrphans();
  }

  #warn(message: string, cause?: unknown): void {
    try {
      this.#onError(new SpoolError(message, { path: this.#laneDir, cause }));
    } catch {
      // A failing hook must not break the spool.
    }
  }

  /** Decodes one line; an undecodable one is kept aside and reported, never thrown. */
  async #decodeOrSetAside(
    line: string,
    where: string,
  ): Promise<TrackingEvent | undefined> {
    try {
      return decodeEvent(line);
    } catch (cause) {
      await this.#fs.appendFile(
        joinPath(this.#laneDir, "corrupt.ndjson"),
        line + "\n",
      )
        .catch(() => {});
      this.#warn(
        `Cannot replay a spooled line of ${where}: it is not a valid event; kept in corrupt.ndjson`,
        cause,
      );
      return undefined;
    }
  }

  async #writeCursor(): Promise<void> {
    const cursor = JSON.stringify({
      segment: this.#headSegment,
      offset: this.#headOffset,
    });
    const temporary = joinPath(this.#sessionDir, "ack.json.tmp");
    await this.#fs.writeFile(temporary, cursor);
    await this.#fs.rename(temporary, joinPath(this.#sessionDir, "ack.json"));
  }

  async #appendNow(records: readonly SpoolRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.#tailSize >= this.#maxSegmentBytes) {
      await this.#handle?.close();
      this.#tailSegment++;
      this.#tailSize = 0;
      this.#handle = await this.#fs.open(
        joinPath(this.#sessionDir, segmentName(this.#tailSegment)),
        "a",
      );
    }
    let text = "";
    let offset = this.#tailSize;
    const cached: Resident[] = [];
    let cache = this.#allResident;
    for (const record of records) {
      const line = record.line ?? encodeEvent(record.event);
      const bytes = record.line !== undefined
        ? record.bytes
        : utf8ByteLength(line);
      text += line + "\n";
      offset += bytes + 1;
      if (cache && this.#residentBytes + bytes <= this.#maxCacheBytes) {
        cached.push({
          event: record.event,
          bytes,
          line,
          segment: this.#tailSegment,
          end: offset,
        });
        this.#residentBytes += bytes;
      } else {
        cache = false;
      }
      this.#pendingBytes += bytes + 1;
    }
    try {
      const written = await this.#handle!.write(encoder.encode(text)) as {
        bytesWritten?: number;
      } | undefined;
      if (
        typeof written?.bytesWritten === "number" &&
        written.bytesWritten !== offset - this.#tailSize
      ) {
        throw new Error(
          `short write: ${written.bytesWritten} of ${
            offset - this.#tailSize
          } bytes`,
        );
      }
    } catch (cause) {
      for (const record of cached) this.#residentBytes -= record.bytes;
      this.#pendingBytes -= offset - this.#tailSize;
      // Cut off whatever part was written, so no torn line stays mid-file.
      await this.#handle?.truncate(this.#tailSize).catch(() => {});
      throw new SpoolError(
        `Cannot append ${records.length} events to the spool at '${this.#sessionDir}': ${
          (cause as Error).message
        }`,
        { path: this.#sessionDir, cause },
      );
    }
    this.#tailSize = offset;
    this.#pendingEvents += records.length;
    for (const record of cached) this.#resident.push(record);
    this.#allResident = cache;
  }

  async #readFromDisk(maxBytes: number): Promise<void> {
    // Everything resident was acknowledged: read on from the head cursor.
    this.#resident = [];
    this.#residentHead = 0;
    this.#residentBytes = 0;
    // Read about one batch: bounded by the cache size, at least 64 KiB.
    const want = Math.max(Math.min(maxBytes, this.#maxCacheBytes), 64 * 1024);
    let segment = this.#headSegment;
    let offset = this.#headOffset;
    while (this.#resident.length === 0) {
      const path = joinPath(this.#sessionDir, segmentName(segment));
      const size = segment === this.#tailSegment
        ? this.#tailSize
        : (await this.#fs.stat(path)).size;
      if (offset >= size) {
        if (segment >= this.#tailSegment) break;
        segment++;
        offset = 0;
        this.#headSegment = segment;
        this.#headOffset = 0;
        continue;
      }
      let length = Math.min(size - offset, want);
      let bytes = await readRange(this.#fs, path, offset, length);
      while (bytes.lastIndexOf(10) === -1 && offset + length < size) {
        length = Math.min(size - offset, length * 2);
        bytes = await readRange(this.#fs, path, offset, length);
      }
      const complete = bytes.subarray(0, bytes.lastIndexOf(10) + 1);
      let position = offset;
      let start = 0;
      for (let i = 0; i < complete.length; i++) {
        if (complete[i] !== 10) continue;
        const lineBytes = complete.subarray(start, i);
        position = offset + i + 1;
        start = i + 1;
        const line = decoder.decode(lineBytes);
        if (line.trim() === "") continue;
        const event = await this.#decodeOrSetAside(line, "this session");
        if (!event) continue;
        this.#resident.push({
          event,
          bytes: lineBytes.length,
          line,
          segment,
          end: position,
        });
        this.#residentBytes += lineBytes.length;
      }
      if (segment === this.#tailSegment && position >= this.#tailSize) break;
      if (this.#resident.length > 0) break;
      offset = position;
    }
    const last = this.#resident.at(-1);
    this.#allResident = last !== undefined &&
      last.segment === this.#tailSegment &&
      last.end === this.#tailSize;
  }

  async #adoptOrphans(): Promise<void> {
    const fs = this.#fs;
    let names: string[];
    try {
      names = await fs.readdir(this.#laneDir);
    } catch {
      return;
    }
    const seen = new Map<string, number>();
    for (const name of names.sort()) {
      const path = joinPath(this.#laneDir, name);
      if (name.startsWith("t-")) {
        const stat = await fs.stat(path).catch(() => undefined);
        if (stat && Date.now() - stat.mtimeMs > 60_000) {
          await fs.rm(path, { recursive: true, force: true });
        }
        continue;
      }
      if (
        !(name.startsWith("s-") || name.startsWith("a-")) ||
        path === this.#sessionDir
      ) continue;
      if (!(await this.#isOrphanSession(name, path))) continue;
      // Claim it by renaming; only one process can win the rename.
      const claimed = joinPath(
        this.#laneDir,
        `a-${this.#session}-${name.slice(2)}`,
      );
      OPEN_SESSIONS.add(claimed);
      try {
        await fs.rename(path, claimed);
      } catch {
        OPEN_SESSIONS.delete(claimed);
        continue; // another process claimed it first
      }
      try {
        await this.#copyPending(claimed, seen);
        await fs.rm(claimed, { recursive: true, force: true });
        OPEN_SESSIONS.delete(claimed);
      } catch (cause) {
        OPEN_SESSIONS.delete(claimed);
        // Left in place (owned by this process): a later process retries it.
        this.#warn(
          `Cannot replay the spool left by a dead process in '${claimed}': ${
            (cause as Error).message
          }`,
          cause,
        );
      }
    }
  }

  /**
   * Whether a session folder's owner is gone. A claimed folder
   * (`a-<claimer>-…`) belongs to the claiming session, named in it, so
   * taking it over is one atomic rename with no window in between.
   */
  async #isOrphanSession(name: string, path: string): Promise<boolean> {
    if (OPEN_SESSIONS.has(path)) return false;
    let ownerPath = path;
    if (name.startsWith("a-")) {
      ownerPath = joinPath(this.#laneDir, `s-${name.slice(2).split("-")[0]}`);
      if (OPEN_SESSIONS.has(ownerPath)) return false;
    }
    let owner: Owner;
    try {
      owner = JSON.parse(
        await this.#fs.readFile(joinPath(ownerPath, "owner.json"), "utf8"),
      ) as Owner;
    } catch {
      // No owner file: a claimer that is gone, or a session that never
      // finished starting (those are published complete, so: gone).
      return true;
    }
    return isOrphan(owner, ownerPath);
  }

  async #copyPending(dir: string, seen: Map<string, number>): Promise<void> {
    const fs = this.#fs;
    const cursor = await fs.readFile(joinPath(dir, "ack.json"), "utf8")
      .then((text) => JSON.parse(text) as { segment: number; offset: number })
      .catch(() => ({ segment: 0, offset: 0 }));
    const segments = (await fs.readdir(dir))
      .map(segmentIndex)
      .filter((index): index is number =>
        index !== undefined && index >= cursor.segment
      )
      .sort((a, b) => a - b);
    for (const index of segments) {
      const path = joinPath(dir, segmentName(index));
      const size = (await fs.stat(path)).size;
      const start = index === cursor.segment ? cursor.offset : 0;
      if (start >= size) continue;
      const text = decoder.decode(
        await readRange(fs, path, start, size - start),
      );
      const fresh: SpoolRecord[] = [];
      const lines = text.split("\n");
      // The last piece is empty after a final newline, or a line torn by
      // the crash: kept only if it happens to be a whole event.
      const torn = lines.pop() ?? "";
      if (torn.trim() !== "") {
        try {
          decodeEvent(torn);
          lines.push(torn);
        } catch {
          // The write that made it never completed.
        }
      }
      for (const line of lines) {
        if (line.trim() === "") continue;
        const event = await this.#decodeOrSetAside(line, dir);
        if (!event) continue;
        const last = seen.get(event.runId);
        if (last !== undefined && event.seq <= last) continue;
        seen.set(event.runId, event.seq);
        fresh.push({ event, line, bytes: encoder.encode(line).length });
      }
      await this.#appendNow(fresh);
      this.#adoptedEvents += fresh.length;
    }
    await this.#handle?.datasync();
  }
}
