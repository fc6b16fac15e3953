// Artifacts through the Logger API: logArtifact from a path, files or data,
// input checks, lineage in the run journal and the store, version
// selectors, and downloads that skip what is there, refuse crafted
// manifests and escaping links, verify every byte and leave nothing
// half-written. Then runtimes without a filesystem and loggers whose backend
// keeps no artifacts.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { createLogger, type Logger } from "../mod.ts";
import { LocalStore } from "../backends/local/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { MemoryArtifactStore } from "../backends/memory/memory_artifacts.ts";
import type {
  ArtifactFileEntry,
  ArtifactProgress,
  ArtifactStore,
} from "../artifact/types.ts";
import type { Backend } from "../pipeline/backend.ts";
import type { ArtifactEvent, TrackingEvent } from "../event/types.ts";
import {
  ArtifactNotFoundError,
  IntegrityError,
  TrackerError,
  UnsupportedRuntimeError,
} from "../errors/errors.ts";
import {
  md5Base64,
  pseudoRandomBytes,
  sha256Hex,
  utf8,
} from "./helpers/artifact_conformance.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const LIMITS = { maxEventsPerBatch: 1000, maxBatchBytes: 1 << 20 };

/** A logger under test, the store behind it, and its journal. */
interface Harness {
  logger: Logger;
  store: ArtifactStore;
  /** Another logger (another run) over the same store. */
  another(): Logger;
  /** The artifact events a run's backend received, after `end()`. */
  artifactEvents(runId: string): Promise<ArtifactEvent[]>;
}

interface Setup {
  label: string;
  make(dir: string): Harness;
}

const SETUPS: Setup[] = [
  {
    label: "local store",
    make(dir) {
      const make = () =>
        createLogger({
          project: "p",
          dir,
          backend: "local",
          exitFlushTimeoutMs: 0,
        });
      const logger = make();
      return {
        logger,
        store: logger.backends[0].artifacts!("p"),
        another: make,
        async artifactEvents(runId) {
          const events: ArtifactEvent[] = [];
          for await (
            const event of new LocalStore({ dir }).readEvents("p", runId)
          ) {
            if (event.kind === "artifact") events.push(event);
          }
          return events;
        },
      };
    },
  },
  {
    label: "memory backend",
    make() {
      const backend = new InMemoryBackend();
      const make = () =>
        createLogger({
          project: "p",
          backend,
          spool: "memory",
          exitFlushTimeoutMs: 0,
        });
      return {
        logger: make(),
        store: backend.artifacts("p"),
        another: make,
        artifactEvents(runId) {
          return Promise.resolve(
            backend.events.filter((event): event is ArtifactEvent =>
              event.kind === "artifact" && event.runId === runId
            ),
          );
        },
      };
    },
  },
];

/** Every file under a folder (links included, not followed), sorted. */
async function listTree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  const names = await readdir(join(root, prefix)).catch(() => [] as string[]);
  for (const name of names) {
    const relative = prefix === "" ? name : `${prefix}/${name}`;
    const info = await lstat(join(root, relative));
    if (info.isDirectory()) out.push(...await listTree(root, relative));
    else out.push(relative);
  }
  return out.sort();
}

async function exists(path: string): Promise<boolean> {
  return await lstat(path).then(() => true, () => false);
}

