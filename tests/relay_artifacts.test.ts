// Artifacts through the relay: `RelayArtifactStore` against a relay served
// on 127.0.0.1 (@hono/node-server) whose upstream is an InMemoryBackend
// passes the shared ArtifactStore contract; a logger with
// `relay: { url, token }` logs and downloads byte for byte; and the relay's
// refusals: an artifact over `maxArtifactBytes` or a file over its declared
// size (413), a body that does not match its SHA-256 (422), the token's
// byte quota (429), a full staging area (503), expired uploads, another
// project's or another run's token (the project is always the token's),
// and upstream failures answered 502 without their text.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import {
  createRelay,
  mintToken,
  RelayArtifactStore,
  type RelayOptions,
} from "../relay/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { MemoryArtifactStore } from "../backends/memory/memory_artifacts.ts";
import {
  ArtifactNotFoundError,
  createLogger,
  IntegrityError,
  RelayError,
} from "../mod.ts";
import { stageArtifact } from "../artifact/stage.ts";
import { artifactDigest } from "../artifact/manifest.ts";
import type {
  ArtifactDraft,
  ArtifactProgress,
  ArtifactStore,
} from "../artifact/types.ts";
import {
  artifactStoreConformance,
  md5Base64,
  pseudoRandomBytes,
  readAll,
  sha256Hex,
  utf8,
} from "./helpers/artifact_conformance.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const KEY = "relay-signing-key-for-artifact-tests-0123";
const SECRET = "upstream-api-key-SECRET-9191";

type Relay = ReturnType<typeof createRelay>;

interface Served {
  app: Relay;
  upstream: InMemoryBackend;
  url: string;
  close(): Promise<void>;
}

async function serveRelay(
  overrides: Partial<RelayOptions> = {},
  upstream: InMemoryBackend = new InMemoryBackend(),
): Promise<Served> {
  const app = createRelay({
    upstream,
    signingKey: KEY,
    onUpstreamError: () => {},
    ...overrides,
  });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app,
    upstream,
    url,
    close: async () => {
      await app.close();
      const closed = new Promise((resolve) => server.close(resolve));
      // Idle keep-alive connections would hold close() for minutes in Deno.
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
    },
  };
}

function token(project = "web", extra: Record<string, unknown> = {}) {
  return mintToken(KEY, { project, expiresInMs: 600_000, ...extra });
}

async function draftOf(
  name: string,
  files: { path: string; data: Uint8Array }[],
  extra: Partial<ArtifactDraft> = {},
): Promise<ArtifactDraft> {
  const staged = await stageArtifact({ files }, { name });
  return {
    name,
    type: "model",
    metadata: {},
    aliases: [],
    digest: staged.digest,
    size: staged.size,
    files: staged.files,
    ...extra,
  };
}

/** The JSON manifest of an upload start, for requests made by hand. */
function manifestOf(
  name: string,
  files: { path: string; data: Uint8Array }[],
): Record<string, unknown> {
  const entries = files.map(({ path, data }) => ({
    path,
    size: data.length,
    sha256: sha256Hex(data),
    md5: md5Base64(data),
  }));
  return {
    name,
    type: "model",
    metadata: {},
    aliases: [],
    digest: artifactDigest(entries),
    size: entries.reduce((sum, e) => sum + e.size, 0),
    files: entries,
  };
}

function call(
  app: Relay,
  bearer: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method,
    headers: { authorization: `Bearer ${bearer}` },
    body: body === undefined
      ? undefined
      : body instanceof Uint8Array
      ? body as BodyInit
      : JSON.stringify(body),
  }));
}

