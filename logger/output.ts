// This module is browser compatible.

/**
 * Where captured lines go: one call per stream and batch, with when each
 * line was printed (milliseconds since the epoch).
 */
export type OutputSink = (
  lines: string[],
  options: {
    /** Whether the lines are stderr (with `mixedStreams`: false; see `stderrLines`). */
    stderr: boolean;
    /** When each line was printed, in milliseconds since the epoch. */
    timesMs: number[];
    /** With `mixedStreams`: whether each line is stderr. */
    stderrLines?: boolean[];
  },
) => Promise<void>;

/** Options of {@linkcode OutputCapture}. */
export interface OutputCaptureOptions {
  /** Sends a batch of lines. */
  sink: OutputSink;
  /**
   * How often lines are sent, in milliseconds (Comet's SDK: 5 s).
   * @default {5000}
   */
  intervalMs?: number;
  /**
   * Lines that trigger a send at once (Comet's SDK: 500).
   * @default {500}
   */
  maxLines?: number;
  /**
   * Send the lines of both streams in one call per flush, in print order,
   * each marked in `stderrLines` (for a sink that marks lines one by one).
   * @default {false}
   */
  mixedStreams?: boolean;
  /**
   * Most lines kept while sends fail; the oldest are dropped past it.
   * @default {10000}
   */
  maxBufferedLines?: number;
}

interface Line {
  text: string;
  timeMs: number;
  stderr: boolean;
}

type ConsoleMethod = "log" | "info" | "debug" | "warn" | "error";
const STDOUT: ConsoleMethod[] = ["log", "info", "debug"];
const STDERR: ConsoleMethod[] = ["warn", "error"];

function format(args: unknown[]): string {
  return args.map((arg) => {
    if (typeof arg === "string") return arg;
    if (arg instanceof Error) return arg.stack ?? `${arg.name}: ${arg.message}`;
    if (typeof arg === "object" && arg !== null) {
      try {
        return JSON.stringify(arg);
      } catch {
        return String(arg);
      }
    }
    return String(arg);
  }).join(" ");
}

/**
 * Copies what the program prints with `console.log`/`info`/`debug`
 * (stdout) and `console.warn`/`error` (stderr) to a sink in batches, as
 * Comet's SDK sends captured output: every 5 s or 500 lines, stdout and
 * stderr in separate requests. The console still prints everything.
 *
 * @example
 * ```ts
 * import { OutputCapture } from "@uetai/uetai/logger";
 * import assert from "node:assert/strict";
 * const sent: string[] = [];
 * const capture = new OutputCapture({ sink: (lines) => { sent.push(...lines); return Promise.resolve(); } });
 * capture.start();
 * console.info("epoch 1 done");
 * await capture.stop();
 * assert.deepEqual(sent, ["epoch 1 done\n"]);
 * ```
 */
export class OutputCapture {
  #sink: OutputSink;
  #intervalMs: number;
  #maxLines: number;
  #maxBuffered: number;
  #mixed: boolean;
  /** Lines of both streams, in the order they were printed. */
  #buffer: Line[] = [];
  #originals = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sending: Promise<void> = Promise.resolve();
  #dropped = 0;

  /**
   * Creates the capture; nothing is captured before `start()`.
   *
   * @param options Sink and batching.
   */
  constructor(options: OutputCaptureOptions) {
    this.#sink = options.sink;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#maxLines = options.maxLines ?? 500;
    this.#maxBuffered = options.maxBufferedLines ?? 10_000;
    this.#mixed = options.mixedStreams ?? false;
  }

  /**
   * Lines lost: dropped because sends kept failing and the buffer was
   * full, or left unsent when the capture stopped.
   */
  get dropped(): number {
    return this.#dropped;
  }

  /** Starts copying console output. */
  start(): void {
    if (this.#originals.size > 0) return;
    const target = console as unknown as Record<
      ConsoleMethod,
      (...args: unknown[]) => void
    >;
    for (const method of [...STDOUT, ...STDERR]) {
      const original = target[method];
      this.#originals.set(method, original);
      const stderr = STDERR.includes(method);
      target[method] = (...args: unknown[]): void => {
        original.apply(console, args);
        this.#capture(format(args), stderr);
      };
    }
    this.#timer = setInterval(() => void this.flush(), this.#intervalMs);
    const timer = this.#timer as unknown as { unref?: () => void };
    if (typeof timer === "number") {
      (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno
        ?.unrefTimer?.(timer);
    } else timer?.unref?.();
  }

  /**
   * Sends what is buffered.
   *
   * @returns When the send finished (failures keep the lines for the next one).
   */
  flush(): Promise<void> {
    this.#sending = this.#sending.then(async () => {
      // Consecutive lines of one stream go in one call, the calls in the
      // order the lines were printed.
      while (this.#buffer.length > 0) {
        const stderr = this.#mixed ? false : this.#buffer[0].stderr;
        let end = 1;
        while (
          end < this.#buffer.length &&
          (this.#mixed || this.#buffer[end].stderr === stderr)
        ) end++;
        const lines = this.#buffer.slice(0, end);
        try {
          await this.#sink(lines.map((line) => line.text), {
            stderr,
            timesMs: lines.map((line) => line.timeMs),
            ...(this.#mixed
              ? { stderrLines: lines.map((line) => line.stderr) }
              : {}),
          });
        } catch {
          return; // Kept for the next flush.
        }
        this.#buffer.splice(0, end);
      }
    });
    return this.#sending;
  }

  /**
   * Restores the console and sends what is left.
   *
   * @returns When the last send finished.
   */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const target = console as unknown as Record<
      ConsoleMethod,
      (...args: unknown[]) => void
    >;
    for (const [method, original] of this.#originals) target[method] = original;
    this.#originals.clear();
    await this.flush();
    // No later flush will come: what could not be sent is counted as lost.
    this.#dropped += this.#buffer.length;
    this.#buffer = [];
  }

  /**
   * Restores the console and sends what is left, waiting at most
   * `timeoutMs` for the send (a logger's `end()` must not hang on it).
   *
   * @param timeoutMs The longest wait.
   * @returns When the last send finished or the time ran out.
   */
  async stopWithin(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.stop(),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  #capture(text: string, stderr: boolean): void {
    const timeMs = Date.now();
    for (const line of text.split("\n")) {
      this.#buffer.push({ text: `${line}\n`, timeMs, stderr });
    }
    const excess = this.#buffer.length - this.#maxBuffered;
    if (excess > 0) {
      this.#buffer.splice(0, excess);
      this.#dropped += excess;
    }
    if (this.#buffer.length >= this.#maxLines) void this.flush();
  }
}
