// The library inside the real Cloudflare runtime (workerd, through
// Miniflare), without `nodejs_compat`:
// - a worker that logs through a relay answers at once and leaves sending to
//   `ctx.waitUntil`: its response arrives before the (slowed-down) relay
//   gets any event, and the dashboard (a fake Comet) still ends up with every
//   point exactly once;
// - the relay itself as a worker (examples/relay/worker.ts), built once per
//   isolate from secret bindings: 202 queued at once, forwarded in
//   `waitUntil`, and a bad token is a 401 that does not leak the Comet key.
// The .ts sources are bundled once with `deno bundle --platform=browser`.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { serve } from "@hono/node-server";
import { Miniflare } from "miniflare";
import { createRelay, mintToken } from "../relay/mod.ts";
import { CometBackend } from "../backends/comet/mod.ts";
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import { FakeComet, type FakeExperiment } from "./helpers/fake_comet.ts";
import { DENO_BIN, ROOT } from "./helpers/runtime.ts";

const KEY = "workerd-relay-signing-key-0123456789abcdef";
const COMPATIBILITY_DATE = "2026-04-01";
/** Must match tests/fixtures/log_worker.ts. */
const PROJECT = "edge";
const POINTS = 50;

let work = "";
const bundles = { logWorker: "", relayWorker: "" };

/** Bundles a worker entry into one ES module with Deno's built-in esbuild. */
function bundle(entry: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      DENO_BIN,
      ["bundle", "--platform=browser", "-o", out, entry],
      {
        cwd: ROOT,
        env: {
          ...(globalThis as { process: { env: Record<string, string> } })
            .process.env,
          NO_COLOR: "1",
          RUST_BACKTRACE: "0",
        },
      },
      (error, _stdout, stderr) =>
        error
          ? reject(new Error(`deno bundle ${entry} failed: ${stderr}`))
          : resolve(),
    );
  });
}

/** The modules a bundle still imports (static, re-export or literal dynamic). */
function importsOf(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value, or fails with `what` after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = check();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The experiment once it holds `count` metric points (or more) and has ended. */
function experimentWith(
  fake: FakeComet,
  runId: string,
  count: number,
  ended = true,
): Promise<FakeExperiment> {
  return waitFor(`${count} metrics of run ${runId} at the fake Comet`, () => {
    const experiment = fake.experiment(runId);
    return experiment && experiment.metrics.length >= count &&
        (!ended || !experiment.alive)
      ? experiment
      : undefined;
  });
}

/**
 * Starts a bundled worker in workerd. When the runtime fails to start, the
 * error carries workerd's own message and, for each `<bundle>.js:<line>` it
 * names, the source module that line came from (the bundle's `// path.ts`
 * markers), instead of Miniflare's bare "failed to start".
 */
async function startWorker(
  scriptPath: string,
  bindings: Record<string, string>,
): Promise<Miniflare> {
  let output = "";
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: work,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk: Uint8Array) => {
          const text = new TextDecoder().decode(chunk);
          output += text;
          (globalThis as {
            process: { stderr: { write(text: string): void } };
          }).process.stderr.write(text);
        });
      }
    },
  });
  try {
    await mf.ready;
    return mf;
  } catch (error) {
    await mf.dispose().catch(() => {});
    const lines = (await readFile(scriptPath, "utf8")).split("\n");
    const origins = [...output.matchAll(/\b[\w-]+\.js:(\d+)/g)].map(
      ([where, line]) => {
        let i = Number(line) - 1;
        while (i >= 0 && !/^\/\/ \S+\.ts$/.test(lines[i])) i--;
        return `${where} is ${i >= 0 ? lines[i].slice(3) : "?"}: ${
          lines[Number(line) - 1]?.trim()
        }`;
      },
    );
    throw new Error(
      `workerd could not start ${scriptPath}:\n${
        output.split("\n").filter((l) => !l.startsWith("stack:")).join("\n")
          .trim()
      }\n${origins.join("\n")}`,
      { cause: error },
    );
  }
}

