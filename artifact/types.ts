// This module is browser compatible.

/** One file of an artifact version, as its manifest lists it. */
export interface ArtifactFileEntry {
  /** Path inside the artifact, `/`-separated, such as `"weights/layer1.bin"`. */
  path: string;
  /** Size in bytes. */
  size: number;
  /**
   * SHA-256 of the content, lowercase hex; empty for a version another
   * client logged without one (a W&B artifact of W&B's own SDK), whose
   * files are then checked by `md5`.
   */
  sha256: string;
  /** MD5 of the content, standard base64 (the form W&B checks). */
  md5: string;
}

/** Who made or used an artifact version. */
export interface ArtifactRunRef {
  /** The run's project. */
  project: string;
  /** The run's id. */
  runId: string;
  /** When, in milliseconds since the epoch. */
  timestampMs: number;
}

/**
 * One version of an artifact: what `logArtifact` returns and `getArtifact`
 * reads back.
 */
export interface ArtifactManifest {
  /** Artifact name. */
  name: string;
  /** Artifact type, such as `"model"` or `"dataset"`. */
  type: string;
  /**
   * The version, in the store's own form: `"v3"` in the local store and W&B,
   * a semver string such as `"1.0.0"` in Comet.
   */
  version: string;
  /** Digest over the sorted file entries (see `artifactDigest`), lowercase hex SHA-256. */
  digest: string;
  /** Total size of the files, in bytes. */
  size: number;
  /** The files, sorted by path. */
  files: ArtifactFileEntry[];
  /** The user's JSON-serialisable description. */
  metadata: Record<string, unknown>;
  /** Aliases pointing at this version now, such as `["latest", "best"]`. */
  aliases: string[];
  /** The run that produced this version, when known. */
  createdBy?: ArtifactRunRef;
  /** When the version was created, in milliseconds since the epoch. */
  createdMs: number;
}

/** A version selector, parsed (see `parseVersionSelector`). */
export type VersionSelector =
  | { kind: "latest" }
  | { kind: "index"; index: number }
  | { kind: "semver"; version: string }
  | { kind: "alias"; alias: string };

/** Reported while artifact bytes move, for progress bars. */
export interface ArtifactProgress {
  /** What is happening: hashing the input, storing it, or downloading. */
  phase: "hash" | "upload" | "download";
  /** The file, by its path inside the artifact. */
  file: string;
  /** Bytes of this file done so far. */
  bytesDone: number;
  /** Size of this file in bytes. */
  bytesTotal: number;
}

/** One file ready to be stored: hashed, sized, and readable again. */
export interface StagedFile extends ArtifactFileEntry {
  /**
   * Opens the content as a fresh stream of chunks. Each call starts from the
   * first byte; callers must read or cancel what they open.
   */
  open(): ReadableStream<Uint8Array>;
}

/** A new version to store, with its content. */
export interface ArtifactDraft {
  /** Artifact name. */
  name: string;
  /** Artifact type. */
  type: string;
  /** The user's description. */
  metadata: Record<string, unknown>;
  /** User aliases to point at the version (`latest` always moves). */
  aliases: string[];
  /** Digest over the sorted entries. */
  digest: string;
  /** Total size in bytes. */
  size: number;
  /** The files, sorted by path, each readable again. */
  files: StagedFile[];
  /** The run producing it. */
  createdBy?: ArtifactRunRef;
}

/** Options of the transfer calls of {@linkcode ArtifactStore}. */
export interface ArtifactTransferOptions {
  /** Aborts the transfer. */
  signal?: AbortSignal;
  /** Called as bytes move. */
  onProgress?: (progress: ArtifactProgress) => void;
}

/**
 * Where versions of artifacts live: the contract every backend with
 * artifacts implements (the local store here; Comet, MLflow and W&B in their
 * own folders). The artifact layer hashes, verifies and writes files; a
 * store only keeps versions, resolves selectors and moves bytes.
 */
export interface ArtifactStore {
  /** Name of the backend, for messages (`"local"`, `"comet"`). */
  readonly backend: string;
  /**
   * Stores a version. When a version with the same digest (and type) exists,
   * no new version is made: the aliases move to it and it is returned.
   * `latest` always ends on the returned version.
   *
   * @param draft The version and its content.
   * @param options Abort signal and progress.
   * @returns The stored version, with `created` telling whether it is new.
   */
  putVersion(
    draft: ArtifactDraft,
    options?: ArtifactTransferOptions,
  ): Promise<ArtifactManifest & { created: boolean }>;
  /**
   * Finds a version.
   *
   * @param name Artifact name.
   * @param selector Which version.
   * @returns The version's manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   */
  resolveVersion(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactManifest>;
  /**
   * Lists the versions of an artifact, oldest first; empty when there is none.
   *
   * @param name Artifact name.
   */
  listVersions(name: string): Promise<ArtifactManifest[]>;
  /**
   * Points user aliases at a version (moving them from others).
   *
   * @param name Artifact name.
   * @param version The version, as the store names it.
   * @param aliases Aliases to set.
   */
  setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest>;
  /**
   * Opens one file of a version for reading. The artifact layer verifies
   * size and digest; stores need not.
   *
   * @param manifest The version.
   * @param file One of its entries.
   * @param options Abort signal.
   */
  openFile(
    manifest: ArtifactManifest,
    file: ArtifactFileEntry,
    options?: { signal?: AbortSignal },
  ): Promise<ReadableStream<Uint8Array>>;
  /**
   * Records that a run used (downloaded) a version, for lineage.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  recordUse(manifest: ArtifactManifest, usedBy: ArtifactRunRef): Promise<void>;
  /**
   * The runs that used a version, oldest first.
   *
   * @param name Artifact name.
   * @param version The version.
   */
  listUses(name: string, version: string): Promise<ArtifactRunRef[]>;
}
