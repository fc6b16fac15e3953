import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogValues,
  registeredBackends,
} from "../logger/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import type { ErrorState } from "../pipeline/mod.ts";
import { TrackerError } from "../errors/errors.ts";
import {
  decodeEvent,
  decodeEvents,
  encodeEvent,
  encodeEvents,
  EVENT_SCHEMA_VERSION,
  utf8ByteLength,
} from "../event/codec.ts";
import {
  EVENT_KINDS,
  type MetricEvent,
  type ParamEvent,
  type TrackingEvent,
} from "../event/types.ts";
import { FakeClock } from "./helpers/fake_clock.ts";

const START_MS = 1_700_000_000_000;

interface Setup {
  backend: InMemoryBackend;
  clock: FakeClock;
  logger: Logger;
  errors: ErrorState[];
}

function setup(options: LoggerOptions = {}): Setup {
  const backend = new InMemoryBackend();
  const clock = new FakeClock(START_MS);
  const errors: ErrorState[] = [];
  const logger = createLogger({
    backend,
    exitFlushTimeoutMs: 0,
    spool: "memory",
    clock,
    env: {},
    onError: (state) => errors.push(state),
    ...options,
  });
  return { backend, clock, logger, errors };
}

/** Flushes and returns everything the backend received. */
async function sent(
  logger: Logger,
  backend: InMemoryBackend,
): Promise<readonly TrackingEvent[]> {
  const report = await logger.flush();
  assert.equal(report.ok, true, "the flush completed");
  return backend.events;
}

function metrics(events: readonly TrackingEvent[]): MetricEvent[] {
  return events.filter((e): e is MetricEvent => e.kind === "metric");
}

function params(events: readonly TrackingEvent[]): ParamEvent[] {
  return events.filter((e): e is ParamEvent => e.kind === "param");
}

function assertContiguousSeq(events: readonly TrackingEvent[]): void {
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i),
    "seq is 0, 1, 2, ... with no gap",
  );
}

class Point {
  x = 1;
  y = 2;
}

// ---------------------------------------------------------------------------

