// This module is browser compatible.
import type { Spool, SpoolRecord } from "./spool.ts";

/** Options of {@linkcode MemorySpool}. */
export interface MemorySpoolOptions {
  /**
   * Most bytes kept; records appended past it are lost and reported as dropped.
   * @default {67108864}
   */
  maxBytes?: number;
}

/**
 * A spool in memory, for runtimes without a filesystem (workers, browsers)
 * and for backends that store durably themselves. Bounded: past `maxBytes`
 * appends are refused and counted.
 *
 * @example
 * ```ts
 * import { MemorySpool } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * const spool = new MemorySpool({ maxBytes: 1024 });
 * const event = { kind: "tag" as const, runId: "r", seq: 1, timestampMs: 0, tags: [] };
 * await spool.append([{ event, bytes: 60 }]);
 * assert.equal(spool.pendingEvents, 1);
 * ```
 */
export class MemorySpool implements Spool {
  /** Always 0: the records live only as long as the process. */
  readonly durableEvents: number = 0;
  #records: SpoolRecord[] = [];
  #head = 0;
  #bytes = 0;
  #maxBytes: number;
  #rejected = 0;

  /**
   * Creates an empty memory spool.
   *
   * @param options The byte bound.
   */
  constructor(options: MemorySpoolOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Events held and not yet acknowledged. */
  get pendingEvents(): number {
    return this.#records.length - this.#head;
  }

  /** Bytes held and not yet acknowledged. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Events set aside as rejected (they are not kept). */
  get rejectedEvents(): number {
    return this.#rejected;
  }

  /**
   * Appends records while they fit under `maxBytes`.
   *
   * @param records The records, in order.
   * @returns How many did not fit.
   */
  append(records: readonly SpoolRecord[]): Promise<number> {
    let dropped = 0;
    for (const record of records) {
      if (this.#bytes + record.bytes > this.#maxBytes) {
        dropped++;
        continue;
      }
      this.#records.push({ event: record.event, bytes: record.bytes });
      this.#bytes += record.bytes;
    }
    return Promise.resolve(dropped);
  }

  /**
   * Returns records from the head.
   *
   * @param maxEvents Most records.
   * @param maxBytes Most bytes (at least one record is returned).
   * @returns The records.
   */
  peek(maxEvents: number, maxBytes: number): Promise<readonly SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    let bytes = 0;
    for (
      let i = this.#head;
      i < this.#records.length && out.length < maxEvents;
      i++
    ) {
      const record = this.#records[i];
      if (out.length > 0 && bytes + record.bytes > maxBytes) break;
      out.push(record);
      bytes += record.bytes;
    }
    return Promise.resolve(out);
  }

  /**
   * Removes acknowledged records from the head.
   *
   * @param count How many.
   */
  ack(count: number): Promise<void> {
    this.#drop(count);
    return Promise.resolve();
  }

  /**
   * Removes rejected records from the head.
   *
   * @param count How many.
   */
  reject(count: number): Promise<void> {
    this.#rejected += this.#drop(count);
    return Promise.resolve();
  }

  /** Nothing to do: memory is not durable. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Forgets every record. */
  close(): Promise<void> {
    this.#records = [];
    this.#head = 0;
    this.#bytes = 0;
    return Promise.resolve();
  }

  #drop(count: number): number {
    const end = Math.min(this.#records.length, this.#head + count);
    const removed = end - this.#head;
    for (let i = this.#head; i < end; i++) {
      this.#bytes -= this.#records[i].bytes;
    }
    this.#head = end;
    if (this.#head === this.#records.length) {
      this.#records = [];
      this.#head = 0;
    } else if (this.#head > 4096) {
      // Release what was removed: the array would otherwise keep every
      // acknowledged event alive while appends outpace acks.
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
    return removed;
  }
}
