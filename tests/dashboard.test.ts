// The local dashboard (dashboard/), opened in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) on a store holding:
//
// - the run the demo produced (`examples/train.ts`, run as a child with
//   `UETAI_DIR` pointing at a temporary store): loss over 375 steps, digit
//   images at three steps, histograms, a confusion matrix, a text sample, a
//   WAV chirp, and the checkpoint artifact (v0, v1 with latest and best,
//   downloaded by the run);
// - a run logged here with a hostile name, tags, params and text (HTML
//   that would run script if it were not escaped), every media kind the
//   dashboard shows (a table among them), and an artifact logged and
//   downloaded (v0, latest, lineage);
// - a run still logging while its page is open.
//
// It checks what a person would see: as many chart points as were logged,
// the image of the step the slider is at, an audio element that plays the
// WAV, the artifact versions and aliases, the runs table sorting, names as
// text. Screenshots go to an OS temporary folder, printed at the end.
//
// Chromium is required: the test fails (it does not skip) when it is absent.
// Runs unchanged under `deno test -A`, `bun test` and `node --import tsx --test`.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type Browser, chromium, type Page } from "playwright-core";
import {
  Audio,
  ConfusionMatrix,
  createLogger,
  Histogram,
  Image,
  Table,
  Text,
} from "../mod.ts";
import { LocalStore } from "../backends/local/mod.ts";
import {
  createDashboard,
  type DashboardServer,
  escapeHtml,
  serveDashboard,
} from "../dashboard/mod.ts";
import { CLIENT_JS } from "../dashboard/assets.ts";
import { DENO_BIN, ROOT, RUNTIME } from "./helpers/runtime.ts";

const CHROMIUM = process.env.UETAI_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];
/** A name that runs script if it reaches the page as HTML. */
const HOSTILE_NAME = `<img src=x onerror="window.__xss='name'">`;
const HOSTILE_TAG = `<b onmouseover="window.__xss='tag'">bold</b>`;
const HOSTILE_TEXT =
  `<script>window.__xss='text'</script>\nhello & <i>goodbye</i>`;
const LOSS_STEPS = 50;
const HISTOGRAM_STEPS = [0, 10, 20, 30];
const POLL_MS = 400;

function runDemo(dir: string): Promise<string> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    UETAI_DIR: dir,
    NO_COLOR: "1",
    RUST_BACKTRACE: "0",
  };
  for (const name of ["UETAI_BACKEND", "UETAI_PROJECT"]) delete env[name];
  return new Promise((resolve, reject) => {
    execFile(
      DENO_BIN,
      ["run", "-A", "examples/train.ts"],
      { cwd: ROOT, env, timeout: 120_000 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`the demo failed: ${error.message}\n${stderr}`))
          : resolve(stdout),
    );
  });
}

/** Pixels of one colour, HWC. */
function solid(rgb: [number, number, number], size = 8): Uint8Array {
  const pixels = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) pixels.set(rgb, i * 3);
  return pixels;
}

/** Logs the media run: a hostile name, every media kind, an artifact. */
async function logMediaRun(dir: string): Promise<string> {
  const logger = createLogger({
    project: "zoo",
    dir,
    name: HOSTILE_NAME,
    tags: [HOSTILE_TAG, "media"],
  });
  logger.logParams({ lr: 0.01, note: `<script>window.__xss='param'</script>` });
  for (let step = 0; step < LOSS_STEPS; step++) {
    logger.log({ loss: Math.exp(-step / 10) + 0.01 }, { step });
  }
  logger.log({
    view: new Image(solid([255, 0, 0]), {
      width: 8,
      height: 8,
      channels: 3,
      caption: "red <at> 10",
    }),
  }, { step: 10 });
  logger.log({
    view: new Image(solid([0, 255, 0]), {
      width: 8,
      height: 8,
      channels: 3,
      caption: "green at 20",
    }),
    beep: new Audio(
      Float32Array.from(
        { length: 4000 },
        (_, i) => 0.4 * Math.sin(2 * Math.PI * 440 * i / 8000),
      ),
      { sampleRate: 8000, caption: "440 Hz" },
    ),
    note: new Text(HOSTILE_TEXT),
    predictions: new Table([
      { id: 1, label: "<i>cat</i>", score: 0.9 },
      { id: 2, label: "dog", score: 0.4 },
      { id: 3, label: "bird", score: 0.7 },
    ]),
    confusion: new ConfusionMatrix({
      yTrue: [0, 0, 1, 1, 2, 2, 2],
      yPred: [0, 1, 1, 1, 2, 0, 2],
    }),
  }, { step: 20 });
  for (const step of HISTOGRAM_STEPS) {
    const values = Float32Array.from(
      { length: 500 },
      (_, i) => Math.sin(i * 12.9898) * (1 + step / 10),
    );
    logger.log({ weights: new Histogram({ values, bins: 20 }) }, { step });
  }
  const v0 = await logger.logArtifact({
    name: "weights",
    type: "model",
    files: [{ path: "w.bin", data: new Uint8Array(64).fill(7) }],
  });
  assert.equal(v0.version, "v0");
  const downloads = await mkdtemp(join(tmpdir(), "uetai-dashboard-dl-"));
  try {
    await logger.downloadArtifact({ name: "weights", savePath: downloads });
  } finally {
    await rm(downloads, { recursive: true, force: true });
  }
  await logger.end();
  return logger.runId;
}

