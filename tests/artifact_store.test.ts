// Artifact stores: the shared conformance suite against the local and the
// memory store, then what only the local store does: its folder layout,
// content-addressed blobs, lock folders left by dead or held by live
// processes, and two processes logging one artifact name at once.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fsPromises from "node:fs/promises";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalArtifactStore } from "../backends/local/local_artifacts.ts";
import { MemoryArtifactStore } from "../backends/memory/memory_artifacts.ts";
import { stageArtifact } from "../artifact/stage.ts";
import { downloadVersion } from "../artifact/download.ts";
import type { ArtifactDraft } from "../artifact/types.ts";
import type { FileSystemLike } from "../runtime/fs.ts";
import { TrackerError } from "../errors/errors.ts";
import {
  artifactStoreConformance,
  pseudoRandomBytes,
  sha256Hex,
  utf8,
} from "./helpers/artifact_conformance.ts";
import { ROOT, scriptCommand } from "./helpers/runtime.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const CHILD = fileURLToPath(
  new URL("./helpers/artifact_child.ts", import.meta.url),
);
const CHILD_TIMEOUT_MS = 60_000;

const nodeProcess = (globalThis as {
  process: { env: Record<string, string | undefined> };
}).process;

artifactStoreConformance("LocalArtifactStore conformance", async () => {
  const dir = await mkdtemp(join(tmpdir(), "uetai-artifacts-"));
  return {
    store: new LocalArtifactStore({ dir, project: "p", syncWrites: false }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

artifactStoreConformance(
  "MemoryArtifactStore conformance",
  () =>
    Promise.resolve({
      store: new MemoryArtifactStore(),
      cleanup: () => Promise.resolve(),
    }),
);

async function draftOf(
  name: string,
  files: { path: string; data: Uint8Array }[],
  aliases: string[] = [],
): Promise<ArtifactDraft> {
  const staged = await stageArtifact({ files }, { name });
  return {
    name,
    type: "model",
    metadata: {},
    aliases,
    digest: staged.digest,
    size: staged.size,
    files: staged.files,
  };
}

/** Every file under a folder, as paths relative to it, sorted. */
async function listTree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix)).catch(() => [])) {
    const relative = prefix === "" ? entry : `${prefix}/${entry}`;
    if ((await stat(join(root, relative))).isDirectory()) {
      out.push(...await listTree(root, relative));
    } else {
      out.push(relative);
    }
  }
  return out.sort();
}

interface Child {
  process: ChildProcess;
  lines: string[];
  stderr: string;
  /** Resolves with the exit code once the child exits. */
  exited: Promise<number | null>;
  /** Resolves once the child printed `line`. */
  printed(line: string): Promise<void>;
}

function startChild(env: Record<string, string>): Child {
  const [command, args] = scriptCommand(CHILD);
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...nodeProcess.env, NO_COLOR: "1", ...env },
  });
  const waiters: { line: string; resolve(): void }[] = [];
  const result: Child = {
    process: child,
    lines: [],
    stderr: "",
    exited: new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    }),
    printed(line: string): Promise<void> {
      if (result.lines.includes(line)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ line, resolve });
        result.exited.then(() =>
          reject(
            new Error(
              `child exited before printing ${line}: ${result.stderr}`,
            ),
          )
        );
      });
    },
  };
  let buffered = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (result.stderr += chunk));
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      result.lines.push(line);
      for (const waiter of waiters.filter((w) => w.line === line)) {
        waiter.resolve();
      }
    }
  });
  return result;
}

