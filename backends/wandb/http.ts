// This module is browser compatible.
import { BackendError } from "../../errors/errors.ts";
import { type UploadBody, uploadBody } from "../../artifact/http.ts";
import { parseRetryAfter } from "../../pipeline/retry.ts";
import { encodeBase64 } from "../../runtime/base64.ts";

/**
 * A request W&B answered with an error, or GraphQL errors in its answer.
 * Whether it is retryable follows W&B's own client: 400, 401, 403, 404,
 * 409 (except for `UpsertBucket`), 410, 413, 422 and 501 are final.
 *
 * @example
 * ```ts
 * import { WandbApiError } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const error = new WandbApiError("W&B answered 404", { status: 404, endpoint: "POST /graphql Viewer" });
 * assert.equal(error.retryable, false);
 * ```
 */
export class WandbApiError extends BackendError {
  /** Method, path and GraphQL operation of the request. */
  readonly endpoint: string;
  /** How long W&B asked to wait (`Retry-After`, `RateLimit-Reset`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options Status, endpoint, whether to retry, wait.
   */
  constructor(
    message: string,
    options: {
      status?: number;
      endpoint: string;
      retryable?: boolean;
      retryAfterMs?: number;
    },
  ) {
    super(message, {
      backend: "wandb",
      status: options.status,
      retryable: options.retryable ?? isRetryable(options.status),
    });
    this.name = "WandbApiError";
    this.endpoint = options.endpoint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const FINAL = new Set([400, 401, 403, 404, 409, 410, 413, 422, 501]);

function isRetryable(status: number | undefined): boolean {
  return status === undefined || !FINAL.has(status);
}

/** Options of {@linkcode WandbHttp}. */
export interface WandbHttpOptions {
  /** The API key (sent as Basic `api:<key>`, only to `baseUrl`). */
  apiKey: string;
  /** The API server, such as `https://api.wandb.ai`. */
  baseUrl: string;
  /** Longest one request may wait for its answer, in milliseconds. @default {60000} */
  timeoutMs?: number;
}

/**
 * Talks to W&B: GraphQL at `/graphql` and `file_stream` with Basic
 * `api:<key>`, and signed storage URLs with their own headers and never the
 * key. Errors are {@linkcode WandbApiError}s whose messages hold neither the
 * key nor a signed URL's query.
 *
 * @example
 * ```ts
 * import { WandbHttp } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const http = new WandbHttp({ apiKey: "k".repeat(40), baseUrl: "https://api.wandb.ai/" });
 * assert.equal(http.baseUrl, "https://api.wandb.ai");
 * ```
 */
export class WandbHttp {
  #authorization: string;
  #base: string;
  #timeoutMs: number;

  /**
   * Creates the client.
   *
   * @param options Key, server, timeout.
   */
  constructor(options: WandbHttpOptions) {
    this.#authorization = `Basic ${
      encodeBase64(new TextEncoder().encode(`api:${options.apiKey}`))
    }`;
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The API server. */
  get baseUrl(): string {
    return this.#base;
  }

  /**
   * Runs a GraphQL operation.
   *
   * @param operationName The operation's name, as in `query`.
   * @param query The document.
   * @param variables Its variables.
   * @param options Signal; `upsert` retries a 409 as W&B's client does for `UpsertBucket`.
   * @returns The `data` of the answer.
   * @throws {WandbApiError} On an HTTP error or GraphQL errors.
   */
  async graphql<T = Record<string, unknown>>(
    operationName: string,
    query: string,
    variables?: Record<string, unknown>,
    options: { signal?: AbortSignal; upsert?: boolean } = {},
  ): Promise<T> {
    const endpoint = `POST /graphql ${operationName}`;
    const body: Record<string, unknown> = { query, operationName };
    if (variables !== undefined) body.variables = variables;
    const response = await this.#send(
      endpoint,
      `${this.#base}/graphql`,
      {
        method: "POST",
        headers: {
          authorization: this.#authorization,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      },
      options.signal,
      options.upsert,
    );
    const parsed = await this.#json(response, endpoint) as {
      data?: T;
      errors?: { message?: string }[];
    };
    if (parsed.errors && parsed.errors.length > 0) {
      const message = parsed.errors.map((e) => e.message ?? "?").join("; ");
      throw new WandbApiError(`W&B refused ${operationName}: ${message}`, {
        status: response.status,
        endpoint,
        retryable: false,
      });
    }
    return (parsed.data ?? {}) as T;
  }

  /**
   * Posts one `file_stream` request (a body already encoded, with bare
   * `NaN`/`Infinity` tokens where needed).
   *
   * @param entity The run's entity.
   * @param project The run's project.
   * @param runId The run id.
   * @param body The request body.
   * @param signal Aborts the request.
   * @returns W&B's answer (`stopped` when the user stopped the run).
   */
  async fileStream(
    entity: string,
    project: string,
    runId: string,
    body: string,
    signal?: AbortSignal,
  ): Promise<{ stopped?: boolean }> {
    const path = `/files/${encodeURIComponent(entity)}/${
      encodeURIComponent(project)
    }/${encodeURIComponent(runId)}/file_stream`;
    const endpoint = `POST ${path}`;
    const response = await this.#send(endpoint, `${this.#base}${path}`, {
      method: "POST",
      headers: {
        authorization: this.#authorization,
        "content-type": "application/json",
      },
      body,
    }, signal);
    return await this.#json(response, endpoint) as { stopped?: boolean };
  }

