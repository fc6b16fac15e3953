// The relay server: a Hono app that keeps the dashboard's keys, checks what
// token holders send, and forwards it upstream through the same pipeline a
// logger uses (batching, retries, spooling). The only module that imports
// Hono; it runs under Deno.serve, Bun.serve, @hono/node-server and workers.
import { Hono } from "hono";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { decodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import type { Backend } from "../pipeline/backend.ts";
import type { BatchProcessorSettings } from "../pipeline/batch_processor.ts";
import { type FlushReport, Pipeline } from "../pipeline/pipeline.ts";
import { registerArtifactRoutes, type RouteKit } from "./artifacts.ts";
import { MemoryRelayStore, type RelayStore } from "./store.ts";
import {
  importSigningKey,
  mintToken,
  secretsEqual,
  type SigningKey,
  type TokenClaims,
  TokenError,
  verifyToken,
} from "./token.ts";

/** Limits a relay enforces on every token holder. */
export interface RelayLimits {
  /**
   * Largest request body, in bytes; larger ones get 413.
   * @default {1048576}
   */
  maxBodyBytes?: number;
  /**
   * Most events in one request; more get 413.
   * @default {5000}
   */
  maxEventsPerRequest?: number;
  /**
   * Most bytes the relay holds for the upstream (its queue); past it, 503
   * with `Retry-After` before anything is admitted. Keep it under the
   * store's spool bound (64 MiB for `MemoryRelayStore`).
   * @default {50331648}
   */
  maxQueuedBytes?: number;
  /**
   * Requests each token may make per minute; past it, 429 with `Retry-After`.
   * @default {600}
   */
  requestsPerMinute?: number;
  /**
   * Largest artifact version a token holder may upload (all its files
   * together), in bytes; larger ones get 413 before any byte is sent.
   * @default {268435456}
   */
  maxArtifactBytes?: number;
  /**
   * Most bytes of artifact uploads in progress the relay keeps in memory
   * at once (all holders together); past it, new uploads get 503 with
   * `Retry-After`.
   * @default {536870912}
   */
  maxStagingBytes?: number;
}

/** Which browser origins may call the relay. */
export interface RelayCorsOptions {
  /** Exact origins, such as `"https://app.example.com"`. Others get no CORS headers. */
  origins: readonly string[];
}

/** One line of the relay's audit log: who wrote what, and what was answered. */
export interface AuditEntry {
  /** When, in milliseconds since the epoch. */
  timeMs: number;
  /**
   * What was asked: `events`, `artifact` (an artifact upload, alias move or
   * use; refused reads too), `mint`, or `denied` before a token was read.
   */
  action: "events" | "artifact" | "mint" | "denied";
  /** For `artifact`: what was done to it. */
  operation?: ArtifactOperation;
  /** For `artifact`: its name. */
  artifact?: string;
  /** For `artifact`: the version written or read. */
  version?: string;
  /** The answer's HTTP status. */
  status: number;
  /** The token's id (never the token). */
  tokenId?: string;
  /** The token's subject. */
  subject?: string;
  /** The token's project. */
  project?: string;
  /** Runs the request wrote to. */
  runIds?: string[];
  /** Events new to the relay. */
  accepted?: number;
  /** Events it had already. */
  duplicates?: number;
  /** Request body bytes (for an artifact commit: the version's size). */
  bytes?: number;
  /** Why it was refused. */
  reason?: string;
}

/**
 * What an `artifact` audit entry did: `start` an upload, send one `file`,
 * `commit` it (the version is written), `abort` it, move `aliases`,
 * record a `use`, or `read` (audited when refused).
 */
export type ArtifactOperation =
  | "start"
  | "file"
  | "commit"
  | "abort"
  | "aliases"
  | "use"
  | "read";

/** Options of {@linkcode createRelay}. */
export interface RelayOptions {
  /**
   * Where events go: a backend made server-side (`new CometBackend(...)`,
   * `new MlflowBackend(...)`, `new WandbBackend(...)`, a `LocalBackend`),
   * or several. Its keys never leave the relay; clients cannot name
   * another upstream.
   */
  upstream: Backend | readonly Backend[];
  /** The key tokens are signed with (at least 32 bytes). */
  signingKey: SigningKey;
  /**
   * The key of `POST /v1/admin/tokens` and `GET /v1/admin/audit`
   * (a bearer credential); without it, those routes do not exist.
   */
  adminKey?: string;
  /** Limits per request and per token. */
  limits?: RelayLimits;
  /** Browser origins allowed to call the relay. No CORS headers without it. */
  cors?: RelayCorsOptions;
  /**
   * Where run owners, admitted sequence numbers and the upstream queue are
   * kept: memory by default, a `FileRelayStore` to survive restarts.
   */
  store?: RelayStore;
  /**
   * How the upstream is fed (the pipeline's settings), and `waitMs`: how
   * long a request waits for the upstream before answering `queued`
   * (default 2000; `0`: answer at once, and a worker keeps flushing with
   * `waitUntil`).
   */
  forward?: BatchProcessorSettings & { waitMs?: number };
  /** Receives each audit entry (the last 1000 are also kept for `GET /v1/admin/audit`). */
  audit?: (entry: AuditEntry) => void;
  /** Receives upstream failures (default: `console.warn` of the message). */
  onUpstreamError?: (error: Error) => void;
  /** The clock, in milliseconds since the epoch (for tests). */
  now?: () => number;
}

/** The part of a worker's execution context the relay uses (`ctx` of a Cloudflare Worker). */
export interface RelayExecutionContext {
  /** Keeps the worker alive until the promise settles. */
  waitUntil(promise: Promise<unknown>): void;
  /** Lets the platform answer when the worker throws. */
  passThroughOnException?(): void;
}

/**
 * The relay app, with what its owner needs to run it. At run time it is a
 * Hono app: `relay as unknown as Hono` mounts it in another with `route()`.
 */
export interface RelayApp {
  /**
   * Answers one request: serve it with `Deno.serve`, `Bun.serve`,
   * `@hono/node-server` or a worker's `fetch` (a bound function).
   *
   * @param request The request.
   * @param env A worker's bindings, if any.
   * @param executionCtx A worker's execution context, if any.
   */
  fetch(
    request: Request,
    env?: unknown,
    executionCtx?: RelayExecutionContext,
  ): Response | Promise<Response>;
  /**
   * Answers a request made in process (for tests): a path such as
   * `"/v1/health"`, a URL or a `Request`.
   *
   * @param input What to ask.
   * @param init Method, headers, body.
   * @param env A worker's bindings, if any.
   * @param executionCtx A worker's execution context, if any.
   */
  request(
    input: string | URL | Request,
    init?: RequestInit,
    env?: unknown,
    executionCtx?: RelayExecutionContext,
  ): Response | Promise<Response>;
  /** Sends what the relay holds to the upstream, waiting at most `timeoutMs`. */
  flush(timeoutMs?: number): Promise<FlushReport>;
  /** Flushes, then closes the upstream and the store's queue. */
  close(timeoutMs?: number): Promise<FlushReport>;
  /** The last audit entries, oldest first. */
  auditLog(): AuditEntry[];
  /** The names of the upstream backends, such as `["comet"]`. */
  readonly upstreams: readonly string[];
}

interface Usage {
  points: number;
  bytes: number;
  windowStartMs: number;
  requests: number;
  expiresAtMs: number;
}

type ProblemStatus =
  | 400
  | 401
  | 403
  | 404
  | 409
  | 413
  | 422
  | 429
  | 502
  | 503;

class HttpProblem extends Error {
  readonly status: ProblemStatus;
  readonly retryAfterS: number | undefined;
  /** More fields of the JSON answer (`code`, `artifact`...). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: ProblemStatus,
    message: string,
    retryAfterS?: number,
    details?: Record<string, unknown>,
  ) {
    super(message);
    this.status = status;
    this.retryAfterS = retryAfterS;
    this.details = details;
  }
}

const SCOPED_KEYS = new Set(["metric", "media", "param"]);

/**
 * Makes a relay: a Hono app that keeps the real API keys (in `upstream`)
 * and forwards what holders of its scoped tokens log.
 *
 * Routes:
 * - `POST /v1/events`: NDJSON events (`Authorization: Bearer <token>`,
 *   or, from pages, `text/plain` with `{"token": ...}` as the first line,
 *   which needs no CORS preflight).
 *   Idempotent by `(runId, seq)`. Answers 200 `{status: "delivered"}`
 *   when the upstream has them, 202 `{status: "queued"}` when the relay
 *   keeps them and forwards them later.
 * - `POST /v1/admin/tokens` (with `adminKey`): mints a token from a JSON
 *   scope.
 * - `GET /v1/admin/audit` (with `adminKey`): the audit log.
 * - `GET /v1/health`.
 * - When the first upstream keeps artifacts, the artifact routes of
 *   `RelayArtifactStore` (uploads streamed through with size and digest
 *   checks, reads streamed back): `POST /v1/artifact-uploads`,
 *   `PUT /v1/artifact-uploads/:id/files/:index`,
 *   `POST /v1/artifact-uploads/:id/commit`, `DELETE /v1/artifact-uploads/:id`,
 *   `GET /v1/artifacts/:name/versions`, `GET /v1/artifacts/:name/versions/:selector`,
 *   `GET /v1/artifacts/:name/versions/:version/file?path=`,
 *   `POST /v1/artifacts/:name/versions/:version/aliases`, and
 *   `POST` and `GET /v1/artifacts/:name/versions/:version/uses`. The
 *   artifacts are always those of the token's project.
 *
 * Security answers: no or bad or expired token 401; a run, project or key
 * outside the token's scope 403; a body over `maxBodyBytes` (or an artifact
 * over `maxArtifactBytes`, a file over its declared size) 413; over the
 * token's quota or request rate 429 with `Retry-After`; an artifact file
 * that does not match its declared SHA-256 or size 422; an upstream failure
 * on an artifact route 502 with a generic message (the error goes to
 * `onUpstreamError`). No answer or audit line contains a key or a token.
 *
 * @param options Upstream, signing key and the rest.
 * @returns The app (serve `app.fetch`).
 * @throws {TypeError} When the signing key or a limit is invalid.
 *
 * @example
 * ```ts
 * import { createRelay, mintToken } from "@uetai/uetai/relay";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import assert from "node:assert/strict";
 * const signingKey = "a-relay-signing-key-of-32-bytes-or-more";
 * const upstream = new InMemoryBackend();
 * const app = createRelay({ upstream, signingKey });
 * const token = await mintToken(signingKey, { project: "web", expiresInMs: 60_000 });
 * const response = await app.request("/v1/events", {
 *   method: "POST",
 *   headers: { authorization: `Bearer ${token}` },
 *   body: '{"v":1,"kind":"run_start","runId":"r1","seq":0,"timestampMs":0,"project":"web","tags":[]}\n',
 * });
 * assert.equal(response.status, 200);
 * assert.equal(upstream.events.length, 1);
 * await app.close();
 * ```
 */
export function createRelay(options: RelayOptions): RelayApp {
  const signingKey = options.signingKey;
  // Checks the key now, so a bad one fails at start-up, not per request.
  importSigningKey(signingKey).catch(() => {});
  const limits = {
    maxBodyBytes: positive(
      options.limits?.maxBodyBytes,
      1024 * 1024,
      "maxBodyBytes",
    ),
    maxEventsPerRequest: positive(
      options.limits?.maxEventsPerRequest,
      5000,
      "maxEventsPerRequest",
    ),
    maxQueuedBytes: positive(
      options.limits?.maxQueuedBytes,
      48 * 1024 * 1024,
      "maxQueuedBytes",
    ),
    requestsPerMinute: positive(
      options.limits?.requestsPerMinute,
      600,
      "requestsPerMinute",
    ),
    maxArtifactBytes: positive(
      options.limits?.maxArtifactBytes,
      256 * 1024 * 1024,
      "maxArtifactBytes",
    ),
    maxStagingBytes: positive(
      options.limits?.maxStagingBytes,
      512 * 1024 * 1024,
      "maxStagingBytes",
    ),
  };
  const now = options.now ?? Date.now;
  const store = options.store ?? new MemoryRelayStore();
  const upstream = Array.isArray(options.upstream)
    ? options.upstream as readonly Backend[]
    : [options.upstream as Backend];
  const onUpstreamError = options.onUpstreamError ??
    ((error: Error) => console.warn(`uetai relay: ${error.message}`));
  const { waitMs: forwardWaitMs = 2000, ...forwardSettings } =
    options.forward ??
      {};
  const pipeline = new Pipeline({
    ...forwardSettings,
    backends: upstream,
    createSpool: (_backend, lane) => store.spool(lane),
    onError: (state) => onUpstreamError(state.error),
  });
  const usage = new Map<string, Usage>();
  const auditLog: AuditEntry[] = [];
  const audit = (entry: AuditEntry): void => {
    auditLog.push(entry);
    if (auditLog.length > 1000) auditLog.splice(0, auditLog.length - 1000);
    try {
      options.audit?.(entry);
    } catch {
      // An audit sink's failure does not change the answer.
    }
  };

  const app = new Hono();
  if (options.cors) {
    const allowed = new Set(options.cors.origins);
    app.use(
      "/v1/*",
      cors({
        origin: (origin) => (allowed.has(origin) ? origin : null),
        allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allowHeaders: ["authorization", "content-type", "x-uetai-project"],
        maxAge: 600,
      }),
    );
    // A page of another origin gets no CORS headers, but a simple request
    // (text/plain, no preflight) would still be handled: refuse it.
    app.use("/v1/*", async (c, next) => {
      const origin = c.req.header("origin");
      if (
        origin !== undefined && c.req.method !== "OPTIONS" &&
        !allowed.has(origin)
      ) {
        return c.json(
          { error: `Origin ${origin} may not call this relay` },
          403,
        );
      }
      await next();
    });
  }

  const problem = (c: Context, error: HttpProblem): Response => {
    if (error.retryAfterS !== undefined) {
      c.header(
        "retry-after",
        String(Math.max(1, Math.ceil(error.retryAfterS))),
      );
    }
    if (error.status === 401) {
      c.header("www-authenticate", 'Bearer error="invalid_token"');
    }
    return c.json({ ...error.details, error: error.message }, error.status);
  };

  // Bodies of `/v1/events` read while looking for their token (pages send
  // it as the body's first line, as text/plain: no CORS preflight).
  const bodiesRead = new WeakMap<Request, Uint8Array>();
  const authorize = async (c: Context): Promise<TokenClaims> => {
    const header = c.req.header("authorization") ?? "";
    let token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (
      token === undefined && c.req.path === "/v1/events" &&
      /^text\/plain\b/i.test(c.req.header("content-type") ?? "")
    ) {
      const body = await readLimited(c.req.raw, limits.maxBodyBytes);
      const end = body.indexOf(10);
      try {
        const first = JSON.parse(
          new TextDecoder().decode(body.subarray(0, end < 0 ? 0 : end)),
        ) as { token?: unknown };
        if (typeof first.token === "string") token = first.token;
      } catch {
        // No token line: refused below as a missing token.
      }
      bodiesRead.set(c.req.raw, body.subarray(end + 1));
    }
    try {
      return await verifyToken(signingKey, token, now());
    } catch (error) {
      if (error instanceof TokenError) {
        throw new HttpProblem(401, error.message);
      }
      throw error;
    }
  };

  const meter = (claims: TokenClaims): Usage => {
    let used = usage.get(claims.id);
    const t = now();
    if (!used) {
      // Forget expired tokens now and then, so the map stays small; live
      // tokens keep their quotas and rate windows.
      if (usage.size >= 10_000) {
        for (const [id, entry] of usage) {
          if (entry.expiresAtMs <= t) usage.delete(id);
        }
      }
      used = {
        points: 0,
        bytes: 0,
        windowStartMs: t,
        requests: 0,
        expiresAtMs: claims.expiresAtMs,
      };
      usage.set(claims.id, used);
    }
    if (t - used.windowStartMs >= 60_000) {
      used.windowStartMs = t;
      used.requests = 0;
    }
    if (used.requests >= limits.requestsPerMinute) {
      throw new HttpProblem(
        429,
        `Too many requests for this token: at most ${limits.requestsPerMinute} per minute`,
        (used.windowStartMs + 60_000 - t) / 1000,
      );
    }
    used.requests++;
    return used;
  };

  /**
   * Runs a token holder's request: checks the token, meters the request,
   * answers an `HttpProblem` as JSON, and writes the audit entry (always,
   * or when `audited(status)` says so; a refused token always).
   */
  const guard = async (
    c: Context,
    start: Pick<AuditEntry, "action" | "operation">,
    handler: (
      claims: TokenClaims,
      entry: AuditEntry,
      used: Usage,
    ) => Promise<Response>,
    audited: (status: number) => boolean = () => true,
  ): Promise<Response> => {
    let claims: TokenClaims | undefined;
    const entry: AuditEntry = { timeMs: now(), ...start, status: 0 };
    try {
      claims = await authorize(c);
      Object.assign(entry, {
        tokenId: claims.id,
        subject: claims.subject,
        project: claims.project,
      });
      const used = meter(claims);
      const response = await handler(claims, entry, used);
      if (entry.status === 0) entry.status = response.status;
      return response;
    } catch (error) {
      if (!(error instanceof HttpProblem)) throw error;
      entry.status = error.status;
      entry.reason = error.message;
      if (!claims) {
        entry.action = "denied";
        delete entry.operation;
      }
      return problem(c, error);
    } finally {
      if (!claims || audited(entry.status)) audit(entry);
    }
  };

  app.get("/v1/health", (c) => c.json({ ok: true }));

  app.post(
    "/v1/events",
    (c) =>
      guard(c, { action: "events" }, async (claims, entry, used) => {
        const body = bodiesRead.get(c.req.raw) ??
          await readLimited(c.req.raw, limits.maxBodyBytes);
        entry.bytes = body.length;
        if (
          claims.maxBytes !== undefined &&
          used.bytes + body.length > claims.maxBytes
        ) {
          throw new HttpProblem(
            429,
            `This token's quota of ${claims.maxBytes} bytes is used up (${used.bytes} sent)`,
            (claims.expiresAtMs - now()) / 1000,
          );
        }
        let events: TrackingEvent[];
        try {
          events = decodeEvents(new TextDecoder().decode(body));
        } catch (error) {
          throw new HttpProblem(
            400,
            `The body is not uetai NDJSON events: ${(error as Error).message}`,
          );
        }
        if (events.length > limits.maxEventsPerRequest) {
          throw new HttpProblem(
            413,
            `The request holds ${events.length} events; at most ${limits.maxEventsPerRequest} are accepted`,
          );
        }
        const points = events.filter((e) => e.kind === "metric").length;
        if (
          claims.maxPoints !== undefined &&
          used.points + points > claims.maxPoints
        ) {
          throw new HttpProblem(
            429,
            `This token's quota of ${claims.maxPoints} points is used up (${used.points} sent, ${points} more asked)`,
            (claims.expiresAtMs - now()) / 1000,
          );
        }
        // The queue for the upstream must have room before anything is
        // admitted: an event admitted and then dropped would be lost.
        const queued = pipeline.stats().spooledBytes;
        const room = Math.min(
          limits.maxQueuedBytes,
          store.maxSpoolBytes ?? Infinity,
        );
        if (body.length > room) {
          throw new HttpProblem(
            413,
            `The body of ${body.length} bytes is more than the relay can hold for the dashboard (${room} bytes)`,
          );
        }
        if (queued + body.length > room) {
          throw new HttpProblem(
            503,
            `The relay holds ${queued} bytes for the dashboard already; try again later`,
            30,
          );
        }
        // Reserved before any wait, so concurrent requests cannot pass a
        // quota together; what turns out duplicate or refused is given back.
        used.points += points;
        used.bytes += body.length;
        let freshPoints = 0;
        try {
          await checkScope(claims, events, store);
        } catch (error) {
          used.points -= points;
          used.bytes -= body.length;
          throw error;
        }
        const byRun = new Map<string, TrackingEvent[]>();
        for (const event of events) {
          let list = byRun.get(event.runId);
          if (!list) byRun.set(event.runId, list = []);
          list.push(event);
        }
        let accepted = 0;
        try {
          for (const [runId, list] of byRun) {
            const fresh = new Set(
              await store.admit(runId, list.map((e) => e.seq)),
            );
            for (const event of list) {
              if (!fresh.has(event.seq)) continue;
              fresh.delete(event.seq);
              pipeline.enqueue(event);
              accepted++;
              if (event.kind === "metric") freshPoints++;
            }
          }
        } finally {
          used.points -= points - freshPoints;
        }
        entry.runIds = [...byRun.keys()];
        entry.accepted = accepted;
        entry.duplicates = events.length - accepted;
        // Delivered when nothing is left for any upstream (drops of other
        // requests, counted by the pipeline, do not change this answer).
        let status: "delivered" | "queued" = "queued";
        if (forwardWaitMs > 0) {
          const report = await pipeline.flush(forwardWaitMs);
          if (report.backends.every((b) => b.status === "flushed")) {
            status = "delivered";
          }
        } else {
          keepAlive(c, pipeline.flush());
        }
        entry.status = status === "delivered" ? 200 : 202;
        return c.json(
          { status, accepted, duplicates: events.length - accepted },
          entry.status as 200 | 202,
        );
      }),
  );

  const artifactHost = upstream[0];
  let closeArtifacts = (): void => {};
  if (typeof artifactHost?.artifacts === "function") {
    const kit: RouteKit = {
      now,
      maxBodyBytes: limits.maxBodyBytes,
      maxArtifactBytes: limits.maxArtifactBytes,
      maxStagingBytes: limits.maxStagingBytes,
      store: (project) => artifactHost.artifacts!(project),
      runOwner: (runId) => store.runOwner(runId),
      guard: (c, start, handler, audited) => guard(c, start, handler, audited),
      fail: (status, message, details, retryAfterS) =>
        new HttpProblem(status, message, retryAfterS, details),
      readBody: (c, maxBytes) => readLimited(c.req.raw, maxBytes),
      onUpstreamError: (error) => {
        try {
          onUpstreamError(error);
        } catch {
          // The owner's handler failing does not change the answer.
        }
      },
    };
    closeArtifacts = registerArtifactRoutes(app, kit);
  }

  if (options.adminKey !== undefined) {
    const adminKey = options.adminKey;
    if (typeof adminKey !== "string" || adminKey.length < 16) {
      throw new TypeError(
        "Cannot create the relay: 'adminKey' must be a string of at least 16 characters",
      );
    }
    const admin = async (c: Context): Promise<void> => {
      const match = /^Bearer\s+(\S+)$/i.exec(
        c.req.header("authorization") ?? "",
      );
      if (!match || !(await secretsEqual(match[1], adminKey))) {
        throw new HttpProblem(401, "The admin key is missing or wrong");
      }
    };
    app.post("/v1/admin/tokens", async (c) => {
      const entry: AuditEntry = { timeMs: now(), action: "mint", status: 0 };
      try {
        await admin(c);
        const body = await readLimited(c.req.raw, 64 * 1024);
        let scope: Record<string, unknown>;
        try {
          scope = JSON.parse(new TextDecoder().decode(body));
        } catch {
          throw new HttpProblem(400, "The body is not a JSON object");
        }
        let token: string;
        try {
          token = await mintToken(
            signingKey,
            {
              ...(scope as object),
              nowMs: now(),
            } as Parameters<typeof mintToken>[1],
          );
        } catch (error) {
          throw new HttpProblem(400, (error as Error).message);
        }
        const claims = await verifyToken(signingKey, token, now());
        Object.assign(entry, {
          status: 201,
          tokenId: claims.id,
          subject: claims.subject,
          project: claims.project,
        });
        return c.json({ token, expiresAtMs: claims.expiresAtMs }, 201);
      } catch (error) {
        if (!(error instanceof HttpProblem)) throw error;
        entry.status = error.status;
        entry.reason = error.message;
        return problem(c, error);
      } finally {
        audit(entry);
      }
    });
    app.get("/v1/admin/audit", async (c) => {
      try {
        await admin(c);
      } catch (error) {
        if (error instanceof HttpProblem) return problem(c, error);
        throw error;
      }
      return c.json({ entries: auditLog });
    });
  }

  app.notFound((c) =>
    c.json({ error: `No route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.onError((error, c) => {
    onUpstreamError(error instanceof Error ? error : new Error(String(error)));
    return c.json({ error: "The relay failed to handle the request" }, 500);
  });

  return Object.assign(app, {
    flush: (timeoutMs?: number) => pipeline.flush(timeoutMs),
    close: (timeoutMs?: number) => {
      closeArtifacts();
      return pipeline.shutdown(timeoutMs);
    },
    auditLog: () => [...auditLog],
    upstreams: upstream.map((backend) => backend.name),
  }) as unknown as RelayApp;
}

function positive(
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(
      `Cannot create the relay: limit '${name}' is ${
        JSON.stringify(value) ?? String(value)
      }; expected a positive integer`,
    );
  }
  return value;
}

/** Keeps a worker alive until the promise settles; elsewhere, lets it run. */
function keepAlive(c: Context, promise: Promise<unknown>): void {
  const settled = promise.catch(() => {});
  try {
    c.executionCtx.waitUntil(settled);
  } catch {
    // Not in a worker: the promise runs on by itself.
  }
}

/** Reads a request body, refusing (413) once it passes `maxBytes`. */
async function readLimited(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw new HttpProblem(
      413,
      `The body of ${declared} bytes is over the relay's limit of ${maxBytes} bytes`,
    );
  }
  const reader = request.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new HttpProblem(
        413,
        `The body is over the relay's limit of ${maxBytes} bytes`,
      );
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Refuses (403) events outside the token's run, project or key prefixes. */
async function checkScope(
  claims: TokenClaims,
  events: readonly TrackingEvent[],
  store: RelayStore,
): Promise<void> {
  const started = new Set<string>();
  for (const event of events) {
    if (claims.runId !== undefined && event.runId !== claims.runId) {
      throw new HttpProblem(
        403,
        `This token may write run ${JSON.stringify(claims.runId)} only, not ${
          JSON.stringify(event.runId)
        }`,
      );
    }
    if (event.kind === "run_start") {
      if (event.project !== claims.project) {
        throw new HttpProblem(
          403,
          `This token may write project ${
            JSON.stringify(claims.project)
          } only, not ${JSON.stringify(event.project)}`,
        );
      }
      // Continuing an existing run is allowed only for a run this relay
      // knows as the token's project's: a run id alone must not open
      // another project's run on the dashboard.
      if (
        event.resume === true &&
        (await store.runOwner(event.runId)) !== claims.project
      ) {
        throw new HttpProblem(
          403,
          `Run ${
            JSON.stringify(event.runId)
          } cannot be resumed with this token: this relay does not know it as a run of project ${
            JSON.stringify(claims.project)
          } (keep runs with a durable store, such as FileRelayStore)`,
        );
      }
      started.add(event.runId);
    }
    if (SCOPED_KEYS.has(event.kind) && claims.keyPrefixes !== undefined) {
      const key = (event as { key: string }).key;
      if (!claims.keyPrefixes.some((prefix) => key.startsWith(prefix))) {
        throw new HttpProblem(
          403,
          `This token may write keys starting with ${
            claims.keyPrefixes.map((p) => JSON.stringify(p)).join(", ")
          } only, not ${JSON.stringify(key)}`,
        );
      }
    }
  }
  const runs = new Set(events.map((e) => e.runId));
  for (const runId of runs) {
    const owner = started.has(runId)
      ? await store.claimRun(runId, claims.project)
      : await store.runOwner(runId);
    if (owner !== claims.project) {
      throw new HttpProblem(
        403,
        owner === undefined
          ? `Run ${
            JSON.stringify(runId)
          } was not started through this relay: send its run_start first`
          : `Run ${JSON.stringify(runId)} belongs to another project`,
      );
    }
  }
}
