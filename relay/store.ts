// This module is browser compatible.
//
// What a relay keeps between requests: which project owns each run, which
// `(runId, seq)` it has admitted (so a replayed batch changes nothing), and
// the queue of events not yet forwarded upstream (store-and-forward). The
// interface is small so a worker can back it with its platform's storage.
import { FileSpool } from "../pipeline/file_spool.ts";
import { MemorySpool } from "../pipeline/memory_spool.ts";
import type { Spool } from "../pipeline/spool.ts";
import {
  type FileSystemLike,
  joinPath,
  requireFileSystem,
} from "../runtime/fs.ts";

/**
 * Where a relay keeps its state. Implement it over a platform store (a
 * Durable Object, a database) to share state between worker instances.
 */
export interface RelayStore {
  /**
   * The project that owns a run, or `undefined` when no token started it.
   *
   * @param runId The run.
   */
  runOwner(runId: string): Promise<string | undefined>;
  /**
   * Gives a run to a project unless another project has it.
   *
   * @param runId The run.
   * @param project The project claiming it.
   * @returns The run's owner afterwards (the earlier one, if any).
   */
  claimRun(runId: string, project: string): Promise<string>;
  /**
   * Records the sequence numbers of a run as seen.
   *
   * @param runId The run.
   * @param seqs Sequence numbers of a batch.
   * @returns Those not seen before, in the order given.
   */
  admit(runId: string, seqs: readonly number[]): Promise<number[]>;
  /**
   * The queue of events waiting for the upstream.
   *
   * @param lane The upstream backend's lane name.
   */
  spool(lane: string): Spool;
  /**
   * Most bytes the queue holds, when bounded: the relay refuses (503)
   * before admitting what would not fit.
   */
  readonly maxSpoolBytes?: number;
}

/** What is seen of a run: every seq below `below`, and those in `above`. */
interface Seen {
  below: number;
  above: Set<number>;
}

function admitInto(seen: Seen, seqs: readonly number[]): number[] {
  const fresh: number[] = [];
  for (const seq of seqs) {
    if (seq < seen.below || seen.above.has(seq)) continue;
    seen.above.add(seq);
    fresh.push(seq);
  }
  while (seen.above.has(seen.below)) seen.above.delete(seen.below++);
  return fresh;
}

/**
 * A relay store in memory: state lasts as long as the process (or worker
 * instance), and events not yet forwarded are lost with it.
 *
 * @example
 * ```ts
 * import { MemoryRelayStore } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * const store = new MemoryRelayStore();
 * assert.deepEqual(await store.admit("r", [0, 1, 2]), [0, 1, 2]);
 * assert.deepEqual(await store.admit("r", [1, 2, 3]), [3]);
 * ```
 */
export class MemoryRelayStore implements RelayStore {
  #runs = new Map<string, string>();
  #seen = new Map<string, Seen>();
  #maxSpoolBytes: number;

  /** Most bytes the queue holds (the relay refuses past it). */
  get maxSpoolBytes(): number {
    return this.#maxSpoolBytes;
  }

  /**
   * Creates the store.
   *
   * @param options `maxSpoolBytes`: the most bytes queued for the upstream
   * (default 64 MiB); past it, events are refused.
   */
  constructor(options: { maxSpoolBytes?: number } = {}) {
    this.#maxSpoolBytes = options.maxSpoolBytes ?? 64 * 1024 * 1024;
  }

