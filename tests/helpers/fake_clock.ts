/**
 * A fake {@linkcode Clock} for pipeline tests: time only moves when the test
 * calls {@linkcode FakeClock.tick} or {@linkcode FakeClock.runAll}, and due
 * timers then fire in time order, with pending promise callbacks settled
 * between two timers. Runs unchanged under Deno, Bun and Node.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../../runtime/clock.ts";

interface FakeTimer {
  id: number;
  atMs: number;
  callback: () => void;
}

/**
 * Lets pending promise callbacks run: waits for a few real macrotasks, each
 * of which drains the whole microtask queue first. This does not wait for
 * file I/O; use a polling helper for that.
 *
 * @param rounds How many real macrotasks to wait for.
 */
export async function settle(rounds: number = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * A clock whose time is moved by hand. Handles are numbers; clearing an
 * unknown or already fired handle is a no-op, as with the real timers.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(1000);
 * let fired = 0;
 * clock.setTimeout(() => fired++, 50);
 * await clock.tick(49); // fired === 0
 * await clock.tick(1); // fired === 1, clock.now() === 1050
 * ```
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  #timers = new Map<number, FakeTimer>();
  #fired = 0;

  /**
   * Creates a clock stopped at `startMs`.
   *
   * @param startMs The initial time, in milliseconds since the epoch.
   */
  constructor(startMs: number = 0) {
    this.#nowMs = startMs;
  }

  /** The fake current time, in milliseconds. */
  now(): number {
    return this.#nowMs;
  }

  /**
   * Schedules `callback` at `now() + delayMs` of fake time.
   *
   * @param callback Called when the time is reached by `tick()`/`runAll()`.
   * @param delayMs Delay in milliseconds (negative or NaN counts as 0).
   * @returns A numeric handle.
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    this.#timers.set(id, { id, atMs: this.#nowMs + delay, callback });
    return id;
  }

  /**
   * Cancels a timer.
   *
   * @param handle A handle from {@linkcode FakeClock.setTimeout}.
   */
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === "number") this.#timers.delete(handle);
  }

  /** How many timers are scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** How many timers fired so far. */
  get firedTimers(): number {
    return this.#fired;
  }

  /** When the next timer is due, or `undefined` when none is scheduled. */
  get nextTimerAtMs(): number | undefined {
    return this.#next(Infinity)?.atMs;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the
   * way (including timers those callbacks schedule), in time order, and
   * settling promise callbacks after each.
   *
   * @param ms How far to move, in milliseconds.
   */
  async tick(ms: number): Promise<void> {
    if (!(ms >= 0)) {
      throw new RangeError(`Cannot tick by ${ms} ms: expected ms >= 0`);
    }
    const targetMs = this.#nowMs + ms;
    await settle();
    for (;;) {
      const timer = this.#next(targetMs);
      if (timer === undefined) break;
      this.#fire(timer);
      await settle();
    }
    this.#nowMs = targetMs;
    await settle();
  }

  /**
   * Fires timers in time order, moving time to each, until none is left.
   *
   * @param maxTimers Gives up (throws) after this many, to catch timers
   * that keep rescheduling themselves.
   * @returns How many timers fired.
   */
  async runAll(maxTimers: number = 10_000): Promise<number> {
    let count = 0;
    await settle();
    for (;;) {
      const timer = this.#next(Infinity);
      if (timer === undefined) return count;
      if (count >= maxTimers) {
        throw new Error(
          `Cannot run all timers: more than ${maxTimers} fired (a timer keeps rescheduling itself?)`,
        );
      }
      this.#fire(timer);
      count++;
      await settle();
    }
  }

  #fire(timer: FakeTimer): void {
    this.#timers.delete(timer.id);
    if (timer.atMs > this.#nowMs) this.#nowMs = timer.atMs;
    this.#fired++;
    timer.callback();
  }

  #next(limitMs: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.atMs > limitMs) continue;
      if (
        best === undefined || timer.atMs < best.atMs ||
        (timer.atMs === best.atMs && timer.id < best.id)
      ) {
        best = timer;
      }
    }
    return best;
  }
}
