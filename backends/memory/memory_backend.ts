// This module is browser compatible.
import type { TrackingEvent } from "../../event/types.ts";
import { MemoryArtifactStore } from "./memory_artifacts.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../../pipeline/backend.ts";

/** Options of {@linkcode InMemoryBackend}. */
export interface InMemoryBackendOptions {
  /**
   * The backend's name in reports and stats.
   * @default {"memory"}
   */
  name?: string;
  /**
   * What one batch may carry.
   * @default {{ maxEventsPerBatch: 1000, maxBatchBytes: 1048576 }}
   */
  limits?: BackendLimits;
  /**
   * Decides the outcome of each batch before it is stored; only batches
   * answered `success` are stored. Tests use it to stage outages.
   */
  respond?: (
    batch: readonly TrackingEvent[],
    attempt: number,
  ) => SendResult | Promise<SendResult>;
}

/**
 * A backend that keeps every accepted event in memory, for tests, examples
 * and runtimes with nothing else. Like OpenTelemetry's in-memory exporter,
 * it is a first-class test double: it records batches as they arrived.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const backend = new InMemoryBackend();
 * const logger = createLogger({ backend });
 * logger.log({ loss: 0.25 }, { step: 1 });
 * await logger.end();
 * assert.deepEqual(backend.metrics("loss"), [{ step: 1, value: 0.25 }]);
 * ```
 */
export class InMemoryBackend implements Backend {
  /** The backend's name. */
  readonly name: string;
  /** What one batch may carry. */
  readonly limits: BackendLimits;
  #respond: InMemoryBackendOptions["respond"];
  #events: TrackingEvent[] = [];
  #batches: TrackingEvent[][] = [];
  #attempts = 0;
  #closed = false;
  #artifacts = new Map<string, MemoryArtifactStore>();

  /**
   * Creates an empty in-memory backend.
   *
   * @param options Name, limits and an optional outcome hook.
   */
  constructor(options: InMemoryBackendOptions = {}) {
    this.name = options.name ?? "memory";
    this.limits = options.limits ??
      { maxEventsPerBatch: 1000, maxBatchBytes: 1024 * 1024 };
    this.#respond = options.respond;
  }

  /** Every event accepted, in arrival order. */
  get events(): readonly TrackingEvent[] {
    return this.#events;
  }

  /** Every batch accepted, as it arrived. */
  get batches(): readonly (readonly TrackingEvent[])[] {
    return this.#batches;
  }

  /** How many times `send()` was called, including failed attempts. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The points of one metric, in arrival order.
   *
   * @param key The metric name.
   * @returns `{ step, value }` for each point.
   */
  metrics(key: string): { step: number; value: number }[] {
    const points: { step: number; value: number }[] = [];
    for (const event of this.#events) {
      if (event.kind === "metric" && event.key === key) {
        points.push({ step: event.step, value: event.value });
      }
    }
    return points;
  }

  /**
   * Stores the batch, unless `respond` says otherwise.
   *
   * @param batch The events.
   * @returns The outcome.
   */
  async send(batch: readonly TrackingEvent[]): Promise<SendResult> {
    this.#attempts++;
    const result = this.#respond
      ? await this.#respond(batch, this.#attempts)
      : { status: "success" as const };
    if (result.status === "success") {
      this.#batches.push([...batch]);
      for (const event of batch) this.#events.push(event);
    }
    return result;
  }

  /**
   * The project's artifacts, kept in memory.
   *
   * @param project The project.
   * @returns Its artifact store.
   */
  artifacts(project: string): MemoryArtifactStore {
    let store = this.#artifacts.get(project);
    if (!store) {
      store = new MemoryArtifactStore(this.name);
      this.#artifacts.set(project, store);
    }
    return store;
  }

  /** Marks the backend closed; the events stay readable. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
