// A real browser page logs through the relay: the demo page
// (examples/browser/page.ts, bundled with `deno bundle --platform=browser`)
// is served on one origin and the relay (createRelay, upstream an
// InMemoryBackend) on another, so every request is cross-origin and needs
// the relay's CORS answers. Headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) opens the page, which logs 200 metric points
// and one image with `flushIntervalMs` so long that nothing is sent while it
// is open; the page is then closed at once, without `logger.end()`. All of
// it must reach the upstream through `flushOnPageHide` and keepalive
// fetches: every (key, step) once, and the image as a decodable PNG, the
// POST arriving after Chromium reported the page gone (the relay answers
// with a network-like latency, so the preflight's round trip ends after it).
//
// The page's browser context outlives the page, as when one tab of a window
// is closed. Closing the context with the page (`browser.newPage()`, or the
// last private window) drops a keepalive POST whose preflight is still
// under way: see tests/fixtures/browser_keepalive_probe.ts.
//
// Chromium is required: the test fails (it does not skip) when it is absent.
// tests/run_all.sh installs it with apt-get when it can.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { serve } from "@hono/node-server";
import { type Browser, chromium, type Page } from "playwright-core";
import { decode } from "fast-png";
import { createRelay, mintToken, type RelayApp } from "../relay/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import type { MediaEvent, MetricEvent } from "../event/types.ts";
import {
  IMAGE_KEY,
  METRIC_KEYS,
  patternImage,
} from "../examples/browser/pattern.ts";
import { DENO_BIN, ROOT } from "./helpers/runtime.ts";

const CHROMIUM = process.env.UETAI_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const KEY = "browser-test-signing-key-0123456789abcdef";
const PROJECT = "browser-test";
/**
 * Steps the page logs (two points each). 100 fits one keepalive batch;
 * `UETAI_BROWSER_STEPS=300` shows what happens past 60 KiB at close.
 */
const STEPS = Number(process.env.UETAI_BROWSER_STEPS ?? 100);
const IMAGE_SIZE = 16;
/**
 * Latency added to every relay request, as for a relay across a real
 * network: the POST then leaves the browser only after the preflight's
 * round trip, when the page is already gone.
 */
