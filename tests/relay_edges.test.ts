// Relay edge cases found in review: honest statuses after an upstream drop,
// quotas under concurrent requests, FileRelayStore write failures, staging
// bounds, cross-project writes through Comet after a restart, and aliases
// moved by run-scoped tokens.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createRelay,
  FileRelayStore,
  MemoryRelayStore,
  mintToken,
  type RelayOptions,
  type RelayStore,
} from "../relay/mod.ts";
import { InMemoryBackend } from "../backends/memory/mod.ts";
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import { type FileSystemLike, getFileSystem } from "../runtime/fs.ts";
import { stageArtifact } from "../artifact/stage.ts";

const KEY = "relay-signing-key-for-review-0123456789";
type Relay = ReturnType<typeof createRelay>;

function start(runId: string, project = "web"): TrackingEvent {
  return {
    kind: "run_start",
    runId,
    seq: 0,
    timestampMs: 1,
    project,
    tags: [],
  };
}
function metric(runId: string, seq: number): TrackingEvent {
  return {
    kind: "metric",
    runId,
    seq,
    timestampMs: 1 + seq,
    key: "loss",
    value: seq,
    step: seq,
  };
}
function post(app: Relay, token: string, events: TrackingEvent[]) {
  return Promise.resolve(app.request("/v1/events", {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/x-ndjson",
    },
    body: encodeEvents(events),
  }));
}
function relay(overrides: Partial<RelayOptions>): Relay {
  return createRelay({
    upstream: new InMemoryBackend(),
    signingKey: KEY,
    onUpstreamError: () => {},
    ...overrides,
  });
}
const tok = (extra: Record<string, unknown> = {}) =>
  mintToken(KEY, { project: "web", expiresInMs: 600_000, ...extra });

