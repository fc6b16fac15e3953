// This module is browser compatible.
import type { Backend } from "../pipeline/backend.ts";

/** What a backend factory gets to build its backend from. */
export interface BackendContext {
  /** The environment variables (a snapshot, possibly empty). */
  env: Readonly<Record<string, string | undefined>>;
  /** Root folder of the local store and spools, such as `".uetai"`. */
  dir: string;
  /**
   * The project of the logger the backend is made for, when made by a
   * logger (a backend that must find a run again from events replayed
   * without it, such as W&B, looks there).
   */
  project?: string;
}

/** Makes a backend by name, and recognises its credentials in the environment. */
export interface BackendFactory {
  /** The name used in `backend: "name"` and `UETAI_BACKEND`. */
  name: string;
  /**
   * Whether the environment holds this backend's credentials (such as
   * `COMET_API_KEY`). Factories without it are only used by name.
   */
  detect?: (env: Readonly<Record<string, string | undefined>>) => boolean;
  /** Builds the backend. */
  create: (context: BackendContext) => Backend;
}

const factories = new Map<string, BackendFactory>();

/**
 * Registers a backend so `createLogger({ backend: name })`, `UETAI_BACKEND`
 * and credential detection can build it. Detection follows registration
 * order. Registering a name again replaces the earlier factory.
 *
 * @param factory The factory.
 *
 * @example
 * ```ts
 * import { createLogger, registerBackend } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * registerBackend({ name: "scratch", create: () => new InMemoryBackend({ name: "scratch" }) });
 * const logger = createLogger({ backend: "scratch" });
 * assert.equal(logger.backends[0].name, "scratch");
 * await logger.end();
 * ```
 */
export function registerBackend(factory: BackendFactory): void {
  if (
    typeof factory?.name !== "string" ||
    !/^[a-z][a-z0-9_-]*$/.test(factory.name)
  ) {
    throw new TypeError(
      `Cannot register backend ${
        JSON.stringify(factory?.name)
      }: expected a lower-case name of letters, digits, '_' or '-'`,
    );
  }
  if (typeof factory.create !== "function") {
    throw new TypeError(
      `Cannot register backend '${factory.name}': 'create' must be a function`,
    );
  }
  factories.delete(factory.name);
  factories.set(factory.name, factory);
}

/**
 * Lists the names of the registered backends, in registration order.
 *
 * @returns The names, such as `["local", "memory"]`.
 *
 * @example
 * ```ts
 * import { registeredBackends } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * assert.ok(registeredBackends().includes("local"));
 * ```
 */
export function registeredBackends(): string[] {
  return [...factories.keys()];
}

/**
 * Builds a registered backend by name.
 *
 * @param name The backend's name.
 * @param context The environment and store folder.
 * @returns The backend.
 * @throws {TypeError} When no backend has that name; the message lists the registered ones.
 *
 * @example
 * ```ts
 * import { createBackend } from "@uetai/uetai/logger";
 * import assert from "node:assert/strict";
 * const backend = createBackend("memory", { env: {}, dir: ".uetai" });
 * assert.equal(backend.name, "memory");
 * assert.throws(() => createBackend("nope", { env: {}, dir: ".uetai" }), TypeError);
 * ```
 */
export function createBackend(name: string, context: BackendContext): Backend {
  const factory = factories.get(name);
  if (!factory) {
    throw new TypeError(
      `Cannot create backend ${
        JSON.stringify(name)
      }: no backend of that name is registered (registered: ${
        registeredBackends().join(", ")
      })`,
    );
  }
  return factory.create(context);
}

/**
 * Finds the first registered backend whose credentials are in the environment.
 *
 * @param env The environment.
 * @returns The backend's name, or `undefined`.
 *
 * @example
 * ```ts
 * import { detectBackend, registerBackend } from "@uetai/uetai/logger";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * registerBackend({
 *   name: "example",
 *   detect: (env) => env.EXAMPLE_API_KEY !== undefined,
 *   create: () => new InMemoryBackend({ name: "example" }),
 * });
 * assert.equal(detectBackend({ EXAMPLE_API_KEY: "k" }), "example");
 * assert.equal(detectBackend({}), undefined);
 * ```
 */
export function detectBackend(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  for (const factory of factories.values()) {
    if (factory.detect?.(env)) return factory.name;
  }
  return undefined;
}