  /**
   * PUTs bytes to a signed storage URL with its headers (`"Name: value"`
   * strings), never the W&B key.
   *
   * @param url The signed URL, used verbatim.
   * @param headers The upload headers W&B gave.
   * @param body The bytes, or a body of known length.
   * @param options Signal and progress.
   */
  async putSigned(
    url: string,
    headers: readonly string[] | null | undefined,
    body: Uint8Array | UploadBody,
    options: {
      signal?: AbortSignal;
      onProgress?: (bytesDone: number) => void;
    } = {},
  ): Promise<void> {
    const extra: Record<string, string> = {};
    for (const header of headers ?? []) {
      const colon = header.indexOf(":");
      if (colon > 0) {
        extra[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
      }
    }
    const endpoint = `PUT ${redact(url)}`;
    const bytes = body instanceof Uint8Array
      ? { size: body.length, open: () => new Blob([body as BlobPart]).stream() }
      : body;
    const response = await this.#send(
      endpoint,
      url,
      undefined,
      options.signal,
      false,
      (signal) =>
        uploadBody(url, bytes, {
          method: "PUT",
          headers: extra,
          signal,
          onProgress: options.onProgress,
        }),
    );
    await response.body?.cancel();
  }

  /**
   * GETs a signed storage URL (no W&B key); the timeout covers the wait
   * for the headers, not the body.
   *
   * @param url The signed URL.
   * @param signal Aborts the download.
   * @returns The response, with status 2xx, unread.
   */
  getSigned(url: string, signal?: AbortSignal): Promise<Response> {
    // The timeout bounds the wait for the answer's headers only: a large
    // file may take longer to stream than any one request should.
    return this.#send(
      `GET ${redact(url)}`,
      url,
      undefined,
      signal,
      false,
      async (callerSignal) => {
        const timeout = new AbortController();
        const timer = setTimeout(
          () =>
            timeout.abort(
              new DOMException(
                `W&B storage did not answer within ${this.#timeoutMs} ms`,
                "TimeoutError",
              ),
            ),
          this.#timeoutMs,
        );
        try {
          return await fetch(url, {
            method: "GET",
            signal: AbortSignal.any([timeout.signal, callerSignal]),
          });
        } finally {
          clearTimeout(timer);
        }
      },
    );
  }

  async #send(
    endpoint: string,
    url: string,
    init: RequestInit | undefined,
    callerSignal: AbortSignal | undefined,
    upsert = false,
    custom?: (signal: AbortSignal) => Promise<Response>,
  ): Promise<Response> {
    const signals = [AbortSignal.timeout(this.#timeoutMs)];
    if (callerSignal) signals.push(callerSignal);
    const signal = AbortSignal.any(signals);
    let response: Response;
    try {
      response = custom
        ? await custom(callerSignal ?? new AbortController().signal)
        : await fetch(url, { ...init, signal });
    } catch (cause) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      throw new WandbApiError(
        signal.aborted
          ? `W&B did not answer ${endpoint} within ${this.#timeoutMs} ms`
          : `Cannot reach W&B (${endpoint}): ${
            String((cause as Error)?.message ?? cause).replace(
              /https?:\/\/\S+/g,
              (u) => redact(u),
            )
          }`,
        { endpoint, retryable: true },
      );
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    let message = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as {
        errors?: { message?: string }[];
        error?: string | { message?: string };
      };
      message = parsed.errors?.map((e) => e.message).join("; ") ??
        (typeof parsed.error === "string"
          ? parsed.error
          : parsed.error?.message) ??
        message;
    } catch {
      // Not JSON.
    }
    const reset = response.headers.get("ratelimit-remaining") === "0"
      ? Number(response.headers.get("ratelimit-reset")) * 1000
      : undefined;
    throw new WandbApiError(
      `W&B answered ${response.status} to ${endpoint}: ${
        message || response.statusText
      }`,
      {
        status: response.status,
        endpoint,
        retryable: upsert && response.status === 409
          ? true
          : isRetryable(response.status),
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) ??
          (Number.isFinite(reset) ? reset : undefined),
      },
    );
  }

  async #json(response: Response, endpoint: string): Promise<unknown> {
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw new WandbApiError(
        `Cannot read W&B's answer to ${endpoint}: ${(cause as Error).message}`,
        { status: response.status, endpoint, retryable: true },
      );
    }
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new WandbApiError(
        `W&B answered ${endpoint} with a body that is not JSON`,
        { status: response.status, endpoint, retryable: false },
      );
    }
  }
}

/** A URL without its query (signed URLs carry credentials there). */
function redact(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}