async function rejectsWith(
  promise: Promise<unknown>,
  status: number,
  message?: RegExp,
): Promise<RelayError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof RelayError, `expected RelayError, got ${caught}`);
  assert.equal(caught.status, status, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

artifactStoreConformance("RelayArtifactStore through the relay", async () => {
  const served = await serveRelay();
  const store = new RelayArtifactStore({
    url: served.url,
    token: await token(),
  });
  return { store, cleanup: () => served.close() };
});

describe("artifacts through the relay", () => {
  it("a logger with relay: { url, token } logs and downloads an artifact byte for byte, with progress, lineage and audit", async () => {
    const served = await serveRelay();
    try {
      await withTempDir(async (dir) => {
        const bearer = await token();
        const logger = createLogger({
          project: "web",
          relay: { url: served.url, token: bearer },
          onError: () => {},
        });
        const files = [
          { path: "weights/big.bin", data: pseudoRandomBytes(3_456_789, 5) },
          { path: "config.json", data: utf8('{"layers":[64,32]}') },
          { path: "empty.txt", data: new Uint8Array(0) },
          { path: "données/模型 ü.txt", data: utf8("ünïcödé ✓") },
        ];
        const progress: ArtifactProgress[] = [];
        const logged = await logger.logArtifact({
          name: "mlp",
          type: "model",
          files,
          metadata: { lr: 0.01 },
          aliases: ["best"],
          onProgress: (p) => progress.push(p),
        });
        assert.equal(logged.created, true);
        assert.equal(logged.version, "v0");
        assert.deepEqual(logged.versions, { relay: "v0" });
        assert.deepEqual(logged.aliases, ["best", "latest"]);
        const uploads = progress.filter((p) =>
          p.phase === "upload" && p.file === "weights/big.bin"
        );
        assert.ok(uploads.length > 1, "upload progress as bytes go");
        assert.equal(uploads.at(-1)!.bytesDone, 3_456_789);

        // The upstream holds it in the token's project, made by the run.
        const upstream = served.upstream.artifacts("web");
        const stored = await upstream.resolveVersion("mlp", { kind: "latest" });
        assert.equal(stored.digest, logged.digest);
        assert.equal(stored.createdBy?.runId, logger.runId);
        assert.equal(stored.createdBy?.project, "web");
        assert.deepEqual(stored.metadata, { lr: 0.01 });

        const folder = await logger.downloadArtifact({
          name: "mlp",
          version: "best",
          savePath: join(dir, "out"),
        });
        for (const file of files) {
          const bytes = new Uint8Array(await readFile(join(folder, file.path)));
          assert.equal(bytes.length, file.data.length, file.path);
          assert.deepEqual(bytes, file.data, file.path);
        }
        assert.deepEqual(
          (await upstream.listUses("mlp", "v0")).map((u) => u.runId),
          [logger.runId],
        );
        assert.deepEqual(
          (await logger.listArtifactVersions("mlp")).map((v) => v.version),
          ["v0"],
        );
        assert.ok((await logger.end()).ok);

        const writes = served.app.auditLog().filter((e) =>
          e.action === "artifact"
        );
        assert.deepEqual(
          writes.map((e) => [e.operation, e.status, e.artifact, e.version]),
          [["commit", 201, "mlp", "v0"], ["use", 204, "mlp", "v0"]],
        );
        assert.equal(writes[0].bytes, logged.size);
        assert.equal(writes[0].project, "web");
        assert.ok(!JSON.stringify(served.app.auditLog()).includes(bearer));
      });
    } finally {
      await served.close();
    }
  });

  it("an artifact over maxArtifactBytes is refused with 413 before any byte, and no version exists", async () => {
    const served = await serveRelay({ limits: { maxArtifactBytes: 1000 } });
    try {
      const store = new RelayArtifactStore({
        url: served.url,
        token: await token(),
      });
      const draft = await draftOf("big", [
        { path: "a.bin", data: pseudoRandomBytes(600, 1) },
        { path: "b.bin", data: pseudoRandomBytes(600, 2) },
      ]);
      await rejectsWith(
        store.putVersion(draft),
        413,
        /1200 bytes is over the relay's limit of 1000 bytes/,
      );
      assert.deepEqual(await store.listVersions("big"), []);
      assert.deepEqual(
        await served.upstream.artifacts("web").listVersions("big"),
        [],
      );
      // Within the limit, it goes through.
      const small = await draftOf("big", [
        { path: "a.bin", data: pseudoRandomBytes(600, 1) },
      ]);
      assert.equal((await store.putVersion(small)).version, "v0");
    } finally {
      await served.close();
    }
  });

  it("a file body over its declared size is cut off with 413, one that does not match its sha256 or size is refused with 422; neither makes a version", async () => {
    const upstream = new InMemoryBackend();
    const app = createRelay({ upstream, signingKey: KEY });
    const bearer = await token();
    const content = pseudoRandomBytes(5000, 3);
    const manifest = manifestOf("m", [{ path: "w.bin", data: content }]);
    const started = await call(
      app,
      bearer,
      "POST",
      "/v1/artifact-uploads",
      manifest,
    );
    assert.equal(started.status, 201);
    const { uploadId, files } = await started.json() as {
      uploadId: string;
      files: string[];
    };
    assert.deepEqual(files, ["w.bin"]);
    const put = `/v1/artifact-uploads/${uploadId}/files/0`;

    // More bytes than declared, streamed without a length: counted, cut off.
    const longer = new Uint8Array(6000);
    longer.set(content);
    const over = await app.request(put, {
      method: "PUT",
      headers: { authorization: `Bearer ${bearer}` },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(longer.subarray(0, 3000));
          controller.enqueue(longer.subarray(3000));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(over.status, 413);
    assert.match(
      String((await over.json() as { error: string }).error),
      /over its declared size of 5000 bytes/,
    );

    // One flipped byte: the SHA-256 differs.
    const flipped = content.slice();
    flipped[4321] ^= 0x40;
    const bad = await call(app, bearer, "PUT", put, flipped);
    assert.equal(bad.status, 422);
    const problem = await bad.json() as Record<string, string>;
    assert.equal(problem.code, "integrity");
    assert.equal(problem.file, "w.bin");
    assert.equal(problem.algorithm, "sha256");
    assert.equal(problem.expected, sha256Hex(content));
    assert.equal(problem.actual, sha256Hex(flipped));
    assert.match(problem.error, /failed verification/);

    // Too short.
    const short = await call(app, bearer, "PUT", put, content.slice(0, 4999));
    assert.equal(short.status, 422);
    assert.equal(
      (await short.json() as { algorithm: string }).algorithm,
      "size",
    );

    // Nothing verified: the commit is refused and there is no version.
    const commit = await call(
      app,
      bearer,
      "POST",
      `/v1/artifact-uploads/${uploadId}/commit`,
      {},
    );
    assert.equal(commit.status, 409);
    assert.deepEqual(await upstream.artifacts("web").listVersions("m"), []);

    // The right bytes then commit.
    assert.equal((await call(app, bearer, "PUT", put, content)).status, 200);
    const done = await call(
      app,
      bearer,
      "POST",
      `/v1/artifact-uploads/${uploadId}/commit`,
      {},
    );
    assert.equal(done.status, 201);
    assert.equal((await done.json() as { version: string }).version, "v0");

    // The client checks too: a staged file whose content changed is an
    // IntegrityError naming it, and makes no version.
    const served = await serveRelay();
    try {
      const store = new RelayArtifactStore({ url: served.url, token: bearer });
      const draft = await draftOf("m", [{ path: "w.bin", data: content }]);
      const lying = {
        ...draft,
        files: draft.files.map((file) => ({
          ...file,
          open: () => new Blob([flipped as BlobPart]).stream(),
        })),
      };
      await assert.rejects(store.putVersion(lying), (error: unknown) => {
        assert.ok(error instanceof IntegrityError, `got ${error}`);
        assert.equal(error.file, "w.bin");
        return true;
      });
      assert.deepEqual(await store.listVersions("m"), []);
    } finally {
      await served.close();
    }
    await app.close();
  });

  it("bad manifests are 400 and TypeErrors in the client", async () => {
    const app = createRelay({
      upstream: new InMemoryBackend(),
      signingKey: KEY,
    });
    const bearer = await token();
    const good = manifestOf("m", [{ path: "a", data: utf8("a") }]);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, name: "../m" }, /artifact name "..\/m"/],
      [{
        ...good,
        files: [{ ...(good.files as object[])[0], path: "../a" }],
      }, /"..\/a"/],
      [{ ...good, size: 2 }, /'size' is 2/],
      [{ ...good, digest: "0".repeat(64) }, /'digest'/],
      [{
        ...good,
        files: [{ ...(good.files as object[])[0], size: -1 }],
      }, /non-negative integer/],
      [{ ...good, aliases: ["v3"] }, /alias "v3"/],
    ];
    for (const [body, message] of cases) {
      const response = await call(
        app,
        bearer,
        "POST",
        "/v1/artifact-uploads",
        body,
      );
      assert.equal(response.status, 400, String(message));
      const problem = await response.json() as Record<string, string>;
      assert.equal(problem.code, "invalid");
      assert.match(problem.error, message);
    }
    await app.close();
  });

  it("the token's byte quota is 429, kept across uploads and given back when an upload is aborted", async () => {
    const served = await serveRelay();
    try {
      const bearer = await token("web", { maxBytes: 1500 });
      const store = new RelayArtifactStore({ url: served.url, token: bearer });
      const first = await draftOf("q", [
        { path: "a", data: pseudoRandomBytes(1000, 1) },
      ]);
      assert.equal((await store.putVersion(first)).created, true);
      const second = await draftOf("q", [
        { path: "a", data: pseudoRandomBytes(1000, 2) },
      ]);
      const error = await rejectsWith(
        store.putVersion(second),
        429,
        /quota of 1500 bytes/,
      );
      assert.equal(error.retryable, false);
      // An aborted upload gives its bytes back.
      const abortable = await token("web", { maxBytes: 1500 });
      const start = await fetch(`${served.url}/v1/artifact-uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${abortable}` },
        body: JSON.stringify(
          manifestOf("q", [{ path: "a", data: pseudoRandomBytes(1000, 3) }]),
        ),
      });
      const { uploadId } = await start.json() as { uploadId: string };
      const abort = await fetch(
        `${served.url}/v1/artifact-uploads/${uploadId}`,
        {
          method: "DELETE",
          headers: { authorization: `Bearer ${abortable}` },
        },
      );
      assert.equal(abort.status, 204);
      const again = new RelayArtifactStore({
        url: served.url,
        token: abortable,
      });
      assert.equal((await again.putVersion(second)).created, true);
    } finally {
      await served.close();
    }
  });

  it("abandoned uploads expire after ten minutes and free the staging area (503 while full)", async () => {
    let now = 1_000_000;
    const upstream = new InMemoryBackend();
    const app = createRelay({
      upstream,
      signingKey: KEY,
      now: () => now,
      limits: { maxStagingBytes: 1500, requestsPerMinute: 1000 },
    });
    const bearer = await mintToken(KEY, {
      project: "web",
      expiresInMs: 3_600_000,
      nowMs: now,
    });
    const manifest = manifestOf("m", [
      { path: "a", data: pseudoRandomBytes(1000, 1) },
    ]);
    const first = await call(
      app,
      bearer,
      "POST",
      "/v1/artifact-uploads",
      manifest,
    );
    assert.equal(first.status, 201);
    const { uploadId } = await first.json() as { uploadId: string };
    const full = await call(
      app,
      bearer,
      "POST",
      "/v1/artifact-uploads",
      manifest,
    );
    assert.equal(full.status, 503);
    assert.ok(Number(full.headers.get("retry-after")) > 0);
    now += 10 * 60_000 + 1;
    const late = await call(
      app,
      bearer,
      "PUT",
      `/v1/artifact-uploads/${uploadId}/files/0`,
      pseudoRandomBytes(1000, 1),
    );
    assert.equal(late.status, 404);
    assert.match(
      String((await late.json() as { error: string }).error),
      /expired/,
    );
    const fresh = await call(
      app,
      bearer,
      "POST",
      "/v1/artifact-uploads",
      manifest,
    );
    assert.equal(fresh.status, 201);
    await app.close();
  });

  it("a token of another project neither reads nor writes this project's artifacts: the project is always the token's", async () => {
    const served = await serveRelay();
    try {
      const web = new RelayArtifactStore({
        url: served.url,
        token: await token("web"),
      });
      const stored = await web.putVersion(
        await draftOf("secret-model", [{ path: "w", data: utf8("weights") }]),
      );
      const otherToken = await token("other");
      const other = new RelayArtifactStore({
        url: served.url,
        token: otherToken,
      });
      await assert.rejects(
        other.resolveVersion("secret-model", { kind: "latest" }),
        ArtifactNotFoundError,
      );
      assert.deepEqual(await other.listVersions("secret-model"), []);
      await assert.rejects(
        other.openFile(stored, stored.files[0]),
        ArtifactNotFoundError,
      );
      await assert.rejects(
        other.setAliases("secret-model", stored.version, ["stolen"]),
        ArtifactNotFoundError,
      );
      // Its writes land in its own project, whatever it claims.
      const claimed = new RelayArtifactStore({
        url: served.url,
        token: otherToken,
        project: "web",
      });
      await rejectsWith(
        claimed.listVersions("secret-model"),
        403,
        /project "other" only, not "web"/,
      );
      await other.putVersion(
        await draftOf("secret-model", [{ path: "w", data: utf8("forged") }]),
      );
      const webVersions = await served.upstream.artifacts("web").listVersions(
        "secret-model",
      );
      assert.deepEqual(webVersions.map((v) => v.digest), [stored.digest]);
      assert.equal(
        (await served.upstream.artifacts("other").listVersions("secret-model"))
          .length,
        1,
      );
      // Nor can it finish an upload another token started.
      const webToken = await token("web");
      const start = await fetch(`${served.url}/v1/artifact-uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${webToken}` },
        body: JSON.stringify(manifestOf("x", [{ path: "a", data: utf8("a") }])),
      });
      const { uploadId } = await start.json() as { uploadId: string };
      const hijack = await fetch(
        `${served.url}/v1/artifact-uploads/${uploadId}/files/0`,
        {
          method: "PUT",
          headers: { authorization: `Bearer ${otherToken}` },
          body: utf8("a") as BodyInit,
        },
      );
      assert.equal(hijack.status, 404);
      await hijack.text();
      // And without a valid token, nothing at all.
      const anonymous = await fetch(
        `${served.url}/v1/artifacts/secret-model/versions`,
      );
      assert.equal(anonymous.status, 401);
      await anonymous.text();
    } finally {
      await served.close();
    }
  });

  it("a run-scoped token writes artifacts made and used by its own run only", async () => {
    const served = await serveRelay();
    try {
      const bearer = await token("web", { runId: "run-a" });
      const store = new RelayArtifactStore({ url: served.url, token: bearer });
      const ref = (runId: string, project = "web") => ({
        project,
        runId,
        timestampMs: 5,
      });
      await rejectsWith(
        store.putVersion(
          await draftOf("m", [{ path: "x", data: utf8("x") }], {
            createdBy: ref("run-b"),
          }),
        ),
        403,
        /run "run-a" of project "web" only, not "run-b"/,
      );
      await rejectsWith(
        store.putVersion(await draftOf("m", [{ path: "x", data: utf8("x") }])),
        403,
        /name it as 'createdBy'/,
      );
      const stored = await store.putVersion(
        await draftOf("m", [{ path: "x", data: utf8("x") }], {
          createdBy: ref("run-a"),
        }),
      );
      assert.deepEqual(stored.createdBy, ref("run-a"));
      await rejectsWith(store.recordUse(stored, ref("run-b")), 403);
      await rejectsWith(
        store.recordUse(stored, ref("run-a", "elsewhere")),
        403,
      );
      await store.recordUse(stored, ref("run-a"));
      assert.deepEqual(await store.listUses("m", stored.version), [
        ref("run-a"),
      ]);
      // Key prefixes do not apply to artifacts.
      const prefixed = new RelayArtifactStore({
        url: served.url,
        token: await token("web", { keyPrefixes: ["train/"] }),
      });
      assert.equal(
        (await prefixed.putVersion(
          await draftOf("other", [{ path: "y", data: utf8("y") }]),
        )).created,
        true,
      );
      // A run the relay knows belongs to its project: no other may claim it.
      const events = await fetch(`${served.url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${await token("elsewhere")}` },
        body: JSON.stringify({
          v: 1,
          kind: "run_start",
          runId: "theirs",
          seq: 0,
          timestampMs: 0,
          project: "elsewhere",
          tags: [],
        }) + "\n",
      });
      assert.equal(events.status, 200);
      await events.text();
      await rejectsWith(
        prefixed.recordUse(stored, ref("theirs")),
        403,
        /belongs to another project/,
      );
    } finally {
      await served.close();
    }
  });

  it("an upstream failure is a 502 with a generic message; its text reaches the owner only", async () => {
    const failing = new MemoryArtifactStore();
    const boom = (): never => {
      throw new Error(`401 from https://dashboard.example?key=${SECRET}`);
    };
    const upstream = new InMemoryBackend();
    const stores: Record<string, ArtifactStore> = {};
    Object.assign(upstream, {
      artifacts: (project: string) =>
        stores[project] ??= Object.assign(
          Object.create(failing) as MemoryArtifactStore,
          {
            putVersion: boom,
            listVersions: () => Promise.resolve([]),
            resolveVersion: () =>
              Promise.reject(new TypeError(`fetch failed: ${SECRET}`)),
          },
        ),
    });
    const errors: string[] = [];
    const served = await serveRelay(
      { onUpstreamError: (error) => errors.push(error.message) },
      upstream,
    );
    try {
      const bearer = await token();
      const store = new RelayArtifactStore({ url: served.url, token: bearer });
      const put = await rejectsWith(
        store.putVersion(await draftOf("m", [{ path: "x", data: utf8("x") }])),
        502,
        /failed to store the version/,
      );
      assert.ok(!put.message.includes(SECRET));
      const read = await rejectsWith(
        store.resolveVersion("m", { kind: "latest" }),
        502,
      );
      assert.ok(!read.message.includes(SECRET));
      const raw = await fetch(`${served.url}/v1/artifacts/m/versions/latest`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      const text = await raw.text();
      assert.equal(raw.status, 502);
      assert.ok(!text.includes(SECRET), text);
      assert.ok(!text.includes("dashboard.example"), text);
      assert.ok(errors.some((m) => m.includes(SECRET)), "the owner hears it");
      const audit = JSON.stringify(served.app.auditLog());
      assert.ok(!audit.includes(SECRET));
      assert.ok(!audit.includes(bearer));
    } finally {
      await served.close();
    }
  });

  it("no artifact routes when the upstream keeps no artifacts", async () => {
    const upstream = new InMemoryBackend();
    Object.defineProperty(upstream, "artifacts", { value: undefined });
    const app = createRelay({ upstream, signingKey: KEY });
    const response = await call(
      app,
      await token(),
      "GET",
      "/v1/artifacts/m/versions",
    );
    assert.equal(response.status, 404);
    assert.match(
      String((await response.json() as { error: string }).error),
      /No route/,
    );
    await app.close();
  });

  it("reads stream through with the file's content-length", async () => {
    const served = await serveRelay();
    try {
      const bearer = await token();
      const store = new RelayArtifactStore({ url: served.url, token: bearer });
      const data = pseudoRandomBytes(1_234_567, 9);
      const stored = await store.putVersion(
        await draftOf("blob", [{ path: "dir/b.bin", data }]),
      );
      const response = await fetch(
        `${served.url}/v1/artifacts/blob/versions/${stored.version}/file?path=${
          encodeURIComponent("dir/b.bin")
        }`,
        { headers: { authorization: `Bearer ${bearer}` } },
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), "1234567");
      const bytes = await readAll(response.body!);
      assert.equal(sha256Hex(bytes), sha256Hex(data));
      const missing = await fetch(
        `${served.url}/v1/artifacts/blob/versions/${stored.version}/file?path=nope`,
        { headers: { authorization: `Bearer ${bearer}` } },
      );
      assert.equal(missing.status, 404);
      await missing.text();
    } finally {
      await served.close();
    }
  });
});