async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** Rejects when `promise` takes longer than `ms` (a hang becomes a failure). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stream of `bytes` in chunks of `chunk` bytes. */
function chunked(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

for (const setup of SETUPS) {
  describe(`logArtifact and downloadArtifact (${setup.label})`, () => {
    async function withHarness(
      fn: (harness: Harness, dir: string) => Promise<void>,
    ): Promise<void> {
      await withTempDir(async (dir) => {
        const harness = setup.make(dir);
        try {
          await fn(harness, dir);
        } finally {
          await harness.logger.end().catch(() => {});
        }
      });
    }

    it("logs a file given by path and downloads the same bytes", async () => {
      await withHarness(async ({ logger }, dir) => {
        const content = pseudoRandomBytes(1_500_000, 1);
        await mkdir(join(dir, "src"));
        await writeFile(join(dir, "src", "model.bin"), content);
        const logged = await logger.logArtifact({
          name: "model",
          type: "model",
          path: join(dir, "src", "model.bin"),
        });
        assert.equal(logged.version, "v0");
        assert.equal(logged.created, true);
        assert.equal(logged.size, content.length);
        assert.deepEqual(logged.files, [{
          path: "model.bin",
          size: content.length,
          sha256: sha256Hex(content),
          md5: md5Base64(content),
        }]);
        const out = join(dir, "out");
        assert.equal(
          await logger.downloadArtifact({ name: "model", savePath: out }),
          out,
        );
        assert.deepEqual(await listTree(out), ["model.bin"]);
        assert.deepEqual(await readBytes(join(out, "model.bin")), content);
      });
    });

    it("logs a folder: nested, sorted paths; links back up the tree do not hang", async () => {
      await withHarness(async ({ logger }, dir) => {
        const src = join(dir, "src");
        const files: Record<string, Uint8Array> = {
          "b.txt": utf8("bee"),
          "A.txt": utf8("upper"),
          "a/z.bin": pseudoRandomBytes(70_000, 2),
          "a/b/c.txt": utf8("deep"),
          "a/b/empty": new Uint8Array(0),
        };
        for (const [path, data] of Object.entries(files)) {
          await mkdir(join(src, path, ".."), { recursive: true });
          await writeFile(join(src, path), data);
        }
        await symlink("..", join(src, "a", "loop")); // a/loop -> src
        await symlink(".", join(src, "a", "b", "self")); // a/b/self -> a/b
        await symlink(join(dir, "nowhere"), join(src, "dangling"));
        const logged = await within(
          logger.logArtifact({ name: "tree", type: "dataset", path: src }),
          20_000,
        );
        const expected = [
          "A.txt",
          "a/b/c.txt",
          "a/b/empty",
          "a/z.bin",
          "b.txt",
        ];
        assert.deepEqual(logged.files.map((f) => f.path), expected);
        for (const entry of logged.files) {
          assert.equal(entry.sha256, sha256Hex(files[entry.path]));
          assert.equal(entry.size, files[entry.path].length);
        }
        const out = join(dir, "out");
        await logger.downloadArtifact({ name: "tree", savePath: out });
        assert.deepEqual(await listTree(out), expected);
        for (const path of expected) {
          assert.deepEqual(await readBytes(join(out, path)), files[path]);
        }
      });
    });

    it("logs files given as Uint8Array, Blob and a ReadableStream of over 3 MiB", async () => {
      await withHarness(async ({ logger }, dir) => {
        const bytes = pseudoRandomBytes(10_000, 3);
        const blobBytes = pseudoRandomBytes(200_000, 4);
        const streamed = pseudoRandomBytes(3 * 1024 * 1024 + 54_321, 5);
        const logged = await logger.logArtifact({
          name: "mixed",
          type: "dataset",
          files: [
            { path: "stream/big.bin", data: chunked(streamed, 65_536) },
            { path: "bytes.bin", data: bytes },
            { path: "blob.bin", data: new Blob([blobBytes as BlobPart]) },
          ],
        });
        assert.deepEqual(
          logged.files.map((f) => [f.path, f.size, f.sha256, f.md5]),
          [
            [
              "blob.bin",
              blobBytes.length,
              sha256Hex(blobBytes),
              md5Base64(blobBytes),
            ],
            ["bytes.bin", bytes.length, sha256Hex(bytes), md5Base64(bytes)],
            [
              "stream/big.bin",
              streamed.length,
              sha256Hex(streamed),
              md5Base64(streamed),
            ],
          ],
        );
        assert.equal(
          logged.size,
          bytes.length + blobBytes.length + streamed.length,
        );
        const out = join(dir, "out");
        await logger.downloadArtifact({ name: "mixed", savePath: out });
        assert.deepEqual(await readBytes(join(out, "bytes.bin")), bytes);
        assert.deepEqual(await readBytes(join(out, "blob.bin")), blobBytes);
        const big = await readBytes(join(out, "stream", "big.bin"));
        assert.equal(big.length, streamed.length);
        assert.equal(sha256Hex(big), sha256Hex(streamed));
      });
    });

    it("logs data under fileName, or under the artifact's name", async () => {
      await withHarness(async ({ logger }, dir) => {
        const named = await logger.logArtifact({
          name: "weights",
          type: "model",
          data: utf8("w1"),
          fileName: "dir/w.bin",
        });
        assert.deepEqual(named.files.map((f) => f.path), ["dir/w.bin"]);
        const plain = await logger.logArtifact({
          name: "notes.txt",
          type: "text",
          data: new Blob(["hello"]),
        });
        assert.deepEqual(plain.files.map((f) => f.path), ["notes.txt"]);
        await logger.downloadArtifact({
          name: "weights",
          savePath: join(dir, "a"),
        });
        await logger.downloadArtifact({
          name: "notes.txt",
          savePath: join(dir, "b"),
        });
        assert.equal(await readFile(join(dir, "a/dir/w.bin"), "utf8"), "w1");
        assert.equal(await readFile(join(dir, "b/notes.txt"), "utf8"), "hello");
      });
    });

    it("refuses bad input with a TypeError naming the value, storing nothing", async () => {
      await withHarness(async ({ logger }, dir) => {
        const u8 = utf8("x");
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        const cases: [Record<string, unknown>, RegExp][] = [
          [{}, /got 0 of path, files and data/],
          [{ data: u8, files: [{ path: "a", data: u8 }] }, /got 2 of path/],
          [{ data: u8, path: join(dir, "x") }, /got 2 of path/],
          [{ name: "../x", data: u8 }, /artifact name "\.\.\/x"/],
          [{ name: "", data: u8 }, /artifact name ""/],
          [{ type: "", data: u8 }, /type is ""/],
          [{ type: 42, data: u8 }, /type is 42/],
          [{ aliases: ["v3"], data: u8 }, /alias "v3"/],
          [{ aliases: ["1.0.0"], data: u8 }, /alias "1\.0\.0"/],
          [{ aliases: "best", data: u8 }, /aliases is string/],
          [{ metadata: { n: 1n }, data: u8 }, /metadata is not a JSON/],
          [{ metadata: circular, data: u8 }, /metadata is not a JSON/],
          [{ metadata: [1, 2], data: u8 }, /metadata is not a JSON/],
          [
            {
              files: [{ path: "a.txt", data: u8 }, { path: "a.txt", data: u8 }],
            },
            /"a\.txt": it appears twice/,
          ],
          [
            { files: [{ path: "a", data: u8 }, { path: "a/b", data: u8 }] },
            /"a\/b": "a" is a file/,
          ],
          [{ files: [{ path: "../evil", data: u8 }] }, /"\.\.\/evil"/],
          [{ files: [{ path: "x", data: 5 }] }, /"x": its data is number/],
          [{ files: "x" }, /files is string/],
          [{ data: "text" }, /its data is string/],
          [{ data: { bytes: [1] } }, /its data is Object/],
          [{ data: u8, fileName: "/abs" }, /"\/abs": it is absolute/],
          [{ path: "" }, /path is ""/],
          [{ path: join(dir, "missing") }, /missing" cannot be read/],
        ];
        for (const [options, pattern] of cases) {
          await rejectsWith(
            logger.logArtifact({
              name: "m",
              type: "model",
              ...options,
            } as never),
            TypeError,
            pattern,
          );
        }
        assert.deepEqual(await logger.listArtifactVersions("m"), []);
      });
    });

    it("stores metadata in its JSON form, the same on return and on read (no DOMException)", async () => {
      await withHarness(async ({ logger }) => {
        const logged = await logger.logArtifact({
          name: "m",
          type: "model",
          data: utf8("x"),
          metadata: {
            when: new Date(0),
            skipped: undefined,
            notANumber: Number.NaN,
            callback() {},
            nested: { at: new Date(1000) },
          },
        });
        const json = {
          when: "1970-01-01T00:00:00.000Z",
          notANumber: null,
          nested: { at: "1970-01-01T00:00:01.000Z" },
        };
        assert.deepEqual(logged.metadata, json);
        assert.deepEqual((await logger.getArtifact("m")).metadata, json);
      });
    });

    it("setArtifactAliases refuses aliases that are not an array and takes any version selector", async () => {
      await withHarness(async ({ logger }) => {
        for (const text of ["zero", "one"]) {
          await logger.logArtifact({
            name: "m",
            type: "model",
            data: utf8(text),
          });
        }
        await rejectsWith(
          logger.setArtifactAliases("m", "v0", "best" as never),
          TypeError,
          /aliases is string "best"; expected an array/,
        );
        await rejectsWith(
          logger.setArtifactAliases("m", "v0", ["v9"]),
          TypeError,
          /alias "v9"/,
        );
        await rejectsWith(
          logger.setArtifactAliases("m", "v01", ["best"]),
          TypeError,
          /Cannot select artifact version "v01"/,
        );
        assert.deepEqual(
          (await logger.listArtifactVersions("m")).map((v) => v.aliases),
          [[], ["latest"]],
        );
        assert.equal(
          (await logger.setArtifactAliases("m", 0, ["best"])).version,
          "v0",
        );
        assert.equal(
          (await logger.setArtifactAliases("m", "best", ["prod"])).version,
          "v0",
        );
        assert.deepEqual(
          (await logger.listArtifactVersions("m")).map((v) => v.aliases),
          [["best", "prod"], ["latest"]],
        );
      });
    });

    it("records output and input artifact events in the run's journal", async () => {
      await withHarness(async (harness, dir) => {
        const { logger } = harness;
        const logged = await logger.logArtifact({
          name: "ckpt",
          type: "checkpoint",
          data: utf8("weights"),
        });
        await logger.downloadArtifact({
          name: "ckpt",
          savePath: join(dir, "out"),
        });
        assert.equal((await logger.end()).ok, true);
        const events = await harness.artifactEvents(logger.runId);
        assert.deepEqual(
          events.map((e) => [e.usage, e.name, e.type, e.version, e.sizeBytes]),
          [
            ["output", "ckpt", "checkpoint", "v0", 7],
            ["input", "ckpt", "checkpoint", "v0", 7],
          ],
        );
        assert.ok(events.every((event) => event.digest === logged.digest));
        assert.ok(events[0].seq < events[1].seq);
      });
    });

    it("keeps lineage: the producing run, and each run that downloaded a version", async () => {
      await withHarness(async (harness, dir) => {
        const { logger, store } = harness;
        const logged = await logger.logArtifact({
          name: "ckpt",
          type: "model",
          data: utf8("one"),
        });
        assert.equal(logged.createdBy?.runId, logger.runId);
        assert.equal(logged.createdBy?.project, "p");
        const reader = harness.another();
        try {
          await reader.downloadArtifact({
            name: "ckpt",
            savePath: join(dir, "r"),
          });
          await logger.downloadArtifact({
            name: "ckpt",
            version: 0,
            savePath: join(dir, "l"),
          });
        } finally {
          await reader.end();
        }
        const uses = await store.listUses("ckpt", "v0");
        assert.deepEqual(uses.map((use) => [use.project, use.runId]), [
          ["p", reader.runId],
          ["p", logger.runId],
        ]);
        assert.ok(uses.every((use) => typeof use.timestampMs === "number"));
        assert.equal(
          (await logger.getArtifact("ckpt")).createdBy?.runId,
          logger.runId,
        );
      });
    });

    it("selects versions by number, vN, latest, alias; semver and malformed selectors fail clearly", async () => {
      await withHarness(async ({ logger }, dir) => {
        for (const [i, text] of ["zero", "one", "two"].entries()) {
          await logger.logArtifact({
            name: "m",
            type: "model",
            data: utf8(text),
            fileName: "w.txt",
            aliases: i === 0 ? ["best"] : [],
          });
        }
        assert.deepEqual(
          (await logger.listArtifactVersions("m")).map((v) => v.version),
          ["v0", "v1", "v2"],
        );
        const cases: [string | number | undefined, string][] = [
          [0, "v0"],
          [1, "v1"],
          ["v1", "v1"],
          ["v2", "v2"],
          ["latest", "v2"],
          [undefined, "v2"],
          ["best", "v0"],
        ];
        for (const [selector, version] of cases) {
          assert.equal(
            (await logger.getArtifact("m", selector)).version,
            version,
            `selector ${String(selector)}`,
          );
        }
        await logger.downloadArtifact({
          name: "m",
          version: 1,
          savePath: join(dir, "one"),
        });
        await logger.downloadArtifact({
          name: "m",
          version: "best",
          savePath: join(dir, "best"),
        });
        assert.equal(await readFile(join(dir, "one/w.txt"), "utf8"), "one");
        assert.equal(await readFile(join(dir, "best/w.txt"), "utf8"), "zero");

        const moved = await logger.setArtifactAliases("m", "v2", ["best"]);
        assert.deepEqual(moved.aliases, ["best", "latest"]);
        assert.equal((await logger.getArtifact("m", "best")).version, "v2");
        assert.deepEqual((await logger.getArtifact("m", 0)).aliases, []);

        for (const missing of ["1.0.0", 7, "v7", "nope"]) {
          await assert.rejects(
            logger.getArtifact("m", missing),
            (error: unknown) => {
              assert.ok(error instanceof ArtifactNotFoundError, `${error}`);
              assert.equal(error.artifact, "m");
              assert.equal(
                error.version,
                typeof missing === "number" ? `v${missing}` : missing,
              );
              if (missing === "1.0.0" && setup.label === "local store") {
                assert.match(error.message, /semver/);
              }
              return true;
            },
          );
        }
        await assert.rejects(
          logger.downloadArtifact({
            name: "m",
            version: "1.0.0",
            savePath: join(dir, "semver"),
          }),
          ArtifactNotFoundError,
        );
        assert.equal(await exists(join(dir, "semver")), false);

        for (
          const bad of [
            "v-1",
            -1,
            1.5,
            "",
            Number.NaN,
            "a b",
            "v1.5",
            "v01",
            null,
          ]
        ) {
          await rejectsWith(
            logger.getArtifact("m", bad as never),
            TypeError,
            /Cannot select artifact version/,
          );
          await rejectsWith(
            logger.downloadArtifact({
              name: "m",
              version: bad as never,
              savePath: join(dir, "bad"),
            }),
            TypeError,
            /Cannot select artifact version/,
          );
        }
        assert.equal(await exists(join(dir, "bad")), false);
      });
    });

    it("skips files already present with the right digest and replaces wrong ones", async () => {
      await withHarness(async ({ logger }, dir) => {
        const big = pseudoRandomBytes(400_000, 8);
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [
            { path: "big.bin", data: big },
            { path: "a/small.txt", data: utf8("small") },
            { path: "c.txt", data: utf8("cee") },
          ],
        });
        const out = join(dir, "out");
        await logger.downloadArtifact({ name: "m", savePath: out });
        const old = new Date(1_000_000_000_000);
        for (const path of ["big.bin", "a/small.txt", "c.txt"]) {
          await utimes(join(out, path), old, old);
        }
        // Same size, one byte off; and another size.
        const wrong = big.slice();
        wrong[5] ^= 0xff;
        await writeFile(join(out, "big.bin"), wrong);
        await utimes(join(out, "big.bin"), old, old);
        await writeFile(join(out, "c.txt"), "a longer wrong content");

        const progress: ArtifactProgress[] = [];
        await logger.downloadArtifact({
          name: "m",
          savePath: out,
          onProgress: (p) => progress.push(p),
        });
        assert.deepEqual(await readBytes(join(out, "big.bin")), big);
        assert.equal(await readFile(join(out, "c.txt"), "utf8"), "cee");
        assert.equal(await readFile(join(out, "a/small.txt"), "utf8"), "small");
        // The right file was left alone; the wrong ones were written anew.
        assert.equal(
          (await stat(join(out, "a/small.txt"))).mtimeMs,
          old.getTime(),
        );
        assert.notEqual(
          (await stat(join(out, "big.bin"))).mtimeMs,
          old.getTime(),
        );
        assert.deepEqual(
          progress.filter((p) => p.file === "a/small.txt"),
          [{
            phase: "download",
            file: "a/small.txt",
            bytesDone: 5,
            bytesTotal: 5,
          }],
        );
        assert.deepEqual(await listTree(out), [
          "a/small.txt",
          "big.bin",
          "c.txt",
        ]);
      });
    });

    it("refuses a link inside savePath that leads outside, writing nothing there", async () => {
      await withHarness(async ({ logger }, dir) => {
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [{ path: "sub/x", data: utf8("payload") }],
        });
        const out = join(dir, "out");
        const outside = join(dir, "outside");
        await mkdir(out);
        await mkdir(outside);
        await symlink(outside, join(out, "sub"));
        await rejectsWith(
          logger.downloadArtifact({ name: "m", savePath: out }),
          TypeError,
          /"sub\/x".*outside/,
        );
        assert.deepEqual(await readdir(outside), []);
      });
    });

    it("replaces a link at a file's own path instead of writing through it", async () => {
      await withHarness(async ({ logger }, dir) => {
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [{ path: "x.txt", data: utf8("payload") }],
        });
        const out = join(dir, "out");
        const victim = join(dir, "victim.txt");
        await writeFile(victim, "keep me");
        await mkdir(out);
        await symlink(victim, join(out, "x.txt"));
        await logger.downloadArtifact({ name: "m", savePath: out });
        assert.equal(await readFile(victim, "utf8"), "keep me");
        assert.equal((await lstat(join(out, "x.txt"))).isSymbolicLink(), false);
        assert.equal(await readFile(join(out, "x.txt"), "utf8"), "payload");
      });
    });

    it("reports progress while hashing, storing and downloading", async () => {
      await withHarness(async ({ logger }, dir) => {
        const big = pseudoRandomBytes(2 * 1024 * 1024 + 500_000, 9);
        const logProgress: ArtifactProgress[] = [];
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [
            { path: "big.bin", data: big },
            { path: "small.txt", data: utf8("tiny") },
          ],
          onProgress: (p) => logProgress.push({ ...p }),
        });
        const phases = new Set(logProgress.map((p) => p.phase));
        assert.ok(phases.has("hash"), [...phases].join());
        assert.ok(phases.has("upload"), [...phases].join());
        const lastUpload = logProgress.filter((p) =>
          p.phase === "upload" && p.file === "big.bin"
        ).at(-1);
        assert.deepEqual(lastUpload, {
          phase: "upload",
          file: "big.bin",
          bytesDone: big.length,
          bytesTotal: big.length,
        });

        const progress: ArtifactProgress[] = [];
        await logger.downloadArtifact({
          name: "m",
          savePath: join(dir, "out"),
          onProgress: (p) => progress.push({ ...p }),
        });
        assert.ok(progress.every((p) => p.phase === "download"));
        const sizes: [string, number][] = [["big.bin", big.length], [
          "small.txt",
          4,
        ]];
        for (const [file, size] of sizes) {
          const mine = progress.filter((p) => p.file === file);
          assert.ok(mine.length >= 1, file);
          assert.ok(mine.every((p) => p.bytesTotal === size), file);
          for (let i = 1; i < mine.length; i++) {
            assert.ok(mine[i].bytesDone > mine[i - 1].bytesDone, file);
          }
          assert.equal(mine.at(-1)!.bytesDone, size, file);
        }
        assert.ok(
          progress.filter((p) => p.file === "big.bin").length >= 3,
          "big.bin arrived in several chunks",
        );
      });
    });
  });
}

