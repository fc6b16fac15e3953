// An awaited flush() or end() returns by its deadline even when the backend is
// down and nothing else keeps the process alive.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalStore } from "../backends/local/mod.ts";
import { ROOT, scriptCommand } from "./helpers/runtime.ts";

describe("Logger at process exit", () => {
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

  it("ends the run and stores everything when the process exits without end()", async () => {
    const dir = await mkdtemp(join(tmpdir(), "uetai-exit-"));
    try {
      const child = fileURLToPath(
        new URL("./helpers/no_end_child.ts", import.meta.url),
      );
      const [command, args] = scriptCommand(child);
      const result = spawnSync(command, [...args, dir], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(result.status, 0, result.stderr);
      const runId = result.stdout.trim();
      const store = new LocalStore({ dir });
      const run = await store.getRun("exit", runId);
      assert.equal(run.status, "finished");
      const loss = (await store.readMetrics("exit", runId)).get("loss") ?? [];
      assert.deepEqual(
        loss.map((point) => point.step),
        Array.from({ length: 100 }, (_, i) => i),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