describe("Logger.log", () => {
  it("Logger.log() flattens nested objects to a/b keys and stamps runId, seq, step, epoch, context and timestampMs", async () => {
    const { backend, logger } = setup({
      runId: "run-abc",
      project: "mnist",
      name: "baseline",
      tags: ["x", "y", "x"],
    });
    logger.log(
      { loss: 0.5, eval: { accuracy: 0.9, per_class: { cat: 0.8, dog: 1 } } },
      { step: 7, epoch: 2, context: "train", timestampMs: 1234 },
    );
    logger.log({ lr: 0.01 });
    const events = await sent(logger, backend);

    assert.deepEqual(events[0], {
      kind: "run_start",
      runId: "run-abc",
      seq: 0,
      timestampMs: START_MS,
      project: "mnist",
      name: "baseline",
      tags: ["x", "y"],
    });
    assert.deepEqual(events.slice(1), [
      {
        kind: "metric",
        runId: "run-abc",
        seq: 1,
        timestampMs: 1234,
        key: "loss",
        value: 0.5,
        step: 7,
        epoch: 2,
        context: "train",
      },
      {
        kind: "metric",
        runId: "run-abc",
        seq: 2,
        timestampMs: 1234,
        key: "eval/accuracy",
        value: 0.9,
        step: 7,
        epoch: 2,
        context: "train",
      },
      {
        kind: "metric",
        runId: "run-abc",
        seq: 3,
        timestampMs: 1234,
        key: "eval/per_class/cat",
        value: 0.8,
        step: 7,
        epoch: 2,
        context: "train",
      },
      {
        kind: "metric",
        runId: "run-abc",
        seq: 4,
        timestampMs: 1234,
        key: "eval/per_class/dog",
        value: 1,
        step: 7,
        epoch: 2,
        context: "train",
      },
      {
        kind: "metric",
        runId: "run-abc",
        seq: 5,
        timestampMs: START_MS,
        key: "lr",
        value: 0.01,
        step: 8,
      },
    ]);
    assert.equal(logger.runId, "run-abc");
    assert.equal(logger.project, "mnist");
    await logger.end();
  });

  it("Logger.log() stamps points with the clock's time when no timestampMs is given", async () => {
    const { backend, clock, logger } = setup();
    await clock.tick(250);
    logger.log({ a: 1 });
    await clock.tick(250);
    logger.log({ a: 2 });
    const points = metrics(await sent(logger, backend));
    assert.deepEqual(points.map((p) => p.timestampMs), [
      START_MS + 250,
      START_MS + 500,
    ]);
    assert.ok(points.every((p) => p.runId === logger.runId));
    await logger.end();
  });

  it("Logger.log() without a step continues from the highest step used plus one", async () => {
    const { backend, logger } = setup();
    logger.log({ x: 1 });
    logger.log({ x: 2 });
    logger.log({ x: 3 }, { step: 10 });
    logger.log({ x: 4 });
    logger.log({ x: 5 }, { step: 3 });
    logger.log({ x: 6 });
    await sent(logger, backend);
    assert.deepEqual(backend.metrics("x"), [
      { step: 0, value: 1 },
      { step: 1, value: 2 },
      { step: 10, value: 3 },
      { step: 11, value: 4 },
      { step: 3, value: 5 },
      { step: 12, value: 6 },
    ]);
    await logger.end();
  });

  it("Logger.log() rejects values that are not numbers with a TypeError naming the key and the value's type", async () => {
    const { backend, logger } = setup();
    const cases: Array<[Record<string, unknown>, RegExp[]]> = [
      [{ ok: 1, name: "adam" }, [/"name"/, /string "adam"/]],
      [{ flag: true }, [/"flag"/, /boolean true/]],
      [{ list: [1, 2] }, [/"list"/, /an array/]],
      [{ nothing: null }, [/"nothing"/, /null/]],
      [{ point: new Point() }, [/"point"/, /an instance of Point/]],
      [{ when: new Date(0) }, [/"when"/, /an instance of Date/]],
      [{ outer: { inner: "deep" } }, [/"outer\/inner"/, /string "deep"/]],
      [{ big: 10n }, [/"big"/, /bigint/]],
    ];
    for (const [values, patterns] of cases) {
      assert.throws(
        () => logger.log(values as unknown as LogValues, { step: 5 }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `TypeError for ${patterns[0]}`);
          for (const pattern of patterns) assert.match(error.message, pattern);
          return true;
        },
      );
    }
    assert.throws(
      () => logger.log("loss" as unknown as LogValues),
      (error: unknown) =>
        error instanceof TypeError && /string "loss"/.test(error.message),
    );
    assert.throws(
      () => logger.log([1, 2] as unknown as LogValues),
      (error: unknown) =>
        error instanceof TypeError && /an array/.test(error.message),
    );
    const events = await sent(logger, backend);
    assert.deepEqual(events.map((e) => e.kind), ["run_start"]);
    await logger.end();
  });

  it("Logger.log() rejects a step that is not a non-negative integer with a RangeError", async () => {
    const { backend, logger } = setup();
    for (const step of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(
        () => logger.log({ loss: 1 }, { step }),
        (error: unknown) =>
          error instanceof RangeError && /'step'/.test(error.message) &&
          error.message.includes(String(step)),
        `step ${step}`,
      );
    }
    assert.throws(
      () => logger.log({ loss: 1 }, { epoch: NaN }),
      RangeError,
    );
    assert.throws(
      () => logger.log({ loss: 1 }, { timestampMs: Infinity }),
      RangeError,
    );
    assert.throws(
      () => logger.log({ loss: 1 }, { context: 3 as unknown as string }),
      TypeError,
    );
    assert.equal(metrics(await sent(logger, backend)).length, 0);
    await logger.end();
  });

  it("Logger.log() is all-or-nothing: a rejected call sends nothing, leaves no seq gap and does not advance the step", async () => {
    const { backend, logger } = setup({ nonFinite: "error" });
    assert.throws(
      () =>
        logger.log({ a: 1, b: { c: 2, d: "bad" } } as unknown as LogValues, {
          step: 50,
        }),
      TypeError,
    );
    assert.throws(() => logger.log({ a: 1, b: NaN }, { step: 60 }), RangeError);
    assert.throws(() => logger.log({ a: 1 }, { step: -3 }), RangeError);
    logger.log({ a: 10 });
    logger.log({ a: 11, b: 12 });
    const events = await sent(logger, backend);
    assertContiguousSeq(events);
    assert.deepEqual(
      metrics(events).map((m) => [m.key, m.value, m.step]),
      [["a", 10, 0], ["a", 11, 1], ["b", 12, 1]],
    );
    await logger.end();
    assertContiguousSeq(backend.events);
  });

  // Regression test for a fixed bug (logger/logger.ts, #flatten, line 610): the slow path counts a
  // key with `if (!(name in out)) count++`, and `out` is a plain `{}`, so
  // keys inherited from Object.prototype ("constructor", "toString",
  // "valueOf", ...) are stored but not counted. The group then expands to
  // more events than the seqs reserved, and the next event reuses a seq:
  // log({ nested: { x: 1 }, constructor: 2 }) then log({ after: 4 }) gives
  // seqs 1, 2 and 2 again.
  it("Logger.log() gives every point its own seq, even for keys named like Object.prototype members", async () => {
    const { backend, logger } = setup();
    logger.log({ nested: { x: 1 }, constructor: 2, toString: 3 });
    logger.log({ after: 4 });
    const events = await sent(logger, backend);
    assert.deepEqual(metrics(events).map((m) => m.key), [
      "nested/x",
      "constructor",
      "toString",
      "after",
    ]);
    assertContiguousSeq(events);
    await logger.end();
  });

  it('Logger.log() with nonFinite "keep" sends NaN and ±Infinity to the backend', async () => {
    const { backend, logger } = setup({ nonFinite: "keep" });
    logger.log({ nan: NaN, pinf: Infinity, ninf: -Infinity, fine: 1 }, {
      step: 0,
    });
    const points = metrics(await sent(logger, backend));
    assert.deepEqual(points.map((p) => [p.key, p.value]), [
      ["nan", NaN],
      ["pinf", Infinity],
      ["ninf", -Infinity],
      ["fine", 1],
    ]);
    assert.ok(Number.isNaN(points[0].value));
    await logger.end();
  });

  it("Logger.log() keeps non-finite values by default", async () => {
    const { backend, logger } = setup();
    logger.log({ nan: NaN });
    const points = metrics(await sent(logger, backend));
    assert.equal(points.length, 1);
    assert.ok(Number.isNaN(points[0].value));
    await logger.end();
  });

  it('Logger.log() with nonFinite "drop" skips NaN and ±Infinity and keeps the rest', async () => {
    const { backend, logger } = setup({ nonFinite: "drop" });
    logger.log({ a: NaN, b: 2, c: { d: -Infinity, e: 3 }, f: Infinity }, {
      step: 4,
    });
    const events = await sent(logger, backend);
    assert.deepEqual(metrics(events).map((p) => [p.key, p.value, p.step]), [
      ["b", 2, 4],
      ["c/e", 3, 4],
    ]);
    assertContiguousSeq(events);
    await logger.end();
  });

  it('Logger.log() with nonFinite "error" throws a RangeError naming the key and the value', async () => {
    const { backend, logger } = setup({ nonFinite: "error" });
    for (
      const [value, text] of [
        [NaN, "NaN"],
        [Infinity, "Infinity"],
        [-Infinity, "-Infinity"],
      ] as const
    ) {
      assert.throws(
        () => logger.log({ ok: 1, group: { bad: value } }),
        (error: unknown) =>
          error instanceof RangeError &&
          error.message.includes('"group/bad"') &&
          error.message.includes(`value ${text} `),
      );
    }
    assert.equal(metrics(await sent(logger, backend)).length, 0);
    await logger.end();
  });

  it("createLogger() rejects an unknown nonFinite policy with a TypeError", () => {
    assert.throws(
      () => setup({ nonFinite: "ignore" as unknown as "keep" }),
      (error: unknown) =>
        error instanceof TypeError && /nonFinite/.test(error.message),
    );
  });
});

