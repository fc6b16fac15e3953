// This module is browser compatible.

/**
 * An in-memory backend for tests, examples and runtimes with no other.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const backend = new InMemoryBackend();
 * const logger = createLogger({ backend });
 * logger.log({ accuracy: 0.5 });
 * await logger.end();
 * assert.deepEqual(backend.events.map((e) => e.kind), ["run_start", "metric", "run_end"]);
 * ```
 *
 * @module
 */
export {
  InMemoryBackend,
  type InMemoryBackendOptions,
} from "./memory_backend.ts";
export { MemoryArtifactStore } from "./memory_artifacts.ts";
