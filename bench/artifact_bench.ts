/**
 * Artifact throughput in one run:
 *
 * 1. Hashing: SHA-256 and MD5 of `createHash()`, pure TypeScript against
 *    `node:crypto`, on the same pseudo-random bytes fed in 1 MiB chunks,
 *    interleaved; median MB/s (10^6 bytes) and the pure/native ratio.
 * 2. A generated file (1 GiB by default) uploaded to and downloaded from a
 *    loopback HTTP server running in a separate Node process
 *    (`bench/helpers/loopback_server.mjs`): ours (`uploadBody()` of a
 *    `fileReadStream()`; `fetch()` into `writeVerifiedFile()`, which checks
 *    the SHA-256) against `curl` doing the same, interleaved over rounds,
 *    medians in MiB/s with the ratio ours/curl; then the whole
 *    `logger.logArtifact({ path })` path into the local store (hash pass,
 *    then verified and synced copy). For ours, the peak RSS growth during
 *    each operation (sampled every 10 ms in this process, minus the value
 *    just before it; with `--v8-flags=--expose-gc` a GC runs before each
 *    baseline).
 *
 * Targets (issue 4): ours ≥ 0.8× curl and ≤ 64 MiB RSS growth; each gets a
 * PASS/FAIL line, and a miss does not fail the process.
 *
 * Run: `deno run -A bench/artifact_bench.ts [--size-mib 1024] [--rounds 3]`
 * (needs `node` and `curl` on the PATH).
 */
import { spawn } from "node:child_process";
import { createHash as nodeCreateHash } from "node:crypto";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createHash,
  type HashAlgorithm,
  type HashImplementation,
  toHex,
} from "../artifact/hash.ts";
import { uploadBody } from "../artifact/http.ts";
import { CHUNK_BYTES, fileReadStream } from "../artifact/streams.ts";
import { writeVerifiedFile } from "../artifact/download.ts";
import { getFileSystem } from "../runtime/fs.ts";
import { createLogger } from "../mod.ts";

const MIB = 1 << 20;
const RSS_TARGET_MIB = 64;
const RATIO_TARGET = 0.8;

function option(name: string, fallback: number): number {
  const args = (globalThis as { process?: { argv: string[] } }).process
    ?.argv ?? [];
  const index = args.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isInteger(value) || value <= 0) {
    throw new TypeError(
      `--${name} expects a positive integer, got ${
        JSON.stringify(args[index + 1])
      }`,
    );
  }
  return value;
}

const SIZE = option("size-mib", 1024) * MIB;
const ROUNDS = option("rounds", 3);
const HASH_BYTES = Math.min(256 * MIB, SIZE);
const HASH_WARMUP = 1;

const gc = (globalThis as { gc?: () => void }).gc;
const denoMemory = (globalThis as {
  Deno?: { memoryUsage(): { rss: number } };
}).Deno;
const rss: () => number = denoMemory
  ? () => denoMemory.memoryUsage().rss
  : () =>
    (globalThis as unknown as {
      process: { memoryUsage(): { rss: number } };
    }).process.memoryUsage().rss;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Pseudo-random words (xorshift32) into `words`, continuing from `state`. */
function fillRandom(words: Int32Array, state: number): number {
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state;
  }
  return state;
}

// ---------------------------------------------------------------- hashing

function hashAll(
  algorithm: HashAlgorithm,
  implementation: HashImplementation,
  data: Uint8Array,
): string {
  const hash = createHash(algorithm, { implementation });
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
    hash.update(data.subarray(offset, offset + CHUNK_BYTES));
  }
  return toHex(hash.digest());
}

