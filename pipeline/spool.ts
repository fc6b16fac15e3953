// This module is browser compatible.
import type { TrackingEvent } from "../event/types.ts";

/** One event in a spool, with the size of its NDJSON encoding. */
export interface SpoolRecord {
  /** The event. */
  event: TrackingEvent;
  /** Size of the event's NDJSON line (without newline), in bytes. */
  bytes: number;
  /** The encoded line, when the caller already has it. */
  line?: string;
}

/**
 * The queue of events a backend has not yet acknowledged, in order. The
 * pipeline appends events, peeks at the head to build a batch, and acks the
 * head once the backend accepted it. A durable spool keeps the events on
 * disk, so a process that dies loses nothing it had appended, and a new one
 * replays them, de-duplicated by `(runId, seq)`.
 *
 * Calls are never concurrent: the pipeline awaits each before the next.
 */
export interface Spool {
  /**
   * Pending events kept on disk, which survive the process and are replayed
   * by the next one: all of them for a file spool, none for memory.
   */
  readonly durableEvents: number;
  /** Events appended and not yet acknowledged. */
  readonly pendingEvents: number;
  /** Bytes (NDJSON) appended and not yet acknowledged. */
  readonly pendingBytes: number;
  /**
   * Appends records after the tail.
   *
   * @returns How many records could not be kept (a full memory spool); they are lost.
   */
  append(records: readonly SpoolRecord[]): Promise<number>;
  /** Returns up to `maxEvents` records (and `maxBytes`, but at least one) from the head, without removing them. */
  peek(maxEvents: number, maxBytes: number): Promise<readonly SpoolRecord[]>;
  /** Removes the first `count` records, which the backend acknowledged. */
  ack(count: number): Promise<void>;
  /** Sets the first `count` records aside as rejected for good, and removes them. */
  reject(count: number, reason: Error): Promise<void>;
  /** Makes everything appended durable (no-op for memory). */
  sync(): Promise<void>;
  /** Releases files. The spool is not used afterwards. */
  close(): Promise<void>;
}

/**
 * Makes the spool for one backend: `lane` is unique per backend of a
 * logger (its name, suffixed when two share one).
 */
export type SpoolFactory = (lane: string) => Spool;
