// The `uetai` command line. It runs under Deno, Bun and Node (through
// `tsx`): argv, the environment, stdout and signals are reached through
// `Deno` when it exists, else `globalThis.process`; Node built-ins only
// through `process.getBuiltinModule` (the HTTP server under Node, the entry
// check under Node).

/**
 * The `uetai` command line: list the runs of the local store, sync them to
 * Comet, MLflow or W&B, list and download artifacts, serve the dashboard
 * and start a relay.
 *
 * ```sh
 * deno run -A jsr:@uetai/uetai/cli runs
 * deno run -A jsr:@uetai/uetai/cli ui                       # http://127.0.0.1:6070/
 * deno run -A jsr:@uetai/uetai/cli sync mnist/<runId> --to comet
 * deno run -A jsr:@uetai/uetai/cli artifact download model:best --to ./restored
 * ```
 *
 * Exit codes: `0` success, `1` failure (such as a sync that did not
 * complete, a missing run or a corrupted download), `2` usage or
 * configuration error (an unknown command or flag, a missing argument, a
 * missing credential), with a message naming the bad value.
 *
 * {@linkcode main} runs one command in process, with injectable output, so
 * other programs and tests can call it.
 *
 * @example
 * ```ts
 * import { main } from "@uetai/uetai/cli";
 * import { createLogger } from "@uetai/uetai";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ project: "demo", backend: "local", dir });
 * logger.log({ loss: 0.25 }, { step: 3 });
 * await logger.end();
 *
 * let out = "";
 * const code = await main(["runs", "--dir", dir], {
 *   stdout: (text) => out += text,
 *   stderr: (text) => out += text,
 * });
 * assert.equal(code, 0);
 * assert.match(out, /finished/);
 * assert.match(out, /loss=0\.25/);
 * assert.equal(await main(["runs", "--bogus"], { stderr: () => {} }), 2);
 * ```
 *
 * @module
 */
import { toNativeResponse } from "./runtime/native_response.ts";
import "./backends/builtin.ts";
import { createBackend } from "./logger/registry.ts";
import type { Backend } from "./pipeline/backend.ts";
import { LocalStore } from "./backends/local/local_store.ts";
import type { RunInfo } from "./backends/local/local_store.ts";
import { downloadVersion } from "./artifact/download.ts";
import { assertArtifactName, parseVersionSelector } from "./artifact/names.ts";
import type { ArtifactManifest, ArtifactProgress } from "./artifact/types.ts";
import type { SyncProgress, SyncReport } from "./sync/mod.ts";
import { assertSafeName, DEFAULT_DIR, readEnvironment } from "./runtime/fs.ts";

/** The version of this package, as `uetai --version` prints it. */
export const VERSION: string = "0.1.0";

/** The exit codes {@linkcode main} returns. */
export const EXIT_CODES: {
  /** The command did what was asked. */
  readonly ok: 0;
  /** The command failed (a sync that did not complete, a missing run, a bad download). */
  readonly failure: 1;
  /** Usage or configuration error: unknown command or flag, missing argument or credential. */
  readonly usage: 2;
} = { ok: 0, failure: 1, usage: 2 };

/** Default port of `uetai ui`. */
export const DEFAULT_UI_PORT = 6070;

/** Default port of `uetai relay` (when `PORT` is not set). */
export const DEFAULT_RELAY_PORT = 8787;

/** Where {@linkcode main} writes and what it reads; every field has a default. */
export interface CliIO {
  /**
   * Writes text to standard output as is (no newline is added).
   * Default: the process's stdout.
   */
  stdout?: (text: string) => void;
  /**
   * Writes text to standard error as is. Default: the process's stderr.
   */
  stderr?: (text: string) => void;
  /**
   * Whether stdout is a terminal: progress bars are redrawn in place with
   * `\r` when it is, and written as plain lines when it is not. Default:
   * detected, and `false` when `CI` is set or `TERM` is `dumb`.
   */
  isTTY?: boolean;
  /** Width of the terminal in columns, to keep a redrawn line on one row. Default: detected. */
  columns?: number;
  /** Environment variables. Default: the process's. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Stops `ui` and `relay`, and interrupts `sync` and downloads, when
   * aborted. Default: SIGINT or SIGTERM (a second one exits at once).
   */
  signal?: AbortSignal;
}

// ------------------------------------------------------------------ errors

/** A usage or configuration error: exit code 2. */
class UsageError extends Error {
  /** The command whose help to point at, if any. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure already explained to the user: exit code 1. */
class Failure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Failure";
  }
}

// ----------------------------------------------------------------- runtime

interface ProcessLike {
  argv?: string[];
  env?: Record<string, string | undefined>;
  exitCode?: number | string;
  exit?: (code?: number) => never;
  getBuiltinModule?: (name: string) => unknown;
  stdout?: WritableLike;
  stderr?: WritableLike;
  on?: (event: string, listener: () => void) => unknown;
  off?: (event: string, listener: () => void) => unknown;
}

interface WritableLike {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

interface DenoLike {
  args: string[];
  stdout: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  stderr: { writeSync(bytes: Uint8Array): number };
  consoleSize?: () => { columns: number; rows: number };
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  exit(code?: number): never;
  exitCode?: number;
  unrefTimer?: (id: number) => void;
  serve: typeof Deno.serve;
}

interface BunServer {
  port: number;
  hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): BunServer;
}

function denoRuntime(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

function bunRuntime(): BunLike | undefined {
  return (globalThis as { Bun?: BunLike }).Bun;
}

function nodeProcess(): ProcessLike | undefined {
  return (globalThis as { process?: ProcessLike }).process;
}

function builtin<T>(name: string): T {
  const module = nodeProcess()?.getBuiltinModule?.(name);
  if (!module) {
    throw new Failure(
      `this runtime has no '${name}' (Node.js 20.16 or later, Deno or Bun is needed)`,
    );
  }
  return module as T;
}

const encoder = new TextEncoder();

function writeAll(
  target: { writeSync(bytes: Uint8Array): number },
  text: string,
): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(target.writeSync(bytes));
}

function defaultWriter(stream: "stdout" | "stderr"): (text: string) => void {
  const deno = denoRuntime();
  if (deno) return (text) => writeAll(deno[stream], text);
  const target = nodeProcess()?.[stream];
  if (target) return (text) => void target.write(text);
  return stream === "stdout"
    ? (text) => console.log(text.replace(/\n$/, ""))
    : (text) => console.error(text.replace(/\n$/, ""));
}