/** A backend whose only job is to hand out `store`. */
function storeBackend(store: ArtifactStore): Backend {
  return {
    name: "crafted",
    limits: LIMITS,
    send: () => Promise.resolve({ status: "success" }),
    close: () => Promise.resolve(),
    artifacts: () => store,
  };
}

/** `inner`, with some methods replaced, counting `openFile` calls. */
function wrapStore(
  inner: ArtifactStore,
  over: Partial<Omit<ArtifactStore, "backend">> = {},
): ArtifactStore & { opened: string[] } {
  const opened: string[] = [];
  const openFile = over.openFile ?? ((m, f, o) => inner.openFile(m, f, o));
  return {
    backend: "crafted",
    opened,
    putVersion: over.putVersion ?? ((d, o) => inner.putVersion(d, o)),
    resolveVersion: over.resolveVersion ??
      ((n, s) => inner.resolveVersion(n, s)),
    listVersions: over.listVersions ?? ((n) => inner.listVersions(n)),
    setAliases: over.setAliases ?? ((n, v, a) => inner.setAliases(n, v, a)),
    openFile(manifest, file, options) {
      opened.push(file.path);
      return openFile(manifest, file, options);
    },
    recordUse: over.recordUse ?? ((m, u) => inner.recordUse(m, u)),
    listUses: over.listUses ?? ((n, v) => inner.listUses(n, v)),
  };
}

