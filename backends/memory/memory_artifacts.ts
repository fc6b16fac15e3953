// This module is browser compatible.
import {
  assertAlias,
  assertArtifactName,
  assertArtifactPaths,
  formatVersionSelector,
  parseVersionIndex,
} from "../../artifact/names.ts";
import { aliasesOf, assertSameType } from "../../artifact/manifest.ts";
import { bytesStream } from "../../artifact/streams.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  VersionSelector,
} from "../../artifact/types.ts";
import { ArtifactNotFoundError, IntegrityError } from "../../errors/errors.ts";
import { createHash, toHex } from "../../artifact/hash.ts";

type StoredManifest = Omit<ArtifactManifest, "aliases">;

interface ArtifactRecord {
  type: string;
  versions: StoredManifest[];
  aliases: Map<string, string>;
  uses: (ArtifactRunRef & { version: string })[];
}

/**
 * Artifacts kept in memory, versioned `v0`, `v1`, ... like the local store:
 * for tests, and for workers and browsers that have no filesystem. Contents
 * are held once per digest.
 *
 * @example
 * ```ts
 * import { MemoryArtifactStore } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const store = new MemoryArtifactStore();
 * assert.deepEqual(await store.listVersions("model"), []);
 * ```
 */
export class MemoryArtifactStore implements ArtifactStore {
  /** Name of the backend, for messages. */
  readonly backend: string;
  #artifacts: Map<string, ArtifactRecord> = new Map();
  #contents: Map<string, Uint8Array> = new Map();

  /**
   * Creates an empty store.
   *
   * @param backend Name of the backend, for messages.
   */
  constructor(backend = "memory") {
    this.backend = backend;
  }

