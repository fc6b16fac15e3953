/**
 * The browser demo's page script: logs a short "training run" from a web
 * page through a uetai relay, with a scoped token instead of a dashboard key.
 *
 * It reads the relay's URL and the token from the page's query
 * (`?relay=http://127.0.0.1:8788&token=uetai1....`) or, without them, from
 * `config.json` next to the page (what `serve.ts` hands out). Other
 * settings, from either place: `project`, `steps` (default 100), `imageSize`
 * (default 16), `intervalMs` (pause between steps, default 0),
 * `flushIntervalMs` (the logger's, default 1000) and `end` (`1`: end the run
 * and wait for the relay's answer; by default the page does not wait and
 * relies on `flushOnPageHide` when it is closed).
 *
 * Bundle it for the browser (serve.ts does this):
 * `./node_modules/.bin/deno bundle --platform=browser -o dist/browser/page.js examples/browser/page.ts`
 *
 * The status line (`#status`) carries the state in `data-state`:
 * `loading`, `logging`, `logged`, `ended` or `error`.
 *
 * @module
 */
import { createLogger, flushOnPageHide, type Logger } from "../../mod.ts";
import { IMAGE_KEY, METRIC_KEYS, metricsAt, patternImage } from "./pattern.ts";

/** What the page needs to know, from the query or `config.json`. */
interface DemoConfig {
  relay: string;
  token: string;
  project: string;
  steps: number;
  imageSize: number;
  intervalMs: number;
  flushIntervalMs: number;
  end: boolean;
}

/** What the page did, also kept on `globalThis.uetaiDemo` for tests. */
interface DemoState {
  runId?: string;
  points: number;
  images: number;
  errors: string[];
}

/**
 * The little of the DOM this page uses, typed here so that the project's
 * type check needs no `dom` lib (which would apply to every module).
 */
interface PageElement {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  append(child: PageElement): void;
}
interface PageCanvas extends PageElement {
  width: number;
  height: number;
  getContext(kind: "2d"): {
    createImageData(width: number, height: number): ImageDataLike;
    putImageData(image: ImageDataLike, x: number, y: number): void;
  } | null;
}
interface ImageDataLike {
  readonly data: Uint8ClampedArray;
}
const { document, location, history } = globalThis as unknown as {
  document: {
    getElementById(id: string): PageElement | null;
    createElement(tag: string): PageElement;
  };
  location: { href: string; search: string; pathname: string };
  history: { replaceState(data: null, unused: string, url: string): void };
};

const state: DemoState = { points: 0, images: 0, errors: [] };
(globalThis as { uetaiDemo?: DemoState }).uetaiDemo = state;

const statusLine = document.getElementById("status") as PageElement;
const errorList = document.getElementById("errors") as PageElement;

function show(
  phase: "loading" | "logging" | "logged" | "ended" | "error",
  text: string,
): void {
  statusLine.dataset.state = phase;
  statusLine.textContent = text;
}

function number(value: unknown, fallback: number): number {
  const parsed = Number(value ?? Number.NaN);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

async function readConfig(): Promise<DemoConfig> {
  const query = new URLSearchParams(location.search);
  let raw: Record<string, unknown>;
  if (query.has("relay") && query.has("token")) {
    raw = Object.fromEntries(query);
    // Keep the token out of the address bar and the history.
    query.delete("token");
    const rest = query.toString();
    history.replaceState(
      null,
      "",
      location.pathname + (rest ? `?${rest}` : ""),
    );
  } else {
    const response = await fetch(new URL("config.json", location.href), {
      cache: "no-store",
    });
    if (!response.ok) {
      throw new Error(
        `No relay given: add ?relay=<url>&token=<token> to the page's address, or serve config.json (GET config.json answered ${response.status})`,
      );
    }
    raw = await response.json() as Record<string, unknown>;
  }
  if (typeof raw.relay !== "string" || typeof raw.token !== "string") {
    throw new Error("The config lacks 'relay' or 'token'");
  }
  return {
    relay: raw.relay,
    token: raw.token,
    project: typeof raw.project === "string" ? raw.project : "browser-demo",
    steps: Math.floor(number(raw.steps, 100)),
    imageSize: Math.max(2, Math.floor(number(raw.imageSize, 16))),
    intervalMs: number(raw.intervalMs, 0),
    flushIntervalMs: number(raw.flushIntervalMs, 1000),
    end: raw.end === true || raw.end === "1" || raw.end === "true",
  };
}

function drawImage(pixels: number[][]): void {
  const canvas = document.getElementById("image") as PageCanvas | null;
  const context = canvas?.getContext("2d");
  if (!canvas || !context) return;
  const size = pixels.length;
  const data = context.createImageData(size, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      data.data.set([pixels[y][x], pixels[y][x], pixels[y][x], 255], i);
    }
  }
  canvas.width = size;
  canvas.height = size;
  context.putImageData(data, 0, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function run(): Promise<void> {
  const config = await readConfig();
  const logger: Logger = createLogger({
    project: config.project,
    relay: { url: config.relay, token: config.token },
    flushIntervalMs: config.flushIntervalMs,
    onError: ({ error }) => {
      state.errors.push(error.message);
      const item = document.createElement("li");
      item.textContent = error.message;
      errorList.append(item);
    },
  });
  // Sends what is still queued when the tab is hidden or closed: the relay
  // backend uses fetch(..., { keepalive: true }), which outlives the page.
  flushOnPageHide(logger);
  state.runId = logger.runId;
  show("logging", `Logging run ${logger.runId} to ${config.relay}...`);

  for (let step = 0; step < config.steps; step++) {
    const values = metricsAt(step);
    logger.log(values, { step });
    state.points += Object.keys(values).length;
    if (config.intervalMs > 0) await sleep(config.intervalMs);
  }
  const image = patternImage(config.imageSize);
  logger.log({ [IMAGE_KEY]: image }, { step: config.steps });
  state.images++;
  drawImage(image);

  const what = `${state.points} metric points (${
    METRIC_KEYS.join(", ")
  }) over ${config.steps} steps and ${state.images} image`;
  if (!config.end) {
    show(
      "logged",
      `Logged ${what} in run ${logger.runId}. Close or hide this tab: flushOnPageHide sends what is still queued to ${config.relay}.`,
    );
    return;
  }
  show("logging", `Logged ${what}; ending the run...`);
  const report = await logger.end();
  show(
    report.ok ? "ended" : "error",
    report.ok
      ? `Run ${logger.runId} ended: ${what} reached the relay at ${config.relay}.`
      : `Run ${logger.runId} ended with events not delivered: ${
        JSON.stringify(report.backends)
      }`,
  );
}

run().catch((error: Error) => {
  state.errors.push(error.message);
  show("error", `Error: ${error.message}`);
});
