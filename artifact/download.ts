// This module is browser compatible: the filesystem is reached at run time.
import { IntegrityError } from "../errors/errors.ts";
import {
  type FileSystemLike,
  getFileSystem,
  joinPath,
  requireFileSystem,
} from "../runtime/fs.ts";
import { createHash, toHex } from "./hash.ts";
import { encodeBase64 } from "../runtime/base64.ts";
import { assertArtifactPaths } from "./names.ts";
import { ChunkReader, fileReadStream } from "./streams.ts";
import type {
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactProgress,
  ArtifactStore,
} from "./types.ts";

/** Options of {@linkcode downloadVersion}. */
export interface DownloadVersionOptions {
  /** The filesystem, when not the runtime's. */
  fs?: FileSystemLike;
  /** Called as bytes arrive. */
  onProgress?: (progress: ArtifactProgress) => void;
  /** Aborts the download; files finished so far stay, the current one is removed. */
  signal?: AbortSignal;
}

/** What {@linkcode downloadVersion} did. */
export interface DownloadReport {
  /** The folder written. */
  savePath: string;
  /** Paths fetched from the store. */
  fetched: string[];
  /** Paths already present with the right digest, not fetched again. */
  skipped: string[];
}

/**
 * Writes every file of a version under `savePath`, verified: each file is
 * streamed to a temporary file next to its target while its SHA-256 is
 * computed, checked for size and digest, then renamed into place. Every
 * manifest path is checked before the first byte is written, and each
 * file's folder must resolve inside `savePath` (no symbolic link leads
 * out). Files already present with the right digest are not fetched again.
 *
 * @param store Where the version lives.
 * @param manifest The version.
 * @param savePath The folder to write into (created when missing).
 * @param options Filesystem, progress and abort signal.
 * @returns What was fetched and what was already there.
 * @throws {IntegrityError} When a file does not match its manifest entry.
 * @throws {TypeError} When a manifest path would escape `savePath`.
 */