function benchHashing(): void {
  const words = new Int32Array(HASH_BYTES / 4);
  fillRandom(words, 0x9e3779b9 | 0);
  const data = new Uint8Array(words.buffer);
  const combinations = (["sha256", "md5"] as const).flatMap((algorithm) =>
    (["pure", "native"] as const).map((implementation) => ({
      algorithm,
      implementation,
    }))
  );
  const seconds = new Map<string, number[]>();
  const digests = new Map<string, string>();
  for (let round = 0; round < HASH_WARMUP + ROUNDS; round++) {
    for (let i = 0; i < combinations.length; i++) {
      const { algorithm, implementation } =
        combinations[(i + round) % combinations.length];
      const start = performance.now();
      const digest = hashAll(algorithm, implementation, data);
      const elapsed = (performance.now() - start) / 1000;
      const previous = digests.get(algorithm);
      if (previous !== undefined && previous !== digest) {
        throw new Error(
          `${algorithm} ${implementation} gives ${digest}, expected ${previous}`,
        );
      }
      digests.set(algorithm, digest);
      if (round >= HASH_WARMUP) {
        const key = `${algorithm} ${implementation}`;
        seconds.set(key, [...(seconds.get(key) ?? []), elapsed]);
      }
    }
  }
  console.log(
    `1. hashing: ${HASH_BYTES / MIB} MiB in ${
      CHUNK_BYTES / MIB
    } MiB chunks, median of ${ROUNDS} rounds after ${HASH_WARMUP} warm-up, interleaved`,
  );
  for (const algorithm of ["sha256", "md5"]) {
    const rate = (implementation: string): number =>
      HASH_BYTES / 1e6 / median(seconds.get(`${algorithm} ${implementation}`)!);
    const pure = rate("pure");
    const native = rate("native");
    console.log(
      `   ${algorithm.padEnd(6)}  pure TS ${
        pure.toFixed(0).padStart(5)
      } MB/s   node:crypto ${
        native.toFixed(0).padStart(5)
      } MB/s   pure/native ${(pure / native).toFixed(2)}`,
    );
  }
  console.log("   pure and native digests agree");
}

// -------------------------------------------------------- file and server

async function generateFile(path: string): Promise<string> {
  const handle = await open(path, "wx");
  const hash = nodeCreateHash("sha256");
  const words = new Int32Array(4 * MIB / 4);
  const bytes = new Uint8Array(words.buffer);
  let state = 0x2545f491 | 0;
  try {
    for (let done = 0; done < SIZE; done += bytes.length) {
      state = fillRandom(words, state);
      const chunk = bytes.subarray(0, Math.min(bytes.length, SIZE - done));
      hash.update(chunk);
      await handle.write(chunk);
    }
    // On disk before the rounds start, so no write-back competes with them.
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

interface Child {
  stdout: { on(event: "data", listener: (chunk: Uint8Array) => void): void };
  on(event: "close", listener: (code: number | null) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  kill(signal?: string): boolean;
}

function startServer(file: string): Promise<{ port: number; child: Child }> {
  const script = fileURLToPath(
    new URL("./helpers/loopback_server.mjs", import.meta.url),
  );
  const child = spawn("node", [script, file], {
    stdio: ["ignore", "pipe", "inherit"],
  }) as unknown as Child;
  return new Promise((resolve, reject) => {
    let text = "";
    child.on("error", reject);
    child.on(
      "close",
      (code) => reject(new Error(`the loopback server exited with ${code}`)),
    );
    child.stdout.on("data", (chunk) => {
      text += new TextDecoder().decode(chunk);
      const match = /port (\d+)/.exec(text);
      if (match) resolve({ port: Number(match[1]), child });
    });
  });
}

/** Runs a command to its end; returns its standard output. */
function run(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "inherit"],
  }) as unknown as Child;
  return new Promise((resolve, reject) => {
    let text = "";
    child.on("error", reject);
    child.stdout.on("data", (chunk) => {
      text += new TextDecoder().decode(chunk);
    });
    child.on("close", (code) => {
      if (code === 0) resolve(text);
      else {reject(
          new Error(`${command} ${args.join(" ")} exited with ${code}`),
        );}
    });
  });
}

// ------------------------------------------------------------ measurement

interface Sample {
  seconds: number;
  rssGrowth: number;
}

