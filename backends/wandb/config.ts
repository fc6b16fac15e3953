// This module is browser compatible.
import { readEnvironment } from "../../runtime/fs.ts";

/** Where W&B's SDKs send by default (`WANDB_BASE_URL`). */
export const DEFAULT_WANDB_URL = "https://api.wandb.ai";

/** Options of the W&B backend; each falls back to W&B's usual environment variable. */
export interface WandbBackendOptions {
  /** The API key. @default {WANDB_API_KEY} */
  apiKey?: string;
  /** The entity (user or team). @default {WANDB_ENTITY, else the key's default entity} */
  entity?: string;
  /** The project. When absent, each run goes to its logger's project. @default {WANDB_PROJECT} */
  project?: string;
  /** A self-hosted server. @default {WANDB_BASE_URL, else "https://api.wandb.ai"} */
  baseUrl?: string;
  /** Group of the run. @default {WANDB_RUN_GROUP} */
  group?: string;
  /** Job type of the run. @default {WANDB_JOB_TYPE} */
  jobType?: string;
  /** Longest one request may wait for its answer, in milliseconds. @default {60000} */
  timeoutMs?: number;
  /** Environment variables to read instead of the process's. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The options after environment fallbacks and checks. */
export interface WandbConfig {
  /** The API key. */
  apiKey: string;
  /** The entity, if fixed. */
  entity: string | undefined;
  /** The project, if fixed. */
  project: string | undefined;
  /** The API server, without a trailing slash. */
  baseUrl: string;
  /** Group. */
  group: string | undefined;
  /** Job type. */
  jobType: string | undefined;
  /** Request timeout. */
  timeoutMs: number;
}

const ACTION = "Cannot configure the W&B backend";

/**
 * Resolves the options: explicit values first, then `WANDB_API_KEY`,
 * `WANDB_ENTITY`, `WANDB_PROJECT`, `WANDB_BASE_URL`, `WANDB_RUN_GROUP` and
 * `WANDB_JOB_TYPE`. A missing or malformed key is an error at once; no
 * message contains the key.
 *
 * @param options The options.
 * @returns The configuration.
 * @throws {TypeError} When the key is missing or malformed, or the URL is not http(s).
 *
 * @example
 * ```ts
 * import { resolveWandbConfig } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const config = resolveWandbConfig({ env: { WANDB_API_KEY: "k".repeat(40), WANDB_BASE_URL: "http://127.0.0.1:8080/" } });
 * assert.equal(config.baseUrl, "http://127.0.0.1:8080");
 * assert.throws(() => resolveWandbConfig({ env: {} }), /WANDB_API_KEY/);
 * ```
 */
export function resolveWandbConfig(
  options: WandbBackendOptions = {},
): WandbConfig {
  const env = options.env ?? readEnvironment();
  const apiKey = options.apiKey ?? env.WANDB_API_KEY;
  if (apiKey === undefined || apiKey === "") {
    throw new TypeError(
      `${ACTION}: no API key. Pass 'apiKey' or set WANDB_API_KEY`,
    );
  }
  // W&B's own check: an optional "prefix-", then at least 40 of [\w-].
  if (typeof apiKey !== "string" || !/^(?:[\w]+-)?[\w-]{40,}$/.test(apiKey)) {
    throw new TypeError(
      `${ACTION}: the API key must be at least 40 letters, digits, '_' or '-' (got ${
        typeof apiKey === "string"
          ? `${apiKey.length} characters`
          : typeof apiKey
      })`,
    );
  }
  const base = options.baseUrl ?? env.WANDB_BASE_URL ?? DEFAULT_WANDB_URL;
  let url: URL | undefined;
  try {
    url = new URL(base);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(
      `${ACTION}: 'baseUrl' must be an http(s) URL such as "https://api.wandb.ai" (current value: ${
        url ? JSON.stringify(`${url.protocol}//${url.hostname}`) : "not a URL"
      })`,
    );
  }
  const project = options.project ?? env.WANDB_PROJECT;
  for (
    const [name, value] of [["project", project], [
      "entity",
      options.entity ?? env.WANDB_ENTITY,
    ]]
  ) {
    if (
      value !== undefined &&
      (typeof value !== "string" || !/^[\w.\- ]{1,128}$/.test(value))
    ) {
      throw new TypeError(
        `${ACTION}: '${name}' must be 1 to 128 letters, digits, '_', '-', '.' or spaces (current value: ${
          JSON.stringify(value)
        })`,
      );
    }
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(
      `${ACTION}: 'timeoutMs' must be a positive integer number of milliseconds (current value: ${
        String(timeoutMs)
      })`,
    );
  }
  url.search = "";
  return {
    apiKey,
    entity: options.entity ?? env.WANDB_ENTITY,
    project,
    baseUrl: url.href.replace(/\/+$/, ""),
    group: options.group ?? env.WANDB_RUN_GROUP,
    jobType: options.jobType ?? env.WANDB_JOB_TYPE,
    timeoutMs,
  };
}
