// The local store backend and its reader: run ids reused by another logger,
// failed writes, concurrent readers, and replay of a spilled queue left by a
// process that died.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fsPromises from "node:fs/promises";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "../mod.ts";
import { LocalBackend, LocalStore } from "../backends/local/mod.ts";
import { encodeEvent } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import type { ErrorState } from "../pipeline/mod.ts";
import type { FileHandleLike, FileSystemLike } from "../runtime/fs.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const signal = new AbortController().signal;
const RUN = "a1b2c3";

function start(timestampMs = 1000): TrackingEvent {
  return {
    kind: "run_start",
    runId: RUN,
    seq: 0,
    timestampMs,
    project: "p",
    tags: [],
  };
}

function point(seq: number): TrackingEvent {
  return {
    kind: "metric",
    runId: RUN,
    seq,
    timestampMs: 1000 + seq,
    key: "loss",
    value: seq / 10,
    step: seq,
  };
}

describe("LocalBackend", () => {
  it("refuses a run id that another logger already used, loudly, and keeps the stored run intact", async () => {
    await withTempDir(async (dir) => {
      const first = createLogger({
        project: "p",
        runId: RUN,
        dir,
        exitFlushTimeoutMs: 0,
      });
      for (let step = 0; step < 5; step++) first.log({ loss: step }, { step });
      assert.equal((await first.end()).ok, true);

      const errors: ErrorState[] = [];
      const second = createLogger({
        project: "p",
        runId: RUN,
        dir,
        exitFlushTimeoutMs: 0,
        onError: (state) => errors.push(state),
        clock: {
          now: () => Date.now() + 1000,
          setTimeout,
          clearTimeout,
        } as never,
      });
      for (let step = 5; step < 8; step++) second.log({ loss: step }, { step });
      const report = await second.end();
      assert.equal(report.ok, false);
      assert.ok(second.stats().dropped > 0);
      assert.ok(
        errors.some((state) =>
          /already exists/.test(state.error.message) ||
          /already exists/.test(String(state.error.cause))
        ),
        errors.map((state) => state.error.message).join("\n"),
      );
      const store = new LocalStore({ dir });
      const steps = (await store.readMetrics("p", RUN)).get("loss")?.map((p) =>
        p.step
      );
      assert.deepEqual(steps, [0, 1, 2, 3, 4]);
      assert.equal((await store.getRun("p", RUN)).status, "finished");
    });
  });

  it("replaying a batch that was stored already writes nothing twice", async () => {
    await withTempDir(async (dir) => {
      const backend = new LocalBackend({ dir });
      const batch = [start(), point(1), point(2)];
      assert.equal((await backend.send(batch, signal)).status, "success");
      await backend.close();
      const again = new LocalBackend({ dir });
      assert.equal(
        (await again.send([...batch, point(3)], signal)).status,
        "success",
      );
      await again.close();
      const events = [];
      for await (const event of new LocalStore({ dir }).readEvents("p", RUN)) {
        events.push(event.seq);
      }
      assert.deepEqual(events, [0, 1, 2, 3]);
    });
  });

  it("a failed write leaves no torn line, and its retry stores each event once", async () => {
    await withTempDir(async (dir) => {
      let failNext = false;
      const fs: FileSystemLike = {
        ...(fsPromises as unknown as FileSystemLike),
        async open(path: string, flags: string): Promise<FileHandleLike> {
          const handle = await fsPromises.open(
            path,
            flags,
          ) as unknown as FileHandleLike;
          if (!path.endsWith("events.ndjson") || flags !== "a") return handle;
          return {
            ...bind(handle),
            async write(data: string | Uint8Array): Promise<unknown> {
              if (!failNext) return await handle.write(data);
              failNext = false;
              // Half the text reaches the file, then the disk is full.
              await handle.write(
                typeof data === "string"
                  ? data.slice(0, data.length >> 1)
                  : data.subarray(0, data.length >> 1),
              );
              throw Object.assign(new Error("no space left on device"), {
                code: "ENOSPC",
              });
            },
          };
        },
      };
      const backend = new LocalBackend({ dir, fs });
      assert.equal(
        (await backend.send([start(), point(1)], signal)).status,
        "success",
      );
      failNext = true;
      const failed = await backend.send([point(2), point(3)], signal);
      assert.equal(failed.status, "retryable");
      assert.equal(
        (await backend.send([point(2), point(3)], signal)).status,
        "success",
      );
      await backend.close();
      const text = await readFile(join(dir, "p", RUN, "events.ndjson"), "utf8");
      assert.equal(
        text,
        [start(), point(1), point(2), point(3)].map((e) =>
          encodeEvent(e) + "\n"
        ).join(""),
      );
    });
  });
});

