// This module is browser compatible: the filesystem is reached at run time.
import { writeVerifiedFile } from "../../artifact/download.ts";
import {
  assertAlias,
  assertArtifactName,
  assertArtifactPaths,
  formatVersionSelector,
  parseVersionIndex,
} from "../../artifact/names.ts";
import { aliasesOf, assertSameType } from "../../artifact/manifest.ts";
import { fileReadStream } from "../../artifact/streams.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  VersionSelector,
} from "../../artifact/types.ts";
import { ArtifactNotFoundError, TrackerError } from "../../errors/errors.ts";
import {
  type FileSystemLike,
  isProcessAlive,
  joinPath,
  processId,
  processStartMs,
  requireFileSystem,
  writeFileAtomic,
} from "../../runtime/fs.ts";
import { assertSafeName, DEFAULT_LOCAL_DIR } from "./layout.ts";

/** Options of {@linkcode LocalArtifactStore}. */
export interface LocalArtifactStoreOptions {
  /**
   * Root folder of the store.
   * @default {".uetai"}
   */
  dir?: string;
  /** The project whose artifacts this store keeps. */
  project: string;
  /**
   * Flush files and manifests to the storage device before they count as
   * stored.
   * @default {true}
   */
  syncWrites?: boolean;
  /**
   * The longest wait for another writer's lock on an artifact, in milliseconds.
   * @default {30000}
   */
  lockTimeoutMs?: number;
  /** The filesystem; `node:fs/promises` reached at run time by default. */
  fs?: FileSystemLike;
}

/** A version as stored in `versions/v<N>.json` (aliases live apart). */
type StoredManifest = Omit<ArtifactManifest, "aliases">;

const STALE_LOCK_MS = 10_000;

/** Locks held in this process, by lock folder: waiters chain on them. */
const HELD: Map<string, Promise<void>> = new Map();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The local store's artifacts: versions `v0`, `v1`, ... per name, in
 * `<dir>/<project>/.artifacts/`:
 *
 * - `.blobs/<ab>/<sha256>`: file contents, stored once whatever the number of
 *   versions and names holding them;
 * - `<name>/versions/v<N>.json`: each version's manifest, written once;
 * - `<name>/aliases.json`: which version each alias (`latest`, user aliases)
 *   points at;
 * - `<name>/uses.ndjson`: the runs that downloaded a version (lineage).
 *
 * Writers of one name take a lock folder (`<name>/.lock`, taken over when its
 * owner process is dead), so concurrent runs get distinct versions. File
 * contents are copied and verified before the lock is taken.
 *
 * @example
 * ```ts
 * import { LocalArtifactStore } from "@uetai/uetai/local";
 * import { parseVersionSelector } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const store = new LocalArtifactStore({ dir: await Deno.makeTempDir(), project: "p" });
 * assert.deepEqual(await store.listVersions("model"), []);
 * await assert.rejects(store.resolveVersion("model", parseVersionSelector("latest")));
 * ```
 */
export class LocalArtifactStore implements ArtifactStore {
  /** Name of the backend, for messages. */
  readonly backend: string = "local";
  #fs: FileSystemLike;
  #root: string;
  #sync: boolean;
  #lockTimeoutMs: number;

  /**
   * Opens the artifacts of a project (nothing is written until a version is).
   *
   * @param options Root folder, project, durability and filesystem.
   * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
   */
  constructor(options: LocalArtifactStoreOptions) {
    assertSafeName("project", options.project);
    this.#fs = requireFileSystem(options.fs, "open the local artifact store");
    this.#root = joinPath(
      options.dir ?? DEFAULT_LOCAL_DIR,
      options.project,
      ".artifacts",
    );
    this.#sync = options.syncWrites ?? true;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  /** The folder this store keeps its artifacts in. */
  get directory(): string {
    return this.#root;
  }

