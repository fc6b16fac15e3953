// This module is browser compatible: the filesystem is reached at run time.
import type { FileSystemLike } from "../runtime/fs.ts";
import { createHash, type IncrementalHash, toHex } from "./hash.ts";
import { encodeBase64 } from "../runtime/base64.ts";
import { IntegrityError } from "../errors/errors.ts";
import type { ArtifactFileEntry } from "./types.ts";

/** Size of the chunks artifact files are read and written in. */
export const CHUNK_BYTES: number = 1 << 20;

/**
 * A stream over a file, read chunk by chunk as it is pulled: a byte
 * stream, so a BYOB reader (see {@linkcode ChunkReader}) has the file read
 * straight into its own buffers; a default reader gets chunks of
 * `chunkBytes`, the next one read while the current one is consumed (at
 * most two in memory). The file is opened at the first read and closed at
 * the end, on error and on cancel.
 *
 * @param fs The filesystem.
 * @param path The file.
 * @param chunkBytes Chunk size.
 * @returns The stream.
 */
export function fileReadStream(
  fs: FileSystemLike,
  path: string,
  chunkBytes: number = CHUNK_BYTES,
): ReadableStream<Uint8Array> {
  let handle: Awaited<ReturnType<FileSystemLike["open"]>> | undefined;
  let position = 0;
  let ahead: Promise<Uint8Array> | undefined;
  const readInto = async (buffer: Uint8Array): Promise<number> => {
    handle ??= await fs.open(path, "r");
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(
        buffer,
        filled,
        buffer.length - filled,
        position + filled,
      );
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    position += filled;
    return filled;
  };
  const readChunk = async (): Promise<Uint8Array> => {
    const buffer = new Uint8Array(chunkBytes);
    const filled = await readInto(buffer);
    return filled === chunkBytes ? buffer : buffer.subarray(0, filled);
  };
  const close = async (): Promise<void> => {
    const reading = ahead;
    ahead = undefined;
    await reading?.catch(() => {});
    const open = handle;
    handle = undefined;
    await open?.close();
  };
  return new ReadableStream({
    type: "bytes",
    async pull(controller): Promise<void> {
      const request = controller.byobRequest;
      try {
        if (request?.view && ahead === undefined) {
          // A BYOB read: into the reader's buffer.
          const view = request.view;
          const filled = await readInto(
            new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
          );
          if (filled === 0) {
            await close();
            controller.close();
          }
          request.respond(filled);
          return;
        }
        const chunk = await (ahead ?? readChunk());
        ahead = undefined;
        // Taken before enqueue(), which detaches the chunk's buffer.
        const length = chunk.length;
        if (length === chunkBytes) {
          // Read the next chunk while this one is consumed; a failure
          // surfaces at the next pull.
          ahead = readChunk();
          ahead.catch(() => {});
        }
        if (length > 0) controller.enqueue(chunk);
        if (length < chunkBytes) {
          await close();
          controller.close();
          controller.byobRequest?.respond(0);
        }
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    async cancel(): Promise<void> {
      await close();
    },
  }) as ReadableStream<Uint8Array>;
}

/**
 * Reads a stream in chunks. A byte stream (a `fetch` body, a
 * {@linkcode fileReadStream}) is read through a BYOB reader into a ring of
 * `buffers` buffers of {@linkcode CHUNK_BYTES}, each filled before it is
 * handed out, the next one filling while the caller works on the current
 * one: a few large hash updates and writes instead of one per network
 * read, and no allocation per chunk (no garbage for the collector to catch
 * up with). Any other stream is read chunk by chunk as given.
 *
 * A chunk returned by `next()` stays valid through the following
 * `buffers - 2` calls (not past the next one when `buffers` is 2).
 */
export class ChunkReader {
  #byob: ReadableStreamBYOBReader | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buffers: (ArrayBuffer | undefined)[];
  #turn = 0;
  #filling: Promise<{ bytes: Uint8Array; done: boolean }> | undefined;
  #done = false;

  /**
   * @param stream The stream, locked until `release()`.
   * @param buffers How many buffers a byte stream is read into, in turn.
   */
  constructor(stream: ReadableStream<Uint8Array>, buffers: number = 2) {
    this.#buffers = new Array(Math.max(2, buffers)).fill(undefined);
    try {
      this.#byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream (or no BYOB support): read chunks as they come.
      this.#reader = stream.getReader();
    }
  }

  /**
   * The next chunk.
   *
   * @returns The chunk, or `undefined` at the end.
   */
  async next(): Promise<Uint8Array | undefined> {
    if (this.#reader) {
      const { done, value } = await this.#reader.read();
      return done ? undefined : value;
    }
    if (this.#done) return undefined;
    const { bytes, done } = await (this.#filling ?? this.#fill());
    this.#filling = undefined;
    if (done) this.#done = true;
    else {
      this.#filling = this.#fill();
      this.#filling.catch(() => {});
    }
    return bytes.length > 0 ? bytes : undefined;
  }

  async #fill(): Promise<{ bytes: Uint8Array; done: boolean }> {
    const turn = this.#turn;
    this.#turn = (turn + 1) % this.#buffers.length;
    let buffer = this.#buffers[turn] ?? new ArrayBuffer(CHUNK_BYTES);
    let filled = 0;
    let done = false;
    while (filled < CHUNK_BYTES) {
      const result = await this.#byob!.read(
        new Uint8Array(buffer, filled, CHUNK_BYTES - filled),
      );
      if (result.value) {
        buffer = result.value.buffer as ArrayBuffer;
        filled += result.value.length;
      }
      if (result.done) {
        done = true;
        break;
      }
    }
    this.#buffers[turn] = buffer;
    return { bytes: new Uint8Array(buffer, 0, filled), done };
  }

  /**
   * Cancels the stream (after a read in progress settles).
   *
   * @param reason Why.
   */
  async cancel(reason?: unknown): Promise<void> {
    const filling = this.#filling;
    this.#filling = undefined;
    this.#done = true;
    const reader = this.#byob ?? this.#reader!;
    const cancelled = reader.cancel(reason).catch(() => {});
    await filling?.catch(() => {});
    await cancelled;
  }

  /** Releases the stream's lock (after a read in progress settles). */
  async release(): Promise<void> {
    await this.#filling?.catch(() => {});
    (this.#byob ?? this.#reader)!.releaseLock();
  }
}

/**
 * A stream over bytes already in memory, in chunks (no copy).
 *
 * @param bytes The bytes.
 * @param chunkBytes Chunk size.
 * @returns The stream.
 */
export function bytesStream(
  bytes: Uint8Array,
  chunkBytes: number = CHUNK_BYTES,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.length, offset + chunkBytes);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
    },
  }, { highWaterMark: 1 });
}

