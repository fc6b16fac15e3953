/**
 * The browser demo's server: bundles the page script, serves the page on
 * one port and a uetai relay on another (two origins, so the page's
 * requests use the relay's CORS answers), and hands each page load a
 * short-lived token scoped to one project.
 *
 * Run (from the repository root, after `npm install`):
 *
 * ```sh
 * ./node_modules/.bin/deno run -A examples/browser/serve.ts
 * # or: bun examples/browser/serve.ts
 * # or: node --import tsx examples/browser/serve.ts
 * ```
 *
 * then open http://127.0.0.1:8787/ in a browser. The page logs metric points
 * and an image through the relay (http://127.0.0.1:8788), and leaves the
 * rest to `flushOnPageHide` when its tab is closed.
 *
 * Environment:
 * - `PORT` (default 8787) and `RELAY_PORT` (default 8788); `HOST`
 *   (default 127.0.0.1).
 * - The relay's upstream: `UETAI_BACKEND` (comma-separated backend names,
 *   such as `local` for `./.uetai/`), else the first backend whose
 *   credentials are set (`COMET_API_KEY`, `MLFLOW_TRACKING_URI`,
 *   `WANDB_API_KEY`); with none, an in-memory backend whose counts are
 *   printed after every request.
 * - `UETAI_RELAY_SIGNING_KEY` (at least 32 bytes; default: a random key per
 *   start), `UETAI_PROJECT` (default `browser-demo`), `STEPS` (default 200)
 *   and `INTERVAL_MS` (pause between the page's steps, default 10).
 *
 * The bundle is written to `dist/browser/page.js` (`dist/` is ignored by git).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createBackend, detectBackend } from "../../logger/mod.ts";
import { InMemoryBackend } from "../../backends/memory/mod.ts";
import type { Backend } from "../../pipeline/backend.ts";
import { createRelay, mintToken } from "../../relay/mod.ts";

const env = process.env;
const root = fileURLToPath(new URL("../../", import.meta.url));
const host = env.HOST ?? "127.0.0.1";
const pagePort = Number(env.PORT ?? 8787);
const relayPort = Number(env.RELAY_PORT ?? 8788);
const project = env.UETAI_PROJECT ?? "browser-demo";
const pageOrigins = [`http://${host}:${pagePort}`];
if (host === "127.0.0.1") pageOrigins.push(`http://localhost:${pagePort}`);
const relayUrl = `http://${host}:${relayPort}`;

// 1. The page script, bundled for the browser with Deno's bundler.
const bundlePath = `${root}dist/browser/page.js`;
mkdirSync(`${root}dist/browser`, { recursive: true });
execFileSync(
  `${root}node_modules/.bin/deno`,
  [
    "bundle",
    "--platform=browser",
    "-o",
    bundlePath,
    `${root}examples/browser/page.ts`,
  ],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...env, NO_COLOR: "1", RUST_BACKTRACE: "0" },
  },
);
const script = readFileSync(bundlePath, "utf8");
const html = readFileSync(`${root}examples/browser/index.html`, "utf8");

// 2. The relay's upstream: from the environment, else in memory.
function upstreamFromEnv(): { backends: Backend[]; memory?: InMemoryBackend } {
  const named = (env.UETAI_BACKEND ?? "").split(",").map((name) => name.trim())
    .filter((name) => name !== "");
  const detected = detectBackend(env);
  const names = named.length > 0
    ? named
    : detected !== undefined && detected !== "relay"
    ? [detected]
    : [];
  if (names.length > 0) {
    const dir = env.UETAI_DIR ?? ".uetai";
    return {
      backends: names.map((name) => createBackend(name, { env, dir, project })),
    };
  }
  const memory = new InMemoryBackend();
  return { backends: [memory], memory };
}

const { backends, memory } = upstreamFromEnv();
const signingKey = env.UETAI_RELAY_SIGNING_KEY ??
  [...crypto.getRandomValues(new Uint8Array(32))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");

const relay = createRelay({
  upstream: backends,
  signingKey,
  cors: { origins: pageOrigins },
  audit: (entry) => {
    if (entry.action !== "events") return;
    let line =
      `relay: POST /v1/events from ${entry.subject} -> ${entry.status}, ${
        entry.accepted ?? 0
      } new, ${entry.duplicates ?? 0} duplicates, ${entry.bytes ?? 0} bytes`;
    if (entry.reason) line += ` (${entry.reason})`;
    console.log(line);
    if (memory) {
      const count = (kind: string): number =>
        memory.events.filter((event) => event.kind === kind).length;
      console.log(
        `  memory upstream: ${memory.events.length} events, ${
          count("metric")
        } metric points, ${count("media")} media, ${
          new Set(memory.events.map((event) => event.runId)).size
        } runs`,
      );
    }
  },
});

// 3. The page, on its own origin; config.json mints a token per load.
const site = new Hono();
site.get("/", (c) => c.html(html));
site.get("/index.html", (c) => c.html(html));
site.get(
  "/page.js",
  (c) =>
    c.body(script, 200, { "content-type": "text/javascript; charset=utf-8" }),
);
site.get("/config.json", async (c) => {
  const token = await mintToken(signingKey, {
    project,
    subject: "browser-demo",
    expiresInMs: 10 * 60_000,
    maxPoints: 100_000,
  });
  c.header("cache-control", "no-store");
  return c.json({
    relay: relayUrl,
    token,
    project,
    steps: Number(env.STEPS ?? 200),
    intervalMs: Number(env.INTERVAL_MS ?? 10),
  });
});

const relayServer = serve({
  fetch: relay.fetch,
  hostname: host,
  port: relayPort,
});
const pageServer = serve({ fetch: site.fetch, hostname: host, port: pagePort });
console.log(
  `uetai browser demo: open http://${host}:${pagePort}/ (relay at ${relayUrl}, upstream: ${
    backends.map((backend) => backend.name).join(", ")
  })`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const server of [pageServer, relayServer]) {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }
    pageServer.close();
    relayServer.close(async () => {
      const report = await relay.close(5000);
      console.log(
        `uetai browser demo stopped (${
          report.ok ? "all" : "NOT all"
        } forwarded upstream)`,
      );
      process.exit(report.ok ? 0 : 1);
    });
  });
}
