// This module is browser compatible.
import { randomHexId } from "../../runtime/values.ts";
import { BackendError } from "../../errors/errors.ts";
import { type UploadBody, uploadBody } from "../../artifact/http.ts";
import { parseRetryAfter } from "../../pipeline/retry.ts";

/**
 * A request Comet answered with an error status. The message carries
 * Comet's own `msg` and `sdk_error_code` (never the API key).
 *
 * @example
 * ```ts
 * import { CometApiError } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const error = new CometApiError("Comet answered 400", {
 *   status: 400,
 *   sdkErrorCode: 90211,
 *   endpoint: "POST /api/rest/v2/write/experiment/log-other",
 * });
 * assert.equal(error.retryable, false);
 * assert.equal(error.sdkErrorCode, 90211);
 * ```
 */
export class CometApiError extends BackendError {
  /** Comet's `sdk_error_code`, such as `90211` (no such experiment). */
  readonly sdkErrorCode: number | undefined;
  /** Method and path of the failed request, without its query. */
  readonly endpoint: string;
  /** How long Comet asked to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options Status, Comet's error code, endpoint and cause.
   */
  constructor(
    message: string,
    options: {
      status?: number;
      sdkErrorCode?: number;
      endpoint: string;
      retryable?: boolean;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(message, {
      backend: "comet",
      status: options.status,
      retryable: options.retryable ?? isRetryableStatus(options.status),
      cause: options.cause,
    });
    this.name = "CometApiError";
    this.sdkErrorCode = options.sdkErrorCode;
    this.endpoint = options.endpoint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Whether a status may succeed when sent again: network failures (no
 * status), 408, 429 and 5xx. 400, 401, 402, 403 and the rest are final, as
 * in Comet's own SDKs.
 */
function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 ||
    status >= 500;
}

/** One field of a multipart form. */
export interface MultipartField {
  /** Field name, such as `"file"` or `"metadata"`. */
  name: string;
  /** File name of a file part (Comet's SDK sends `"file"`). */
  filename?: string;
  /** The content: text, bytes, or a body of known length read as a stream. */
  value: string | Uint8Array | UploadBody;
}

/** Options of one {@linkcode CometHttp} request. */
export interface CometRequestOptions {
  /** Query parameters; `undefined` and `null` values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  /** A JSON body. */
  body?: unknown;
  /** Gzip the JSON body (`Content-Encoding: gzip`), as Comet's batch endpoints get it. */
  gzip?: boolean;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * Where the API key goes: the `Authorization` header (REST v2 and the
   * batch endpoints), the `apiKey` query parameter (the SDK's upload
   * endpoints) or an `apiKey` field of the JSON body (the SDK's handshake).
   * @default {"header"}
   */
  auth?: "header" | "query" | "body";
}

/** Options of {@linkcode CometHttp}. */
export interface CometHttpOptions {
  /** The API key, sent as the `Authorization` header. */
  apiKey: string;
  /** Root URL of the Comet installation, such as `https://www.comet.com`. */
  rootUrl: string;
  /**
   * Longest a request may take when the caller gives no signal, in milliseconds.
   * @default {60000}
   */
  timeoutMs?: number;
}

const encoder = new TextEncoder();

/**
 * Talks to Comet over HTTP: the REST v2 API and the SDK's batch endpoints
 * with the `Authorization: <key>` header, the SDK's uploads with the key in
 * the query, its handshake with the key in the body, as Comet's SDK does.
 * Errors are {@linkcode CometApiError}s, and neither their messages nor
 * their causes hold the key or a URL's query.
 *
 * @example
 * ```ts
 * import { CometHttp } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const http = new CometHttp({ apiKey: "k", rootUrl: "https://www.comet.com" });
 * assert.equal(
 *   http.url("/api/rest/v2/experiment/tags", { experimentKey: "abc" }),
 *   "https://www.comet.com/api/rest/v2/experiment/tags?experimentKey=abc",
 * );
 * ```
 */
export class CometHttp {
  #apiKey: string;
  #root: string;
  #timeoutMs: number;

  /**
   * Creates the client.
   *
   * @param options Key, root URL and timeout.
   */
  constructor(options: CometHttpOptions) {
    this.#apiKey = options.apiKey;
    this.#root = options.rootUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Root URL of the Comet installation. */
  get rootUrl(): string {
    return this.#root;
  }

  /**
   * Builds the URL of a path with a query.
   *
   * @param path Path from the root, such as `/api/rest/v2/experiment/tags`.
   * @param query Query parameters; `undefined` and `null` are left out.
   * @returns The URL.
   */
  url(path: string, query: CometRequestOptions["query"] = {}): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) {
        search.set(name, String(value));
      }
    }
    const text = search.toString();
    return `${this.#root}${path}${text ? `?${text}` : ""}`;
  }

  /**
   * Sends a request with an optional JSON body and reads a JSON answer.
   *
   * @param method HTTP method.
   * @param path Path from the root.
   * @param options Query, body, gzip and signal.
   * @returns The parsed answer (`{}` for an empty body).
   * @throws {CometApiError} When Comet answers an error or cannot be reached.
   */
  async json<T = unknown>(
    method: string,
    path: string,
    options: CometRequestOptions = {},
  ): Promise<T> {
    const headers: Record<string, string> = {};
    let body: Uint8Array | undefined;
    if (options.body !== undefined) {
      headers["content-type"] = "application/json;charset=utf-8";
      const value = options.auth === "body"
        ? { apiKey: this.#apiKey, ...(options.body as object) }
        : options.body;
      body = encoder.encode(JSON.stringify(value));
      if (options.gzip) {
        body = await gzip(body);
        headers["content-encoding"] = "gzip";
      }
    }
    const response = await this.#fetch(method, path, options, headers, body);
    const text = await this.#read(response, `${method} ${path}`, options);
    if (text.trim() === "") return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new CometApiError(
        `Comet answered ${method} ${path} with a body that is not JSON (${
          show(text)
        })`,
        {
          status: response.status,
          endpoint: `${method} ${path}`,
          retryable: false,
          cause,
        },
      );
    }
  }

  /**
   * Sends a `multipart/form-data` POST, as Comet's upload endpoints take it.
   *
   * @param path Path from the root.
   * @param fields The form's fields, in order.
   * @param options Query and signal; `onProgress` gets the bytes sent so far.
   * @returns The parsed JSON answer (`{}` when it is empty or not JSON).
   * @throws {CometApiError} When Comet answers an error or cannot be reached.
   */
  async upload(
    path: string,
    fields: readonly MultipartField[],
    options: CometRequestOptions & {
      onProgress?: (bytesDone: number) => void;
    } = {},
  ): Promise<unknown> {
    const boundary = `uetai${randomHexId()}`;
    const pieces: (Uint8Array | UploadBody)[] = [];
    for (const field of fields) {
      const disposition = field.filename === undefined
        ? `form-data; name="${field.name}"`
        : `form-data; name="${field.name}"; filename="${field.filename}"`;
      const type = field.filename === undefined
        ? ""
        : "Content-Type: application/octet-stream\r\n";
      pieces.push(encoder.encode(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`,
      ));
      pieces.push(
        typeof field.value === "string"
          ? encoder.encode(field.value)
          : field.value,
      );
      pieces.push(encoder.encode("\r\n"));
    }
    pieces.push(encoder.encode(`--${boundary}--\r\n`));
    const headers = {
      "content-type": `multipart/form-data; boundary=${boundary}`,
    };
    const streamed = pieces.some((piece) => !(piece instanceof Uint8Array));
    let response: Response;
    if (!streamed) {
      const bytes = concat(pieces as Uint8Array[]);
      response = await this.#fetch("POST", path, options, headers, bytes);
      options.onProgress?.(bytes.length);
    } else {
      const size = pieces.reduce(
        (sum, piece) =>
          sum + (piece instanceof Uint8Array ? piece.length : piece.size),
        0,
      );
      const body: UploadBody = {
        size,
        open: () => joinStreams(pieces),
      };
      // No bound on the whole transfer (a large file may take long): it
      // stops when no byte moved, or no answer came, for the timeout.
      const idle = new AbortController();
      const stall = () =>
        idle.abort(new DOMException("the upload stalled", "TimeoutError"));
      let idleTimer = setTimeout(stall, this.#timeoutMs);
      try {
        response = await this.#send(
          "POST",
          path,
          { ...options, signal: anySignal(options.signal, idle.signal) },
          (signal) =>
            uploadBody(this.#urlFor(path, options), body, {
              method: "POST",
              headers: this.#authHeaders(headers, options),
              signal,
              onProgress: (bytesDone) => {
                clearTimeout(idleTimer);
                idleTimer = setTimeout(stall, this.#timeoutMs);
                options.onProgress?.(bytesDone);
              },
            }),
          "none",
        );
      } catch (error) {
        if (idle.signal.aborted && !options.signal?.aborted) {
          throw new CometApiError(
            `Comet's upload ${path} stalled: nothing moved for ${this.#timeoutMs} ms`,
            { endpoint: `POST ${path}`, retryable: true },
          );
        }
        throw error;
      } finally {
        clearTimeout(idleTimer);
      }
    }
    const text = await this.#read(response, `POST ${path}`, options);
    try {
      return text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return {};
    }
  }

