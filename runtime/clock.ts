// This module is browser compatible.

/** Opaque handle of a scheduled timer. */
export type TimerHandle = unknown;

/**
 * Time source and timer scheduler of the pipeline. Tests pass a fake clock
 * to control time without sleeping.
 */
export interface Clock {
  /** Current wall-clock time in milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `callback` after `delayMs`. The timer must not keep the process
   * alive on its own (the logger flushes on exit instead).
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer made by {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
}

interface UnrefableTimer {
  unref?: () => void;
}

function unref(handle: unknown): void {
  if (typeof handle === "number") {
    const deno =
      (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
    deno?.unrefTimer?.(handle);
    return;
  }
  (handle as UnrefableTimer | undefined)?.unref?.();
}

/** The real clock: `Date.now()` and unreferenced `setTimeout` timers. */
export const systemClock: Clock = {
  now(): number {
    return Date.now();
  },
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const handle = setTimeout(callback, delayMs);
    unref(handle);
    return handle;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