describe("LocalArtifactStore on disk", () => {
  it("keeps versions/vN.json, aliases.json and one blob per distinct content", async () => {
    await withTempDir(async (dir) => {
      const store = new LocalArtifactStore({ dir, project: "p" });
      const shared = pseudoRandomBytes(200_000, 5);
      const v0 = await store.putVersion(
        await draftOf("model", [
          { path: "shared.bin", data: shared },
          { path: "a.txt", data: utf8("first") },
        ], ["best"]),
      );
      const root = join(dir, "p", ".artifacts");
      const blob = join(
        root,
        ".blobs",
        sha256Hex(shared).slice(0, 2),
        sha256Hex(shared),
      );
      const before = await stat(blob);
      assert.equal(before.size, shared.length);

      const v1 = await store.putVersion(
        await draftOf("model", [
          { path: "shared.bin", data: shared },
          { path: "b.txt", data: utf8("second") },
        ]),
      );
      // Identical content under another name shares the blobs too.
      await store.putVersion(
        await draftOf("copy", [{ path: "x/shared.bin", data: shared }]),
      );
      assert.deepEqual([v0.version, v1.version], ["v0", "v1"]);

      assert.deepEqual(await listTree(join(root, "model")), [
        "aliases.json",
        "versions/v0.json",
        "versions/v1.json",
      ]);
      const stored0 = JSON.parse(
        await readFile(join(root, "model", "versions", "v0.json"), "utf8"),
      );
      assert.equal(stored0.version, "v0");
      assert.equal(stored0.name, "model");
      assert.equal(stored0.digest, v0.digest);
      assert.equal("aliases" in stored0, false);
      assert.deepEqual(
        stored0.files.map((f: { path: string }) => f.path),
        ["a.txt", "shared.bin"],
      );
      assert.deepEqual(
        JSON.parse(await readFile(join(root, "model", "aliases.json"), "utf8")),
        { latest: "v1", best: "v0" },
      );

      const blobs = await listTree(join(root, ".blobs"));
      assert.equal(blobs.length, 3); // shared, first, second: not 5
      assert.deepEqual(
        blobs,
        [shared, utf8("first"), utf8("second")]
          .map((bytes) => sha256Hex(bytes))
          .map((sha) => `${sha.slice(0, 2)}/${sha}`)
          .sort(),
      );
      // The shared blob was not written again (a rewrite renames a new file in).
      const after = await stat(blob);
      assert.equal(after.ino, before.ino);
      assert.equal(after.mtimeMs, before.mtimeMs);
      assert.deepEqual(await store.listArtifacts(), ["copy", "model"]);
    });
  });

  it("takes over a lock left by a dead process", async () => {
    await withTempDir(async (dir) => {
      const dead = startChild({ ARTIFACT_MODE: "exit" });
      assert.equal(await dead.exited, 0, dead.stderr);
      const pid = dead.process.pid!;
      assert.ok(pid > 0);
      const lock = join(dir, "p", ".artifacts", "model", ".lock");
      await mkdir(lock, { recursive: true });
      await writeFile(
        join(lock, "owner.json"),
        JSON.stringify({ pid, sinceMs: Date.now() }),
      );
      const store = new LocalArtifactStore({
        dir,
        project: "p",
        lockTimeoutMs: 5_000,
      });
      const started = Date.now();
      const stored = await store.putVersion(
        await draftOf("model", [{ path: "x", data: utf8("x") }]),
      );
      assert.ok(Date.now() - started < 5_000);
      assert.equal(stored.created, true);
      assert.equal(stored.version, "v0");
      // The lock is gone, and so is the renamed stale one.
      assert.deepEqual(
        (await readdir(join(dir, "p", ".artifacts", "model"))).sort(),
        ["aliases.json", "versions"],
      );
    });
  });

  it("takes over a lock of this pid written before this process started (containers reuse pids)", async () => {
    await withTempDir(async (dir) => {
      const host = (globalThis as unknown as {
        process: { pid: number; uptime(): number };
      }).process;
      const lock = join(dir, "p", ".artifacts", "model", ".lock");
      await mkdir(lock, { recursive: true });
      const startedMs = Date.now() - host.uptime() * 1000;
      await writeFile(
        join(lock, "owner.json"),
        JSON.stringify({ pid: host.pid, sinceMs: startedMs - 60_000 }),
      );
      const store = new LocalArtifactStore({
        dir,
        project: "p",
        lockTimeoutMs: 1_000,
      });
      const stored = await store.putVersion(
        await draftOf("model", [{ path: "x", data: utf8("x") }]),
      );
      assert.equal(stored.version, "v0");
    });
  });

  it("two waiters on a dead lock: the later one cannot take away the lock the first took over", async () => {
    await withTempDir(async (dir) => {
      const dead = startChild({ ARTIFACT_MODE: "exit" });
      assert.equal(await dead.exited, 0, dead.stderr);
      const lock = join(dir, "p", ".artifacts", "model", ".lock");
      await mkdir(lock, { recursive: true });
      await writeFile(
        join(lock, "owner.json"),
        JSON.stringify({ pid: dead.process.pid, sinceMs: Date.now() }),
      );
      const gate = () => {
        let open!: () => void;
        const opened = new Promise<void>((resolve) => (open = resolve));
        const wait = () =>
          Promise.race([opened, new Promise((r) => setTimeout(r, 500))]);
        return { open, wait };
      };
      const laterJudged = gate(); // the later waiter read the dead owner
      const firstOwns = gate(); // the first waiter holds its fresh lock
      const laterRead = gate(); // the later waiter reads the versions
      // The later waiter judged the dead lock stale, but renames it only once
      // the first waiter has taken it over and holds a fresh one.
      const laterFs = {
        ...fsPromises,
        async readFile(path: string, encoding?: "utf8") {
          const text = await fsPromises.readFile(path, encoding ?? null);
          if (path.endsWith("owner.json")) laterJudged.open();
          return text;
        },
        async rename(from: string, to: string) {
          if (from.endsWith(".lock") && to.includes("-stale-")) {
            await firstOwns.wait();
          }
          return await fsPromises.rename(from, to);
        },
        async readdir(path: string) {
          if (path.endsWith("versions")) laterRead.open();
          return await fsPromises.readdir(path);
        },
      };
      // The first waiter takes the dead lock over only once the later one
      // judged it stale too, and writes its version only once the later one
      // could have read the versions.
      const firstFs = {
        ...fsPromises,
        async rename(from: string, to: string) {
          if (from.endsWith(".lock") && to.includes("-stale-")) {
            await laterJudged.wait();
          }
          return await fsPromises.rename(from, to);
        },
        async writeFile(path: string, data: string | Uint8Array) {
          await fsPromises.writeFile(path, data);
          if (path.endsWith("owner.json")) firstOwns.open();
        },
        async open(path: string, flags: string) {
          if (path.includes(".json.tmp-")) await laterRead.wait();
          return await fsPromises.open(path, flags);
        },
      };
      const first = new LocalArtifactStore({
        dir,
        project: "p",
        syncWrites: false,
        fs: firstFs as unknown as FileSystemLike,
      });
      // Another spelling of the same folder: no in-process queue between them.
      const later = new LocalArtifactStore({
        dir: `${dir}/.`,
        project: "p",
        syncWrites: false,
        fs: laterFs as unknown as FileSystemLike,
      });
      const results = await Promise.all([
        first.putVersion(
          await draftOf("model", [{ path: "x", data: utf8("a") }]),
        ),
        later.putVersion(
          await draftOf("model", [{ path: "x", data: utf8("b") }]),
        ),
      ]);
      assert.deepEqual(results.map((r) => r.version).sort(), ["v0", "v1"]);
      const versions = await first.listVersions("model");
      assert.deepEqual(versions.map((v) => v.version), ["v0", "v1"]);
      assert.equal(new Set(versions.map((v) => v.digest)).size, 2);
    });
  });

  it("putVersion refuses a sha256 that is not 64 hex digits, writing nothing outside the store", async () => {
    await withTempDir(async (dir) => {
      const store = new LocalArtifactStore({ dir, project: "p" });
      const draft = await draftOf("model", [{ path: "x", data: utf8("x") }]);
      const sha256 = "../../../../escape";
      await assert.rejects(
        store.putVersion({
          ...draft,
          files: draft.files.map((file) => ({ ...file, sha256 })),
        }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `got ${error}`);
          assert.ok(error.message.includes(JSON.stringify(sha256)));
          assert.match(error.message, /64 hex digits/);
          return true;
        },
      );
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("waits for a lock held by a live process and times out with a clear error", async () => {
    await withTempDir(async (dir) => {
      const live = startChild({ ARTIFACT_MODE: "sleep" });
      try {
        await live.printed("ready");
        const lock = join(dir, "p", ".artifacts", "model", ".lock");
        await mkdir(lock, { recursive: true });
        await writeFile(
          join(lock, "owner.json"),
          JSON.stringify({ pid: live.process.pid, sinceMs: Date.now() }),
        );
        const store = new LocalArtifactStore({
          dir,
          project: "p",
          lockTimeoutMs: 300,
        });
        const draft = await draftOf("model", [{ path: "x", data: utf8("x") }]);
        const started = Date.now();
        await assert.rejects(store.putVersion(draft), (error: unknown) => {
          assert.ok(error instanceof TrackerError, `got ${error}`);
          assert.match(error.message, /artifact "model"/);
          assert.match(error.message, /another writer has held .*\.lock/);
          assert.match(error.message, /300 ms/);
          return true;
        });
        const waited = Date.now() - started;
        assert.ok(waited >= 300, `gave up after ${waited} ms`);
        assert.ok(waited < 5_000, `gave up after ${waited} ms`);
        assert.deepEqual(await store.listVersions("model"), []);
        // The owner's lock was left alone.
        assert.equal(
          JSON.parse(await readFile(join(lock, "owner.json"), "utf8")).pid,
          live.process.pid,
        );

        // Once the owner is dead, the next writer takes the lock over.
        live.process.kill("SIGKILL");
        await live.exited;
        const stored = await store.putVersion(draft);
        assert.equal(stored.version, "v0");
      } finally {
        live.process.kill("SIGKILL");
        await live.exited;
      }
    });
  });

  it(
    "two processes logging one artifact name concurrently get 40 distinct, contiguous, verified versions",
    {
      timeout: 120_000,
    },
    async () => {
      await withTempDir(async (dir) => {
        const go = join(dir, "go");
        const children = ["a", "b"].map((writer) =>
          startChild({
            ARTIFACT_MODE: "log",
            ARTIFACT_DIR: dir,
            ARTIFACT_WRITER: writer,
            ARTIFACT_COUNT: "20",
            ARTIFACT_GO: go,
          })
        );
        try {
          await Promise.all(children.map((child) => child.printed("ready")));
          await writeFile(go, "");
          const codes = await Promise.all(
            children.map((child) => child.exited),
          );
          assert.deepEqual(
            codes,
            [0, 0],
            children.map((child) => child.stderr).join("\n"),
          );
        } finally {
          for (const child of children) child.process.kill("SIGKILL");
        }
        const reported = children.flatMap((child) =>
          child.lines.filter((line) => line.startsWith("logged "))
            .map((line) => line.split(" ")[1])
        );
        assert.equal(reported.length, 40);
        assert.equal(new Set(reported).size, 40);
        for (const child of children) assert.ok(child.lines.includes("done"));

        const store = new LocalArtifactStore({ dir, project: "shared" });
        const versions = await store.listVersions("model");
        const expected = Array.from({ length: 40 }, (_, i) => `v${i}`);
        assert.deepEqual(versions.map((v) => v.version), expected);
        assert.deepEqual([...reported].sort(), [...expected].sort());
        assert.equal(new Set(versions.map((v) => v.digest)).size, 40);
        const latest = versions.filter((v) => v.aliases.includes("latest"));
        assert.equal(latest.length, 1);
        const writers = new Map<string, number[]>();
        for (const version of versions) {
          const { writer, i } = version.metadata as {
            writer: string;
            i: number;
          };
          writers.set(writer, [...(writers.get(writer) ?? []), i]);
        }
        // Each writer's versions are in its own order, none lost.
        const range = Array.from({ length: 20 }, (_, i) => i);
        assert.deepEqual(writers.get("a"), range);
        assert.deepEqual(writers.get("b"), range);

        const encoder = new TextEncoder();
        for (const version of versions) {
          const manifest = await store.resolveVersion("model", {
            kind: "index",
            index: Number(version.version.slice(1)),
          });
          assert.equal(manifest.digest, version.digest);
          const out = join(dir, "out", version.version);
          const report = await downloadVersion(store, manifest, out);
          assert.deepEqual(report.fetched, ["own/weights.txt", "shared.bin"]);
          const { writer, i } = manifest.metadata as {
            writer: string;
            i: number;
          };
          assert.equal(
            await readFile(join(out, "own", "weights.txt"), "utf8"),
            `writer ${writer} version ${i}\n`.repeat(50),
          );
          const shared = new Uint8Array(
            await readFile(join(out, "shared.bin")),
          );
          assert.equal(sha256Hex(shared), manifest.files[1].sha256);
          assert.equal(
            manifest.files[0].sha256,
            sha256Hex(
              encoder.encode(`writer ${writer} version ${i}\n`.repeat(50)),
            ),
          );
        }
        // Two distinct blobs per version, the shared one once: 41.
        const blobs = await listTree(
          join(dir, "shared", ".artifacts", ".blobs"),
        );
        assert.equal(blobs.length, 41);
        assert.deepEqual(
          (await readdir(join(dir, "shared", ".artifacts", "model"))).sort(),
          ["aliases.json", "versions"],
        );
      });
    },
  );
});
