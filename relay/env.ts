// The relay from environment configuration (variables or worker bindings):
// what `uetai relay` and the examples for Deno, Bun, Node and workers serve.
import "../backends/builtin.ts";
import { createBackend, detectBackend } from "../logger/registry.ts";
import type { Backend } from "../pipeline/backend.ts";
import { createRelay, type RelayApp, type RelayOptions } from "./server.ts";
import { FileRelayStore } from "./store.ts";

/** Environment variables or worker bindings, by name. */
export type RelayEnv = Readonly<Record<string, string | undefined>>;

/**
 * The upstream backends named by `UETAI_BACKEND`, else the one whose
 * credentials are in `env` (a relay forwards to a relay only by name).
 *
 * @param env The environment.
 * @param dir Root folder for backends that keep files (`UETAI_DIR`, else `.uetai`).
 * @returns One backend per name.
 * @throws {TypeError} When no upstream is configured, or one cannot be made
 * (the message names it and why).
 *
 * @example
 * ```ts
 * import { upstreamFromEnv } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * assert.throws(() => upstreamFromEnv({}), /no upstream/);
 * const [memory] = upstreamFromEnv({ UETAI_BACKEND: "memory" });
 * assert.equal(memory.name, "memory");
 * ```
 */
export function upstreamFromEnv(
  env: RelayEnv,
  dir: string = env.UETAI_DIR ?? ".uetai",
): Backend[] {
  const named = (env.UETAI_BACKEND ?? "").split(",").map((name) => name.trim())
    .filter((name) => name !== "");
  const detected = detectBackend(env);
  const names = named.length > 0
    ? named
    : detected !== undefined && detected !== "relay"
    ? [detected]
    : [];
  if (names.length === 0) {
    throw new TypeError(
      "Cannot start the relay: no upstream. Set UETAI_BACKEND, or the credentials of one backend (COMET_API_KEY, MLFLOW_TRACKING_URI, WANDB_API_KEY)",
    );
  }
  const made: Backend[] = [];
  for (const name of names) {
    try {
      made.push(createBackend(name, { env, dir }));
    } catch (error) {
      for (const backend of made) void backend.close().catch(() => {});
      throw new TypeError(
        `Cannot start the relay: upstream '${name}': ${
          (error as Error)?.message ?? error
        }`,
      );
    }
  }
  return made;
}

/**
 * Builds the relay from the environment: `UETAI_RELAY_SIGNING_KEY`
 * (required), `UETAI_RELAY_ADMIN_KEY`, `UETAI_RELAY_ORIGINS` (comma-separated
 * CORS origins), `UETAI_RELAY_STORE_DIR` (a `FileRelayStore` there), and the
 * upstream of {@linkcode upstreamFromEnv}.
 *
 * @param env Environment variables (`process.env`, `Deno.env.toObject()`) or worker bindings.
 * @param overrides Options that win over the environment (such as
 * `forward: { waitMs: 0 }` in a worker), and `dir` for the upstream.
 * @returns The relay app; serve `app.fetch`.
 * @throws {TypeError} When the signing key or the upstream is missing or invalid.
 *
 * @example
 * ```ts
 * import { relayFromEnv } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * assert.throws(() => relayFromEnv({ UETAI_BACKEND: "memory" }), /UETAI_RELAY_SIGNING_KEY/);
 * const relay = relayFromEnv({
 *   UETAI_BACKEND: "memory",
 *   UETAI_RELAY_SIGNING_KEY: "a-relay-signing-key-of-32-bytes-or-more",
 * });
 * assert.equal((await relay.request("/v1/health")).status, 200);
 * await relay.close();
 * ```
 */
export function relayFromEnv(
  env: RelayEnv,
  overrides: Partial<RelayOptions> & { dir?: string } = {},
): RelayApp {
  const signingKey = env.UETAI_RELAY_SIGNING_KEY;
  if (!signingKey) {
    throw new TypeError(
      "Cannot start the relay: set UETAI_RELAY_SIGNING_KEY (at least 32 bytes)",
    );
  }
  const { dir, ...options } = overrides;
  const origins = (env.UETAI_RELAY_ORIGINS ?? "").split(",")
    .map((origin) => origin.trim()).filter((origin) => origin !== "");
  const upstream = options.upstream ?? upstreamFromEnv(env, dir);
  try {
    return createRelay({
      upstream,
      signingKey,
      adminKey: env.UETAI_RELAY_ADMIN_KEY || undefined,
      cors: origins.length > 0 ? { origins } : undefined,
      store: env.UETAI_RELAY_STORE_DIR
        ? new FileRelayStore({ dir: env.UETAI_RELAY_STORE_DIR })
        : undefined,
      ...options,
    });
  } catch (error) {
    if (options.upstream === undefined) {
      for (const backend of upstream as Backend[]) {
        void backend.close().catch(() => {});
      }
    }
    throw error;
  }
}
