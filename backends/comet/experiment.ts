// This module is browser compatible.
import { randomHexId } from "../../runtime/values.ts";
import {
  ConfusionMatrix,
  type ConfusionMatrixInput,
} from "../../media/confusion_matrix.ts";
import { Curve, type CurveInput } from "../../media/curve.ts";
import { Histogram, type HistogramInput } from "../../media/histogram.ts";
import type { MediaValue } from "../../media/media_value.ts";
import type { MediaEvent } from "../../event/types.ts";
import { flattenParams } from "../../logger/params.ts";
import { type CometExperimentInfo, sendMedia } from "./backend.ts";
import { cometNumber, mediaRequest, parameterValue } from "./encode.ts";
import type { CometHttp, CometRequestOptions } from "./http.ts";

/** Where a value logged through the raw API belongs. */
export interface CometStepOptions {
  /** Step. */
  step?: number;
  /** Epoch. */
  epoch?: number;
  /** Context such as `"train"`. */
  context?: string;
}

/** Options of {@linkcode CometExperiment.logAsset}. */
export interface CometAssetOptions extends CometStepOptions {
  /** The name Comet shows, such as `"notes/run.txt"`. */
  fileName: string;
  /** Comet's asset type. @default {"asset"} */
  type?: string;
  /** JSON-serialisable metadata. */
  metadata?: Record<string, unknown>;
  /** Replace an asset of the same name. @default {false} */
  overwrite?: boolean;
}

/** One metric value read back from Comet. */
export interface CometMetricPoint {
  /** Metric name. */
  metricName: string;
  /** The value (Comet returns strings; `NaN` and infinities are kept). */
  metricValue: number;
  /** Step, or `null`. */
  step: number | null;
  /** Epoch, or `null`. */
  epoch: number | null;
  /** Context, or `null`. */
  context: string | null;
  /** Milliseconds since the epoch, or `null`. */
  timestamp: number | null;
}

/** A summary row (`metrics/summary`, `parameters`, `log-other`). */
export interface CometSummaryValue {
  /** Name. */
  name: string;
  /** Last value, as Comet returns it (a string). */
  valueCurrent: string | null;
  /** Smallest value. */
  valueMin: string | null;
  /** Largest value. */
  valueMax: string | null;
  /** Step of the last value. */
  stepCurrent: number | null;
}

/** An asset of an experiment (`experiment/asset/list`). */
export interface CometAsset {
  /** Asset id. */
  assetId: string;
  /** Name. */
  fileName: string;
  /** Size in bytes. */
  fileSize: number;
  /** Comet's type (`histogram_combined_3d` for 3-D histograms). */
  type: string;
  /** Step, or `null`. */
  step: number | null;
  /** Metadata as a JSON string, or `null`. */
  metadata: string | null;
}

/** Options of {@linkcode CometExperiment}. */
export interface CometExperimentOptions {
  /** The authenticated client. */
  http: CometHttp;
  /** The experiment key. */
  experimentKey: string;
  /** Resolves once the experiment exists at Comet. */
  ready: (signal?: AbortSignal) => Promise<CometExperimentInfo>;
  /** Time source, in milliseconds. */
  now?: () => number;
}

/**
 * The raw Comet API of one experiment, for what the unified logging API does
 * not cover: confusion matrices with Comet's options, curves, 3-D
 * histograms, HTML, the model graph, generic assets, "others",
 * parameters, output lines, and reads (metrics, parameters, assets,
 * metadata). Calls go straight to Comet (no spool) and throw
 * `CometApiError` on failure; each first waits until the experiment
 * exists.
 *
 * @example
 * ```ts
 * import { CometExperiment, CometHttp } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const exp = new CometExperiment({
 *   http: new CometHttp({ apiKey: "k3y", rootUrl: "http://127.0.0.1:9" }),
 *   experimentKey: "0123456789abcdef0123456789abcdef",
 *   ready: () => Promise.reject(new Error("not created")),
 * });
 * assert.equal(exp.key, "0123456789abcdef0123456789abcdef");
 * await assert.rejects(exp.logOther("note", "x"), /not created/);
 * ```
 */
export class CometExperiment {
  #http: CometHttp;
  #key: string;
  #ready: CometExperimentOptions["ready"];
  #now: () => number;
  #info: CometExperimentInfo | undefined;
  #outputOffset = 0;

