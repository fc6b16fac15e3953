// This module is browser compatible.
//
// The client side of the relay: a backend that sends event batches to a
// uetai relay with a scoped token, and helpers for pages and workers. It
// imports no Hono and no Node module, so `mod.ts` can carry it everywhere.
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import type {
  Backend,
  BackendLimits,
  SendResult,
} from "../pipeline/backend.ts";
import { parseRetryAfter } from "../pipeline/retry.ts";
import { BackendError } from "../errors/errors.ts";
import { RelayArtifactStore } from "./artifact_client.ts";

/** Where a logger sends its events when it logs through a relay. */
export interface RelayClientOptions {
  /** The relay's base URL, such as `"https://relay.example.com"`. */
  url: string;
  /** A token minted by the relay's owner (`mintToken`). */
  token: string;
  /**
   * Send each request with `fetch(..., { keepalive: true })` and keep
   * batches under 60 KiB, so requests started while a page is closing still
   * complete. On by default where there is a `document` (a browser page).
   */
  keepalive?: boolean;
  /**
   * How long one request may take, in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
}

/**
 * Browsers allow 64 KiB of keepalive request bodies in flight at once:
 * batches of at most 30 KiB (newlines and the token line included) let two
 * leave together while a page closes.
 */
const KEEPALIVE_BATCH_BYTES = 30 * 1024;
/** What keepalive requests may carry at once. */
const KEEPALIVE_QUOTA_BYTES = 63 * 1024;
/** Where a closing page keeps batches no keepalive request could carry. */
const STORAGE_PREFIX = "uetai-relay:";

interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function pageStorage(): StorageLike | undefined {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage;
  } catch {
    return undefined; // Storage disabled.
  }
}

/**
 * A failed request to the relay; `status` is the relay's answer (`401`,
 * `403`, `413`, `429`, ...). Messages never contain the token.
 *
 * @example
 * ```ts
 * import { RelayError } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * const error = new RelayError("The relay answered 403", { status: 403, endpoint: "POST /v1/events", retryable: false });
 * assert.equal(error.status, 403);
 * ```
 */
export class RelayError extends BackendError {
  /** The request, such as `"POST /v1/events"`. */
  readonly endpoint: string;

  /**
   * Creates the error.
   *
   * @param message What happened, without the token.
   * @param options Status, endpoint and whether to retry.
   */
  constructor(
    message: string,
    options: { status?: number; endpoint: string; retryable: boolean },
  ) {
    super(message, {
      backend: "relay",
      status: options.status,
      retryable: options.retryable,
    });
    this.name = "RelayError";
    this.endpoint = options.endpoint;
  }
}

/** The relay's answer to an event batch. */
export interface RelayIngestAnswer {
  /** `delivered`: the dashboard holds the events; `queued`: the relay keeps them and forwards them later. */
  status: "delivered" | "queued";
  /** Events new to the relay. */
  accepted: number;
  /** Events it had already (a replayed batch). */
  duplicates: number;
}

/**
 * Checks a relay URL and drops its trailing slashes.
 *
 * @param url The URL as given.
 * @returns The URL without trailing slashes.
 * @throws {TypeError} When it is not an http(s) URL.
 */
export function checkRelayUrl(url: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (
    !parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")
  ) {
    throw new TypeError(
      `Cannot log through the relay: 'url' is ${
        JSON.stringify(url) ?? String(url)
      }; expected an http(s) URL`,
    );
  }
  return parsed.href.replace(/\/+$/, "");
}

/**
 * The backend a logger uses when it logs through a relay
 * (`createLogger({ relay: { url, token } })`): each batch is one NDJSON
 * `POST /v1/events` with the token as a bearer credential. The relay
 * de-duplicates by `(runId, seq)`, so a batch sent again after a lost
 * answer changes nothing. 401, 403 and 413 are final; 429 waits for
 * `Retry-After`; 5xx and network errors are retried by the pipeline.
 *
 * @example
 * ```ts
 * import { RelayBackend } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * const backend = new RelayBackend({ url: "http://127.0.0.1:9", token: "uetai1.x.y" });
 * assert.equal(backend.name, "relay");
 * await backend.close();
 * ```
 */