/** Times `operation`, sampling this process's RSS every 10 ms meanwhile. */
async function measure(operation: () => Promise<void>): Promise<Sample> {
  gc?.();
  const before = rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 10);
  const start = performance.now();
  try {
    await operation();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - start) / 1000;
  peak = Math.max(peak, rss());
  return { seconds, rssGrowth: peak - before };
}

interface UploadReport {
  bytes: number;
  contentLength: number | null;
  chunked: boolean;
  sha256?: string;
}

function checkUpload(who: string, text: string): UploadReport {
  const report = JSON.parse(text) as UploadReport;
  if (report.bytes !== SIZE || report.contentLength !== SIZE) {
    throw new Error(
      `${who} upload: the server got ${report.bytes} of ${SIZE} bytes, Content-Length ${report.contentLength}${
        report.chunked ? " (chunked)" : ""
      }`,
    );
  }
  return report;
}

// ------------------------------------------------------------------- main

console.log(
  `artifact_bench (${
    denoMemory ? "deno" : "node"
  }): ${ROUNDS} rounds, RSS sampled every 10 ms${
    gc
      ? ", gc() forced before each baseline"
      : " (no forced gc; --v8-flags=--expose-gc forces one before each baseline)"
  }`,
);
benchHashing();

const curlVersion = await run("curl", ["--version"]).catch((cause) => {
  throw new Error("This benchmark compares against curl: none found on PATH", {
    cause,
  });
});
const fs = getFileSystem()!;
const dir = await mkdtemp(join(tmpdir(), "uetai-artifact-bench-"));
const file = join(dir, "source.bin");
let server: Child | undefined;
try {
  const generateStart = performance.now();
  const sha256 = await generateFile(file);
  console.log(
    `2. transfers of a ${SIZE / MIB} MiB pseudo-random file (generated in ${
      ((performance.now() - generateStart) / 1000).toFixed(1)
    } s), loopback server in a separate node process, median of ${ROUNDS} interleaved rounds; ${
      curlVersion.split(" ").slice(0, 2).join(" ")
    }`,
  );
  const started = await startServer(file);
  server = started.child;
  const url = `http://127.0.0.1:${started.port}/bench.bin`;
  const target = join(dir, "downloaded.bin");
  const entry = { path: "bench.bin", size: SIZE, sha256 };

  const operations: Record<string, () => Promise<void>> = {
    "upload ours": async () => {
      const response = await uploadBody(url, {
        size: SIZE,
        open: () => fileReadStream(fs, file),
      });
      checkUpload("our", await response.text());
    },
    "upload curl": async () => {
      checkUpload("curl", await run("curl", ["-sS", "-T", file, url]));
    },
    "download ours": async () => {
      const response = await fetch(url);
      if (!response.ok || !response.body) {
        throw new Error(`GET ${url}: ${response.status}`);
      }
      await writeVerifiedFile(fs, response.body, target, entry);
    },
    "download curl": async () => {
      await run("curl", ["-sS", "-o", target, url]);
    },
  };
  // Once, untimed: our upload arrives with the right content (the server
  // hashes it only when asked, so the timed rounds do not pay for it).
  const verified = checkUpload(
    "our verified",
    await (await uploadBody(`${url}?verify`, {
      size: SIZE,
      open: () => fileReadStream(fs, file),
    })).text(),
  );
  if (verified.sha256 !== sha256) {
    throw new Error(
      `our upload arrived with SHA-256 ${verified.sha256}, expected ${sha256}`,
    );
  }
  const samples = new Map<string, Sample[]>();
  const logSamples: (Sample & { hashSeconds: number })[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ["upload", "download"]) {
      const order = round % 2 === 0 ? ["ours", "curl"] : ["curl", "ours"];
      for (const who of order) {
        const key = `${kind} ${who}`;
        const sample = await measure(operations[key]);
        if (kind === "download") {
          const size = (await stat(target)).size;
          if (size !== SIZE) {
            throw new Error(`${key}: wrote ${size} of ${SIZE} bytes`);
          }
          await rm(target);
        }
        samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
    }
    // The whole logArtifact path, into a fresh local store each round (a
    // store holding the content already would skip the copy).
    const storeDir = join(dir, `store-${round}`);
    const logger = createLogger({
      project: "bench",
      dir: storeDir,
      exitFlushTimeoutMs: 0,
    });
    let hashEnd = 0;
    let start = 0;
    const sample = await measure(async () => {
      start = performance.now();
      const logged = await logger.logArtifact({
        path: file,
        name: "blob",
        type: "dataset",
        onProgress: (progress) => {
          if (progress.phase === "hash") hashEnd = performance.now();
        },
      });
      if (logged.files[0]?.sha256 !== sha256 || logged.size !== SIZE) {
        throw new Error("logArtifact stored a different file");
      }
    });
    await logger.end();
    await rm(storeDir, { recursive: true, force: true });
    logSamples.push({ ...sample, hashSeconds: (hashEnd - start) / 1000 });
  }

  const rate = (seconds: number): number => SIZE / MIB / seconds;
  const mib = (bytes: number): number => bytes / MIB;
  const verdicts: string[] = [];
  const verdict = (ok: boolean, text: string): void => {
    verdicts.push(`   ${ok ? "PASS" : "FAIL"}  ${text}`);
  };
  console.log(
    "   operation        MiB/s (median)   rounds MiB/s          RSS growth MiB (max of rounds)",
  );
  for (const kind of ["upload", "download"]) {
    const ours = samples.get(`${kind} ours`)!;
    const curl = samples.get(`${kind} curl`)!;
    const oursRate = rate(median(ours.map((s) => s.seconds)));
    const curlRate = rate(median(curl.map((s) => s.seconds)));
    const growth = Math.max(...ours.map((s) => mib(s.rssGrowth)));
    const all = (list: Sample[]): string =>
      list.map((s) => rate(s.seconds).toFixed(0)).join(" ").padEnd(20);
    console.log(
      `   ${kind.padEnd(8)} ours  ${oursRate.toFixed(0).padStart(7)}          ${
        all(ours)
      }  ${growth.toFixed(1)}`,
    );
    console.log(
      `   ${kind.padEnd(8)} curl  ${curlRate.toFixed(0).padStart(7)}          ${
        all(curl)
      }  -`,
    );
    const ratio = oursRate / curlRate;
    console.log(`   ${kind.padEnd(8)} ours/curl ${ratio.toFixed(2)}`);
    verdict(
      ratio >= RATIO_TARGET,
      `${kind} throughput ours/curl ${
        ratio.toFixed(2)
      } (target >= ${RATIO_TARGET})`,
    );
    verdict(
      growth <= RSS_TARGET_MIB,
      `${kind} peak RSS growth ${
        growth.toFixed(1)
      } MiB (target <= ${RSS_TARGET_MIB})`,
    );
  }
  const logRate = rate(median(logSamples.map((s) => s.seconds)));
  const logGrowth = Math.max(...logSamples.map((s) => mib(s.rssGrowth)));
  const hashSeconds = median(logSamples.map((s) => s.hashSeconds));
  const copySeconds = median(
    logSamples.map((s) => s.seconds - s.hashSeconds),
  );
  console.log(
    `   logArtifact  ${logRate.toFixed(0).padStart(7)} MiB/s, median ${
      median(logSamples.map((s) => s.seconds)).toFixed(2)
    } s = hash pass ${hashSeconds.toFixed(2)} s (${
      rate(hashSeconds).toFixed(0)
    } MiB/s) + verified, synced copy ${copySeconds.toFixed(2)} s (${
      rate(copySeconds).toFixed(0)
    } MiB/s); RSS growth ${logGrowth.toFixed(1)} MiB`,
  );
  verdict(
    logGrowth <= RSS_TARGET_MIB,
    `logArtifact peak RSS growth ${
      logGrowth.toFixed(1)
    } MiB (target <= ${RSS_TARGET_MIB})`,
  );
  console.log(
    "   every upload reached the server whole with a Content-Length (ours once with its SHA-256 checked); every download has the full size (ours verified by SHA-256)",
  );
  for (const line of verdicts) console.log(line);
} finally {
  server?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
}