  /**
   * The project that owns a run.
   *
   * @param runId The run.
   * @returns The project, or `undefined` when no token started it.
   */
  runOwner(runId: string): Promise<string | undefined> {
    return Promise.resolve(this.#runs.get(runId));
  }

  /**
   * Gives a run to a project unless another project has it.
   *
   * @param runId The run.
   * @param project The project claiming it.
   * @returns The run's owner afterwards.
   */
  claimRun(runId: string, project: string): Promise<string> {
    if (!this.#runs.has(runId)) this.#runs.set(runId, project);
    return Promise.resolve(this.#runs.get(runId)!);
  }

  /**
   * Records sequence numbers of a run as seen.
   *
   * @param runId The run.
   * @param seqs Sequence numbers of a batch.
   * @returns Those not seen before, in the order given.
   */
  admit(runId: string, seqs: readonly number[]): Promise<number[]> {
    let seen = this.#seen.get(runId);
    if (!seen) {
      seen = { below: 0, above: new Set() };
      this.#seen.set(runId, seen);
    }
    return Promise.resolve(admitInto(seen, seqs));
  }

  /**
   * The queue of events waiting for the upstream.
   *
   * @param lane The upstream backend's lane name.
   * @returns The spool.
   */
  spool(_lane: string): Spool {
    return new MemorySpool({ maxBytes: this.#maxSpoolBytes });
  }
}

/**
 * A relay store in a folder: run owners and admitted sequence numbers in
 * `state.json` (rewritten whole, through a temporary file and a rename, on
 * every change), and the upstream queue in a file spool, so events the
 * relay accepted survive a restart and are forwarded then.
 *
 * @example
 * ```ts
 * import { FileRelayStore } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const store = new FileRelayStore({ dir });
 * assert.equal(await store.claimRun("r", "web"), "web");
 * assert.equal(await new FileRelayStore({ dir }).runOwner("r"), "web");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileRelayStore implements RelayStore {
  #dir: string;
  #fs: FileSystemLike;
  #state: Promise<{ runs: Map<string, string>; seen: Map<string, Seen> }>;
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Opens (or creates) the store.
   *
   * @param options The folder, and the filesystem when not the runtime's.
   * @throws {UnsupportedRuntimeError} Where there is no filesystem.
   */
  constructor(options: { dir: string; fs?: FileSystemLike }) {
    this.#fs = requireFileSystem(
      options.fs,
      `keep relay state in '${options.dir}' (use a MemoryRelayStore)`,
    );
    this.#dir = options.dir;
    this.#state = this.#load();
  }

  async #load(): Promise<
    { runs: Map<string, string>; seen: Map<string, Seen> }
  > {
    await this.#fs.mkdir(this.#dir, { recursive: true });
    let text: string | undefined;
    try {
      text = await this.#fs.readFile(joinPath(this.#dir, "state.json"), "utf8");
    } catch {
      text = undefined;
    }
    const runs = new Map<string, string>();
    const seen = new Map<string, Seen>();
    if (text !== undefined) {
      const json = JSON.parse(text) as {
        runs?: Record<string, string>;
        seen?: Record<string, { below: number; above: number[] }>;
      };
      for (const [run, project] of Object.entries(json.runs ?? {})) {
        runs.set(run, project);
      }
      for (const [run, s] of Object.entries(json.seen ?? {})) {
        seen.set(run, { below: s.below, above: new Set(s.above) });
      }
    }
    return { runs, seen };
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #save(
    state: { runs: Map<string, string>; seen: Map<string, Seen> },
  ): Promise<void> {
    const seen: Record<string, { below: number; above: number[] }> = {};
    for (const [run, s] of state.seen) {
      seen[run] = { below: s.below, above: [...s.above] };
    }
    const path = joinPath(this.#dir, "state.json");
    const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await this.#fs.writeFile(
      temporary,
      JSON.stringify({ runs: Object.fromEntries(state.runs), seen }),
    );
    await this.#fs.rename(temporary, path);
  }

  /**
   * The project that owns a run.
   *
   * @param runId The run.
   * @returns The project, or `undefined` when no token started it.
   */
  async runOwner(runId: string): Promise<string | undefined> {
    return (await this.#state).runs.get(runId);
  }

  /**
   * Gives a run to a project unless another project has it.
   *
   * @param runId The run.
   * @param project The project claiming it.
   * @returns The run's owner afterwards.
   */
  claimRun(runId: string, project: string): Promise<string> {
    return this.#serial(async () => {
      const state = await this.#state;
      if (!state.runs.has(runId)) {
        state.runs.set(runId, project);
        try {
          await this.#save(state);
        } catch (error) {
          state.runs.delete(runId);
          throw error;
        }
      }
      return state.runs.get(runId)!;
    });
  }

  /**
   * Records sequence numbers of a run as seen.
   *
   * @param runId The run.
   * @param seqs Sequence numbers of a batch.
   * @returns Those not seen before, in the order given.
   */
  admit(runId: string, seqs: readonly number[]): Promise<number[]> {
    return this.#serial(async () => {
      const state = await this.#state;
      const before = state.seen.get(runId);
      // Admitted into a copy, kept only once saved: a failed save leaves
      // the seqs unseen, so the client's retry is not taken for a replay.
      const seen: Seen = before
        ? { below: before.below, above: new Set(before.above) }
        : { below: 0, above: new Set() };
      const fresh = admitInto(seen, seqs);
      if (fresh.length === 0) return fresh;
      state.seen.set(runId, seen);
      try {
        await this.#save(state);
      } catch (error) {
        if (before) state.seen.set(runId, before);
        else state.seen.delete(runId);
        throw error;
      }
      return fresh;
    });
  }

  /**
   * The queue of events waiting for the upstream.
   *
   * @param lane The upstream backend's lane name.
   * @returns The spool.
   */
  spool(lane: string): Spool {
    return new FileSpool({
      dir: joinPath(this.#dir, "spool"),
      lane,
      fs: this.#fs,
    });
  }
}
