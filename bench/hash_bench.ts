/**
 * The pure TypeScript SHA-256 and MD5 of `createHash()` against the native
 * ones (`node:crypto`), on 256 MiB of pseudo-random bytes fed in 1 MiB
 * chunks, interleaved in the same run. Prints the median throughput of each
 * combination (MB = 10^6 bytes) and the pure/native ratio, after checking
 * that both implementations give the same digests. Run:
 * `deno run -A bench/hash_bench.ts` (also `bun bench/hash_bench.ts`,
 * `node --import tsx bench/hash_bench.ts`).
 */
import {
  createHash,
  type HashAlgorithm,
  type HashImplementation,
  toHex,
} from "../artifact/hash.ts";

const TOTAL_BYTES = 256 << 20;
const CHUNK_BYTES = 1 << 20;
const WARMUP = 1;
const ROUNDS = 3;
const ALGORITHMS: readonly HashAlgorithm[] = ["sha256", "md5"];
const IMPLEMENTATIONS: readonly HashImplementation[] = ["pure", "native"];

/** Deterministic pseudo-random bytes (xorshift32, a word at a time). */
function makeData(length: number): Uint8Array {
  const words = new Int32Array(length / 4);
  let state = 0x9e3779b9 | 0;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state;
  }
  return new Uint8Array(words.buffer);
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

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

const data = makeData(TOTAL_BYTES);
const combinations = ALGORITHMS.flatMap((algorithm) =>
  IMPLEMENTATIONS.map((implementation) => ({ algorithm, implementation }))
);
const seconds = new Map<string, number[]>();
const digests = new Map<string, string>();
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  // Rotate the order, so no combination always runs first or last.
  for (let i = 0; i < combinations.length; i++) {
    const { algorithm, implementation } =
      combinations[(i + round) % combinations.length];
    const key = `${algorithm} ${implementation}`;
    const start = performance.now();
    const digest = hashAll(algorithm, implementation, data);
    const elapsed = (performance.now() - start) / 1000;
    const previous = digests.get(algorithm);
    if (previous !== undefined && previous !== digest) {
      throw new Error(`${key} gives ${digest}, expected ${previous}`);
    }
    digests.set(algorithm, digest);
    if (round >= WARMUP) {
      seconds.set(key, [...(seconds.get(key) ?? []), elapsed]);
    }
  }
}

const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";
console.log(
  `hash_bench (${runtime}): ${TOTAL_BYTES >> 20} MiB in ${
    CHUNK_BYTES >> 20
  } MiB chunks, median of ${ROUNDS} rounds after ${WARMUP} warm-up, interleaved`,
);
for (const algorithm of ALGORITHMS) {
  const rate = (implementation: HashImplementation): number =>
    TOTAL_BYTES / 1e6 / median(seconds.get(`${algorithm} ${implementation}`)!);
  const pure = rate("pure");
  const native = rate("native");
  console.log(
    `  ${algorithm.padEnd(6)}  pure ${pure.toFixed(0).padStart(5)} MB/s  ` +
      `native ${native.toFixed(0).padStart(5)} MB/s  pure/native ${
        (pure / native).toFixed(2)
      }`,
  );
}
console.log("  pure and native digests agree");
