// Moving artifact bytes: file streams read chunk by chunk (and closed when
// done or cancelled), ChunkReader over byte and non-byte streams, uploads
// of a known length against a real HTTP server (Content-Length, progress,
// short bodies, early answers, aborts, no signed-URL secrets in errors),
// downloads that create folders without following links out, and verified
// writes that leave nothing behind when the content is wrong.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import * as nodeFs from "node:fs/promises";
import { join } from "node:path";
import {
  CHUNK_BYTES,
  ChunkReader,
  digestStream,
  fileReadStream,
} from "../artifact/streams.ts";
import { uploadBody, uploadStrategy } from "../artifact/http.ts";
import { downloadVersion, writeVerifiedFile } from "../artifact/download.ts";
import { stageArtifact } from "../artifact/stage.ts";
import { MemoryArtifactStore } from "../backends/memory/memory_artifacts.ts";
import type { ArtifactManifest } from "../artifact/types.ts";
import {
  type FileHandleLike,
  type FileSystemLike,
  getFileSystem,
} from "../runtime/fs.ts";
import { IntegrityError } from "../errors/errors.ts";
import {
  md5Base64,
  pseudoRandomBytes,
  sha256Hex,
} from "./helpers/artifact_conformance.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const SECRET = "secret123";

/** What {@linkcode within} throws when time runs out. */
class StillRunning extends Error {}

/** Fails with a clear message instead of hanging. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new StillRunning(`${what}: still running after ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts two byte arrays are equal, naming the first difference. */
function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Every message and `String()` of an error and its causes. */
function errorTexts(error: unknown): string[] {
  const texts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined; depth++) {
    texts.push(String(current));
    if (current instanceof Error) {
      texts.push(current.message, current.stack ?? "");
      current = current.cause;
    } else break;
  }
  return texts;
}

function assertNoSecret(error: unknown): void {
  for (const text of errorTexts(error)) {
    assert.ok(
      !text.includes(SECRET),
      `the error leaks the URL's query: ${text}`,
    );
  }
}

/** The runtime's filesystem, counting opened and closed file handles. */
function countingFs(): {
  fs: FileSystemLike;
  opens: () => number;
  closes: () => number;
} {
  let opens = 0;
  let closes = 0;
  const fs: FileSystemLike = {
    ...(nodeFs as unknown as FileSystemLike),
    async open(path: string, flags: string): Promise<FileHandleLike> {
      const handle = await nodeFs.open(path, flags);
      opens++;
      let closed = false;
      return {
        read: (buffer, offset, length, position) =>
          handle.read(buffer, offset, length, position),
        write: (data) =>
          typeof data === "string" ? handle.write(data) : handle.write(data),
        datasync: () => handle.datasync(),
        truncate: (length) => handle.truncate(length),
        stat: () => handle.stat(),
        async close(): Promise<void> {
          if (!closed) closes++;
          closed = true;
          await handle.close();
        },
      };
    },
  };
  return { fs, opens: () => opens, closes: () => closes };
}

/** A plain (non-byte) stream of `bytes` in chunks of `chunk` bytes. */
function chunked(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.length, offset + chunk);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

/** A stream of `size` zero bytes in 64 KiB chunks, made as it is pulled. */
function zeros(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (left <= 0) {
        controller.close();
        return;
      }
      const n = Math.min(left, 64 * KIB);
      left -= n;
      controller.enqueue(new Uint8Array(n));
    },
  });
}

/** Whether a stream made by `make` accepts a BYOB reader here. */
function isByteStream(make: () => ReadableStream<Uint8Array>): boolean {
  const stream = make();
  try {
    stream.getReader({ mode: "byob" }).releaseLock();
    return true;
  } catch {
    return false;
  } finally {
    stream.cancel().catch(() => {});
  }
}

// ---------------------------------------------------------------------------

