/**
 * Bundle size and cold import time of `mod.ts` (issue 11, item 3).
 *
 * 1. Bundles `mod.ts` for browsers/workers with
 *    `deno bundle --platform=browser --minify` into a temp dir and prints its
 *    size minified and gzipped against the ≤ 60 KB (minified) target.
 * 2. Checks the bundle text for hono code and `node:` imports.
 * 3. Spawns Deno, Bun and Node (`node --import tsx`) RUNS times each with a
 *    tiny probe that times `await import(mod.ts)`, plus the same probe on the
 *    bundled JS, and prints the median per runtime.
 *
 * A missed target is reported, not a failure. Run:
 * `./node_modules/.bin/deno run -A bench/bundle_bench.ts`
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const RUNS = 5;
const TARGET_KB = 60;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");
const DENO = join(BIN, "deno");
const BUN = join(BIN, "bun");
const MOD_URL = pathToFileURL(join(ROOT, "mod.ts")).href;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Uint8Array) => {
      stdout += new TextDecoder().decode(chunk);
    });
    child.stderr.on("data", (chunk: Uint8Array) => {
      stderr += new TextDecoder().decode(chunk);
    });
    child.on("error", reject);
    child.on(
      "close",
      (code: number | null) => resolve({ code, stdout, stderr }),
    );
  });
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

function kb(bytes: number): string {
  return (bytes / 1024).toFixed(1) + " KB";
}

function probeSource(url: string): string {
  return [
    "const t0 = performance.now();",
    `await import(${JSON.stringify(url)});`,
    "const t1 = performance.now();",
    'console.log("IMPORT_MS=" + (t1 - t0));',
    "",
  ].join("\n");
}

interface Runtime {
  label: string;
  cmd: string;
  args: (probe: string) => string[];
}

async function timeImport(
  runtime: Runtime,
  probe: string,
): Promise<string> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const result = await run(runtime.cmd, runtime.args(probe), ROOT);
    const match = /IMPORT_MS=([\d.]+)/.exec(result.stdout);
    if (result.code !== 0 || !match) {
      const why = (result.stderr || result.stdout).trim().split("\n")[0];
      return `failed (exit ${result.code}): ${why.slice(0, 80)}`;
    }
    samples.push(Number(match[1]));
  }
  return `${median(samples).toFixed(1)} ms`;
}

function table(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [key, value] of rows) {
    console.log(`  ${key.padEnd(width)}  ${value}`);
  }
}

const dir = await mkdtemp(join(tmpdir(), "uetai-bundle-bench-"));
try {
  // 1. Bundle and sizes.
  const bundlePath = join(dir, "mod.min.js");
  const bundled = await run(DENO, [
    "bundle",
    "--platform=browser",
    "--minify",
    "--no-lock",
    "-o",
    bundlePath,
    "mod.ts",
  ], ROOT);
  if (bundled.code !== 0) {
    throw new Error(`deno bundle failed:\n${bundled.stderr}`);
  }
  const bytes = new Uint8Array(await readFile(bundlePath));
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  const minKb = bytes.length / 1024;
  table("Bundle of mod.ts (deno bundle --platform=browser --minify)", [
    ["minified", kb(bytes.length)],
    ["gzipped", kb(gzipped)],
    [
      "target",
      `≤ ${TARGET_KB} KB minified: ${
        minKb <= TARGET_KB
          ? "met"
          : `MISSED by ${(minKb - TARGET_KB).toFixed(1)} KB`
      }`,
    ],
  ]);

  // 2. Forbidden content.
  const text = new TextDecoder().decode(bytes);
  const nodeImports = [
    /from\s*["']node:/g,
    /require\(\s*["']node:/g,
    /import\(\s*["']node:/g,
    /import\s*["']node:/g,
  ].reduce((n, re) => n + (text.match(re)?.length ?? 0), 0);
  const honoMarkers = [/hono\//g, /\bHono\b/g, /["']hono["']/g]
    .reduce((n, re) => n + (text.match(re)?.length ?? 0), 0);
  table("Bundle content", [
    [
      "node: imports",
      nodeImports === 0 ? "none (ok)" : `${nodeImports} found (FAIL)`,
    ],
    [
      "hono markers",
      honoMarkers === 0 ? "none (ok)" : `${honoMarkers} found (FAIL)`,
    ],
  ]);

  // 3. Cold import time.
  const modProbe = join(dir, "probe_mod.mjs");
  const bundleProbe = join(dir, "probe_bundle.mjs");
  await writeFile(modProbe, probeSource(MOD_URL));
  await writeFile(bundleProbe, probeSource(pathToFileURL(bundlePath).href));
  const deno: Runtime = {
    label: "deno",
    cmd: DENO,
    args: (p) => ["run", "-A", "--no-lock", p],
  };
  const bun: Runtime = { label: "bun", cmd: BUN, args: (p) => ["run", p] };
  const nodeTsx: Runtime = {
    label: "node --import tsx",
    cmd: "node",
    args: (p) => ["--import", "tsx", p],
  };
  const node: Runtime = { label: "node", cmd: "node", args: (p) => [p] };
  const rows: [string, string][] = [];
  for (const rt of [deno, bun, nodeTsx]) {
    rows.push([`${rt.label} (mod.ts)`, await timeImport(rt, modProbe)]);
  }
  for (const rt of [deno, bun, node]) {
    rows.push([`${rt.label} (mod.min.js)`, await timeImport(rt, bundleProbe)]);
  }
  table(`Cold import time (median of ${RUNS} fresh processes)`, rows);
} finally {
  await rm(dir, { recursive: true, force: true });
}
