// The W&B backend against the fake W&B server (tests/helpers/fake_wandb.ts):
// a run with config, history rows (metrics and media), summary and finish;
// NaN as bare tokens; resume with offsets the server confirms (also after a
// process died without ending its run); the retry policy; heartbeats;
// configuration errors.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeWandb } from "./helpers/fake_wandb.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { FakeClock, settle } from "./helpers/fake_clock.ts";
import { createLogger, Histogram, Html, Table, WandbLogger } from "../mod.ts";
import { resolveWandbConfig, WandbBackend } from "../backends/wandb/mod.ts";
import type { ErrorState } from "../pipeline/batch_processor.ts";

interface Setup {
  fake: FakeWandb;
  dir: string;
}

async function withFake(fn: (setup: Setup) => Promise<void>): Promise<void> {
  const fake = await FakeWandb.start();
  try {
    await withTempDir((dir) => fn({ fake, dir }), "uetai-wandb-");
  } finally {
    await fake.close();
  }
}

function options({ fake, dir }: Setup): {
  apiKey: string;
  baseUrl: string;
  dir: string;
  exitFlushTimeoutMs: number;
  onError: (state: ErrorState) => void;
  env: Record<string, string>;
  retry: { initialDelayMs: number; maxDelayMs: number };
} {
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

describe("WandbLogger: a run", () => {
  it("streams config, history rows with media, the summary and the finish as W&B's client does", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({
        ...options(setup),
        project: "demo",
        name: "first",
        tags: ["baseline"],
      });
      logger.logParams({ lr: 0.01, model: { layers: 2 } });
      for (let step = 0; step < 5; step++) {
        logger.log({ loss: 1 / (step + 1), acc: step / 5 }, { step });
      }
      logger.log({
        samples: [[0, 255], [255, 0]],
        weights: new Histogram({ values: [1, 2, 2, 3], bins: 3 }),
        preds: new Table({ columns: ["y", "p"], rows: [[1, 0.9]] }),
        page: new Html("<b>ok</b>"),
        nan: NaN,
      }, { step: 5 });
      assert.ok((await logger.end()).ok);

      const run = fake.run(logger.runId, "demo")!;
      assert.ok(run, "the run exists");
      assert.equal(run.entity, fake.entity);
      assert.equal(run.displayName, "first");
      assert.deepEqual(run.tags, ["baseline"]);
      assert.deepEqual(run.config.lr, { value: 0.01 });
      assert.deepEqual(run.config["model/layers"], { value: 2 });
      assert.ok(run.config._wandb, "the _wandb config entry is there");
      assert.deepEqual(run.history.map((r) => r._step), [0, 1, 2, 3, 4, 5]);
      assert.equal(run.history[2].loss, 1 / 3);
      const last = run.history[5];
      assert.ok(Number.isNaN(last.nan as number));
      const image = last.samples as Record<string, unknown>;
      assert.equal(image._type, "image-file");
      assert.match(
        String(image.path),
        /^media\/images\/samples_5_[0-9a-f]{20}\.png$/,
      );
      assert.equal(image.width, 2);
      assert.ok(run.files[String(image.path)], "the image was uploaded");
      assert.ok(run.uploaded.includes(String(image.path)));
      assert.deepEqual(last.weights, {
        _type: "histogram",
        values: [1, 2, 1],
        bins: (last.weights as { bins: number[] }).bins,
      });
      assert.equal((last.preds as { _type: string })._type, "table-file");
      assert.equal((last.page as { _type: string })._type, "html-file");
      assert.equal(run.summary.loss, 0.2);
      assert.equal(run.summary._step, 5);
      assert.equal(run.complete, true);
      assert.equal(run.exitcode, 0);
      // Signed storage URLs never got the key (the fake refuses it).
      const puts = fake.requests.filter((r) => r.method === "PUT");
      assert.ok(puts.length >= 3);
      assert.ok(puts.every((r) => r.headers.authorization === undefined));
      assert.ok(puts.every((r) => r.status === 200));
    });
  });

  it("a failed run finishes with a non-zero exit code", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({ ...options(setup), project: "fail" });
      logger.log({ x: 1 }, { step: 0 });
      assert.ok((await logger.end({ status: "failed" })).ok);
      assert.equal(fake.run(logger.runId, "fail")!.exitcode, 1);
    });
  });
});

