// This module is browser compatible: the filesystem is reached at run time.
import type { FileSystemLike } from "../runtime/fs.ts";
import { createHash, type IncrementalHash, toHex } from "./hash.ts";
import { encodeBase64 } from "../runtime/base64.ts";

/** Size of the chunks artifact files are read and written in. */
export const CHUNK_BYTES: number = 1 << 20;

/**
 * A stream over a file, read chunk by chunk as it is pulled: at most one
 * chunk is in memory, whatever the file's size. The file is opened at the
 * first read and closed at the end, on error and on cancel.
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
  const close = async (): Promise<void> => {
    const open = handle;
    handle = undefined;
    await open?.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        handle ??= await fs.open(path, "r");
        const buffer = new Uint8Array(chunkBytes);
        let filled = 0;
        while (filled < chunkBytes) {
          const { bytesRead } = await handle.read(
            buffer,
            filled,
            chunkBytes - filled,
            position + filled,
          );
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        position += filled;
        if (filled > 0) {
          controller.enqueue(
            filled === chunkBytes ? buffer : buffer.subarray(0, filled),
          );
        }
        if (filled < chunkBytes) {
          await close();
          controller.close();
        }
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    async cancel(): Promise<void> {
      await close();
    },
  }, { highWaterMark: 1 });
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
  const reader = stream.getReader();
  try {
    while (true) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
      onChunk?.(hasher.size);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  return hasher.digest();
}