async function withCraftedLogger(
  over: (inner: ArtifactStore) => Partial<Omit<ArtifactStore, "backend">>,
  fn: (
    logger: Logger,
    store: ArtifactStore & { opened: string[] },
    dir: string,
  ) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const inner = new MemoryArtifactStore();
    const store = wrapStore(inner, over(inner));
    const logger = createLogger({
      project: "p",
      backend: storeBackend(store),
      spool: "memory",
      exitFlushTimeoutMs: 0,
    });
    try {
      await fn(logger, store, dir);
    } finally {
      await logger.end().catch(() => {});
    }
  });
}

/** Flips one bit of the byte at `at` (counted over the whole stream). */
function flipByte(
  stream: ReadableStream<Uint8Array>,
  at: number,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const copy = chunk.slice();
        if (at >= offset && at < offset + copy.length) {
          copy[at - offset] ^= 0x04;
        }
        offset += copy.length;
        controller.enqueue(copy);
      },
    }),
  );
}

describe("downloadArtifact against crafted stores", () => {
  it("does not fetch files already present with the right digest", async () => {
    await withCraftedLogger(() => ({}), async (logger, store, dir) => {
      const big = pseudoRandomBytes(1_200_000, 12);
      await logger.logArtifact({
        name: "m",
        type: "model",
        files: [
          { path: "a.txt", data: utf8("alpha") },
          { path: "b/c.bin", data: big },
        ],
      });
      const out = join(dir, "out");
      await logger.downloadArtifact({ name: "m", savePath: out });
      assert.deepEqual(store.opened, ["a.txt", "b/c.bin"]);
      await logger.downloadArtifact({ name: "m", savePath: out });
      assert.deepEqual(store.opened, ["a.txt", "b/c.bin"]);
      const wrong = big.slice();
      wrong[big.length - 1] ^= 1;
      await writeFile(join(out, "b", "c.bin"), wrong);
      await logger.downloadArtifact({ name: "m", savePath: out });
      assert.deepEqual(store.opened, ["a.txt", "b/c.bin", "b/c.bin"]);
      assert.deepEqual(await readBytes(join(out, "b", "c.bin")), big);
      assert.equal(await readFile(join(out, "a.txt"), "utf8"), "alpha");
    });
  });

  it("refuses manifest paths that escape savePath before writing anything", async () => {
    const bad = [
      "../evil",
      "/abs",
      "C:/x",
      "c:x",
      "a/../../b",
      "nul\u0000byte",
      "a\\..\\..\\b",
      "./x",
      "a//b",
      "",
    ];
    let manifestPath = "";
    await withCraftedLogger(
      (inner) => ({
        async resolveVersion(name, selector) {
          const real = await inner.resolveVersion(name, selector);
          const crafted: ArtifactFileEntry = {
            ...real.files[0],
            path: manifestPath,
          };
          return { ...real, files: [real.files[0], crafted] };
        },
      }),
      async (logger, store, dir) => {
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [{ path: "a-good.txt", data: utf8("good") }],
        });
        for (const [i, path] of bad.entries()) {
          manifestPath = path;
          const out = join(dir, "deep", `out-${i}`);
          await assert.rejects(
            logger.downloadArtifact({ name: "m", savePath: out }),
            (error: unknown) => {
              assert.ok(error instanceof TypeError, `${path}: ${error}`);
              assert.ok(
                error.message.includes(JSON.stringify(path)),
                error.message,
              );
              return true;
            },
          );
          assert.equal(await exists(join(dir, "deep")), false, path);
        }
        assert.deepEqual(store.opened, []);
        assert.deepEqual(await readdir(dir), []);
      },
    );
  });

  it("one flipped byte is an IntegrityError naming the file and both digests, leaving nothing behind", async () => {
    const content = pseudoRandomBytes(300_000, 13);
    const flipped = content.slice();
    flipped[150_001] ^= 0x04;
    await withCraftedLogger(
      (inner) => ({
        async openFile(manifest, file, options) {
          const stream = await inner.openFile(manifest, file, options);
          return file.path === "weights.bin"
            ? flipByte(stream, 150_001)
            : stream;
        },
      }),
      async (logger, _store, dir) => {
        const logged = await logger.logArtifact({
          name: "m",
          type: "model",
          files: [{ path: "weights.bin", data: content }],
        });
        const expected = logged.files[0].sha256;
        assert.equal(expected, sha256Hex(content));
        const actual = sha256Hex(flipped);
        const out = join(dir, "out");
        await assert.rejects(
          logger.downloadArtifact({ name: "m", savePath: out }),
          (error: unknown) => {
            assert.ok(error instanceof IntegrityError, `${error}`);
            assert.equal(error.file, "weights.bin");
            assert.equal(error.algorithm, "sha256");
            assert.equal(error.expected, expected);
            assert.equal(error.actual, actual);
            assert.match(error.message, /"weights\.bin"/);
            assert.ok(error.message.includes(expected), error.message);
            assert.ok(error.message.includes(actual), error.message);
            return true;
          },
        );
        assert.equal(await exists(join(out, "weights.bin")), false);
        assert.deepEqual(await listTree(out), []);
      },
    );
  });

  it("an interrupted download rejects with the stream's error and leaves no file", async () => {
    await withCraftedLogger(
      () => ({
        openFile() {
          let sent = false;
          return Promise.resolve(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                if (!sent) {
                  sent = true;
                  controller.enqueue(new Uint8Array(100_000).fill(7));
                } else {
                  controller.error(new Error("connection reset by peer"));
                }
              },
            }),
          );
        },
      }),
      async (logger, store, dir) => {
        await logger.logArtifact({
          name: "m",
          type: "model",
          files: [{ path: "sub/w.bin", data: pseudoRandomBytes(500_000, 14) }],
        });
        const out = join(dir, "out");
        await rejectsWith(
          logger.downloadArtifact({ name: "m", savePath: out }),
          Error,
          /connection reset by peer/,
        );
        assert.deepEqual(store.opened, ["sub/w.bin"]);
        assert.equal(await exists(join(out, "sub", "w.bin")), false);
        assert.deepEqual(await listTree(out), []);
        // No lineage for a download that did not happen.
        assert.deepEqual(await store.listUses("m", "v0"), []);
      },
    );
  });

  it("an aborted download rejects and leaves no partial file", async () => {
    await withCraftedLogger(() => ({}), async (logger, _store, dir) => {
      await logger.logArtifact({
        name: "m",
        type: "model",
        files: [{ path: "w.bin", data: pseudoRandomBytes(1_000_000, 15) }],
      });
      const controller = new AbortController();
      const out = join(dir, "out");
      await assert.rejects(
        logger.downloadArtifact({
          name: "m",
          savePath: out,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.bytesDone > 100_000) controller.abort(new Error("stop now"));
          },
        }),
        /stop now/,
      );
      assert.deepEqual(await listTree(out), []);
    });
  });
});