describe("Logger.logParams", () => {
  it("Logger.logParams() flattens nested objects and Maps, stores arrays as JSON text, dates as ISO text and skips undefined", async () => {
    const { backend, logger } = setup();
    logger.logParams({
      lr: 0.001,
      model: {
        layers: 3,
        activation: "relu",
        optimizer: { name: "adam", betas: [0.9, 0.999] },
      },
      tags: ["a", "b"],
      skipped: undefined,
      seed: null,
      debug: false,
      started: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      mapped: new Map<string, unknown>([
        ["k", 1],
        ["inner", new Map([["x", true]])],
        ["gone", undefined],
      ]),
      big: 12345678901234567890n,
      inf: Infinity,
    });
    const events = await sent(logger, backend);
    const found = params(events);
    assert.deepEqual(found.map((p) => [p.key, p.value]), [
      ["lr", 0.001],
      ["model/layers", 3],
      ["model/activation", "relu"],
      ["model/optimizer/name", "adam"],
      ["model/optimizer/betas", "[0.9,0.999]"],
      ["tags", '["a","b"]'],
      ["seed", null],
      ["debug", false],
      ["started", "2024-01-02T03:04:05.000Z"],
      ["mapped/k", 1],
      ["mapped/inner/x", true],
      ["big", "12345678901234567890"],
      ["inf", "Infinity"],
    ]);
    assert.ok(found.every((p) => p.runId === logger.runId));
    assert.ok(found.every((p) => p.timestampMs === START_MS));
    assertContiguousSeq(events);
    await logger.end();
  });

  it("Logger.logParams() rejects values that cannot be parameters with a TypeError naming the key, and logs nothing of the call", async () => {
    const { backend, logger } = setup();
    const selfReferencing: Record<string, unknown> = { a: 1 };
    selfReferencing.loop = { back: selfReferencing };
    const cases: Array<[Record<string, unknown>, RegExp[]]> = [
      [{ ok: 1, cfg: { callback: () => 1 } }, [
        /"cfg\/callback"/,
        /a function/,
      ]],
      [{ point: new Point() }, [/"point"/, /an instance of Point/]],
      [{ sym: Symbol("s") }, [/"sym"/, /symbol/]],
      [selfReferencing, [/"loop\/back"/, /refers to itself/]],
      [{ list: [1n] }, [/"list"/, /JSON/]],
    ];
    for (const [values, patterns] of cases) {
      assert.throws(
        () => logger.logParams(values),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `TypeError for ${patterns[0]}`);
          for (const pattern of patterns) assert.match(error.message, pattern);
          return true;
        },
      );
    }
    for (const bad of ["x", null, [1, 2], 5]) {
      assert.throws(
        () => logger.logParams(bad as unknown as Record<string, unknown>),
        TypeError,
      );
    }
    logger.logParams({ after: "yes" });
    const events = await sent(logger, backend);
    assert.deepEqual(params(events).map((p) => [p.key, p.value]), [[
      "after",
      "yes",
    ]]);
    assertContiguousSeq(events);
    await logger.end();
  });
});

