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
export {
  type RelayEnv,
  relayFromEnv,
  upstreamFromEnv,
} from "../../relay/mod.ts";
