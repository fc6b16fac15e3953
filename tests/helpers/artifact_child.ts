// A child process for tests/artifact_store.test.ts. Settings come from the
// environment:
// - ARTIFACT_MODE: `exit` (exits at once: its pid is then a dead process),
//   `sleep` (prints `ready` and sleeps until killed: a live lock owner),
//   `log` (logs ARTIFACT_COUNT versions of one artifact through a real logger).
// - ARTIFACT_DIR: the logger's `dir`.
// - ARTIFACT_WRITER: this writer's id, part of each version's content.
// - ARTIFACT_COUNT: versions to log (default 20).
// - ARTIFACT_GO: in `log` mode, a file to wait for after printing `ready`,
//   so that concurrent writers start together.
//
// In `log` mode it prints one line `logged <version> <digest>` per version,
// then `done`.
import { existsSync } from "node:fs";
import { createLogger } from "../../mod.ts";

const env = (globalThis as {
  process: { env: Record<string, string | undefined> };
}).process.env;
const mode = env.ARTIFACT_MODE ?? "exit";

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The shared file every version of every writer holds (one blob). */
function sharedContent(): Uint8Array {
  const bytes = new Uint8Array(64 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

if (mode === "sleep") {
  console.log("ready");
  await sleep(120_000);
} else if (mode === "log") {
  const dir = env.ARTIFACT_DIR;
  const writer = env.ARTIFACT_WRITER ?? "w";
  const count = Number(env.ARTIFACT_COUNT ?? 20);
  const go = env.ARTIFACT_GO;
  if (!dir) throw new Error("artifact_child: ARTIFACT_DIR is not set");
  const logger = createLogger({
    project: "shared",
    dir,
    exitFlushTimeoutMs: 0,
    onError: () => {},
  });
  console.log("ready");
  if (go) {
    const deadline = Date.now() + 30_000;
    while (!existsSync(go)) {
      if (Date.now() > deadline) throw new Error("artifact_child: no go");
      await sleep(5);
    }
  }
  const shared = sharedContent();
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const logged = await logger.logArtifact({
      name: "model",
      type: "model",
      files: [
        { path: "shared.bin", data: shared },
        {
          path: "own/weights.txt",
          data: encoder.encode(`writer ${writer} version ${i}\n`.repeat(50)),
        },
      ],
      metadata: { writer, i },
    });
    console.log(`logged ${logged.version} ${logged.digest}`);
  }
  await logger.end({ timeoutMs: 10_000 });
  console.log("done");
}