/** A stream that records whether it was cancelled, failing at its first read when `fail` is set. */
function watchedStream(
  fail?: Error,
): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (fail) controller.error(fail);
      else controller.enqueue(utf8("data"));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

describe("logArtifact input streams", () => {
  it("a failed logArtifact cancels the streams it was given and did not read", async () => {
    const logger = createLogger({
      project: "p",
      backend: new InMemoryBackend(),
      spool: "memory",
      exitFlushTimeoutMs: 0,
    });
    try {
      // Refused before staging: a bad alias, a path given twice.
      const refused = watchedStream();
      await rejectsWith(
        logger.logArtifact({
          name: "m",
          type: "model",
          aliases: ["v1"],
          files: [{ path: "s.bin", data: refused.stream }],
        }),
        TypeError,
        /alias "v1"/,
      );
      assert.equal(refused.cancelled(), true, "stream of a refused call");
      const twice = watchedStream();
      await rejectsWith(
        logger.logArtifact({
          name: "m",
          type: "model",
          files: [
            { path: "s.bin", data: twice.stream },
            { path: "s.bin", data: utf8("x") },
          ],
        }),
        TypeError,
        /appears twice/,
      );
      assert.equal(twice.cancelled(), true, "stream of a duplicated path");
      // Failing midway: the first stream errors, the second is never read.
      const broken = watchedStream(new Error("source broke"));
      const unread = watchedStream();
      await rejectsWith(
        logger.logArtifact({
          name: "m",
          type: "model",
          files: [
            { path: "a.bin", data: broken.stream },
            { path: "b.bin", data: unread.stream },
          ],
        }),
        Error,
        /source broke/,
      );
      assert.equal(unread.cancelled(), true, "stream after a failing one");
    } finally {
      await logger.end();
    }
  });
});

