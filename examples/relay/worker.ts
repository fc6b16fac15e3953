/**
 * The relay as a Cloudflare Worker (or any workerd host). Secrets are
 * bindings: `wrangler secret put UETAI_RELAY_SIGNING_KEY`, `COMET_API_KEY`,
 * ...; plain vars `COMET_WORKSPACE`, `UETAI_RELAY_ORIGINS`. It answers at
 * once (`202 queued`) and forwards in `ctx.waitUntil`. The relay's state
 * (run owners, de-duplication) lives in the isolate's memory, so it is per
 * instance: give it a `RelayStore` over a Durable Object to share it.
 *
 * Run: `deno bundle --platform=browser -o dist/relay.js examples/relay/worker.ts`
 * (or `bun build --target=browser --format=esm`), then `wrangler deploy`
 * the bundle, or load it in Miniflare (`modules: true`), as
 * `tests/workerd.test.ts` does. No `nodejs_compat` needed.
 *
 * @module
 */
import { type RelayEnv, relayFromEnv } from "./app.ts";
import type { RelayApp } from "../../relay/mod.ts";
import type { ExecutionContext } from "hono";

let relay: RelayApp | undefined;

export default {
  fetch(
    request: Request,
    env: RelayEnv,
    ctx: ExecutionContext,
  ): Response | Promise<Response> {
    relay ??= relayFromEnv(env, { forward: { waitMs: 0 } });
    return relay.fetch(request, env, ctx);
  },
};