/** Asserts each step 0..count-1 of `loss` arrived exactly once, with its value. */
function assertLossOnce(experiment: FakeExperiment, count: number): void {
  const loss = experiment.metrics.filter((m) => m.metricName === "loss");
  assert.equal(experiment.metrics.length, count, "no other metric");
  assert.deepEqual(
    loss.map((m) => m.step).sort((a, b) => (a ?? 0) - (b ?? 0)),
    Array.from({ length: count }, (_, step) => step),
    "every step exactly once",
  );
  for (const m of loss) {
    assert.equal(Number(m.metricValue), 1 / ((m.step ?? 0) + 1));
  }
}

describe("workerd (Miniflare, no nodejs_compat)", () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "uetai-workerd-"));
    bundles.logWorker = join(work, "log_worker.js");
    bundles.relayWorker = join(work, "relay_worker.js");
    await Promise.all([
      bundle("tests/fixtures/log_worker.ts", bundles.logWorker),
      bundle("examples/relay/worker.ts", bundles.relayWorker),
    ]);
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("the bundles are self-contained: no node: (or any other) import left", async () => {
    for (const file of [bundles.logWorker, bundles.relayWorker]) {
      const code = await readFile(file, "utf8");
      const imports = importsOf(code);
      assert.deepEqual(
        imports.filter((s) => s.startsWith("node:")),
        [],
        `${file} imports node: modules`,
      );
      assert.deepEqual(imports, [], `${file} still imports modules`);
    }
    // The check sees an import when there is one.
    assert.deepEqual(
      importsOf('import { x } from "node:fs";\nexport * from "./y.js";\n'),
      ["node:fs", "./y.js"],
    );
  });

  it("a worker answers at once and its logger delivers through a slow relay in waitUntil, every point once", async () => {
    const fake = await FakeComet.start();
    const relay = createRelay({
      upstream: new CometBackend({
        apiKey: fake.apiKey,
        workspace: fake.workspace,
        urlOverride: `${fake.url}/clientlib/`,
      }),
      signingKey: KEY,
      onUpstreamError: () => {},
    });
    // The relay's ingest waits 750 ms before it reads a request: a worker
    // that awaited its logger could not answer before the relay had events.
    const ingest: { arrivedMs: number; handledMs: number; status: number }[] =
      [];
    const server = serve({
      fetch: async (request: Request) => {
        if (new URL(request.url).pathname !== "/v1/events") {
          return relay.fetch(request);
        }
        const arrivedMs = performance.now();
        await sleep(750);
        // From here on the relay has the request's events.
        const entry = { arrivedMs, handledMs: performance.now(), status: 0 };
        ingest.push(entry);
        const response = await relay.fetch(request);
        entry.status = response.status;
        return response;
      },
      hostname: "127.0.0.1",
      port: 0,
    });
    await new Promise((resolve) => server.once("listening", resolve));
    const relayUrl = `http://127.0.0.1:${
      (server.address() as AddressInfo).port
    }`;
    const token = await mintToken(KEY, {
      project: PROJECT,
      expiresInMs: 600_000,
    });
    let mf: Miniflare | undefined;
    try {
      mf = await startWorker(bundles.logWorker, {
        RELAY_URL: relayUrl,
        RELAY_TOKEN: token,
      });
      const sentMs = performance.now();
      const response = await mf.dispatchFetch("http://worker/");
      const respondedMs = performance.now();
      assert.equal(response.status, 200);
      const { runId, runtime } = await response.json() as {
        runId: string;
        runtime: string;
      };
      assert.equal(runtime, "Cloudflare-Workers", "it ran in workerd");
      assert.equal(
        ingest.length,
        0,
        `the worker answered (in ${
          Math.round(respondedMs - sentMs)
        } ms) before the relay handled any request`,
      );
      assert.equal(fake.experiments().length, 0, "Comet had nothing yet");

      const experiment = await experimentWith(fake, runId, POINTS);
      assert.ok(ingest.length > 0);
      assert.ok(
        ingest.every((r) => r.handledMs > respondedMs),
        "every ingest was handled after the worker answered",
      );
      // Comet may hold the points before the relay's answer is written.
      for (let i = 0; i < 100 && ingest.some((r) => r.status === 0); i++) {
        await sleep(20);
      }
      assert.ok(ingest.every((r) => r.status === 200), JSON.stringify(ingest));
      assert.equal(experiment.projectName, PROJECT);
      assertLossOnce(experiment, POINTS);
      assert.deepEqual(
        experiment.parameters.map((p) => [p.parameterName, p.parameterValue]),
        [["optimizer", "sgd"]],
      );
      // Nothing more arrives later (no duplicate from a retry).
      await relay.flush(2000);
      await sleep(200);
      assertLossOnce(experiment, POINTS);
    } finally {
      await mf?.dispose();
      await relay.close(2000);
      await new Promise((resolve) => server.close(resolve));
      await fake.close();
    }
  });

  it("the relay as a worker: 202 queued at once, forwarded in waitUntil, and a bad token is a 401 without the Comet key", async () => {
    const fake = await FakeComet.start();
    let mf: Miniflare | undefined;
    try {
      mf = await startWorker(bundles.relayWorker, {
        UETAI_RELAY_SIGNING_KEY: KEY,
        COMET_API_KEY: fake.apiKey,
        COMET_WORKSPACE: fake.workspace,
        COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
      });
      const worker = mf;
      const runId = crypto.randomUUID().replaceAll("-", "");
      const token = await mintToken(KEY, {
        project: PROJECT,
        runId,
        expiresInMs: 600_000,
      });
      const events = (from: number, to: number): TrackingEvent[] =>
        Array.from({ length: to - from }, (_, i) => ({
          kind: "metric",
          runId,
          seq: from + i + 1,
          timestampMs: Date.now(),
          key: "loss",
          value: 1 / (from + i + 1),
          step: from + i,
        }));
      const post = async (body: string, bearer: string) => {
        const response = await worker.dispatchFetch("http://relay/v1/events", {
          method: "POST",
          headers: {
            authorization: `Bearer ${bearer}`,
            "content-type": "application/x-ndjson",
          },
          body,
        });
        return {
          status: response.status,
          text: await response.text(),
          headers: JSON.stringify([...response.headers]),
        };
      };
      const start: TrackingEvent = {
        kind: "run_start",
        runId,
        seq: 0,
        timestampMs: Date.now(),
        project: PROJECT,
        tags: ["workerd"],
      };
      // Two requests to the same isolate: the relay is built once and
      // keeps the run between them.
      const first = await post(
        encodeEvents([start, ...events(0, POINTS / 2)]),
        token,
      );
      assert.equal(first.status, 202, first.text);
      assert.deepEqual(JSON.parse(first.text), {
        status: "queued",
        accepted: POINTS / 2 + 1,
        duplicates: 0,
      });
      const second = await post(
        encodeEvents(events(POINTS / 2, POINTS)),
        token,
      );
      assert.equal(second.status, 202, second.text);
      // A replay of the first batch is accepted and changes nothing.
      const replay = await post(
        encodeEvents([start, ...events(0, POINTS / 2)]),
        token,
      );
      assert.equal(replay.status, 202, replay.text);
      assert.equal(JSON.parse(replay.text).accepted, 0);

      const experiment = await experimentWith(fake, runId, POINTS, false);
      assert.equal(experiment.projectName, PROJECT);
      assert.deepEqual(experiment.tags, ["workerd"]);
      await sleep(300);
      assertLossOnce(experiment, POINTS);

      const forged = await mintToken(
        "not-the-relay-signing-key-0123456789abcdef",
        { project: PROJECT, expiresInMs: 600_000 },
      );
      for (const bearer of ["garbage", forged]) {
        const refused = await post(encodeEvents(events(0, 1)), bearer);
        assert.equal(refused.status, 401, refused.text);
        assert.ok(!refused.text.includes(fake.apiKey), refused.text);
        assert.ok(!refused.headers.includes(fake.apiKey), refused.headers);
        assert.ok(!refused.text.includes(KEY), refused.text);
      }
      const missing = await worker.dispatchFetch("http://relay/v1/health");
      assert.deepEqual(await missing.json(), { ok: true });
    } finally {
      await mf?.dispose();
      await fake.close();
    }
  });
});