const RELAY_LATENCY_MS = 100;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** One request the relay answered, as the test saw it. */
interface Seen {
  method: string;
  path: string;
  /** When the request reached the relay (`Date.now()`). */
  arrivedAtMs: number;
  origin: string | null;
  status: number;
  allowOrigin: string | null;
  allowHeaders: string | null;
  allowMethods: string | null;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

function bundle(entry: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      DENO_BIN,
      ["bundle", "--platform=browser", "-o", out, entry],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1", RUST_BACKTRACE: "0" },
        timeout: 120_000,
      },
      (error, _stdout, stderr) =>
        error
          ? reject(new Error(`deno bundle failed: ${error.message}\n${stderr}`))
          : resolve(),
    );
  });
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describeState: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      assert.fail(
        `Timed out after ${timeoutMs} ms waiting for ${what}: ${describeState()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("browser page through the relay (headless Chromium)", () => {
  let outDir = "";
  let bundlePath = "";
  let pageServer: Server | undefined;
  let relayServer: Server | undefined;
  let relay: RelayApp | undefined;
  let browser: Browser | undefined;
  const upstream = new InMemoryBackend();
  const seen: Seen[] = [];
  let pageOrigin = "";
  let relayUrl = "";

  before(async () => {
    outDir = await mkdtemp(join(tmpdir(), "uetai-browser-test-"));
    bundlePath = join(outDir, "page.js");
    await bundle("examples/browser/page.ts", bundlePath);
    const html = await readFile(
      join(ROOT, "examples/browser/index.html"),
      "utf8",
    );
    const script = await readFile(bundlePath, "utf8");

    pageServer = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://x").pathname;
      if (path === "/" || path === "/index.html") {
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        response.end(html);
      } else if (path === "/page.js") {
        response.writeHead(200, {
          "content-type": "text/javascript; charset=utf-8",
        });
        response.end(script);
      } else {
        response.writeHead(404).end();
      }
    });
    pageOrigin = await listen(pageServer);

    relay = createRelay({
      upstream,
      signingKey: KEY,
      cors: { origins: [pageOrigin] },
      onUpstreamError: (error) => console.warn(`relay: ${error.message}`),
    });
    const app = relay;
    relayServer = serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request: Request) => {
        const arrivedAtMs = Date.now();
        await new Promise((resolve) => setTimeout(resolve, RELAY_LATENCY_MS));
        const response = await app.fetch(request);
        seen.push({
          method: request.method,
          path: new URL(request.url).pathname,
          arrivedAtMs,
          origin: request.headers.get("origin"),
          status: response.status,
          allowOrigin: response.headers.get("access-control-allow-origin"),
          allowHeaders: response.headers.get("access-control-allow-headers"),
          allowMethods: response.headers.get("access-control-allow-methods"),
        });
        return response;
      },
    }) as unknown as Server;
    await new Promise((resolve) => relayServer!.once("listening", resolve));
    relayUrl = `http://127.0.0.1:${
      (relayServer.address() as AddressInfo).port
    }`;
    assert.notEqual(
      new URL(pageOrigin).origin,
      new URL(relayUrl).origin,
      "page and relay must be on different origins",
    );
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await relay?.close(2000);
    await closeServer(relayServer);
    await closeServer(pageServer);
    if (bundlePath) await rm(bundlePath, { force: true });
  });

  it(
    "a page closed right after logging (no logger.end()) delivers every point and the image",
    { timeout: 90_000 },
    async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `Chromium is required for this test and is missing at ${CHROMIUM}: ` +
          "install it with `apt-get install -y chromium` (tests/run_all.sh does so as root), " +
          "or point UETAI_CHROMIUM at a Chromium binary",
      );
      const started = Date.now();
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      });
      const context = await browser.newContext({
        viewport: { width: 900, height: 520 },
      });
      const page: Page = await context.newPage();
      const pageLog: string[] = [];
      page.on("console", (message) => {
        pageLog.push(`console.${message.type()}: ${message.text()}`);
      });
      page.on("pageerror", (error) => {
        pageLog.push(`pageerror: ${error.message}`);
      });
      let pageGoneAtMs = Infinity;
      page.on("close", () => {
        pageGoneAtMs = Date.now();
      });

      const token = await mintToken(KEY, {
        project: PROJECT,
        expiresInMs: 5 * 60_000,
        subject: "browser-test",
      });
      const query = new URLSearchParams({
        relay: relayUrl,
        token,
        project: PROJECT,
        steps: String(STEPS),
        imageSize: String(IMAGE_SIZE),
        // Nothing is sent while the page is open: everything goes out on
        // pagehide / visibilitychange, through keepalive fetches.
        flushIntervalMs: "600000",
      });
      await page.goto(`${pageOrigin}/?${query}`);
      // String expressions, not functions: a transpiler (tsx, bun) may
      // rewrite a function's source with helpers the page does not have.
      await page.waitForFunction(
        `["logged", "error"].includes(document.getElementById("status")?.dataset.state)`,
        undefined,
        { timeout: 20_000 },
      );
      const status = await page.evaluate(
        `({ state: document.getElementById("status").dataset.state, text: document.getElementById("status").textContent, demo: globalThis.uetaiDemo })`,
      ) as {
        state: string;
        text: string;
        demo: {
          runId: string;
          points: number;
          images: number;
          errors: string[];
        };
      };
      assert.equal(
        status.state,
        "logged",
        `${status.text}\n${pageLog.join("\n")}`,
      );
      assert.equal(status.demo.points, STEPS * METRIC_KEYS.length);
      assert.equal(status.demo.images, 1);
      const loggedAt = Date.now();

      const screenshot = join(outDir, "browser-page.png");
      await page.screenshot({ path: screenshot });
      console.log(`browser test: screenshot of the page at ${screenshot}`);

      // Still nothing sent: what follows proves the close path alone.
      assert.deepEqual(
        seen.filter((r) => r.method === "POST"),
        [],
        "the page sent events before it was closed (flushIntervalMs was not honoured)",
      );
      await page.close({ runBeforeUnload: true });
      const closedAt = Date.now();

      const expected = new Set<string>();
      for (let step = 0; step < STEPS; step++) {
        for (const key of METRIC_KEYS) expected.add(`${key}@${step}`);
      }
      const metrics = (): MetricEvent[] =>
        upstream.events.filter((e): e is MetricEvent => e.kind === "metric");
      const media = (): MediaEvent[] =>
        upstream.events.filter((e): e is MediaEvent => e.kind === "media");
      const describeState = (): string => {
        const got = new Set(metrics().map((e) => `${e.key}@${e.step}`));
        const missing = [...expected].filter((k) => !got.has(k));
        return `upstream holds ${metrics().length}/${expected.size} metric points and ${media().length}/1 images; ` +
          `missing ${missing.length} (first: ${
            missing.slice(0, 5).join(", ")
          }); relay saw ${JSON.stringify(seen)}; audit ${
            JSON.stringify(relay!.auditLog())
          }; page log:\n${pageLog.join("\n")}`;
      };
      await waitFor(
        "every metric point and the image at the upstream",
        () => metrics().length >= expected.size && media().length >= 1,
        15_000,
        describeState,
      );
      const deliveredAt = Date.now();
      // Let late duplicates, if any, arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await relay!.flush(2000);

      // Every metric point, each (key, step) exactly once, in this run.
      const points = metrics();
      assert.equal(points.length, expected.size, describeState());
      const pairs = points.map((e) => `${e.key}@${e.step}`);
      assert.equal(new Set(pairs).size, pairs.length, "duplicate (key, step)");
      assert.deepEqual(new Set(pairs), expected);
      assert.equal(
        new Set(upstream.events.map((e) => e.seq)).size,
        upstream.events.length,
        "duplicate seq at the upstream",
      );
      assert.ok(points.every((e) => e.runId === status.demo.runId));
      const runStart = upstream.events.find((e) => e.kind === "run_start");
      assert.ok(runStart, "run_start reached the upstream");
      assert.equal((runStart as { project: string }).project, PROJECT);

      // The image: one PNG media event that decodes to the logged pixels.
      const images = media();
      assert.equal(images.length, 1);
      const [image] = images;
      assert.equal(image.key, IMAGE_KEY);
      assert.equal(image.step, STEPS);
      assert.equal(image.contentType, "image/png");
      assert.deepEqual(
        [...image.data.subarray(0, 8)],
        PNG_SIGNATURE,
        "PNG signature",
      );
      const png = decode(image.data);
      assert.equal(png.width, IMAGE_SIZE);
      assert.equal(png.height, IMAGE_SIZE);
      assert.equal(png.channels, 1);
      assert.deepEqual([...png.data], patternImage(IMAGE_SIZE).flat());

      // CORS: the page's requests are simple ones (text/plain, the token in
      // the body), so a closing page never waits for a preflight; the relay
      // allowed the page's origin on every answer.
      assert.deepEqual(
        seen.filter((r) => r.method === "OPTIONS"),
        [],
        "a preflight was needed",
      );
      const posts = seen.filter((r) => r.method === "POST");
      assert.ok(posts.length >= 1);
      // The requests outlived the page: the relay read the first POST's
      // body (it waits RELAY_LATENCY_MS before reading) after Chromium
      // reported the page closed, which only a keepalive request survives.
      assert.ok(
        posts[0].arrivedAtMs + RELAY_LATENCY_MS >= pageGoneAtMs,
        `the first POST was read ${
          pageGoneAtMs - posts[0].arrivedAtMs - RELAY_LATENCY_MS
        } ms before the page was gone`,
      );
      for (const post of posts) {
        assert.equal(post.origin, pageOrigin);
        assert.equal(post.status, 200, JSON.stringify(seen));
        assert.equal(post.allowOrigin, pageOrigin);
      }
      const audit = relay!.auditLog().filter((e) => e.action === "events");
      assert.equal(
        audit.reduce((sum, e) => sum + (e.accepted ?? 0), 0),
        upstream.events.length,
      );
      console.log(
        `browser test: page logged in ${
          loggedAt - started
        } ms (launch included); ` +
          `${posts.length} POST(s) after close delivered ${upstream.events.length} events in ${
            deliveredAt - closedAt
          } ms (the first POST arrived ${
            posts[0].arrivedAtMs - pageGoneAtMs
          } ms after the page was gone); output in ${outDir}`,
      );
    },
  );

  it(
    "a backlog past the browser's keepalive quota: what cannot leave while closing is kept in localStorage and sent by the next page, each point once",
    { timeout: 90_000 },
    async () => {
      assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}`);
      browser ??= await chromium.launch({
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      });
      const context = await browser.newContext();
      const steps = 1500; // 3000 points: several times the 64 KiB quota
      const open = async (
        n: number,
      ): Promise<{ page: Page; runId: string }> => {
        const token = await mintToken(KEY, {
          project: PROJECT,
          expiresInMs: 5 * 60_000,
        });
        const page = await context.newPage();
        const query = new URLSearchParams({
          relay: relayUrl,
          token,
          project: PROJECT,
          steps: String(n),
          imageSize: String(IMAGE_SIZE),
          flushIntervalMs: "600000",
        });
        await page.goto(`${pageOrigin}/?${query}`);
        await page.waitForFunction(
          `["logged", "error"].includes(document.getElementById("status")?.dataset.state)`,
          undefined,
          { timeout: 20_000 },
        );
        const runId = await page.evaluate(
          "globalThis.uetaiDemo.runId",
        ) as string;
        return { page, runId };
      };
      const first = await open(steps);
      await first.page.close({ runBeforeUnload: true });
      const points = (): MetricEvent[] =>
        upstream.events.filter((e): e is MetricEvent =>
          e.kind === "metric" && e.runId === first.runId
        );
      // Some left with keepalive requests; the rest waits in storage.
      await waitFor(
        "the keepalive part of the backlog",
        () => points().length > 0,
        15_000,
        () => `relay saw ${seen.length} requests`,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      const atClose = points().length;
      assert.ok(
        atClose < steps * METRIC_KEYS.length,
        `all ${atClose} points left at close: the backlog was not past the quota`,
      );
      const storedKeys = async (): Promise<number> =>
        (await context.storageState()).origins
          .filter((o) => o.origin === pageOrigin)
          .flatMap((o) => o.localStorage)
          .filter((item) => item.name.startsWith("uetai-relay:")).length;
      const stored = await storedKeys();
      assert.ok(stored > 0, "nothing was kept in localStorage");
      // The next page of the origin sends what was kept.
      const second = await open(1);
      await waitFor(
        "every point of the closed page",
        () => points().length >= steps * METRIC_KEYS.length,
        20_000,
        () => `${points().length}/${steps * METRIC_KEYS.length} points`,
      );
      await relay!.flush(2000);
      const pairs = points().map((e) => `${e.key}@${e.step}`);
      assert.equal(pairs.length, steps * METRIC_KEYS.length);
      assert.equal(new Set(pairs).size, pairs.length, "duplicate (key, step)");
      assert.ok(
        upstream.events.some((e) =>
          e.kind === "media" && e.runId === first.runId
        ),
        "the image of the closed page",
      );
      await waitFor(
        "the stored batches removed once delivered",
        async () => (await storedKeys()) === 0,
        5_000,
        () => "batches are still in localStorage",
      );
      await second.page.close();
      console.log(
        `browser test: ${atClose} of ${pairs.length} points left with keepalive at close, ${stored} batch(es) kept in localStorage and sent by the next page`,
      );
      await context.close();
    },
  );
});