describe("Logger run metadata", () => {
  it("Logger.addTags() sends one tag event without repeats and validates every tag first", async () => {
    const { backend, logger } = setup();
    logger.addTags(["a", "b", "a"]);
    logger.addTags([]);
    assert.throws(
      () => logger.addTags(["ok", ""]),
      (error: unknown) =>
        error instanceof TypeError && /tag string ""/.test(error.message),
    );
    assert.throws(
      () => logger.addTags(["ok", 3 as unknown as string]),
      (error: unknown) =>
        error instanceof TypeError && /tag number 3/.test(error.message),
    );
    assert.throws(
      () => logger.addTags("a" as unknown as string[]),
      (error: unknown) =>
        error instanceof TypeError &&
        /expected an array of strings/.test(error.message),
    );
    const events = await sent(logger, backend);
    const tags = events.filter((e) => e.kind === "tag");
    assert.deepEqual(tags, [{
      kind: "tag",
      runId: logger.runId,
      seq: 1,
      timestampMs: START_MS,
      tags: ["a", "b"],
    }]);
    assertContiguousSeq(events);
    await logger.end();
  });

  it("Logger.setName() renames the run and rejects names that are not non-empty strings", async () => {
    const { backend, logger } = setup({ name: "first" });
    assert.equal(logger.name, "first");
    logger.setName("second ✓");
    assert.equal(logger.name, "second ✓");
    for (const bad of ["", 5, null, undefined]) {
      assert.throws(
        () => logger.setName(bad as unknown as string),
        (error: unknown) =>
          error instanceof TypeError &&
          /expected a non-empty string/.test(error.message),
      );
    }
    assert.equal(logger.name, "second ✓");
    const events = await sent(logger, backend);
    assert.deepEqual(events.map((e) => e.kind), ["run_start", "run_name"]);
    assert.deepEqual(events[1], {
      kind: "run_name",
      runId: logger.runId,
      seq: 1,
      timestampMs: START_MS,
      name: "second ✓",
    });
    await logger.end();
  });

  it("createLogger() rejects bad names, tags, projects and run ids with a TypeError", () => {
    for (
      const options of [
        { name: "" },
        { tags: ["ok", ""] },
        { tags: "a" as unknown as string[] },
        { project: "a/b" },
        { project: ".hidden" },
        { runId: "" },
        { runId: "x:y" },
        { spool: "disk" as unknown as "memory" },
      ]
    ) {
      assert.throws(() => setup(options), TypeError, JSON.stringify(options));
    }
  });
});

