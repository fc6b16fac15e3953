// The relay (relay/server.ts) in process, through `app.request()`: every
// security answer (401, 403, 413, 429, CORS), idempotency by (runId, seq),
// store-and-forward through an upstream outage (also across a restart with
// the file store), admin minting and the audit log, and that no answer,
// audit line or error carries an upstream key or a token. Then the client:
// a logger with `relay: { url, token }` through a real HTTP server.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import {
  createRelay,
  FileRelayStore,
  mintToken,
  type RelayOptions,
  TokenError,
  verifyToken,
} from "../relay/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { createLogger, RelayBackend, RelayError } from "../mod.ts";
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import type { SendResult } from "../pipeline/backend.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const KEY = "relay-signing-key-for-tests-0123456789";
const UPSTREAM_SECRET = "upstream-api-key-SECRET-4242";

function start(runId: string, project = "web", seq = 0): TrackingEvent {
  return {
    kind: "run_start",
    runId,
    seq,
    timestampMs: 1000,
    project,
    tags: [],
  };
}

function metric(
  runId: string,
  seq: number,
  key = "loss",
  step = seq,
): TrackingEvent {
  return {
    kind: "metric",
    runId,
    seq,
    timestampMs: 1000 + seq,
    key,
    value: seq / 10,
    step,
  };
}

function relay(overrides: Partial<RelayOptions> = {}): {
  app: ReturnType<typeof createRelay>;
  upstream: InMemoryBackend;
} {
  const upstream = new InMemoryBackend();
  const app = createRelay({
    upstream,
    signingKey: KEY,
    onUpstreamError: () => {},
    ...overrides,
  });
  return { app, upstream };
}

function post(
  app: ReturnType<typeof createRelay>,
  token: string | undefined,
  events: readonly TrackingEvent[] | string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(app.request("/v1/events", {
    method: "POST",
    headers: {
      "content-type": "application/x-ndjson",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof events === "string" ? events : encodeEvents(events),
  }));
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json() as Record<string, unknown>;
}

/** The token with one signature character (a whole 6 bits) changed. */
function flipSignature(token: string): string {
  const i = token.length - 10;
  return token.slice(0, i) + (token[i] === "A" ? "B" : "A") +
    token.slice(i + 1);
}

/** The same signature bytes spelled with the unused low bits of its last character set. */
function respellLast(token: string): string {
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(token[token.length - 1]);
  return token.slice(0, -1) + alphabet[last ^ 1];
}

describe("relay tokens", () => {
  it("mint and verify round-trip the scope; a changed byte, another key or expiry is refused", async () => {
    const token = await mintToken(KEY, {
      project: "web",
      runId: "r1",
      keyPrefixes: ["train/"],
      maxPoints: 10,
      maxBytes: 1000,
      subject: "page-42",
      expiresInMs: 60_000,
      nowMs: 0,
    });
    const claims = await verifyToken(KEY, token, 1);
    assert.equal(claims.project, "web");
    assert.equal(claims.runId, "r1");
    assert.deepEqual(claims.keyPrefixes, ["train/"]);
    assert.equal(claims.expiresAtMs, 60_000);
    const [prefix, body, signature] = token.split(".");
    const forged = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(
          atob(body.replaceAll("-", "+").replaceAll("_", "/")),
          (c) => c.charCodeAt(0),
        ),
      ),
    );
    forged.project = "admin";
    const forgedBody = btoa(JSON.stringify(forged)).replaceAll("+", "-")
      .replaceAll("/", "_").replace(/=+$/, "");
    for (
      const [bad, problem] of [
        [`${prefix}.${forgedBody}.${signature}`, "signature"],
        [flipSignature(token), "signature"],
        [respellLast(token), "malformed"],
        ["uetai1.!!.??", "malformed"],
        ["not-a-token", "malformed"],
        ["", "missing"],
      ] as const
    ) {
      await assert.rejects(verifyToken(KEY, bad, 1), (error: unknown) => {
        assert.ok(error instanceof TokenError);
        assert.equal(error.problem, problem, bad);
        assert.ok(!error.message.includes(token));
        return true;
      });
    }
    await assert.rejects(
      verifyToken("another-signing-key-of-32-bytes-long!!", token, 1),
      /not signed by this relay/,
    );
    await assert.rejects(verifyToken(KEY, token, 60_000), /expired/);
  });

  it("bad scopes and short keys are TypeErrors naming the value", async () => {
    await assert.rejects(
      mintToken(KEY, { project: "", expiresInMs: 1000 }),
      /'project' is ""; expected a non-empty string/,
    );
    await assert.rejects(
      mintToken(KEY, { project: "p", expiresInMs: -1 }),
      /'expiresInMs' is -1/,
    );
    await assert.rejects(
      mintToken(KEY, { project: "p", expiresInMs: 1000, maxPoints: 1.5 }),
      /'maxPoints' is 1.5/,
    );
    assert.throws(
      () =>
        createRelay({ upstream: new InMemoryBackend(), signingKey: "short" }),
      /at least 32 bytes, got 5 bytes/,
    );
  });
});