describe("LocalBackend and run.json", () => {
  it("rewrites run.json after a failed metadata write, on the next send even if it only replays", async () => {
    await withTempDir(async (dir) => {
      let failRename = false;
      const fs: FileSystemLike = {
        ...(fsPromises as unknown as FileSystemLike),
        rename(from: string, to: string): Promise<void> {
          if (failRename && to.endsWith("run.json")) {
            failRename = false;
            return Promise.reject(
              Object.assign(new Error("i/o error"), { code: "EIO" }),
            );
          }
          return fsPromises.rename(from, to);
        },
      };
      const backend = new LocalBackend({ dir, fs });
      assert.equal(
        (await backend.send([start(), point(1)], signal)).status,
        "success",
      );
      const end: TrackingEvent = {
        kind: "run_end",
        runId: RUN,
        seq: 2,
        timestampMs: 2000,
        status: "finished",
      };
      const param: TrackingEvent = {
        kind: "param",
        runId: RUN,
        seq: 2,
        timestampMs: 1500,
        key: "lr",
        value: 0.1,
      };
      failRename = true;
      const batch = [param, { ...end, seq: 3 }];
      assert.equal((await backend.send(batch, signal)).status, "retryable");
      // The retry only replays events the journal has: run.json must follow.
      assert.equal((await backend.send(batch, signal)).status, "success");
      await backend.close();
      const run = await new LocalStore({ dir }).getRun("p", RUN);
      assert.deepEqual(run.params, { lr: 0.1 });
      assert.equal(run.status, "finished");
    });
  });

  it("rebuilds run.json from the journal after a crash between the two writes", async () => {
    await withTempDir(async (dir) => {
      const backend = new LocalBackend({ dir });
      const events: TrackingEvent[] = [
        start(),
        { kind: "tag", runId: RUN, seq: 1, timestampMs: 1001, tags: ["a"] },
        {
          kind: "param",
          runId: RUN,
          seq: 2,
          timestampMs: 1002,
          key: "lr",
          value: 0.5,
        },
        point(3),
        {
          kind: "run_end",
          runId: RUN,
          seq: 4,
          timestampMs: 1004,
          status: "failed",
        },
      ];
      assert.equal((await backend.send(events, signal)).status, "success");
      await backend.close();
      // The crash: run.json is from before the last events.
      const path = join(dir, "p", RUN, "run.json");
      const stale = JSON.parse(await readFile(path, "utf8"));
      await writeFile(
        path,
        JSON.stringify({
          ...stale,
          tags: [],
          params: {},
          status: "running",
          journalSeq: 0,
        }),
      );
      // Replaying (what a spool does after the crash) finds the journal ahead.
      const again = new LocalBackend({ dir });
      assert.equal(
        (await again.send(events.slice(3), signal)).status,
        "success",
      );
      await again.close();
      const run = await new LocalStore({ dir }).getRun("p", RUN);
      assert.deepEqual(run.tags, ["a"]);
      assert.deepEqual(run.params, { lr: 0.5 });
      assert.equal(run.status, "failed");
      assert.equal(run.journalSeq, 4);
    });
  });

  it("refuses a reused run id in the same backend, and when two loggers start it at once", async () => {
    await withTempDir(async (dir) => {
      const backend = new LocalBackend({ dir });
      assert.equal(
        (await backend.send([start(1000), point(1)], signal)).status,
        "success",
      );
      const reused = await backend.send(
        [start(2000), point(1), point(2)],
        signal,
      );
      assert.equal(reused.status, "failure");
      await backend.close();

      const [a, b] = [new LocalBackend({ dir }), new LocalBackend({ dir })];
      const other = "z9z9";
      const startOf = (timestampMs: number): TrackingEvent => ({
        ...start(timestampMs),
        runId: other,
      });
      const results = await Promise.all([
        a.send([startOf(1), { ...point(1), runId: other }], signal),
        b.send([startOf(2), { ...point(1), runId: other }], signal),
      ]);
      assert.deepEqual(results.map((result) => result.status).sort(), [
        "failure",
        "success",
      ]);
      await a.close();
      await b.close();
      const seqs = [];
      for await (
        const event of new LocalStore({ dir }).readEvents("p", other)
      ) seqs.push(event.seq);
      assert.deepEqual(seqs, [0, 1]);
      const firstStored = [];
      for await (const event of new LocalStore({ dir }).readEvents("p", RUN)) {
        firstStored.push(event);
      }
      assert.equal(
        firstStored[0].timestampMs,
        1000,
        "the stored start is the first logger's",
      );
    });
  });

  it("a send after close() fails instead of reopening files", async () => {
    await withTempDir(async (dir) => {
      const backend = new LocalBackend({ dir });
      const sending = backend.send([start(), point(1)], signal);
      const closing = backend.close();
      assert.equal((await sending).status, "success");
      await closing;
      assert.equal((await backend.send([point(2)], signal)).status, "failure");
    });
  });
});