/** Size and digests of some content. */
export interface ContentDigests {
  /** Size in bytes. */
  size: number;
  /** SHA-256, lowercase hex. */
  sha256: string;
  /** MD5, base64. */
  md5: string;
}

/** Hashes content chunk by chunk with SHA-256 and MD5 at once. */
export class ContentHasher {
  #sha256: IncrementalHash = createHash("sha256");
  #md5: IncrementalHash = createHash("md5");
  #size = 0;

  /** Bytes hashed so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Feeds a chunk.
   *
   * @param chunk The bytes.
   */
  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.#md5.update(chunk);
    this.#size += chunk.length;
  }

  /**
   * Finishes.
   *
   * @returns Size and digests.
   */
  digest(): ContentDigests {
    return {
      size: this.#size,
      sha256: toHex(this.#sha256.digest()),
      md5: encodeBase64(this.#md5.digest()),
    };
  }
}

/**
 * Reads a stream to its end, hashing it with SHA-256 and MD5.
 *
 * @param stream The content.
 * @param onChunk Called after each chunk with the bytes done so far.
 * @param signal Cancels the read.
 * @returns Size and digests.
 */
export async function digestStream(
  stream: ReadableStream<Uint8Array>,
  onChunk?: (bytesDone: number) => void,
  signal?: AbortSignal,
): Promise<ContentDigests> {
  const hasher = new ContentHasher();
  const chunks = new ChunkReader(stream);
  try {
    while (true) {
      signal?.throwIfAborted();
      const chunk = await chunks.next();
      if (chunk === undefined) break;
      hasher.update(chunk);
      onChunk?.(hasher.size);
    }
  } catch (error) {
    await chunks.cancel(error);
    throw error;
  } finally {
    await chunks.release();
  }
  return hasher.digest();
}

/**
 * Passes a file's content through, checking its size and SHA-256 against
 * its manifest entry as it goes (for uploads that must not store what the
 * manifest does not describe); a mismatch errors the stream and is kept in
 * `check`, since an HTTP client may report only a generic failure.
 *
 * @param file The manifest entry.
 * @param source The content.
 * @param check Receives the mismatch.
 * @returns The same bytes.
 */
export function verifyingStream(
  file: ArtifactFileEntry,
  source: ReadableStream<Uint8Array>,
  check: { error?: IntegrityError },
): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  const mismatch = (
    algorithm: string,
    expected: string,
    actual: string,
  ) => (check.error = new IntegrityError(file.path, {
    algorithm,
    expected,
    actual,
  }));
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller): void {
        size += chunk.length;
        if (size > file.size) {
          controller.error(
            mismatch("size", String(file.size), `more than ${file.size}`),
          );
          return;
        }
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      flush(controller): void {
        if (size !== file.size) {
          controller.error(mismatch("size", String(file.size), String(size)));
          return;
        }
        const actual = toHex(hash.digest());
        if (actual !== file.sha256) {
          controller.error(mismatch("sha256", file.sha256, actual));
        }
      },
    }),
  );
}