function detectTTY(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.CI && env.CI !== "0" && env.CI !== "false") return false;
  if (env.TERM === "dumb") return false;
  const deno = denoRuntime();
  try {
    if (deno) return deno.stdout.isTerminal();
    return nodeProcess()?.stdout?.isTTY === true;
  } catch {
    return false;
  }
}

function detectColumns(): number | undefined {
  try {
    const deno = denoRuntime();
    if (deno?.consoleSize) return deno.consoleSize().columns;
    const columns = nodeProcess()?.stdout?.columns;
    return typeof columns === "number" && columns > 0 ? columns : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A signal aborted on SIGINT or SIGTERM (a second signal exits at once with
 * 130), and the function that removes the listeners.
 */
function processSignal(
  onFirst: () => void,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const deno = denoRuntime();
  const process = nodeProcess();
  const names = ["SIGINT", "SIGTERM"];
  const handler = (): void => {
    if (controller.signal.aborted) {
      if (deno) deno.exit(130);
      process?.exit?.(130);
      return;
    }
    onFirst();
    controller.abort(new Error("interrupted"));
  };
  const added: string[] = [];
  for (const name of names) {
    try {
      if (deno) deno.addSignalListener(name, handler);
      else if (process?.on) process.on(name, handler);
      else continue;
      added.push(name);
    } catch {
      // Signals this platform lacks (SIGTERM on Windows).
    }
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of added) {
        try {
          if (deno) deno.removeSignalListener(name, handler);
          else process?.off?.(name, handler);
        } catch {
          // Already gone.
        }
      }
    },
  };
}

// -------------------------------------------------------------- argv parse

type FlagKind = "string" | "boolean";
type FlagSpec = Readonly<Record<string, FlagKind>>;

interface Parsed {
  flags: Record<string, string | boolean>;
  positionals: string[];
}

function parseFlags(
  command: string,
  args: readonly string[],
  spec: FlagSpec,
): Parsed {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new UsageError(
        `unknown flag '${arg}' for 'uetai ${command}'`,
        command,
      );
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) {
      throw new UsageError(
        `unknown flag '--${name}' for 'uetai ${command}'`,
        command,
      );
    }
    if (kind === "boolean") {
      if (eq !== -1) {
        throw new UsageError(
          `flag '--${name}' takes no value (got '${arg}')`,
          command,
        );
      }
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
      value = args[++i];
    }
    if (value === undefined || value === "") {
      throw new UsageError(`flag '--${name}' needs a value`, command);
    }
    flags[name] = value;
  }
  return { flags, positionals };
}

function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

function stringFlag(parsed: Parsed, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === "string" ? value : undefined;
}

function noPositionals(command: string, parsed: Parsed, max = 0): void {
  if (parsed.positionals.length > max) {
    throw new UsageError(
      `unexpected argument '${parsed.positionals[max]}' for 'uetai ${command}'`,
      command,
    );
  }
}

function checkProject(command: string, project: string | undefined): void {
  if (project === undefined) return;
  try {
    assertSafeName("project", project);
  } catch {
    throw new UsageError(
      `invalid project '${project}': expected a name without '/', '\\' or ':', not starting with '.'`,
      command,
    );
  }
}

function parsePort(command: string, text: string | undefined): number {
  const port = Number(text);
  if (!/^\d+$/.test(text ?? "") || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(
      `invalid port '${text}': expected a whole number from 0 to 65535`,
      command,
    );
  }
  return port;
}

function storeDir(parsed: Parsed, ctx: Context): string {
  return stringFlag(parsed, "dir") ?? ctx.env.UETAI_DIR ?? DEFAULT_DIR;
}

// ---------------------------------------------------------------- help text

const COMMANDS = ["runs", "sync", "artifact", "ui", "relay"] as const;