describe("W&B resume", () => {
  it("a resumed run continues after its last step, its offsets confirmed by the server", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const first = new WandbLogger({ ...options(setup), project: "resume" });
      for (let step = 0; step < 5; step++) first.log({ loss: step }, { step });
      first.logParams({ lr: 0.1 });
      assert.ok((await first.end()).ok);
      const second = new WandbLogger({
        ...options(setup),
        project: "resume",
        runId: first.runId,
        resume: true,
      });
      for (let step = 5; step < 10; step++) {
        second.log({ loss: step }, { step });
      }
      assert.ok((await second.end()).ok);
      const run = fake.run(first.runId, "resume")!;
      assert.deepEqual(
        run.history.map((r) => r._step),
        Array.from({ length: 10 }, (_, i) => i),
      );
      assert.deepEqual(run.config.lr, { value: 0.1 }, "the old config is kept");
      assert.equal(fake.runs().length, 1);
    });
  });

  it("a run left unfinished by a process that died is continued without a gap or a double line", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const first = new WandbLogger({
        ...options(setup),
        project: "crash",
        dir: join(dir, "a"),
      });
      for (let step = 0; step < 5; step++) first.log({ loss: step }, { step });
      assert.equal((await first.flush()).ok, true);
      // The process dies here: no end(). Another takes the run over and
      // sends steps again that the first one had already delivered.
      const second = new WandbLogger({
        ...options(setup),
        project: "crash",
        runId: first.runId,
        resume: true,
        dir: join(dir, "b"),
      });
      for (let step = 3; step < 8; step++) second.log({ loss: step }, { step });
      assert.ok((await second.end()).ok);
      const run = fake.run(first.runId, "crash")!;
      assert.deepEqual(
        run.history.map((r) => r._step),
        [0, 1, 2, 3, 4, 5, 6, 7],
      );
      await first.end({ timeoutMs: 10 }).catch(() => {});
    });
  });
});

describe("W&B retry policy and heartbeat", () => {
  it("429 (Retry-After) and 500 are retried; nothing is lost or doubled", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({ ...options(setup), project: "retry" });
      await logger.flush();
      fake.throttle({ path: /file_stream/, count: 2, retryAfterS: 0 });
      fake.fail({ path: /file_stream/, count: 2, status: 500 });
      for (let step = 0; step < 50; step++) logger.log({ x: step }, { step });
      assert.ok((await logger.end({ timeoutMs: 10_000 })).ok);
      const run = fake.run(logger.runId, "retry")!;
      assert.deepEqual(
        run.history.map((r) => r._step),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.ok(logger.stats().retried >= 2);
      assert.equal(logger.stats().dropped, 0);
    });
  });

  it("a quiet run sends a heartbeat ({}) every 30 s", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const clock = new FakeClock(Date.now());
      const backend = new WandbBackend({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        env: {},
        clock,
      });
      const logger = createLogger({
        ...options(setup),
        backend,
        project: "beat",
      });
      await logger.flush();
      const before = fake.run(logger.runId, "beat")!.heartbeats;
      await clock.tick(30_000);
      for (
        let i = 0;
        i < 50 && fake.run(logger.runId, "beat")!.heartbeats === before;
        i++
      ) {
        await settle(5);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(fake.run(logger.runId, "beat")!.heartbeats > before);
      assert.ok((await logger.end()).ok);
    });
  });
});

describe("W&B configuration", () => {
  it("a missing or malformed key is a clear TypeError that never shows the key", () => {
    assert.throws(
      () => new WandbLogger({ env: {} }),
      /no API key.*WANDB_API_KEY/,
    );
    assert.throws(
      () => resolveWandbConfig({ apiKey: "short-secret", env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.ok(!error.message.includes("short-secret"));
        return true;
      },
    );
    assert.throws(
      () =>
        resolveWandbConfig({
          apiKey: "k".repeat(40),
          baseUrl: "ftp://x",
          env: {},
        }),
      /'baseUrl' must be an http\(s\) URL/,
    );
    const config = resolveWandbConfig({
      env: {
        WANDB_API_KEY: "k".repeat(40),
        WANDB_ENTITY: "team",
        WANDB_PROJECT: "p",
      },
    });
    assert.equal(config.entity, "team");
    assert.equal(config.baseUrl, "https://api.wandb.ai");
  });
});