/**
 * Polls an expression in the page until it is truthy. (Playwright's
 * `waitForFunction` with a string compiles it in the page, which the
 * dashboard's Content-Security-Policy forbids; `evaluate` is not affected.)
 */
async function waitFor(
  page: Page,
  what: string,
  expression: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await page.evaluate(expression)) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}: ${expression}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("dashboard over the local store (headless Chromium)", () => {
  let dir = "";
  let shots = "";
  let server: DashboardServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let demoRunId = "";
  let mediaRunId = "";
  const pageErrors: string[] = [];
  const timings: Record<string, number> = {};

  // Set up by the first test that needs it, under that test's timeout (Bun
  // gives hooks 5 s, whatever their options).
  let setup: Promise<void> | undefined;
  const ready = (): Promise<void> => setup ??= prepare();
  async function prepare(): Promise<void> {
    const started = performance.now();
    dir = await mkdtemp(join(tmpdir(), "uetai-dashboard-store-"));
    shots = await mkdtemp(join(tmpdir(), "uetai-dashboard-screenshots-"));
    await runDemo(dir);
    timings.demo = performance.now() - started;
    [demoRunId] = (await new LocalStore({ dir }).listRuns("mnist")).map((r) =>
      r.runId
    );
    mediaRunId = await logMediaRun(dir);
    server = await serveDashboard({ dir, port: 0, pollIntervalMs: POLL_MS });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    const context = await browser.newContext({
      viewport: { width: 1400, height: 1000 },
    });
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    timings.setup = performance.now() - started;
  }

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(
      `dashboard test (${RUNTIME}): screenshots in ${shots}; ${
        Object.entries(timings).map(([k, v]) => `${k} ${Math.round(v)} ms`)
          .join(", ")
      }`,
    );
  });

  it("serves JSON, bytes with their types, and refuses bad paths and hosts", {
    timeout: 180_000,
  }, async () => {
    await ready();
    new Function(CLIENT_JS); // the page script at least parses
    assert.equal(
      escapeHtml(`<a href="x">'&'</a>`),
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
    const app = createDashboard({ dir });
    const { runs } = await (await app.request("/api/runs")).json();
    assert.equal(runs.length, 2);
    const demo = runs.find((r: { runId: string }) => r.runId === demoRunId);
    assert.equal(demo.status, "finished");
    assert.equal(typeof demo.lastMetrics["train/loss"].value, "number");
    assert.equal(demo.path, undefined, "no local paths in the API");

    const { media } = await (await app.request(
      `/api/runs/mnist/${demoRunId}/media`,
    )).json();
    const audio = media.find((m: { mediaType: string }) =>
      m.mediaType === "audio"
    );
    const wav = await app.request(audio.url);
    assert.equal(wav.status, 200);
    assert.equal(wav.headers.get("content-type"), "audio/wav");
    const bytes = new Uint8Array(await wav.arrayBuffer());
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "RIFF");
    const part = await app.request(audio.url, {
      headers: { range: "bytes=0-43" },
    });
    assert.equal(part.status, 206);
    assert.equal(
      part.headers.get("content-range"),
      `bytes 0-43/${bytes.length}`,
    );
    await part.arrayBuffer();
    const png = media.find((m: { contentType: string }) =>
      m.contentType === "image/png"
    );
    const image = await app.request(png.url);
    assert.equal(image.headers.get("content-type"), "image/png");
    await image.arrayBuffer();

    // Path parameters are single folder names; media only from the index.
    for (
      const path of [
        `/api/runs/..%2F..%2Fetc/x/metrics`,
        `/api/runs/mnist/..%2F${demoRunId}`,
        `/api/runs/.artifacts/x/media`,
      ]
    ) {
      const answer = await app.request(path);
      assert.equal(answer.status, 400, path);
      await answer.body?.cancel();
    }
    for (
      const path of [
        `/media/mnist/${demoRunId}/run.json`,
        `/media/mnist/${demoRunId}/media/..%2Frun.json`,
        `/media/mnist/${demoRunId}/events.ndjson`,
      ]
    ) {
      const answer = await app.request(path);
      assert.equal(answer.status, 404, path);
      await answer.body?.cancel();
    }
    // The page as served, before its script runs: the name escaped.
    const html = await (await app.request(`/runs/zoo/${mediaRunId}`)).text();
    assert.ok(html.includes(`<h1 id="title">${escapeHtml(HOSTILE_NAME)}</h1>`));
    assert.ok(!html.includes(HOSTILE_NAME));
    // DNS rebinding: another site's name pointing here gets nothing.
    const rebound = await app.request("/api/runs", {
      headers: { host: "attacker.example" },
    });
    assert.equal(rebound.status, 403);
    await rebound.body?.cancel();
    // An unchanged run answers 304 to its ETag.
    const first = await app.request(`/api/runs/mnist/${demoRunId}/metrics`);
    await first.arrayBuffer();
    const again = await app.request(`/api/runs/mnist/${demoRunId}/metrics`, {
      headers: { "if-none-match": first.headers.get("etag")! },
    });
    assert.equal(again.status, 304);
  });

  it(
    "lists runs, sortable, with names as text",
    { timeout: 60_000 },
    async () => {
      await ready();
      await page.goto(server!.url);
      await waitFor(
        page,
        "two rows",
        "document.querySelectorAll('#runs tbody tr').length === 2",
      );
      const cell = page.locator(
        `#runs tr[data-run="zoo/${mediaRunId}"] td.name`,
      );
      assert.equal(await cell.textContent(), HOSTILE_NAME);
      const tags = await page.locator(
        `#runs tr[data-run="zoo/${mediaRunId}"] td.tags .chip`,
      ).allTextContents();
      assert.deepEqual(tags, [HOSTILE_TAG, "media"]);
      assert.equal(
        await page.locator('img[src="x"], b[onmouseover]').count(),
        0,
      );
      // Sorting: by name, then the other way.
      const names = () => page.locator("#runs tbody td.name").allTextContents();
      await page.click('#runs th[data-sort-key="name"]');
      const ascending = await names();
      const expected = await page.evaluate(
        (list) =>
          list.slice().sort((a, b) =>
            a.localeCompare(b, undefined, {
              numeric: true,
              sensitivity: "base",
            })
          ),
        ascending,
      );
      assert.deepEqual(ascending, expected);
      assert.equal(
        await page.getAttribute('#runs th[data-sort-key="name"]', "aria-sort"),
        "ascending",
      );
      await page.click('#runs th[data-sort-key="name"]');
      assert.deepEqual(await names(), ascending.slice().reverse());
      // By a metric: the run without it stays last.
      await page.click('#runs th[data-sort-key="m:train/loss"]');
      const lossCells = await page.locator(
        '#runs tbody td[data-metric="train/loss"]',
      ).allTextContents();
      assert.notEqual(lossCells[0], "");
      assert.equal(lossCells[1], "");
      await page.screenshot({ path: join(shots, "runs.png"), fullPage: true });
      assert.equal(await page.evaluate("window.__xss"), undefined);
    },
  );

  it(
    "shows the demo run: every loss point, the image of step N, a playing WAV, artifacts",
    {
      timeout: 90_000,
    },
    async () => {
      await ready();
      const store = new LocalStore({ dir });
      const series = await store.readMetrics("mnist", demoRunId);
      const logged = series.get("train/loss")!.length;
      assert.ok(logged > 100);
      await page.goto(`${server!.url}runs/mnist/${demoRunId}`);
      const chart = 'figure.chart[data-key="train/loss"]';
      await waitFor(
        page,
        "the loss chart",
        `!!document.querySelector('${chart}')`,
      );
      assert.equal(
        await page.getAttribute(chart, "data-points"),
        String(logged),
      );
      // Vertices actually drawn, not only the attribute.
      const vertices = async (selector: string): Promise<number> =>
        await page.evaluate(
          `Array.from(document.querySelectorAll(${
            JSON.stringify(selector)
          })).reduce((n, line) => n + line.points.numberOfItems, 0)`,
        ) as number;
      assert.equal(await vertices(`${chart} polyline.raw`), logged);
      const testLoss = series.get("test/loss")!.length;
      assert.equal(
        await page.getAttribute(
          'figure.chart[data-key="test/loss"]',
          "data-points",
        ),
        String(testLoss),
      );

      // Hover shows the values.
      const hit = page.locator(`${chart} rect.hit`);
      const box = (await hit.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const tooltip = page.locator(`${chart} .tooltip`);
      await tooltip.waitFor({ state: "visible" });
      assert.match((await tooltip.textContent())!, /^step \d+\n\d/);
      // Zoom by dragging a box, by button, and back.
      const xMax = async () =>
        Number(await page.getAttribute(`${chart} svg`, "data-x-max"));
      const fullMax = await xMax();
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.7, {
        steps: 5,
      });
      await page.mouse.up();
      assert.ok(await xMax() < fullMax * 0.7, "dragging zooms in");
      await page.click(`${chart} button.zoom-reset`);
      assert.equal(await xMax(), fullMax);
      await page.click(`${chart} button.zoom-in`);
      assert.ok(await xMax() < fullMax);
      await page.click("#reset-zoom");
      assert.equal(await xMax(), fullMax);
      // Log scale and smoothing.
      await page.check("#log-scale");
      assert.equal(await page.getAttribute(chart, "data-log"), "true");
      assert.equal(await vertices(`${chart} polyline.raw`), logged);
      await page.uncheck("#log-scale");
      await page.fill("#smoothing", "0.9");
      assert.equal(await vertices(`${chart} polyline.smooth`), logged);
      await page.fill("#smoothing", "0");
      assert.equal(await page.locator(`${chart} polyline.smooth`).count(), 0);

      // The image gallery at step N.
      const media = await store.listMedia("mnist", demoRunId);
      const images = media.filter((m) => m.key === "samples/digit_0");
      const steps = [...new Set(images.map((m) => m.step))].sort((a, b) =>
        a - b
      );
      assert.ok(steps.length >= 2);
      const n = steps[1];
      await page.locator("#image-step").fill("1");
      const digit = 'img[data-key="samples/digit_0"]';
      await waitFor(
        page,
        `the digit of step ${n}`,
        `(() => { const img = document.querySelector('${digit}');
        return img && img.dataset.step === '${n}' && img.complete && img.naturalWidth === 28; })()`,
      );
      assert.match(
        (await page.getAttribute(digit, "src"))!,
        new RegExp(`_step${n}_`),
      );
      assert.equal(await page.textContent("#image-step-label"), String(n));

      // The audio element plays the WAV.
      const played = await page.evaluate(`(async () => {
      const audio = document.querySelector('audio[data-key="chirp"]');
      audio.muted = true;
      if (audio.readyState < 1) {
        await new Promise((resolve, reject) => {
          audio.addEventListener("loadedmetadata", resolve, { once: true });
          audio.addEventListener("error", () => reject(new Error("audio error " + audio.error?.code)), { once: true });
        });
      }
      const type = (await fetch(audio.src)).headers.get("content-type");
      await audio.play();
      const start = performance.now();
      while (audio.currentTime === 0 && performance.now() - start < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      audio.pause();
      return { duration: audio.duration, currentTime: audio.currentTime, type };
    })()`) as { duration: number; currentTime: number; type: string };
      assert.equal(played.type, "audio/wav");
      assert.ok(
        Math.abs(played.duration - 1) < 0.01,
        `duration ${played.duration}`,
      );
      assert.ok(played.currentTime > 0, "the audio element played");

      // Artifacts: versions, aliases, lineage.
      const artifact = '.artifact[data-name="mnist-mlp"]';
      await waitFor(
        page,
        "the artifact",
        `!!document.querySelector('${artifact}')`,
      );
      // As many versions as stored (the demo checkpoints twice: v0, v1),
      // each with its aliases ("latest" on the last); the demo produced
      // them all and downloaded the latest.
      const stored = await store.artifacts("mnist").listVersions("mnist-mlp");
      const versions = await page.locator(`${artifact} td.version`)
        .allTextContents();
      assert.ok(versions.includes("v0"));
      assert.deepEqual(versions.sort(), stored.map((v) => v.version).sort());
      for (const version of stored) {
        const row = `${artifact} tr[data-version="${version.version}"]`;
        assert.deepEqual(
          await page.locator(`${row} td.aliases .chip`).allTextContents(),
          version.aliases,
        );
        assert.match(
          (await page.textContent(`${row} td.produced-by`))!,
          /this run/,
        );
      }
      const latest = stored.find((v) => v.aliases.includes("latest"))!;
      assert.match(
        (await page.textContent(
          `${artifact} tr[data-version="${latest.version}"] td.used-by`,
        ))!,
        /this run/,
      );
      // Histograms over steps and the confusion matrix.
      assert.equal(
        await page.getAttribute(
          '[data-key="weights/hidden"] svg.histogram',
          "data-steps",
        ),
        String(media.filter((m) => m.key === "weights/hidden").length),
      );
      const confusion = media.find((m) => m.key === "confusion")!;
      const classes = confusion.metadata.size as number;
      assert.equal(
        await page.locator('[data-key="confusion"] table.heatmap td.cell')
          .count(),
        classes * classes,
      );
      await page.screenshot({
        path: join(shots, "run-demo.png"),
        fullPage: true,
      });
    },
  );

  it(
    "shows every media kind of the hostile run, as text",
    { timeout: 60_000 },
    async () => {
      await ready();
      await page.goto(`${server!.url}runs/zoo/${mediaRunId}`);
      assert.equal(await page.textContent("#title"), HOSTILE_NAME);
      assert.equal(await page.title(), `${HOSTILE_NAME} · uetai`);
      await waitFor(
        page,
        "the media",
        "!!document.querySelector('table.heatmap') && !!document.querySelector('.artifact') && !!document.querySelector('svg.histogram') && !!document.querySelector('pre.text-sample') && !!document.querySelector('table.media-table')",
      );
      assert.equal(
        await page.getAttribute('figure.chart[data-key="loss"]', "data-points"),
        String(LOSS_STEPS),
      );
      // The image of each step, by its pixels.
      const colour = async (): Promise<unknown> =>
        await page.evaluate(`(async () => {
        const img = document.querySelector('img[data-key="view"]');
        await img.decode();
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 8;
        const ctx = canvas.getContext("2d");
        ctx.drawImage(img, 0, 0);
        return [img.dataset.step, Array.from(ctx.getImageData(4, 4, 1, 1).data)];
      })()`);
      assert.deepEqual(await colour(), ["20", [0, 255, 0, 255]]);
      await page.locator("#image-step").fill("0");
      await waitFor(
        page,
        "the step-10 image",
        "document.querySelector('img[data-key=\"view\"]').dataset.step === '10'",
      );
      assert.deepEqual(await colour(), ["10", [255, 0, 0, 255]]);
      // Text, table and heatmap keep the HTML as text.
      assert.equal(await page.textContent("pre.text-sample"), HOSTILE_TEXT);
      const cells = await page.locator("table.media-table tbody td")
        .allTextContents();
      assert.deepEqual(cells, [
        "1",
        "<i>cat</i>",
        "0.9",
        "2",
        "dog",
        "0.4",
        "3",
        "bird",
        "0.7",
      ]);
      const counts = await page.evaluate(
        `Array.from(document.querySelectorAll("table.heatmap td.cell"), (td) => Number(td.dataset.count))`,
      );
      assert.deepEqual(counts, [1, 1, 0, 0, 2, 0, 1, 0, 2]);
      assert.equal(
        await page.getAttribute(
          '[data-key="weights"] svg.histogram',
          "data-steps",
        ),
        String(HISTOGRAM_STEPS.length),
      );
      const duration = await page.evaluate(`(async () => {
      const audio = document.querySelector('audio[data-key="beep"]');
      if (audio.readyState < 1) {
        await new Promise((resolve) => audio.addEventListener("loadedmetadata", resolve, { once: true }));
      }
      return audio.duration;
    })()`) as number;
      assert.ok(Math.abs(duration - 0.5) < 0.01, `duration ${duration}`);
      // The artifact logged and downloaded by this run: v0, latest, lineage.
      const artifact = '.artifact[data-name="weights"]';
      assert.deepEqual(
        await page.locator(`${artifact} td.version`).allTextContents(),
        ["v0"],
      );
      assert.deepEqual(
        await page.locator(`${artifact} td.aliases .chip`).allTextContents(),
        ["latest"],
      );
      assert.match(
        (await page.textContent(`${artifact} td.produced-by`))!,
        /this run/,
      );
      assert.match(
        (await page.textContent(`${artifact} td.used-by`))!,
        /this run/,
      );
      const params = await page.locator("#params-table td").allTextContents();
      assert.ok(params.includes(`<script>window.__xss='param'</script>`));
      assert.equal(
        await page.locator('img[src="x"], b[onmouseover]').count(),
        0,
      );
      assert.equal(await page.evaluate("window.__xss"), undefined);
      await page.screenshot({
        path: join(shots, "run-media.png"),
        fullPage: true,
      });
    },
  );

  it("follows a run while it logs, and overlays runs to compare", {
    timeout: 60_000,
  }, async () => {
    await ready();
    const logger = createLogger({ project: "zoo", dir, name: "live" });
    for (let step = 0; step < 10; step++) {
      logger.log({ loss: 1 / (step + 1) }, { step });
    }
    await logger.flush({ timeoutMs: 5000 });
    try {
      await page.goto(`${server!.url}runs/zoo/${logger.runId}`);
      const chart = 'figure.chart[data-key="loss"]';
      await waitFor(
        page,
        "10 points",
        `document.querySelector('${chart}')?.dataset.points === '10'`,
      );
      assert.equal(
        await page.getAttribute("#run-meta .badge", "data-status"),
        "running",
      );
      for (let step = 10; step < 25; step++) {
        logger.log({ loss: 1 / (step + 1) }, { step });
      }
      await logger.flush({ timeoutMs: 5000 });
      const started = performance.now();
      await waitFor(
        page,
        "25 points",
        `document.querySelector('${chart}')?.dataset.points === '25'`,
      );
      timings.liveUpdate = performance.now() - started;
      await logger.end();
      await waitFor(
        page,
        "the finished status",
        "document.querySelector('#run-meta .badge')?.dataset.status === 'finished'",
      );
    } finally {
      await logger.end().catch(() => {});
    }
    // Compare: pick the media run and the live run in the runs table.
    await page.goto(server!.url);
    await waitFor(
      page,
      "three rows",
      "document.querySelectorAll('#runs tbody tr').length === 3",
    );
    await page.check(`#runs tr[data-run="zoo/${mediaRunId}"] input.pick`);
    await page.check(`#runs tr[data-run="zoo/${logger.runId}"] input.pick`);
    await page.click("#compare");
    await page.waitForURL(/\/compare\?runs=/);
    assert.equal(
      new URL(page.url()).searchParams.get("runs"),
      `zoo/${mediaRunId},zoo/${logger.runId}`,
    );
    const chart = 'figure.chart[data-key="loss"]';
    await waitFor(
      page,
      "two series",
      `document.querySelector('${chart}')?.dataset.series === '2'`,
    );
    const perSeries = await page.evaluate(
      `Array.from(document.querySelectorAll('${chart} g.series'), (g) => Number(g.dataset.points))`,
    );
    assert.deepEqual(perSeries, [LOSS_STEPS, 25]);
    assert.deepEqual(
      await page.locator("#legend .legend-item a").allTextContents(),
      [HOSTILE_NAME, "live"],
    );
    await page.screenshot({ path: join(shots, "compare.png"), fullPage: true });
    await page.goto(`${server!.url}artifacts/mnist`);
    await waitFor(
      page,
      "the artifacts page",
      "document.querySelectorAll('.artifact td.version').length === 2",
    );
    await page.screenshot({
      path: join(shots, "artifacts.png"),
      fullPage: true,
    });
    assert.deepEqual(pageErrors, []);
  });
});
