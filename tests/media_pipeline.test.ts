// Media values through the logger, the pipeline and the local store: encoded
// once off the hot path for every backend, stored as files with an index,
// read back whole.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "../mod.ts";
import { LocalBackend, LocalStore } from "../backends/local/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "../media/media_value.ts";
import type { ErrorState } from "../pipeline/mod.ts";
import type { MediaEvent } from "../event/types.ts";
import { Buffer } from "node:buffer";
import { BatchProcessor, MemorySpool } from "../pipeline/mod.ts";
import { ConfusionMatrix, encodePng, Histogram, Image } from "../media/mod.ts";
import { FakeClock } from "./helpers/fake_clock.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { delegatingSpool } from "./helpers/spool.ts";

/** A minimal media value: bytes given up front, counting its encodes. */
class Blobby implements MediaValue {
  readonly [MEDIA_VALUE] = true as const;
  readonly mediaType = "blob";
  encodes = 0;
  #bytes: Uint8Array;
  #fail: boolean;
  constructor(bytes: number[], fail = false) {
    this.#bytes = Uint8Array.from(bytes);
    this.#fail = fail;
  }
  encode(): Promise<EncodedMedia> {
    this.encodes++;
    if (this.#fail) return Promise.reject(new Error("cannot encode"));
    return Promise.resolve({
      mediaType: "blob",
      contentType: "application/octet-stream",
      extension: "bin",
      data: this.#bytes,
      metadata: { caption: "raw" },
    });
  }
}

describe("media through the logger", () => {
  it("stores each value once as a file, indexed, and reads it back whole", async () => {
    await withTempDir(async (dir) => {
      const memory = new InMemoryBackend();
      const value = new Blobby([1, 2, 3, 250]);
      const logger = createLogger({
        project: "m",
        backends: [new LocalBackend({ dir }), memory],
        exitFlushTimeoutMs: 0,
      });
      logger.log({ loss: 0.5, samples: { raw: value } }, { step: 3 });
      assert.equal(value.encodes, 0, "log() does not encode");
      assert.equal((await logger.end()).ok, true);
      assert.equal(value.encodes, 1, "encoded once for both backends");

      const store = new LocalStore({ dir });
      const [entry] = await store.listMedia("m", logger.runId);
      assert.equal(entry.key, "samples/raw");
      assert.equal(entry.step, 3);
      assert.equal(entry.mediaType, "blob");
      assert.equal(entry.sizeBytes, 4);
      assert.deepEqual(entry.metadata, { caption: "raw" });
      assert.match(entry.file, /^media\/blob\/samples_raw_step3_\d+\.bin$/);
      assert.deepEqual([
        ...await store.readMediaFile("m", logger.runId, entry.file),
      ], [1, 2, 3, 250]);
      await assert.rejects(
        store.readMediaFile("m", logger.runId, "../run.json"),
        TypeError,
      );

      // The journal names the file instead of carrying the bytes.
      const journal = await readFile(
        join(dir, "m", logger.runId, "events.ndjson"),
        "utf8",
      );
      assert.match(journal, /"file":"media\/blob\/samples_raw_step3_\d+\.bin"/);
      assert.ok(
        !journal.includes("AQID+g=="),
        "no inline base64 in the journal",
      );
      const media = [];
      for await (const event of store.readEvents("m", logger.runId)) {
        if (event.kind === "media") media.push(event);
      }
      assert.deepEqual([...media[0].data], [1, 2, 3, 250]);

      const sent = memory.events.find((event): event is MediaEvent =>
        event.kind === "media"
      );
      assert.deepEqual([...sent!.data], [1, 2, 3, 250]);
      assert.equal(sent!.key, "samples/raw");
    });
  });

  it("a value that cannot be encoded is dropped and reported, the rest of the call is kept", async () => {
    const memory = new InMemoryBackend();
    const errors: ErrorState[] = [];
    const logger = createLogger({
      backend: memory,
      exitFlushTimeoutMs: 0,
      onError: (state) => errors.push(state),
    });
    logger.log({ loss: 1, bad: new Blobby([], true) }, { step: 0 });
    const report = await logger.end();
    assert.equal(report.ok, false);
    assert.deepEqual(memory.metrics("loss"), [{ step: 0, value: 1 }]);
    assert.ok(
      errors.some((state) =>
        /"bad" at step 0 could not be encoded/.test(state.error.message)
      ),
    );
  });

  it("rebuilds the media index from the journal after a crash between the two writes", async () => {
    await withTempDir(async (dir) => {
      const logger = createLogger({ project: "m", dir, exitFlushTimeoutMs: 0 });
      logger.log({ a: new Blobby([7]) }, { step: 1 });
      logger.log({ b: new Blobby([8, 9]) }, { step: 2 });
      await logger.end();
      const indexPath = join(dir, "m", logger.runId, "media", "index.json");
      const index = JSON.parse(await readFile(indexPath, "utf8"));
      await writeFile(
        indexPath,
        JSON.stringify({ ...index, journalSeq: 0, items: [] }),
      );
      // Reopening the run (a replay) brings the index up to the journal.
      const backend = new LocalBackend({ dir });
      assert.equal(
        (await backend.send([{
          kind: "tag",
          runId: logger.runId,
          seq: 1,
          timestampMs: 0,
          tags: [],
        }], new AbortController().signal)).status,
        "success",
      );
      await backend.close();
      const entries = await new LocalStore({ dir }).listMedia(
        "m",
        logger.runId,
      );
      assert.deepEqual(entries.map((entry) => [entry.key, entry.sizeBytes]), [[
        "a",
        1,
      ], ["b", 2]]);
    });
  });
});

/** A media value whose encoding takes `delayMs` of real time. */
class Slow implements MediaValue {
  readonly [MEDIA_VALUE] = true as const;
  readonly mediaType = "blob";
  readonly sizeHintBytes: number;
  #delayMs: number;
  constructor(delayMs: number, sizeHintBytes = 10) {
    this.#delayMs = delayMs;
    this.sizeHintBytes = sizeHintBytes;
  }
  async encode(): Promise<EncodedMedia> {
    await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
    return {
      mediaType: "blob",
      contentType: "application/octet-stream",
      extension: "bin",
      data: new Uint8Array(1),
      metadata: {},
    };
  }
}

describe("media, after review", () => {
  it("events drained with a media value still encoding count as pending, not flushed", async () => {
    const memory = new InMemoryBackend();
    const logger = createLogger({
      backend: memory,
      exitFlushTimeoutMs: 0,
      onError: () => {},
    });
    logger.log({ loss: 1, slow: new Slow(600) }, { step: 0 });
    const early = await logger.flush({ timeoutMs: 100 });
    assert.equal(early.ok, false);
    assert.equal(early.backends[0].status, "pending");
    assert.ok(early.backends[0].pendingEvents >= 1, JSON.stringify(early));
    const done = await logger.end({ timeoutMs: 5000 });
    assert.equal(done.ok, true);
    assert.equal(
      memory.events.filter((event) => event.kind === "media").length,
      1,
    );
  });

  it("counts a media value's size against maxQueueBytes, so big images spill at once", async () => {
    const clock = new FakeClock();
    let appends = 0;
    const inner = new MemorySpool();
    const counting = delegatingSpool(inner, {
      append: (records) => {
        appends++;
        return inner.append(records);
      },
    });
    const processor = new BatchProcessor({
      backend: new InMemoryBackend(),
      spool: counting,
      clock,
      maxQueueBytes: 1024 * 1024,
    });
    processor.enqueue({
      kind: "pending_media",
      runId: "r",
      seq: 1,
      timestampMs: 0,
      step: 0,
      key: "big",
      value: new Slow(0, 4 * 1024 * 1024),
    });
    for (let i = 0; i < 20 && appends === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(appends, 1, "spilled without waiting for the flush interval");
    await processor.shutdown(1000);
  });

  it("keeps epoch and context with media, in events and in the index", async () => {
    await withTempDir(async (dir) => {
      const memory = new InMemoryBackend();
      const logger = createLogger({
        project: "m",
        backends: [new LocalBackend({ dir }), memory],
        exitFlushTimeoutMs: 0,
      });
      logger.log({ sample: new Blobby([1]) }, {
        step: 2,
        epoch: 1,
        context: "validate",
      });
      await logger.end();
      const event = memory.events.find((e): e is MediaEvent =>
        e.kind === "media"
      )!;
      assert.equal(event.epoch, 1);
      assert.equal(event.context, "validate");
      const [entry] = await new LocalStore({ dir }).listMedia(
        "m",
        logger.runId,
      );
      assert.equal(entry.epoch, 1);
      assert.equal(entry.context, "validate");
    });
  });

  it("keys with dots stay readable, and reading metrics does not need the media files", async () => {
    await withTempDir(async (dir) => {
      const logger = createLogger({ project: "m", dir, exitFlushTimeoutMs: 0 });
      logger.log({ loss: 1, "v1..v2": new Blobby([5]) }, { step: 0 });
      await logger.end();
      const store = new LocalStore({ dir });
      const [entry] = await store.listMedia("m", logger.runId);
      assert.ok(!entry.file.split("/").includes(".."), entry.file);
      assert.ok(!entry.file.includes(".."), entry.file);
      assert.deepEqual([
        ...await store.readMediaFile("m", logger.runId, entry.file),
      ], [5]);
      await assert.rejects(
        store.readMediaFile("m", logger.runId, "media/../run.json"),
        TypeError,
      );
      await rm(join(dir, "m", logger.runId, entry.file));
      const series = await store.readMetrics("m", logger.runId);
      assert.deepEqual(series.get("loss")?.map((point) => point.value), [1]);
    });
  });

  it("Image copies a Node Buffer (whose slice() would share its memory)", async () => {
    const png = await encodePng(Uint8Array.from([10, 20, 30, 40]), {
      width: 2,
      height: 2,
      channels: 1,
    });
    const buffer = Buffer.from(png);
    const image = new Image(buffer);
    buffer.fill(0);
    assert.deepEqual([...(await image.encode()).data], [...png]);
  });

  it("refuses absurd histogram bin counts and confusion matrices, naming the value", () => {
    assert.throws(
      () => new Histogram({ values: [1, 2], bins: 50_000_000 }),
      /'bins' must be an integer from 1 to 100000: current value is 50000000/,
    );
    const scores = Array.from({ length: 1500 }, (_, i) => i / 1500);
    assert.throws(
      () => new ConfusionMatrix({ yTrue: scores, yPred: scores }),
      /more than 1000 classes: current count is 1500/,
    );
  });
});
