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
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { FakeWandb } from "./helpers/fake_wandb.ts";
import {
  artifactStoreConformance,
  pseudoRandomBytes,
} from "./helpers/artifact_conformance.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { FakeClock, settle } from "./helpers/fake_clock.ts";
import { createLogger, Histogram, Html, Table, WandbLogger } from "../mod.ts";
import {
  resolveWandbConfig,
  WandbBackend,
  WandbRun,
} from "../backends/wandb/mod.ts";
import { IntegrityError } from "../errors/errors.ts";
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

  it("full batches (thousands of points) arrive as whole rows, each step once", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({ ...options(setup), project: "big" });
      for (let step = 0; step < 2500; step++) {
        logger.log({ a: step, b: step * 2, c: 1 - step }, { step });
      }
      assert.ok((await logger.end()).ok);
      const run = fake.run(logger.runId, "big")!;
      assert.equal(run.history.length, 2500);
      for (const [i, row] of run.history.entries()) {
        assert.equal(row._step, i);
        assert.deepEqual([row.a, row.b, row.c], [i, i * 2, 1 - i], `row ${i}`);
      }
      const streams = fake.requests.filter((r) =>
        JSON.stringify(r.json ?? "").includes("wandb-history.jsonl")
      );
      assert.ok(streams.length <= 12, `${streams.length} history requests`);
    });
  });

  it("a step whose media the pipeline had to split over two batches loses nothing", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({ ...options(setup), project: "huge" });
      const page = (c: string) => new Html(`<p>${c.repeat(5_000_000)}</p>`);
      logger.log({ first: page("a"), second: page("b"), loss: 1 }, { step: 0 });
      logger.log({ loss: 2 }, { step: 1 });
      assert.ok((await logger.end()).ok);
      const run = fake.run(logger.runId, "huge")!;
      // Each key once at its step; the step W&B got in two batches is in
      // rows of its own (batches are at most 8 MiB).
      const seen = run.history.flatMap((row) =>
        Object.keys(row).filter((k) => !k.startsWith("_")).map((k) =>
          `${k}@${row._step}`
        )
      ).sort();
      assert.deepEqual(seen, ["first@0", "loss@0", "loss@1", "second@0"]);
      for (const key of ["first", "second"]) {
        const row = run.history.find((r) => r[key] !== undefined)!;
        const path = (row[key] as { path: string }).path;
        assert.equal(run.files[path].length, 5_000_007);
      }
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

artifactStoreConformance(
  "WandbArtifactStore against the fake W&B",
  async () => {
    const fake = await FakeWandb.start();
    const backend = new WandbBackend({
      apiKey: fake.apiKey,
      baseUrl: fake.url,
      env: {},
    });
    return {
      store: backend.artifacts("artifacts"),
      cleanup: async () => {
        await backend.close();
        await fake.close();
      },
    };
  },
);

describe("W&B artifacts", () => {
  it("log by W&B's flow: one CreateArtifactFiles, PUTs without the key, a manifest with birth ids, then commit; unchanged content is not uploaded again", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const source = join(dir, "model");
      await mkdir(join(source, "sub"), { recursive: true });
      await writeFile(join(source, "hello.txt"), "hello");
      await writeFile(join(source, "sub", "data.csv"), "a,b\n1,2\n3,4\n");
      const logger = new WandbLogger({ ...options(setup), project: "arts" });
      const first = await logger.logArtifact({
        path: source,
        name: "capture-dataset",
        type: "dataset",
        aliases: ["best"],
        metadata: { rows: 2 },
      });
      assert.equal(first.version, "v0");
      assert.deepEqual(first.aliases, ["best", "latest"]);

      const ops = fake.requests
        .map((r) => r.operationName ?? `${r.method} ${r.path.split("/")[2]}`)
        .filter((op) => !/^(Viewer|RunResumeStatus|UpsertBucket)$/.test(op))
        .filter((op) => !op.startsWith("POST files"));
      assert.deepEqual(ops, [
        "ArtifactType",
        "CreateArtifact",
        "CreateArtifactManifest",
        "CreateArtifactFiles",
        "PUT artifacts",
        "PUT artifacts",
        "CreateArtifactManifest",
        "PUT manifests",
        "CommitArtifact",
        "ArtifactByID",
        "GET manifests",
      ]);
      const create = fake.requests.find((r) =>
        r.operationName === "CreateArtifact"
      )!.variables as { input: Record<string, unknown> };
      // The digest of wandb-captures/FINDINGS.md §8, for the same two files.
      assert.equal(create.input.digest, "5cefbec687687397ebf1fc3ccec05c60");
      assert.equal(create.input.digestAlgorithm, "MANIFEST_MD5");
      assert.equal(create.input.runName, logger.runId);
      assert.deepEqual(create.input.aliases, [
        { artifactCollectionName: "capture-dataset", alias: "best" },
        { artifactCollectionName: "capture-dataset", alias: "latest" },
      ]);
      assert.match(String(create.input.clientID), /^[a-z0-9]{128}$/);
      for (const r of fake.requests.filter((r) => r.method === "PUT")) {
        assert.equal(r.headers.authorization, undefined);
        assert.equal(r.status, 200);
      }
      const [stored] = fake.artifacts("capture-dataset");
      assert.equal(stored.state, "COMMITTED");
      assert.equal(stored.versionIndex, 0);
      assert.equal(stored.runName, logger.runId);
      assert.equal((stored.metadata as { rows: number }).rows, 2);
      const contents = (stored.manifest as {
        contents: Record<string, Record<string, unknown>>;
      }).contents;
      assert.deepEqual(contents["hello.txt"], {
        digest: "XUFAKrxLKna5cZ2REBfFkg==",
        size: 5,
        birthArtifactID: stored.id,
        extra: {
          sha256:
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        },
      });
      assert.equal(
        new TextDecoder().decode(stored.files["sub/data.csv"]),
        "a,b\n1,2\n3,4\n",
      );

      // A second version sharing hello.txt: only the changed file moves.
      await writeFile(join(source, "sub", "data.csv"), "a,b\n5,6\n");
      const before = fake.requests.length;
      const second = await logger.logArtifact({
        path: source,
        name: "capture-dataset",
        type: "dataset",
      });
      assert.equal(second.version, "v1");
      const puts = fake.requests.slice(before).filter((r) =>
        r.method === "PUT" && r.path.startsWith("/storage/artifacts/")
      );
      assert.equal(puts.length, 1, "only the changed file is uploaded");
      const v1 = fake.artifacts("capture-dataset").find((v) =>
        v.versionIndex === 1
      )!;
      const v1Contents = (v1.manifest as {
        contents: Record<string, { birthArtifactID: string }>;
      }).contents;
      assert.equal(v1Contents["hello.txt"].birthArtifactID, stored.id);
      assert.equal(v1Contents["sub/data.csv"].birthArtifactID, v1.id);
      assert.deepEqual(
        fake.artifacts("capture-dataset").map((v) => [
          v.versionIndex,
          [...v.aliases].sort(),
        ]),
        [[0, ["best"]], [1, ["latest"]]],
      );
      assert.ok((await logger.end()).ok);
    });
  });

  it("download by vN and by alias, verified, records the run's use; a wrong MD5 is an IntegrityError", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const source = join(dir, "weights.bin");
      const data = pseudoRandomBytes(300_000, 5);
      await writeFile(source, data);
      const maker = new WandbLogger({ ...options(setup), project: "arts" });
      await maker.logArtifact({
        path: source,
        name: "weights",
        type: "model",
        aliases: ["prod"],
      });
      assert.ok((await maker.end()).ok);

      const user = new WandbLogger({ ...options(setup), project: "arts" });
      for (const version of ["v0", "prod", "latest"]) {
        const target = join(dir, `out-${version}`);
        await user.downloadArtifact({
          name: "weights",
          version,
          savePath: target,
        });
        assert.deepEqual(
          new Uint8Array(await readFile(join(target, "weights.bin"))),
          data,
        );
      }
      const [stored] = fake.artifacts("weights");
      assert.deepEqual(stored.usedBy, [user.runId]);
      const store = user.getExperiment().artifacts;
      assert.deepEqual(
        (await store.listUses("weights", "v0")).map((u) => u.runId),
        [user.runId, user.runId, user.runId],
      );
      const manifest = await store.resolveVersion("weights", {
        kind: "latest",
      });
      assert.deepEqual(manifest.createdBy?.runId, maker.runId);
      const entry = { ...manifest.files[0], md5: "AAAAAAAAAAAAAAAAAAAAAA==" };
      await assert.rejects(
        new Response(await store.openFile(manifest, entry)).arrayBuffer(),
        (error: unknown) => {
          assert.ok(error instanceof IntegrityError, String(error));
          assert.equal(error.algorithm, "md5");
          assert.equal(error.file, "weights.bin");
          return true;
        },
      );
      assert.ok((await user.end()).ok);
    });
  });

  it("a throttled or failing step of the flow is retried and the version is committed once", async () => {
    await withFake(async (setup) => {
      const { fake, dir } = setup;
      const source = join(dir, "f.txt");
      await writeFile(source, "retry me");
      const logger = new WandbLogger({ ...options(setup), project: "arts" });
      fake.throttle({ operation: "CreateArtifactFiles", retryAfterS: 0 });
      fake.fail({ operation: "CommitArtifact", status: 503 });
      fake.fail({
        path: /^\/storage\/artifacts\//,
        method: "PUT",
        status: 500,
      });
      const logged = await logger.logArtifact({
        path: source,
        name: "f",
        type: "dataset",
      });
      assert.equal(logged.version, "v0");
      const versions = fake.artifacts("f");
      assert.equal(versions.filter((v) => v.state === "COMMITTED").length, 1);
      assert.equal(
        new TextDecoder().decode(versions[0].files["f.txt"]),
        "retry me",
      );
      // A 400 is final: not retried, and nothing is committed.
      fake.fail({ operation: "CreateArtifact", status: 400 });
      await writeFile(source, "other");
      await assert.rejects(
        logger.logArtifact({ path: source, name: "f", type: "dataset" }),
        /W&B answered 400/,
      );
      assert.equal(
        fake.requests.filter((r) =>
          r.operationName === "CreateArtifact" &&
          r.status === 400
        ).length,
        1,
      );
      assert.equal(fake.artifacts("f").length, 1);
      assert.ok((await logger.end()).ok);
    });
  });
});