const HELP: Record<string, string> = {
  uetai: `uetai ${VERSION}: experiment tracking from the command line

Usage: uetai <command> [options]

Commands:
  runs                 List runs of the local store (status, last metrics)
  sync                 Send runs of the local store to Comet, MLflow or W&B
  artifact list        List artifacts (names, versions, aliases)
  artifact download    Download an artifact version, verified
  ui                   Serve the dashboard on 127.0.0.1
  relay                Start a relay configured from the environment

Options:
  -h, --help           Show help (also after a command: uetai sync --help)
  --version            Print the version

The local store is ./.uetai unless --dir or UETAI_DIR says otherwise.
Exit codes: 0 success, 1 failure, 2 usage or configuration error.
`,
  runs: `Usage: uetai runs [--project P] [--dir D] [--json]

List the runs of the local store, newest first: id, name, status, start
time, last step and the last value of each metric.

Options:
  --project P   Only the runs of project P (default: every project)
  --dir D       The local store (default: $UETAI_DIR or .uetai)
  --json        Print JSON (one array of runs) instead of a table
  -h, --help    Show this help
`,
  sync: `Usage: uetai sync <project>/<runId> --to <backend> [options]
       uetai sync --all [--project P] --to <backend> [options]

Send runs of the local store to a hosted dashboard. Syncing is idempotent:
a second sync of the same run sends nothing new, and an interrupted sync
(Ctrl+C, network loss) resumes where it stopped when run again.

Backends and their credentials (read from the environment):
  comet    COMET_API_KEY, COMET_WORKSPACE (COMET_URL_OVERRIDE for a
           self-hosted server)
  mlflow   MLFLOW_TRACKING_URI (MLFLOW_TRACKING_TOKEN or
           MLFLOW_TRACKING_USERNAME/PASSWORD when the server needs them)
  wandb    WANDB_API_KEY (WANDB_ENTITY, WANDB_BASE_URL)

Options:
  --to B        comet, mlflow or wandb (required)
  --all         Sync every run (of --project P, if given)
  --project P   The project of <runId> given alone, or the project --all syncs
  --dir D       The local store (default: $UETAI_DIR or .uetai)
  --timeout S   Give up on a run after S seconds (it resumes on the next sync)
  --json        Print the reports as JSON (progress goes to stderr)
  -h, --help    Show this help

Exits 1 when a run could not be synced completely.
`,
  artifact: `Usage: uetai artifact list [--project P] [--dir D] [--json]
       uetai artifact download <name>[:<version>] --to <dir> [options]

Artifacts of the local store.

  list       Names, versions, types, sizes and aliases
  download   Write a version's files into a folder; every file is checked
             against its SHA-256 before it is put in place

Run 'uetai artifact list --help' or 'uetai artifact download --help'.
`,
  "artifact list": `Usage: uetai artifact list [--project P] [--dir D] [--json]

List the artifacts of the local store: each version with its type, size,
file count and aliases (such as latest, best).

Options:
  --project P   Only the artifacts of project P (default: every project)
  --dir D       The local store (default: $UETAI_DIR or .uetai)
  --json        Print JSON instead of a table
  -h, --help    Show this help
`,
  "artifact download":
    `Usage: uetai artifact download <name>[:<version>] --to <dir> [options]

Download an artifact version from the local store into a folder. The
version is 'latest' (default), a number (3 or v3) or an alias (best).
Every file is streamed to a temporary file, checked against its size and
SHA-256, then renamed into place; files already there with the right
content are kept.

Options:
  --to DIR      The folder to write into, created when missing (required)
  --project P   The project holding the artifact (needed when several do)
  --dir D       The local store (default: $UETAI_DIR or .uetai)
  -h, --help    Show this help
`,
  ui: `Usage: uetai ui [--dir D] [--port N] [--host H]

Serve the dashboard over the local store, and print its URL. It listens on
127.0.0.1 (loopback: only this machine can reach it) unless --host says
otherwise, and runs until Ctrl+C.

Options:
  --dir D       The local store (default: $UETAI_DIR or .uetai)
  --port N      The port (default: ${DEFAULT_UI_PORT}; 0 picks a free one)
  --host H      The address to listen on (default: 127.0.0.1). The dashboard
                has no login: any other address lets others read your runs
  -h, --help    Show this help
`,
  relay: `Usage: uetai relay [--port N] [--host H] [--dir D]

Start a relay: it accepts events and artifacts from clients holding a
token (createLogger({ relay: { url, token } })) and forwards them to the
upstream backend, whose credentials stay here. Runs until Ctrl+C, then
forwards what it still holds.

Environment:
  UETAI_RELAY_SIGNING_KEY   Key tokens are signed with (required, 32+ bytes)
  UETAI_RELAY_ADMIN_KEY     Enables POST /v1/admin/tokens and GET /v1/admin/audit
  UETAI_RELAY_ORIGINS       Comma-separated browser origins allowed by CORS
  UETAI_RELAY_STORE_DIR     Keep the relay's queue in files there (survives restarts)
  UETAI_BACKEND             Upstream backend names (comma-separated); else the
                            first with credentials set: COMET_API_KEY,
                            MLFLOW_TRACKING_URI, WANDB_API_KEY
  PORT                      The port when --port is not given

Options:
  --port N      The port (default: $PORT or ${DEFAULT_RELAY_PORT}; 0 picks a free one)
  --host H      The address to listen on (default: 127.0.0.1)
  --dir D       Folder of the upstream's spools (default: $UETAI_DIR or .uetai)
  -h, --help    Show this help
`,
};

// ----------------------------------------------------------------- context

interface Context {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
  columns: number | undefined;
  env: Readonly<Record<string, string | undefined>>;
  signal: AbortSignal | undefined;
}

/**
 * A signal for a long-running command: the one given in `io`, else one
 * aborted by SIGINT/SIGTERM (whose listeners `dispose` removes).
 */
function commandSignal(
  ctx: Context,
  onFirst: () => void = () => {},
): { signal: AbortSignal; dispose: () => void } {
  if (ctx.signal) return { signal: ctx.signal, dispose: () => {} };
  return processSignal(onFirst);
}

// ------------------------------------------------------------------- main

/**
 * Runs one `uetai` command in process.
 *
 * @param args The arguments after the program name, such as
 * `["runs", "--project", "mnist"]`.
 * @param io Output writers, terminal detection, environment and a stop
 * signal; the process's by default.
 * @returns The exit code: `0` success, `1` failure, `2` usage or
 * configuration error (see {@linkcode EXIT_CODES}).
 *
 * @example
 * ```ts
 * import { main } from "@uetai/uetai/cli";
 * import assert from "node:assert/strict";
 * let err = "";
 * const code = await main(["sync", "--to", "nowhere"], { stderr: (t) => err += t });
 * assert.equal(code, 2);
 * assert.match(err, /'nowhere'/);
 * ```
 */
export async function main(
  args: readonly string[],
  io: CliIO = {},
): Promise<number> {
  const env = io.env ?? readEnvironment();
  const ctx: Context = {
    out: io.stdout ?? defaultWriter("stdout"),
    err: io.stderr ?? defaultWriter("stderr"),
    isTTY: io.isTTY ?? detectTTY(env),
    columns: io.columns ??
      (io.isTTY === undefined ? detectColumns() : undefined),
    env,
    signal: io.signal,
  };
  const [command, ...rest] = args;
  try {
    if (command === undefined) {
      ctx.err(HELP.uetai);
      return EXIT_CODES.usage;
    }
    if (command === "--help" || command === "-h") {
      ctx.out(HELP.uetai);
      return EXIT_CODES.ok;
    }
    if (command === "--version" || command === "-V") {
      ctx.out(`uetai ${VERSION}\n`);
      return EXIT_CODES.ok;
    }
    if (command === "help") {
      const topic = rest.join(" ");
      if (topic === "") {
        ctx.out(HELP.uetai);
        return EXIT_CODES.ok;
      }
      if (!Object.hasOwn(HELP, topic) || topic === "uetai") {
        throw new UsageError(
          `no help for '${topic}' (commands: ${COMMANDS.join(", ")})`,
        );
      }
      ctx.out(HELP[topic]);
      return EXIT_CODES.ok;
    }
    switch (command) {
      case "runs":
        return await runsCommand(rest, ctx);
      case "sync":
        return await syncCommand(rest, ctx);
      case "artifact":
      case "artifacts":
        return await artifactCommand(rest, ctx);
      case "ui":
        return await uiCommand(rest, ctx);
      case "relay":
        return await relayCommand(rest, ctx);
      default:
        throw new UsageError(
          command.startsWith("-")
            ? `unknown flag '${command}' (give a command first: ${
              COMMANDS.join(", ")
            })`
            : `unknown command '${command}' (commands: ${COMMANDS.join(", ")})`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.err(`uetai: ${error.message}\n`);
      ctx.err(
        `Run 'uetai ${
          error.command ? `${error.command} ` : ""
        }--help' for usage.\n`,
      );
      return EXIT_CODES.usage;
    }
    ctx.err(`uetai: ${describeError(error)}\n`);
    return EXIT_CODES.failure;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Failure) return error.message;
  if (error instanceof Error) {
    let text = error.message;
    let cause = (error as { cause?: unknown }).cause;
    for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
      if (!text.includes(cause.message)) text += `: ${cause.message}`;
      cause = (cause as { cause?: unknown }).cause;
    }
    return text;
  }
  return String(error);
}

