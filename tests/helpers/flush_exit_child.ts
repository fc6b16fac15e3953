// Child script: with the only backend down and nothing else holding the event
// loop, an awaited flush() and end() must still return (their deadlines keep
// the process alive) instead of the runtime exiting mid-await.
import { createLogger } from "../../mod.ts";
import { InMemoryBackend } from "../../backends/memory/mod.ts";

const backend = new InMemoryBackend({
  respond: () => ({ status: "retryable", error: new Error("service down") }),
});
const logger = createLogger({
  backend,
  spool: "memory",
  exitFlushTimeoutMs: 0,
  retry: { initialDelayMs: 5_000 },
  onError: () => {},
});
logger.log({ loss: 1 });
async function main(): Promise<void> {
  const flushed = await logger.flush({ timeoutMs: 300 });
  console.log(
    `after flush ${flushed.backends[0].status} ${
      flushed.backends[0].pendingEvents
    }`,
  );
  const ended = await logger.end({ timeoutMs: 300 });
  console.log(
    `after end ${ended.backends[0].status} dropped ${
      ended.backends[0].droppedEvents
    }`,
  );
}
main().then(() => console.log("done"));
