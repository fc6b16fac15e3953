// This module is browser compatible.
import type { Spool, SpoolRecord } from "./spool.ts";

/** Options of {@linkcode OverflowSpool}. */
export interface OverflowSpoolOptions {
  /**
   * The fast spool that records go to first: a `MemorySpool` without a
   * bound of its own (its appends must not fail).
   */
  primary: Spool;
  /** Makes the spool that takes what does not fit (a `FileSpool`). */
  createOverflow: () => Spool;
  /**
   * Most bytes held by `primary`; past it, records go to the overflow spool.
   * @default {67108864}
   */
  maxPrimaryBytes?: number;
}

/**
 * A spool in two tiers: records stay in a fast primary spool (memory) while
 * it has room and spill to an overflow spool (a file) when it has not, so a
 * backend that is slower than the training loop costs disk, not memory, and
 * nothing is dropped. Order is kept: once anything is in the overflow, new
 * records follow it there until it has drained.
 *
 * @example
 * ```ts
 * import { MemorySpool, OverflowSpool } from "@uetai/uetai/pipeline";
 * import assert from "node:assert/strict";
 * const spool = new OverflowSpool({
 *   primary: new MemorySpool({ maxBytes: Infinity }),
 *   createOverflow: () => new MemorySpool({ maxBytes: Infinity }),
 *   maxPrimaryBytes: 100,
 * });
 * const event = { kind: "tag" as const, runId: "r", seq: 1, timestampMs: 0, tags: [] };
 * await spool.append([{ event, bytes: 80 }, { event: { ...event, seq: 2 }, bytes: 80 }]);
 * assert.equal(spool.pendingEvents, 2);
 * assert.equal(spool.overflowEvents, 1);
 * ```
 */
export class OverflowSpool implements Spool {
  #primary: Spool;
  #overflow: Spool;
  #maxPrimaryBytes: number;
  #peekedFrom: Spool | undefined;

  /**
   * Creates the two-tier spool.
   *
   * @param options The tiers and the primary's byte bound.
   */
  constructor(options: OverflowSpoolOptions) {
    this.#primary = options.primary;
    // Made at once (a file spool does no I/O until first used), so that
    // the first time the primary runs dry, the overflow left by a process
    // that died is adopted and replayed.
    this.#overflow = options.createOverflow();
    this.#maxPrimaryBytes = options.maxPrimaryBytes ?? 64 * 1024 * 1024;
  }

  /** Pending events in the overflow tier, which is on disk. */
  get durableEvents(): number {
    return this.#overflow.durableEvents;
  }

  /** Events held in both tiers. */
  get pendingEvents(): number {
    return this.#primary.pendingEvents + this.#overflow.pendingEvents;
  }

  /** Bytes held in both tiers. */
  get pendingBytes(): number {
    return this.#primary.pendingBytes + (this.#overflow.pendingBytes);
  }

  /** Events held in the overflow tier. */
  get overflowEvents(): number {
    return this.#overflow.pendingEvents;
  }

  /**
   * Appends to the primary while it has room, the rest to the overflow. If
   * the overflow fails, nothing of the call was appended.
   *
   * @param records The records, in order.
   * @returns How many records neither tier could keep.
   */
  async append(records: readonly SpoolRecord[]): Promise<number> {
    let split = 0;
    if (this.#overflow.pendingEvents === 0) {
      let bytes = this.#primary.pendingBytes;
      while (
        split < records.length &&
        bytes + records[split].bytes <= this.#maxPrimaryBytes
      ) {
        bytes += records[split].bytes;
        split++;
      }
    }
    // All or nothing: the overflow (which may fail) first, then the primary
    // (memory, which does not). The primary's records still come out first.
    let dropped = 0;
    if (split < records.length) {
      dropped += await this.#overflow.append(records.slice(split));
    }
    if (split > 0) {
      dropped += await this.#primary.append(
        split === records.length ? records : records.slice(0, split),
      );
    }
    return dropped;
  }

  /**
   * Returns records from the head of the primary, or of the overflow when
   * the primary is empty.
   *
   * @param maxEvents Most records.
   * @param maxBytes Most bytes.
   * @returns The records.
   */
  peek(maxEvents: number, maxBytes: number): Promise<readonly SpoolRecord[]> {
    this.#peekedFrom = this.#primary.pendingEvents > 0
      ? this.#primary
      : this.#overflow;
    return this.#peekedFrom.peek(maxEvents, maxBytes);
  }

  /**
   * Acknowledges records of the last `peek()`.
   *
   * @param count How many.
   */
  ack(count: number): Promise<void> {
    return this.#peekedFrom ? this.#peekedFrom.ack(count) : Promise.resolve();
  }

  /**
   * Rejects records of the last `peek()`.
   *
   * @param count How many.
   * @param reason Why.
   */
  reject(count: number, reason: Error): Promise<void> {
    return this.#peekedFrom
      ? this.#peekedFrom.reject(count, reason)
      : Promise.resolve();
  }

  /** Syncs the overflow tier. */
  async sync(): Promise<void> {
    await this.#primary.sync();
    await this.#overflow.sync();
  }

  /** Closes both tiers. */
  async close(): Promise<void> {
    await this.#primary.close();
    await this.#overflow.close();
  }
}