// ------------------------------------------------------------------- runs

interface RunRow {
  project: string;
  runId: string;
  name: string | null;
  status: string;
  tags: string[];
  params: RunInfo["params"];
  startedMs: number;
  endedMs: number | null;
  lastStep: number | null;
  lastMetrics: Record<string, { step: number; value: number | null }>;
  path: string;
}

async function runsCommand(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) {
    ctx.out(HELP.runs);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags("runs", args, {
    project: "string",
    dir: "string",
    json: "boolean",
  });
  noPositionals("runs", parsed);
  const project = stringFlag(parsed, "project");
  checkProject("runs", project);
  const dir = storeDir(parsed, ctx);
  const store = new LocalStore({ dir });
  const projects = project !== undefined
    ? [project]
    : await store.listProjects();
  const rows: RunRow[] = [];
  for (const name of projects) {
    for (const run of await store.listRuns(name)) {
      rows.push(await runRow(store, run));
    }
  }
  if (parsed.flags.json) {
    ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_CODES.ok;
  }
  if (rows.length === 0) {
    ctx.out(
      project !== undefined
        ? `No runs in project '${project}' of ${dir}\n`
        : `No runs in ${dir}\n`,
    );
    return EXIT_CODES.ok;
  }
  const table = [[
    "PROJECT",
    "RUN",
    "NAME",
    "STATUS",
    "STARTED",
    "STEP",
    "LAST METRICS",
  ]];
  for (const row of rows) {
    table.push([
      row.project,
      row.runId,
      row.name ?? "-",
      row.status,
      formatTime(row.startedMs),
      row.lastStep === null ? "-" : String(row.lastStep),
      Object.entries(row.lastMetrics).map(([key, point]) =>
        `${key}=${formatNumber(point.value)}`
      ).join(" ") || "-",
    ]);
  }
  ctx.out(renderTable(table));
  ctx.out(
    `${rows.length} run${rows.length === 1 ? "" : "s"} in ${dir}\n`,
  );
  return EXIT_CODES.ok;
}

async function runRow(store: LocalStore, run: RunInfo): Promise<RunRow> {
  const lastMetrics: RunRow["lastMetrics"] = {};
  let lastStep: number | null = null;
  try {
    const series = await store.readMetrics(run.project, run.runId);
    for (const [key, points] of series) {
      const last = points[points.length - 1];
      if (!last) continue;
      lastMetrics[key] = {
        step: last.step,
        value: Number.isFinite(last.value) ? last.value : null,
      };
      if (lastStep === null || last.step > lastStep) lastStep = last.step;
    }
  } catch {
    // A run folder without a journal yet: listed with no metrics.
  }
  return {
    project: run.project,
    runId: run.runId,
    name: run.name ?? null,
    status: run.status,
    tags: run.tags,
    params: run.params,
    startedMs: run.startedMs,
    endedMs: run.endedMs ?? null,
    lastStep,
    lastMetrics,
    path: run.path,
  };
}

// ------------------------------------------------------------------- sync

const SYNC_TARGETS = ["comet", "mlflow", "wandb"] as const;