describe("Logger lifecycle", () => {
  it("Logger.end() records the status once, flushes, closes the backend and returns the same report when called again", async () => {
    const { backend, logger } = setup();
    logger.log({ loss: 1 });
    assert.equal(logger.ended, false);
    const first = logger.end({ status: "failed" });
    const second = logger.end({ status: "killed" });
    assert.equal(first, second, "the same promise");
    assert.equal(logger.ended, true);
    const report = await first;
    assert.deepEqual(report, {
      ok: true,
      backends: [{
        backend: "memory",
        status: "flushed",
        pendingEvents: 0,
        droppedEvents: 0,
      }],
    });
    const ends = backend.events.filter((e) => e.kind === "run_end");
    assert.deepEqual(ends, [{
      kind: "run_end",
      runId: logger.runId,
      seq: 2,
      timestampMs: START_MS,
      status: "failed",
    }]);
    assert.equal(backend.events.at(-1)?.kind, "run_end");
    assert.equal(backend.closed, true);
    assert.equal(await logger.end(), report);
    assertContiguousSeq(backend.events);
  });

  it('Logger.end() defaults to status "finished" and rejects an unknown status without ending', async () => {
    const { backend, logger } = setup();
    assert.throws(
      () => logger.end({ status: "done" as unknown as "finished" }),
      (error: unknown) =>
        error instanceof TypeError && /string "done"/.test(error.message),
    );
    assert.equal(logger.ended, false);
    assert.equal(backend.events.length, 0);
    await logger.end();
    const ends = backend.events.filter((e) => e.kind === "run_end");
    assert.equal(ends.length, 1);
    assert.equal(ends[0].kind === "run_end" && ends[0].status, "finished");
  });

  it("Logger methods throw a TrackerError once the run has ended", async () => {
    const { backend, logger } = setup({ runId: "ended-run" });
    await logger.end();
    const calls: Array<[string, () => void]> = [
      ["log", () => logger.log({ loss: 1 })],
      ["logParams", () => logger.logParams({ lr: 1 })],
      ["addTags", () => logger.addTags(["t"])],
      ["setName", () => logger.setName("n")],
    ];
    for (const [name, call] of calls) {
      assert.throws(
        call,
        (error: unknown) =>
          error instanceof TrackerError && /has ended/.test(error.message) &&
          error.message.includes("'ended-run'"),
        name,
      );
    }
    assert.deepEqual(backend.events.map((e) => e.kind), [
      "run_start",
      "run_end",
    ]);
  });

  it("Logger[Symbol.asyncDispose] ends the run, so `await using` works", async () => {
    const backend = new InMemoryBackend();
    let runId = "";
    {
      await using logger = createLogger({
        backend,
        exitFlushTimeoutMs: 0,
        spool: "memory",
        clock: new FakeClock(START_MS),
        env: {},
      });
      runId = logger.runId;
      logger.log({ loss: 0.25 }, { step: 1 });
      assert.equal(backend.closed, false);
    }
    assert.equal(backend.closed, true);
    assert.deepEqual(backend.events.map((e) => e.kind), [
      "run_start",
      "metric",
      "run_end",
    ]);
    const end = backend.events[2];
    assert.equal(end.kind === "run_end" && end.status, "finished");
    assert.equal(end.runId, runId);
  });

  it("Logger[Symbol.asyncDispose] after end() does not end the run twice", async () => {
    const { backend, logger } = setup();
    await logger.end({ status: "killed" });
    await logger[Symbol.asyncDispose]();
    const ends = backend.events.filter((e) => e.kind === "run_end");
    assert.equal(ends.length, 1);
    assert.equal(ends[0].kind === "run_end" && ends[0].status, "killed");
  });

  it("Logger.stats() counts queued, sent, retried, spooled and dropped events per backend", async () => {
    const { logger } = setup();
    logger.log({ a: 1, b: 2, c: 3 });
    assert.deepEqual(logger.stats(), {
      queued: 4,
      sent: 0,
      retried: 0,
      throttled: 0,
      spooledBytes: 0,
      dropped: 0,
      backends: [{
        backend: "memory",
        queued: 4,
        sent: 0,
        retried: 0,
        throttled: 0,
        throttledMs: 0,
        spooledBytes: 0,
        dropped: 0,
        batches: 0,
      }],
    });
    await logger.flush();
    assert.deepEqual(logger.stats(), {
      queued: 0,
      sent: 4,
      retried: 0,
      throttled: 0,
      spooledBytes: 0,
      dropped: 0,
      backends: [{
        backend: "memory",
        queued: 0,
        sent: 4,
        retried: 0,
        throttled: 0,
        throttledMs: 0,
        spooledBytes: 0,
        dropped: 0,
        batches: 1,
      }],
    });
    await logger.end();
    assert.equal(logger.stats().sent, 5);
    assert.equal(logger.stats().backends[0].batches, 2);
  });

  it("Logger.stats() counts retries of a backend that asks to wait", async () => {
    const clock = new FakeClock(START_MS);
    const backend = new InMemoryBackend({
      name: "busy",
      respond: (_batch, attempt) =>
        attempt === 1
          ? { status: "retryable", retryAfterMs: 2000 }
          : { status: "success" },
    });
    const errors: ErrorState[] = [];
    const logger = createLogger({
      backend,
      exitFlushTimeoutMs: 0,
      spool: "memory",
      clock,
      env: {},
      onError: (state) => errors.push(state),
    });
    logger.log({ a: 1 });
    const flushing = logger.flush({ timeoutMs: 10_000 });
    await clock.tick(2000);
    const report = await flushing;
    assert.equal(report.ok, true);
    const stats = logger.stats();
    assert.equal(stats.retried, 1);
    assert.equal(stats.sent, 2);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].backend, "busy");
    await logger.end();
  });
});

