/**
 * The relay under Node, with `@hono/node-server`.
 *
 * Run: `UETAI_RELAY_SIGNING_KEY=... COMET_API_KEY=... COMET_WORKSPACE=...
 * node --import tsx examples/relay/node.ts` (`PORT` defaults to 8787; 0
 * picks a free port). Configuration: see `app.ts`.
 *
 * @module
 */
import process from "node:process";
import { serve } from "@hono/node-server";
import { relayFromEnv } from "./app.ts";

const app = relayFromEnv(process.env);
const server = serve(
  {
    fetch: app.fetch,
    hostname: "127.0.0.1",
    port: Number(process.env.PORT ?? 8787),
  },
  (info) =>
    console.log(`uetai relay listening on http://${info.address}:${info.port}`),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(async () => {
      const { ok } = await app.close(5000); // forwards what is still queued
      console.log(`uetai relay stopped (${ok ? "all" : "NOT all"} forwarded)`);
      process.exit(ok ? 0 : 1);
    });
  });
}