async function syncCommand(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) {
    ctx.out(HELP.sync);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags("sync", args, {
    to: "string",
    all: "boolean",
    project: "string",
    dir: "string",
    timeout: "string",
    json: "boolean",
  });
  noPositionals("sync", parsed, 1);
  const to = stringFlag(parsed, "to");
  if (to === undefined) {
    throw new UsageError(
      `missing '--to' (one of ${SYNC_TARGETS.join(", ")})`,
      "sync",
    );
  }
  if (!(SYNC_TARGETS as readonly string[]).includes(to)) {
    throw new UsageError(
      `unknown sync target '${to}' (expected one of ${
        SYNC_TARGETS.join(", ")
      })`,
      "sync",
    );
  }
  let project = stringFlag(parsed, "project");
  checkProject("sync", project);
  const all = parsed.flags.all === true;
  const [runArg] = parsed.positionals;
  let runId: string | undefined;
  if (all && runArg !== undefined) {
    throw new UsageError(
      `give either a run or --all, not both (got run '${runArg}' and --all)`,
      "sync",
    );
  }
  if (!all) {
    if (runArg === undefined) {
      throw new UsageError(
        "missing the run to sync: give <project>/<runId>, or --all",
        "sync",
      );
    }
    const slash = runArg.indexOf("/");
    if (slash === -1) {
      if (project === undefined) {
        throw new UsageError(
          `run '${runArg}' has no project: write <project>/${runArg} or add --project`,
          "sync",
        );
      }
      runId = runArg;
    } else {
      const named = runArg.slice(0, slash);
      runId = runArg.slice(slash + 1);
      if (project !== undefined && project !== named) {
        throw new UsageError(
          `run '${runArg}' is in project '${named}', but --project says '${project}'`,
          "sync",
        );
      }
      project = named;
      checkProject("sync", project);
    }
    try {
      assertSafeName("runId", runId);
    } catch {
      throw new UsageError(`invalid run id '${runId}' in '${runArg}'`, "sync");
    }
  }
  let timeoutMs: number | undefined;
  const timeout = stringFlag(parsed, "timeout");
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new UsageError(
        `invalid timeout '${timeout}': expected a number of seconds above 0`,
        "sync",
      );
    }
    timeoutMs = Math.max(1, Math.ceil(seconds * 1000));
  }
  const dir = storeDir(parsed, ctx);
  const store = new LocalStore({ dir });
  if (runId !== undefined) {
    await store.getRun(project!, runId).catch(() => {
      throw new Failure(`no run '${project}/${runId}' in ${dir}`);
    });
  }

  let target: Backend;
  try {
    target = createBackend(to, { env: ctx.env, dir, project });
  } catch (error) {
    throw new UsageError(
      `cannot sync to ${to}: ${describeError(error)}`,
      "sync",
    );
  }

  const json = parsed.flags.json === true;
  const progressOut = json ? ctx.err : ctx.out;
  const bars = new Map<string, ProgressLine>();
  const endBars = (): void => {
    for (const bar of bars.values()) bar.end();
  };
  const onProgress = (p: SyncProgress): void => {
    const key = `${p.project}/${p.runId}`;
    let bar = bars.get(key);
    if (!bar) {
      // One run at a time: the previous run's bar is done.
      endBars();
      bar = new ProgressLine(
        progressOut,
        ctx.isTTY,
        ctx.columns,
        `sync ${key} → ${to}`,
        String,
        "events",
      );
      bars.set(key, bar);
    }
    bar.update(p.sent, p.total);
  };
  // A target that is down is retried with backoff until Ctrl+C: say so,
  // at most every 10 s.
  let warnedMs = -Infinity;
  const onError = (error: Error): void => {
    if (Date.now() - warnedMs < 10_000) return;
    warnedMs = Date.now();
    if (ctx.isTTY) progressOut("\n");
    ctx.err(
      `uetai: ${to}: ${error.message} (retrying; Ctrl+C stops, and the next sync resumes)\n`,
    );
  };
  const stop = commandSignal(ctx);
  const { syncAll, syncRun, SyncError } = await import("./sync/mod.ts");
  let reports: SyncReport[];
  let failure: unknown;
  try {
    const common = {
      dir,
      target,
      onProgress,
      onError,
      signal: stop.signal,
      timeoutMs,
    };
    reports = runId !== undefined
      ? [await syncRun({ ...common, project: project!, runId })]
      : await syncAll({ ...common, project });
  } catch (error) {
    if (!(error instanceof SyncError)) throw error;
    // Stopped for good (the target refused a batch): what got through is
    // recorded; say how far every run got.
    reports = error.reports;
    failure = error;
  } finally {
    endBars();
    stop.dispose();
    await closeQuietly(target);
  }
  const interrupted = stop.signal.aborted;
  if (json) {
    ctx.out(`${JSON.stringify(reports, null, 2)}\n`);
  } else if (reports.length === 0 && !interrupted && failure === undefined) {
    ctx.out(
      project !== undefined
        ? `No runs to sync in project '${project}' of ${dir}\n`
        : `No runs to sync in ${dir}\n`,
    );
  } else {
    for (const report of reports) {
      const where = `${report.project}/${report.runId} → ${report.target}`;
      const counts =
        `${report.sent} sent, ${report.skipped} already there, ${report.total} in all`;
      ctx.out(
        report.complete
          ? `synced ${where}: ${counts}\n`
          : `INCOMPLETE ${where}: ${counts}${
            report.error ? ` (${report.error})` : ""
          }\n`,
      );
    }
  }
  if (failure !== undefined) {
    ctx.err(
      `uetai: ${
        describeError(failure)
      }\nWhat the target acknowledged is recorded: the same command resumes from there.\n`,
    );
    return EXIT_CODES.failure;
  }
  if (interrupted) {
    ctx.err(
      "uetai: sync interrupted: run the same command again to resume (what was sent is not sent again)\n",
    );
    return EXIT_CODES.failure;
  }
  if (!reports.every((report) => report.complete)) {
    ctx.err(
      "uetai: the sync did not complete: run the same command again to resume\n",
    );
    return EXIT_CODES.failure;
  }
  return EXIT_CODES.ok;
}

async function closeQuietly(backend: Backend): Promise<void> {
  try {
    await backend.close();
  } catch {
    // Already closed by the sync, or nothing to release.
  }
}

// --------------------------------------------------------------- artifact

async function artifactCommand(
  args: string[],
  ctx: Context,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) {
    throw new UsageError(
      "missing subcommand: 'list' or 'download'",
      "artifact",
    );
  }
  if (sub === "--help" || sub === "-h") {
    ctx.out(HELP.artifact);
    return EXIT_CODES.ok;
  }
  if (sub === "list" || sub === "ls") return await artifactList(rest, ctx);
  if (sub === "download" || sub === "get") {
    return await artifactDownload(rest, ctx);
  }
  throw new UsageError(
    sub.startsWith("-")
      ? `unknown flag '${sub}' for 'uetai artifact' (give 'list' or 'download' first)`
      : `unknown subcommand '${sub}' for 'uetai artifact' (expected 'list' or 'download')`,
    "artifact",
  );
}