describe("Logger backends", () => {
  it("createLogger() with backends: [a, b] sends every event to both", async () => {
    const a = new InMemoryBackend({ name: "a" });
    const b = new InMemoryBackend({ name: "b" });
    const { logger } = setup({ backends: [a, b] });
    logger.logParams({ lr: 0.1 });
    logger.log({ loss: 1 }, { step: 0 });
    const report = await logger.end();
    assert.equal(report.ok, true);
    assert.deepEqual(report.backends.map((r) => [r.backend, r.status]), [
      ["a", "flushed"],
      ["b", "flushed"],
    ]);
    const kinds = ["run_start", "param", "metric", "run_end"];
    assert.deepEqual(a.events.map((e) => e.kind), kinds);
    assert.deepEqual(b.events, a.events);
    assert.deepEqual(logger.backends, [a, b]);
    assert.deepEqual(
      logger.stats().backends.map((s) => [s.backend, s.sent]),
      [["a", 4], ["b", 4]],
    );
    assert.equal(logger.stats().sent, 8);
    assert.ok(a.closed && b.closed);
  });

  it("createLogger() rejects an unknown backend name with a TypeError listing the registered backends", () => {
    const registered = registeredBackends();
    assert.ok(registered.includes("local") && registered.includes("memory"));
    for (
      const options of [
        { backend: "nope" },
        { backends: ["memory", "nope"] },
        { backend: undefined, env: { UETAI_BACKEND: "nope" } },
      ] as LoggerOptions[]
    ) {
      assert.throws(
        () =>
          createLogger({ exitFlushTimeoutMs: 0, spool: "memory", ...options }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /"nope"/);
          assert.ok(
            error.message.includes(`registered: ${registered.join(", ")}`),
            error.message,
          );
          return true;
        },
      );
    }
    assert.throws(
      () =>
        createLogger({
          exitFlushTimeoutMs: 0,
          spool: "memory",
          backend: {} as unknown as InMemoryBackend,
        }),
      TypeError,
    );
    assert.throws(
      () =>
        createLogger({ exitFlushTimeoutMs: 0, spool: "memory", backends: [] }),
      TypeError,
    );
  });

  it("createLogger() picks the backend named by UETAI_BACKEND in the env option", async () => {
    const clock = new FakeClock(START_MS);
    const logger = createLogger({
      exitFlushTimeoutMs: 0,
      spool: "memory",
      clock,
      env: { UETAI_BACKEND: "memory", UETAI_PROJECT: "from-env" },
    });
    assert.equal(logger.backends.length, 1);
    const backend = logger.backends[0];
    assert.ok(backend instanceof InMemoryBackend);
    assert.equal(backend.name, "memory");
    assert.equal(logger.project, "from-env");
    logger.log({ loss: 2 }, { step: 0 });
    await logger.end();
    assert.deepEqual(backend.metrics("loss"), [{ step: 0, value: 2 }]);

    const two = createLogger({
      exitFlushTimeoutMs: 0,
      spool: "memory",
      clock,
      env: { UETAI_BACKEND: " memory , memory " },
    });
    assert.equal(two.backends.length, 2);
    assert.notEqual(two.backends[0], two.backends[1]);
    await two.end();

    // An explicit backend wins over the environment.
    const explicit = new InMemoryBackend({ name: "explicit" });
    const chosen = createLogger({
      exitFlushTimeoutMs: 0,
      spool: "memory",
      clock,
      backend: explicit,
      env: { UETAI_BACKEND: "nope" },
    });
    assert.deepEqual(chosen.backends, [explicit]);
    await chosen.end();
  });
});

