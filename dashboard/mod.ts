/**
 * The local dashboard: a web app over the local store (`./.uetai/`) that a
 * person opens in a browser. A runs table across projects (name, status,
 * tags, params, last metrics; sortable); a page per run with a chart per
 * metric (drag to zoom, hover values, log scale, smoothing), images with a
 * step slider, audio players, text samples, tables, confusion-matrix
 * heatmaps, histograms over steps, and the artifacts the run produced or
 * used with their versions, aliases and lineage; an overlay of several
 * runs' metrics. Pages poll the JSON API every 2 s, so they follow a run
 * that is still logging. Everything it serves comes from the app itself
 * (no CDN: it works offline), on loopback by default.
 *
 * `createDashboard()` gives the app (serve its `fetch` anywhere);
 * `serveDashboard()` serves it with the runtime's own server (Deno, Bun or
 * Node).
 *
 * @example Serve the store of a finished run and read its metrics
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { serveDashboard } from "@uetai/uetai/dashboard";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const logger = createLogger({ project: "demo", dir, name: "first" });
 * for (let step = 0; step < 10; step++) logger.log({ loss: 1 / (step + 1) }, { step });
 * await logger.end();
 *
 * const server = await serveDashboard({ dir, port: 0 }); // 127.0.0.1
 * console.log(`open ${server.url}`);
 * const { runs } = await (await fetch(`${server.url}api/runs`)).json();
 * assert.equal(runs[0].name, "first");
 * const url = `${server.url}api/runs/demo/${runs[0].runId}/metrics`;
 * const { metrics } = await (await fetch(url)).json();
 * assert.equal(metrics.loss.steps.length, 10);
 * await server.close();
 * ```
 *
 * @module
 */
export {
  createDashboard,
  type DashboardApp,
  type DashboardOptions,
} from "./app.ts";
export {
  type DashboardServer,
  serveDashboard,
  type ServeDashboardOptions,
} from "./serve.ts";
export { escapeHtml } from "./html.ts";
