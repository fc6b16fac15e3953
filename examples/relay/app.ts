/**
 * A uetai relay configured from environment variables (or worker bindings),
 * shared by the per-runtime entries next to it (`deno.ts`, `bun.ts`,
 * `node.ts`, `worker.ts`).
 *
 * - `UETAI_RELAY_SIGNING_KEY` (required, at least 32 bytes): the key tokens
 *   are signed with; mint them with `mintToken` from `@uetai/uetai/relay`.
 * - `UETAI_RELAY_ADMIN_KEY` (optional, at least 16 characters): enables
 *   `POST /v1/admin/tokens` and `GET /v1/admin/audit`.
 * - `UETAI_RELAY_ORIGINS` (optional): comma-separated browser origins
 *   allowed by CORS.
 * - `UETAI_RELAY_STORE_DIR` (optional, not in workers): keep the relay's
 *   queue and run owners in files there, to survive restarts.
 * - The upstream: `UETAI_BACKEND` (comma-separated backend names), else the
 *   first registered backend whose credentials are set: Comet
 *   (`COMET_API_KEY`, `COMET_WORKSPACE`, `COMET_URL_OVERRIDE`), MLflow
 *   (`MLFLOW_TRACKING_URI`), W&B (`WANDB_API_KEY`).
 *
 * @module
 */
import { createBackend, detectBackend } from "../../logger/mod.ts";
import {
  createRelay,
  FileRelayStore,
  type RelayApp,
  type RelayOptions,
} from "../../relay/mod.ts";
import type { Backend } from "../../pipeline/backend.ts";

/** Environment variables or worker bindings, by name. */
export type RelayEnv = Readonly<Record<string, string | undefined>>;

/**
 * The upstream backends named by `UETAI_BACKEND`, else detected from the
 * credentials in `env`.
 *
 * @param env The environment.
 * @returns One backend per name.
 * @throws {TypeError} When no upstream is configured.
 */
export function upstreamFromEnv(env: RelayEnv): Backend[] {
  const named = (env.UETAI_BACKEND ?? "").split(",").map((name) => name.trim())
    .filter((name) => name !== "");
  // A relay that forwards to a relay is possible by name, never by accident.
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
  const dir = env.UETAI_DIR ?? ".uetai";
  return names.map((name) => createBackend(name, { env, dir }));
}

/**
 * Builds the relay from the environment.
 *
 * @param env Environment variables (`process.env`, `Deno.env.toObject()`) or worker bindings.
 * @param overrides Options that win over the environment (such as `forward: { waitMs: 0 }` in a worker).
 * @returns The relay app; serve `app.fetch`.
 * @throws {TypeError} When the signing key or the upstream is missing or invalid.
 */
export function relayFromEnv(
  env: RelayEnv,
  overrides: Partial<RelayOptions> = {},
): RelayApp {
  const signingKey = env.UETAI_RELAY_SIGNING_KEY;
  if (!signingKey) {
    throw new TypeError(
      "Cannot start the relay: set UETAI_RELAY_SIGNING_KEY (at least 32 bytes)",
    );
  }
  const origins = (env.UETAI_RELAY_ORIGINS ?? "").split(",")
    .map((origin) => origin.trim()).filter((origin) => origin !== "");
  return createRelay({
    upstream: upstreamFromEnv(env),
    signingKey,
    adminKey: env.UETAI_RELAY_ADMIN_KEY || undefined,
    cors: origins.length > 0 ? { origins } : undefined,
    store: env.UETAI_RELAY_STORE_DIR
      ? new FileRelayStore({ dir: env.UETAI_RELAY_STORE_DIR })
      : undefined,
    ...overrides,
  });
}
