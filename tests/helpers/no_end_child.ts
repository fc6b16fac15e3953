// Child script: logs and exits without calling end(); the exit hook must end
// the run and store everything.
import { createLogger } from "../../mod.ts";

const dir = (globalThis as { process: { argv: string[] } }).process.argv[2];
const logger = createLogger({ project: "exit", dir });
for (let step = 0; step < 100; step++) {
  logger.log({ loss: 1 / (step + 1) }, { step });
}
console.log(logger.runId);
