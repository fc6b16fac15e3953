// An awaited flush() or end() returns by its deadline even when the backend is
// down and nothing else keeps the process alive.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ROOT, scriptCommand } from "./helpers/runtime.ts";

describe("Logger.flush() with a dead backend", () => {
  it("returns by its deadline instead of the process exiting under the await", () => {
    const child = fileURLToPath(
      new URL("./helpers/flush_exit_child.ts", import.meta.url),
    );
    const [command, args] = scriptCommand(child);
    const result = spawnSync(command, args, {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), [
      "after flush pending 2",
      "after end pending dropped 3",
      "done",
    ]);
  });
});
