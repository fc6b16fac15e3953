// This module is browser compatible.
import { readEnvironment } from "../../runtime/fs.ts";
import type { MlflowAuth } from "./http.ts";

/** Options of the MLflow backend; each falls back to MLflow's usual environment variable. */
export interface MlflowBackendOptions {
  /**
   * The tracking server, such as `http://127.0.0.1:5000`.
   * @default {MLFLOW_TRACKING_URI}
   */
  trackingUri?: string;
  /**
   * The experiment runs go to (created when missing). When absent, each run
   * goes to its logger's project.
   * @default {MLFLOW_EXPERIMENT_NAME}
   */
  experimentName?: string;
  /**
   * Basic credentials or a bearer token.
   * @default {MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD, else MLFLOW_TRACKING_TOKEN}
   */
  auth?: MlflowAuth;
  /**
   * Restore the experiment when it was deleted, instead of failing with an
   * error that says so.
   * @default {false}
   */
  restoreDeletedExperiment?: boolean;
  /**
   * Longest one request may wait for its answer, in milliseconds.
   * @default {120000}
   */
  timeoutMs?: number;
  /** Environment variables to read instead of the process's. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The options after environment fallbacks and checks. */
export interface MlflowConfig {
  /** The tracking server, without a trailing slash or credentials. */
  trackingUri: string;
  /** The fixed experiment, if any. */
  experimentName: string | undefined;
  /** Credentials, if any. */
  auth: MlflowAuth | undefined;
  /** Whether a deleted experiment is restored. */
  restoreDeletedExperiment: boolean;
  /** Request timeout in milliseconds. */
  timeoutMs: number;
}

const ACTION = "Cannot configure the MLflow backend";

/**
 * Resolves the options: explicit values first, then `MLFLOW_TRACKING_URI`,
 * `MLFLOW_EXPERIMENT_NAME`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD` and
 * `MLFLOW_TRACKING_TOKEN`. Credentials written into the URI
 * (`http://user:pass@host`) move to Basic authentication. Messages never
 * contain a password or token.
 *
 * @param options The options.
 * @returns The configuration.
 * @throws {TypeError} When the URI is missing or not http(s), or an option is malformed.
 *
 * @example
 * ```ts
 * import { resolveMlflowConfig } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const config = resolveMlflowConfig({ env: { MLFLOW_TRACKING_URI: "http://127.0.0.1:5000/", MLFLOW_TRACKING_TOKEN: "t0k" } });
 * assert.equal(config.trackingUri, "http://127.0.0.1:5000");
 * assert.deepEqual(config.auth, { token: "t0k" });
 * assert.throws(() => resolveMlflowConfig({ env: {} }), /MLFLOW_TRACKING_URI/);
 * ```
 */
export function resolveMlflowConfig(
  options: MlflowBackendOptions = {},
): MlflowConfig {
  const env = options.env ?? readEnvironment();
  const uri = options.trackingUri ?? env.MLFLOW_TRACKING_URI;
  if (uri === undefined || uri === "") {
    throw new TypeError(
      `${ACTION}: no tracking server. Pass 'trackingUri' or set MLFLOW_TRACKING_URI (such as "http://127.0.0.1:5000")`,
    );
  }
  let url: URL | undefined;
  try {
    url = new URL(uri);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    // Only the scheme and host are shown: the rest may hold a password.
    throw new TypeError(
      `${ACTION}: the tracking URI must be an http(s) URL of a tracking server, such as "http://127.0.0.1:5000" (current value: ${
        url ? JSON.stringify(`${url.protocol}//${url.hostname}`) : "not a URL"
      }); local "file:" stores and "databricks" are not supported`,
    );
  }
  let auth = options.auth;
  if (url.username !== "" || url.password !== "") {
    try {
      auth ??= {
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      };
    } catch {
      throw new TypeError(
        `${ACTION}: the credentials in the tracking URI are not valid percent-encoding; pass 'auth' or set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead`,
      );
    }
    url.username = "";
    url.password = "";
  }
  if (auth === undefined) {
    const username = env.MLFLOW_TRACKING_USERNAME;
    const password = env.MLFLOW_TRACKING_PASSWORD;
    if (username !== undefined || password !== undefined) {
      if (username === undefined || password === undefined) {
        throw new TypeError(
          `${ACTION}: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together`,
        );
      }
      auth = { username, password };
    } else if (env.MLFLOW_TRACKING_TOKEN) {
      auth = { token: env.MLFLOW_TRACKING_TOKEN };
    }
  }
  if (auth !== undefined) {
    const valid = "token" in auth
      ? typeof auth.token === "string" && auth.token !== ""
      : typeof auth.username === "string" &&
        typeof auth.password === "string" && !auth.username.includes(":");
    if (!valid) {
      throw new TypeError(
        `${ACTION}: 'auth' must be { username, password } (a username without ':') or { token } with non-empty strings`,
      );
    }
  }
  const experimentName = options.experimentName ?? env.MLFLOW_EXPERIMENT_NAME;
  if (
    experimentName !== undefined &&
    (typeof experimentName !== "string" || experimentName === "" ||
      experimentName.length > 500)
  ) {
    throw new TypeError(
      `${ACTION}: 'experimentName' must be a non-empty string of at most 500 characters (current value: ${
        JSON.stringify(experimentName)
      })`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(
      `${ACTION}: 'timeoutMs' must be a positive integer number of milliseconds (current value: ${
        String(timeoutMs)
      })`,
    );
  }
  return {
    trackingUri: url.href.replace(/\/+$/, ""),
    experimentName,
    auth,
    restoreDeletedExperiment: options.restoreDeletedExperiment ?? false,
    timeoutMs,
  };
}