describe("artifacts with two backends that keep them", () => {
  async function withTwoStores(
    second: (inner: ArtifactStore) => Partial<Omit<ArtifactStore, "backend">>,
    fn: (
      logger: Logger,
      stores: [ArtifactStore, ArtifactStore],
      errors: Error[],
    ) => Promise<void>,
  ): Promise<void> {
    const first = new MemoryArtifactStore();
    const other = wrapStore(new MemoryArtifactStore(), second(first));
    const errors: Error[] = [];
    const logger = createLogger({
      project: "p",
      backends: [
        storeBackend(first),
        { ...storeBackend(other), name: "second" },
      ],
      spool: "memory",
      exitFlushTimeoutMs: 0,
      onError: ({ error }) => errors.push(error),
    });
    try {
      await fn(logger, [first, other], errors);
    } finally {
      await logger.end().catch(() => {});
    }
  }

  it("an abort while a later backend stores the version rejects", async () => {
    const controller = new AbortController();
    await withTwoStores(
      () => ({
        putVersion(_draft, options) {
          controller.abort(new Error("stop the upload"));
          options?.signal?.throwIfAborted();
          return Promise.reject(new Error("not reached"));
        },
      }),
      async (logger, [first]) => {
        await rejectsWith(
          logger.logArtifact({
            name: "m",
            type: "model",
            data: utf8("x"),
            signal: controller.signal,
          }),
          Error,
          /stop the upload/,
        );
        // The first backend's version stays, as documented.
        assert.equal((await first.listVersions("m")).length, 1);
      },
    );
  });

  it("setArtifactAliases moves the aliases in every backend that has the version", async () => {
    await withTwoStores(() => ({}), async (logger, [first, second], errors) => {
      for (const text of ["zero", "one"]) {
        await logger.logArtifact({
          name: "m",
          type: "model",
          data: utf8(text),
        });
      }
      await logger.setArtifactAliases("m", "v0", ["best"]);
      for (const store of [first, second]) {
        const best = await store.resolveVersion("m", {
          kind: "alias",
          alias: "best",
        });
        assert.equal(best.digest, (await first.listVersions("m"))[0].digest);
      }
      assert.deepEqual(errors, []);
    });
  });
});