async function artifactList(args: string[], ctx: Context): Promise<number> {
  const command = "artifact list";
  if (wantsHelp(args)) {
    ctx.out(HELP[command]);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags(command, args, {
    project: "string",
    dir: "string",
    json: "boolean",
  });
  noPositionals(command, parsed);
  const project = stringFlag(parsed, "project");
  checkProject(command, project);
  const dir = storeDir(parsed, ctx);
  const store = new LocalStore({ dir });
  const projects = project !== undefined
    ? [project]
    : await store.listProjects();
  const listed: {
    project: string;
    name: string;
    versions: ArtifactManifest[];
  }[] = [];
  for (const name of projects) {
    const artifacts = store.artifacts(name);
    for (const artifact of await artifacts.listArtifacts()) {
      listed.push({
        project: name,
        name: artifact,
        versions: await artifacts.listVersions(artifact),
      });
    }
  }
  if (parsed.flags.json) {
    ctx.out(
      `${
        JSON.stringify(
          listed.map(({ project, name, versions }) => ({
            project,
            name,
            versions: versions.map((v) => ({
              version: v.version,
              type: v.type,
              aliases: v.aliases,
              size: v.size,
              files: v.files.length,
              digest: v.digest,
              createdMs: v.createdMs,
              createdBy: v.createdBy ?? null,
              metadata: v.metadata,
            })),
          })),
          null,
          2,
        )
      }\n`,
    );
    return EXIT_CODES.ok;
  }
  if (listed.length === 0) {
    ctx.out(
      project !== undefined
        ? `No artifacts in project '${project}' of ${dir}\n`
        : `No artifacts in ${dir}\n`,
    );
    return EXIT_CODES.ok;
  }
  const table = [[
    "PROJECT",
    "NAME",
    "VERSION",
    "TYPE",
    "SIZE",
    "FILES",
    "CREATED",
    "ALIASES",
  ]];
  for (const { project, name, versions } of listed) {
    for (const v of versions) {
      table.push([
        project,
        name,
        v.version,
        v.type,
        formatBytes(v.size),
        String(v.files.length),
        formatTime(v.createdMs),
        v.aliases.join(", ") || "-",
      ]);
    }
  }
  ctx.out(renderTable(table));
  return EXIT_CODES.ok;
}

async function artifactDownload(
  args: string[],
  ctx: Context,
): Promise<number> {
  const command = "artifact download";
  if (wantsHelp(args)) {
    ctx.out(HELP[command]);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags(command, args, {
    to: "string",
    project: "string",
    dir: "string",
  });
  noPositionals(command, parsed, 1);
  const [spec] = parsed.positionals;
  if (spec === undefined) {
    throw new UsageError(
      "missing the artifact: give <name>[:<version>], such as model:latest",
      command,
    );
  }
  const colon = spec.indexOf(":");
  const name = colon === -1 ? spec : spec.slice(0, colon);
  const versionText = colon === -1 ? undefined : spec.slice(colon + 1);
  try {
    assertArtifactName(name);
  } catch {
    throw new UsageError(
      `invalid artifact name '${name}': expected letters, digits, '_', '-' or '.'`,
      command,
    );
  }
  let selector;
  try {
    if (versionText === "") throw new TypeError("empty");
    selector = parseVersionSelector(versionText);
  } catch {
    throw new UsageError(
      `invalid version '${versionText}' in '${spec}': expected latest, a number (3, v3) or an alias`,
      command,
    );
  }
  const to = stringFlag(parsed, "to");
  if (to === undefined) {
    throw new UsageError(
      "missing '--to <dir>': the folder to write into",
      command,
    );
  }
  let project = stringFlag(parsed, "project");
  checkProject(command, project);
  const dir = storeDir(parsed, ctx);
  const store = new LocalStore({ dir });
  if (project === undefined) {
    const holders: string[] = [];
    for (const candidate of await store.listProjects()) {
      const names = await store.artifacts(candidate).listArtifacts();
      if (names.includes(name)) holders.push(candidate);
    }
    if (holders.length === 0) {
      throw new Failure(`no artifact '${name}' in ${dir}`);
    }
    if (holders.length > 1) {
      throw new UsageError(
        `artifact '${name}' is in several projects (${
          holders.join(", ")
        }): pick one with --project`,
        command,
      );
    }
    project = holders[0];
  }
  const artifacts = store.artifacts(project);
  const manifest = await artifacts.resolveVersion(name, selector);
  const label = `${manifest.name}:${manifest.version}`;
  const done = new Map<string, number>();
  const bar = new ProgressLine(
    ctx.out,
    ctx.isTTY,
    ctx.columns,
    `download ${label}`,
    formatBytes,
    "",
  );
  const onProgress = (p: ArtifactProgress): void => {
    done.set(p.file, p.bytesDone);
    let sum = 0;
    for (const bytes of done.values()) sum += bytes;
    bar.update(sum, manifest.size, p.file);
  };
  bar.update(0, manifest.size);
  const stop = commandSignal(ctx);
  let report;
  try {
    report = await downloadVersion(artifacts, manifest, to, {
      onProgress,
      signal: stop.signal,
    });
  } catch (error) {
    bar.end();
    if (stop.signal.aborted) {
      throw new Failure(
        `download of ${label} interrupted: run the same command again to resume (verified files are kept)`,
      );
    }
    throw error;
  } finally {
    stop.dispose();
  }
  bar.update(manifest.size, manifest.size);
  bar.end();
  ctx.out(
    `Downloaded ${project}/${label} to ${to}: ${manifest.files.length} file${
      manifest.files.length === 1 ? "" : "s"
    }, ${
      formatBytes(manifest.size)
    }, ${report.fetched.length} fetched, ${report.skipped.length} already there; SHA-256 verified\n`,
  );
  return EXIT_CODES.ok;
}

// --------------------------------------------------------------------- ui

async function uiCommand(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) {
    ctx.out(HELP.ui);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags("ui", args, {
    dir: "string",
    port: "string",
    host: "string",
  });
  noPositionals("ui", parsed);
  const port = parsed.flags.port === undefined
    ? DEFAULT_UI_PORT
    : parsePort("ui", stringFlag(parsed, "port"));
  const hostname = stringFlag(parsed, "host") ?? "127.0.0.1";
  const dir = storeDir(parsed, ctx);
  const { serveDashboard } = await import("./dashboard/mod.ts");
  // The dashboard answers requests naming a loopback host, or the address
  // it listens on (against DNS rebinding). Listening on every interface
  // is asked for explicitly, and then any name of this machine is fine.
  const everywhere = hostname === "0.0.0.0" || hostname === "::" ||
    hostname === "[::]";
  const stop = commandSignal(ctx);
  try {
    let server;
    try {
      server = await serveDashboard({
        dir,
        hostname,
        port,
        // Every interface: the names of this machine are allowed, not any
        // name (a page of another site whose name now points here could
        // read the runs otherwise).
        allowedHosts: everywhere ? machineNames() : undefined,
      });
    } catch (error) {
      throw listenFailure(hostname, port, error);
    }
    ctx.out(`uetai dashboard: ${server.url}\n`);
    ctx.out(`Serving the local store ${dir}\n`);
    if (isLoopback(hostname)) {
      ctx.out(
        `Listening on loopback only (${hostname}): other machines cannot reach it. Press Ctrl+C to stop.\n`,
      );
    } else {
      ctx.err(
        `WARNING: listening on ${hostname}, not loopback: the dashboard has no login, so anyone who can reach this machine can read your runs. Press Ctrl+C to stop.\n`,
      );
    }
    await aborted(stop.signal);
    await atMost(server.close(), 5000);
    ctx.out("uetai dashboard stopped\n");
  } finally {
    stop.dispose();
  }
  return EXIT_CODES.ok;
}

/** This machine's host name and interface addresses, for `ui --host 0.0.0.0`. */
function machineNames(): string[] {
  const os = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process?.getBuiltinModule?.("node:os") as {
    hostname?: () => string;
    networkInterfaces?: () => Record<string, { address: string }[] | undefined>;
  } | undefined;
  const names = new Set<string>();
  try {
    const host = os?.hostname?.();
    if (host) {
      names.add(host);
      names.add(`${host}.local`);
    }
    for (const list of Object.values(os?.networkInterfaces?.() ?? {})) {
      for (const entry of list ?? []) names.add(entry.address);
    }
  } catch {
    // No names: loopback only.
  }
  return [...names];
}

// ------------------------------------------------------------------ relay

async function relayCommand(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) {
    ctx.out(HELP.relay);
    return EXIT_CODES.ok;
  }
  const parsed = parseFlags("relay", args, {
    port: "string",
    host: "string",
    dir: "string",
  });
  noPositionals("relay", parsed);
  const env = ctx.env;
  const portText = stringFlag(parsed, "port") ?? env.PORT;
  const port = portText === undefined
    ? DEFAULT_RELAY_PORT
    : parsePort("relay", portText);
  const hostname = stringFlag(parsed, "host") ?? "127.0.0.1";
  const dir = storeDir(parsed, ctx);
  const { relayFromEnv } = await import("./relay/mod.ts");
  let app;
  try {
    app = relayFromEnv(env, {
      dir,
      onUpstreamError: (error) =>
        ctx.err(`uetai relay: upstream: ${error.message}\n`),
    });
  } catch (error) {
    // Configuration (a key, an upstream or its credentials): a usage error.
    throw new UsageError(
      describeError(error).replace(/^Cannot start/, "cannot start"),
      "relay",
    );
  }
  const relay = app;
  const stop = commandSignal(ctx);
  let ok: boolean;
  try {
    let server;
    try {
      server = await serveFetch(
        (request) => relay.fetch(request),
        hostname,
        port,
      );
    } catch (error) {
      await relay.close(0);
      throw error;
    }
    ctx.out(`uetai relay listening on ${server.url.replace(/\/$/, "")}\n`);
    ctx.out(
      `Forwarding to ${relay.upstreams.join(", ")}${
        isLoopback(hostname) ? " (loopback only)" : ""
      }. Press Ctrl+C to stop.\n`,
    );
    await aborted(stop.signal);
    await server.close();
    ok = (await relay.close(5000)).ok;
    ctx.out(
      `uetai relay stopped (${ok ? "all" : "NOT all"} forwarded)\n`,
    );
  } finally {
    stop.dispose();
  }
  return ok ? EXIT_CODES.ok : EXIT_CODES.failure;
}

// ----------------------------------------------------------------- serving

interface RunningServer {
  /** `http://host:port/` */
  url: string;
  close(): Promise<void>;
}

type Handler = (request: Request) => Response | Promise<Response>;

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" ||
    hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function urlOf(hostname: string, port: number): string {
  const host = hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  return `http://${host}:${port}/`;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

/** Waits for `promise`, or `ms` at most (the timer never outlives the wait). */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends a streamed answer (no `content-length`, such as server-sent events)
 * when the server closes, so shutting down never waits on it.
 */
function endOnClose(response: Response, closing: AbortSignal): Response {
  if (!response.body || response.headers.has("content-length")) {
    return response;
  }
  const reader = response.body.getReader();
  const closed = aborted(closing).then(() => null);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await Promise.race([reader.read(), closed]);
      if (next === null || next.done) {
        controller.close();
        if (next === null) reader.cancel().catch(() => {});
        return;
      }
      controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function listenFailure(
  hostname: string,
  port: number,
  error: unknown,
): Failure {
  const where = `${hostname}:${port}`;
  const text = describeError(error);
  return new Failure(
    /in use|EADDRINUSE/i.test(text)
      ? `cannot listen on ${where}: the address is in use (pick another port with --port)`
      : `cannot listen on ${where}: ${text}`,
  );
}

async function serveFetch(
  handler: Handler,
  hostname: string,
  port: number,
): Promise<RunningServer> {
  const closing = new AbortController();
  const wrapped = async (request: Request): Promise<Response> =>
    endOnClose(await handler(request), closing.signal);
  const listenError = (error: unknown): Failure =>
    listenFailure(hostname, port, error);
  const deno = denoRuntime();
  if (deno) {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = deno.serve({ hostname, port, onListen: () => {} }, wrapped);
    } catch (error) {
      throw listenError(error);
    }
    return {
      url: urlOf(hostname, server.addr.port),
      close: async () => {
        closing.abort();
        await atMost(server.shutdown(), 3000);
      },
    };
  }
  const bun = bunRuntime();
  if (bun) {
    let server: BunServer;
    try {
      // Bun refuses responses of a replaced global Response class.
      server = bun.serve({
        hostname,
        port,
        idleTimeout: 0,
        fetch: async (request: Request) =>
          toNativeResponse(await wrapped(request)),
      });
    } catch (error) {
      throw listenError(error);
    }
    return {
      url: urlOf(hostname, server.port),
      close: async () => {
        closing.abort();
        await atMost(Promise.resolve(server.stop(false)), 3000);
        await server.stop(true);
      },
    };
  }
  return await serveNode(wrapped, hostname, port, closing, listenError);
}

// Node's HTTP server, typed as far as used here.
interface NodeIncoming {
  method?: string;
  url?: string;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
}
interface NodeOutgoing {
  writeHead(
    status: number,
    statusText: string | undefined,
    headers: Record<string, string | string[]>,
  ): unknown;
  flushHeaders(): void;
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  destroyed: boolean;
  writableFinished: boolean;
  once(event: string, listener: () => void): unknown;
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}
interface NodeServer {
  listen(port: number, hostname: string, callback: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
  address(): { port: number } | string | null;
  close(callback?: () => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}
interface NodeHttp {
  createServer(
    listener: (request: NodeIncoming, response: NodeOutgoing) => void,
  ): NodeServer;
}
interface NodeStream {
  Readable: { toWeb(readable: unknown): ReadableStream<Uint8Array> };
}

async function serveNode(
  handler: Handler,
  hostname: string,
  port: number,
  closing: AbortController,
  listenFailure: (error: unknown) => Failure,
): Promise<RunningServer> {
  const http = builtin<NodeHttp>("node:http");
  const { Readable } = builtin<NodeStream>("node:stream");
  const server = http.createServer((request, response) => {
    void answerNode(handler, request, response, Readable, hostname);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(listenFailure(error));
    server.once("error", onError);
    server.listen(port, hostname, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return {
    url: urlOf(hostname, bound),
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) =>
        server.close(() => resolve())
      );
      server.closeIdleConnections?.();
      await atMost(closed, 3000);
      server.closeAllConnections?.();
    },
  };
}

async function answerNode(
  handler: Handler,
  request: NodeIncoming,
  response: NodeOutgoing,
  Readable: NodeStream["Readable"],
  hostname: string,
): Promise<void> {
  const abort = new AbortController();
  response.on("close", () => {
    if (!response.writableFinished) abort.abort();
  });
  try {
    const headers = new Headers();
    for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
      headers.append(request.rawHeaders[i], request.rawHeaders[i + 1]);
    }
    const method = request.method ?? "GET";
    const host = typeof request.headers.host === "string"
      ? request.headers.host
      : hostname;
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers,
      signal: abort.signal,
    };
    if (method !== "GET" && method !== "HEAD") {
      init.body = Readable.toWeb(request);
      init.duplex = "half";
    }
    let answer: Response;
    try {
      answer = await handler(
        new Request(new URL(request.url ?? "/", `http://${host}`), init),
      );
    } catch {
      answer = new Response("Internal Server Error", { status: 500 });
    }
    const out: Record<string, string | string[]> = {};
    answer.headers.forEach((value, key) => {
      if (key !== "set-cookie") out[key] = value;
    });
    const cookies = answer.headers.getSetCookie?.() ?? [];
    if (cookies.length > 0) out["set-cookie"] = cookies;
    response.writeHead(answer.status, answer.statusText || undefined, out);
    if (!answer.body || method === "HEAD") {
      await answer.body?.cancel().catch(() => {});
      response.end();
      return;
    }
    response.flushHeaders();
    const reader = answer.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (response.destroyed) {
        await reader.cancel().catch(() => {});
        return;
      }
      if (!response.write(value)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            response.off("drain", done);
            response.off("close", done);
            resolve();
          };
          response.once("drain", done);
          response.once("close", done);
        });
      }
    }
    response.end();
  } catch {
    response.destroy();
  }
}

