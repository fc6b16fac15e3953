/**
 * The relay under Deno.
 *
 * Run: `UETAI_RELAY_SIGNING_KEY=... COMET_API_KEY=... COMET_WORKSPACE=...
 * deno run -A examples/relay/deno.ts` (`PORT` defaults to 8787; 0 picks a
 * free port). Configuration: see `app.ts`.
 *
 * @module
 */
import { relayFromEnv } from "./app.ts";

const app = relayFromEnv(Deno.env.toObject());
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8787),
  onListen: ({ hostname, port }) =>
    console.log(`uetai relay listening on http://${hostname}:${port}`),
}, app.fetch);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    const { ok } = await app.close(5000); // forwards what is still queued
    console.log(`uetai relay stopped (${ok ? "all" : "NOT all"} forwarded)`);
    Deno.exit(ok ? 0 : 1);
  });
}