describe("W&B console lines and the raw API", () => {
  it("captureOutput streams console lines to output.log in W&B's format, continued on resume", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const quiet = { log: console.log, error: console.error };
      console.log = () => {};
      console.error = () => {};
      let runId: string;
      try {
        const logger = new WandbLogger({
          ...options(setup),
          project: "out",
          captureOutput: true,
        });
        runId = logger.runId;
        console.log("epoch 1 done");
        console.error("a warning");
        logger.log({ loss: 1 }, { step: 0 });
        assert.ok((await logger.end()).ok);
        const again = new WandbLogger({
          ...options(setup),
          project: "out",
          runId,
          resume: true,
          captureOutput: true,
        });
        console.log("resumed\nsecond line");
        assert.ok((await again.end()).ok);
      } finally {
        Object.assign(console, quiet);
      }
      const run = fake.run(runId, "out")!;
      const stamp = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}";
      assert.equal(run.output.length, 4, run.output.join("\n"));
      assert.match(run.output[0], new RegExp(`^${stamp} epoch 1 done$`));
      assert.match(run.output[1], new RegExp(`^ERROR ${stamp} a warning$`));
      assert.match(run.output[2], new RegExp(`^${stamp} resumed$`));
      assert.match(run.output[3], new RegExp(`^${stamp} second line$`));
      assert.equal(run.complete, true);
    });
  });

  it("getExperiment() is a WandbRun: read, notes, files, console lines, Stop, GraphQL", async () => {
    await withFake(async (setup) => {
      const { fake } = setup;
      const logger = new WandbLogger({
        ...options(setup),
        project: "raw",
        name: "raw-run",
      });
      logger.logParams({ lr: 0.1 });
      logger.log({ loss: NaN }, { step: 0 });
      await logger.flush();
      const run = logger.getExperiment();
      assert.ok(run instanceof WandbRun);
      const info = await run.info();
      assert.equal(info.project, "raw");
      assert.equal(info.entity, fake.entity);
      const state = await run.read();
      assert.equal(state.displayName, "raw-run");
      assert.deepEqual(state.config, { lr: 0.1 });
      assert.ok(Number.isNaN(state.summary.loss as number));
      assert.equal(state.historyLineCount, 1);
      await run.setNotes("tried a higher lr");
      assert.equal(fake.run(logger.runId, "raw")!.notes, "tried a higher lr");
      await run.uploadFiles([{
        path: "model.onnx",
        data: new Uint8Array([1, 2, 3]),
      }]);
      assert.deepEqual(
        [...fake.run(logger.runId, "raw")!.files["model.onnx"]],
        [1, 2, 3],
      );
      await assert.rejects(
        run.uploadFiles([{ path: "../x", data: new Uint8Array(1) }]),
        /"\.\.\/x"/,
      );
      await run.logOutput(["by hand"]);
      assert.match(fake.run(logger.runId, "raw")!.output[0], / by hand$/);
      assert.equal(await run.isStopped(), false);
      fake.stop(logger.runId);
      assert.equal(await run.isStopped(), true);
      const viewer = await run.graphql<{ viewer: { entity: string } }>(
        "Viewer",
        "query Viewer { viewer { entity } }",
      );
      assert.equal(viewer.viewer.entity, fake.entity);
      assert.ok((await logger.end()).ok);
      // Model files reported as uploaded in a later file_stream request.
      assert.ok(fake.run(logger.runId, "raw")!.uploaded.includes("model.onnx"));
    });
  });
});