// --------------------------------------------------------------- progress

/**
 * One progress bar: redrawn in place with `\r` on a terminal, else a plain
 * line at each tenth of the way (and at the end).
 */
class ProgressLine {
  #write: (text: string) => void;
  #tty: boolean;
  #columns: number | undefined;
  #label: string;
  #format: (n: number) => string;
  #unit: string;
  #drawnMs = 0;
  #bucket = -1;
  #open = false;
  #last = "";

  constructor(
    write: (text: string) => void,
    tty: boolean,
    columns: number | undefined,
    label: string,
    format: (n: number) => string,
    unit: string,
  ) {
    this.#write = write;
    this.#tty = tty;
    this.#columns = columns;
    this.#label = label;
    this.#format = format;
    this.#unit = unit;
  }

  update(done: number, total: number, detail = ""): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const percent = Math.floor(fraction * 100);
    const counts = `${this.#format(done)}/${this.#format(total)}${
      this.#unit ? ` ${this.#unit}` : ""
    }`;
    if (this.#tty) {
      const now = Date.now();
      if (fraction < 1 && now - this.#drawnMs < 80) return;
      this.#drawnMs = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      let line = `${this.#label} [${"#".repeat(filled)}${
        ".".repeat(width - filled)
      }] ${String(percent).padStart(3)}% ${counts}${
        detail ? ` ${detail}` : ""
      }`;
      if (this.#columns && line.length > this.#columns - 1) {
        line = line.slice(0, Math.max(0, this.#columns - 1));
      }
      if (line === this.#last) return;
      this.#last = line;
      this.#write(`\r\x1b[2K${line}`);
      this.#open = true;
      return;
    }
    const bucket = Math.floor(fraction * 10);
    if (bucket <= this.#bucket) return;
    this.#bucket = bucket;
    this.#write(
      `${this.#label}: ${percent}% (${counts})${detail ? ` ${detail}` : ""}\n`,
    );
  }

  end(): void {
    if (this.#tty && this.#open) this.#write("\n");
    this.#open = false;
  }
}