export class RelayBackend implements Backend {
  /** `"relay"`. */
  readonly name: string = "relay";
  /** What one `send()` may carry (60 KiB batches in keepalive mode). */
  readonly limits: BackendLimits;
  #url: string;
  #token: string;
  #keepalive: boolean;
  #timeoutMs: number;
  #artifacts = new Map<string, RelayArtifactStore>();
  #closing = false;
  #inFlightBytes = 0;
  /** The start event of each run sent, as an NDJSON line. */
  #runStarts = new Map<string, string>();

  /**
   * Creates the backend; nothing is sent until the first batch.
   *
   * @param options Relay URL, token, keepalive and timeout.
   * @throws {TypeError} When the URL or the token is invalid.
   */
  constructor(options: RelayClientOptions) {
    this.#url = checkRelayUrl(options?.url);
    if (typeof options.token !== "string" || options.token === "") {
      throw new TypeError(
        "Cannot log through the relay: 'token' must be the non-empty token the relay's owner minted",
      );
    }
    this.#token = options.token;
    this.#keepalive = options.keepalive ??
      typeof (globalThis as { document?: unknown }).document !== "undefined";
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    // Batch bytes are counted without the newline after each event.
    this.limits = this.#keepalive
      ? {
        maxEventsPerBatch: 500,
        maxBatchBytes: KEEPALIVE_BATCH_BYTES - 500 - 1024,
      }
      : { maxEventsPerBatch: 5000, maxBatchBytes: 512 * 1024 };
    if (this.#keepalive) void this.#sendStored();
  }

  /**
   * The page is being hidden or closed (see {@linkcode flushOnPageHide}):
   * until {@linkcode RelayBackend.pageShown}, each batch leaves as a
   * keepalive request that needs no CORS preflight (the token goes in the
   * body), without waiting for its answer, so several can leave before the
   * page is gone; a batch past the browser's 64 KiB keepalive quota is kept
   * in `localStorage` and sent when a page of this origin next makes a
   * relay logger.
   */
  pageClosing(): void {
    this.#closing = true;
  }

  /** The page is visible again: batches wait for their answers again. */
  pageShown(): void {
    this.#closing = false;
  }

  /** The relay's base URL. */
  get url(): string {
    return this.#url;
  }

  /**
   * Sends one batch to the relay.
   *
   * @param batch Events in `(runId, seq)` order within each run.
   * @param signal Aborted when the pipeline gives up on this attempt.
   * @returns The outcome; never throws.
   */
  send(
    batch: readonly TrackingEvent[],
    signal: AbortSignal,
  ): Promise<SendResult> {
    if (batch.length === 0) return Promise.resolve({ status: "success" });
    let events = encodeEvents(batch);
    for (const event of batch) {
      if (event.kind === "run_start") {
        this.#runStarts.set(event.runId, encodeEvents([event]));
      }
    }
    if (this.#closing && this.#keepalive) {
      // Batches of a closing page leave at once and may arrive in any
      // order: each carries its run's start again (a duplicate the relay
      // drops), so the relay knows the run whichever comes first.
      const starts = new Set<string>();
      for (const event of batch) {
        if (event.kind === "run_start") starts.add(event.runId);
      }
      let prefix = "";
      for (const runId of new Set(batch.map((e) => e.runId))) {
        const start = this.#runStarts.get(runId);
        if (start !== undefined && !starts.has(runId)) prefix += start;
      }
      events = prefix + events;
      return Promise.resolve(this.#sendWhileClosing(events));
    }
    return this.#post(events, signal);
  }

  /**
   * A closing page: starts a keepalive request and counts the batch as
   * sent (the page will not see the answer), or keeps it in storage.
   */
  #sendWhileClosing(events: string): SendResult {
    const body = new TextEncoder().encode(this.#tokenLine() + events);
    if (
      body.length <= KEEPALIVE_BATCH_BYTES * 2 &&
      this.#inFlightBytes + body.length <= KEEPALIVE_QUOTA_BYTES
    ) {
      this.#inFlightBytes += body.length;
      fetch(`${this.#url}/v1/events`, {
        method: "POST",
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body,
        keepalive: true,
      }).then((response) => response.body?.cancel(), () => {}).finally(
        () => (this.#inFlightBytes -= body.length),
      );
      return { status: "success" };
    }
    const storage = pageStorage();
    try {
      // With the token it was logged under: the next page's token may be
      // scoped to another run.
      storage?.setItem(
        `${STORAGE_PREFIX}${this.#url}:${Date.now()}:${
          crypto.randomUUID().slice(0, 8)
        }`,
        JSON.stringify({ token: this.#token, events }),
      );
    } catch {
      return {
        status: "retryable",
        error: new RelayError(
          "The page is closing and neither a keepalive request nor localStorage can take this batch",
          { endpoint: "POST /v1/events", retryable: true },
        ),
      };
    }
    return storage ? { status: "success" } : {
      status: "retryable",
      error: new RelayError(
        "The page is closing and has no localStorage for this batch",
        { endpoint: "POST /v1/events", retryable: true },
      ),
    };
  }

  /** Sends batches a closing page of this origin kept, oldest first. */
  async #sendStored(): Promise<void> {
    const storage = pageStorage();
    if (!storage) return;
    const prefix = `${STORAGE_PREFIX}${this.#url}:`;
    const keys: string[] = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    keys.sort();
    for (const key of keys) {
      let stored: { token?: unknown; events?: unknown };
      try {
        stored = JSON.parse(storage.getItem(key) ?? "null") ?? {};
      } catch {
        stored = {};
      }
      if (typeof stored.events !== "string") {
        storage.removeItem(key);
        continue;
      }
      const token = typeof stored.token === "string"
        ? stored.token
        : this.#token;
      // A passing failure (the network, a busy relay) is tried again a few
      // times; a batch still not sent waits for the next page.
      let result: SendResult | undefined;
      for (let attempt = 1; attempt <= 5; attempt++) {
        result = await this.#post(
          stored.events,
          new AbortController().signal,
          token,
        );
        if (result.status === "success" || result.status === "failure") break;
        const waitMs = (result.status === "throttled" ||
            result.status === "retryable") && result.retryAfterMs !== undefined
          ? result.retryAfterMs
          : 250 * 2 ** attempt;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      // Delivered or refused for good: either way it is done with.
      if (result?.status === "success" || result?.status === "failure") {
        storage.removeItem(key);
      } else return;
    }
  }

  /** The first line of a body that carries its token (no preflight). */
  #tokenLine(token: string = this.#token): string {
    return `${JSON.stringify({ token })}\n`;
  }

  async #post(
    events: string,
    signal: AbortSignal,
    token: string = this.#token,
  ): Promise<SendResult> {
    const endpoint = "POST /v1/events";
    // Pages send the token in the body as text/plain: a request without a
    // CORS preflight, which a closing page cannot wait for.
    const body = this.#keepalive ? this.#tokenLine(token) + events : events;
    const bytes = this.#keepalive ? new TextEncoder().encode(body) : undefined;
    // Keepalive bodies in flight count against the browser's quota, which
    // closing-mode sends check.
    const keepalive = bytes !== undefined &&
      bytes.length <= KEEPALIVE_BATCH_BYTES * 2 &&
      this.#inFlightBytes + bytes.length <= KEEPALIVE_QUOTA_BYTES;
    if (keepalive) this.#inFlightBytes += bytes.length;
    let response: Response;
    try {
      response = await fetch(`${this.#url}/v1/events`, {
        method: "POST",
        headers: this.#keepalive
          ? { "content-type": "text/plain;charset=UTF-8" }
          : {
            authorization: `Bearer ${token}`,
            "content-type": "application/x-ndjson",
          },
        body: bytes ?? body,
        keepalive,
        signal: AbortSignal.any([
          signal,
          AbortSignal.timeout(this.#timeoutMs),
        ]),
      });
    } catch (cause) {
      if (keepalive) this.#inFlightBytes -= bytes.length;
      return {
        status: "retryable",
        error: new RelayError(
          `Cannot reach the relay (${endpoint}): ${
            (cause as Error)?.message ?? cause
          }`,
          { endpoint, retryable: true },
        ),
      };
    }
    const text = await response.text().catch(() => "");
    if (keepalive) this.#inFlightBytes -= bytes!.length;
    if (response.ok) return { status: "success" };
    let reason = text.slice(0, 300);
    try {
      reason = (JSON.parse(text) as { error?: string }).error ?? reason;
    } catch {
      // Not JSON.
    }
    const error = new RelayError(
      `The relay answered ${response.status} to ${endpoint}: ${
        reason || response.statusText
      }`,
      {
        status: response.status,
        endpoint,
        retryable: response.status === 429 || response.status >= 500 ||
          response.status === 408,
      },
    );
    if (response.status === 429) {
      return {
        status: "throttled",
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) ??
          1000,
      };
    }
    return error.retryable
      ? {
        status: "retryable",
        error,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      }
      : { status: "failure", error };
  }

  /**
   * The artifacts behind the relay, for `logArtifact` and
   * `downloadArtifact`: a {@linkcode RelayArtifactStore} (one per project
   * asked, kept by this backend). The relay uses the token's project and
   * refuses (403) when `project` is another.
   *
   * @param project The logger's project.
   * @returns The store.
   */
  artifacts(project: string): RelayArtifactStore {
    let store = this.#artifacts.get(project);
    if (!store) {
      store = new RelayArtifactStore({
        url: this.#url,
        token: this.#token,
        project,
        timeoutMs: this.#timeoutMs,
      });
      this.#artifacts.set(project, store);
    }
    return store;
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What the page helpers need of a logger. */
export interface FlushableLogger {
  /** Sends what is queued. */
  flush(options?: { timeoutMs?: number }): Promise<unknown>;
  /** The logger's backends (a `Logger` has them). */
  readonly backends?: readonly unknown[];
}

/**
 * Sends what a page logged when it is hidden or closed
 * (`visibilitychange` to hidden, and `pagehide`): the logger's relay
 * backends switch to closing mode (each batch a keepalive request that
 * needs no CORS preflight, not waiting for answers, so several leave
 * before the page is gone; what the browser's 64 KiB keepalive quota
 * cannot take is kept in `localStorage` and sent by the next page), then
 * the logger flushes. Back to normal when the page is shown again.
 *
 * @param logger The logger.
 * @param target Where the events fire (the page's `window` by default).
 * @returns A function that removes the listeners.
 *
 * @example
 * ```ts
 * import { flushOnPageHide } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * let flushed = 0;
 * const target = new EventTarget();
 * const stop = flushOnPageHide({ flush: () => Promise.resolve(flushed++) }, target);
 * target.dispatchEvent(new Event("pagehide"));
 * stop();
 * target.dispatchEvent(new Event("pagehide"));
 * assert.equal(flushed, 1);
 * ```
 */
export function flushOnPageHide(
  logger: FlushableLogger,
  target: EventTarget = globalThis as unknown as EventTarget,
): () => void {
  const relays = (): RelayBackend[] =>
    (logger.backends ?? []).filter((b): b is RelayBackend =>
      b instanceof RelayBackend
    );
  const visibility = (): string | undefined =>
    (globalThis as { document?: { visibilityState?: string } }).document
      ?.visibilityState;
  const leave = (): void => {
    for (const relay of relays()) relay.pageClosing();
    void logger.flush({ timeoutMs: 10_000 }).catch(() => {});
  };
  const onVisibility = (): void => {
    if (visibility() === "visible") {
      for (const relay of relays()) relay.pageShown();
    } else leave();
  };
  const onPageShow = (): void => {
    for (const relay of relays()) relay.pageShown();
  };
  target.addEventListener("visibilitychange", onVisibility);
  target.addEventListener("pagehide", leave);
  target.addEventListener("pageshow", onPageShow);
  return () => {
    target.removeEventListener("visibilitychange", onVisibility);
    target.removeEventListener("pagehide", leave);
    target.removeEventListener("pageshow", onPageShow);
  };
}

/** The part of a worker's execution context {@linkcode flushInBackground} uses. */
export interface WaitUntilContext {
  /** Keeps the worker alive until the promise settles. */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Lets a worker answer at once while its logger's events are still being
 * sent: `ctx.waitUntil(logger.flush())`, with failures kept from becoming
 * unhandled rejections.
 *
 * @param ctx The worker's execution context (`ctx` of `fetch(request, env, ctx)`).
 * @param logger The logger.
 * @param timeoutMs The longest the flush may take.
 *
 * @example
 * ```ts
 * import { flushInBackground } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 * const pending: Promise<unknown>[] = [];
 * flushInBackground({ waitUntil: (p) => pending.push(p) }, { flush: () => Promise.resolve() });
 * assert.equal(pending.length, 1);
 * await Promise.all(pending);
 * ```
 */
export function flushInBackground(
  ctx: WaitUntilContext,
  logger: FlushableLogger,
  timeoutMs: number = 25_000,
): void {
  ctx.waitUntil(logger.flush({ timeoutMs }).catch(() => {}));
}