describe("relay security answers", () => {
  it("401 without a token, with a forged one and with an expired one; WWW-Authenticate is set", async () => {
    let now = 0;
    const { app, upstream } = relay({ now: () => now });
    const token = await mintToken(KEY, {
      project: "web",
      expiresInMs: 1000,
      nowMs: 0,
    });
    const other = await mintToken("a-different-signing-key-0123456789ab", {
      project: "web",
      expiresInMs: 1000,
      nowMs: 0,
    });
    for (const t of [undefined, "garbage", other]) {
      const response = await post(app, t, [start("r1")]);
      assert.equal(response.status, 401);
      assert.match(
        response.headers.get("www-authenticate") ?? "",
        /invalid_token/,
      );
    }
    now = 1000;
    const expired = await post(app, token, [start("r1")]);
    assert.equal(expired.status, 401);
    assert.match(String((await json(expired)).error), /expired/);
    assert.equal(upstream.events.length, 0);
    await app.close();
  });

  it("403 for another run, another project, a run not started through the relay, or a key outside the prefixes", async () => {
    const { app, upstream } = relay();
    const runScoped = await mintToken(KEY, {
      project: "web",
      runId: "mine",
      expiresInMs: 60_000,
    });
    const web = await mintToken(KEY, {
      project: "web",
      keyPrefixes: ["train/"],
      expiresInMs: 60_000,
    });
    const other = await mintToken(KEY, {
      project: "other",
      expiresInMs: 60_000,
    });
    const cases: [string, TrackingEvent[], RegExp][] = [
      [runScoped, [start("yours")], /run "mine" only, not "yours"/],
      [web, [start("r2", "prod")], /project "web" only, not "prod"/],
      [web, [metric("never-started", 1, "train/loss")], /not started/],
      [web, [start("r3"), metric("r3", 1, "val/loss")], /"val\/loss"/],
    ];
    for (const [token, events, message] of cases) {
      const response = await post(app, token, events);
      assert.equal(response.status, 403, String(message));
      assert.match(String((await json(response)).error), message);
    }
    // A run started by project "web" cannot be written with a token of "other".
    assert.equal((await post(app, web, [start("shared")])).status, 200);
    const stolen = await post(app, other, [metric("shared", 1)]);
    assert.equal(stolen.status, 403);
    assert.match(String((await json(stolen)).error), /another project/);
    // Refused batches left nothing upstream but the one accepted start.
    assert.deepEqual(upstream.events.map((e) => e.runId), ["shared"]);
    await app.close();
  });

  it("413 for a body over the limit (declared or streamed) and for too many events; 400 for a body that is not events", async () => {
    const { app, upstream } = relay({
      limits: { maxBodyBytes: 2000, maxEventsPerRequest: 5 },
    });
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    const big = [
      start("r1"),
      ...Array.from({ length: 40 }, (_, i) => metric("r1", i + 1)),
    ];
    const declared = await post(app, token, big);
    assert.equal(declared.status, 413);
    assert.match(String((await json(declared)).error), /limit of 2000 bytes/);
    // No content-length: counted while reading.
    const text = encodeEvents(big);
    const streamed = await app.request("/v1/events", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    const many = await post(app, token, big.slice(0, 7));
    assert.equal(many.status, 413);
    assert.match(String((await json(many)).error), /7 events; at most 5/);
    const bad = await post(app, token, '{"v":1,"kind":"nope"}\n');
    assert.equal(bad.status, 400);
    assert.equal(upstream.events.length, 0);
    await app.close();
  });

  it("429 with Retry-After past the request rate, the point quota and the byte quota", async () => {
    let now = 0;
    const { app } = relay({
      limits: { requestsPerMinute: 3 },
      now: () => now,
    });
    const token = await mintToken(KEY, {
      project: "web",
      expiresInMs: 600_000,
      nowMs: 0,
    });
    for (let i = 0; i < 3; i++) {
      assert.equal((await post(app, token, [start("r1")])).status, 200);
    }
    const limited = await post(app, token, [start("r1")]);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "60");
    now = 61_000;
    assert.equal((await post(app, token, [start("r1")])).status, 200);

    const points = await mintToken(KEY, {
      project: "web",
      maxPoints: 3,
      expiresInMs: 600_000,
      nowMs: 0,
    });
    assert.equal(
      (await post(app, points, [start("r2"), metric("r2", 1), metric("r2", 2)]))
        .status,
      200,
    );
    const over = await post(app, points, [metric("r2", 3), metric("r2", 4)]);
    assert.equal(over.status, 429);
    assert.match(String((await json(over)).error), /quota of 3 points/);
    assert.ok(Number(over.headers.get("retry-after")) > 0);
    // A replay of what was accepted is not counted again.
    assert.equal(
      (await post(app, points, [metric("r2", 1)])).status,
      200,
    );

    const bytes = await mintToken(KEY, {
      project: "web",
      maxBytes: 150,
      expiresInMs: 600_000,
      nowMs: 0,
    });
    assert.equal((await post(app, bytes, [start("r3")])).status, 200);
    const spent = await post(app, bytes, [start("r3")]);
    assert.equal(spent.status, 429);
    assert.match(String((await json(spent)).error), /quota of 150 bytes/);
    await app.close();
  });

  it("CORS headers only for configured origins", async () => {
    const { app } = relay({ cors: { origins: ["https://app.example"] } });
    const preflight = (origin: string) =>
      app.request("/v1/events", {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type",
        },
      });
    const allowed = await preflight("https://app.example");
    assert.equal(
      allowed.headers.get("access-control-allow-origin"),
      "https://app.example",
    );
    assert.match(
      allowed.headers.get("access-control-allow-headers") ?? "",
      /authorization/i,
    );
    const denied = await preflight("https://evil.example");
    assert.equal(denied.headers.get("access-control-allow-origin"), null);
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    const simple = await post(app, token, [start("r1")], {
      origin: "https://evil.example",
    });
    assert.equal(simple.headers.get("access-control-allow-origin"), null);
    // Requests without a preflight are refused too, not just left unreadable.
    assert.equal(simple.status, 403);
    const body = `${JSON.stringify({ token })}\n${encodeEvents([start("r2")])}`;
    const textPlain = (origin: string) =>
      app.request("/v1/events", {
        method: "POST",
        headers: { origin, "content-type": "text/plain;charset=UTF-8" },
        body,
      });
    assert.equal((await textPlain("https://evil.example")).status, 403);
    const fromPage = await textPlain("https://app.example");
    assert.equal(fromPage.status, 200);
    assert.equal(
      fromPage.headers.get("access-control-allow-origin"),
      "https://app.example",
    );
    await app.close();
  });

  it("pages may send the token as the first line of a text/plain body; without it, 401", async () => {
    const { app, upstream } = relay();
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    const send = (first: string) =>
      app.request("/v1/events", {
        method: "POST",
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body: `${first}\n${encodeEvents([start("p1"), metric("p1", 1)])}`,
      });
    const ok = await send(JSON.stringify({ token }));
    assert.equal(ok.status, 200);
    assert.equal((await json(ok)).accepted, 2);
    assert.equal((await send('{"token":"forged"}')).status, 401);
    assert.equal((await send("{}")).status, 401);
    assert.equal(upstream.events.length, 2);
    await app.close();
  });

  it("the client cannot choose the upstream: there is no route or field for it", async () => {
    const { app } = relay();
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    for (
      const path of [
        "/v1/events?upstream=http://evil.example",
        "/v1/forward",
        "/v1/upstream",
      ]
    ) {
      const response = await app.request(path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: encodeEvents([start(`r-${path.length}`)]),
      });
      if (path.startsWith("/v1/events")) {
        assert.equal(response.status, 200);
      } else {
        assert.equal(response.status, 404);
      }
    }
    await app.close();
  });
});