  /**
   * Wraps an experiment.
   *
   * @param options Client, key and readiness.
   */
  constructor(options: CometExperimentOptions) {
    this.#http = options.http;
    this.#key = options.experimentKey;
    this.#ready = options.ready;
    this.#now = options.now ?? Date.now;
  }

  /** The experiment key. */
  get key(): string {
    return this.#key;
  }

  /** The experiment's page, once it exists. */
  get url(): string | undefined {
    return this.#info?.url;
  }

  /**
   * Waits until the experiment exists at Comet.
   *
   * @param signal Gives up waiting.
   * @returns What Comet's handshake said.
   */
  async ready(signal?: AbortSignal): Promise<CometExperimentInfo> {
    this.#info ??= await this.#ready(signal);
    return this.#info;
  }

  /**
   * Uploads a confusion matrix in Comet's JSON (`confusion-matrix` asset).
   *
   * @param input Counts with labels, or true and predicted labels.
   * @param options File name (default `confusion-matrix.json`), step, epoch.
   * @throws {TypeError} When the matrix is malformed.
   */
  async logConfusionMatrix(
    input: ConfusionMatrixInput,
    options: CometStepOptions & { fileName?: string } = {},
  ): Promise<void> {
    await this.#logMedia(
      new ConfusionMatrix(input),
      options.fileName ?? "confusion-matrix.json",
      options,
    );
  }

  /**
   * Uploads a curve (`curve` asset, `{ name, x, y }`).
   *
   * @param input Name and points.
   * @param options Step and overwrite.
   */
  async logCurve(
    input: CurveInput,
    options: CometStepOptions & { overwrite?: boolean } = {},
  ): Promise<void> {
    await this.#logMedia(new Curve(input), input.name, options);
  }

  /**
   * Uploads one step of a 3-D histogram (`histogram3d` asset, Comet's
   * version-2 JSON); steps of the same name stack in Comet's chart.
   *
   * @param input Values, or counts with edges.
   * @param options Name (default `histogram_3d.json`) and the step (required by Comet).
   */
  async logHistogram3d(
    input: HistogramInput,
    options: CometStepOptions & { name?: string; step: number },
  ): Promise<void> {
    if (!Number.isSafeInteger(options?.step)) {
      throw new TypeError(
        `Cannot log a 3-D histogram to Comet: 'step' must be an integer (current value: ${
          String(options?.step)
        })`,
      );
    }
    await this.#logMedia(
      new Histogram(input),
      options.name ?? "histogram_3d.json",
      options,
    );
  }

  /**
   * Adds HTML to the experiment's HTML tab.
   *
   * @param html The HTML.
   * @param options `override` replaces what is there instead of appending.
   */
  async logHtml(
    html: string,
    options: { override?: boolean } = {},
  ): Promise<void> {
    assertString("html", html);
    await this.ready();
    await this.#http.json("POST", "/api/rest/v2/write/experiment/html", {
      body: {
        experimentKey: this.#key,
        html,
        override: options.override === true,
        timestamp: this.#now(),
      },
    });
  }

  /**
   * Sets the model graph (any text, such as a model summary).
   *
   * @param graph The graph.
   */
  async setModelGraph(graph: string): Promise<void> {
    assertString("graph", graph);
    await this.ready();
    await this.#http.json("POST", "/api/rest/v2/write/experiment/graph", {
      body: { experimentKey: this.#key, graph },
    });
  }

  /**
   * Uploads a file as an asset.
   *
   * @param data The content.
   * @param options Name, type, step, metadata, overwrite.
   * @returns The asset id.
   */
  async logAsset(
    data: Uint8Array | string | Blob,
    options: CometAssetOptions,
  ): Promise<string> {
    assertString("fileName", options?.fileName);
    const bytes = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data instanceof Blob
      ? new Uint8Array(await data.arrayBuffer())
      : data instanceof Uint8Array
      ? data
      : fail("data", data, "a Uint8Array, a string or a Blob");
    const info = await this.ready();
    const dot = options.fileName.lastIndexOf(".");
    const assetId = randomHexId();
    await sendMedia(this.#http, info, {
      kind: "upload",
      endpoint: "asset",
      type: options.type,
      fileName: options.fileName,
      extension: dot > 0 ? options.fileName.slice(dot + 1) : undefined,
      data: bytes,
      metadata: options.metadata ? JSON.stringify(options.metadata) : undefined,
    }, { ...options, timestampMs: this.#now(), assetId });
    return assetId;
  }

  /**
   * Logs an "other": a key/value shown in the experiment's Other tab.
   *
   * @param key Name.
   * @param value Any JSON value.
   */
  async logOther(key: string, value: unknown): Promise<void> {
    assertString("key", key);
    await this.ready();
    await this.#http.json("POST", "/api/rest/v2/write/experiment/log-other", {
      body: { experimentKey: this.#key, key, value, timestamp: this.#now() },
    });
  }

  /**
   * Logs parameters in one batch; nested objects flatten to `a/b`.
   *
   * @param params The parameters.
   * @param options `prefix` names them `<prefix>_<key>`, as Comet's SDK does.
   */
  async logParameters(
    params: Record<string, unknown>,
    options: { prefix?: string } = {},
  ): Promise<void> {
    const flat = flattenParams(params);
    const timestamp = this.#now();
    const values = flat.map(([key, value]) =>
      parameterValue({
        kind: "param",
        runId: this.#key,
        seq: 0,
        timestampMs: timestamp,
        key: options.prefix ? `${options.prefix}_${key}` : key,
        value,
      })
    );
    if (values.length === 0) return;
    await this.ready();
    await this.#http.json(
      "POST",
      "/clientlib/batch/logger/experiment/parameter",
      {
        body: { experimentKey: this.#key, values },
        gzip: true,
      },
    );
  }

  /**
   * Logs a metric value straight away (the logger batches; this does not).
   *
   * @param name Metric name.
   * @param value The value.
   * @param options Step, epoch, context.
   */
  async logMetric(
    name: string,
    value: number,
    options: CometStepOptions = {},
  ): Promise<void> {
    assertString("name", name);
    if (typeof value !== "number") fail("value", value, "a number");
    await this.ready();
    await this.#http.json("POST", "/clientlib/batch/logger/experiment/metric", {
      body: {
        experimentKey: this.#key,
        values: [{
          metricName: name,
          metricValue: cometNumber(value),
          step: options.step ?? null,
          epoch: options.epoch ?? null,
          context: options.context ?? null,
          timestamp: this.#now(),
        }],
      },
      gzip: true,
    });
  }

  /**
   * Sends output lines (the experiment's Output tab), as Comet's SDK does
   * with captured stdout and stderr.
   *
   * @param lines Lines of text; a newline is added where missing.
   * @param options `stderr` marks them as standard error.
   */
  async logOutput(
    lines: string | readonly string[],
    options: { stderr?: boolean } = {},
  ): Promise<void> {
    const list = typeof lines === "string" ? [lines] : [...lines];
    for (const line of list) assertString("line", line);
    if (list.length === 0) return;
    await this.ready();
    const now = this.#now();
    await this.#http.json(
      "POST",
      "/clientlib/rest/v2/write/experiment/output",
      {
        body: {
          experimentKey: this.#key,
          runContext: null,
          outputLines: list.map((line) => ({
            output: line.endsWith("\n") ? line : `${line}\n`,
            stderr: options.stderr === true,
            localTimestamp: now,
            offset: this.#outputOffset++,
          })),
        },
        gzip: true,
      },
    );
  }

  /**
   * Adds tags.
   *
   * @param tags The tags.
   */
  async addTags(tags: readonly string[]): Promise<void> {
    for (const tag of tags) assertString("tag", tag);
    await this.ready();
    await this.#http.json("POST", "/api/rest/v2/write/experiment/tags", {
      body: { experimentKey: this.#key, addedTags: [...tags] },
    });
  }

  /**
   * Reads every value of a metric.
   *
   * @param metricName The metric.
   * @returns Its values, as Comet stores them.
   */
  async getMetrics(metricName: string): Promise<CometMetricPoint[]> {
    assertString("metricName", metricName);
    const answer = await this.#get<{ metrics?: Record<string, unknown>[] }>(
      "/api/rest/v2/experiment/metrics/get-metric",
      { metricName },
    );
    return (answer.metrics ?? []).map((m) => ({
      metricName: String(m.metricName),
      metricValue: Number(m.metricValue),
      step: (m.step as number | null) ?? null,
      epoch: (m.epoch as number | null) ?? null,
      context: (m.runContext as string | null) ?? null,
      timestamp: (m.timestamp as number | null) ?? null,
    }));
  }

  /**
   * Reads the summary of every metric (last, min, max).
   *
   * @returns One row per metric.
   */
  async getMetricsSummary(): Promise<CometSummaryValue[]> {
    return (await this.#get<{ values?: CometSummaryValue[] }>(
      "/api/rest/v2/experiment/metrics/summary",
    )).values ?? [];
  }

  /**
   * Reads the parameters.
   *
   * @returns One row per parameter.
   */
  async getParameters(): Promise<CometSummaryValue[]> {
    return (await this.#get<{ values?: CometSummaryValue[] }>(
      "/api/rest/v2/experiment/parameters",
    )).values ?? [];
  }

  /**
   * Reads the "others".
   *
   * @returns One row per key.
   */
  async getOthers(): Promise<CometSummaryValue[]> {
    return (await this.#get<{ values?: CometSummaryValue[] }>(
      "/api/rest/v2/experiment/log-other",
    )).values ?? [];
  }

  /**
   * Lists the assets, of one type or all.
   *
   * @param type Comet's type filter, such as `"image"` or `"histogram_combined_3d"`.
   * @returns The assets.
   */
  async getAssets(type = "all"): Promise<CometAsset[]> {
    return (await this.#get<{ assets?: CometAsset[] }>(
      "/api/rest/v2/experiment/asset/list",
      { type },
    )).assets ?? [];
  }

  /**
   * Downloads one asset.
   *
   * @param assetId The asset.
   * @returns Its bytes.
   */
  async getAsset(assetId: string): Promise<Uint8Array> {
    assertString("assetId", assetId);
    const response = await this.#http.stream(
      "/api/rest/v2/experiment/asset/get-asset",
      { query: { experimentKey: this.#key, assetId } },
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Reads the tags.
   *
   * @returns The tags.
   */
  async getTags(): Promise<string[]> {
    return (await this.#get<{ tags?: string[] }>(
      "/api/rest/v2/experiment/tags",
    ))
      .tags ?? [];
  }

  /**
   * Reads the experiment's metadata (name, project, start and end, whether
   * it is running or throttled).
   *
   * @returns Comet's metadata object.
   */
  getMetadata(): Promise<Record<string, unknown>> {
    return this.#get<Record<string, unknown>>(
      "/api/rest/v2/experiment/metadata",
    );
  }

  /**
   * Reads the model graph.
   *
   * @returns The graph text, or `null`.
   */
  async getGraph(): Promise<string | null> {
    return (await this.#get<{ graph?: string | null }>(
      "/api/rest/v2/experiment/graph",
    )).graph ?? null;
  }

  /**
   * Reads the HTML tab.
   *
   * @returns The HTML, or `null`.
   */
  async getHtml(): Promise<string | null> {
    return (await this.#get<{ html?: string | null }>(
      "/api/rest/v2/experiment/html",
    )).html ?? null;
  }

  /**
   * Calls any Comet endpoint with this client's authentication.
   *
   * @param method HTTP method.
   * @param path Path from the root, such as `/api/rest/v2/experiment/code`.
   * @param options Query, JSON body, gzip, signal.
   * @returns The JSON answer.
   */
  request<T = unknown>(
    method: string,
    path: string,
    options: CometRequestOptions = {},
  ): Promise<T> {
    return this.#http.json<T>(method, path, options);
  }

  async #get<T>(
    path: string,
    query: Record<string, string> = {},
  ): Promise<T> {
    await this.ready();
    return await this.#http.json<T>("GET", path, {
      query: { experimentKey: this.#key, ...query },
    });
  }

  async #logMedia(
    value: MediaValue,
    key: string,
    options: CometStepOptions & { overwrite?: boolean },
  ): Promise<void> {
    const encoded = await value.encode();
    const info = await this.ready();
    const event: MediaEvent = {
      kind: "media",
      runId: this.#key,
      seq: 0,
      timestampMs: this.#now(),
      key,
      step: options.step ?? 0,
      mediaType: encoded.mediaType,
      contentType: encoded.contentType,
      data: encoded.data,
      metadata: encoded.metadata,
      extension: encoded.extension,
    };
    await sendMedia(this.#http, info, mediaRequest(event), {
      step: options.step,
      epoch: options.epoch,
      context: options.context,
      overwrite: options.overwrite,
      timestampMs: event.timestampMs,
      assetId: randomHexId(),
    });
  }
}

function assertString(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string") fail(name, value, "a string");
}

function fail(name: string, value: unknown, expected: string): never {
  throw new TypeError(
    `Cannot call Comet: '${name}' must be ${expected} (current value: ${
      typeof value === "string" ? JSON.stringify(value) : typeof value
    })`,
  );
}