  /**
   * Sends a GET and returns the successful response unread (for downloads).
   *
   * @param path Path from the root.
   * @param options Query and signal.
   * @returns The response, with status 2xx.
   * @throws {CometApiError} When Comet answers an error or cannot be reached.
   */
  stream(path: string, options: CometRequestOptions = {}): Promise<Response> {
    return this.#fetch("GET", path, options, {}, undefined, "headers");
  }

  #fetch(
    method: string,
    path: string,
    options: CometRequestOptions,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    bound: "total" | "headers" | "none" = "total",
  ): Promise<Response> {
    return this.#send(
      method,
      path,
      options,
      (signal) =>
        fetch(this.#urlFor(path, options), {
          method,
          headers: this.#authHeaders(headers, options),
          body: body as BodyInit | undefined,
          signal,
        }),
      bound,
    );
  }

  async #send(
    method: string,
    path: string,
    options: CometRequestOptions,
    request: (signal: AbortSignal) => Promise<Response>,
    bound: "total" | "headers" | "none" = "total",
  ): Promise<Response> {
    const endpoint = `${method} ${path}`;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    // A streamed body (a large artifact file) may take longer than any fixed
    // bound: then only the wait for the answer to start is bounded.
    let headerTimer: ReturnType<typeof setTimeout> | undefined;
    if (bound === "total") {
      signals.push(AbortSignal.timeout(this.#timeoutMs));
    } else if (bound === "headers") {
      const headers = new AbortController();
      headerTimer = setTimeout(
        () =>
          headers.abort(
            new DOMException("no answer in time", "TimeoutError"),
          ),
        this.#timeoutMs,
      );
      signals.push(headers.signal);
    }
    const signal = anySignal(...signals);
    let response: Response;
    try {
      response = await request(signal);
    } catch (cause) {
      clearTimeout(headerTimer);
      if (options.signal?.aborted) throw options.signal.reason;
      const timedOut = signal.aborted;
      throw new CometApiError(
        timedOut
          ? `Comet did not answer ${endpoint} within ${this.#timeoutMs} ms`
          : `Cannot reach Comet at ${this.#root} (${endpoint}): ${
            this.#redact((cause as Error)?.message ?? String(cause))
          }`,
        {
          endpoint,
          retryable: true,
          cause: timedOut ? undefined : this.#sanitize(cause),
        },
      );
    }
    clearTimeout(headerTimer);
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    let msg = text.slice(0, 500);
    let sdkErrorCode: number | undefined;
    try {
      const parsed = JSON.parse(text) as {
        msg?: unknown;
        sdk_error_code?: unknown;
      };
      if (typeof parsed?.msg === "string") msg = parsed.msg;
      if (typeof parsed?.sdk_error_code === "number") {
        sdkErrorCode = parsed.sdk_error_code;
      }
    } catch {
      // Not JSON: keep the text.
    }
    throw new CometApiError(
      `Comet answered ${response.status} to ${endpoint}: ${
        this.#redact(msg) || response.statusText
      }${sdkErrorCode ? ` (sdk_error_code ${sdkErrorCode})` : ""}`,
      {
        status: response.status,
        sdkErrorCode,
        endpoint,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      },
    );
  }

  #urlFor(path: string, options: CometRequestOptions): string {
    return options.auth === "query"
      ? this.url(path, { ...options.query, apiKey: this.#apiKey })
      : this.url(path, options.query);
  }

  #authHeaders(
    headers: Record<string, string>,
    options: CometRequestOptions,
  ): Record<string, string> {
    return (options.auth ?? "header") === "header"
      ? { ...headers, authorization: this.#apiKey }
      : headers;
  }

  /** Reads a response body; a failed read is a retryable error. */
  async #read(
    response: Response,
    endpoint: string,
    options: CometRequestOptions,
  ): Promise<string> {
    try {
      return await response.text();
    } catch (cause) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new CometApiError(
        `Cannot read Comet's answer to ${endpoint}: ${
          this.#redact((cause as Error)?.message ?? String(cause))
        }`,
        {
          status: response.status,
          endpoint,
          retryable: true,
          cause: this.#sanitize(cause),
        },
      );
    }
  }

  /**
   * A copy of a network error without anything that may hold the key (the
   * runtime's message can quote the URL, whose query carries it on uploads).
   */
  #sanitize(cause: unknown): Error {
    const error = new Error(
      this.#redact((cause as Error)?.message ?? String(cause)).replace(
        /([?&]apiKey=)[^&\s)"']*/g,
        "$1<redacted>",
      ),
    );
    error.name = (cause as Error)?.name ?? "Error";
    return error;
  }

  #redact(text: string): string {
    return this.#apiKey.length >= 4
      ? text.replaceAll(this.#apiKey, "<redacted>")
      : text;
  }
}

/** One signal for several (a never-aborting one for none). */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const given = signals.filter((s): s is AbortSignal => s !== undefined);
  if (given.length === 0) return new AbortController().signal;
  return given.length === 1 ? given[0] : AbortSignal.any(given);
}

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const size = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

function joinStreams(
  pieces: readonly (Uint8Array | UploadBody)[],
): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      while (index < pieces.length) {
        const piece = pieces[index];
        if (piece instanceof Uint8Array) {
          index++;
          if (piece.length > 0) {
            controller.enqueue(piece);
            return;
          }
          continue;
        }
        reader ??= piece.open().getReader();
        const { done, value } = await reader.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        reader = undefined;
        index++;
      }
      controller.close();
    },
    async cancel(reason): Promise<void> {
      await reader?.cancel(reason);
    },
  });
}

/**
 * Gzips bytes with the web-standard `CompressionStream`.
 *
 * @param data The bytes.
 * @returns The gzip stream's bytes.
 */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
