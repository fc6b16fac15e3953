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
   * Calls `callback` after `delayMs`. Unless `keepAlive` is set, the timer
   * must not keep the process alive on its own (the logger flushes on exit
   * instead); deadlines that a caller awaits set it, so an awaited
   * `flush()` returns instead of the process exiting under it.
   */
  setTimeout(
    callback: () => void,
    delayMs: number,
    options?: { keepAlive?: boolean },
  ): TimerHandle;
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

/**
 * The real clock: `Date.now()` and `setTimeout` timers, unreferenced unless
 * `keepAlive` is set.
 */
export const systemClock: Clock = {
  now(): number {
    return Date.now();
  },
  setTimeout(
    callback: () => void,
    delayMs: number,
    options?: { keepAlive?: boolean },
  ): TimerHandle {
    const handle = setTimeout(callback, delayMs);
    if (!options?.keepAlive) unref(handle);
    return handle;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
