// The dashboard: a Hono app over the local store reader. Pages are small
// shells (dashboard/html.ts) filled by the client script
// (dashboard/assets.ts) from the JSON API below; the script polls the API,
// so a page follows a run that is still logging. Read-only: no route
// writes to the store.
import { Hono } from "hono";
import type { Context } from "hono";
import { LocalStore, type RunInfo } from "../backends/local/local_store.ts";
import {
  type MediaEntry,
  RUN_FILES,
  runDirectory,
} from "../backends/local/layout.ts";
import { assertArtifactName } from "../artifact/names.ts";
import type { ArtifactRunRef } from "../artifact/types.ts";
import {
  assertSafeName,
  DEFAULT_DIR,
  type FileSystemLike,
  joinPath,
  readEnvironment,
  requireFileSystem,
} from "../runtime/fs.ts";
import { renderPage } from "./html.ts";
import { CLIENT_CSS, CLIENT_JS } from "./assets.ts";

/** Options of {@linkcode createDashboard}. */
export interface DashboardOptions {
  /**
   * The local store's folder.
   * @default {"$UETAI_DIR, else .uetai"}
   */
  dir?: string;
  /**
   * Host names the app answers besides loopback ones (`localhost`,
   * `127.0.0.1`, `[::1]`): a request whose `Host` header names another
   * host gets 403, so a web page cannot read the store through DNS
   * rebinding. `["*"]` answers any host (behind a proxy that checks it).
   * @default {[]}
   */
  allowedHosts?: readonly string[];
  /**
   * How often the pages ask for news, in milliseconds.
   * @default {2000}
   */
  pollIntervalMs?: number;
}

/**
 * The dashboard app. At run time it is a Hono app:
 * `dashboard as unknown as Hono` mounts it in another with `route()`.
 */
export interface DashboardApp {
  /**
   * Answers one request: serve it with {@linkcode serveDashboard},
   * `Deno.serve`, `Bun.serve` or `@hono/node-server` (a bound function).
   *
   * @param request The request.
   */
  fetch(request: Request): Response | Promise<Response>;
  /**
   * Answers a request made in process (for tests): a path such as
   * `"/api/runs"`, a URL or a `Request`.
   *
   * @param input What to ask.
   * @param init Method, headers.
   */
  request(
    input: string | URL | Request,
    init?: RequestInit,
  ): Response | Promise<Response>;
}

/** A metric series as the API sends it: non-finite values as strings. */
interface SeriesJson {
  steps: number[];
  values: (number | string)[];
}

/** The last point of each metric of a run. */
type LastMetrics = Record<string, { step: number; value: number | string }>;

/** What one pass over a run's journal gives. */
interface RunData {
  stamp: string;
  series: Map<string, SeriesJson>;
  last: LastMetrics;
  artifacts: { usage: "output" | "input"; name: string; version: string }[];
}

/** The summary of a run kept for the runs table (no series). */
type RunSummary = Omit<RunData, "series">;

const SERIES_CACHE_RUNS = 24;
const HISTOGRAM_ROWS = 200;

/** JSON numbers cannot be NaN or infinite: those travel as strings. */
function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/**
 * Reads runs through the journal once per change: keyed by the journal's
 * size and modification time, so a poll of an unchanged run reads nothing
 * but a `stat`.
 */
class RunCache {
  #store: LocalStore;
  #fs: FileSystemLike;
  #series = new Map<string, RunData>();
  #summaries = new Map<string, RunSummary>();
  #loading = new Map<string, Promise<RunData>>();

  constructor(store: LocalStore, fs: FileSystemLike) {
    this.#store = store;
    this.#fs = fs;
  }

