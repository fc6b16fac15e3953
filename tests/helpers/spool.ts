// Test helper: a spool that delegates to another, with some calls replaced.
import type { Spool } from "../../pipeline/mod.ts";

/**
 * Wraps `inner`, replacing the calls given in `overrides` (to stage a slow,
 * failing or counting spool) and delegating everything else.
 *
 * @param inner The spool that holds the records.
 * @param overrides Replacement calls.
 * @returns The wrapping spool.
 */
export function delegatingSpool(
  inner: Spool,
  overrides: Partial<Pick<Spool, "append" | "peek" | "ack">>,
): Spool {
  return {
    get durableEvents() {
      return inner.durableEvents;
    },
    get pendingEvents() {
      return inner.pendingEvents;
    },
    get pendingBytes() {
      return inner.pendingBytes;
    },
    append: overrides.append ?? ((records) => inner.append(records)),
    peek: overrides.peek ??
      ((maxEvents, maxBytes) => inner.peek(maxEvents, maxBytes)),
    ack: overrides.ack ?? ((count) => inner.ack(count)),
    reject: (count, reason) => inner.reject(count, reason),
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}