describe("relay edges", () => {
  it("one batch the upstream rejects for good does not turn later delivered batches into 202 queued", async () => {
    let calls = 0;
    const upstream = new InMemoryBackend({
      respond: () =>
        ++calls === 1
          ? { status: "failure", error: new Error("bad batch") }
          : { status: "success" },
    });
    const app = relay({ upstream });
    const token = await tok();
    const first = await post(app, token, [start("r1"), metric("r1", 1)]);
    const firstBody = await first.json();
    const second = await post(app, token, [start("r2"), metric("r2", 1)]);
    const secondBody = await second.json();
    await app.close();
    // r2 is in the upstream, yet the relay says it is only queued.
    // r1 was dropped for good, yet the relay answered "queued" (it keeps
    // nothing); r2 is in the upstream, yet the relay says it is only queued.
    assert.deepEqual(upstream.events.map((e) => e.runId), ["r2", "r2"]);
    assert.ok(
      first.status !== 202 && second.status === 200,
      `dropped batch answered ${first.status} ${
        JSON.stringify(firstBody)
      }; delivered batch answered ${second.status} ${
        JSON.stringify(secondBody)
      }`,
    );
  });

  it("concurrent requests cannot run past the token's maxPoints quota together (a store with I/O latency)", async () => {
    const upstream = new InMemoryBackend();
    const memory = new MemoryRelayStore();
    const slow: RelayStore = {
      runOwner: (r) => memory.runOwner(r),
      claimRun: (r, p) => memory.claimRun(r, p),
      admit: async (r, s) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return memory.admit(r, s);
      },
      spool: (lane) => memory.spool(lane),
    };
    const app = relay({ upstream, store: slow });
    const token = await tok({ maxPoints: 10 });
    const batches = [0, 1, 2, 3, 4].map((i) => {
      const events = [start(`r${i}`)];
      for (let seq = 1; seq <= 10; seq++) events.push(metric(`r${i}`, seq));
      return events;
    });
    const answers = await Promise.all(batches.map((b) => post(app, token, b)));
    await app.close();
    const points = upstream.events.filter((e) => e.kind === "metric").length;
    assert.ok(
      points <= 10,
      `quota 10 points; statuses ${
        answers.map((a) => a.status)
      }; upstream got ${points} points`,
    );
  });

  it("FileRelayStore: a failed state write leaves the seqs unseen, so the retry delivers them", async () => {
    const real = getFileSystem()!;
    let failWrites = false;
    const fs: FileSystemLike = Object.assign(Object.create(real), {
      writeFile: (path: string, data: string | Uint8Array) =>
        failWrites && path.includes("state.json")
          ? Promise.reject(new Error("ENOSPC"))
          : real.writeFile(path, data),
    });
    const dir = await mkdtemp(join(tmpdir(), "uetai-relay-edges-"));
    try {
      const upstream = new InMemoryBackend();
      const app = relay({ upstream, store: new FileRelayStore({ dir, fs }) });
      const token = await tok();
      assert.equal((await post(app, token, [start("r1")])).status, 200);
      failWrites = true;
      const failed = await post(app, token, [metric("r1", 1)]);
      failWrites = false;
      const retried = await post(app, token, [metric("r1", 1)]);
      const retriedBody = await retried.json();
      await app.close();
      assert.equal(failed.status, 500);
      assert.deepEqual(
        upstream.events.map((e) => e.seq),
        [0, 1],
        `retry answered ${retried.status} ${JSON.stringify(retriedBody)}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("staging counts each upload's description, so uploads of empty files cannot pile up in memory", async () => {
    const app = relay({
      limits: { maxStagingBytes: 1, requestsPerMinute: 10_000 },
    });
    const token = await tok();
    const staged = await stageArtifact({
      files: [{ path: "empty", data: new Uint8Array(0) }],
    }, { name: "a" });
    const big = "x".repeat(500_000);
    let created = 0;
    for (let i = 0; i < 50; i++) {
      const response = await app.request("/v1/artifact-uploads", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({
          name: "a",
          type: "model",
          metadata: { big },
          aliases: [],
          digest: staged.digest,
          size: 0,
          files: staged.files.map(({ path, size, sha256, md5 }) => ({
            path,
            size,
            sha256,
            md5,
          })),
        }),
      });
      await response.body?.cancel();
      if (response.status === 201) created++;
    }
    await app.close();
    assert.ok(
      created <= 1,
      `${created} uploads (~${
        created * 0.5
      } MB of metadata) held with maxStagingBytes 1`,
    );
  });
  it("Comet upstream: after a relay restart, a token of project B cannot write into project A's experiment", async () => {
    const { FakeComet } = await import("./helpers/fake_comet.ts");
    const { CometBackend } = await import("../backends/comet/mod.ts");
    const fake = await FakeComet.start();
    const comet = () =>
      new CometBackend({
        apiKey: fake.apiKey,
        workspace: fake.workspace,
        urlOverride: `${fake.url}/clientlib/`,
        heartbeat: false,
      });
    try {
      const runId = "a".repeat(32);
      const tokenA = await mintToken(KEY, {
        project: "A",
        expiresInMs: 600_000,
      });
      const tokenB = await mintToken(KEY, {
        project: "B",
        expiresInMs: 600_000,
      });
      const first = relay({ upstream: comet() });
      assert.equal(
        (await post(first, tokenA, [start(runId, "A"), metric(runId, 1)]))
          .status,
        200,
      );
      await first.close();
      // The relay restarts (a new deploy, a new worker isolate).
      const second = relay({ upstream: comet() });
      const evil: TrackingEvent = {
        ...metric(runId, 2),
        key: "written-by-B",
      } as TrackingEvent;
      const answer = await post(second, tokenB, [start(runId, "B"), evil]);
      const text = await answer.text();
      await second.close();
      const experiment = fake.experiment(runId)!;
      const names = experiment.metrics.map((m) => m.metricName);
      assert.ok(
        !names.includes("written-by-B"),
        `B's answer ${answer.status} ${text}; experiment of project ${experiment.projectName} now has metrics ${
          JSON.stringify(names)
        }`,
      );
    } finally {
      await fake.close();
    }
  });
  it("a run-scoped token cannot move the aliases of a version another run made", async () => {
    const upstream = new InMemoryBackend();
    const app = relay({ upstream });
    const runScoped = await tok({ runId: "run-a" });
    const data = new TextEncoder().encode("weights");
    const staged = await stageArtifact({ files: [{ path: "w", data }] }, {
      name: "model",
    });
    await upstream.artifacts("web").putVersion({
      name: "model",
      type: "model",
      metadata: {},
      aliases: [],
      digest: staged.digest,
      size: staged.size,
      files: staged.files,
      createdBy: { project: "web", runId: "trusted-run", timestampMs: 0 },
    });
    const response = await app.request(
      "/v1/artifacts/model/versions/v0/aliases",
      {
        method: "POST",
        headers: { authorization: `Bearer ${runScoped}` },
        body: JSON.stringify({ aliases: ["production"] }),
      },
    );
    const text = await response.text();
    await app.close();
    assert.equal(response.status, 403, `answered ${response.status} ${text}`);
  });

  it("the upstream queue is bounded: 413 for a batch it can never hold, 503 while full; nothing admitted is lost", async () => {
    let down = true;
    const upstream = new InMemoryBackend({
      respond: () =>
        down
          ? { status: "retryable", error: new Error("down") }
          : { status: "success" },
    });
    const app = relay({
      upstream,
      store: new MemoryRelayStore({ maxSpoolBytes: 3000 }),
      forward: { waitMs: 20, retry: { initialDelayMs: 10, maxDelayMs: 20 } },
    });
    const token = await tok();
    const huge = [start("r1")];
    for (let seq = 1; seq <= 100; seq++) huge.push(metric("r1", seq));
    assert.equal((await post(app, token, huge)).status, 413);
    const first = [start("r1"), ...[1, 2, 3, 4, 5].map((s) => metric("r1", s))];
    assert.equal((await post(app, token, first)).status, 202);
    const more = Array.from({ length: 30 }, (_, i) => metric("r1", i + 6));
    const full = await post(app, token, more);
    assert.equal(full.status, 503);
    assert.ok(Number(full.headers.get("retry-after")) > 0);
    down = false;
    assert.ok((await app.flush(3000)).ok);
    const again = await post(app, token, more);
    assert.equal(again.status, 200);
    assert.deepEqual(
      upstream.events.map((e) => e.seq),
      Array.from({ length: 36 }, (_, i) => i),
    );
    await app.close();
  });

  it("resuming a run this relay does not know as the token's project's is 403", async () => {
    const app = relay({});
    const token = await tok();
    const resume: TrackingEvent = {
      ...start("old-run"),
      resume: true,
    } as TrackingEvent;
    const refused = await post(app, token, [resume]);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /cannot be resumed/);
    // A run this relay started for the project may be resumed.
    assert.equal((await post(app, token, [start("new-run")])).status, 200);
    const again: TrackingEvent = {
      ...start("new-run"),
      seq: 5,
      resume: true,
    } as TrackingEvent;
    assert.equal((await post(app, token, [again])).status, 200);
    await app.close();
  });
});