  async stamp(project: string, runId: string): Promise<string> {
    const path = joinPath(
      runDirectory(this.#store.dir, project, runId),
      RUN_FILES.events,
    );
    const info = await this.#fs.stat(path).catch(() => undefined);
    return info ? `${info.size.toString(36)}-${info.mtimeMs.toString(36)}` : "";
  }

  async summary(project: string, runId: string): Promise<RunSummary> {
    const stamp = await this.stamp(project, runId);
    const hit = this.#summaries.get(`${project}/${runId}`);
    if (hit && hit.stamp === stamp) return hit;
    return await this.#load(project, runId, stamp);
  }

  async data(project: string, runId: string): Promise<RunData> {
    const stamp = await this.stamp(project, runId);
    const key = `${project}/${runId}`;
    const hit = this.#series.get(key);
    if (hit && hit.stamp === stamp) {
      this.#series.delete(key); // most recently used last
      this.#series.set(key, hit);
      return hit;
    }
    return await this.#load(project, runId, stamp);
  }

  #load(project: string, runId: string, stamp: string): Promise<RunData> {
    const key = `${project}/${runId}`;
    const pending = this.#loading.get(`${key}@${stamp}`);
    if (pending) return pending;
    const loading = this.#read(project, runId, stamp).then((data) => {
      this.#summaries.set(key, {
        stamp,
        last: data.last,
        artifacts: data.artifacts,
      });
      this.#series.delete(key);
      this.#series.set(key, data);
      while (this.#series.size > SERIES_CACHE_RUNS) {
        this.#series.delete(this.#series.keys().next().value!);
      }
      return data;
    }).finally(() => this.#loading.delete(`${key}@${stamp}`));
    this.#loading.set(`${key}@${stamp}`, loading);
    return loading;
  }

  async #read(project: string, runId: string, stamp: string): Promise<RunData> {
    const data: RunData = { stamp, series: new Map(), last: {}, artifacts: [] };
    if (stamp === "") return data;
    const events = this.#store.readEvents(project, runId, {
      mediaBytes: false,
    });
    for await (const event of events) {
      if (event.kind === "metric") {
        let series = data.series.get(event.key);
        if (!series) {
          data.series.set(event.key, series = { steps: [], values: [] });
        }
        const value = jsonNumber(event.value);
        series.steps.push(event.step);
        series.values.push(value);
        data.last[event.key] = { step: event.step, value };
      } else if (event.kind === "artifact") {
        data.artifacts.push({
          usage: event.usage,
          name: event.name,
          version: event.version,
        });
      }
    }
    return data;
  }
}

/** 32-bit FNV-1a of a text, for ETags. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}

/** A JSON answer with an ETag; `304` when the client has it already. */
function jsonAnswer(c: Context, data: unknown, etag?: string): Response {
  const text = etag === undefined ? JSON.stringify(data) : "";
  const tag = etag ?? `W/"${fnv1a(text)}-${text.length.toString(36)}"`;
  const headers = { etag: tag, "cache-control": "no-cache" };
  if (c.req.header("if-none-match") === tag) return c.body(null, 304, headers);
  return c.body(etag === undefined ? text : JSON.stringify(data), 200, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
  });
}

class HttpError extends Error {
  status: 400 | 403 | 404 | 416;
  constructor(status: 400 | 403 | 404 | 416, message: string) {
    super(message);
    this.status = status;
  }
}