describe("fileReadStream", () => {
  const SMALL = 64 * KIB;
  const cases: { size: number; chunk?: number }[] = [
    { size: 0, chunk: SMALL },
    { size: 1, chunk: SMALL },
    { size: SMALL - 1, chunk: SMALL },
    { size: SMALL, chunk: SMALL },
    { size: SMALL + 1, chunk: SMALL },
    { size: 3 * SMALL + 17, chunk: SMALL },
    { size: 3 * MIB + 12_345 },
  ];

  for (const { size, chunk } of cases) {
    const label = `${size} bytes, ${
      chunk === undefined ? "default chunks" : `${chunk}-byte chunks`
    }`;

    it(`default reader: ${label}, same bytes, full chunks, handle closed`, async () => {
      await withTempDir(async (dir) => {
        const data = pseudoRandomBytes(size, size + 1);
        const path = join(dir, "f.bin");
        await nodeFs.writeFile(path, data);
        const counted = countingFs();
        const chunkBytes = chunk ?? CHUNK_BYTES;
        const reader = fileReadStream(counted.fs, path, chunk).getReader();
        const chunks: Uint8Array[] = [];
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value.slice());
        }
        assertSameBytes(concat(chunks), data, "content");
        for (const [i, c] of chunks.entries()) {
          assert.ok(c.length > 0, `chunk ${i} is empty`);
          if (i < chunks.length - 1) {
            assert.equal(c.length, chunkBytes, `chunk ${i} is not full`);
          } else assert.ok(c.length <= chunkBytes);
        }
        assert.equal(chunks.length, Math.ceil(size / chunkBytes));
        assert.equal(counted.opens(), 1, "opened once");
        assert.equal(counted.closes(), 1, "closed at the end");
      });
    });

    for (const buffers of [2, 3]) {
      it(`ChunkReader with ${buffers} buffers: ${label}, same sha256`, async () => {
        await withTempDir(async (dir) => {
          const data = pseudoRandomBytes(size, size + 7);
          const path = join(dir, "f.bin");
          await nodeFs.writeFile(path, data);
          const counted = countingFs();
          const reader = new ChunkReader(
            fileReadStream(counted.fs, path, chunk),
            buffers,
          );
          const hash = createHash("sha256");
          const sizes: number[] = [];
          let previous:
            | { chunk: Uint8Array; offset: number; length: number }
            | undefined;
          let offset = 0;
          while (true) {
            const value = await reader.next();
            if (buffers === 3 && previous) {
              // With three buffers a chunk outlives the following call.
              assertSameBytes(
                previous.chunk,
                data.subarray(
                  previous.offset,
                  previous.offset + previous.length,
                ),
                "the previous chunk after one more next()",
              );
            }
            if (value === undefined) break;
            hash.update(value);
            sizes.push(value.length);
            previous = { chunk: value, offset, length: value.length };
            offset += value.length;
          }
          assert.equal(await reader.next(), undefined, "stays at the end");
          await reader.release();
          assert.equal(hash.digest("hex"), sha256Hex(data));
          assert.equal(offset, size);
          for (const [i, n] of sizes.entries()) {
            assert.ok(n > 0, `chunk ${i} is empty`);
            if (i < sizes.length - 1) {
              assert.equal(n, CHUNK_BYTES, `chunk ${i} is not full`);
            }
          }
          assert.equal(counted.opens(), 1, "opened once");
          assert.equal(counted.closes(), counted.opens(), "handle closed");
        });
      });
    }
  }

  it("digestStream of a file matches node:crypto", async () => {
    await withTempDir(async (dir) => {
      const data = pseudoRandomBytes(2 * MIB + 3, 11);
      const path = join(dir, "f.bin");
      await nodeFs.writeFile(path, data);
      const done: number[] = [];
      const digests = await digestStream(
        fileReadStream(getFileSystem()!, path),
        (n) => done.push(n),
      );
      assert.equal(digests.size, data.length);
      assert.equal(digests.sha256, sha256Hex(data));
      assert.equal(digests.md5, md5Base64(data));
      assert.equal(done.at(-1), data.length);
    });
  });

  it("a stream never read does not open the file", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.bin");
      await nodeFs.writeFile(path, pseudoRandomBytes(1000, 3));
      const counted = countingFs();
      const stream = fileReadStream(counted.fs, path, 64 * KIB);
      await sleep(30);
      assert.equal(counted.opens(), 0, "opened before any read");
      await stream.cancel();
      await sleep(10);
      assert.equal(counted.opens(), 0, "opened by cancel");
      assert.equal(counted.closes(), 0);
    });
  });

  it("cancelling a default reader midway closes the file", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.bin");
      await nodeFs.writeFile(path, pseudoRandomBytes(10 * 64 * KIB, 4));
      const counted = countingFs();
      const reader = fileReadStream(counted.fs, path, 64 * KIB).getReader();
      const first = await reader.read();
      assert.equal(first.value?.length, 64 * KIB);
      assert.equal(counted.opens(), 1);
      assert.equal(counted.closes(), 0, "closed before the end");
      await reader.cancel(new Error("enough"));
      assert.equal(counted.closes(), 1, "not closed on cancel");
      assert.equal((await reader.read()).done, true);
    });
  });

  it("cancelling a ChunkReader midway closes the file", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.bin");
      await nodeFs.writeFile(path, pseudoRandomBytes(5 * MIB, 5));
      const counted = countingFs();
      const reader = new ChunkReader(fileReadStream(counted.fs, path), 3);
      const first = await reader.next();
      assert.equal(first?.length, CHUNK_BYTES);
      assert.equal(counted.opens(), 1);
      await reader.cancel(new Error("enough"));
      await reader.release();
      assert.equal(counted.closes(), 1, "not closed on cancel");
      assert.equal(await reader.next(), undefined);
    });
  });

  it("a missing file fails at the first read with ENOENT", async () => {
    await withTempDir(async (dir) => {
      const counted = countingFs();
      const path = join(dir, "missing.bin");
      const stream = fileReadStream(counted.fs, path, 64 * KIB);
      const check = (error: unknown): true => {
        assert.equal((error as { code?: string }).code, "ENOENT");
        return true;
      };
      await assert.rejects(stream.getReader().read(), check);
      const again = new ChunkReader(fileReadStream(counted.fs, path), 2);
      await assert.rejects(again.next(), check);
      assert.equal(counted.opens(), 0);
      assert.equal(counted.closes(), 0);
    });
  });
});

