// The example relay entries (examples/relay/{deno,bun,node}.ts) as real
// servers: each is started as a child process with only environment
// configuration (signing key, Comet credentials pointing at a fake Comet,
// PORT=0), prints its URL, accepts a run_start + metrics batch sent with a
// token minted from the same key (and refuses a forged one), and the fake
// Comet ends up with the metrics. SIGTERM then stops it cleanly.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`
// (each runner starts all three entries).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { mintToken } from "../relay/mod.ts";
import { encodeEvents } from "../event/codec.ts";
import type { TrackingEvent } from "../event/types.ts";
import { FakeComet } from "./helpers/fake_comet.ts";
import { relayFromEnv } from "../examples/relay/app.ts";
import { DENO_BIN, ROOT, RUNTIME } from "./helpers/runtime.ts";

const KEY = "relay-serve-signing-key-0123456789abcdef";
const POINTS = 20;

const nodeProcess = (globalThis as {
  process: { env: Record<string, string | undefined>; execPath: string };
}).process;

/** How each runtime starts its entry, from the repository root. */
const ENTRIES: { runtime: string; command: string; args: string[] }[] = [
  {
    runtime: "deno",
    command: DENO_BIN,
    args: ["run", "-A", "examples/relay/deno.ts"],
  },
  {
    runtime: "bun",
    command: join(ROOT, "node_modules/.bin/bun"),
    args: ["examples/relay/bun.ts"],
  },
  {
    runtime: "node",
    // Under `node --test` the same Node; under Deno or Bun, `node` on PATH.
    command: RUNTIME === "node" ? nodeProcess.execPath : "node",
    args: ["--import", "tsx", "examples/relay/node.ts"],
  },
];

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts an entry and resolves with the URL it prints. */
function startEntry(
  entry: (typeof ENTRIES)[number],
  env: Record<string, string>,
): Promise<Running> {
  const childEnv: Record<string, string | undefined> = {
    ...nodeProcess.env,
    NO_COLOR: "1",
    RUST_BACKTRACE: "0",
    ...env,
  };
  // Nothing from the outer environment may pick another upstream.
  for (
    const name of [
      "UETAI_BACKEND",
      "UETAI_RELAY_ADMIN_KEY",
      "UETAI_RELAY_ORIGINS",
      "UETAI_RELAY_STORE_DIR",
      "COMET_PROJECT_NAME",
      "MLFLOW_TRACKING_URI",
      "WANDB_API_KEY",
    ]
  ) delete childEnv[name];
  const child = spawn(entry.command, entry.args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${entry.runtime} printed no URL in 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${entry.runtime} exited (${
            code ?? signal
          }) before listening:\n${output}`,
        ),
      );
    });
  });
}

/**
 * Sends SIGTERM and resolves with the exit code, once the child's output is
 * read to the end (SIGKILL after 10 s).
 */
function stop(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
    child.kill("SIGTERM");
  });
}

describe("relayFromEnv (examples/relay/app.ts)", () => {
  it("needs a signing key and an upstream, never picks a relay upstream by itself, and reads the CORS origins", async () => {
    const comet = {
      COMET_API_KEY: "comet-key-0123456789",
      COMET_WORKSPACE: "ws",
      COMET_URL_OVERRIDE: "http://127.0.0.1:9/clientlib/",
    };
    assert.throws(() => relayFromEnv(comet), /UETAI_RELAY_SIGNING_KEY/);
    assert.throws(
      () =>
        relayFromEnv({
          UETAI_RELAY_SIGNING_KEY: KEY,
          UETAI_RELAY_URL: "http://127.0.0.1:9",
          UETAI_RELAY_TOKEN: "t",
        }),
      /no upstream/,
    );
    const app = relayFromEnv({
      ...comet,
      UETAI_RELAY_SIGNING_KEY: KEY,
      UETAI_RELAY_ORIGINS: "https://a.example, https://b.example",
    });
    for (
      const [origin, allowed] of [
        ["https://b.example", "https://b.example"],
        ["https://evil.example", null],
      ] as const
    ) {
      const response = await app.request("/v1/events", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
      assert.equal(
        response.headers.get("access-control-allow-origin"),
        allowed,
      );
    }
    // No admin key in the environment: no admin route.
    const admin = await app.request("/v1/admin/tokens", { method: "POST" });
    assert.equal(admin.status, 404);
    await app.close(100);
  });
});

describe("the relay example entries, served by each runtime", () => {
  let fake: FakeComet;
  before(async () => {
    fake = await FakeComet.start();
  });
  after(async () => {
    await fake.close();
  });

  for (const entry of ENTRIES) {
    it(`${entry.runtime}: forwards a token holder's batch to Comet`, async () => {
      const running = await startEntry(entry, {
        UETAI_RELAY_SIGNING_KEY: KEY,
        COMET_API_KEY: fake.apiKey,
        COMET_WORKSPACE: fake.workspace,
        COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
        PORT: "0",
      });
      let stopped = false;
      try {
        const project = `serve-${entry.runtime}`;
        const runId = crypto.randomUUID().replaceAll("-", "");
        const token = await mintToken(KEY, {
          project,
          runId,
          expiresInMs: 60_000,
        });
        const events: TrackingEvent[] = [
          {
            kind: "run_start",
            runId,
            seq: 0,
            timestampMs: Date.now(),
            project,
            tags: [entry.runtime],
          },
          ...Array.from({ length: POINTS }, (_, step): TrackingEvent => ({
            kind: "metric",
            runId,
            seq: step + 1,
            timestampMs: Date.now(),
            key: "loss",
            value: 1 / (step + 1),
            step,
          })),
        ];
        const post = (bearer: string) =>
          fetch(`${running.url}/v1/events`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${bearer}`,
              "content-type": "application/x-ndjson",
            },
            body: encodeEvents(events),
          });

        const forged = await mintToken(
          "not-the-relay-signing-key-0123456789abcdef",
          { project, expiresInMs: 60_000 },
        );
        const refused = await post(forged);
        const refusedText = await refused.text();
        assert.equal(refused.status, 401, refusedText);
        assert.ok(!refusedText.includes(fake.apiKey));

        const response = await post(token);
        const text = await response.text();
        assert.equal(response.status, 200, `${text}\n${running.output()}`);
        assert.deepEqual(JSON.parse(text), {
          status: "delivered",
          accepted: POINTS + 1,
          duplicates: 0,
        });

        // "delivered": Comet has it by the time the relay answers.
        const experiment = fake.experiment(runId);
        assert.ok(experiment, `no Comet experiment ${runId}`);
        assert.equal(experiment.projectName, project);
        assert.equal(experiment.workspaceName, fake.workspace);
        assert.deepEqual(experiment.tags, [entry.runtime]);
        assert.deepEqual(
          experiment.metrics.map((m) => [m.metricName, m.step]),
          Array.from({ length: POINTS }, (_, step) => ["loss", step]),
        );
        assert.deepEqual(
          experiment.metrics.map((m) => Number(m.metricValue)),
          Array.from({ length: POINTS }, (_, step) => 1 / (step + 1)),
        );

        // SIGTERM: the entry closes the relay (flushing it) and exits 0.
        const code = await stop(running.child);
        stopped = true;
        assert.match(running.output(), /uetai relay stopped \(all forwarded\)/);
        // Deno 2.9's node:child_process reports the signal it sent instead
        // of the exit code of a child that handled it (null, "SIGTERM").
        const expected = RUNTIME === "deno" ? [0, "SIGTERM"] : [0];
        assert.ok(expected.includes(code as number), `exit ${code}`);
      } finally {
        if (!stopped) await stop(running.child);
      }
    });
  }
});
