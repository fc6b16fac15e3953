// This module is browser compatible: `node:http` is reached at run time, and
// only in Deno, whose fetch cannot send a stream with a Content-Length.
import {
  BackendError,
  type IntegrityError,
  UnsupportedRuntimeError,
} from "../errors/errors.ts";
import { abortableSleep, backoffDelayMs } from "../pipeline/retry.ts";
import type { ArtifactTransferOptions, StagedFile } from "./types.ts";
import { ChunkReader, verifyingStream } from "./streams.ts";

/** A body of known length that can be read as a stream. */
export interface UploadBody {
  /** Size in bytes; sent as `Content-Length`. */
  size: number;
  /** Opens the content from its first byte. */
  open(): ReadableStream<Uint8Array>;
}

/** Options of {@linkcode uploadBody}. */
export interface UploadOptions {
  /**
   * The HTTP method.
   * @default {"PUT"}
   */
  method?: string;
  /** Request headers (`Content-Length` is set from the body's size). */
  headers?: Record<string, string>;
  /** Aborts the upload. */
  signal?: AbortSignal;
  /** Called as bytes are handed to the connection, with the count so far. */
  onProgress?: (bytesDone: number) => void;
}

/**
 * How a streamed body of known length is sent in this runtime:
 * `fetch-stream` (Node's and Bun's fetch send the given `Content-Length`),
 * `node-http` (Deno: its fetch would send a chunked body, which S3 and
 * MLflow's artifact proxy reject or store empty), `fixed-length` (workerd's
 * `FixedLengthStream`), or `blob` (browsers: the content is gathered into a
 * Blob first).
 */
export type UploadStrategy =
  | "fetch-stream"
  | "node-http"
  | "fixed-length"
  | "blob";

interface ProcessLike {
  getBuiltinModule?: (name: string) => unknown;
  versions?: { node?: string; bun?: string };
}

function currentProcess(): ProcessLike | undefined {
  return (globalThis as { process?: ProcessLike }).process;
}

/**
 * The way {@linkcode uploadBody} sends a streamed body in this runtime.
 *
 * @returns The strategy.
 *
 * @example
 * ```ts
 * import { uploadStrategy } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.ok(["fetch-stream", "node-http", "fixed-length", "blob"].includes(uploadStrategy()));
 * ```
 */
export function uploadStrategy(): UploadStrategy {
  const global = globalThis as { Deno?: unknown; FixedLengthStream?: unknown };
  if (global.Deno !== undefined) {
    return nodeHttp("http:") ? "node-http" : "blob";
  }
  if (typeof global.FixedLengthStream === "function") return "fixed-length";
  const versions = currentProcess()?.versions;
  if (versions?.bun !== undefined || versions?.node !== undefined) {
    return "fetch-stream";
  }
  return "blob";
}

interface NodeIncoming {
  statusCode?: number;
  statusMessage?: string;
  headers: Record<string, string | string[] | undefined>;
  on(event: string, listener: (...args: unknown[]) => void): void;
  pause(): void;
  resume(): void;
  destroy(error?: Error): void;
}

interface NodeRequest {
  on(event: string, listener: (...args: unknown[]) => void): void;
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  end(): void;
  destroy(error?: Error): void;
}

interface NodeHttp {
  request(
    url: string,
    options: {
      method: string;
      headers: Record<string, string>;
      signal?: AbortSignal;
    },
  ): NodeRequest;
}

function nodeHttp(protocol: string): NodeHttp | undefined {
  try {
    const module = currentProcess()?.getBuiltinModule?.(
      protocol === "https:" ? "node:https" : "node:http",
    ) as NodeHttp | undefined;
    return typeof module?.request === "function" ? module : undefined;
  } catch {
    return undefined;
  }
}

function counting(
  source: ReadableStream<Uint8Array>,
  onProgress: ((bytesDone: number) => void) | undefined,
): ReadableStream<Uint8Array> {
  if (!onProgress) return source;
  let done = 0;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller): void {
        done += chunk.length;
        controller.enqueue(chunk);
        onProgress(done);
      },
    }),
  );
}

/**
 * A URL as it may appear in messages: origin and path only, since signed
 * URLs (S3, GCS) carry credentials in their query.
 */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(an invalid URL)";
  }
}

/**
 * Passes a body through, failing it (before an excess chunk is handed on)
 * when it has more or fewer bytes than its declared size: Node's fetch
 * hangs on a stream longer than its `Content-Length`, and a gathered Blob
 * would be sent with the wrong length.
 */