// ---------------------------------------------------------------------------

describe("ChunkReader over other streams", () => {
  it("returns a plain stream's chunks as given, in order", async () => {
    const given = [
      new Uint8Array([1, 2, 3]),
      new Uint8Array([4]),
      new Uint8Array([5, 6]),
      new Uint8Array([7, 8, 9, 10]),
    ];
    let next = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller): void {
        if (next < given.length) controller.enqueue(given[next++]);
        else controller.close();
      },
    });
    const reader = new ChunkReader(stream, 3);
    const got: number[][] = [];
    while (true) {
      const chunk = await reader.next();
      if (chunk === undefined) break;
      got.push([...chunk]);
    }
    await reader.release();
    assert.deepEqual(got, given.map((c) => [...c]));
  });

  for (const mode of ["respond", "enqueue"] as const) {
    for (const buffers of [2, 3]) {
      it(`fills full chunks from a byte stream that delivers small pieces (${mode}, ${buffers} buffers)`, async () => {
        const data = pseudoRandomBytes(2 * CHUNK_BYTES + 12_345, 22);
        let offset = 0;
        const stream = new ReadableStream({
          type: "bytes",
          pull(controller): void {
            const rest = data.length - offset;
            if (rest === 0) {
              controller.close();
              controller.byobRequest?.respond(0);
              return;
            }
            const request = controller.byobRequest;
            if (mode === "respond" && request?.view) {
              const n = Math.min(7000, rest, request.view.byteLength);
              new Uint8Array(
                request.view.buffer,
                request.view.byteOffset,
                n,
              ).set(data.subarray(offset, offset + n));
              offset += n;
              request.respond(n);
            } else {
              const n = Math.min(5000, rest);
              controller.enqueue(data.slice(offset, offset + n));
              offset += n;
            }
          },
        }) as ReadableStream<Uint8Array>;
        const reader = new ChunkReader(stream, buffers);
        const hash = createHash("sha256");
        const sizes: number[] = [];
        while (true) {
          const chunk = await reader.next();
          if (chunk === undefined) break;
          hash.update(chunk);
          sizes.push(chunk.length);
        }
        await reader.release();
        assert.equal(hash.digest("hex"), sha256Hex(data));
        assert.deepEqual(sizes, [CHUNK_BYTES, CHUNK_BYTES, 12_345]);
      });
    }
  }

  const size = 2 * CHUNK_BYTES + CHUNK_BYTES / 2 + 7;
  const sources: {
    label: string;
    make: (bytes: Uint8Array) => ReadableStream<Uint8Array>;
  }[] = [
    { label: "a Blob stream", make: (b) => new Blob([b as BlobPart]).stream() },
    {
      label: "a Response body",
      make: (b) => new Response(b as BodyInit).body!,
    },
  ];
  for (const { label, make } of sources) {
    for (const buffers of [2, 3]) {
      it(`reads ${label} in full chunks when it is a byte stream (${buffers} buffers)`, async () => {
        const data = pseudoRandomBytes(size, 21);
        const byte = isByteStream(() => make(new Uint8Array(8)));
        const reader = new ChunkReader(make(data), buffers);
        const hash = createHash("sha256");
        const sizes: number[] = [];
        const copies: Uint8Array[] = [];
        while (true) {
          const chunk = await reader.next();
          if (chunk === undefined) break;
          hash.update(chunk);
          copies.push(chunk.slice());
          sizes.push(chunk.length);
        }
        await reader.release();
        assert.equal(hash.digest("hex"), sha256Hex(data));
        assertSameBytes(concat(copies), data, "content");
        if (byte) {
          assert.deepEqual(sizes, [
            CHUNK_BYTES,
            CHUNK_BYTES,
            CHUNK_BYTES / 2 + 7,
          ]);
        } else {
          for (const n of sizes) assert.ok(n > 0, "an empty chunk");
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------

interface Received {
  method: string;
  headers: IncomingMessage["headers"];
  bytes: number;
  sha256: string;
  complete: boolean;
}

interface TestServer {
  /** Base URL, such as `http://127.0.0.1:1234`. */
  base: string;
  /** Requests that arrived (those whose body ended or failed). */
  received: Received[];
  /** How many requests started. */
  started(): number;
  close(): Promise<void>;
}

/**
 * A node:http server on 127.0.0.1 that records each request's headers and
 * the sha256 of its body. `respond` answers; by default after the whole
 * body with 200 and `received <bytes>`.
 */
async function startServer(
  respond?: (request: IncomingMessage, response: ServerResponse) => boolean,
): Promise<TestServer> {
  const received: Received[] = [];
  let started = 0;
  const server = createServer((request, response) => {
    started++;
    response.on("error", () => {});
    if (respond?.(request, response)) return;
    const hash = createHash("sha256");
    let bytes = 0;
    let finished = false;
    const record = (complete: boolean): void => {
      if (finished) return;
      finished = true;
      received.push({
        method: request.method ?? "",
        headers: request.headers,
        bytes,
        sha256: hash.digest("hex"),
        complete,
      });
    };
    request.on("data", (chunk: Uint8Array) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    request.on("error", () => record(false));
    request.on("close", () => record(false));
    request.on("end", () => {
      record(true);
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`received ${bytes}`);
    });
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("the test server has no port");
  }
  return {
    base: `http://127.0.0.1:${address.port}`,
    received,
    started: () => started,
    async close(): Promise<void> {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function withServer(
  fn: (server: TestServer) => Promise<void>,
  respond?: (request: IncomingMessage, response: ServerResponse) => boolean,
): Promise<void> {
  const server = await startServer(respond);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Waits until `check()` holds (for server-side records after a response). */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail("condition never held");
    await sleep(5);
  }
}

/**
 * The error an upload rejects with; fails the test when it resolves or is
 * still running after 8 s.
 */
async function failureOf(upload: Promise<Response>): Promise<Error> {
  let response: Response;
  try {
    response = await within(upload, 8000, "upload");
  } catch (error) {
    if (error instanceof StillRunning) throw error;
    assert.ok(error instanceof Error, `rejected with ${error}`);
    return error;
  }
  await response.body?.cancel().catch(() => {});
  assert.fail(`the upload resolved with status ${response.status}`);
}

describe(`uploadBody (${uploadStrategy()})`, () => {
  it("sends 5 MiB intact with Content-Length, not chunked", {
    timeout: 20_000,
  }, async () => {
    await withServer(async (server) => {
      const data = pseudoRandomBytes(5 * MIB, 31);
      const response = await within(
        uploadBody(`${server.base}/up?X-Amz-Signature=${SECRET}`, {
          size: data.length,
          open: () => new Blob([data as BlobPart]).stream(),
        }, { headers: { "x-test": "yes", "Content-Length": "1" } }),
        15_000,
        "upload",
      );
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `received ${data.length}`);
      await eventually(() => server.received.length === 1);
      const [got] = server.received;
      assert.equal(got.method, "PUT");
      assert.equal(got.complete, true);
      assert.equal(got.headers["content-length"], String(data.length));
      assert.equal(got.headers["transfer-encoding"], undefined);
      assert.equal(got.headers["x-test"], "yes");
      assert.equal(got.bytes, data.length);
      assert.equal(got.sha256, sha256Hex(data));
    });
  });

  it(
    "sends a file through fileReadStream, with non-decreasing progress ending at its size",
    {
      timeout: 20_000,
    },
    async () => {
      await withTempDir(async (dir) => {
        await withServer(async (server) => {
          const data = pseudoRandomBytes(3 * MIB + 999, 32);
          const path = join(dir, "f.bin");
          await nodeFs.writeFile(path, data);
          const progress: number[] = [];
          const response = await within(
            uploadBody(`${server.base}/file`, {
              size: data.length,
              open: () => fileReadStream(getFileSystem()!, path),
            }, { method: "POST", onProgress: (n) => progress.push(n) }),
            15_000,
            "upload",
          );
          assert.equal(response.status, 200);
          await response.body?.cancel();
          await eventually(() => server.received.length === 1);
          const [got] = server.received;
          assert.equal(got.method, "POST");
          assert.equal(got.headers["content-length"], String(data.length));
          assert.equal(got.headers["transfer-encoding"], undefined);
          assert.equal(got.sha256, sha256Hex(data));
          assert.ok(progress.length > 0, "no progress reported");
          assert.equal(progress.at(-1), data.length);
          for (let i = 1; i < progress.length; i++) {
            assert.ok(
              progress[i] >= progress[i - 1],
              `progress went back: ${progress[i - 1]} then ${progress[i]}`,
            );
          }
          assert.ok(progress[0] > 0 && progress[0] <= data.length);
        });
      });
    },
  );

  it("sends an empty body", async () => {
    await withServer(async (server) => {
      const response = await within(
        uploadBody(`${server.base}/empty`, {
          size: 0,
          open: () => new Blob([]).stream(),
        }),
        5000,
        "upload",
      );
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "received 0");
      await eventually(() => server.received.length === 1);
      const [got] = server.received;
      assert.equal(got.headers["content-length"], "0");
      assert.equal(got.headers["transfer-encoding"], undefined);
      assert.equal(got.bytes, 0);
    });
  });

  for (const size of [-1, 1.5, Number.NaN]) {
    it(`refuses size ${size} before any request`, async () => {
      await withServer(async (server) => {
        let opened = 0;
        await assert.rejects(
          uploadBody(`${server.base}/x?X-Amz-Signature=${SECRET}`, {
            size,
            open: () => {
              opened++;
              return new Blob([new Uint8Array(4)]).stream();
            },
          }),
          (error: unknown) => {
            assert.ok(error instanceof RangeError, `got ${error}`);
            assertNoSecret(error);
            return true;
          },
        );
        await sleep(50);
        assert.equal(server.started(), 0, "the server got a request");
        assert.equal(opened, 0, "the body was opened");
      });
    });
  }

  const mismatched: {
    label: string;
    length: number;
    size: number;
    chunk: number;
  }[] = [
    {
      label: "1000 bytes short",
      length: 200 * KIB,
      size: 201 * KIB,
      chunk: 16 * KIB,
    },
    { label: "empty", length: 0, size: 1000, chunk: 16 * KIB },
    {
      label: "1000 bytes long",
      length: 200 * KIB,
      size: 199 * KIB,
      chunk: 16 * KIB,
    },
    { label: "a chunk long", length: 200_000, size: 100_000, chunk: 64 * KIB },
  ];
  for (const { label, length, size, chunk } of mismatched) {
    it(`rejects a body ${label}, without the URL's query`, {
      timeout: 10_000,
    }, async () => {
      await withServer(async (server) => {
        const data = pseudoRandomBytes(length, 33);
        const failure = await failureOf(
          uploadBody(`${server.base}/bad?X-Amz-Signature=${SECRET}`, {
            size,
            open: () => chunked(data, chunk),
          }),
        );
        assert.ok(failure instanceof RangeError, String(failure));
        assert.match(failure.message, /declared/);
        assertNoSecret(failure);
        await sleep(50);
        for (const got of server.received) {
          assert.ok(
            !got.complete || got.sha256 === sha256Hex(data.subarray(0, size)),
            `the server took ${got.bytes} bytes`,
          );
        }
      });
    });
  }

  it("does not hang when the server answers 413 at once and closes", {
    timeout: 10_000,
  }, async () => {
    await withServer(
      async (server) => {
        const size = 32 * MIB;
        let response: Response | undefined;
        try {
          response = await within(
            uploadBody(`${server.base}/big?X-Amz-Signature=${SECRET}`, {
              size,
              open: () => zeros(size),
            }),
            8000,
            "upload",
          );
        } catch (error) {
          // Rejecting is fine, as long as it says nothing of the secret.
          if (error instanceof StillRunning) throw error;
          assertNoSecret(error);
        }
        if (response !== undefined) {
          assert.equal(response.status, 413);
          await within(
            response.text().catch((error) => {
              assertNoSecret(error);
              return "";
            }),
            2000,
            "reading the 413 response",
          );
        }
        assert.equal(server.started(), 1);
      },
      (request, response) => {
        request.on("error", () => {});
        response.writeHead(413, {
          "content-type": "text/plain",
          connection: "close",
        });
        response.end("too large", () => request.socket.destroy());
        return true;
      },
    );
  });

  it("rejects when aborted midway", { timeout: 10_000 }, async () => {
    await withServer(async (server) => {
      const size = 32 * MIB;
      const controller = new AbortController();
      const progress: number[] = [];
      const failure = await failureOf(
        uploadBody(`${server.base}/abort?X-Amz-Signature=${SECRET}`, {
          size,
          open: () => zeros(size),
        }, {
          signal: controller.signal,
          onProgress: (n) => {
            progress.push(n);
            if (n >= 2 * MIB) controller.abort();
          },
        }),
      );
      assert.equal((failure as Error).name, "AbortError", String(failure));
      assertNoSecret(failure);
      assert.ok(controller.signal.aborted, "never aborted: no progress");
      assert.ok(progress.at(-1)! < size, "everything was sent");
      await sleep(50);
      for (const got of server.received) {
        assert.equal(got.complete, false, "the server took the whole body");
      }
    });
  });
});

// ---------------------------------------------------------------------------

async function storeWith(
  path: string,
  data: Uint8Array,
): Promise<{ store: MemoryArtifactStore; manifest: ArtifactManifest }> {
  const store = new MemoryArtifactStore();
  const content = await stageArtifact({ files: [{ path, data }] }, {
    name: "m",
  });
  try {
    const manifest = await store.putVersion({
      name: "m",
      type: "model",
      metadata: {},
      aliases: [],
      digest: content.digest,
      size: content.size,
      files: content.files,
    });
    return { store, manifest };
  } finally {
    await content.dispose();
  }
}

async function leftovers(folder: string): Promise<string[]> {
  return (await nodeFs.readdir(folder)).filter((name) =>
    name.includes(".uetai-partial-")
  );
}

describe("downloadVersion containment", () => {
  const DEEP = "sub/deep/er/x.bin";

  it("refuses a folder link leading out, creating nothing outside", async () => {
    await withTempDir(async (dir) => {
      const data = pseudoRandomBytes(5000, 41);
      const { store, manifest } = await storeWith(DEEP, data);
      const save = join(dir, "save");
      const outside = join(dir, "outside");
      await nodeFs.mkdir(save);
      await nodeFs.mkdir(outside);
      await nodeFs.symlink(outside, join(save, "sub"));
      await assert.rejects(
        downloadVersion(store, manifest, save),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `got ${error}`);
          assert.match(error.message, /outside/);
          return true;
        },
      );
      assert.deepEqual(await nodeFs.readdir(outside), []);
      assert.deepEqual(await nodeFs.readdir(save), ["sub"]);
    });
  });

  it("follows a folder link that stays inside", async () => {
    await withTempDir(async (dir) => {
      const data = pseudoRandomBytes(5000, 42);
      const { store, manifest } = await storeWith(DEEP, data);
      const save = join(dir, "save");
      await nodeFs.mkdir(join(save, "real"), { recursive: true });
      await nodeFs.symlink(join(save, "real"), join(save, "sub"));
      const report = await downloadVersion(store, manifest, save);
      assert.deepEqual(report.fetched, [DEEP]);
      const written = join(save, "real", "deep", "er", "x.bin");
      assertSameBytes(
        new Uint8Array(await nodeFs.readFile(written)),
        data,
        "downloaded file",
      );
      assert.deepEqual(await nodeFs.readdir(join(save, "real", "deep", "er")), [
        "x.bin",
      ]);
      assert.ok((await nodeFs.lstat(join(save, "sub"))).isSymbolicLink());
      // A second download finds it in place.
      const again = await downloadVersion(store, manifest, save);
      assert.deepEqual(again.skipped, [DEEP]);
    });
  });

  it("downloads a file with a 240-character name, leaving no temporary file", async () => {
    await withTempDir(async (dir) => {
      const name = `${"n".repeat(236)}.bin`;
      assert.equal(name.length, 240);
      const data = pseudoRandomBytes(70_000, 43);
      const { store, manifest } = await storeWith(`long/${name}`, data);
      const save = join(dir, "save");
      const report = await downloadVersion(store, manifest, save);
      assert.deepEqual(report.fetched, [`long/${name}`]);
      assertSameBytes(
        new Uint8Array(await nodeFs.readFile(join(save, "long", name))),
        data,
        "downloaded file",
      );
      assert.deepEqual(await nodeFs.readdir(join(save, "long")), [name]);
    });
  });
});

// ---------------------------------------------------------------------------

describe("writeVerifiedFile", () => {
  const filesystems: { label: string; fs: () => FileSystemLike }[] = [
    { label: "runtime fs", fs: () => getFileSystem()! },
    { label: "wrapped fs", fs: () => countingFs().fs },
  ];
  const SIZE = 150_000;
  const data = pseudoRandomBytes(SIZE, 51);
  const entry = { path: "w.bin", size: SIZE, sha256: sha256Hex(data) };
  const wrong = data.slice();
  wrong[SIZE - 5] ^= 0xff;
  const bad: {
    label: string;
    bytes: Uint8Array;
    check: (error: IntegrityError) => void;
  }[] = [
    {
      label: "one byte more",
      bytes: concat([data, new Uint8Array([7])]),
      check: (error) => {
        assert.equal(error.algorithm, "size");
        assert.equal(error.expected, String(SIZE));
      },
    },
    {
      label: "one byte fewer",
      bytes: data.subarray(0, SIZE - 1),
      check: (error) => {
        assert.equal(error.algorithm, "size");
        assert.equal(error.expected, String(SIZE));
        assert.equal(error.actual, String(SIZE - 1));
      },
    },
    {
      label: "the right size, wrong content",
      bytes: wrong,
      check: (error) => {
        assert.equal(error.algorithm, "sha256");
        assert.equal(error.expected, entry.sha256);
        assert.equal(error.actual, sha256Hex(wrong));
        assert.ok(error.message.includes(entry.sha256), error.message);
        assert.ok(error.message.includes(sha256Hex(wrong)), error.message);
      },
    },
  ];

  for (const { label: fsLabel, fs } of filesystems) {
    it(`writes the right content into place (${fsLabel})`, async () => {
      await withTempDir(async (dir) => {
        const target = join(dir, "w.bin");
        await nodeFs.writeFile(target, "old");
        await writeVerifiedFile(fs(), chunked(data, 10_000), target, entry);
        assertSameBytes(
          new Uint8Array(await nodeFs.readFile(target)),
          data,
          "written",
        );
        assert.deepEqual(await nodeFs.readdir(dir), ["w.bin"]);
      });
    });

    for (const { label, bytes, check } of bad) {
      for (const existing of [false, true]) {
        it(
          `refuses ${label} (${fsLabel}${
            existing ? ", target already there" : ""
          })`,
          async () => {
            await withTempDir(async (dir) => {
              const target = join(dir, "w.bin");
              const before = pseudoRandomBytes(1234, 52);
              if (existing) await nodeFs.writeFile(target, before);
              await assert.rejects(
                writeVerifiedFile(fs(), chunked(bytes, 10_000), target, entry, {
                  artifact: "m:v1",
                }),
                (error: unknown) => {
                  assert.ok(error instanceof IntegrityError, `got ${error}`);
                  assert.equal(error.file, "w.bin");
                  assert.match(error.message, /m:v1/);
                  check(error);
                  return true;
                },
              );
              assert.deepEqual(await leftovers(dir), []);
              if (existing) {
                assert.deepEqual(await nodeFs.readdir(dir), ["w.bin"]);
                assertSameBytes(
                  new Uint8Array(await nodeFs.readFile(target)),
                  before,
                  "the file that was there",
                );
              } else {
                assert.deepEqual(await nodeFs.readdir(dir), []);
              }
            });
          },
        );
      }
    }
  }
});