/** The route's project and run, checked to be single safe folder names. */
function runParams(c: Context): { project: string; runId: string } {
  const project = c.req.param("project");
  const runId = c.req.param("runId");
  try {
    assertSafeName("project", project);
    assertSafeName("runId", runId);
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
  return { project, runId };
}

function projectParam(c: Context): string {
  const project = c.req.param("project");
  try {
    assertSafeName("project", project);
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
  return project;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost") ||
    host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The host name of a `Host` header, without port or brackets, lowercase. */
function hostName(header: string): string {
  const lower = header.trim().toLowerCase();
  if (lower.startsWith("[")) return lower.slice(1, lower.indexOf("]"));
  const colon = lower.indexOf(":");
  return colon < 0 ? lower : lower.slice(0, colon);
}

function mediaUrl(project: string, runId: string, file: string): string {
  return `/media/${encodeURIComponent(project)}/${encodeURIComponent(runId)}/${
    file.split("/").map(encodeURIComponent).join("/")
  }`;
}

function publicRun(run: RunInfo): Omit<RunInfo, "path"> {
  const { path: _path, ...rest } = run;
  return rest;
}

/** The byte range a `Range` header asks for, `undefined` for all of it. */
function byteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) {
    throw new HttpError(416, `Cannot serve bytes ${header} of ${size}`);
  }
  return { start, end };
}

/** A version of an artifact as the API sends it. */
interface VersionJson {
  version: string;
  type: string;
  aliases: string[];
  digest: string;
  size: number;
  createdMs: number;
  metadata: Record<string, unknown>;
  files: { path: string; size: number; sha256: string }[];
  createdBy?: ArtifactRunRef & { name?: string };
  usedBy: (ArtifactRunRef & { name?: string })[];
}

/**
 * Creates the dashboard: a read-only web app over the local store.
 *
 * Pages: `/` (the runs of every project, sortable, with a project picker
 * and a selection to compare), `/runs/:project/:runId` (a chart per metric
 * with zoom, hover values, log scale and smoothing; images with a step
 * slider, audio players, text samples, tables, confusion-matrix heatmaps,
 * histograms over steps, other media; the artifacts the run produced or
 * used, with versions, aliases and lineage), `/compare?runs=p/r1,p/r2`
 * (every metric of several runs overlaid) and `/artifacts/:project`.
 *
 * JSON (with ETags, so polling an unchanged run costs a `stat`):
 * `/api/projects`, `/api/runs[?project=]`, `/api/runs/:project/:runId`,
 * `.../metrics[?keys=a,b]`, `.../media`, `.../histograms?key=`,
 * `.../artifacts`, `/api/artifacts/:project`. Bytes: `/media/:project/:runId/<file>`
 * (only files in the run's media index, with their content type, ranges
 * and a sandboxing CSP) and `/files/:project/:artifact/:version?path=`.
 * The pages' script and stylesheet are served by the app: no CDN, it works
 * offline.
 *
 * @param options The store folder, extra allowed hosts, polling period.
 * @returns The app; serve `app.fetch`.
 * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { createDashboard } from "@uetai/uetai/dashboard";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ project: "p", dir });
 * for (let step = 0; step < 3; step++) logger.log({ loss: 1 / (step + 1) }, { step });
 * await logger.end();
 * const app = createDashboard({ dir });
 * const { runs } = await (await app.request("/api/runs")).json();
 * assert.equal(runs[0].lastMetrics.loss.value, 1 / 3);
 * ```
 */
export function createDashboard(options: DashboardOptions = {}): DashboardApp {
  const fs = requireFileSystem(undefined, "open the dashboard");
  const dir = options.dir ?? readEnvironment().UETAI_DIR ?? DEFAULT_DIR;
  const store = new LocalStore({ dir, fs });
  const cache = new RunCache(store, fs);
  const pollMs = Math.max(100, options.pollIntervalMs ?? 2000);
  const allowed = new Set(
    (options.allowedHosts ?? []).map((host) => hostName(host)),
  );
  const app = new Hono();

  const page = (
    c: Context,
    shell: Omit<Parameters<typeof renderPage>[0], "dir" | "pollMs">,
    status: 200 | 400 | 404 = 200,
  ): Response =>
    c.html(renderPage({ ...shell, dir, pollMs }), status, {
      "content-security-policy":
        "default-src 'self'; img-src 'self' data:; media-src 'self'; " +
        "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    });

  // DNS rebinding: a page of another site whose name now points here.
  app.use("*", async (c, next) => {
    const header = c.req.header("host");
    if (header !== undefined && !allowed.has("*")) {
      const host = hostName(header);
      if (!isLoopback(host) && !allowed.has(host)) {
        return c.text(
          `The dashboard answers loopback hosts only, not '${host}' (see allowedHosts)`,
          403,
        );
      }
    }
    await next();
  });

  app.onError((error, c) => {
    const status = error instanceof HttpError ? error.status : 500;
    if (c.req.path.startsWith("/api/")) {
      return c.json({ error: error.message }, status);
    }
    if (status === 404 || status === 400) {
      const heading = status === 404 ? "Not found" : "Bad request";
      return page(c, {
        page: "error",
        title: heading,
        heading,
        subtitle: error.message,
      }, status);
    }
    return c.text(error.message, status);
  });

  app.get("/static/dashboard.js", (c) =>
    c.body(CLIENT_JS, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-cache",
    }));
  app.get("/static/dashboard.css", (c) =>
    c.body(CLIENT_CSS, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "no-cache",
    }));

  // Pages.
  app.get("/", (c) =>
    page(c, {
      page: "runs",
      title: "Runs",
      heading: "Runs",
      data: { project: c.req.query("project") ?? "" },
    }));

  app.get("/runs/:project/:runId", async (c) => {
    const { project, runId } = runParams(c);
    const run = await store.getRun(project, runId).catch(() => {
      throw new HttpError(404, `There is no run '${runId}' in '${project}'`);
    });
    return page(c, {
      page: "run",
      title: run.name ?? run.runId,
      heading: run.name ?? run.runId,
      subtitle: `${project} · ${runId}`,
      data: { project, run: runId },
    });
  });

  app.get("/compare", (c) =>
    page(c, {
      page: "compare",
      title: "Compare runs",
      heading: "Compare runs",
      data: { runs: c.req.query("runs") ?? "" },
    }));

  app.get("/artifacts/:project", (c) => {
    const project = projectParam(c);
    return page(c, {
      page: "artifacts",
      title: `Artifacts of ${project}`,
      heading: `Artifacts of ${project}`,
      data: { project },
    });
  });

  // JSON.
  app.get(
    "/api/projects",
    async (c) => jsonAnswer(c, { projects: await store.listProjects() }),
  );

  app.get("/api/runs", async (c) => {
    const wanted = c.req.query("project");
    if (wanted) {
      try {
        assertSafeName("project", wanted);
      } catch (error) {
        throw new HttpError(400, (error as Error).message);
      }
    }
    const projects = wanted ? [wanted] : await store.listProjects();
    const runs = [];
    for (const project of projects) {
      for (const run of await store.listRuns(project)) {
        const summary = await cache.summary(project, run.runId);
        runs.push({ ...publicRun(run), lastMetrics: summary.last });
      }
    }
    runs.sort((a, b) => b.startedMs - a.startedMs);
    return jsonAnswer(c, { runs });
  });

  app.get("/api/runs/:project/:runId", async (c) => {
    const { project, runId } = runParams(c);
    const run = await store.getRun(project, runId).catch(() => {
      throw new HttpError(404, `There is no run '${runId}' in '${project}'`);
    });
    const summary = await cache.summary(project, runId);
    return jsonAnswer(c, {
      run: publicRun(run),
      lastMetrics: summary.last,
      artifacts: summary.artifacts,
    });
  });

  app.get("/api/runs/:project/:runId/metrics", async (c) => {
    const { project, runId } = runParams(c);
    const keysParam = c.req.query("keys");
    const stamp = await cache.stamp(project, runId);
    if (stamp === "") {
      // No journal (yet): a run only when its run.json exists.
      await store.getRun(project, runId).catch(() => {
        throw new HttpError(404, `There is no run '${runId}' in '${project}'`);
      });
    }
    const etag = `W/"m-${stamp}-${fnv1a(keysParam ?? "")}"`;
    if (c.req.header("if-none-match") === etag) {
      return c.body(null, 304, { etag, "cache-control": "no-cache" });
    }
    const data = await cache.data(project, runId);
    const keys = keysParam ? new Set(keysParam.split(",")) : undefined;
    const metrics: Record<string, SeriesJson> = {};
    for (const [key, series] of data.series) {
      if (!keys || keys.has(key)) metrics[key] = series;
    }
    return jsonAnswer(
      c,
      { metrics },
      `W/"m-${data.stamp}-${fnv1a(keysParam ?? "")}"`,
    );
  });

  app.get("/api/runs/:project/:runId/media", async (c) => {
    const { project, runId } = runParams(c);
    const media = (await store.listMedia(project, runId)).map((entry) => ({
      ...entry,
      url: mediaUrl(project, runId, entry.file),
    }));
    return jsonAnswer(c, { media });
  });

  app.get("/api/runs/:project/:runId/histograms", async (c) => {
    const { project, runId } = runParams(c);
    const key = c.req.query("key");
    if (!key) throw new HttpError(400, "Cannot list histograms: no ?key=");
    let entries = (await store.listMedia(project, runId)).filter((entry) =>
      entry.mediaType === "histogram" && entry.key === key
    );
    if (entries.length > HISTOGRAM_ROWS) {
      // Evenly spaced, always with the first and the last.
      const picked: MediaEntry[] = [];
      for (let i = 0; i < HISTOGRAM_ROWS; i++) {
        picked.push(
          entries[Math.round(i * (entries.length - 1) / (HISTOGRAM_ROWS - 1))],
        );
      }
      entries = picked;
    }
    const rows = [];
    for (const entry of entries) {
      const bytes = await store.readMediaFile(project, runId, entry.file);
      const json = JSON.parse(new TextDecoder().decode(bytes));
      rows.push({
        step: entry.step,
        edges: json.edges,
        counts: json.counts,
        total: json.total,
        min: json.min,
        max: json.max,
      });
    }
    return jsonAnswer(c, { key, total: entries.length, entries: rows });
  });

  const names = (): (ref: ArtifactRunRef) => Promise<string | undefined> => {
    const known = new Map<string, Promise<string | undefined>>();
    return (ref) => {
      const key = `${ref.project}/${ref.runId}`;
      let name = known.get(key);
      if (!name) {
        name = store.getRun(ref.project, ref.runId).then(
          (run) => run.name,
          () => undefined,
        );
        known.set(key, name);
      }
      return name;
    };
  };

  const describeArtifact = async (
    project: string,
    name: string,
    nameOf: (ref: ArtifactRunRef) => Promise<string | undefined>,
  ): Promise<{ name: string; type: string; versions: VersionJson[] }> => {
    const artifacts = store.artifacts(project);
    const versions: VersionJson[] = [];
    for (const manifest of await artifacts.listVersions(name)) {
      const usedBy = [];
      for (const use of await artifacts.listUses(name, manifest.version)) {
        usedBy.push({ ...use, name: await nameOf(use) });
      }
      const version: VersionJson = {
        version: manifest.version,
        type: manifest.type,
        aliases: manifest.aliases,
        digest: manifest.digest,
        size: manifest.size,
        createdMs: manifest.createdMs,
        metadata: manifest.metadata,
        files: manifest.files.map(({ path, size, sha256 }) => ({
          path,
          size,
          sha256,
        })),
        usedBy,
      };
      if (manifest.createdBy) {
        version.createdBy = {
          ...manifest.createdBy,
          name: await nameOf(manifest.createdBy),
        };
      }
      versions.push(version);
    }
    return { name, type: versions[0]?.type ?? "", versions };
  };

  app.get("/api/runs/:project/:runId/artifacts", async (c) => {
    const { project, runId } = runParams(c);
    const summary = await cache.summary(project, runId);
    const nameOf = names();
    const artifacts = [];
    for (const name of new Set(summary.artifacts.map((a) => a.name))) {
      try {
        assertArtifactName(name);
      } catch {
        continue;
      }
      artifacts.push(await describeArtifact(project, name, nameOf));
    }
    return jsonAnswer(c, { project, runId, artifacts });
  });

  app.get("/api/artifacts/:project", async (c) => {
    const project = projectParam(c);
    const nameOf = names();
    const artifacts = [];
    for (const name of await store.artifacts(project).listArtifacts()) {
      artifacts.push(await describeArtifact(project, name, nameOf));
    }
    return jsonAnswer(c, { project, artifacts });
  });

  // Bytes.
  app.get("/media/:project/:runId/*", async (c) => {
    const { project, runId } = runParams(c);
    const segments = new URL(c.req.url).pathname.split("/").slice(4);
    let file: string;
    try {
      file = segments.map((segment) => decodeURIComponent(segment)).join("/");
    } catch {
      throw new HttpError(400, "Cannot decode the media path");
    }
    // Only files the run's media index lists: never any other path.
    const entry = (await store.listMedia(project, runId)).find((item) =>
      item.file === file
    );
    if (!entry) {
      throw new HttpError(404, `Run '${runId}' has no media file '${file}'`);
    }
    const bytes = await store.readMediaFile(project, runId, entry.file);
    const range = byteRange(c.req.header("range"), bytes.length);
    const type = entry.contentType.startsWith("text/")
      ? `${entry.contentType}; charset=utf-8`
      : entry.contentType;
    const headers: Record<string, string> = {
      "content-type": type,
      "accept-ranges": "bytes",
      "cache-control": "private, max-age=3600",
      "x-content-type-options": "nosniff",
      // HTML media (and anything else opened as a document) runs no script.
      "content-security-policy": "sandbox; default-src 'none'; " +
        "img-src 'self' data:; style-src 'unsafe-inline'",
    };
    if (!range) {
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, headers);
    }
    headers["content-range"] =
      `bytes ${range.start}-${range.end}/${bytes.length}`;
    return c.body(
      bytes.slice(range.start, range.end + 1) as Uint8Array<ArrayBuffer>,
      206,
      headers,
    );
  });

  app.get("/files/:project/:name/:version", async (c) => {
    const project = projectParam(c);
    const name = c.req.param("name");
    const version = c.req.param("version");
    const path = c.req.query("path");
    try {
      assertArtifactName(name);
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
    const artifacts = store.artifacts(project);
    const manifest = (await artifacts.listVersions(name)).find((v) =>
      v.version === version
    );
    const file = manifest?.files.find((f) => f.path === path);
    if (!manifest || !file) {
      throw new HttpError(
        404,
        `Artifact '${name}' has no version '${version}' with file '${path}'`,
      );
    }
    const stream = await artifacts.openFile(manifest, file);
    const base = file.path.slice(file.path.lastIndexOf("/") + 1);
    return c.body(stream, 200, {
      "content-type": "application/octet-stream",
      "content-length": String(file.size),
      "content-disposition": `attachment; filename="${
        base.replace(/[^A-Za-z0-9._-]/g, "_")
      }"`,
      "x-content-type-options": "nosniff",
    });
  });

  app.notFound((c) => {
    if (c.req.path.startsWith("/api/")) {
      return c.json({ error: `No route ${c.req.path}` }, 404);
    }
    return page(c, {
      page: "error",
      title: "Not found",
      heading: "Not found",
      subtitle: `Nothing at ${c.req.path}`,
    }, 404);
  });

  return app as unknown as DashboardApp;
}
