// Media values through the logger, the pipeline and the local store: encoded
// once off the hot path for every backend, stored as files with an index,
// read back whole.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
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

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "uetai-media-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
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
