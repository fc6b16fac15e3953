// The contract every `ArtifactStore` must keep (artifact/types.ts), as one
// suite that each backend's test calls with its own store: the local store
// and the memory store here, Comet, MLflow and W&B against their fake
// servers. It tests only the contract: versions are compared with what the
// store itself returned (`v3` in the local store, `1.0.0` in Comet), never
// guessed.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash as nodeCreateHash } from "node:crypto";
import { stageArtifact, type StagedArtifact } from "../../artifact/stage.ts";
import { parseVersionSelector } from "../../artifact/names.ts";
import { bytesStream } from "../../artifact/streams.ts";
import type {
  ArtifactDraft,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  StagedFile,
} from "../../artifact/types.ts";
import { ArtifactNotFoundError, IntegrityError } from "../../errors/errors.ts";

/** A store under test and how to dispose of it. */
export interface StoreUnderTest {
  /** The store. */
  store: ArtifactStore;
  /** Removes whatever the store left (temporary folders, fake servers). */
  cleanup(): Promise<void>;
}

/** One file of a draft, given by its content. */
export interface DraftFile {
  /** Path inside the artifact. */
  path: string;
  /** Content. */
  data: Uint8Array;
}

/** What a draft carries besides its files. */
export interface DraftOptions {
  /** @default {"model"} */
  type?: string;
  /** User aliases. */
  aliases?: string[];
  /** Metadata. */
  metadata?: Record<string, unknown>;
  /** The producing run. */
  createdBy?: ArtifactRunRef;
}

const textEncoder = new TextEncoder();

/**
 * Deterministic pseudo-random bytes (xorshift32), so contents differ from
 * one seed to the next and no two chunks of a big file are alike.
 *
 * @param length How many bytes.
 * @param seed Any non-zero integer.
 * @returns The bytes.
 */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

/**
 * UTF-8 bytes of a string.
 *
 * @param text The text.
 * @returns Its bytes.
 */
export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

/**
 * Reads a stream to its end.
 *
 * @param stream The stream.
 * @returns Every byte, concatenated.
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value.slice());
    size += value.length;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * SHA-256 of bytes through `node:crypto`, lowercase hex: an oracle
 * independent of the library's hashing.
 *
 * @param bytes The content.
 * @returns The digest.
 */
export function sha256Hex(bytes: Uint8Array): string {
  return nodeCreateHash("sha256").update(bytes).digest("hex");
}

/**
 * MD5 of bytes through `node:crypto`, standard base64.
 *
 * @param bytes The content.
 * @returns The digest.
 */
export function md5Base64(bytes: Uint8Array): string {
  return nodeCreateHash("md5").update(bytes).digest("base64");
}

