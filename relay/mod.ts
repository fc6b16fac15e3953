/**
 * The uetai relay, for places that cannot hold an API key (a browser page,
 * a public edge function) or cannot reach the dashboard: a Hono app that
 * keeps the real keys server-side, checks short-lived scoped tokens
 * (HMAC-SHA-256, WebCrypto), de-duplicates by `(runId, seq)`, and forwards
 * events through the same pipeline a logger uses, keeping them while the
 * dashboard is down. Artifacts (models, checkpoints, datasets) go through it
 * too, streamed with size and digest checks, into the token's project of
 * the upstream's artifact store. Clients log with
 * `createLogger({ relay: { url, token } })`.
 *
 * @example
 * ```ts
 * import { createRelay, mintToken } from "@uetai/uetai/relay";
 * import { createLogger } from "@uetai/uetai";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 *
 * const signingKey = "a-relay-signing-key-of-32-bytes-or-more";
 * const upstream = new InMemoryBackend(); // a CometBackend, MlflowBackend, WandbBackend...
 * const relay = createRelay({ upstream, signingKey });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, relay.fetch);
 *
 * const token = await mintToken(signingKey, { project: "web", expiresInMs: 600_000 });
 * const logger = createLogger({
 *   project: "web",
 *   relay: { url: `http://127.0.0.1:${server.addr.port}`, token },
 * });
 * logger.log({ loss: 0.5 }, { step: 1 });
 * assert.ok((await logger.end()).ok);
 * assert.ok(upstream.events.some((e) => e.kind === "metric"));
 * await relay.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */
export {
  type ArtifactOperation,
  type AuditEntry,
  createRelay,
  type RelayApp,
  type RelayCorsOptions,
  type RelayExecutionContext,
  type RelayLimits,
  type RelayOptions,
} from "./server.ts";
export { type RelayEnv, relayFromEnv, upstreamFromEnv } from "./env.ts";
export { FileRelayStore, MemoryRelayStore, type RelayStore } from "./store.ts";
export type { Spool, SpoolRecord } from "../pipeline/spool.ts";
export {
  importSigningKey,
  mintToken,
  type MintTokenOptions,
  secretsEqual,
  type SigningKey,
  type TokenClaims,
  TokenError,
  type TokenProblem,
  type TokenScope,
  verifyToken,
} from "./token.ts";
export {
  type FlushableLogger,
  flushInBackground,
  flushOnPageHide,
  RelayBackend,
  type RelayClientOptions,
  RelayError,
  type RelayIngestAnswer,
  type WaitUntilContext,
} from "./client.ts";
export {
  RelayArtifactStore,
  type RelayArtifactStoreOptions,
} from "./artifact_client.ts";
