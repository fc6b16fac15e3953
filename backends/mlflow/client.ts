// This module is browser compatible.
import type { MlflowHttp, MlflowRequestOptions } from "./http.ts";
import type { MlflowNumber } from "./encode.ts";

/** A key/value tag, as MLflow sends them. */
export interface MlflowTag {
  /** Key. */
  key: string;
  /** Value. */
  value: string;
}

/** An experiment. */
export interface MlflowExperiment {
  /** Its id (a string). */
  experiment_id: string;
  /** Its name. */
  name: string;
  /** Where its runs' artifacts go, such as `mlflow-artifacts:/1`. */
  artifact_location?: string;
  /** `"active"` or `"deleted"`. */
  lifecycle_stage?: string;
  /** Tags, absent when none. */
  tags?: MlflowTag[];
}

/** A run, as `runs/get` and `runs/search` answer it. */
export interface MlflowRun {
  /** Identity, status and times. */
  info: {
    run_id: string;
    experiment_id: string;
    run_name?: string;
    status?: string;
    start_time?: number;
    end_time?: number;
    artifact_uri?: string;
    lifecycle_stage?: string;
  };
  /** The latest value of each metric, parameters and tags. */
  data?: {
    metrics?: MlflowMetric[];
    params?: MlflowTag[];
    tags?: MlflowTag[];
  };
}

/** One metric point. */
export interface MlflowMetric {
  /** Metric key. */
  key: string;
  /** Value (`"NaN"` for NaN). */
  value: MlflowNumber;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Step. */
  step: number;
}

/** One entry of an artifact folder. */
export interface MlflowFileInfo {
  /** Path relative to the run's artifact root. */
  path: string;
  /** Whether it is a folder. */
  is_dir: boolean;
  /** Size in bytes (files only). */
  file_size?: number;
}

/** A registered model's version. */
export interface MlflowModelVersion {
  /** The registered model. */
  name: string;
  /** Its number, as a string (`"1"`). */
  version: string;
  /** Where its files are. */
  source: string;
  /** The run that made it. */
  run_id?: string;
  /** `"READY"` once usable. */
  status?: string;
  /** Tags. */
  tags?: MlflowTag[];
  /** Aliases (from alias lookups). */
  aliases?: string[];
}

/** A registered model. */
export interface MlflowRegisteredModel {
  /** Its name. */
  name: string;
  /** Tags. */
  tags?: MlflowTag[];
  /** Aliases and the versions they point at. */
  aliases?: { alias: string; version: string }[];
  /** The newest version per stage. */
  latest_versions?: MlflowModelVersion[];
}

/** Options of {@linkcode MlflowClient.searchRuns}. */
export interface SearchRunsOptions {
  /** Experiments to search. */
  experimentIds: string[];
  /** MLflow's filter, such as `"params.lr = '0.01'"`. */
  filter?: string;
  /** Orderings, such as `["attributes.start_time DESC"]`. */
  orderBy?: string[];
  /** Most runs to return (all pages are read up to it). @default {1000} */
  maxResults?: number;
}

/**
 * MLflow's REST API, typed, for what the unified logger does not cover:
 * experiments, runs and their search, the whole metric history (paged),
 * artifacts (list, download, upload through the proxy) and the Model
 * Registry. Errors are `MlflowApiError`s.
 *
 * @example
 * ```ts
 * import { MlflowClient, MlflowHttp } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const client = new MlflowClient(new MlflowHttp({ trackingUri: "http://127.0.0.1:9" }));
 * assert.equal(client.http.trackingUri, "http://127.0.0.1:9");
 * ```
 */
export class MlflowClient {
  #http: MlflowHttp;

  /**
   * Wraps an authenticated HTTP client.
   *
   * @param http The client.
   */
  constructor(http: MlflowHttp) {
    this.#http = http;
  }

  /** The HTTP client (tracking URI, credentials). */
  get http(): MlflowHttp {
    return this.#http;
  }

