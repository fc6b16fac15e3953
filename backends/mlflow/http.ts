// This module is browser compatible.
import { BackendError } from "../../errors/errors.ts";
import { type UploadBody, uploadBody } from "../../artifact/http.ts";
import { parseRetryAfter } from "../../pipeline/retry.ts";
import { encodeBase64 } from "../../runtime/base64.ts";

/**
 * A request MLflow answered with an error. `errorCode` is MLflow's
 * `error_code` (`RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`, ...)
 * when the body was JSON; plain-text and HTML answers (authentication,
 * unknown routes) keep only the status and a short text.
 *
 * @example
 * ```ts
 * import { MlflowApiError } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const error = new MlflowApiError("MLflow answered 404", {
 *   status: 404,
 *   errorCode: "RESOURCE_DOES_NOT_EXIST",
 *   endpoint: "GET /api/2.0/mlflow/runs/get",
 * });
 * assert.equal(error.retryable, false);
 * ```
 */
export class MlflowApiError extends BackendError {
  /** MLflow's `error_code`, when the answer was JSON. */
  readonly errorCode: string | undefined;
  /** Method and path of the request, without its query. */
  readonly endpoint: string;
  /** How long MLflow asked to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options Status, MLflow's code, endpoint, whether to retry, cause.
   */
  constructor(
    message: string,
    options: {
      status?: number;
      errorCode?: string;
      endpoint: string;
      retryable?: boolean;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    const status = options.status;
    super(message, {
      backend: "mlflow",
      status,
      retryable: options.retryable ??
        (status === undefined || status === 408 || status === 429 ||
          (status >= 500 && status !== 501)),
      cause: options.cause,
    });
    this.name = "MlflowApiError";
    this.errorCode = options.errorCode;
    this.endpoint = options.endpoint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** How to authenticate: Basic credentials or a bearer token. */
export type MlflowAuth =
  | { username: string; password: string }
  | { token: string };

/** Options of {@linkcode MlflowHttp}. */
export interface MlflowHttpOptions {
  /** The tracking server, such as `http://127.0.0.1:5000`. */
  trackingUri: string;
  /** Credentials, when the server needs them. */
  auth?: MlflowAuth;
  /** Longest one request may wait for its answer, in milliseconds. @default {120000} */
  timeoutMs?: number;
}

/** Options of one {@linkcode MlflowHttp} request. */
export interface MlflowRequestOptions {
  /** Query parameters; arrays repeat the key; `undefined` is left out. */
  query?: Record<
    string,
    string | number | boolean | undefined | readonly string[]
  >;
  /** A JSON body (sent with `Content-Type: application/json`). */
  body?: unknown;
  /** Aborts the request. */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Talks to an MLflow tracking server: the REST API under
 * `/api/2.0/mlflow/` and the artifact proxy under
 * `/api/2.0/mlflow-artifacts/`. Errors are {@linkcode MlflowApiError}s
 * whose messages never hold the credentials.
 *
 * @example
 * ```ts
 * import { MlflowHttp } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const http = new MlflowHttp({ trackingUri: "http://127.0.0.1:5000/" });
 * assert.equal(
 *   http.artifactUrl("mlflow-artifacts:/1/abc/artifacts/a b.txt"),
 *   "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a%20b.txt",
 * );
 * ```
 */
export class MlflowHttp {
  #base: string;
  #authorization: string | undefined;
  #timeoutMs: number;

  /**
   * Creates the client.
   *
   * @param options Server, credentials and timeout.
   */
  constructor(options: MlflowHttpOptions) {
    // Credentials never stay in the URL (it appears in messages): they move
    // to the Authorization header.
    const url = new URL(options.trackingUri);
    let auth = options.auth;
    if (url.username !== "" || url.password !== "") {
      auth ??= {
        username: safeDecode(url.username),
        password: safeDecode(url.password),
      };
      url.username = "";
      url.password = "";
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.#authorization = auth === undefined
      ? undefined
      : "token" in auth
      ? `Bearer ${auth.token}`
      : `Basic ${
        encodeBase64(encoder.encode(`${auth.username}:${auth.password}`))
      }`;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** The tracking server's base URL. */
  get trackingUri(): string {
    return this.#base;
  }

  /**
   * The proxy URL of an `mlflow-artifacts:` URI, each path segment encoded.
   *
   * @param uri Such as `mlflow-artifacts:/1/<run>/artifacts/model.bin`.
   * @returns The URL to PUT or GET.
   * @throws {TypeError} When the URI is not served by the proxy.
   */
  artifactUrl(uri: string): string {
    const match = /^mlflow-artifacts:(?:\/\/([^/]*))?\/(.*)$/.exec(uri);
    if (!match) {
      throw new TypeError(
        `Cannot reach artifact ${
          JSON.stringify(uri)
        } through MLflow's artifact proxy: expected an "mlflow-artifacts:/..." URI (is the server run with --serve-artifacts?)`,
      );
    }
    const path = match[2].split("/").filter((s) => s !== "").map(
      encodeURIComponent,
    ).join("/");
    // `mlflow-artifacts://host:port/...` names another server (same scheme).
    const base = match[1]
      ? `${new URL(this.#base).protocol}//${match[1]}`
      : this.#base;
    return `${base}/api/2.0/mlflow-artifacts/artifacts/${path}`;
  }

  /**
   * Calls a REST endpoint: `GET` with a query, `POST`/`PATCH`/`DELETE` with
   * a JSON body.
   *
   * @param method HTTP method.
   * @param rpc Path under `/api/2.0/mlflow/`, such as `runs/log-batch`.
   * @param options Query, body, signal.
   * @returns The parsed answer (`{}` for an empty body).
   * @throws {MlflowApiError} When MLflow answers an error or cannot be reached.
   */
  async json<T = Record<string, unknown>>(
    method: string,
    rpc: string,
    options: MlflowRequestOptions = {},
  ): Promise<T> {
    const path = `/api/2.0/mlflow/${rpc}`;
    const headers: Record<string, string> = {};
    let body: Uint8Array | undefined;
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = encoder.encode(JSON.stringify(options.body));
    }
    const response = await this.#send(
      method,
      path,
      this.#url(path, options.query),
      { headers, body },
      options.signal,
    );
    const text = await this.#read(response, `${method} ${path}`);
    if (text.trim() === "") return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new MlflowApiError(
        `MLflow answered ${method} ${path} with a body that is not JSON`,
        { status: response.status, endpoint: `${method} ${path}`, cause },
      );
    }
  }

  /**
   * Uploads one artifact file through the proxy, with a `Content-Length`
   * (MLflow's default server stores a chunked body as an empty file).
   *
   * @param uri The file's `mlflow-artifacts:` URI.
   * @param body Bytes, or a body of known length read as a stream.
   * @param options Signal and progress.
   * @throws {MlflowApiError} When MLflow refuses or cannot be reached.
   */
  async putArtifact(
    uri: string,
    body: Uint8Array | UploadBody,
    options: {
      signal?: AbortSignal;
      onProgress?: (bytesDone: number) => void;
    } = {},
  ): Promise<void> {
    const url = this.artifactUrl(uri);
    const path = new URL(url).pathname;
    const headers = { ...this.#authHeader() };
    const response = body instanceof Uint8Array
      ? await this.#send("PUT", path, url, { headers, body }, options.signal)
      : await this.#guard(
        "PUT",
        path,
        options.signal,
        false,
        (signal) =>
          uploadBody(url, body, {
            method: "PUT",
            headers,
            signal,
            onProgress: options.onProgress,
          }),
      );
    await this.#read(response, `PUT ${path}`);
  }

  /**
   * Downloads one artifact file through the proxy.
   *
   * @param uri The file's `mlflow-artifacts:` URI.
   * @param signal Aborts the download.
   * @returns The response, unread, with status 2xx.
   */
  async getArtifact(uri: string, signal?: AbortSignal): Promise<Response> {
    const url = this.artifactUrl(uri);
    return await this.#guard(
      "GET",
      new URL(url).pathname,
      signal,
      false,
      (s) => fetch(url, { headers: this.#authHeader(), signal: s }),
    );
  }

  /**
   * Lists one level of an artifact folder through the proxy.
   *
   * @param uri The folder's `mlflow-artifacts:` URI.
   * @param signal Aborts the request.
   * @returns Its entries (`path` is the base name); empty when absent.
   */
  async listArtifacts(
    uri: string,
    signal?: AbortSignal,
  ): Promise<{ path: string; is_dir: boolean; file_size?: number }[]> {
    const url = new URL(this.artifactUrl(uri));
    const prefix = "/api/2.0/mlflow-artifacts/artifacts/";
    const dir = decodeURIComponent(url.pathname.slice(prefix.length));
    const path = "/api/2.0/mlflow-artifacts/artifacts";
    const response = await this.#send(
      "GET",
      path,
      this.#url(path, { path: dir }),
      { headers: {} },
      signal,
    );
    const text = await this.#read(response, `GET ${path}`);
    try {
      const parsed = text.trim() === "" ? {} : JSON.parse(text);
      return Array.isArray(parsed.files) ? parsed.files : [];
    } catch (cause) {
      throw new MlflowApiError(
        `MLflow answered GET ${path} with a body that is not JSON`,
        { status: response.status, endpoint: `GET ${path}`, cause },
      );
    }
  }

  #url(path: string, query: MlflowRequestOptions["query"] = {}): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) {
        for (const item of value) search.append(name, item);
      } else search.set(name, String(value));
    }
    const text = search.toString();
    return `${this.#base}${path}${text ? `?${text}` : ""}`;
  }

