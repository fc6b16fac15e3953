// Edge cases of the W&B backend found in review: console lines racing the
// finish and keeping print order, downloads slower than the request
// timeout, artifacts logged by W&B's own SDK (no SHA-256), concurrent
// writers of a version's uses, metadata uetai cannot parse.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { FakeWandb } from "./helpers/fake_wandb.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { WandbLogger } from "../mod.ts";
import { WandbBackend, WandbHttp } from "../backends/wandb/mod.ts";
import { OutputCapture } from "../logger/output.ts";
import type { TrackingEvent } from "../event/types.ts";

const realFetch = globalThis.fetch;
type Hook = (
  url: string,
  init: RequestInit | undefined,
  next: () => Promise<Response>,
) => Promise<Response>;
async function withFetch<T>(hook: Hook, fn: () => Promise<T>): Promise<T> {
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string"
      ? input
      : input instanceof URL
      ? input.href
      : input.url;
    return hook(url, init, () => realFetch(input, init));
  }) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = realFetch;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function opts(fake: FakeWandb, dir: string) {
  return {
    apiKey: fake.apiKey,
    baseUrl: fake.url,
    dir: join(dir, ".uetai"),
    exitFlushTimeoutMs: 0,
    onError: () => {},
    env: {},
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
  };
}

async function withFake(
  fn: (fake: FakeWandb, dir: string) => Promise<void>,
): Promise<void> {
  const fake = await FakeWandb.start();
  try {
    await withTempDir((dir) => fn(fake, dir), "uetai-wandb-review-");
  } finally {
    await fake.close();
  }
}

describe("W&B edges: console lines vs complete", () => {
  it("a stderr batch still on its way when end()'s 5 s cap hits is not sent after complete", async () => {
    await withFake(async (fake) => {
      const backend = new WandbBackend({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        env: {},
      });
      const runId = "racerun1";
      const signal = new AbortController().signal;
      const start: TrackingEvent = {
        kind: "run_start",
        runId,
        seq: 0,
        timestampMs: Date.now(),
        project: "p",
        tags: [],
      };
      assert.equal((await backend.send([start], signal)).status, "success");
      // The stdout batch's POST is slow (slower than the cap below).
      let delayed = false;
      await withFetch(async (url, init, next) => {
        if (
          !delayed && url.endsWith("/file_stream") &&
          String(init?.body).includes("output.log")
        ) {
          delayed = true;
          await sleep(300);
        }
        return next();
      }, async () => {
        const quiet = { log: console.log, error: console.error };
        // As WandbLogger wires it.
        const capture = new OutputCapture({
          sink: (lines, { stderrLines, timesMs }) =>
            backend.postOutput(runId, "p", lines, { stderrLines, timesMs }),
          mixedStreams: true,
        });
        capture.start();
        console.log("out line");
        console.error("err line");
        // What WandbLogger.end() does (with a cap that runs out here).
        await capture.stopWithin(50);
        Object.assign(console, quiet);
        const end: TrackingEvent = {
          kind: "run_end",
          runId,
          seq: 1,
          timestampMs: Date.now(),
          status: "finished",
        };
        assert.equal((await backend.send([end], signal)).status, "success");
        await sleep(500);
      });
      const streams = fake.requests.filter((r) =>
        r.path.endsWith("/file_stream")
      );
      const completeAt = streams.findIndex((r) =>
        (r.json as { complete?: boolean })?.complete === true
      );
      const after = streams.slice(completeAt + 1).map((r) => ({
        status: r.status,
        body: JSON.stringify(r.json),
      }));
      const run = fake.run(runId, "p")!;
      await backend.close();
      assert.deepEqual(after, [], "requests after complete");
      assert.equal(run.output.length, 2, run.output.join("\n"));
    });
  });

  it("stdout and stderr lines keep the order they were printed in", async () => {
    await withFake(async (fake, dir) => {
      const quiet = { log: console.log, error: console.error };
      console.log = () => {};
      console.error = () => {};
      let runId = "";
      try {
        const logger = new WandbLogger({
          ...opts(fake, dir),
          project: "out",
          captureOutput: true,
        });
        runId = logger.runId;
        console.error("1 first, on stderr");
        console.log("2 second, on stdout");
        assert.ok((await logger.end()).ok);
      } finally {
        Object.assign(console, quiet);
      }
      const out = fake.run(runId, "out")!.output;
      assert.match(out[0], /1 first/, out.join("\n"));
    });
  });
});

