// This module is browser compatible.
import { readEnvironment } from "../../runtime/fs.ts";
import { COMET_RATE_LIMITS, type CometRateLimits } from "./rate_limiter.ts";

/** Where Comet's SDKs send by default (`COMET_URL_OVERRIDE`). */
export const DEFAULT_COMET_URL = "https://www.comet.com/clientlib/";

/** Options of the Comet backend; each falls back to Comet's usual environment variable. */
export interface CometBackendOptions {
  /** The API key. @default {COMET_API_KEY} */
  apiKey?: string;
  /** The workspace. @default {COMET_WORKSPACE} */
  workspace?: string;
  /**
   * The project. When absent, each run goes to its logger's project.
   * @default {COMET_PROJECT_NAME}
   */
  projectName?: string;
  /**
   * The SDK endpoint of a self-hosted Comet, such as
   * `https://comet.example.com/clientlib/`; the REST API is at its root.
   * @default {COMET_URL_OVERRIDE, else "https://www.comet.com/clientlib/"}
   */
  urlOverride?: string;
  /**
   * Client-side pacing under Comet's published rate limits (items per
   * minute per data type, REST submissions per hour). `false` turns it off,
   * for a self-hosted server without limits.
   * @default {COMET_RATE_LIMITS}
   */
  rateLimits?: Partial<CometRateLimits> | false;
  /**
   * Longest one HTTP request may take, in milliseconds.
   * @default {60000}
   */
  timeoutMs?: number;
  /**
   * Send a heartbeat ("still running") at the interval Comet asks for.
   * @default {true}
   */
  heartbeat?: boolean;
  /** Environment variables to read instead of the process's. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The options after environment fallbacks and checks. */
export interface CometConfig {
  /** The API key. */
  apiKey: string;
  /** The workspace. */
  workspace: string;
  /** The fixed project, if any. */
  projectName: string | undefined;
  /** Root URL (the REST API lives under `/api/rest/v2/`). */
  rootUrl: string;
  /** Rate limits in force (`{}` when off). */
  rateLimits: Partial<CometRateLimits>;
  /** Request timeout in milliseconds. */
  timeoutMs: number;
  /** Whether to send heartbeats. */
  heartbeat: boolean;
}

const ACTION = "Cannot configure the Comet backend";

/**
 * Resolves the options: explicit values first, then `COMET_API_KEY`,
 * `COMET_WORKSPACE`, `COMET_PROJECT_NAME` and `COMET_URL_OVERRIDE`. A
 * missing key or workspace is an error at once; messages never contain the
 * key.
 *
 * @param options The options.
 * @returns The configuration.
 * @throws {TypeError} When the key or workspace is missing or malformed, or the URL is not http(s).
 *
 * @example
 * ```ts
 * import { resolveCometConfig } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const config = resolveCometConfig({
 *   env: { COMET_API_KEY: "k3y", COMET_WORKSPACE: "ws", COMET_URL_OVERRIDE: "http://127.0.0.1:9/clientlib/" },
 * });
 * assert.equal(config.rootUrl, "http://127.0.0.1:9");
 * assert.throws(() => resolveCometConfig({ env: {} }), /COMET_API_KEY/);
 * ```
 */
export function resolveCometConfig(
  options: CometBackendOptions = {},
): CometConfig {
  const env = options.env ?? readEnvironment();
  const apiKey = options.apiKey ?? env.COMET_API_KEY;
  if (apiKey === undefined || apiKey === "") {
    throw new TypeError(
      `${ACTION}: no API key. Pass 'apiKey' or set COMET_API_KEY`,
    );
  }
  if (typeof apiKey !== "string" || !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new TypeError(
      `${ACTION}: the API key must be a string of printable ASCII without spaces (got a ${typeof apiKey} of ${
        typeof apiKey === "string"
          ? `${apiKey.length} characters`
          : "another type"
      })`,
    );
  }
  const workspace = options.workspace ?? env.COMET_WORKSPACE;
  if (typeof workspace !== "string" || workspace.trim() === "") {
    throw new TypeError(
      `${ACTION}: no workspace. Pass 'workspace' or set COMET_WORKSPACE (current value: ${
        JSON.stringify(workspace) ?? "undefined"
      })`,
    );
  }
  const projectName = options.projectName ?? env.COMET_PROJECT_NAME;
  if (
    projectName !== undefined &&
    (typeof projectName !== "string" || projectName === "" ||
      projectName.length > 100)
  ) {
    throw new TypeError(
      `${ACTION}: 'projectName' must be a non-empty string of at most 100 characters (current value: ${
        JSON.stringify(projectName)
      })`,
    );
  }
  const override = options.urlOverride ?? env.COMET_URL_OVERRIDE ??
    DEFAULT_COMET_URL;
  let url: URL;
  try {
    url = new URL(override);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `${ACTION}: 'urlOverride' must be an http(s) URL such as "https://comet.example.com/clientlib/" (current value: ${
        JSON.stringify(override)
      })`,
    );
  }
  const path = url.pathname.replace(/\/+$/, "").replace(/\/clientlib$/, "");
  const rootUrl = `${url.protocol}//${url.host}${path}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(
      `${ACTION}: 'timeoutMs' must be a positive integer number of milliseconds (current value: ${
        String(timeoutMs)
      })`,
    );
  }
  return {
    apiKey,
    workspace,
    projectName,
    rootUrl,
    rateLimits: options.rateLimits === false
      ? {}
      : { ...COMET_RATE_LIMITS, ...(options.rateLimits ?? {}) },
    timeoutMs,
    heartbeat: options.heartbeat ?? true,
  };
}