describe("relay ingest", () => {
  it("a replayed batch changes nothing: idempotent by (runId, seq)", async () => {
    const { app, upstream } = relay();
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    const batch = [start("r1"), metric("r1", 1), metric("r1", 2)];
    const first = await post(app, token, batch);
    assert.equal(first.status, 200);
    assert.deepEqual(await json(first), {
      status: "delivered",
      accepted: 3,
      duplicates: 0,
    });
    const again = await post(app, token, [...batch, metric("r1", 3)]);
    assert.deepEqual(await json(again), {
      status: "delivered",
      accepted: 1,
      duplicates: 3,
    });
    assert.deepEqual(upstream.events.map((e) => e.seq), [0, 1, 2, 3]);
    await app.close();
  });

  it("an upstream outage: 202 queued, then forwarded once when it recovers; its error text never reaches the client", async () => {
    let down = true;
    const upstream = new InMemoryBackend({
      respond: (): SendResult =>
        down
          ? {
            status: "retryable",
            error: new Error(`503 from dashboard with key ${UPSTREAM_SECRET}`),
          }
          : { status: "success" },
    });
    const errors: string[] = [];
    const app = createRelay({
      upstream,
      signingKey: KEY,
      forward: { waitMs: 200, retry: { initialDelayMs: 10, maxDelayMs: 50 } },
      onUpstreamError: (error) => errors.push(error.message),
    });
    const token = await mintToken(KEY, { project: "web", expiresInMs: 60_000 });
    const response = await post(app, token, [start("r1"), metric("r1", 1)]);
    assert.equal(response.status, 202);
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), {
      status: "queued",
      accepted: 2,
      duplicates: 0,
    });
    assert.ok(!text.includes(UPSTREAM_SECRET));
    assert.ok(!JSON.stringify(app.auditLog()).includes(UPSTREAM_SECRET));
    assert.ok(!JSON.stringify(app.auditLog()).includes(token));
    assert.equal(upstream.events.length, 0);
    down = false;
    assert.ok((await app.flush(5000)).ok);
    assert.deepEqual(upstream.events.map((e) => e.seq), [0, 1]);
    assert.ok(errors.length > 0, "the owner hears about the outage");
    await app.close();
  });

  it("the file store keeps queued events across a relay restart and forwards them then", async () => {
    await withTempDir(async (dir) => {
      const token = await mintToken(KEY, {
        project: "web",
        expiresInMs: 60_000,
      });
      const dead = createRelay({
        upstream: new InMemoryBackend({
          respond: () => ({ status: "retryable", error: new Error("down") }),
        }),
        signingKey: KEY,
        store: new FileRelayStore({ dir }),
        forward: { waitMs: 50 },
        onUpstreamError: () => {},
      });
      const batch = [start("r1"), metric("r1", 1), metric("r1", 2)];
      assert.equal((await post(dead, token, batch)).status, 202);
      await dead.close(200);

      const upstream = new InMemoryBackend();
      const revived = createRelay({
        upstream,
        signingKey: KEY,
        store: new FileRelayStore({ dir }),
        onUpstreamError: () => {},
      });
      assert.ok((await revived.flush(5000)).ok);
      assert.deepEqual(upstream.events.map((e) => e.seq), [0, 1, 2]);
      // The restarted relay still knows the run and what it admitted.
      const replay = await post(revived, token, [...batch, metric("r1", 3)]);
      assert.deepEqual(await json(replay), {
        status: "delivered",
        accepted: 1,
        duplicates: 3,
      });
      assert.deepEqual(upstream.events.map((e) => e.seq), [0, 1, 2, 3]);
      await revived.close();
    });
  });
});

