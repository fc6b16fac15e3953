// Where the runtime has no filesystem (workers, browsers): the default
// backend falls back to memory and says so once, and what needs files is a
// clear UnsupportedRuntimeError.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../mod.ts";
import { LocalBackend, LocalStore } from "../backends/local/mod.ts";
import { FileSpool } from "../pipeline/mod.ts";
import { UnsupportedRuntimeError } from "../errors/errors.ts";
import type { ErrorState } from "../pipeline/mod.ts";

const host =
  (globalThis as { process: { getBuiltinModule?: unknown } }).process;

describe("a runtime without a filesystem", () => {
  let saved: unknown;
  beforeEach(() => {
    saved = host.getBuiltinModule;
    host.getBuiltinModule = undefined;
  });
  afterEach(() => {
    host.getBuiltinModule = saved;
  });

  it("createLogger() falls back to memory and reports it once", async () => {
    const errors: ErrorState[] = [];
    const logger = createLogger({
      env: {},
      exitFlushTimeoutMs: 0,
      onError: (state) => errors.push(state),
    });
    assert.deepEqual(logger.backends.map((backend) => backend.name), [
      "memory",
    ]);
    assert.equal(errors.length, 1);
    assert.match(errors[0].error.message, /no filesystem/);
    logger.log({ loss: 1 });
    const report = await logger.end();
    assert.equal(report.ok, true);
    assert.equal(errors.length, 1);
  });

  it("LocalBackend, LocalStore and FileSpool throw UnsupportedRuntimeError naming the capability", () => {
    for (
      const make of [
        () => new LocalBackend(),
        () => new LocalStore(),
        () => new FileSpool({ dir: "x", lane: "y" }),
      ]
    ) {
      assert.throws(make, (error: unknown) => {
        assert.ok(error instanceof UnsupportedRuntimeError);
        assert.equal(error.capability, "filesystem");
        assert.match(error.message, /this runtime has no filesystem/);
        return true;
      });
    }
  });

  it("a logger asked for the local store by name fails at creation, not later", () => {
    assert.throws(
      () => createLogger({ backend: "local", env: {}, exitFlushTimeoutMs: 0 }),
      UnsupportedRuntimeError,
    );
  });
});