  /**
   * Stores a version (see {@linkcode ArtifactStore.putVersion}).
   *
   * @param draft The version and its content.
   * @param options Abort signal and progress.
   * @returns The stored version and whether it is new.
   */
  async putVersion(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions = {},
  ): Promise<ArtifactManifest & { created: boolean }> {
    assertArtifactName(draft.name);
    assertArtifactPaths(draft.files);
    for (const alias of draft.aliases) assertAlias(alias);
    assertSameType(draft, this.#artifacts.get(draft.name)?.type);
    for (const file of draft.files) {
      if (this.#contents.has(file.sha256)) continue;
      const chunks: Uint8Array[] = [];
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of file.open()) {
        options.signal?.throwIfAborted();
        hash.update(chunk);
        chunks.push(chunk.slice());
        size += chunk.length;
        options.onProgress?.({
          phase: "upload",
          file: file.path,
          bytesDone: size,
          bytesTotal: file.size,
        });
      }
      const actual = toHex(hash.digest());
      if (actual !== file.sha256 || size !== file.size) {
        throw new IntegrityError(file.path, {
          algorithm: size !== file.size ? "size" : "sha256",
          expected: size !== file.size ? String(file.size) : file.sha256,
          actual: size !== file.size ? String(size) : actual,
          artifact: draft.name,
        });
      }
      const content = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        content.set(chunk, offset);
        offset += chunk.length;
      }
      this.#contents.set(file.sha256, content);
    }
    // Read again after the awaits above: a concurrent put may have created
    // the record meanwhile, and replacing it would lose its versions.
    const latest = this.#artifacts.get(draft.name);
    assertSameType(draft, latest?.type);
    const current: ArtifactRecord = latest ??
      { type: draft.type, versions: [], aliases: new Map(), uses: [] };
    this.#artifacts.set(draft.name, current);
    let stored = current.versions.find((v) => v.digest === draft.digest);
    const created = stored === undefined;
    if (!stored) {
      stored = {
        name: draft.name,
        type: draft.type,
        version: `v${current.versions.length}`,
        digest: draft.digest,
        size: draft.size,
        files: draft.files.map(({ path, size, sha256, md5 }) => ({
          path,
          size,
          sha256,
          md5,
        })),
        metadata: structuredClone(draft.metadata),
        createdMs: Date.now(),
      };
      if (draft.createdBy) stored.createdBy = { ...draft.createdBy };
      current.versions.push(stored);
    }
    for (const alias of ["latest", ...draft.aliases]) {
      current.aliases.set(alias, stored.version);
    }
    return { ...this.#withAliases(current, stored), created };
  }

  /**
   * Finds a version.
   *
   * @param name Artifact name.
   * @param selector Which version.
   * @returns Its manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   */
  resolveVersion(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    const record = this.#artifacts.get(name);
    let version: string | undefined;
    if (selector.kind === "index") version = `v${selector.index}`;
    else if (selector.kind === "latest") {
      version = record?.aliases.get("latest");
    } else if (selector.kind === "alias") {
      version = record?.aliases.get(selector.alias);
    }
    const stored = record?.versions.find((v) => v.version === version);
    if (!record || !stored) {
      return Promise.reject(
        new ArtifactNotFoundError(
          `Cannot find version ${
            JSON.stringify(formatVersionSelector(selector))
          } of artifact ${JSON.stringify(name)}: ${
            record
              ? `its versions are ${
                record.versions.map((v) => v.version).join(", ")
              }`
              : "there is no such artifact"
          }`,
          {
            backend: this.backend,
            artifact: name,
            version: formatVersionSelector(selector),
          },
        ),
      );
    }
    return Promise.resolve(this.#withAliases(record, stored));
  }

  /**
   * Lists the versions of an artifact, oldest first.
   *
   * @param name Artifact name.
   * @returns The manifests.
   */
  listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const record = this.#artifacts.get(name);
    return Promise.resolve(
      record?.versions.map((v) => this.#withAliases(record, v)) ?? [],
    );
  }

  /**
   * Points user aliases at a version.
   *
   * @param name Artifact name.
   * @param version Such as `"v1"`.
   * @param aliases The aliases.
   * @returns The version with its aliases.
   */
  async setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    for (const alias of aliases) assertAlias(alias);
    assertArtifactName(name);
    const index = parseVersionIndex(version);
    if (index === undefined) {
      throw new ArtifactNotFoundError(
        `Cannot find version ${JSON.stringify(version)} of artifact ${
          JSON.stringify(name)
        }: versions are named v0, v1, ...`,
        { backend: this.backend, artifact: name, version },
      );
    }
    const found = await this.resolveVersion(name, {
      kind: "index",
      index,
    });
    const record = this.#artifacts.get(name)!;
    for (const alias of aliases) record.aliases.set(alias, found.version);
    return this.#withAliases(
      record,
      record.versions.find((v) => v.version === found.version)!,
    );
  }

  /**
   * Opens one file of a version.
   *
   * @param manifest The version.
   * @param file The entry.
   * @returns The content.
   */
  openFile(
    manifest: ArtifactManifest,
    file: ArtifactFileEntry,
  ): Promise<ReadableStream<Uint8Array>> {
    const content = this.#contents.get(file.sha256);
    if (!content) {
      return Promise.reject(
        new ArtifactNotFoundError(
          `Cannot open ${
            JSON.stringify(file.path)
          } of ${manifest.name}:${manifest.version}: no such content`,
          { backend: this.backend, artifact: manifest.name },
        ),
      );
    }
    return Promise.resolve(bytesStream(content, 64 * 1024));
  }

  /**
   * Records that a run used a version.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  recordUse(
    manifest: ArtifactManifest,
    usedBy: ArtifactRunRef,
  ): Promise<void> {
    this.#artifacts.get(manifest.name)?.uses.push({
      ...usedBy,
      version: manifest.version,
    });
    return Promise.resolve();
  }

  /**
   * The runs that used a version.
   *
   * @param name Artifact name.
   * @param version The version.
   * @returns The runs, oldest first.
   */
  listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    return Promise.resolve(
      (this.#artifacts.get(name)?.uses ?? [])
        .filter((use) => use.version === version)
        .map(({ project, runId, timestampMs }) => ({
          project,
          runId,
          timestampMs,
        })),
    );
  }

  #withAliases(
    record: ArtifactRecord,
    stored: StoredManifest,
  ): ArtifactManifest {
    return {
      ...structuredClone(stored),
      aliases: aliasesOf(record.aliases, stored.version),
    };
  }
}