function bind(handle: FileHandleLike): FileHandleLike {
  return {
    write: handle.write.bind(handle),
    read: handle.read.bind(handle),
    datasync: handle.datasync.bind(handle),
    truncate: handle.truncate.bind(handle),
    stat: handle.stat.bind(handle),
    close: handle.close.bind(handle),
  };
}

describe("LocalStore", () => {
  it("serves concurrent readers without mixing their text", async () => {
    await withTempDir(async (dir) => {
      // A journal in which a two-byte character straddles the reader's 1 MiB
      // chunk boundary: a decoder shared between readers would hand the
      // dangling byte of one reader to another.
      const CHUNK = 1024 * 1024;
      const encoder = new TextEncoder();
      let text = "";
      let events = 0;
      for (let pad = 0; pad < 400; pad++) {
        const lines = [encodeEvent(start())];
        let bytes = encoder.encode(lines[0]).length + 1;
        for (let seq = 1; bytes < CHUNK + 4096; seq++) {
          const key = seq === 1 ? "x".repeat(pad) + "精度" : "精度";
          const line = encodeEvent(
            { ...point(seq), key, context: "é".repeat(40) } as TrackingEvent,
          );
          lines.push(line);
          bytes += encoder.encode(line).length + 1;
        }
        text = lines.join("\n") + "\n";
        const byte = encoder.encode(text)[CHUNK];
        if (byte >= 0x80 && byte < 0xc0) {
          events = lines.length - 1;
          break;
        }
      }
      assert.ok(events > 0, "no padding put a character across the boundary");
      await fsPromises.mkdir(join(dir, "p", RUN), { recursive: true });
      await writeFile(join(dir, "p", RUN, "events.ndjson"), text);
      const store = new LocalStore({ dir });
      const all = await Promise.all(
        [1, 2, 3].map(() => store.readMetrics("p", RUN)),
      );
      for (const series of all) {
        let count = 0;
        for (const [key, points] of series) {
          assert.match(key, /^x*精度$/);
          for (const p of points) {
            count++;
            assert.equal(p.context, "é".repeat(40));
          }
        }
        assert.equal(count, events);
      }
    });
  });

  it("skips a torn last line left by a crash", async () => {
    await withTempDir(async (dir) => {
      const backend = new LocalBackend({ dir });
      assert.equal(
        (await backend.send([start(), point(1)], signal)).status,
        "success",
      );
      await backend.close();
      const path = join(dir, "p", RUN, "events.ndjson");
      await writeFile(
        path,
        (await readFile(path, "utf8")) + encodeEvent(point(2)).slice(0, 30),
      );
      const seqs = [];
      for await (const event of new LocalStore({ dir }).readEvents("p", RUN)) {
        seqs.push(event.seq);
      }
      assert.deepEqual(seqs, [0, 1]);
    });
  });
});
