// This module is browser compatible: the filesystem is reached at run time.
import {
  type FileSystemLike,
  getFileSystem,
  joinPath,
  requireFileSystem,
  tempDirectory,
} from "../runtime/fs.ts";
import { artifactDigest, sortEntries } from "./manifest.ts";
import { assertArtifactPath, assertArtifactPaths } from "./names.ts";
import {
  bytesStream,
  CHUNK_BYTES,
  ContentHasher,
  digestStream,
  fileReadStream,
} from "./streams.ts";
import type { ArtifactProgress, StagedFile } from "./types.ts";

/** The content of one file given in memory or as a stream. */
export type ArtifactData = Blob | Uint8Array | ReadableStream<Uint8Array>;

/** One file of an artifact given by its content. */
export interface ArtifactFileInput {
  /** Path inside the artifact, such as `"weights/model.bin"`. */
  path: string;
  /** The content. A `ReadableStream` is read once. */
  data: ArtifactData;
}

/** Where the content of an artifact comes from: exactly one of the three. */
export interface ArtifactSourceOptions {
  /** A file or a folder on disk (where the runtime has a filesystem). */
  path?: string;
  /** Files given by their content. */
  files?: readonly ArtifactFileInput[];
  /** A single file's content, stored as `fileName`. */
  data?: ArtifactData;
  /**
   * Name of the file `data` is stored as.
   * @default {the artifact's name}
   */
  fileName?: string;
}

/** An artifact's content, hashed and ready to store. */
export interface StagedArtifact {
  /** The files, sorted by path. */
  files: StagedFile[];
  /** Digest over the entries. */
  digest: string;
  /** Total size in bytes. */
  size: number;
  /** Removes temporary copies made of streamed input. */
  dispose(): Promise<void>;
}

/** Context of {@linkcode stageArtifact}. */
export interface StageContext {
  /** The artifact's name (the default file name of `data`). */
  name: string;
  /** The filesystem, when not the runtime's. */
  fs?: FileSystemLike;
  /** Called as content is hashed. */
  onProgress?: (progress: ArtifactProgress) => void;
  /** Aborts staging. */
  signal?: AbortSignal;
}

function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== "undefined" &&
    value instanceof ReadableStream;
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== "undefined" && value instanceof Blob;
}

function describeData(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}

function assertData(path: string, data: unknown): asserts data is ArtifactData {
  if (
    !(data instanceof Uint8Array) && !isBlob(data) && !isReadableStream(data)
  ) {
    throw new TypeError(
      `Cannot log artifact file ${JSON.stringify(path)}: its data is ${
        describeData(data)
      }; expected a Blob, a Uint8Array or a ReadableStream of Uint8Array`,
    );
  }
}

/**
 * Hashes an artifact's content with SHA-256 and MD5, streaming: files are
 * read chunk by chunk, and a `ReadableStream` is copied to a temporary file
 * while it is hashed (kept in a `Blob` only where the runtime has no
 * filesystem), so every file can be read again to store it.
 *
 * @param source Exactly one of `path`, `files` or `data`.
 * @param context Name, filesystem, progress and abort signal.
 * @returns The staged content; call `dispose()` when done with it.
 * @throws {TypeError} When the source is missing, ambiguous or malformed.
 */
export async function stageArtifact(
  source: ArtifactSourceOptions,
  context: StageContext,
): Promise<StagedArtifact> {
  const cleanups: (() => Promise<void>)[] = [];
  const dispose = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  };
  try {
    const given = [source.path, source.files, source.data].filter((value) =>
      value !== undefined
    ).length;
    if (given !== 1) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(context.name)
        }: got ${given} of path, files and data; expected exactly one`,
      );
    }
    let files: StagedFile[];
    if (source.path !== undefined) {
      files = await stagePath(source.path, context);
    } else {
      const inputs: ArtifactFileInput[] = source.files !== undefined
        ? checkFileInputs(source.files, context.name)
        : [{ path: source.fileName ?? context.name, data: source.data! }];
      for (const input of inputs) {
        assertArtifactPath(input.path);
        assertData(input.path, input.data);
      }
      assertArtifactPaths(inputs);
      files = [];
      for (const input of inputs) {
        files.push(await stageData(input, context, cleanups));
      }
    }
    assertArtifactPaths(files);
    files = sortEntries(files);
    return {
      files,
      digest: artifactDigest(files),
      size: files.reduce((sum, file) =>
        sum + file.size, 0),
      dispose,
    };
  } catch (error) {
    cancelUnreadInputs(source, error);
    await dispose();
    throw error;
  }
}

/**
 * Cancels the `ReadableStream` inputs of a source that nobody has read yet,
 * so a refused or failed log does not leave their producers (an HTTP
 * response body, a file) open.
 *
 * @param source The source given to {@linkcode stageArtifact}.
 * @param reason Why, passed to the streams' `cancel`.
 */
export function cancelUnreadInputs(
  source: ArtifactSourceOptions,
  reason: unknown,
): void {
  const files: unknown[] = Array.isArray(source?.files) ? source.files : [];
  const data = [
    source?.data,
    ...files.map((file) => (file as ArtifactFileInput)?.data),
  ];
  for (const stream of data) {
    if (isReadableStream(stream) && !stream.locked) {
      stream.cancel(reason).catch(() => {});
    }
  }
}

function checkFileInputs(
  files: unknown,
  name: string,
): ArtifactFileInput[] {
  if (!Array.isArray(files)) {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(name)}: files is ${
        describeData(files)
      }; expected an array of { path, data }`,
    );
  }
  return files.map((file, index) => {
    if (typeof file !== "object" || file === null) {
      throw new TypeError(
        `Cannot log artifact ${JSON.stringify(name)}: files[${index}] is ${
          describeData(file)
        }; expected { path, data }`,
      );
    }
    return file as ArtifactFileInput;
  });
}

