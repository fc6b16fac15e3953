// A child process for the spool-replay scenario of the backend conformance
// suite (tests/helpers/backend_conformance.ts). It builds a registered
// backend the way a user's script does, `createLogger({ backend: name, env,
// dir, runId, spool: "file" })`, logs metrics while the service is up and
// then while it is down, and waits to be killed (SIGKILL) by its parent.
//
// Settings come from the environment:
// - CONFORMANCE_BACKEND: the registered backend name, such as `local`.
// - CONFORMANCE_BACKEND_ENV: JSON object, the `env` given to createLogger.
// - CONFORMANCE_IMPORTS: JSON array of module URLs imported first (modules
//   that register the backend).
// - CONFORMANCE_DIR: the logger's `dir` (store and spools).
// - CONFORMANCE_PROJECT, CONFORMANCE_RUN_ID: the run.
// - CONFORMANCE_UP_STEPS: steps logged (and flushed) while the service is up.
// - CONFORMANCE_DOWN_STEPS: steps logged after that, while it is down.
// - CONFORMANCE_GATE: `1` when the parent cannot take the service down (no
//   fake server): the backend is wrapped, under its own name, so that its
//   sends fail as in an outage once the service "goes down".
// - CONFORMANCE_GO: a file the parent creates once the service is down.
//
// Step `s` logs `{ loss: replayLoss(s), eval: { acc: replayAccuracy(s) } }`.
//
// Protocol on stdout, one line each:
// - `up <status>` after the up steps were logged and flushed (only when
//   CONFORMANCE_UP_STEPS > 0); the child then waits for CONFORMANCE_GO;
// - `down <status> <pendingEvents>` after the down steps were logged and
//   flushed (with a short timeout): what was not delivered is in the file
//   spool. The child then waits to be killed.
import { existsSync } from "node:fs";
import { createLogger } from "../../mod.ts";
import { createBackend } from "../../logger/mod.ts";
import type { Backend } from "../../pipeline/backend.ts";
import { faultyBackend } from "./faulty_backend.ts";
import { replayAccuracy, replayLoss } from "./conformance_values.ts";

const env = (globalThis as {
  process: { env: Record<string, string | undefined> };
}).process.env;

function required(name: string): string {
  const value = env[name];
  if (value === undefined || value === "") {
    throw new Error(`conformance_child: ${name} is not set`);
  }
  return value;
}

const backendName = required("CONFORMANCE_BACKEND");
const backendEnv = JSON.parse(env.CONFORMANCE_BACKEND_ENV ?? "{}") as Record<
  string,
  string
>;
const imports = JSON.parse(env.CONFORMANCE_IMPORTS ?? "[]") as string[];
const dir = required("CONFORMANCE_DIR");
const project = required("CONFORMANCE_PROJECT");
const runId = required("CONFORMANCE_RUN_ID");
const upSteps = Number(env.CONFORMANCE_UP_STEPS ?? 0);
const downSteps = Number(env.CONFORMANCE_DOWN_STEPS ?? 0);
const gated = env.CONFORMANCE_GATE === "1";
const go = required("CONFORMANCE_GO");

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

for (const specifier of imports) await import(specifier);

let backend: Backend | string = backendName;
let goDown = () => {};
if (gated) {
  // No fake server to take down: the outage is staged in front of the
  // backend, which keeps its name (and with it its spool lane).
  const faulty = faultyBackend(
    createBackend(backendName, { env: backendEnv, dir }),
  );
  backend = faulty.backend;
  goDown = () => faulty.faults.setDown(true);
  if (upSteps === 0) goDown();
}

const logger = createLogger({
  backend,
  env: backendEnv,
  dir,
  project,
  runId,
  spool: "file",
  flushIntervalMs: 10,
  exitFlushTimeoutMs: 0,
  retry: { initialDelayMs: 10, maxDelayMs: 50 },
  onError: (state) => console.error(`[child] ${state.error.message}`),
});

function logStep(step: number): void {
  logger.log({ loss: replayLoss(step), eval: { acc: replayAccuracy(step) } }, {
    step,
  });
}

if (upSteps > 0) {
  for (let step = 0; step < upSteps; step++) logStep(step);
  const report = await logger.flush({ timeoutMs: 15_000 });
  console.log(`up ${report.backends[0].status}`);
  const deadline = Date.now() + 30_000;
  while (!existsSync(go)) {
    if (Date.now() > deadline) throw new Error("conformance_child: no go");
    await sleep(5);
  }
  goDown();
}
for (let step = upSteps; step < upSteps + downSteps; step++) logStep(step);
// Nothing can be delivered now: each flush ends when its deadline passes,
// with the queue moved to the file spool (on a busy machine that write may
// outlast one short deadline, so try a few times).
let report = await logger.flush({ timeoutMs: 200 });
for (let i = 0; i < 20 && report.backends[0].status === "pending"; i++) {
  report = await logger.flush({ timeoutMs: 200 });
}
console.log(
  `down ${report.backends[0].status} ${report.backends[0].pendingEvents}`,
);
// Wait to be killed; the run is never ended.
setInterval(() => {}, 1000);