  /**
   * Lists the artifact names of the project.
   *
   * @returns The names, sorted.
   */
  async listArtifacts(): Promise<string[]> {
    const names = await this.#fs.readdir(this.#root).catch(() =>
      [] as string[]
    );
    return names.filter((name) => !name.startsWith(".")).sort();
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
    // Contents first, outside the lock: content-addressed, so two writers of
    // the same bytes write the same file.
    for (const file of draft.files) {
      assertSha256(file);
    }
    for (const file of draft.files) {
      options.signal?.throwIfAborted();
      const blob = this.#blobPath(file.sha256);
      const present = await this.#fs.stat(blob).then(
        (info) => info.size === file.size,
        () => false,
      );
      if (present) {
        options.onProgress?.({
          phase: "upload",
          file: file.path,
          bytesDone: file.size,
          bytesTotal: file.size,
        });
        continue;
      }
      await this.#fs.mkdir(blob.slice(0, blob.lastIndexOf("/")), {
        recursive: true,
      });
      await writeVerifiedFile(this.#fs, file.open(), blob, file, {
        artifact: draft.name,
        onProgress: options.onProgress,
        signal: options.signal,
        sync: this.#sync,
        phase: "upload",
      });
    }
    return await this.#withLock(draft.name, async () => {
      const versions = await this.#readVersions(draft.name);
      assertSameType(draft, versions[0]?.type);
      const same = versions.find((version) => version.digest === draft.digest);
      let stored: StoredManifest;
      if (same) {
        stored = same;
      } else {
        const last = versions.at(-1);
        const index = last ? parseVersionIndex(last.version)! + 1 : 0;
        stored = {
          name: draft.name,
          type: draft.type,
          version: `v${index}`,
          digest: draft.digest,
          size: draft.size,
          files: draft.files.map(({ path, size, sha256, md5 }) => ({
            path,
            size,
            sha256,
            md5,
          })),
          metadata: draft.metadata,
          createdMs: Date.now(),
        };
        if (draft.createdBy) stored.createdBy = draft.createdBy;
        await this.#fs.mkdir(this.#versionsFolder(draft.name), {
          recursive: true,
        });
        await this.#writeAtomic(
          this.#versionPath(draft.name, stored.version),
          JSON.stringify(stored, null, 1),
          true,
        );
      }
      const aliases = await this.#readAliases(draft.name);
      for (const alias of ["latest", ...draft.aliases]) {
        aliases[alias] = stored.version;
      }
      await this.#writeAtomic(
        this.#aliasesPath(draft.name),
        JSON.stringify(aliases, null, 1),
        false,
      );
      return {
        ...stored,
        aliases: aliasesOf(Object.entries(aliases), stored.version),
        created: !same,
      };
    });
  }

  /**
   * Finds a version (see {@linkcode ArtifactStore.resolveVersion}). The local
   * store numbers versions `v0`, `v1`, ...; a semver selector matches none.
   *
   * @param name Artifact name.
   * @param selector Which version.
   * @returns Its manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   */
  async resolveVersion(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    const aliases = await this.#readAliases(name);
    let version: string | undefined;
    if (selector.kind === "index") version = `v${selector.index}`;
    else if (selector.kind === "latest") version = aliases.latest;
    else if (selector.kind === "alias") version = aliases[selector.alias];
    const stored = version === undefined
      ? undefined
      : await this.#readVersion(name, version);
    if (!stored) throw await this.#notFound(name, selector);
    return {
      ...stored,
      aliases: aliasesOf(Object.entries(aliases), stored.version),
    };
  }

  /**
   * Lists the versions of an artifact, oldest first.
   *
   * @param name Artifact name.
   * @returns The manifests; empty when there is no such artifact.
   */
  async listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const aliases = await this.#readAliases(name);
    return (await this.#readVersions(name)).map((stored) => ({
      ...stored,
      aliases: aliasesOf(Object.entries(aliases), stored.version),
    }));
  }

  /**
   * Points user aliases at a version, moving them from other versions.
   *
   * @param name Artifact name.
   * @param version Such as `"v2"`.
   * @param aliases The aliases.
   * @returns The version's manifest with its aliases.
   * @throws {ArtifactNotFoundError} When there is no such version.
   */
  async setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    for (const alias of aliases) assertAlias(alias);
    return await this.#withLock(name, async () => {
      const stored = await this.#readVersion(name, version);
      if (!stored) {
        throw await this.#notFound(name, {
          kind: "alias",
          alias: version,
        });
      }
      const current = await this.#readAliases(name);
      for (const alias of aliases) current[alias] = stored.version;
      await this.#writeAtomic(
        this.#aliasesPath(name),
        JSON.stringify(current, null, 1),
        false,
      );
      return {
        ...stored,
        aliases: aliasesOf(Object.entries(current), stored.version),
      };
    });
  }

  /**
   * Opens one file of a version.
   *
   * @param _manifest The version (contents are shared by digest).
   * @param file The entry.
   * @returns The content, streamed in chunks.
   */
  openFile(
    _manifest: ArtifactManifest,
    file: ArtifactFileEntry,
  ): Promise<ReadableStream<Uint8Array>> {
    try {
      assertSha256(file);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(
      fileReadStream(this.#fs, this.#blobPath(file.sha256)),
    );
  }

  /**
   * Records that a run downloaded a version.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  async recordUse(
    manifest: ArtifactManifest,
    usedBy: ArtifactRunRef,
  ): Promise<void> {
    assertArtifactName(manifest.name);
    await this.#fs.mkdir(joinPath(this.#root, manifest.name), {
      recursive: true,
    });
    await this.#fs.appendFile(
      joinPath(this.#root, manifest.name, "uses.ndjson"),
      `${JSON.stringify({ version: manifest.version, ...usedBy })}\n`,
    );
  }

  /**
   * The runs that downloaded a version, oldest first.
   *
   * @param name Artifact name.
   * @param version Such as `"v2"`.
   * @returns The runs.
   */
  async listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    assertArtifactName(name);
    const text = await this.#fs.readFile(
      joinPath(this.#root, name, "uses.ndjson"),
      "utf8",
    ).catch(() => "");
    const uses: ArtifactRunRef[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const use = JSON.parse(line);
        if (use.version === version) {
          uses.push({
            project: use.project,
            runId: use.runId,
            timestampMs: use.timestampMs,
          });
        }
      } catch {
        // A torn last line from a crash: skipped.
      }
    }
    return uses;
  }

  async #notFound(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactNotFoundError> {
    const versions = await this.#readVersions(name);
    const wanted = formatVersionSelector(selector);
    const known = versions.length === 0
      ? `there is no artifact ${JSON.stringify(name)} in ${this.#root}`
      : `its versions are ${
        versions.map((v) => v.version).join(", ")
      } and its aliases ${
        Object.keys(await this.#readAliases(name)).join(", ")
      }${
        selector.kind === "semver"
          ? "; the local store numbers versions v0, v1, ..., semver selectors match Comet versions"
          : ""
      }`;
    return new ArtifactNotFoundError(
      `Cannot find version ${JSON.stringify(wanted)} of artifact ${
        JSON.stringify(name)
      }: ${known}`,
      { backend: "local", artifact: name, version: wanted },
    );
  }

  #blobPath(sha256: string): string {
    return joinPath(this.#root, ".blobs", sha256.slice(0, 2), sha256);
  }

  #versionsFolder(name: string): string {
    return joinPath(this.#root, name, "versions");
  }

  #versionPath(name: string, version: string): string {
    return joinPath(this.#versionsFolder(name), `${version}.json`);
  }

  #aliasesPath(name: string): string {
    return joinPath(this.#root, name, "aliases.json");
  }

  async #readAliases(name: string): Promise<Record<string, string>> {
    const text = await this.#fs.readFile(this.#aliasesPath(name), "utf8")
      .catch(() => undefined);
    if (text === undefined) return {};
    const parsed = JSON.parse(text) as Record<string, string>;
    const aliases: Record<string, string> = Object.create(null);
    for (const [alias, version] of Object.entries(parsed)) {
      aliases[alias] = version;
    }
    return aliases;
  }

  async #readVersion(
    name: string,
    version: string,
  ): Promise<StoredManifest | undefined> {
    if (parseVersionIndex(version) === undefined) return undefined;
    const text = await this.#fs.readFile(
      this.#versionPath(name, version),
      "utf8",
    ).catch(() => undefined);
    return text === undefined ? undefined : JSON.parse(text) as StoredManifest;
  }

  async #readVersions(name: string): Promise<StoredManifest[]> {
    const names = await this.#fs.readdir(this.#versionsFolder(name)).catch(
      () => [] as string[],
    );
    const indices = names
      .map((file) => /^v(0|[1-9][0-9]*)\.json$/.exec(file))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    const versions: StoredManifest[] = [];
    for (const index of indices) {
      const stored = await this.#readVersion(name, `v${index}`);
      if (stored) versions.push(stored);
    }
    return versions;
  }

  async #writeAtomic(
    path: string,
    text: string,
    exclusive: boolean,
  ): Promise<void> {
    if (exclusive && await this.#fs.stat(path).then(() => true, () => false)) {
      throw new TrackerError(
        `Cannot write ${path}: it exists already (another writer ignored the artifact lock)`,
      );
    }
    await writeFileAtomic(this.#fs, path, text, { durable: this.#sync });
  }

  async #withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const folder = joinPath(this.#root, name);
    const lock = joinPath(folder, ".lock");
    // Writers in this process queue up; then the lock folder excludes others.
    while (HELD.has(lock)) await HELD.get(lock);
    let release!: () => void;
    HELD.set(lock, new Promise((resolve) => (release = resolve)));
    try {
      await this.#fs.mkdir(folder, { recursive: true });
      await this.#acquire(lock, name);
      try {
        return await fn();
      } finally {
        await this.#fs.rm(lock, { recursive: true, force: true });
      }
    } finally {
      HELD.delete(lock);
      release();
    }
  }

  async #acquire(lock: string, name: string): Promise<void> {
    const started = Date.now();
    let waitMs = 2;
    while (true) {
      try {
        await this.#fs.mkdir(lock, { recursive: false });
        await this.#fs.writeFile(
          joinPath(lock, "owner.json"),
          JSON.stringify({ pid: processId() ?? null, sinceMs: Date.now() }),
        );
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "EEXIST") throw error;
      }
      if (await this.#isStale(lock) && await this.#takeOver(lock)) continue;
      if (Date.now() - started > this.#lockTimeoutMs) {
        throw new TrackerError(
          `Cannot store a version of artifact ${
            JSON.stringify(name)
          }: another writer has held ${lock} for over ${this.#lockTimeoutMs} ms`,
        );
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 50);
    }
  }

  // One waiter at a time removes a stale lock, and checks again that it is
  // stale first: a waiter that judged it stale earlier would otherwise remove
  // the fresh lock another waiter took meanwhile.
  async #takeOver(lock: string): Promise<boolean> {
    const guard = `${lock}-takeover`;
    const mine = await this.#fs.mkdir(guard, { recursive: false }).then(
      () => true,
      () => false,
    );
    if (!mine) {
      // Left by a waiter that died while taking over: removed once old.
      const info = await this.#fs.stat(guard).catch(() => undefined);
      if (info !== undefined && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
        await this.#fs.rm(guard, { recursive: true, force: true });
        return true;
      }
      return false;
    }
    try {
      if (!await this.#isStale(lock)) return false;
      const away = `${lock}-stale-${crypto.randomUUID().slice(0, 8)}`;
      const won = await this.#fs.rename(lock, away).then(
        () => true,
        () => false,
      );
      if (won) await this.#fs.rm(away, { recursive: true, force: true });
      return won;
    } finally {
      await this.#fs.rm(guard, { recursive: true, force: true });
    }
  }

  async #isStale(lock: string): Promise<boolean> {
    // Unreadable or half-written (its owner is writing it now): no owner yet.
    const owner = await this.#fs.readFile(joinPath(lock, "owner.json"), "utf8")
      .then((text) =>
        JSON.parse(text) as { pid?: number | null; sinceMs?: number }
      )
      .catch(() => undefined);
    if (owner && typeof owner.pid === "number") {
      if (owner.pid === processId()) {
        // This process, or an earlier one with the same pid (containers,
        // where every run may be pid 1): only the latter took it before this
        // process started (with a second of margin for clock reads).
        const startedMs = processStartMs();
        return startedMs !== undefined && typeof owner.sinceMs === "number" &&
          owner.sinceMs < startedMs - 1000;
      }
      return !isProcessAlive(owner.pid);
    }
    // No owner written yet: stale only if it stays so for long.
    const info = await this.#fs.stat(lock).catch(() => undefined);
    return info !== undefined && Date.now() - info.mtimeMs > STALE_LOCK_MS;
  }
}

// Blobs are named by it: anything else could name a path outside the store.
function assertSha256(file: Pick<ArtifactFileEntry, "path" | "sha256">): void {
  if (typeof file.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(file.sha256)) {
    throw new TypeError(
      `Cannot use artifact file ${JSON.stringify(file.path)}: its sha256 ${
        JSON.stringify(file.sha256)
      } is not 64 hex digits`,
    );
  }
}
