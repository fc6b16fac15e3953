// This module is browser compatible: the filesystem is reached at run time.

/**
 * Artifacts: versioned, content-addressed files (models, checkpoints,
 * datasets). Loggers log and download them (`logger.logArtifact`,
 * `logger.downloadArtifact`); this module holds what backends and tools
 * share: the {@linkcode ArtifactStore} contract every backend with
 * artifacts implements, manifests and their digest, version selectors, path
 * checks, streaming SHA-256/MD5 hashing and verified writes.
 *
 * @example
 * ```ts
 * import { artifactDigest, parseVersionSelector } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseVersionSelector("v2"), { kind: "index", index: 2 });
 * assert.equal(artifactDigest([]).length, 64);
 * ```
 *
 * @module
 */
export type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactProgress,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  StagedFile,
  VersionSelector,
} from "./types.ts";
export {
  createHash,
  type HashAlgorithm,
  type HashImplementation,
  type IncrementalHash,
  nativeHashAvailable,
  toHex,
} from "./hash.ts";
export {
  aliasesOf,
  artifactDigest,
  assertSameType,
  DIGEST_HEADER,
  sortEntries,
} from "./manifest.ts";
export {
  assertAlias,
  assertArtifactName,
  assertArtifactPath,
  assertArtifactPaths,
  formatVersionSelector,
  parseVersionIndex,
  parseVersionSelector,
} from "./names.ts";
export {
  type ArtifactData,
  type ArtifactFileInput,
  type ArtifactSourceOptions,
  stageArtifact,
  type StageContext,
  type StagedArtifact,
} from "./stage.ts";
export {
  type DownloadReport,
  downloadVersion,
  type DownloadVersionOptions,
  writeVerifiedFile,
  type WriteVerifiedOptions,
} from "./download.ts";
export {
  bytesStream,
  CHUNK_BYTES,
  type ContentDigests,
  ContentHasher,
  digestStream,
  fileReadStream,
} from "./streams.ts";
export type {
  DownloadArtifactOptions,
  LogArtifactOptions,
  LoggedArtifact,
} from "./client.ts";
export {
  type UploadBody,
  uploadBody,
  type UploadOptions,
  uploadStagedFile,
  type UploadStrategy,
  uploadStrategy,
} from "./http.ts";
export type { FileHandleLike, FileSystemLike } from "../runtime/fs.ts";