function progressReporter(
  context: StageContext,
  file: string,
  bytesTotal: number,
): ((bytesDone: number) => void) | undefined {
  const onProgress = context.onProgress;
  if (!onProgress) return undefined;
  return (bytesDone) =>
    onProgress({ phase: "hash", file, bytesDone, bytesTotal });
}

async function stageData(
  input: ArtifactFileInput,
  context: StageContext,
  cleanups: (() => Promise<void>)[],
): Promise<StagedFile> {
  const { path, data } = input;
  if (data instanceof Uint8Array) {
    const hasher = new ContentHasher();
    for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
      hasher.update(data.subarray(offset, offset + CHUNK_BYTES));
      progressReporter(context, path, data.length)?.(hasher.size);
    }
    return { path, ...hasher.digest(), open: () => bytesStream(data) };
  }
  if (isBlob(data)) {
    const digests = await digestStream(
      data.stream(),
      progressReporter(context, path, data.size),
      context.signal,
    );
    return { path, ...digests, open: () => data.stream() };
  }
  const fs = context.fs ?? getFileSystem();
  const tmp = tempDirectory();
  if (fs && tmp !== undefined) {
    return await spoolStream(fs, tmp, path, data, context, cleanups);
  }
  // No filesystem (a worker, a browser): the stream is kept as a Blob so it
  // can be read again; the runtime decides whether a Blob lives in memory.
  const chunks: Uint8Array[] = [];
  const hasher = new ContentHasher();
  const reader = data.getReader();
  try {
    while (true) {
      context.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
      chunks.push(value.slice());
      progressReporter(context, path, Number.NaN)?.(hasher.size);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  const blob = new Blob(chunks as BlobPart[]);
  return { path, ...hasher.digest(), open: () => blob.stream() };
}

async function spoolStream(
  fs: FileSystemLike,
  tmp: string,
  path: string,
  stream: ReadableStream<Uint8Array>,
  context: StageContext,
  cleanups: (() => Promise<void>)[],
): Promise<StagedFile> {
  const file = joinPath(tmp, `uetai-artifact-${crypto.randomUUID()}.part`);
  cleanups.push(() => fs.rm(file, { force: true }));
  const handle = await fs.open(file, "wx");
  const hasher = new ContentHasher();
  const reader = stream.getReader();
  try {
    while (true) {
      context.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
      await handle.write(value);
      progressReporter(context, path, Number.NaN)?.(hasher.size);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    await handle.close();
  }
  return { path, ...hasher.digest(), open: () => fileReadStream(fs, file) };
}

async function stagePath(
  root: string,
  context: StageContext,
): Promise<StagedFile[]> {
  if (typeof root !== "string" || root === "") {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(context.name)}: path is ${
        JSON.stringify(root)
      }; expected a file or folder path`,
    );
  }
  const fs = requireFileSystem(context.fs, "log an artifact from a path");
  const found: { path: string; file: string; size: number }[] = [];
  let info;
  try {
    info = await fs.stat(root);
  } catch (cause) {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(context.name)}: path ${
        JSON.stringify(root)
      } cannot be read (${
        (cause as Error).message
      }); expected a file or folder`,
      { cause },
    );
  }
  if (info.isDirectory()) {
    await walk(fs, root, "", found, new Set([await fs.realpath(root)]));
  } else if (info.isFile()) {
    const base = root.replace(/\/+$/, "").split(/[\\/]/).pop()!;
    found.push({ path: base, file: root, size: info.size });
  } else {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(context.name)}: path ${
        JSON.stringify(root)
      } is neither a file nor a folder`,
    );
  }
  const files: StagedFile[] = [];
  for (const { path, file, size } of found) {
    assertArtifactPath(path);
    const digests = await digestStream(
      fileReadStream(fs, file),
      progressReporter(context, path, size),
      context.signal,
    );
    files.push({ path, ...digests, open: () => fileReadStream(fs, file) });
  }
  return files;
}

async function walk(
  fs: FileSystemLike,
  folder: string,
  prefix: string,
  found: { path: string; file: string; size: number }[],
  visited: Set<string>,
): Promise<void> {
  const names = (await fs.readdir(folder)).sort();
  for (const name of names) {
    const full = joinPath(folder, name);
    const info = await fs.stat(full).catch(() => undefined);
    if (info === undefined) continue; // a dangling link or a file removed meanwhile
    const path = prefix === "" ? name : `${prefix}/${name}`;
    if (info.isDirectory()) {
      const real = await fs.realpath(full);
      if (visited.has(real)) continue; // a link back up the tree
      visited.add(real);
      await walk(fs, full, path, found, visited);
      visited.delete(real);
    } else if (info.isFile()) {
      found.push({ path, file: full, size: info.size });
    }
  }
}