function exactly(
  source: ReadableStream<Uint8Array>,
  size: number,
  url: string,
  onError: (error: RangeError) => void,
): ReadableStream<Uint8Array> {
  let done = 0;
  const fail = (message: string): never => {
    const error = new RangeError(
      `Cannot upload to ${redactUrl(url)}: ${message}`,
    );
    onError(error);
    throw error;
  };
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller): void {
        done += chunk.length;
        if (done > size) {
          fail(`the body has more than its declared ${size} bytes`);
        }
        controller.enqueue(chunk);
      },
      flush(): void {
        if (done !== size) {
          fail(`the body has ${done} bytes, not its declared ${size}`);
        }
      },
    }),
  );
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

/**
 * Sends a body of known length, streamed (one chunk in memory at a time
 * except in browsers) with a `Content-Length` header: what S3 signed URLs,
 * MLflow's artifact proxy and Comet's upload endpoints need. The response
 * is a standard `Response`; its status is not checked here.
 *
 * @param url Where to send it.
 * @param body The size and the content.
 * @param options Method, headers, abort signal and progress.
 * @returns The response.
 *
 * @example
 * ```ts
 * import { uploadBody } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const server = Deno.serve({ port: 0, onListen() {} }, async (request) =>
 *   new Response(`${request.headers.get("content-length")} ${(await request.arrayBuffer()).byteLength}`));
 * const bytes = new Uint8Array(100_000);
 * const response = await uploadBody(`http://127.0.0.1:${server.addr.port}/x`, {
 *   size: bytes.length,
 *   open: () => new Blob([bytes]).stream(),
 * });
 * assert.equal(await response.text(), "100000 100000");
 * await server.shutdown();
 * ```
 */
export async function uploadBody(
  url: string,
  body: UploadBody,
  options: UploadOptions = {},
): Promise<Response> {
  if (!Number.isSafeInteger(body?.size) || body.size < 0) {
    throw new RangeError(
      `Cannot upload to ${redactUrl(url)}: body size ${
        String(body?.size)
      } is not a non-negative integer number of bytes`,
    );
  }
  const method = options.method ?? "PUT";
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (name.toLowerCase() !== "content-length") headers[name] = value;
  }
  headers["content-length"] = String(body.size);
  if (body.size === 0) {
    return await fetch(url, {
      method,
      headers,
      body: new Uint8Array(0),
      signal: options.signal,
    });
  }
  const strategy = uploadStrategy();
  if (strategy === "node-http") {
    const protocol = new URL(url).protocol;
    const http = nodeHttp(protocol);
    if (!http) {
      throw new UnsupportedRuntimeError(
        `Cannot upload to ${
          redactUrl(url)
        }: this runtime cannot send a streamed ${protocol} body with a Content-Length`,
        { capability: protocol === "https:" ? "node:https" : "node:http" },
      );
    }
    return await sendWithNodeHttp(http, url, method, headers, body, options);
  }
  let lengthError: RangeError | undefined;
  const stream = counting(
    exactly(body.open(), body.size, url, (error) => (lengthError = error)),
    options.onProgress,
  );
  if (strategy === "fetch-stream") {
    try {
      return await fetch(url, {
        method,
        headers,
        body: stream,
        signal: options.signal,
        duplex: "half",
      } as RequestInit);
    } catch (error) {
      throw lengthError ?? error;
    }
  }
  if (strategy === "fixed-length") {
    const FixedLength = (globalThis as unknown as {
      FixedLengthStream: new (size: number) => TransformStream<
        Uint8Array,
        Uint8Array
      >;
    }).FixedLengthStream;
    return await fetch(url, {
      method,
      headers,
      body: stream.pipeThrough(new FixedLength(body.size)),
      signal: options.signal,
    });
  }
  // Browsers send no streamed body over HTTP/1.1: gather it first.
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return await fetch(url, {
    method,
    headers,
    body: new Blob(chunks as BlobPart[]),
    signal: options.signal,
  });
}