describe("relay admin", () => {
  it("mints tokens and shows the audit log with the admin key only", async () => {
    const adminKey = "admin-key-0123456789abcdef";
    const { app } = relay({ adminKey });
    const mint = (key: string, body: unknown) =>
      app.request("/v1/admin/tokens", {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: JSON.stringify(body),
      });
    assert.equal(
      (await mint("wrong-key-0123456789", { project: "web" })).status,
      401,
    );
    const bad = await mint(adminKey, { project: "web", expiresInMs: 0 });
    assert.equal(bad.status, 400);
    assert.match(String((await json(bad)).error), /'expiresInMs' is 0/);
    const minted = await mint(adminKey, {
      project: "web",
      subject: "dashboard-page",
      expiresInMs: 60_000,
    });
    assert.equal(minted.status, 201);
    const { token } = await json(minted) as { token: string };
    assert.equal((await post(app, token, [start("r1")])).status, 200);
    assert.equal(
      (await app.request("/v1/admin/audit", {
        headers: { authorization: "Bearer nope-nope-nope-nope" },
      })).status,
      401,
    );
    const audit = await app.request("/v1/admin/audit", {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    const text = await audit.text();
    assert.ok(!text.includes(token), "no token in the audit log");
    assert.ok(!text.includes(adminKey));
    const entries = (JSON.parse(text) as {
      entries: { action: string; status: number; subject?: string }[];
    }).entries;
    assert.deepEqual(entries.map((e) => [e.action, e.status]), [
      ["mint", 401],
      ["mint", 400],
      ["mint", 201],
      ["events", 200],
    ]);
    assert.equal(entries[3].subject, "dashboard-page");
    await app.close();
  });
});

describe("relay client", () => {
  it("a logger with relay: { url, token } delivers through a real server, and refusals are typed errors", async () => {
    const upstream = new InMemoryBackend();
    const app = createRelay({ upstream, signingKey: KEY });
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const token = await mintToken(KEY, {
        project: "web",
        expiresInMs: 60_000,
      });
      const logger = createLogger({
        project: "web",
        relay: { url, token },
        onError: () => {},
      });
      assert.equal(logger.backends[0].name, "relay");
      for (let step = 0; step < 300; step++) {
        logger.log({ loss: 1 / (step + 1) }, { step });
      }
      logger.logParams({ lr: 0.1 });
      assert.ok((await logger.end()).ok);
      const metrics = upstream.events.filter((e) => e.kind === "metric");
      assert.equal(metrics.length, 300);
      assert.equal(new Set(metrics.map((e) => e.seq)).size, 300);
      assert.ok(upstream.events.some((e) => e.kind === "run_end"));

      // A token for another project: refused for good, reported, typed.
      const wrong = await mintToken(KEY, {
        project: "elsewhere",
        expiresInMs: 60_000,
      });
      const backend = new RelayBackend({ url, token: wrong });
      const result = await backend.send(
        [start("x1", "web")],
        new AbortController().signal,
      );
      assert.equal(result.status, "failure");
      const error = (result as { error: Error }).error;
      assert.ok(error instanceof RelayError);
      assert.equal(error.status, 403);
      assert.ok(!error.message.includes(wrong));
      assert.throws(
        () => new RelayBackend({ url: "ftp://x", token: "t" }),
        /'url' is "ftp:\/\/x"; expected an http\(s\) URL/,
      );
      // Environment detection.
      const fromEnv = createLogger({
        project: "web",
        env: { UETAI_RELAY_URL: url, UETAI_RELAY_TOKEN: token },
      });
      assert.equal(fromEnv.backends[0].name, "relay");
      assert.ok((await fromEnv.end()).ok);
    } finally {
      await app.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