export async function downloadVersion(
  store: ArtifactStore,
  manifest: ArtifactManifest,
  savePath: string,
  options: DownloadVersionOptions = {},
): Promise<DownloadReport> {
  if (typeof savePath !== "string" || savePath === "") {
    throw new TypeError(
      `Cannot download artifact ${JSON.stringify(manifest.name)}: savePath is ${
        JSON.stringify(savePath)
      }; expected a folder path`,
    );
  }
  assertArtifactPaths(manifest.files);
  const fs = requireFileSystem(options.fs, "download an artifact");
  await fs.mkdir(savePath, { recursive: true });
  const root = await fs.realpath(savePath);
  const label = `${manifest.name}:${manifest.version}`;
  const report: DownloadReport = { savePath, fetched: [], skipped: [] };
  for (const entry of manifest.files) {
    options.signal?.throwIfAborted();
    const target = joinPath(savePath, entry.path);
    const slash = entry.path.lastIndexOf("/");
    if (slash !== -1) {
      await makeFolderInside(
        fs,
        savePath,
        root,
        entry.path.slice(0, slash),
        () =>
          `Cannot download artifact file ${
            JSON.stringify(entry.path)
          } of ${label}`,
      );
    }
    if (await hasContent(fs, target, entry, options.signal)) {
      report.skipped.push(entry.path);
      options.onProgress?.({
        phase: "download",
        file: entry.path,
        bytesDone: entry.size,
        bytesTotal: entry.size,
      });
      continue;
    }
    const stream = await store.openFile(manifest, entry, {
      signal: options.signal,
    });
    await writeVerifiedFile(fs, stream, target, entry, {
      artifact: label,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    report.fetched.push(entry.path);
  }
  return report;
}

/**
 * Creates `folder` (relative, `/`-separated) under `savePath` one segment at
 * a time, checking before each next segment that the path so far resolves
 * inside `root`: a symbolic link leading out is refused before anything is
 * created beyond it.
 */
async function makeFolderInside(
  fs: FileSystemLike,
  savePath: string,
  root: string,
  folder: string,
  context: () => string,
): Promise<void> {
  let current = savePath;
  for (const segment of folder.split("/")) {
    current = joinPath(current, segment);
    const link = await fs.lstat(current).catch(() => undefined);
    if (link === undefined) {
      await fs.mkdir(current, { recursive: false }).catch((error) => {
        if ((error as { code?: string }).code !== "EEXIST") throw error;
      });
    }
    const real = await fs.realpath(current);
    if (real !== root && !real.startsWith(`${root}/`)) {
      throw new TypeError(
        `${context()}: ${JSON.stringify(current)} resolves to ${
          JSON.stringify(real)
        }, outside ${JSON.stringify(root)}`,
      );
    }
  }
}

async function hasContent(
  fs: FileSystemLike,
  target: string,
  entry: ArtifactFileEntry,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const link = await fs.lstat(target).catch(() => undefined);
  if (link === undefined || link.isSymbolicLink()) return false;
  const info = await fs.stat(target).catch(() => undefined);
  if (!info?.isFile() || info.size !== entry.size) return false;
  const check = digestOf(entry);
  const hash = createHash(check.algorithm);
  const reader = fileReadStream(fs, target).getReader();
  try {
    while (true) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  return check.encode(hash.digest()) === check.expected;
}

/**
 * What a file is checked against: its SHA-256, or, for versions logged by
 * other clients that give none (`sha256: ""`), its base64 MD5.
 */
function digestOf(
  entry: Pick<ArtifactFileEntry, "sha256"> & { md5?: string },
): {
  algorithm: "sha256" | "md5";
  expected: string;
  encode: (digest: Uint8Array) => string;
} {
  return entry.sha256 === "" && entry.md5
    ? { algorithm: "md5", expected: entry.md5, encode: encodeBase64 }
    : { algorithm: "sha256", expected: entry.sha256, encode: toHex };
}

/** Options of {@linkcode writeVerifiedFile}. */
export interface WriteVerifiedOptions {
  /** Names the artifact in error messages, such as `"model:v3"`. */
  artifact?: string;
  /** Called as bytes are written. */
  onProgress?: (progress: ArtifactProgress) => void;
  /** Aborts the write; the temporary file is removed. */
  signal?: AbortSignal;
  /** Flush the file to the storage device before renaming it into place. */
  sync?: boolean;
  /**
   * The phase progress reports name.
   * @default {"download"}
   */
  phase?: ArtifactProgress["phase"];
}

/**
 * Streams content to `target` through a temporary file in the same folder,
 * computing its SHA-256 on the way (its base64 MD5 when `entry.sha256` is
 * empty, as for versions other clients logged); renames it into place only
 * when size and digest match `entry`. On any failure the temporary file is removed
 * and `target` is left as it was.
 *
 * @param fs The filesystem.
 * @param stream The content (read to the end or cancelled).
 * @param target The final path.
 * @param entry The expected path (for messages), size and SHA-256.
 * @param options Messages, progress, abort signal, sync.
 * @throws {IntegrityError} When size or digest differ.
 */
export async function writeVerifiedFile(
  fs: FileSystemLike,
  stream: ReadableStream<Uint8Array>,
  target: string,
  entry: Pick<ArtifactFileEntry, "path" | "size" | "sha256"> & {
    md5?: string;
  },
  options: WriteVerifiedOptions = {},
): Promise<void> {
  // A short hidden name beside the target: a long file name stays valid.
  const slash = target.lastIndexOf("/");
  const temporary = `${target.slice(0, slash + 1)}.uetai-partial-${
    crypto.randomUUID().slice(0, 8)
  }`;
  // Three buffers: one being written, one hashed, one filling.
  const chunks = new ChunkReader(stream, 3);
  let file: TemporaryFile | undefined;
  // One write in flight while the next chunk is read and hashed.
  let pending: Promise<void> | undefined;
  let renamed = false;
  try {
    file = await openTemporary(fs, temporary);
    const check = digestOf(entry);
    const hash = createHash(check.algorithm);
    let size = 0;
    while (true) {
      options.signal?.throwIfAborted();
      const chunk = await chunks.next();
      if (chunk === undefined) break;
      size += chunk.length;
      if (size > entry.size) {
        throw new IntegrityError(entry.path, {
          algorithm: "size",
          expected: String(entry.size),
          actual: `more than ${entry.size}`,
          artifact: options.artifact,
        });
      }
      hash.update(chunk);
      await pending;
      pending = file.write(chunk);
      options.onProgress?.({
        phase: options.phase ?? "download",
        file: entry.path,
        bytesDone: size,
        bytesTotal: entry.size,
      });
    }
    await pending;
    pending = undefined;
    if (size !== entry.size) {
      throw new IntegrityError(entry.path, {
        algorithm: "size",
        expected: String(entry.size),
        actual: String(size),
        artifact: options.artifact,
      });
    }
    const actual = check.encode(hash.digest());
    if (actual !== check.expected) {
      throw new IntegrityError(entry.path, {
        algorithm: check.algorithm,
        expected: check.expected,
        actual,
        artifact: options.artifact,
      });
    }
    if (options.sync) await file.datasync();
    const open = file;
    file = undefined;
    await open.close();
    await fs.rename(temporary, target);
    renamed = true;
  } catch (error) {
    await chunks.cancel(error);
    throw error;
  } finally {
    await chunks.release();
    await pending?.catch(() => {});
    await file?.close().catch(() => {});
    if (!renamed) await fs.rm(temporary, { force: true }).catch(() => {});
  }
}

/** The part of an open file {@linkcode writeVerifiedFile} writes through. */
interface TemporaryFile {
  write(chunk: Uint8Array): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

interface DenoFile {
  write(chunk: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  close(): void;
}

type DenoOpen = (
  path: string,
  options: { write: boolean; createNew: boolean },
) => Promise<DenoFile>;

/**
 * Creates the temporary file. In Deno, with the runtime's own filesystem,
 * through `Deno.open`: `Deno.FsFile` writes run on a worker thread and
 * overlap with receiving and hashing, while `node:fs` writes in Deno run
 * on the main thread, in turn with them.
 */
async function openTemporary(
  fs: FileSystemLike,
  path: string,
): Promise<TemporaryFile> {
  const deno = (globalThis as { Deno?: { open?: DenoOpen } }).Deno;
  if (typeof deno?.open === "function" && fs === getFileSystem()) {
    const file = await deno.open(path, { write: true, createNew: true });
    return {
      async write(chunk): Promise<void> {
        let rest = chunk;
        while (rest.length > 0) rest = rest.subarray(await file.write(rest));
      },
      datasync: () => file.syncData(),
      close: () => Promise.resolve().then(() => file.close()),
    };
  }
  const handle = await fs.open(path, "wx");
  return {
    async write(chunk): Promise<void> {
      await handle.write(chunk);
    },
    datasync: () => handle.datasync(),
    close: () => handle.close(),
  };
}
