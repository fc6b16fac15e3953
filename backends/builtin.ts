// This module is browser compatible.
/**
 * Registers the backends every logger can name without further imports:
 * `local` (the local store, the default where there is a filesystem),
 * `memory`, `comet` (chosen when `COMET_API_KEY` is set), `mlflow`
 * (chosen when `MLFLOW_TRACKING_URI` names an http(s) server) and `wandb`
 * (chosen when `WANDB_API_KEY` is set) and `relay` (chosen when
 * `UETAI_RELAY_URL` and `UETAI_RELAY_TOKEN` are set). Imported for its effect by `mod.ts` and `logger/mod.ts`.
 */
import { registerBackend } from "../logger/registry.ts";
import { LocalBackend } from "./local/local_backend.ts";
import { InMemoryBackend } from "./memory/memory_backend.ts";
import { CometBackend } from "./comet/backend.ts";
import { MlflowBackend } from "./mlflow/backend.ts";
import { WandbBackend } from "./wandb/backend.ts";
import { RelayBackend } from "../relay/client.ts";

registerBackend({
  name: "local",
  create: ({ dir }) => new LocalBackend({ dir }),
});
registerBackend({ name: "memory", create: () => new InMemoryBackend() });
registerBackend({
  name: "comet",
  detect: (env) =>
    typeof env.COMET_API_KEY === "string" && env.COMET_API_KEY !== "",
  create: ({ env }) => new CometBackend({ env }),
});
registerBackend({
  name: "mlflow",
  detect: (env) => /^https?:\/\//.test(env.MLFLOW_TRACKING_URI ?? ""),
  create: ({ env }) => new MlflowBackend({ env }),
});
registerBackend({
  name: "wandb",
  detect: (env) =>
    typeof env.WANDB_API_KEY === "string" && env.WANDB_API_KEY !== "",
  create: ({ env, project }) =>
    new WandbBackend({ env, replayProject: project }),
});
registerBackend({
  name: "relay",
  detect: (env) => !!env.UETAI_RELAY_URL && !!env.UETAI_RELAY_TOKEN,
  create: ({ env }) => {
    if (!env.UETAI_RELAY_URL || !env.UETAI_RELAY_TOKEN) {
      throw new TypeError(
        "Cannot create the relay backend: set UETAI_RELAY_URL and UETAI_RELAY_TOKEN",
      );
    }
    return new RelayBackend({
      url: env.UETAI_RELAY_URL,
      token: env.UETAI_RELAY_TOKEN,
    });
  },
});