  /**
   * Reads an experiment by id.
   *
   * @param experimentId The id.
   * @returns The experiment.
   */
  async getExperiment(experimentId: string): Promise<MlflowExperiment> {
    return (await this.#http.json<{ experiment: MlflowExperiment }>(
      "GET",
      "experiments/get",
      { query: { experiment_id: experimentId } },
    )).experiment;
  }

  /**
   * Reads an experiment by name (deleted ones too).
   *
   * @param name The name.
   * @returns The experiment, or `undefined` when there is none.
   */
  async getExperimentByName(
    name: string,
  ): Promise<MlflowExperiment | undefined> {
    try {
      return (await this.#http.json<{ experiment: MlflowExperiment }>(
        "GET",
        "experiments/get-by-name",
        { query: { experiment_name: name } },
      )).experiment;
    } catch (error) {
      if (
        (error as { errorCode?: string }).errorCode ===
          "RESOURCE_DOES_NOT_EXIST"
      ) {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Searches experiments, reading every page.
   *
   * @param filter MLflow's filter, such as `"name LIKE 'demo%'"`.
   * @returns The active experiments that match.
   */
  async searchExperiments(filter?: string): Promise<MlflowExperiment[]> {
    const out: MlflowExperiment[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#http.json<{
        experiments?: MlflowExperiment[];
        next_page_token?: string;
      }>("POST", "experiments/search", {
        body: {
          max_results: 1000,
          ...(filter ? { filter } : {}),
          ...(pageToken ? { page_token: pageToken } : {}),
        },
      });
      out.push(...(page.experiments ?? []));
      pageToken = page.experiments?.length ? page.next_page_token : undefined;
    } while (pageToken);
    return out;
  }

  /**
   * Reads a run.
   *
   * @param runId MLflow's run id.
   * @returns The run with its latest metrics, parameters and tags.
   */
  async getRun(runId: string): Promise<MlflowRun> {
    return (await this.#http.json<{ run: MlflowRun }>("GET", "runs/get", {
      query: { run_id: runId },
    })).run;
  }

  /**
   * Searches runs, reading pages up to `maxResults`.
   *
   * @param options Experiments, filter, order, bound.
   * @returns The runs.
   */
  async searchRuns(options: SearchRunsOptions): Promise<MlflowRun[]> {
    const max = options.maxResults ?? 1000;
    const out: MlflowRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#http.json<{
        runs?: MlflowRun[];
        next_page_token?: string;
      }>("POST", "runs/search", {
        body: {
          experiment_ids: options.experimentIds,
          filter: options.filter ?? "",
          run_view_type: "ACTIVE_ONLY",
          max_results: Math.min(1000, max - out.length),
          ...(options.orderBy ? { order_by: options.orderBy } : {}),
          ...(pageToken ? { page_token: pageToken } : {}),
        },
      });
      out.push(...(page.runs ?? []));
      pageToken = page.runs?.length ? page.next_page_token : undefined;
    } while (pageToken && out.length < max);
    return out;
  }

  /**
   * Reads every point of a metric, following `page_token` (MLflow answers
   * nothing without `max_results`, so it is always sent).
   *
   * @param runId MLflow's run id.
   * @param key The metric.
   * @returns The points in logged order.
   */
  async getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const out: MlflowMetric[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#http.json<{
        metrics?: MlflowMetric[];
        next_page_token?: string;
      }>("GET", "metrics/get-history", {
        query: {
          run_id: runId,
          metric_key: key,
          max_results: 25000,
          page_token: pageToken,
        },
      });
      out.push(...(page.metrics ?? []));
      // An empty page with a token (MLflow's answer without max_results)
      // would loop forever.
      pageToken = page.metrics?.length ? page.next_page_token : undefined;
    } while (pageToken);
    return out;
  }

  /**
   * Sets a run tag.
   *
   * @param runId MLflow's run id.
   * @param key Tag key.
   * @param value Tag value.
   */
  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.#http.json("POST", "runs/set-tag", {
      body: { run_id: runId, key, value },
    });
  }

  /**
   * Lists one folder of a run's artifacts.
   *
   * @param runId MLflow's run id.
   * @param path Folder relative to the run's artifact root; the root by default.
   * @returns Its entries, with run-relative paths.
   */
  async listArtifacts(runId: string, path = ""): Promise<MlflowFileInfo[]> {
    const root = await this.#artifactRoot(runId);
    const entries = await this.#http.listArtifacts(
      path ? `${root}/${path}` : root,
    );
    return entries.map((entry) => ({
      path: path ? `${path}/${entry.path}` : entry.path,
      is_dir: entry.is_dir,
      ...(entry.file_size !== undefined ? { file_size: entry.file_size } : {}),
    }));
  }

  /**
   * Downloads one artifact file of a run.
   *
   * @param runId MLflow's run id.
   * @param path File relative to the run's artifact root.
   * @returns Its bytes.
   */
  async downloadArtifact(runId: string, path: string): Promise<Uint8Array> {
    const root = await this.#artifactRoot(runId);
    const response = await this.#http.getArtifact(`${root}/${path}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Uploads bytes as an artifact file of a run.
   *
   * @param runId MLflow's run id.
   * @param path File relative to the run's artifact root (no `%` or `#`).
   * @param data The bytes, or text.
   */
  async uploadArtifact(
    runId: string,
    path: string,
    data: Uint8Array | string,
  ): Promise<void> {
    if (/[%#]/.test(path)) {
      throw new TypeError(
        `Cannot upload artifact ${
          JSON.stringify(path)
        } to MLflow: '%' and '#' cannot be stored by its artifact proxy`,
      );
    }
    const root = await this.#artifactRoot(runId);
    await this.#http.putArtifact(
      `${root}/${path}`,
      typeof data === "string" ? new TextEncoder().encode(data) : data,
    );
  }

  /**
   * Reads a registered model.
   *
   * @param name Its name.
   * @returns The model with its aliases.
   */
  async getRegisteredModel(name: string): Promise<MlflowRegisteredModel> {
    return (await this.#http.json<{ registered_model: MlflowRegisteredModel }>(
      "GET",
      "registered-models/get",
      { query: { name } },
    )).registered_model;
  }

  /**
   * Searches model versions, such as `"name='model'"`.
   *
   * @param filter MLflow's filter.
   * @returns The versions, newest first.
   */
  async searchModelVersions(filter: string): Promise<MlflowModelVersion[]> {
    return (await this.#http.json<{ model_versions?: MlflowModelVersion[] }>(
      "GET",
      "model-versions/search",
      { query: { filter, max_results: 10000 } },
    )).model_versions ?? [];
  }

  /**
   * Reads one model version.
   *
   * @param name The registered model.
   * @param version Its number.
   * @returns The version.
   */
  async getModelVersion(
    name: string,
    version: string,
  ): Promise<MlflowModelVersion> {
    return (await this.#http.json<{ model_version: MlflowModelVersion }>(
      "GET",
      "model-versions/get",
      { query: { name, version } },
    )).model_version;
  }

  /**
   * Reads the version an alias points at (`latest`: MLflow's newest).
   *
   * @param name The registered model.
   * @param alias The alias.
   * @returns The version.
   */
  async getModelVersionByAlias(
    name: string,
    alias: string,
  ): Promise<MlflowModelVersion> {
    return (await this.#http.json<{ model_version: MlflowModelVersion }>(
      "GET",
      "registered-models/alias",
      { query: { name, alias } },
    )).model_version;
  }

  /**
   * Points an alias at a version.
   *
   * @param name The registered model.
   * @param alias The alias (`[\w-]`, not `latest` or `v<digits>`).
   * @param version The version number.
   */
  async setRegisteredModelAlias(
    name: string,
    alias: string,
    version: string,
  ): Promise<void> {
    await this.#http.json("POST", "registered-models/alias", {
      body: { name, alias, version },
    });
  }

  /**
   * Where a version's files are, with `runs:/` sources resolved to the run's
   * artifact root.
   *
   * @param name The registered model.
   * @param version The version number.
   * @returns An `mlflow-artifacts:` (or other) URI.
   */
  async getModelVersionDownloadUri(
    name: string,
    version: string,
  ): Promise<string> {
    const uri = (await this.#http.json<{ artifact_uri: string }>(
      "GET",
      "model-versions/get-download-uri",
      { query: { name, version } },
    )).artifact_uri;
    const runs = /^runs:\/([^/]+)\/?(.*)$/.exec(uri);
    if (!runs) return uri;
    const root = await this.#artifactRoot(runs[1]);
    return runs[2] ? `${root}/${runs[2]}` : root;
  }

  /**
   * Calls any endpoint under `/api/2.0/mlflow/`.
   *
   * @param method HTTP method.
   * @param rpc Such as `"runs/log-inputs"`.
   * @param options Query, body, signal.
   * @returns The JSON answer.
   */
  request<T = Record<string, unknown>>(
    method: string,
    rpc: string,
    options: MlflowRequestOptions = {},
  ): Promise<T> {
    return this.#http.json<T>(method, rpc, options);
  }

  async #artifactRoot(runId: string): Promise<string> {
    const uri = (await this.getRun(runId)).info.artifact_uri;
    if (!uri) {
      throw new TypeError(`MLflow run ${runId} has no artifact_uri`);
    }
    return uri.replace(/\/+$/, "");
  }
}
