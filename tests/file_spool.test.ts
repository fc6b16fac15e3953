// Unit tests of the durable FileSpool: order, the ack cursor, adoption of
// dead processes' sessions (with de-duplication), segment rotation, reading
// back from disk, rejection and cleanup.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx
// --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  mkdir,
  readdir,
  readFile,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import * as fsPromises from "node:fs/promises";
import { join } from "node:path";
import { FileSpool } from "../pipeline/file_spool.ts";
import { MemorySpool } from "../pipeline/memory_spool.ts";
import { OverflowSpool } from "../pipeline/overflow_spool.ts";
import type { SpoolRecord } from "../pipeline/spool.ts";
import { decodeEvent, encodeEvent } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import { SpoolError } from "../errors/errors.ts";
import type { FileSystemLike } from "../runtime/fs.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const LANE = "unit";
const nodeProcess = (globalThis as {
  process: { execPath: string; pid: number };
}).process;

function event(runId: string, seq: number): TrackingEvent {
  return {
    kind: "metric",
    runId,
    seq,
    timestampMs: 1_700_000_000_000 + seq,
    key: "loss",
    value: 1 / (seq + 1),
    step: seq,
  };
}

/** Records of `runId` with seqs `from..to` (inclusive), bytes left to the spool. */
function records(runId: string, from: number, to: number): SpoolRecord[] {
  const out: SpoolRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({ event: event(runId, seq), bytes: 0 });
  }
  return out;
}

/** NDJSON lines of `runId` seqs `from..to`, as a segment holds them. */
function lines(runId: string, from: number, to: number): string {
  let text = "";
  for (let seq = from; seq <= to; seq++) {
    text += encodeEvent(event(runId, seq)) + "\n";
  }
  return text;
}

const byteLength = (text: string) => new TextEncoder().encode(text).length;
const keyOf = (e: TrackingEvent) => `${e.runId}#${e.seq}`;
const keys = (runId: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${runId}#${from + i}`);

/** Peeks and acks until the spool is empty; returns what it held, in order. */
async function drain(
  spool: FileSpool,
  maxEvents = 7,
  maxBytes = 1 << 20,
): Promise<TrackingEvent[]> {
  await spool.sync(); // opens the spool (and adopts) if nothing did yet
  const out: TrackingEvent[] = [];
  for (let guard = 0; spool.pendingEvents > 0; guard++) {
    assert.ok(guard < 10_000, "drain does not make progress");
    const batch = await spool.peek(maxEvents, maxBytes);
    assert.ok(batch.length > 0, "peek returned nothing with events pending");
    for (const record of batch) out.push(record.event);
    await spool.ack(batch.length);
  }
  return out;
}

let cachedDeadPid: number | undefined;

/** The pid of a process that ran and exited (and was reaped). */
function deadPid(): number {
  if (cachedDeadPid !== undefined) return cachedDeadPid;
  const result = spawnSync(nodeProcess.execPath, ["--version"], {
    stdio: "ignore",
  });
  assert.equal(typeof result.pid, "number");
  cachedDeadPid = result.pid!;
  return cachedDeadPid;
}

/** Rewrites a session's owner file as if its process had died. */
async function markDead(sessionDir: string): Promise<void> {
  await writeFile(
    join(sessionDir, "owner.json"),
    JSON.stringify({ pid: deadPid(), startedMs: 0 }),
  );
}

/** Writes a session folder by hand, as some process left it. */
async function writeSession(
  laneDir: string,
  name: string,
  options: {
    pid: number;
    cursor: { segment: number; offset: number };
    segments: Record<number, string>;
  },
): Promise<string> {
  const dir = join(laneDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "owner.json"),
    JSON.stringify({ pid: options.pid, startedMs: 0 }),
  );
  await writeFile(join(dir, "ack.json"), JSON.stringify(options.cursor));
  for (const [index, text] of Object.entries(options.segments)) {
    const name = `segment-${String(index).padStart(6, "0")}.ndjson`;
    await writeFile(join(dir, name), text);
  }
  return dir;
}

