/**
 * `encodePng()` against fast-png's `encode()` on the same 1024×1024 RGBA
 * image (a smooth gradient plus deterministic noise), interleaved in the
 * same run. Prints the median milliseconds of each, their ratio and the
 * output sizes, after checking that both files decode (with fast-png) to the
 * original pixels. Run: `deno run -A bench/png_bench.ts` (also
 * `bun bench/png_bench.ts`, `node --import tsx bench/png_bench.ts`).
 */
import { decode, encode } from "fast-png";
import { encodePng } from "../media/png.ts";

const WIDTH = 1024;
const HEIGHT = 1024;
const CHANNELS = 4;
const WARMUP = 3;
const ROUNDS = 15;

function makeImage(): Uint8Array {
  const pixels = new Uint8Array(WIDTH * HEIGHT * CHANNELS);
  let state = 0x9e3779b9;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const noise = (state >>> 28) - 8; // -8..7
      const i = (y * WIDTH + x) * CHANNELS;
      pixels[i] = Math.max(0, Math.min(255, (x >> 2) + noise));
      pixels[i + 1] = Math.max(0, Math.min(255, (y >> 2) + noise));
      pixels[i + 2] = Math.max(0, Math.min(255, ((x + y) >> 3) + noise));
      pixels[i + 3] = 255 - ((x * y) >> 12);
    }
  }
  return pixels;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkDecodes(name: string, png: Uint8Array, pixels: Uint8Array): void {
  const decoded = decode(png);
  if (
    decoded.width !== WIDTH || decoded.height !== HEIGHT ||
    decoded.channels !== CHANNELS || decoded.depth !== 8 ||
    !sameBytes(decoded.data, pixels)
  ) {
    throw new Error(`${name} output does not decode to the original pixels`);
  }
}

const pixels = makeImage();
const image = {
  width: WIDTH,
  height: HEIGHT,
  data: pixels,
  channels: CHANNELS,
  depth: 8 as const,
};

let ours = await encodePng(pixels, {
  width: WIDTH,
  height: HEIGHT,
  channels: CHANNELS,
});
let theirs = encode(image);
checkDecodes("encodePng()", ours, pixels);
checkDecodes("fast-png encode()", theirs, pixels);

const oursMs: number[] = [];
const theirsMs: number[] = [];
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  // Alternate which encoder goes first, so neither always runs on a warmer
  // or cooler machine.
  const order = round % 2 === 0 ? ["ours", "theirs"] : ["theirs", "ours"];
  for (const which of order) {
    const start = performance.now();
    if (which === "ours") {
      ours = await encodePng(pixels, {
        width: WIDTH,
        height: HEIGHT,
        channels: CHANNELS,
      });
    } else {
      theirs = encode(image);
    }
    const elapsed = performance.now() - start;
    if (round >= WARMUP) (which === "ours" ? oursMs : theirsMs).push(elapsed);
  }
}

const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";
const oursMedian = median(oursMs);
const theirsMedian = median(theirsMs);
console.log(
  `png_bench (${runtime}): ${WIDTH}x${HEIGHT} RGBA, ${ROUNDS} rounds after ${WARMUP} warm-up, interleaved`,
);
console.log(
  `  encodePng()        median ${
    oursMedian.toFixed(1)
  } ms, ${ours.length} bytes`,
);
console.log(
  `  fast-png encode()  median ${
    theirsMedian.toFixed(1)
  } ms, ${theirs.length} bytes`,
);
console.log(
  `  time ratio encodePng/fast-png ${
    (oursMedian / theirsMedian).toFixed(2)
  }, size ratio ${(ours.length / theirs.length).toFixed(2)}`,
);
console.log("  both outputs decode to the original pixels");