describe("W&B edges: artifact downloads", () => {
  it("getSigned's body (openFile's stream) is not cut by the per-request timeout", async () => {
    // A storage server that sends 10 chunks, 100 ms apart.
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-length": "10" });
      let i = 0;
      const tick = setInterval(() => {
        res.write("x");
        if (++i === 10) {
          clearInterval(tick);
          res.end();
        }
      }, 100);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const http = new WandbHttp({
        apiKey: "k".repeat(40),
        baseUrl: "http://127.0.0.1:9",
        timeoutMs: 300,
      });
      const response = await http.getSigned(
        `http://127.0.0.1:${port}/blob?sig=1`,
      );
      const text = await response.text(); // about 1 s of body
      assert.equal(text, "x".repeat(10));
    } finally {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    }
  });

  it("an artifact whose manifest has no extra.sha256 (logged by W&B's own SDK) downloads", async () => {
    await withFake(async (fake, dir) => {
      const source = join(dir, "hello.txt");
      await writeFile(source, "hello");
      const maker = new WandbLogger({ ...opts(fake, dir), project: "arts" });
      await maker.logArtifact({ path: source, name: "py", type: "dataset" });
      assert.ok((await maker.end()).ok);
      // W&B's SDK writes entries {digest, size, birthArtifactID} (FINDINGS §8).
      await withFetch(async (url, _init, next) => {
        const response = await next();
        if (!url.includes("/storage/manifests/")) return response;
        const json = await response.json();
        for (const entry of Object.values(json.contents)) {
          delete (entry as { extra?: unknown }).extra;
        }
        return new Response(JSON.stringify(json), { status: 200 });
      }, async () => {
        const user = new WandbLogger({ ...opts(fake, dir), project: "arts" });
        try {
          await user.downloadArtifact({
            name: "py",
            version: "v0",
            savePath: join(dir, "out"),
          });
        } finally {
          await user.end();
        }
      });
    });
  });
});

describe("W&B edges: artifact writes", () => {
  it("two processes recording uses of one version concurrently keep both", async () => {
    await withFake(async (fake, dir) => {
      const source = join(dir, "f.txt");
      await writeFile(source, "content");
      const maker = new WandbLogger({ ...opts(fake, dir), project: "arts" });
      const logged = await maker.logArtifact({
        path: source,
        name: "shared",
        type: "dataset",
      });
      assert.ok((await maker.end()).ok);
      const a = new WandbBackend({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        env: {},
      });
      const b = new WandbBackend({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        env: {},
      });
      const t = Date.now();
      await Promise.all([
        a.artifacts("arts").recordUse(logged, {
          project: "other",
          runId: "runa",
          timestampMs: t,
        }),
        b.artifacts("arts").recordUse(logged, {
          project: "other",
          runId: "runb",
          timestampMs: t,
        }),
      ]);
      const uses = await a.artifacts("arts").listUses("shared", "v0");
      await a.close();
      await b.close();
      assert.deepEqual(uses.map((u) => u.runId).sort(), ["runa", "runb"]);
    });
  });

  it("recordUse keeps metadata it cannot JSON.parse (NaN written by W&B's SDK)", async () => {
    await withFake(async (fake, dir) => {
      const source = join(dir, "f.txt");
      await writeFile(source, "content");
      const maker = new WandbLogger({ ...opts(fake, dir), project: "arts" });
      const logged = await maker.logArtifact({
        path: source,
        name: "meta",
        type: "dataset",
        metadata: { rows: 2 },
      });
      assert.ok((await maker.end()).ok);
      const backend = new WandbBackend({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        env: {},
      });
      let sent: string | undefined;
      await withFetch(async (_url, init, next) => {
        const body = String(init?.body ?? "");
        if (body.includes('"UpdateArtifact"')) {
          sent = JSON.parse(body).variables.metadata;
        }
        const response = await next();
        if (!body.includes('"ArtifactByName"')) return response;
        // What the server holds for metadata {rows: 2, acc: NaN}.
        const text = (await response.text()).replace(
          '{\\"rows\\":2',
          '{\\"acc\\":NaN,\\"rows\\":2',
        );
        return new Response(text, { status: 200 });
      }, async () => {
        await backend.artifacts("arts").recordUse(logged, {
          project: "x",
          runId: "r1",
          timestampMs: 1,
        });
      });
      await backend.close();
      assert.ok(sent !== undefined);
      assert.match(sent!, /"rows":2/, `UpdateArtifact sent ${sent}`);
    });
  });
});
