/**
 * The relay under Bun.
 *
 * Run: `UETAI_RELAY_SIGNING_KEY=... COMET_API_KEY=... COMET_WORKSPACE=...
 * bun examples/relay/bun.ts` (`PORT` defaults to 8787; 0 picks a free
 * port). Configuration: see `app.ts`.
 *
 * @module
 */
import process from "node:process";
import { relayFromEnv } from "./app.ts";

/** The part of Bun's global this entry uses (so `deno check` passes). */
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { url: URL; stop(closeActiveConnections?: boolean): Promise<void> };
};

const app = relayFromEnv(process.env);
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
  fetch: (request) => app.fetch(request),
});
console.log(`uetai relay listening on ${server.url.origin}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await server.stop();
    const { ok } = await app.close(5000); // forwards what is still queued
    console.log(`uetai relay stopped (${ok ? "all" : "NOT all"} forwarded)`);
    process.exit(ok ? 0 : 1);
  });
}