function sendWithNodeHttp(
  http: NodeHttp,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: UploadBody,
  options: UploadOptions,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const request = http.request(url, {
      method,
      headers,
      signal: options.signal,
    });
    request.on("error", fail);
    request.on("response", (incoming) => {
      const response = incoming as NodeIncoming;
      const status = response.statusCode ?? 0;
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined) continue;
        for (const one of Array.isArray(value) ? value : [value]) {
          responseHeaders.append(name, one);
        }
      }
      // Set once the body ended, failed or was cancelled: nothing more may
      // reach its controller (a cancelled body's "end" still fires).
      let ended = false;
      const responseBody = NULL_BODY_STATUSES.has(status)
        ? null
        : new ReadableStream<Uint8Array>({
          start(controller): void {
            response.on("data", (chunk) => {
              if (ended) return;
              const bytes = chunk as Uint8Array;
              controller.enqueue(
                new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
              );
              if ((controller.desiredSize ?? 1) <= 0) response.pause();
            });
            response.on("end", () => {
              if (ended) return;
              ended = true;
              controller.close();
            });
            response.on("error", (error) => {
              if (ended) return;
              ended = true;
              controller.error(error);
            });
            response.on("close", () => {
              if (ended) return;
              ended = true;
              controller.error(
                new Error(
                  `Cannot read the response of ${
                    redactUrl(url)
                  }: the connection closed before its end`,
                ),
              );
            });
          },
          pull(): void {
            response.resume();
          },
          cancel(): void {
            ended = true;
            response.destroy();
          },
        }, { highWaterMark: 4 });
      if (responseBody === null) response.resume();
      settled = true;
      resolve(
        new Response(responseBody, {
          status,
          statusText: response.statusMessage,
          headers: responseHeaders,
        }),
      );
    });
    let closed = false;
    let wake: (() => void) | undefined;
    const closing = new Promise<void>((ok) =>
      request.on("close", () => {
        closed = true;
        wake?.();
        ok();
      })
    );
    request.on("drain", () => wake?.());
    (async () => {
      // Read into three buffers in turn (a byte stream such as a
      // fileReadStream: no allocation per chunk): a buffer is filled again
      // two chunks after it was handed out, so the write before last must
      // have finished before the next chunk is asked for.
      const chunks = new ChunkReader(body.open(), 3);
      let done = 0;
      let older: Promise<void> | undefined;
      let newer: Promise<void> | undefined;
      try {
        while (true) {
          await older;
          const chunk = await chunks.next();
          if (chunk === undefined) break;
          done += chunk.length;
          if (done > body.size) {
            throw new RangeError(
              `Cannot upload to ${
                redactUrl(url)
              }: the body has more than its declared ${body.size} bytes`,
            );
          }
          let flushed = false;
          // Failures come as the request's "error" event and "close".
          const written = new Promise<void>((ok) => {
            flushed = request.write(chunk, () => ok());
          });
          older = newer;
          newer = Promise.race([written, closing]);
          if (!flushed && !closed) {
            await new Promise<void>((ok) => (wake = ok));
            wake = undefined;
          }
          if (closed) {
            throw new Error(
              `Cannot upload to ${
                redactUrl(url)
              }: the connection closed after ${done} of ${body.size} bytes`,
            );
          }
          options.onProgress?.(done);
        }
        if (done !== body.size) {
          throw new RangeError(
            `Cannot upload to ${
              redactUrl(url)
            }: the body has ${done} bytes, not its declared ${body.size}`,
          );
        }
        request.end();
      } catch (error) {
        await chunks.cancel(error);
        request.destroy(error as Error);
        fail(error);
      } finally {
        await chunks.release().catch(() => {});
      }
    })();
  });
}

/**
 * Uploads one staged file, as a body of known length checked against its
 * size and SHA-256 as it streams (a mismatch is an `IntegrityError`, never
 * retried), retrying retryable failures (`BackendError.retryable`, honouring
 * a `retryAfterMs` the error carries) with backoff, as Comet's and MLflow's
 * own clients do for uploads.
 *
 * @param file The staged file.
 * @param send Sends the body once; `onProgress` gets the bytes sent so far.
 * @param options Abort signal and progress.
 * @param attempts Most attempts.
 * @returns When the file is uploaded.
 *
 * @example
 * ```ts
 * import { uploadStagedFile } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const data = new TextEncoder().encode("hi");
 * const file = {
 *   path: "a.txt", size: 2, md5: "",
 *   sha256: "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4",
 *   open: () => new Blob([data]).stream(),
 * };
 * let received = 0;
 * await uploadStagedFile(file, async (body) => {
 *   received = (await new Response(body.open()).arrayBuffer()).byteLength;
 * });
 * assert.equal(received, 2);
 * ```
 */
export async function uploadStagedFile(
  file: StagedFile,
  send: (
    body: UploadBody,
    onProgress: (bytesDone: number) => void,
  ) => Promise<void>,
  options: ArtifactTransferOptions = {},
  attempts = 4,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const check: { error?: IntegrityError } = {};
    try {
      await send(
        {
          size: file.size,
          open: () => verifyingStream(file, file.open(), check),
        },
        (bytesDone) =>
          options.onProgress?.({
            phase: "upload",
            file: file.path,
            bytesDone: Math.min(bytesDone, file.size),
            bytesTotal: file.size,
          }),
      );
      if (check.error) throw check.error;
      return;
    } catch (error) {
      if (check.error) throw check.error;
      const retryable = error instanceof BackendError && error.retryable;
      if (options.signal?.aborted || attempt >= attempts || !retryable) {
        throw error;
      }
      await abortableSleep(
        backoffDelayMs(attempt, {
          initialDelayMs: 500,
          maxDelayMs: 30_000,
          retryAfterMs: (error as { retryAfterMs?: number }).retryAfterMs,
        }),
        options.signal,
      );
    }
  }
}