// ---------------------------------------------------------------------------

describe("event codec", () => {
  const image = new Uint8Array(300).map((_, i) => (i * 7) % 256);
  const events: TrackingEvent[] = [
    {
      kind: "run_start",
      runId: "r1",
      seq: 0,
      timestampMs: 1,
      project: "p",
      name: "n ✓",
      tags: ["a", "ü"],
    },
    { kind: "run_name", runId: "r1", seq: 1, timestampMs: 2, name: "renamed" },
    {
      kind: "metric",
      runId: "r1",
      seq: 2,
      timestampMs: 3,
      key: "loss/训练",
      value: 0.5,
      step: 3,
      epoch: 1,
      context: "train",
    },
    {
      kind: "metric",
      runId: "r1",
      seq: 3,
      timestampMs: 3,
      key: "nan",
      value: NaN,
      step: 3,
    },
    {
      kind: "metric",
      runId: "r1",
      seq: 4,
      timestampMs: 3,
      key: "pinf",
      value: Infinity,
      step: 3,
    },
    {
      kind: "metric",
      runId: "r1",
      seq: 5,
      timestampMs: 3,
      key: "ninf",
      value: -Infinity,
      step: 3,
    },
    {
      kind: "param",
      runId: "r1",
      seq: 6,
      timestampMs: 4,
      key: "lr",
      value: 0.1,
    },
    {
      kind: "param",
      runId: "r1",
      seq: 7,
      timestampMs: 4,
      key: "opt",
      value: "adam ✓",
    },
    {
      kind: "param",
      runId: "r1",
      seq: 8,
      timestampMs: 4,
      key: "b",
      value: true,
    },
    {
      kind: "param",
      runId: "r1",
      seq: 9,
      timestampMs: 4,
      key: "z",
      value: null,
    },
    { kind: "tag", runId: "r1", seq: 10, timestampMs: 5, tags: ["x", "y"] },
    {
      kind: "media",
      runId: "r1",
      seq: 11,
      timestampMs: 6,
      key: "samples/img",
      step: 3,
      mediaType: "image",
      contentType: "image/png",
      data: image.subarray(10, 270),
      metadata: { caption: "a cat", size: [2, 2] },
    },
    {
      kind: "media",
      runId: "r1",
      seq: 12,
      timestampMs: 6,
      key: "empty",
      step: 3,
      mediaType: "text",
      contentType: "text/plain",
      data: new Uint8Array(0),
    },
    {
      kind: "media",
      runId: "r1",
      seq: 13,
      timestampMs: 6,
      key: "big",
      step: 3,
      mediaType: "audio",
      contentType: "audio/wav",
      data: new Uint8Array(100_000).map((_, i) => (i * 31 + 7) % 256),
    },
    {
      kind: "artifact",
      runId: "r1",
      seq: 14,
      timestampMs: 7,
      usage: "output",
      name: "model",
      type: "model",
      version: "v3",
      digest: "sha256:abc",
      sizeBytes: 1234,
    },
    {
      kind: "run_end",
      runId: "r1",
      seq: 15,
      timestampMs: 8,
      status: "finished",
    },
  ];

  it("encodeEvent() and decodeEvent() round-trip every event kind, including non-finite metrics and media bytes", () => {
    assert.deepEqual(
      new Set(events.map((e) => e.kind)),
      new Set(EVENT_KINDS),
      "the fixture covers every kind",
    );
    for (const event of events) {
      const line = encodeEvent(event);
      assert.ok(
        line.startsWith(`{"v":${EVENT_SCHEMA_VERSION},"kind":"${event.kind}"`),
        line.slice(0, 40),
      );
      assert.equal(line.includes("\n"), false);
      const decoded = decodeEvent(line);
      assert.deepEqual(decoded, event, `${event.kind} ${event.seq}`);
      if (event.kind === "media") {
        assert.ok(
          decoded.kind === "media" && decoded.data instanceof Uint8Array,
        );
      }
    }
    const nan = decodeEvent(encodeEvent(events[3]));
    assert.ok(nan.kind === "metric" && Number.isNaN(nan.value));
    assert.match(encodeEvent(events[3]), /"value":\{"\$num":"NaN"\}/);
    assert.match(encodeEvent(events[5]), /"value":\{"\$num":"-Infinity"\}/);
    assert.match(encodeEvent(events[11]), /"data":\{"\$b64":"/);
  });

  it("encodeEvents() and decodeEvents() round-trip a whole NDJSON document without changing the input", () => {
    const text = encodeEvents(events);
    assert.equal(text.split("\n").length, events.length + 1);
    assert.ok(text.endsWith("\n"));
    assert.deepEqual(decodeEvents(text), events);
    // Encoding must not replace values in the caller's events.
    const metric = events[3];
    assert.ok(metric.kind === "metric" && Number.isNaN(metric.value));
    const media = events[11];
    assert.ok(media.kind === "media" && media.data instanceof Uint8Array);
  });

  it("decodeEvent() rejects unknown schema versions, unknown kinds and malformed lines with a SyntaxError", () => {
    const good = encodeEvent(events[1]);
    const cases: Array<[string, RegExp]> = [
      [good.replace('"v":1', '"v":2'), /schema version 2 is not supported/],
      [good.replace('"v":1,', ""), /schema version undefined/],
      [good.replace('"run_name"', '"bogus"'), /unknown kind "bogus"/],
      ["not json", /not valid JSON/],
      ["[1,2]", /not a JSON object/],
      [good.replace('"runId":"r1"', '"runId":""'), /'runId'/],
      [good.replace('"seq":1', '"seq":-1'), /'seq'/],
      [
        encodeEvent(events[2]).replace('"value":0.5', '"value":"x"'),
        /'value' is not a number/,
      ],
      [
        encodeEvent(events[12]).replace('{"$b64":""}', "null"),
        /'data' is not base64/,
      ],
    ];
    for (const [line, pattern] of cases) {
      assert.throws(
        () => decodeEvent(line),
        (error: unknown) => {
          assert.ok(error instanceof SyntaxError, line);
          assert.match(error.message, pattern);
          return true;
        },
      );
    }
  });

  it("decodeEvents() skips a torn last line only with allowTornTail, and never a torn line in the middle", () => {
    const complete = encodeEvents(events.slice(0, 3));
    const torn = complete + encodeEvent(events[3]).slice(0, 25);
    assert.deepEqual(
      decodeEvents(torn, { allowTornTail: true }),
      events.slice(0, 3),
    );
    assert.throws(() => decodeEvents(torn), SyntaxError);
    // A last line that is complete but lacks its newline is still decoded.
    const unterminated = complete + encodeEvent(events[3]);
    assert.deepEqual(
      decodeEvents(unterminated, { allowTornTail: true }),
      events.slice(0, 4),
    );
    assert.deepEqual(decodeEvents(unterminated), events.slice(0, 4));
    // A torn line followed by more lines is corruption, not a torn tail.
    const middle = encodeEvent(events[0]).slice(0, 25) + "\n" + complete;
    assert.throws(
      () => decodeEvents(middle, { allowTornTail: true }),
      SyntaxError,
    );
    // A terminated line of an unknown version is an error even at the end.
    const future = complete +
      encodeEvent(events[1]).replace('"v":1', '"v":99') + "\n";
    assert.throws(
      () => decodeEvents(future, { allowTornTail: true }),
      /schema version 99/,
    );
    // Blank lines are skipped.
    assert.deepEqual(
      decodeEvents("\n" + complete.replaceAll("\n", "\n\n") + "  \n"),
      events.slice(0, 3),
    );
    assert.deepEqual(decodeEvents(""), []);
  });

  it("utf8ByteLength() matches TextEncoder for ASCII, accents, CJK, emoji and lone surrogates", () => {
    const encoder = new TextEncoder();
    for (
      const text of [
        "",
        "loss",
        "é",
        "ü/精度",
        "🚀",
        "a🚀b😀",
        "\ud800",
        "\udc00x",
        "x\ud800",
        encodeEvent(events[0]),
      ]
    ) {
      assert.equal(
        utf8ByteLength(text),
        encoder.encode(text).length,
        JSON.stringify(text),
      );
    }
  });
});