describe("artifacts where the runtime has no filesystem", () => {
  const host =
    (globalThis as { process: { getBuiltinModule?: unknown } }).process;
  let saved: unknown;
  beforeEach(() => {
    saved = host.getBuiltinModule;
  });
  afterEach(() => {
    host.getBuiltinModule = saved;
  });

  it("logs from memory and streams, but downloadArtifact and path are UnsupportedRuntimeError", async () => {
    const backend = new InMemoryBackend();
    const logger = createLogger({
      project: "p",
      backend,
      spool: "memory",
      exitFlushTimeoutMs: 0,
    });
    try {
      host.getBuiltinModule = undefined;
      const logged = await logger.logArtifact({
        name: "m",
        type: "model",
        files: [
          { path: "a.bin", data: utf8("abc") },
          {
            path: "s.bin",
            data: chunked(pseudoRandomBytes(300_000, 16), 4096),
          },
        ],
      });
      assert.equal(logged.version, "v0");
      assert.equal(
        logged.files[0].sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      );
      assert.equal(
        logged.files[1].sha256,
        sha256Hex(pseudoRandomBytes(300_000, 16)),
      );
      assert.equal((await logger.getArtifact("m")).digest, logged.digest);
      for (
        const attempt of [
          () => logger.downloadArtifact({ name: "m", savePath: "out" }),
          () => logger.logArtifact({ name: "m", type: "model", path: "x" }),
        ]
      ) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof UnsupportedRuntimeError, `${error}`);
          assert.equal(error.capability, "filesystem");
          assert.match(error.message, /no filesystem/);
          return true;
        });
      }
      assert.deepEqual(await backend.artifacts("p").listUses("m", "v0"), []);
    } finally {
      host.getBuiltinModule = saved;
      await logger.end();
    }
  });
});

