// The `uetai` command line (cli.ts): `main()` called in process with
// injected writers for help, usage errors and their exit codes, `runs` on a
// real local store, `artifact list`/`download` round trips (verified, with
// plain or redrawn progress), `sync` against the fake Comet (point for
// point, and nothing sent again), `ui` and `relay` serving until their
// signal is aborted; and one real child process per exit code path, to show
// `deno run -A cli.ts` runs.
//
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CliIO, EXIT_CODES, main, VERSION } from "../cli.ts";
import { createLogger } from "../logger/mod.ts";
import { LocalStore } from "../backends/local/mod.ts";
import { FakeComet } from "./helpers/fake_comet.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { DENO_BIN, ROOT } from "./helpers/runtime.ts";

interface Outcome {
  code: number;
  out: string;
  err: string;
}

/** Runs `main` in process with captured output (not a TTY, empty env by default). */
async function run(args: string[], io: CliIO = {}): Promise<Outcome> {
  let out = "";
  let err = "";
  const code = await main(args, {
    isTTY: false,
    env: {},
    ...io,
    stdout: (text) => out += text,
    stderr: (text) => err += text,
  });
  return { code, out, err };
}

/** Logs one finished run with a few metrics to the local store at `dir`. */
async function logRun(
  dir: string,
  project = "p",
  steps = 5,
): Promise<string> {
  const logger = createLogger({
    project,
    backend: "local",
    dir,
    tags: ["cli"],
    onError: () => {},
    exitFlushTimeoutMs: 0,
  });
  logger.setName("first-run");
  logger.logParams({ lr: 0.1 });
  for (let step = 0; step < steps; step++) {
    logger.log({ loss: 1 / (step + 1), acc: step / 10 }, { step });
  }
  await logger.end();
  const [run] = await new LocalStore({ dir }).listRuns(project);
  return run.runId;
}

/** Waits for `predicate` on the captured output, or fails. */
async function waitFor(
  check: () => string | undefined,
  what: string,
  ms = 15_000,
): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = check();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("uetai CLI: help and version", () => {
  it("prints the overview with --help and the version with --version", async () => {
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /^uetai \d+\.\d+\.\d+/);
    for (const command of ["runs", "sync", "artifact", "ui", "relay"]) {
      assert.match(help.out, new RegExp(`\\n  ${command}\\b`));
    }
    const version = await run(["--version"]);
    assert.deepEqual(version, { code: 0, out: `uetai ${VERSION}\n`, err: "" });
    const config = JSON.parse(
      await readFile(join(ROOT, "deno.json"), "utf8"),
    ) as { version: string };
    assert.equal(VERSION, config.version, "VERSION follows deno.json");
  });

  it("has --help on every command, and 'help <command>' says the same", async () => {
    const cases: [string[], RegExp][] = [
      [["runs", "--help"], /^Usage: uetai runs /],
      [["sync", "--help"], /^Usage: uetai sync /],
      [["artifact", "--help"], /^Usage: uetai artifact list/],
      [["artifact", "list", "--help"], /^Usage: uetai artifact list /],
      [["artifact", "download", "-h"], /^Usage: uetai artifact download /],
      [["ui", "--help"], /^Usage: uetai ui /],
      [["relay", "--help"], /^Usage: uetai relay /],
      // --help wins over everything else on the line, even bad flags.
      [["sync", "--to", "nowhere", "--bogus", "--help"], /^Usage: uetai sync/],
    ];
    for (const [args, pattern] of cases) {
      const result = await run(args);
      assert.equal(result.code, 0, args.join(" "));
      assert.match(result.out, pattern, args.join(" "));
      assert.equal(result.err, "", args.join(" "));
    }
    assert.equal(
      (await run(["help", "sync"])).out,
      (await run(["sync", "-h"])).out,
    );
    assert.match((await run(["ui", "--help"])).out, /127\.0\.0\.1/);
  });

  it("without a command prints the overview to stderr and exits 2", async () => {
    const result = await run([]);
    assert.equal(result.code, EXIT_CODES.usage);
    assert.equal(result.out, "");
    assert.match(result.err, /Usage: uetai <command>/);
  });
});