async function sessions(laneDir: string): Promise<string[]> {
  const names = await readdir(laneDir).catch(() => [] as string[]);
  return names.filter((name) => /^[sat]-/.test(name)).sort();
}

/** The real filesystem, counting the files opened for reading. */
function countingFs(): { fs: FileSystemLike; reads: () => number } {
  let reads = 0;
  const real = fsPromises as unknown as FileSystemLike;
  const fs: FileSystemLike = {
    mkdir: (path, options) => real.mkdir(path, options),
    open: (path, flags) => {
      if (flags === "r") reads++;
      return real.open(path, flags);
    },
    readFile: real.readFile.bind(real),
    writeFile: (path, data) => real.writeFile(path, data),
    appendFile: (path, data) => real.appendFile(path, data),
    rename: (from, to) => real.rename(from, to),
    readdir: (path) => real.readdir(path),
    stat: (path) => real.stat(path),
    rm: (path, options) => real.rm(path, options),
    lstat: (path) => real.lstat(path),
    realpath: (path) => real.realpath(path),
  };
  return { fs, reads: () => reads };
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

describe("FileSpool", () => {
  it("appends, peeks and acks in order", async () => {
    await withTempDir(async (dir) => {
      const spool = new FileSpool({ dir, lane: LANE, adoptOrphans: false });
      assert.equal(await spool.append(records("r", 0, 4)), 0);
      await spool.append(records("r", 5, 9));
      assert.equal(spool.pendingEvents, 10);
      const expectedBytes = byteLength(lines("r", 0, 9));
      assert.equal(spool.pendingBytes, expectedBytes);

      const first = await spool.peek(4, 1 << 20);
      assert.deepEqual(first.map((r) => r.event.seq), [0, 1, 2, 3]);
      for (const record of first) {
        assert.deepEqual(record.event, event("r", record.event.seq));
        assert.equal(record.bytes, byteLength(encodeEvent(record.event)));
      }
      // Peeking does not consume.
      const again = await spool.peek(4, 1 << 20);
      assert.deepEqual(again.map((r) => r.event.seq), [0, 1, 2, 3]);
      // maxBytes bounds a batch, but at least one record is returned.
      assert.equal((await spool.peek(10, 1)).length, 1);
      const two = first[0].bytes + first[1].bytes;
      assert.equal((await spool.peek(10, two)).length, 2);

      await spool.ack(2);
      assert.equal(spool.pendingEvents, 8);
      assert.deepEqual(
        (await spool.peek(3, 1 << 20)).map((r) => r.event.seq),
        [2, 3, 4],
      );
      await spool.ack(0); // a no-op
      await assert.rejects(spool.ack(9), RangeError);

      const rest = await drain(spool, 3);
      assert.deepEqual(rest.map((e) => e.seq), [2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(spool.pendingEvents, 0);
      assert.equal(spool.pendingBytes, 0);
      assert.deepEqual(await spool.peek(10, 1 << 20), []);

      // Appending after a full drain goes on in order.
      await spool.append(records("r", 10, 12));
      assert.deepEqual((await drain(spool)).map((e) => e.seq), [10, 11, 12]);
      await spool.close();
    });
  });

  it("persists the ack cursor: a new process adopts only unacked records", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      const dead = new FileSpool({ dir, lane: LANE });
      await dead.append(records("r", 0, 9));
      const acked = await dead.peek(4, 1 << 20);
      assert.equal(acked.length, 4);
      await dead.ack(4);
      const cursor = JSON.parse(
        await readFile(join(dead.path, "ack.json"), "utf8"),
      );
      assert.deepEqual(cursor, {
        segment: 0,
        offset: byteLength(lines("r", 0, 3)),
      });
      // The process "dies": its session stays (closing keeps one with
      // pending records), its owner is no longer alive.
      await dead.close();
      await markDead(dead.path);

      const next = new FileSpool({ dir, lane: LANE });
      // The first use adopts; the new records go after the adopted ones.
      await next.append(records("q", 0, 1));
      assert.equal(next.adoptedEvents, 6);
      assert.equal(next.pendingEvents, 8);
      assert.deepEqual(await sessions(laneDir), [next.path.split("/").pop()]);
      assert.ok(!(await exists(dead.path)), "the dead session was removed");

      const replayed = await drain(next);
      assert.deepEqual(replayed.map(keyOf), [
        ...keys("r", 4, 9),
        ...keys("q", 0, 1),
      ]);
      for (const e of replayed) assert.deepEqual(e, event(e.runId, e.seq));

      // Everything acked: closing removes the session, nothing is left.
      await next.close();
      await dead.close();
      assert.deepEqual(await sessions(laneDir), []);

      // And a third process finds nothing to replay.
      const third = new FileSpool({ dir, lane: LANE });
      await third.append(records("z", 0, 0));
      assert.equal(third.adoptedEvents, 0);
      assert.equal(third.pendingEvents, 1);
      await third.ack(0);
      await drain(third);
      await third.close();
    });
  });

  it("de-duplicates by (runId, seq) when orphan sessions hold overlapping copies", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      const pid = deadPid();
      const start = { segment: 0, offset: 0 };
      // An adopter died while copying: its claimed folder still holds the
      // full pending part of run r, its own session a prefix of the copy,
      // torn in the middle of a line.
      await writeSession(laneDir, "a-adopter-original", {
        pid,
        cursor: start,
        segments: { 0: lines("r", 0, 9) },
      });
      const torn = encodeEvent(event("r", 6));
      await writeSession(laneDir, "s-adopter", {
        pid,
        cursor: start,
        segments: { 0: lines("r", 0, 5) + torn.slice(0, torn.length >> 1) },
      });
      // Two sessions with overlapping ranges of run p.
      await writeSession(laneDir, "s-b1", {
        pid,
        cursor: start,
        segments: { 0: lines("p", 0, 5) },
      });
      await writeSession(laneDir, "s-b2", {
        pid,
        cursor: start,
        segments: { 0: lines("p", 3, 9) },
      });
      // A session whose cursor is in its second segment (the first is done).
      await writeSession(laneDir, "s-c1", {
        pid,
        cursor: { segment: 1, offset: byteLength(lines("m", 5, 5)) },
        segments: { 0: lines("m", 0, 4), 1: lines("m", 5, 9) },
      });
      // A session with a partly acked first segment.
      await writeSession(laneDir, "s-d1", {
        pid,
        cursor: { segment: 0, offset: byteLength(lines("q", 0, 1)) },
        segments: { 0: lines("q", 0, 4) },
      });
      // A session without an owner file is not owned by anyone alive.
      await mkdir(join(laneDir, "s-e1"));
      await writeFile(
        join(laneDir, "s-e1", "segment-000000.ndjson"),
        lines("e", 0, 2),
      );
      // A stale half-created session (crash before publishing) is removed.
      await mkdir(join(laneDir, "t-stale"));
      const old = new Date(Date.now() - 3_600_000);
      await utimes(join(laneDir, "t-stale"), old, old);

      const spool = new FileSpool({ dir, lane: LANE });
      const all = await drain(spool);
      const got = all.map(keyOf);
      assert.equal(new Set(got).size, got.length, `duplicates in ${got}`);
      assert.deepEqual(
        [...got].sort(),
        [
          ...keys("r", 0, 9),
          ...keys("p", 0, 9),
          ...keys("m", 6, 9),
          ...keys("q", 2, 4),
          ...keys("e", 0, 2),
        ].sort(),
      );
      // Within each run, the replay keeps seq order.
      for (const runId of ["r", "p", "m", "q", "e"]) {
        const seqs = all.filter((e) => e.runId === runId).map((e) => e.seq);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), runId);
      }
      assert.equal(spool.adoptedEvents, got.length);
      for (const e of all) assert.deepEqual(e, event(e.runId, e.seq));
      // Every orphan was consumed; only the adopter's own session is left.
      assert.deepEqual(await sessions(laneDir), [spool.path.split("/").pop()]);
      await spool.close();
      assert.deepEqual(await sessions(laneDir), []);
    });
  });

  it("rotates segments and reads back from disk past the cache", async () => {
    await withTempDir(async (dir) => {
      const lineBytes = byteLength(lines("r", 10, 10));
      const counting = countingFs();
      const options = {
        dir,
        lane: LANE,
        maxSegmentBytes: lineBytes * 4,
        maxCacheBytes: lineBytes * 3,
      };
      const spool = new FileSpool({ ...options, fs: counting.fs });
      for (let batch = 0; batch < 10; batch++) {
        await spool.append(records("r", batch * 5 + 10, batch * 5 + 14));
      }
      const segmentFiles = (await readdir(spool.path)).filter((name) =>
        name.startsWith("segment-")
      ).sort();
      assert.equal(segmentFiles.length, 10, `segments: ${segmentFiles}`);
      let onDisk = "";
      for (const name of segmentFiles) {
        onDisk += await readFile(join(spool.path, name), "utf8");
      }
      assert.equal(onDisk, lines("r", 10, 59));
      assert.equal(spool.pendingBytes, byteLength(onDisk));

      // Reading back, interleaved with appends, keeps the order.
      const first = await drain(spool, 4);
      await spool.append(records("r", 60, 64));
      const head = await spool.peek(2, 1 << 20);
      await spool.ack(head.length);
      await spool.append(records("r", 65, 69));
      const rest = await drain(spool, 3);
      assert.deepEqual(
        [...first, ...head.map((r) => r.event), ...rest].map((e) => e.seq),
        Array.from({ length: 60 }, (_, i) => i + 10),
      );
      for (const e of rest) assert.deepEqual(e, event("r", e.seq));
      assert.ok(
        counting.reads() >= 10,
        `past the cache, records are read back from disk (${counting.reads()} reads)`,
      );

      // A dead process's multi-segment session is adopted from its cursor,
      // also through the disk path.
      await spool.append(records("s", 0, 29));
      const acked = await spool.peek(2, 1 << 20);
      await spool.ack(acked.length);
      const third = await spool.peek(1, 1 << 20);
      await spool.ack(third.length); // cursor in the middle of a segment
      await spool.close(); // the process dies, its session stays
      await markDead(spool.path);
      const next = new FileSpool(options);
      const adopted = await drain(next, 5);
      assert.deepEqual(adopted.map(keyOf), keys("s", 3, 29));
      assert.equal(next.adoptedEvents, 27);
      await next.close();
      await spool.close();
      assert.deepEqual(await sessions(join(dir, LANE)), []);
    });
  });

  it("deletes acknowledged segments when everything is cached", async () => {
    await withTempDir(async (dir) => {
      const lineBytes = byteLength(lines("r", 10, 10));
      const counting = countingFs();
      const spool = new FileSpool({
        dir,
        lane: LANE,
        maxSegmentBytes: lineBytes * 4,
        fs: counting.fs,
      });
      for (let batch = 0; batch < 5; batch++) {
        await spool.append(records("r", batch * 5 + 10, batch * 5 + 14));
      }
      const segmentsOf = async () =>
        (await readdir(spool.path)).filter((n) => n.startsWith("segment-"));
      assert.equal((await segmentsOf()).length, 5);
      assert.equal((await drain(spool, 6)).length, 25);
      assert.deepEqual(await segmentsOf(), ["segment-000004.ndjson"]);
      assert.equal(counting.reads(), 0, "cached records are not read back");
      await spool.close();
    });
  });

  it("reject() keeps the records in rejected.ndjson and moves on", async () => {
    await withTempDir(async (dir) => {
      const spool = new FileSpool({ dir, lane: LANE });
      await spool.append(records("r", 0, 4));
      const batch = await spool.peek(2, 1 << 20);
      assert.equal(batch.length, 2);
      await spool.reject(2, new Error("bad request: 400"));
      assert.equal(spool.pendingEvents, 3);
      assert.deepEqual(
        (await spool.peek(10, 1 << 20)).map((r) => r.event.seq),
        [2, 3, 4],
      );
      await spool.peek(1, 1 << 20);
      await spool.reject(1, new Error("forbidden"));

      const path = join(dir, LANE, "rejected.ndjson");
      const text = await readFile(path, "utf8");
      assert.ok(text.endsWith("\n"));
      const rows = text.slice(0, -1).split("\n");
      assert.equal(rows.length, 5);
      const header1 = JSON.parse(rows[0]);
      assert.equal(header1.rejected, "bad request: 400");
      assert.equal(typeof header1.at, "number");
      assert.deepEqual(decodeEvent(rows[1]), event("r", 0));
      assert.deepEqual(decodeEvent(rows[2]), event("r", 1));
      assert.equal(JSON.parse(rows[3]).rejected, "forbidden");
      assert.deepEqual(decodeEvent(rows[4]), event("r", 2));

      // Rejected records are acknowledged: they are not replayed.
      assert.deepEqual((await drain(spool)).map((e) => e.seq), [3, 4]);
      await spool.close();
      assert.deepEqual(await sessions(join(dir, LANE)), []);
      assert.ok(await exists(path), "rejected.ndjson outlives the session");
    });
  });

  it("does not adopt the session of a live owner", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      // A live session of this very process...
      const live = new FileSpool({ dir, lane: LANE });
      await live.append(records("live", 0, 4));
      // ...and one owned by another process that is still running.
      const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
      try {
        assert.equal(typeof sleeper.pid, "number");
        await writeSession(laneDir, "s-other", {
          pid: sleeper.pid!,
          cursor: { segment: 0, offset: 0 },
          segments: { 0: lines("other", 0, 2) },
        });
        const spool = new FileSpool({ dir, lane: LANE });
        await spool.append(records("mine", 0, 1));
        assert.equal(spool.adoptedEvents, 0);
        assert.deepEqual((await drain(spool)).map(keyOf), keys("mine", 0, 1));
        await spool.close();
        assert.ok(await exists(live.path));
        assert.ok(await exists(join(laneDir, "s-other")));
        assert.deepEqual(
          (await drain(live)).map(keyOf),
          keys("live", 0, 4),
          "the live owner still has all its records",
        );
        await live.close();
      } finally {
        sleeper.kill("SIGKILL");
        await new Promise((resolve) => {
          if (sleeper.exitCode !== null || sleeper.signalCode !== null) {
            resolve(undefined);
          } else sleeper.once("exit", resolve);
        });
      }
      // Once that process is gone, its session is adopted.
      const after = new FileSpool({ dir, lane: LANE });
      assert.deepEqual((await drain(after)).map(keyOf), keys("other", 0, 2));
      await after.close();
      assert.deepEqual(await sessions(laneDir), []);
    });
  });

  it("leaves orphans alone with adoptOrphans: false", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      await writeSession(laneDir, "s-orphan", {
        pid: deadPid(),
        cursor: { segment: 0, offset: 0 },
        segments: { 0: lines("o", 0, 2) },
      });
      const spool = new FileSpool({ dir, lane: LANE, adoptOrphans: false });
      await spool.append(records("mine", 0, 0));
      assert.equal(spool.adoptedEvents, 0);
      assert.deepEqual((await drain(spool)).map(keyOf), ["mine#0"]);
      await spool.close();
      assert.deepEqual(await sessions(laneDir), ["s-orphan"]);
    });
  });

  it("close() removes an empty session and keeps one with pending records", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      // Never used: nothing is created at all.
      const unused = new FileSpool({ dir, lane: LANE });
      await unused.close();
      assert.ok(!(await exists(laneDir)));

      const empty = new FileSpool({ dir, lane: LANE });
      await empty.append(records("r", 0, 2));
      assert.ok(await exists(join(empty.path, "owner.json")));
      await drain(empty);
      await empty.close();
      assert.ok(!(await exists(empty.path)), "an empty session is removed");
      await empty.close(); // idempotent
      await assert.rejects(empty.append(records("r", 3, 3)), SpoolError);
      await assert.rejects(empty.peek(1, 1), SpoolError);

      const pending = new FileSpool({ dir, lane: LANE });
      await pending.append(records("r", 0, 2));
      await pending.sync();
      await pending.close();
      assert.ok(await exists(pending.path), "a pending session is kept");
      assert.deepEqual(await sessions(laneDir), [
        pending.path.split("/").pop(),
      ]);
      // The next process replays it (its owner, this process, is alive:
      // pretend it died).
      await markDead(pending.path);
      const next = new FileSpool({ dir, lane: LANE });
      assert.deepEqual((await drain(next)).map(keyOf), keys("r", 0, 2));
      await next.close();
      assert.deepEqual(await sessions(laneDir), []);
    });
  });

  it("replays an orphan with a corrupt line: the line is set aside and reported, the rest delivered", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      const good = lines("c", 0, 2) + '{"v":1,"kind":"metric","runId":"c"\n' +
        lines("c", 3, 5);
      await writeSession(laneDir, "s-corrupt", {
        pid: deadPid(),
        cursor: { segment: 0, offset: 0 },
        segments: { 0: good },
      });
      const errors: SpoolError[] = [];
      const spool = new FileSpool({
        dir,
        lane: LANE,
        onError: (error) => errors.push(error),
      });
      assert.deepEqual((await drain(spool)).map(keyOf), keys("c", 0, 5));
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /not a valid event/);
      const corrupt = await readFile(join(laneDir, "corrupt.ndjson"), "utf8");
      assert.equal(corrupt, '{"v":1,"kind":"metric","runId":"c"\n');
      await spool.close();
      assert.deepEqual(await sessions(laneDir), []);
    });
  });

  it("deletes acknowledged segments while reading back from disk", async () => {
    await withTempDir(async (dir) => {
      const spool = new FileSpool({
        dir,
        lane: LANE,
        adoptOrphans: false,
        maxSegmentBytes: 400,
        maxCacheBytes: 100,
      });
      for (let i = 0; i < 10; i++) {
        await spool.append(records("d", i * 5, i * 5 + 4));
      }
      const segmentFiles = async () =>
        (await readdir(spool.path)).filter((name) =>
          name.startsWith("segment-")
        ).length;
      assert.ok((await segmentFiles()) >= 5, "the appends rotated segments");
      assert.deepEqual((await drain(spool, 3)).map(keyOf), keys("d", 0, 49));
      assert.equal(await segmentFiles(), 1, "only the tail segment is left");
      await spool.close();
    });
  });
  it("adopts a session closed with pending records earlier in this process, never one still open", async () => {
    await withTempDir(async (dir) => {
      const first = new FileSpool({ dir, lane: LANE });
      await first.append(records("same", 0, 4));
      await first.sync();
      const meanwhile = new FileSpool({ dir, lane: LANE });
      await meanwhile.sync();
      assert.equal(
        meanwhile.pendingEvents,
        0,
        "a session still open is not adopted",
      );
      await meanwhile.close();
      await first.close(); // pending: kept for a replay
      const next = new FileSpool({ dir, lane: LANE });
      assert.deepEqual((await drain(next)).map(keyOf), keys("same", 0, 4));
      assert.equal(next.adoptedEvents, 5);
      await next.close();
      assert.deepEqual(await sessions(join(dir, LANE)), []);
    });
  });
  it("OverflowSpool replays the overflow left on disk by a process that died", async () => {
    await withTempDir(async (dir) => {
      const make = () =>
        new OverflowSpool({
          primary: new MemorySpool({ maxBytes: Infinity }),
          createOverflow: () => new FileSpool({ dir, lane: LANE }),
          maxPrimaryBytes: byteLength(encodeEvent(event("o", 0))) +
            byteLength(encodeEvent(event("o", 1))),
        });
      const crashed = make();
      await crashed.append(
        records("o", 0, 9).map((record) => ({
          ...record,
          bytes: byteLength(encodeEvent(record.event)),
        })),
      );
      await crashed.sync();
      assert.equal(crashed.pendingEvents, 10);
      assert.equal(
        crashed.durableEvents,
        8,
        "two fit in memory, eight went to disk",
      );
      // The process dies: what was in memory is gone, the overflow stays on
      // disk (closing keeps a session with pending records), its owner too.
      await crashed.close();
      const [session] = await sessions(join(dir, LANE));
      await markDead(join(dir, LANE, session));

      const next = make();
      const replayed: TrackingEvent[] = [];
      for (let guard = 0; guard < 100; guard++) {
        const batch = await next.peek(3, 1 << 20);
        if (batch.length === 0) break;
        for (const record of batch) replayed.push(record.event);
        await next.ack(batch.length);
      }
      assert.deepEqual(replayed.map(keyOf), keys("o", 2, 9));
      await next.close();
    });
  });
  it("tells a process that had this pid before from a live copy of the library in this process", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      const pid = nodeProcess.pid;
      // A worker or second copy of the library, alive in this process.
      await writeSession(laneDir, "s-live", {
        pid,
        cursor: { segment: 0, offset: 0 },
        segments: { 0: lines("w", 0, 2) },
      });
      await writeFile(
        join(laneDir, "s-live", "owner.json"),
        JSON.stringify({ pid, process: "another-copy", startedMs: Date.now() }),
      );
      // A process that had this pid before this one started (containers).
      await writeSession(laneDir, "s-previous", {
        pid,
        cursor: { segment: 0, offset: 0 },
        segments: { 0: lines("c", 0, 2) },
      });
      await writeFile(
        join(laneDir, "s-previous", "owner.json"),
        JSON.stringify({ pid, process: "earlier-process", startedMs: 1 }),
      );
      const spool = new FileSpool({ dir, lane: LANE });
      assert.deepEqual((await drain(spool)).map(keyOf), keys("c", 0, 2));
      assert.ok(
        await exists(join(laneDir, "s-live")),
        "the live session is left alone",
      );
      await spool.close();
    });
  });

  it("a claimed folder belongs to its claimer: taken over only once the claimer is gone", async () => {
    await withTempDir(async (dir) => {
      const laneDir = join(dir, LANE);
      // Claimer "aaaa" is alive (a live copy in this process) and copying.
      await writeSession(laneDir, "s-aaaa", {
        pid: nodeProcess.pid,
        cursor: { segment: 0, offset: 0 },
        segments: {},
      });
      await writeFile(
        join(laneDir, "s-aaaa", "owner.json"),
        JSON.stringify({
          pid: nodeProcess.pid,
          process: "claimer",
          startedMs: Date.now(),
        }),
      );
      await writeSession(laneDir, "a-aaaa-orig1", {
        pid: deadPid(), // the original, dead owner: not what counts
        cursor: { segment: 0, offset: 0 },
        segments: { 0: lines("k", 0, 1) },
      });
      // Claimer "bbbb" is gone: its own session no longer exists.
      await writeSession(laneDir, "a-bbbb-orig2", {
        pid: deadPid(),
        cursor: { segment: 0, offset: 0 },
        segments: { 0: lines("g", 0, 1) },
      });
      const spool = new FileSpool({ dir, lane: LANE });
      assert.deepEqual((await drain(spool)).map(keyOf), keys("g", 0, 1));
      assert.ok(
        await exists(join(laneDir, "a-aaaa-orig1")),
        "a live claimer's folder is left alone",
      );
      await spool.close();
    });
  });
});
