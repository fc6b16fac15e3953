// Test helper: runs a function with a fresh temporary folder, removed after.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Calls `fn` with a new empty folder and removes the folder afterwards.
 *
 * @param fn What to run.
 * @param prefix Name prefix of the folder, to tell tests apart.
 */
export async function withTempDir(
  fn: (dir: string) => Promise<void>,
  prefix = "uetai-test-",
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