function entries(manifest: ArtifactManifest | ArtifactDraft) {
  return manifest.files.map(({ path, size, sha256, md5 }) => ({
    path,
    size,
    sha256,
    md5,
  }));
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

type Stage = (
  name: string,
  files: DraftFile[],
  options?: DraftOptions,
) => Promise<ArtifactDraft>;

/**
 * Registers the conformance suite of an {@linkcode ArtifactStore}.
 *
 * @param label The `describe` label, such as `"LocalArtifactStore"`.
 * @param makeStore Makes a fresh, empty store for one test.
 */
export function artifactStoreConformance(
  label: string,
  makeStore: () => Promise<StoreUnderTest>,
): void {
  async function withStore(
    fn: (store: ArtifactStore, stage: Stage) => Promise<void>,
  ): Promise<void> {
    const { store, cleanup } = await makeStore();
    const staged: StagedArtifact[] = [];
    const stage: Stage = async (name, files, options = {}) => {
      const content = await stageArtifact({ files }, { name });
      staged.push(content);
      const draft: ArtifactDraft = {
        name,
        type: options.type ?? "model",
        metadata: options.metadata ?? {},
        aliases: options.aliases ?? [],
        digest: content.digest,
        size: content.size,
        files: content.files,
      };
      if (options.createdBy) draft.createdBy = options.createdBy;
      return draft;
    };
    try {
      await fn(store, stage);
    } finally {
      for (const content of staged) await content.dispose();
      await cleanup();
    }
  }

  async function expectNotFound(
    promise: Promise<unknown>,
    artifact: string,
    version: string,
  ): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(
        error instanceof ArtifactNotFoundError,
        `expected ArtifactNotFoundError, got ${error}`,
      );
      assert.equal(error.artifact, artifact);
      assert.equal(error.version, version);
      return true;
    });
  }

  describe(label, () => {
    it("first put creates a version that latest points at", async () => {
      await withStore(async (store, stage) => {
        const draft = await stage("model", [
          { path: "weights.bin", data: pseudoRandomBytes(1000, 1) },
          { path: "config.json", data: utf8('{"layers":2}') },
        ]);
        const stored = await store.putVersion(draft);
        assert.equal(stored.created, true);
        assert.equal(stored.name, "model");
        assert.equal(stored.type, "model");
        assert.equal(typeof stored.version, "string");
        assert.notEqual(stored.version, "");
        assert.equal(stored.digest, draft.digest);
        assert.equal(stored.size, 1000 + 12);
        assert.deepEqual(entries(stored), entries(draft));
        assert.deepEqual(stored.files.map((f) => f.path), [
          "config.json",
          "weights.bin",
        ]);
        assert.ok(stored.aliases.includes("latest"));
        assert.equal(typeof stored.createdMs, "number");
        const latest = await store.resolveVersion("model", { kind: "latest" });
        assert.equal(latest.version, stored.version);
        assert.equal(latest.digest, draft.digest);
        assert.deepEqual(entries(latest), entries(draft));
        assert.deepEqual(sorted(latest.aliases), sorted(stored.aliases));
      });
    });

    it("identical content makes no new version but moves aliases to it", async () => {
      await withStore(async (store, stage) => {
        const files = [{ path: "a.bin", data: pseudoRandomBytes(500, 2) }];
        const first = await store.putVersion(
          await stage("ckpt", files, { aliases: ["first"] }),
        );
        assert.equal(first.created, true);
        assert.deepEqual(sorted(first.aliases), ["first", "latest"]);

        const again = await store.putVersion(
          await stage("ckpt", files, { aliases: ["best"] }),
        );
        assert.equal(again.created, false);
        assert.equal(again.version, first.version);
        assert.equal(again.digest, first.digest);
        assert.deepEqual(sorted(again.aliases), ["best", "first", "latest"]);
        assert.equal((await store.listVersions("ckpt")).length, 1);
        const best = await store.resolveVersion("ckpt", {
          kind: "alias",
          alias: "best",
        });
        assert.equal(best.version, first.version);
      });
    });

    it("different content makes a new version: latest moves, earlier aliases stay", async () => {
      await withStore(async (store, stage) => {
        const a = await store.putVersion(
          await stage("ckpt", [{ path: "w", data: utf8("epoch 1") }], {
            aliases: ["best"],
          }),
        );
        const b = await store.putVersion(
          await stage("ckpt", [{ path: "w", data: utf8("epoch 2") }], {
            aliases: ["candidate"],
          }),
        );
        assert.equal(b.created, true);
        assert.notEqual(b.version, a.version);
        assert.notEqual(b.digest, a.digest);
        assert.deepEqual(sorted(b.aliases), ["candidate", "latest"]);
        const latest = await store.resolveVersion("ckpt", { kind: "latest" });
        assert.equal(latest.version, b.version);
        const best = await store.resolveVersion("ckpt", {
          kind: "alias",
          alias: "best",
        });
        assert.equal(best.version, a.version);
        assert.deepEqual(best.aliases, ["best"]);

        // Logging the first content again: no new version, latest moves back.
        const back = await store.putVersion(
          await stage("ckpt", [{ path: "w", data: utf8("epoch 1") }]),
        );
        assert.equal(back.created, false);
        assert.equal(back.version, a.version);
        assert.deepEqual(sorted(back.aliases), ["best", "latest"]);
        const versions = await store.listVersions("ckpt");
        assert.deepEqual(versions.map((v) => v.version), [
          a.version,
          b.version,
        ]);
        assert.deepEqual(sorted(versions[1].aliases), ["candidate"]);
      });
    });

    it("listVersions lists oldest first, with aliases; empty for an unknown name", async () => {
      await withStore(async (store, stage) => {
        assert.deepEqual(await store.listVersions("nothing"), []);
        const stored: ArtifactManifest[] = [];
        for (let i = 0; i < 4; i++) {
          stored.push(
            await store.putVersion(
              await stage(
                "data",
                [{ path: `part-${i}.csv`, data: utf8(`row,${i}\n`) }],
                { aliases: i === 1 ? ["golden"] : [] },
              ),
            ),
          );
        }
        assert.equal(new Set(stored.map((v) => v.version)).size, 4);
        const listed = await store.listVersions("data");
        assert.deepEqual(
          listed.map((v) => v.version),
          stored.map((v) => v.version),
        );
        assert.deepEqual(
          listed.map((v) => v.digest),
          stored.map((v) => v.digest),
        );
        assert.deepEqual(listed.map((v) => sorted(v.aliases)), [
          [],
          ["golden"],
          [],
          ["latest"],
        ]);
        assert.deepEqual(entries(listed[2]), entries(stored[2]));
      });
    });

    it("resolveVersion finds a version by latest, by its own version string and by alias", async () => {
      await withStore(async (store, stage) => {
        const a = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("one") }], {
            aliases: ["prod"],
          }),
        );
        const b = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("two") }]),
        );
        for (const stored of [a, b]) {
          const found = await store.resolveVersion(
            "m",
            parseVersionSelector(stored.version),
          );
          assert.equal(found.version, stored.version);
          assert.equal(found.digest, stored.digest);
        }
        assert.equal(
          (await store.resolveVersion("m", { kind: "latest" })).version,
          b.version,
        );
        const prod = await store.resolveVersion("m", {
          kind: "alias",
          alias: "prod",
        });
        assert.equal(prod.version, a.version);
        assert.equal(prod.digest, a.digest);
      });
    });

    it("an unknown name or alias is an ArtifactNotFoundError naming both", async () => {
      await withStore(async (store, stage) => {
        await expectNotFound(
          store.resolveVersion("ghost", { kind: "latest" }),
          "ghost",
          "latest",
        );
        await expectNotFound(
          store.resolveVersion("ghost", { kind: "alias", alias: "best" }),
          "ghost",
          "best",
        );
        await store.putVersion(
          await stage("real", [{ path: "x", data: utf8("x") }]),
        );
        await expectNotFound(
          store.resolveVersion("real", { kind: "alias", alias: "nope" }),
          "real",
          "nope",
        );
      });
    });

    it("setAliases moves an alias from one version to another", async () => {
      await withStore(async (store, stage) => {
        const a = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("a") }], {
            aliases: ["best"],
          }),
        );
        const b = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("b") }]),
        );
        const moved = await store.setAliases("m", b.version, [
          "best",
          "reviewed",
        ]);
        assert.equal(moved.version, b.version);
        assert.deepEqual(sorted(moved.aliases), ["best", "latest", "reviewed"]);
        const best = await store.resolveVersion("m", {
          kind: "alias",
          alias: "best",
        });
        assert.equal(best.version, b.version);
        const listed = await store.listVersions("m");
        assert.deepEqual(listed.map((v) => sorted(v.aliases)), [
          [],
          ["best", "latest", "reviewed"],
        ]);
        // A version the store does not have is named in the error.
        await expectNotFound(store.setAliases("m", "nope", ["x"]), "m", "nope");
        // And back again.
        await store.setAliases("m", a.version, ["best"]);
        assert.equal(
          (await store.resolveVersion("m", { kind: "alias", alias: "best" }))
            .version,
          a.version,
        );
        assert.equal(
          (await store.resolveVersion("m", { kind: "latest" })).version,
          b.version,
        );
      });
    });

    it("openFile returns exactly the bytes: a multi-chunk file, an empty file, unicode paths", async () => {
      await withStore(async (store, stage) => {
        const big = pseudoRandomBytes(2 * 1024 * 1024 + 123_457, 7);
        const files: DraftFile[] = [
          { path: "weights/big.bin", data: big },
          { path: "empty.txt", data: new Uint8Array(0) },
          { path: "données/模型 ü.txt", data: utf8("ünïcödé ✓") },
        ];
        const stored = await store.putVersion(await stage("blob", files));
        const resolved = await store.resolveVersion("blob", {
          kind: "latest",
        });
        assert.deepEqual(
          resolved.files.map((f) => f.path),
          ["données/模型 ü.txt", "empty.txt", "weights/big.bin"],
        );
        for (const file of files) {
          const entry = resolved.files.find((f) => f.path === file.path);
          assert.ok(entry, `no entry for ${file.path}`);
          assert.equal(entry.size, file.data.length);
          assert.equal(entry.sha256, sha256Hex(file.data));
          assert.equal(entry.md5, md5Base64(file.data));
          const bytes = await readAll(await store.openFile(stored, entry));
          assert.equal(bytes.length, file.data.length);
          assert.equal(sha256Hex(bytes), sha256Hex(file.data));
          assert.deepEqual(bytes, file.data);
        }
      });
    });

    it("recordUse and listUses keep lineage per version, oldest first", async () => {
      await withStore(async (store, stage) => {
        const a = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("a") }]),
        );
        const b = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("b") }]),
        );
        const use1 = { project: "p", runId: "run-1", timestampMs: 1000 };
        const use2 = { project: "p", runId: "run-2", timestampMs: 2000 };
        const use3 = { project: "q", runId: "run-3", timestampMs: 3000 };
        assert.deepEqual(await store.listUses("m", a.version), []);
        await store.recordUse(
          await store.resolveVersion("m", parseVersionSelector(a.version)),
          use1,
        );
        await store.recordUse(b, use3);
        await store.recordUse(a, use2);
        assert.deepEqual(await store.listUses("m", a.version), [use1, use2]);
        assert.deepEqual(await store.listUses("m", b.version), [use3]);
      });
    });

    it("keeps the producing run and the metadata", async () => {
      await withStore(async (store, stage) => {
        const createdBy = { project: "p", runId: "maker", timestampMs: 1234 };
        const metadata = {
          lr: 0.001,
          layers: [64, 32],
          optimizer: { name: "adam", betas: [0.9, 0.999] },
          note: "ünïcode ✓",
          flag: true,
          nothing: null,
        };
        const stored = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("a") }], {
            createdBy,
            metadata,
          }),
        );
        assert.deepEqual(stored.createdBy, createdBy);
        assert.deepEqual(stored.metadata, metadata);
        const resolved = await store.resolveVersion("m", { kind: "latest" });
        assert.deepEqual(resolved.createdBy, createdBy);
        assert.deepEqual(resolved.metadata, metadata);
        assert.deepEqual((await store.listVersions("m"))[0].metadata, metadata);
        // The same content logged by another run: the producer stays.
        const again = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("a") }], {
            createdBy: { project: "p", runId: "other", timestampMs: 5678 },
          }),
        );
        assert.equal(again.created, false);
        assert.deepEqual(again.createdBy, createdBy);
        assert.deepEqual(
          (await store.resolveVersion("m", { kind: "latest" })).createdBy,
          createdBy,
        );
      });
    });

    it("refuses another type for an existing name with a TypeError", async () => {
      await withStore(async (store, stage) => {
        const first = await store.putVersion(
          await stage("m", [{ path: "x", data: utf8("a") }], { type: "model" }),
        );
        await assert.rejects(
          store.putVersion(
            await stage("m", [{ path: "x", data: utf8("b") }], {
              type: "dataset",
            }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof TypeError, `got ${error}`);
            assert.match(error.message, /"dataset"/);
            return true;
          },
        );
        const versions = await store.listVersions("m");
        assert.deepEqual(versions.map((v) => v.version), [first.version]);
        assert.equal(versions[0].type, "model");
      });
    });

    it("a file whose content does not match its sha256 is an IntegrityError and creates no version", async () => {
      await withStore(async (store, stage) => {
        const content = pseudoRandomBytes(300_000, 11);
        const flipped = content.slice();
        flipped[123_456] ^= 0x01;
        const shorter = content.slice(0, content.length - 1);
        for (const wrong of [flipped, shorter]) {
          const draft = await stage("m", [
            { path: "ok.txt", data: utf8("fine") },
            { path: "weights.bin", data: content },
          ]);
          const bad: StagedFile[] = draft.files.map((file) =>
            file.path === "weights.bin"
              ? { ...file, open: () => bytesStream(wrong, 64 * 1024) }
              : file
          );
          await assert.rejects(
            store.putVersion({ ...draft, files: bad }),
            (error: unknown) => {
              assert.ok(error instanceof IntegrityError, `got ${error}`);
              assert.equal(error.file, "weights.bin");
              return true;
            },
          );
          assert.deepEqual(await store.listVersions("m"), []);
          await expectNotFound(
            store.resolveVersion("m", { kind: "latest" }),
            "m",
            "latest",
          );
        }
        // Nothing poisoned was kept: the right content stores and reads back.
        const good = await stage("m", [
          { path: "ok.txt", data: utf8("fine") },
          { path: "weights.bin", data: content },
        ]);
        const stored = await store.putVersion(good);
        assert.equal(stored.created, true);
        const entry = stored.files.find((f) => f.path === "weights.bin")!;
        const bytes = await readAll(await store.openFile(stored, entry));
        assert.equal(sha256Hex(bytes), sha256Hex(content));
      });
    });

    it("concurrent puts of different contents get distinct versions and an intact list", async () => {
      await withStore(async (store, stage) => {
        const count = 8;
        const drafts: ArtifactDraft[] = [];
        for (let i = 0; i < count; i++) {
          drafts.push(
            await stage("ckpt", [
              { path: "shared.bin", data: pseudoRandomBytes(100_000, 99) },
              {
                path: `own-${i}.bin`,
                data: pseudoRandomBytes(50_000 + i, 100 + i),
              },
            ]),
          );
        }
        const results = await Promise.all(
          drafts.map((draft) => store.putVersion(draft)),
        );
        assert.ok(results.every((r) => r.created));
        const versions = results.map((r) => r.version);
        assert.equal(new Set(versions).size, count);
        for (const [i, result] of results.entries()) {
          assert.equal(result.digest, drafts[i].digest);
        }
        const listed = await store.listVersions("ckpt");
        assert.equal(listed.length, count);
        assert.deepEqual(
          sorted(listed.map((v) => v.version)),
          sorted(versions),
        );
        const withLatest = listed.filter((v) => v.aliases.includes("latest"));
        assert.equal(withLatest.length, 1);
        for (const [i, result] of results.entries()) {
          const found = await store.resolveVersion(
            "ckpt",
            parseVersionSelector(result.version),
          );
          assert.equal(found.digest, drafts[i].digest);
          const own = found.files.find((f) => f.path === `own-${i}.bin`)!;
          const bytes = await readAll(await store.openFile(found, own));
          assert.equal(sha256Hex(bytes), own.sha256);
          assert.equal(bytes.length, 50_000 + i);
        }
      });
    });
  });
}