describe("a logger whose backends keep no artifacts", () => {
  it("fails every artifact call with a TrackerError naming the backends", async () => {
    const events: TrackingEvent[] = [];
    const logger = createLogger({
      project: "p",
      backend: {
        name: "nosink",
        limits: LIMITS,
        send: (batch) => {
          events.push(...batch);
          return Promise.resolve({ status: "success" });
        },
        close: () => Promise.resolve(),
      },
      spool: "memory",
      exitFlushTimeoutMs: 0,
    });
    try {
      const calls: (() => Promise<unknown>)[] = [
        () => logger.logArtifact({ name: "m", type: "model", data: utf8("x") }),
        () => logger.downloadArtifact({ name: "m", savePath: "never" }),
        () => logger.getArtifact("m"),
        () => logger.listArtifactVersions("m"),
        () => logger.setArtifactAliases("m", "v0", ["best"]),
      ];
      for (const call of calls) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof TrackerError, `${error}`);
          assert.equal(error.name, "TrackerError");
          assert.match(
            error.message,
            /no backend of this logger \(nosink\) keeps artifacts/,
          );
          return true;
        });
      }
    } finally {
      await logger.end();
    }
    assert.deepEqual(events.filter((e) => e.kind === "artifact"), []);
    assert.equal(await exists("never"), false);
  });
});