describe("uetai CLI: usage errors exit 2 and name the bad value", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["--frob"], /unknown flag '--frob'/],
    [["runs", "--bogus"], /unknown flag '--bogus' for 'uetai runs'/],
    [["runs", "-x"], /unknown flag '-x'/],
    [["runs", "extra"], /unexpected argument 'extra'/],
    [["runs", "--json=yes"], /'--json' takes no value/],
    [["runs", "--project"], /'--project' needs a value/],
    [["runs", "--project", "../up"], /invalid project '\.\.\/up'/],
    [["sync", "p/r"], /missing '--to'/],
    [["sync", "p/r", "--to", "nowhere"], /unknown sync target 'nowhere'/],
    [["sync", "--to", "comet"], /missing the run/],
    [["sync", "r1", "--to", "comet"], /run 'r1' has no project/],
    [["sync", "p/r", "--all", "--to", "comet"], /either a run or --all/],
    [["sync", "p/r", "--project", "q", "--to", "comet"], /'p'.*'q'/],
    [["sync", "p/r", "--to", "comet", "--timeout", "soon"], /'soon'/],
    [["sync", "p/r", "q/s", "--to", "comet"], /unexpected argument 'q\/s'/],
    [["artifact"], /missing subcommand/],
    [["artifact", "frob"], /unknown subcommand 'frob'/],
    [["artifact", "download", "model"], /missing '--to <dir>'/],
    [["artifact", "download", "--to", "x"], /missing the artifact/],
    [["artifact", "download", "bad name!", "--to", "x"], /'bad name!'/],
    [["artifact", "download", "model:", "--to", "x"], /invalid version ''/],
    [["artifact", "list", "--to", "x"], /unknown flag '--to'/],
    [["ui", "--port", "99999"], /invalid port '99999'/],
    [["ui", "--port", "http"], /invalid port 'http'/],
    [["ui", "--port"], /'--port' needs a value/],
    [["relay", "--port", "-1"], /'--port' needs a value|invalid port/],
    [["help", "nothing"], /no help for 'nothing'/],
  ];
  for (const [args, pattern] of cases) {
    it(`uetai ${args.join(" ")}`, async () => {
      const result = await run(args);
      assert.equal(result.code, EXIT_CODES.usage, result.err);
      assert.equal(result.out, "");
      assert.match(result.err, pattern);
      assert.match(result.err, /Run 'uetai .*--help' for usage/);
    });
  }
});

describe("uetai runs", () => {
  it("lists a logged run with its status, name and last metrics", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir);
      const table = await run(["runs", "--dir", dir]);
      assert.equal(table.code, 0, table.err);
      const [header, row] = table.out.split("\n");
      assert.match(
        header,
        /^PROJECT\s+RUN\s+NAME\s+STATUS\s+STARTED\s+STEP\s+LAST METRICS$/,
      );
      assert.match(
        row,
        new RegExp(`^p\\s+${runId}\\s+first-run\\s+finished\\s`),
      );
      assert.match(row, /\s4\s+loss=0\.2 acc=0\.4$/);
      assert.match(table.out, /1 run in /);

      const json = await run(["runs", "--dir", dir, "--json"]);
      assert.equal(json.code, 0);
      const [listed] = JSON.parse(json.out);
      assert.equal(listed.runId, runId);
      assert.equal(listed.status, "finished");
      assert.deepEqual(listed.tags, ["cli"]);
      assert.deepEqual(listed.params, { lr: 0.1 });
      assert.equal(listed.lastStep, 4);
      assert.deepEqual(listed.lastMetrics.loss, { step: 4, value: 0.2 });

      // The store folder from UETAI_DIR, and a project filter.
      const fromEnv = await run(["runs", "--project", "p"], {
        env: { UETAI_DIR: dir },
      });
      assert.match(fromEnv.out, new RegExp(runId));
      const other = await run(["runs", "--dir", dir, "--project", "other"]);
      assert.equal(other.code, 0);
      assert.match(other.out, /No runs in project 'other'/);
    });
  });

  it("says so when the store is empty or missing", async () => {
    await withTempDir(async (dir) => {
      const result = await run(["runs", "--dir", join(dir, "none")]);
      assert.equal(result.code, 0);
      assert.match(result.out, /^No runs in /);
      assert.deepEqual(
        JSON.parse((await run(["runs", "--json", "--dir", dir])).out),
        [],
      );
    });
  });
});