// ------------------------------------------------------------- formatting

function renderTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]))
      .join("  ").trimEnd()
  ).join("\n") + "\n";
}

function formatNumber(value: number | null): string {
  if (value === null) return "NaN";
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const text = Math.abs(value) >= 1e-4 && Math.abs(value) < 1e6
    ? String(Number(value.toPrecision(4)))
    : value.toExponential(3);
  return text;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  const date = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${
    pad(date.getDate())
  } ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// ------------------------------------------------------------------ entry

function programArgs(): string[] {
  const deno = denoRuntime();
  if (deno) return [...deno.args];
  return nodeProcess()?.argv?.slice(2) ?? [];
}

/** Whether this file is the program being run (not imported). */
function isEntry(): boolean {
  const meta = import.meta as { main?: boolean; url: string };
  if (typeof meta.main === "boolean") return meta.main;
  // Node (through tsx) has no `import.meta.main` before 24.2.
  const script = nodeProcess()?.argv?.[1];
  if (!script) return false;
  try {
    const { fileURLToPath } = builtin<
      { fileURLToPath(url: string): string }
    >("node:url");
    const { realpathSync } = builtin<
      { realpathSync(path: string): string }
    >("node:fs");
    return realpathSync(script) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}

function setExitCode(code: number): void {
  const deno = denoRuntime();
  const process = nodeProcess();
  if (deno) deno.exitCode = code;
  if (process) process.exitCode = code;
  // Whatever still holds the event loop (a backend's timer) does not keep
  // the program from ending.
  const exit = (): void => {
    if (deno) deno.exit(code);
    process?.exit?.(code);
  };
  const timer = setTimeout(exit, 2000);
  if (deno?.unrefTimer) deno.unrefTimer(timer as unknown as number);
  else (timer as unknown as { unref?: () => void }).unref?.();
}

if (isEntry()) {
  setExitCode(await main(programArgs()));
}