  #authHeader(): Record<string, string> {
    return this.#authorization ? { authorization: this.#authorization } : {};
  }

  #send(
    method: string,
    path: string,
    url: string,
    init: { headers: Record<string, string>; body?: Uint8Array },
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    return this.#guard(method, path, signal, true, (s) =>
      fetch(url, {
        method,
        headers: { ...init.headers, ...this.#authHeader() },
        body: init.body as BodyInit | undefined,
        signal: s,
      }));
  }

  async #guard(
    method: string,
    path: string,
    callerSignal: AbortSignal | undefined,
    bounded: boolean,
    request: (signal: AbortSignal) => Promise<Response>,
  ): Promise<Response> {
    const endpoint = `${method} ${path}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    // A streamed transfer may take long: only the wait for the answer to
    // start is bounded then (the caller's signal stops the rest).
    const headersWait = new AbortController();
    const timer = bounded ? undefined : setTimeout(
      () => headersWait.abort(new DOMException("timeout", "TimeoutError")),
      this.#timeoutMs,
    );
    const signals = [bounded ? timeout : headersWait.signal];
    if (callerSignal) signals.push(callerSignal);
    const signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let response: Response;
    try {
      response = await request(signal);
    } catch (cause) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      const timedOut = signal.aborted;
      throw new MlflowApiError(
        timedOut
          ? `MLflow did not answer ${endpoint} within ${this.#timeoutMs} ms`
          : `Cannot reach MLflow at ${this.#base} (${endpoint}): ${
            (cause as Error)?.message ?? String(cause)
          }`,
        { endpoint, retryable: true },
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    let errorCode: string | undefined;
    let message = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim()
      .slice(0, 300);
    try {
      const parsed = JSON.parse(text) as {
        error_code?: unknown;
        message?: unknown;
      };
      if (typeof parsed.error_code === "string") errorCode = parsed.error_code;
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // Plain text or HTML: keep the text.
    }
    throw new MlflowApiError(
      `MLflow answered ${response.status} to ${endpoint}: ${
        errorCode ? `${errorCode}: ` : ""
      }${message || response.statusText}`,
      {
        status: response.status,
        errorCode,
        endpoint,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      },
    );
  }

  async #read(response: Response, endpoint: string): Promise<string> {
    try {
      return await response.text();
    } catch (cause) {
      throw new MlflowApiError(
        `Cannot read MLflow's answer to ${endpoint}: ${
          (cause as Error)?.message ?? String(cause)
        }`,
        { status: response.status, endpoint, retryable: true },
      );
    }
  }
}