describe("uetai artifact", () => {
  async function logArtifacts(dir: string): Promise<Uint8Array> {
    const weights = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const logger = createLogger({
      project: "p",
      backend: "local",
      dir,
      onError: () => {},
      exitFlushTimeoutMs: 0,
    });
    await logger.logArtifact({
      name: "model",
      type: "model",
      aliases: ["best"],
      files: [
        { path: "config.json", data: new TextEncoder().encode('{"h":64}') },
        { path: "layers/w.bin", data: weights },
      ],
    });
    await logger.logArtifact({
      name: "model",
      type: "model",
      data: new TextEncoder().encode("second"),
      fileName: "notes.txt",
    });
    await logger.end();
    return weights;
  }

  it("lists versions with their aliases", async () => {
    await withTempDir(async (dir) => {
      await logArtifacts(dir);
      const table = await run(["artifact", "list", "--dir", dir]);
      assert.equal(table.code, 0, table.err);
      const lines = table.out.trim().split("\n");
      assert.match(
        lines[0],
        /^PROJECT\s+NAME\s+VERSION\s+TYPE\s+SIZE\s+FILES\s+CREATED\s+ALIASES$/,
      );
      assert.match(
        lines[1],
        /^p\s+model\s+v0\s+model\s+293\.0 KiB\s+2\s+.*best$/,
      );
      assert.match(lines[2], /^p\s+model\s+v1\s+model\s+6 B\s+1\s+.*latest$/);
      const [listed] = JSON.parse(
        (await run(["artifact", "list", "--dir", dir, "--json"])).out,
      );
      assert.equal(listed.name, "model");
      assert.deepEqual(
        listed.versions.map((
          v: { version: string; aliases: string[] },
        ) => [v.version, v.aliases]),
        [["v0", ["best"]], ["v1", ["latest"]]],
      );
      const none = await run(["artifact", "list", "--dir", join(dir, "x")]);
      assert.match(none.out, /^No artifacts in /);
    });
  });

  it("downloads a version verified, with plain progress lines when not a TTY", async () => {
    await withTempDir(async (dir) => {
      const weights = await logArtifacts(dir);
      const to = join(dir, "restored");
      const result = await run([
        "artifact",
        "download",
        "model:best",
        "--to",
        to,
        "--dir",
        dir,
      ]);
      assert.equal(result.code, 0, result.err);
      assert.deepEqual(
        await readFile(join(to, "layers/w.bin")),
        Buffer.from(weights),
      );
      assert.equal(await readFile(join(to, "config.json"), "utf8"), '{"h":64}');
      assert.ok(!result.out.includes("\r"), "no redraw when not a TTY");
      const progress = result.out.split("\n").filter((line) =>
        line.startsWith("download model:v0:")
      );
      assert.ok(progress.length >= 2, result.out);
      assert.match(progress[0], /^download model:v0: 0% \(0 B\/293\.0 KiB\)$/);
      assert.match(progress.at(-1)!, /: 100% \(293\.0 KiB\/293\.0 KiB\)/);
      assert.match(
        result.out,
        /Downloaded p\/model:v0 to .*: 2 files, 293\.0 KiB, 2 fetched, 0 already there; SHA-256 verified/,
      );

      // Again: nothing fetched. The latest version by default.
      const again = await run([
        "artifact",
        "download",
        "model:v0",
        "--to",
        to,
        "--dir",
        dir,
      ]);
      assert.match(again.out, /0 fetched, 2 already there/);
      const latest = await run([
        "artifact",
        "download",
        "model",
        "--to",
        join(dir, "l"),
        "--dir",
        dir,
      ]);
      assert.equal(latest.code, 0, latest.err);
      assert.equal(
        await readFile(join(dir, "l", "notes.txt"), "utf8"),
        "second",
      );
    });
  });

  it("redraws one progress bar with \\r on a TTY", async () => {
    await withTempDir(async (dir) => {
      await logArtifacts(dir);
      const result = await run(
        [
          "artifact",
          "download",
          "model:v0",
          "--to",
          join(dir, "t"),
          "--dir",
          dir,
        ],
        { isTTY: true, columns: 200 },
      );
      assert.equal(result.code, 0, result.err);
      const redraw = "\r\x1b[2K";
      const frames = result.out.split(redraw).slice(1);
      assert.ok(frames.length >= 2, JSON.stringify(result.out));
      assert.match(frames[0], /^download model:v0 \[\.{24}\]\s+0% 0 B\//);
      assert.match(
        frames.at(-1)!,
        /^download model:v0 \[#{24}\] 100% 293\.0 KiB\/293\.0 KiB\n/,
      );
      assert.ok(
        frames.slice(0, -1).every((frame) => !frame.includes("\n")),
        "the bar stays on one line until it ends",
      );
      assert.ok(!/download model:v0: \d+%/.test(result.out), "no plain lines");
    });
  });

  it("fails with exit 1 on a corrupted store and leaves nothing half-written", async () => {
    await withTempDir(async (dir) => {
      await logArtifacts(dir);
      const [manifest] = await new LocalStore({ dir }).artifacts("p")
        .listVersions("model");
      const entry = manifest.files.find((f) => f.path === "layers/w.bin")!;
      const blob = join(
        dir,
        "p",
        ".artifacts",
        ".blobs",
        entry.sha256.slice(0, 2),
        entry.sha256,
      );
      const bytes = await readFile(blob);
      bytes[1000] ^= 0xff;
      await writeFile(blob, bytes);
      const to = join(dir, "bad");
      const result = await run([
        "artifact",
        "download",
        "model:v0",
        "--to",
        to,
        "--dir",
        dir,
      ]);
      assert.equal(result.code, EXIT_CODES.failure);
      assert.match(result.err, /layers\/w\.bin/);
      assert.ok(!existsSync(join(to, "layers", "w.bin")));
      assert.deepEqual(await readdir(join(to, "layers")), []);
    });
  });

  it("exits 1 for an artifact or version that does not exist, 2 when the project is ambiguous", async () => {
    await withTempDir(async (dir) => {
      await logArtifacts(dir);
      const missing = await run([
        "artifact",
        "download",
        "nope",
        "--to",
        join(dir, "n"),
        "--dir",
        dir,
      ]);
      assert.equal(missing.code, EXIT_CODES.failure);
      assert.match(missing.err, /no artifact 'nope'/);
      const noVersion = await run([
        "artifact",
        "download",
        "model:v9",
        "--to",
        join(dir, "n"),
        "--dir",
        dir,
      ]);
      assert.equal(noVersion.code, EXIT_CODES.failure);
      assert.match(noVersion.err, /v9/);

      const logger = createLogger({
        project: "q",
        backend: "local",
        dir,
        onError: () => {},
        exitFlushTimeoutMs: 0,
      });
      await logger.logArtifact({
        name: "model",
        type: "model",
        data: new Uint8Array(3),
      });
      await logger.end();
      const ambiguous = await run([
        "artifact",
        "download",
        "model",
        "--to",
        join(dir, "n"),
        "--dir",
        dir,
      ]);
      assert.equal(ambiguous.code, EXIT_CODES.usage);
      assert.match(ambiguous.err, /several projects \(p, q\).*--project/);
      const picked = await run([
        "artifact",
        "download",
        "model",
        "--project",
        "q",
        "--to",
        join(dir, "n"),
        "--dir",
        dir,
      ]);
      assert.equal(picked.code, 0, picked.err);
    });
  });
});

describe("uetai sync", () => {
  it("a missing credential is a usage error (exit 2) naming the variable", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir);
      const comet = await run([
        "sync",
        `p/${runId}`,
        "--to",
        "comet",
        "--dir",
        dir,
      ]);
      assert.equal(comet.code, EXIT_CODES.usage);
      assert.match(comet.err, /cannot sync to comet: .*COMET_API_KEY/);
      const missingRun = await run([
        "sync",
        "p/nope",
        "--to",
        "comet",
        "--dir",
        dir,
      ]);
      assert.equal(missingRun.code, EXIT_CODES.failure);
      assert.match(missingRun.err, /no run 'p\/nope'/);
    });
  });

  it(
    "sends a run to the fake Comet point for point, and nothing the second time",
    {
      skip: !existsSync(join(ROOT, "sync", "mod.ts")) &&
        "sync/mod.ts does not exist yet",
    },
    async () => {
      const fake = await FakeComet.start();
      try {
        await withTempDir(async (dir) => {
          const runId = await logRun(dir, "p", 40);
          const env = {
            COMET_API_KEY: fake.apiKey,
            COMET_WORKSPACE: fake.workspace,
            COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
          };
          const first = await run([
            "sync",
            `p/${runId}`,
            "--to",
            "comet",
            "--dir",
            dir,
          ], { env });
          assert.equal(first.code, 0, first.err + first.out);
          assert.match(
            first.out,
            new RegExp(`synced p/${runId} → comet: \\d+ sent, 0 already there`),
          );
          assert.match(
            first.out,
            new RegExp(`sync p/${runId} → comet: 0% \\(0/`),
          );
          assert.match(first.out, new RegExp(`sync p/${runId} → comet: 100%`));
          assert.ok(!first.out.includes("\r"));
          const [experiment] = fake.experiments();
          const local = await new LocalStore({ dir }).readMetrics("p", runId);
          for (const key of ["loss", "acc"]) {
            const sent = experiment.metrics.filter((m) => m.metricName === key)
              .map((m) => [m.step, Number(m.metricValue)]);
            assert.deepEqual(
              sent,
              local.get(key)!.map((p) => [p.step, p.value]),
              key,
            );
          }

          const requests = fake.requests.length;
          const second = await run([
            "sync",
            "--all",
            "--project",
            "p",
            "--to",
            "comet",
            "--dir",
            dir,
            "--json",
          ], { env });
          assert.equal(second.code, 0, second.err);
          const [report] = JSON.parse(second.out);
          assert.equal(report.runId, runId);
          assert.equal(report.sent, 0);
          assert.equal(report.complete, true);
          assert.equal(fake.experiments().length, 1);
          const metricWrites = fake.requests.slice(requests).filter((r) =>
            /metric/i.test(r.path)
          );
          assert.deepEqual(metricWrites, [], "no metric sent again");
        });
      } finally {
        await fake.close();
      }
    },
  );

  it(
    "an interrupted sync exits 1, and the same command resumes it without sending twice",
    {
      skip: !existsSync(join(ROOT, "sync", "mod.ts")) &&
        "sync/mod.ts does not exist yet",
    },
    async () => {
      const fake = await FakeComet.start();
      try {
        await withTempDir(async (dir) => {
          const runId = await logRun(dir, "p", 40);
          const env = {
            COMET_API_KEY: fake.apiKey,
            COMET_WORKSPACE: fake.workspace,
            COMET_URL_OVERRIDE: `${fake.url}/clientlib/`,
          };
          const args = ["sync", `p/${runId}`, "--to", "comet", "--dir", dir];
          const metricPath = /batch\/logger\/experiment\/metric/;
          fake.hang({ path: metricPath, count: 1 });
          const stop = new AbortController();
          const pending = run(args, { env, signal: stop.signal });
          await waitFor(
            () =>
              fake.requests.some((r) => metricPath.test(r.path))
                ? "seen"
                : undefined,
            "a metric request",
          );
          stop.abort();
          const first = await pending;
          assert.equal(first.code, EXIT_CODES.failure, first.out + first.err);
          assert.match(first.out, new RegExp(`INCOMPLETE p/${runId} → comet`));
          assert.match(first.err, /interrupted: run the same command again/);

          const second = await run(args, { env });
          assert.equal(second.code, 0, second.out + second.err);
          assert.match(second.out, new RegExp(`synced p/${runId} → comet`));
          const local = await new LocalStore({ dir }).readMetrics("p", runId);
          const metrics = fake.experiments().flatMap((e) => e.metrics);
          for (const key of ["loss", "acc"]) {
            assert.deepEqual(
              metrics.filter((m) => m.metricName === key)
                .map((m) => [m.step, Number(m.metricValue)]),
              local.get(key)!.map((p) => [p.step, p.value]),
              key,
            );
          }
        });
      } finally {
        await fake.close();
      }
    },
  );
});

describe("uetai ui and relay", () => {
  it("ui serves the dashboard on 127.0.0.1 until its signal is aborted", {
    skip: !existsSync(join(ROOT, "dashboard", "mod.ts")) &&
      "dashboard/mod.ts does not exist yet",
  }, async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir);
      const stop = new AbortController();
      let out = "";
      let err = "";
      const done = main(["ui", "--dir", dir, "--port", "0"], {
        stdout: (text) => out += text,
        stderr: (text) => err += text,
        env: {},
        signal: stop.signal,
      });
      try {
        const url = await waitFor(
          () => /uetai dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1],
          "the dashboard URL",
        );
        assert.match(out, /loopback only/);
        const page = await fetch(url);
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type") ?? "", /text\/html/);
        await page.text();
        const api = await fetch(new URL("/api/runs", url));
        assert.equal(api.status, 200);
        const { runs } = await api.json() as { runs: { runId: string }[] };
        assert.deepEqual(runs.map((r) => r.runId), [runId]);
      } finally {
        stop.abort();
      }
      assert.equal(await done, 0, err);
      assert.match(out, /stopped/);
    });
  });

  it("ui exits 1 when the port is taken", {
    skip: !existsSync(join(ROOT, "dashboard", "mod.ts")) &&
      "dashboard/mod.ts does not exist yet",
  }, async () => {
    await withTempDir(async (dir) => {
      const stop = new AbortController();
      let out = "";
      const first = main(["ui", "--dir", dir, "--port", "0"], {
        stdout: (text) => out += text,
        stderr: () => {},
        env: {},
        signal: stop.signal,
      });
      try {
        const port = await waitFor(
          () => /127\.0\.0\.1:(\d+)\//.exec(out)?.[1],
          "the port",
        );
        const second = await run(["ui", "--dir", dir, "--port", port]);
        assert.equal(second.code, EXIT_CODES.failure);
        assert.match(second.err, new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
      } finally {
        stop.abort();
      }
      assert.equal(await first, 0);
    });
  });

  it("relay needs a signing key and an upstream (exit 2), then serves until stopped", async () => {
    const noKey = await run(["relay"]);
    assert.equal(noKey.code, EXIT_CODES.usage);
    assert.match(noKey.err, /UETAI_RELAY_SIGNING_KEY/);
    const key = "cli-relay-signing-key-0123456789abcdef";
    const noUpstream = await run(["relay"], {
      env: { UETAI_RELAY_SIGNING_KEY: key },
    });
    assert.equal(noUpstream.code, EXIT_CODES.usage);
    assert.match(noUpstream.err, /no upstream/);
    const badUpstream = await run(["relay"], {
      env: { UETAI_RELAY_SIGNING_KEY: key, UETAI_BACKEND: "comet" },
    });
    assert.equal(badUpstream.code, EXIT_CODES.usage);
    assert.match(badUpstream.err, /upstream 'comet'.*COMET_API_KEY/);

    const stop = new AbortController();
    let out = "";
    let err = "";
    const done = main(["relay", "--port", "0"], {
      stdout: (text) => out += text,
      stderr: (text) => err += text,
      env: { UETAI_RELAY_SIGNING_KEY: key, UETAI_BACKEND: "memory" },
      signal: stop.signal,
    });
    try {
      const url = await waitFor(
        () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
        "the relay URL",
      );
      const health = await fetch(`${url}/v1/health`);
      await health.text();
      assert.equal(health.status, 200);
      const refused = await fetch(`${url}/v1/events`, {
        method: "POST",
        headers: {
          authorization: "Bearer forged",
          "content-type": "application/x-ndjson",
        },
        body: "{}\n",
      });
      await refused.text();
      assert.equal(refused.status, 401);
    } finally {
      stop.abort();
    }
    assert.equal(await done, 0, err);
    assert.match(out, /relay stopped \(all forwarded\)/);
  });
});

describe("uetai as a program", () => {
  /** Runs `deno run -A cli.ts ...` and collects its output and exit code. */
  function denoCli(args: string[]): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const child = spawn(DENO_BIN, ["run", "-A", "cli.ts", ...args], {
        cwd: ROOT,
        env: {
          ...(globalThis as { process: { env: Record<string, string> } })
            .process.env,
          NO_COLOR: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout!.on("data", (chunk) => out += chunk);
      child.stderr!.on("data", (chunk) => err += chunk);
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
    });
  }

  it("`deno run -A cli.ts runs --dir <tmp>` lists the run; a bad command exits 2", async () => {
    await withTempDir(async (dir) => {
      const runId = await logRun(dir);
      await mkdir(join(dir, "empty"));
      const listed = await denoCli(["runs", "--dir", dir]);
      assert.equal(listed.code, 0, listed.err);
      assert.match(listed.out, new RegExp(`${runId}\\s+first-run\\s+finished`));
      const bad = await denoCli(["runz"]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /unknown command 'runz'/);
    });
  });
});
