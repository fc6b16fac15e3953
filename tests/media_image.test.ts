// Tests of media/png.ts (encodePng), media/_crc32.ts and media/image.ts
// (Image). They run unchanged under `deno test -A`, `bun test` and
// `node --import tsx --test`; PNG files are decoded with fast-png.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { crc32 } from "../media/_crc32.ts";
import { encodePng } from "../media/png.ts";
import { Image } from "../media/image.ts";
import { isMediaValue, MEDIA_VALUE } from "../media/media_value.ts";

// ---------------------------------------------------------------------------
// Helpers

/** A deterministic source of numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(length: number, seed: number): Uint8Array {
  const random = seeded(seed);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

interface Decoded {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

function decodePng(png: Uint8Array): Decoded {
  const decoded = decode(png);
  assert.equal(decoded.depth, 8);
  return {
    width: decoded.width,
    height: decoded.height,
    channels: decoded.channels,
    data: new Uint8Array(
      decoded.data.buffer,
      decoded.data.byteOffset,
      decoded.data.byteLength,
    ),
  };
}

/** Asserts a PNG decodes to exactly these pixels. */
function assertPixels(
  png: Uint8Array,
  expected: {
    width: number;
    height: number;
    channels: number;
    data: ArrayLike<number>;
  },
): void {
  const decoded = decodePng(png);
  assert.equal(decoded.width, expected.width);
  assert.equal(decoded.height, expected.height);
  assert.equal(decoded.channels, expected.channels);
  assert.deepEqual([...decoded.data], [...Array.from(expected.data)]);
}

async function pixelsOf(image: Image): Promise<Decoded> {
  const encoded = await image.encode();
  assert.equal(encoded.contentType, "image/png");
  return decodePng(encoded.data);
}

interface Chunk {
  type: string;
  data: Uint8Array;
  crc: number;
  bytes: Uint8Array;
}

/** Splits a PNG file into its chunks (after the signature). */
function chunksOf(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  let offset = 8;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    chunks.push({
      type,
      data: png.subarray(offset + 8, offset + 8 + length),
      crc: view.getUint32(offset + 8 + length),
      bytes: png.subarray(offset, offset + 12 + length),
    });
    offset += 12 + length;
  }
  return chunks;
}

async function inflate(zlib: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([zlib as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(
      new DecompressionStream("deflate"),
    );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return [...new Uint8Array(digest)].map((byte) =>
    byte.toString(16).padStart(2, "0")
  ).join("");
}

/** The filter type byte of every scanline of a PNG of this size. */
async function filterTypes(
  png: Uint8Array,
  rowBytes: number,
): Promise<number[]> {
  const idat = concat(
    chunksOf(png).filter((chunk) => chunk.type === "IDAT").map((c) => c.data),
  );
  const raw = await inflate(idat);
  const types: number[] = [];
  for (let offset = 0; offset < raw.length; offset += rowBytes + 1) {
    types.push(raw[offset]);
  }
  return types;
}

function paethPredictor(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * An image whose rows are each built for one PNG filter: a constant row
 * (None, row 0), a row equal to the one above plus 5 (Up, row 2), a ramp
 * (Sub, row 3), then under random rows, rows where every byte is the
 * average of its left and upper neighbours (Average, rows 5 and 9) or their
 * Paeth prediction (Paeth, rows 7 and 11).
 */
function filterExerciser(
  width: number,
  channels: number,
): { pixels: Uint8Array; height: number } {
  const rowBytes = width * channels;
  const random = seeded(42);
  const rows: Uint8Array[] = [];
  const byte = (): number => Math.floor(random() * 256);
  rows.push(new Uint8Array(rowBytes).fill(77)); // None
  rows.push(Uint8Array.from({ length: rowBytes }, byte));
  rows.push(rows[1].map((value) => (value + 5) & 255)); // Up
  rows.push(Uint8Array.from({ length: rowBytes }, (_, i) => (i * 3) & 255)); // Sub
  for (let k = 0; k < 2; k++) {
    for (const kind of ["average", "paeth"]) {
      // Under a random row, so the predictions vary from byte to byte.
      rows.push(Uint8Array.from({ length: rowBytes }, byte));
      const up = rows[rows.length - 1];
      const row = new Uint8Array(rowBytes);
      for (let i = 0; i < rowBytes; i++) {
        // A random pixel every third one: Paeth predictions that copy the
        // upper neighbour would otherwise go on copying it, and Up would do
        // as well as Paeth.
        if (i % (3 * channels) < channels) {
          row[i] = byte();
          continue;
        }
        const a = row[i - channels];
        const b = up[i];
        const c = up[i - channels];
        row[i] = kind === "average" ? (a + b) >> 1 : paethPredictor(a, b, c);
      }
      rows.push(row);
    }
  }
  return { pixels: concat(rows), height: rows.length };
}

function pngHeader(
  width: number,
  height: number,
  colorType: number,
): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, 13);
  bytes.set([0x49, 0x48, 0x44, 0x52], 12); // IHDR
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes[24] = 8;
  bytes[25] = colorType;
  return bytes;
}

function ascii(text: string): number[] {
  return [...text].map((char) => char.charCodeAt(0));
}

// ---------------------------------------------------------------------------
// crc32

describe("crc32()", () => {
  it("matches the CRC-32 check value and known PNG chunk CRCs", () => {
    const check = new TextEncoder().encode("123456789");
    assert.equal(crc32(check), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    // The CRC of an IEND chunk (over its type) is fixed by the format.
    assert.equal(crc32(Uint8Array.from(ascii("IEND"))), 0xae426082);
  });

  it("continues from the CRC of the preceding bytes", () => {
    const bytes = randomBytes(1000, 7);
    const whole = crc32(bytes);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      assert.equal(
        crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut))),
        whole,
      );
    }
  });

  it("agrees with a bit-by-bit CRC-32 on every length from 0 to 40", () => {
    function slowCrc(bytes: Uint8Array): number {
      let crc = 0xffffffff;
      for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) {
          crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
        }
      }
      return (crc ^ 0xffffffff) >>> 0;
    }
    const bytes = randomBytes(40, 3);
    for (let length = 0; length <= 40; length++) {
      const part = bytes.subarray(0, length);
      assert.equal(crc32(part), slowCrc(part));
    }
  });
});

// ---------------------------------------------------------------------------
// encodePng

describe("encodePng()", () => {
  it("round-trips 1, 2, 3 and 4 channels through fast-png", async () => {
    const sizes = [
      [1, 1],
      [2, 3],
      [17, 9],
      [64, 33],
      [300, 2], // rows over 1024 bytes: the filter choice samples them
      [1, 200],
    ];
    let seed = 1;
    for (const channels of [1, 2, 3, 4] as const) {
      for (const [width, height] of sizes) {
        const data = randomBytes(width * height * channels, seed++);
        // Half random, half smooth, so several filters get chosen.
        for (let i = 0; i < data.length; i += 2) data[i] = (i >> 3) & 255;
        const png = await encodePng(data, { width, height, channels });
        assertPixels(png, { width, height, channels, data });
      }
    }
  });

  it("round-trips an image larger than one compressor write", async () => {
    const width = 600;
    const height = 400;
    const data = new Uint8Array(width * height * 4);
    const random = seeded(11);
    for (let i = 0; i < data.length; i++) {
      data[i] = ((i >> 6) + Math.floor(random() * 8)) & 255;
    }
    const png = await encodePng(data, { width, height, channels: 4 });
    assertPixels(png, { width, height, channels: 4, data });
  });

  it("writes signature, IHDR, IDAT and IEND with valid CRCs and a zlib stream", async () => {
    const data = randomBytes(5 * 4 * 3, 9);
    const png = await encodePng(data, { width: 5, height: 4, channels: 3 });
    assert.deepEqual(
      [...png.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    );
    const chunks = chunksOf(png);
    assert.deepEqual(chunks.map((chunk) => chunk.type), [
      "IHDR",
      "IDAT",
      "IEND",
    ]);
    for (const chunk of chunks) {
      assert.equal(crc32(chunk.bytes.subarray(4, -4)), chunk.crc, chunk.type);
    }
    // IHDR: 5×4, bit depth 8, colour type 2 (RGB), deflate, adaptive
    // filtering, no interlace.
    assert.deepEqual(
      [...chunks[0].data],
      [0, 0, 0, 5, 0, 0, 0, 4, 8, 2, 0, 0, 0],
    );
    assert.equal(chunks[2].data.length, 0);
    // CompressionStream("deflate") makes the zlib format: a CMF/FLG header
    // (deflate, 32 KiB window, FCHECK) and an Adler-32 trailer of the
    // filtered scanlines.
    const zlib = chunks[1].data;
    assert.equal(zlib[0], 0x78);
    assert.equal(((zlib[0] << 8) | zlib[1]) % 31, 0);
    assert.equal(zlib[1] & 0x20, 0, "no preset dictionary");
    const raw = await inflate(zlib);
    assert.equal(raw.length, 4 * (5 * 3 + 1));
    const trailer = new DataView(zlib.buffer, zlib.byteOffset + zlib.length - 4)
      .getUint32(0);
    assert.equal(trailer, adler32(raw));
  });

  it("uses the colour type of each channel count", async () => {
    const colorTypes = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;
    for (const channels of [1, 2, 3, 4] as const) {
      const png = await encodePng(new Uint8Array(channels), {
        width: 1,
        height: 1,
        channels,
      });
      assert.equal(png[25], colorTypes[channels]);
      assert.equal(png[24], 8);
    }
  });

  it("chooses each of the five filters on rows built for them", async () => {
    for (const channels of [1, 3, 4] as const) {
      const width = 40;
      const { pixels, height } = filterExerciser(width, channels);
      const png = await encodePng(pixels, { width, height, channels });
      assertPixels(png, { width, height, channels, data: pixels });
      const types = await filterTypes(png, width * channels);
      assert.equal(types.length, height);
      assert.equal(types[0], 0, "constant first row: None");
      assert.equal(types[2], 2, "row above plus 5: Up");
      assert.equal(types[3], 1, "ramp: Sub");
      assert.deepEqual(
        [types[5], types[7], types[9], types[11]],
        [3, 4, 3, 4],
        "Average, Paeth",
      );
    }
  });

  it("gives the golden bytes for a fixed image, once the zlib stream is inflated", async () => {
    // The deflate streams differ between runtimes (Deno's CompressionStream
    // ends every write with a sync flush, and Bun and Node ship different
    // zlib builds), so the golden value covers everything but the
    // compression: the signature, the IHDR chunk, the inflated filtered
    // scanlines (so the filter choice too) and the IEND chunk.
    const { pixels, height } = filterExerciser(40, 3);
    const png = await encodePng(pixels, { width: 40, height, channels: 3 });
    const chunks = chunksOf(png);
    const idat = concat(
      chunks.filter((chunk) => chunk.type === "IDAT").map((c) => c.data),
    );
    const canonical = concat([
      png.subarray(0, 8),
      chunks[0].bytes,
      await inflate(idat),
      chunks[chunks.length - 1].bytes,
    ]);
    assert.equal(
      await sha256Hex(canonical),
      "eff86b119873827445e37f075d8719e2231b9976769ac54fb6382925e7b8bb0a",
    );
    assertPixels(png, { width: 40, height, channels: 3, data: pixels });
  });

  it("leaves its input unchanged", async () => {
    const data = randomBytes(30 * 20 * 4, 5);
    const copy = data.slice();
    await encodePng(data, { width: 30, height: 20, channels: 4 });
    assert.deepEqual(data, copy);
  });

  it("rejects pixels that are not a Uint8Array with a TypeError", async () => {
    await assert.rejects(
      encodePng(new Uint8ClampedArray(4) as unknown as Uint8Array, {
        width: 2,
        height: 2,
        channels: 1,
      }),
      {
        name: "TypeError",
        message: /'pixels' must be a Uint8Array.*Uint8ClampedArray/,
      },
    );
    await assert.rejects(
      encodePng([1, 2, 3, 4] as unknown as Uint8Array, {
        width: 2,
        height: 2,
        channels: 1,
      }),
      { name: "TypeError", message: /an array/ },
    );
    await assert.rejects(
      encodePng(
        new Uint8Array(4),
        null as unknown as { width: 2; height: 2; channels: 1 },
      ),
      { name: "TypeError", message: /'options' must be an object.*null/ },
    );
  });

  it("rejects a bad width, height or channel count with a RangeError naming it", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ width: 0, height: 1, channels: 1 }, /'width' .*current value is 0$/],
      [
        { width: 1.5, height: 1, channels: 1 },
        /'width' .*current value is 1.5$/,
      ],
      [{ width: -2, height: 1, channels: 1 }, /'width' .*current value is -2$/],
      [
        { width: 1, height: NaN, channels: 1 },
        /'height' .*current value is NaN$/,
      ],
      [{ width: 2 ** 31, height: 1, channels: 1 }, /'width' .*2147483648$/],
      [
        { width: 1, height: "2", channels: 1 },
        /'height' .*current value is "2"$/,
      ],
      [
        { width: 1, height: 1, channels: 5 },
        /'channels' must be 1, 2, 3 or 4: current value is 5$/,
      ],
      [
        { width: 1, height: 1, channels: 0 },
        /'channels' .*current value is 0$/,
      ],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        encodePng(
          new Uint8Array(1),
          options as unknown as { width: 1; height: 1; channels: 1 },
        ),
        { name: "RangeError", message },
        JSON.stringify(options),
      );
    }
  });

  it("rejects a length other than width * height * channels with a RangeError", async () => {
    await assert.rejects(
      encodePng(new Uint8Array(11), { width: 2, height: 2, channels: 3 }),
      {
        name: "RangeError",
        message: /2 \* 2 \* 3 = 12 bytes: current length is 11$/,
      },
    );
  });
});

// ---------------------------------------------------------------------------
// Image

describe("Image", () => {
  it("is a media value of type image", () => {
    const image = new Image(new Uint8Array(3), { width: 1, height: 1 });
    assert.equal(image.mediaType, "image");
    assert.equal(image[MEDIA_VALUE], true);
    assert.ok(isMediaValue(image));
  });

  it("round-trips Uint8Array pixels with 1, 3 and 4 channels (inferred)", async () => {
    for (const channels of [1, 3, 4]) {
      const width = 7;
      const height = 5;
      const data = randomBytes(width * height * channels, channels);
      const image = new Image(data, { width, height });
      assert.equal(image.channels, channels);
      assert.equal(image.width, width);
      assert.equal(image.height, height);
      const encoded = await image.encode();
      assert.equal(encoded.mediaType, "image");
      assert.equal(encoded.extension, "png");
      assert.deepEqual(encoded.metadata, { width, height, channels });
      assertPixels(encoded.data, { width, height, channels, data });
    }
  });

  it("reads every layout: HW, HWC and CHW", async () => {
    const width = 3;
    const height = 2;
    const hwc = randomBytes(width * height * 3, 21);
    const chw = new Uint8Array(hwc.length);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) chw[c * width * height + p] = hwc[p * 3 + c];
    }
    const fromHwc = await pixelsOf(
      new Image(hwc, { width, height, layout: "HWC" }),
    );
    const fromChw = await pixelsOf(
      new Image(chw, { width, height, layout: "CHW" }),
    );
    assert.deepEqual(fromHwc.data, hwc);
    assert.deepEqual(fromChw.data, hwc);

    const gray = randomBytes(width * height, 22);
    for (const layout of ["HW", "HWC", "CHW"] as const) {
      const decoded = await pixelsOf(
        new Image(gray, { width, height, layout }),
      );
      assert.equal(decoded.channels, 1);
      assert.deepEqual(decoded.data, gray);
    }

    const rgba = randomBytes(width * height * 4, 23);
    const rgbaChw = new Uint8Array(rgba.length);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 4; c++) {
        rgbaChw[c * width * height + p] = rgba[p * 4 + c];
      }
    }
    const decoded = await pixelsOf(
      new Image(rgbaChw, { width, height, channels: 4, layout: "CHW" }),
    );
    assert.equal(decoded.channels, 4);
    assert.deepEqual(decoded.data, rgba);
  });

  it("takes Uint8ClampedArray and ArrayBuffer pixels as 0..255", async () => {
    const data = Uint8ClampedArray.from([0, 1, 127, 128, 254, 255]);
    const decoded = await pixelsOf(new Image(data, { width: 2, height: 1 }));
    assert.deepEqual([...decoded.data], [0, 1, 127, 128, 254, 255]);
    const buffer = Uint8Array.from([9, 8, 7, 6]).buffer;
    const gray = await pixelsOf(new Image(buffer, { width: 2, height: 2 }));
    assert.equal(gray.channels, 1);
    assert.deepEqual([...gray.data], [9, 8, 7, 6]);
  });

  it("scales floats in [0, 1] by 255 and rounds halves up (0.5 becomes 128)", async () => {
    const values = [0, 0.5, 1, 0.2, 1 / 255, 0.499 / 255, 0.501 / 255];
    const expected = [0, 128, 255, 51, 1, 0, 1];
    for (const Type of [Float32Array, Float64Array]) {
      const data = new Type(values);
      const decoded = await pixelsOf(
        new Image(data, { width: values.length, height: 1, channels: 1 }),
      );
      assert.deepEqual([...decoded.data], expected, Type.name);
    }
    const nested = await pixelsOf(new Image([values]));
    assert.deepEqual([...nested.data], expected);
  });

  it("maps options.range linearly onto 0..255", async () => {
    const data = new Float32Array([-1, -0.5, 0, 0.5, 1]);
    const decoded = await pixelsOf(
      new Image(data, { width: 5, height: 1, range: [-1, 1] }),
    );
    // (v + 1) / 2 * 255: 0, 63.75, 127.5, 191.25, 255
    assert.deepEqual([...decoded.data], [0, 64, 128, 191, 255]);

    const labels = Uint8Array.from([0, 5, 10]);
    const mapped = await pixelsOf(
      new Image(labels, { width: 3, height: 1, range: [0, 10] }),
    );
    assert.deepEqual([...mapped.data], [0, 128, 255]);

    const bytes = await pixelsOf(
      new Image([[0, 128, 255]], { range: [0, 255] }),
    );
    assert.deepEqual([...bytes.data], [0, 128, 255]);
  });

  it('normalizes min..max onto 0..255 with normalize: "minmax"', async () => {
    const decoded = await pixelsOf(
      new Image(new Float64Array([2, 4, 6, 3]), {
        width: 2,
        height: 2,
        normalize: "minmax",
      }),
    );
    assert.deepEqual([...decoded.data], [0, 128, 255, 64]);
    const constant = await pixelsOf(
      new Image([[7, 7], [7, 7]], { normalize: "minmax" }),
    );
    assert.deepEqual([...constant.data], [0, 0, 0, 0]);
    const bytes = await pixelsOf(
      new Image(Uint8Array.from([10, 20, 30]), {
        width: 3,
        height: 1,
        normalize: "minmax",
      }),
    );
    assert.deepEqual([...bytes.data], [0, 128, 255]);
  });

  it("reads nested arrays: H×W, H×W×C and C×H×W", async () => {
    const hw = [[0, 1], [0.5, 0.25], [1, 0]];
    const gray = await pixelsOf(new Image(hw));
    assert.deepEqual(
      { width: gray.width, height: gray.height, channels: gray.channels },
      { width: 2, height: 3, channels: 1 },
    );
    assert.deepEqual([...gray.data], [0, 255, 128, 64, 255, 0]);

    const hwc = [
      [[1, 0, 0], [0, 1, 0]],
      [[0, 0, 1], [1, 1, 1]],
    ];
    const rgb = await pixelsOf(new Image(hwc));
    assert.equal(rgb.channels, 3);
    assert.deepEqual([...rgb.data], [
      255,
      0,
      0,
      0,
      255,
      0,
      0,
      0,
      255,
      255,
      255,
      255,
    ]);

    const chw = [
      [[1, 0], [0, 1]], // R plane
      [[0, 1], [0, 1]], // G plane
      [[0, 0], [1, 1]], // B plane
      [[1, 1], [0.5, 0]], // A plane
    ];
    const image = new Image(chw, { layout: "CHW" });
    assert.equal(image.channels, 4);
    const rgba = await pixelsOf(image);
    assert.deepEqual([...rgba.data], [
      255,
      0,
      0,
      255,
      0,
      255,
      0,
      255,
      0,
      0,
      255,
      128,
      255,
      255,
      255,
      0,
    ]);

    const single = await pixelsOf(new Image([[[0.2], [0.4]]]));
    assert.equal(single.channels, 1);
    assert.deepEqual([...single.data], [51, 102]);
  });

  it("reads ImageData-like objects as RGBA", async () => {
    const data = new Uint8ClampedArray([1, 2, 3, 4, 5, 6, 7, 8]);
    const image = new Image({ data, width: 2, height: 1 });
    assert.equal(image.channels, 4);
    const decoded = await pixelsOf(image);
    assert.deepEqual([...decoded.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("turns the Python uetai example (32×32×3 random floats in [0, 1]) into a non-black image", async () => {
    const random = seeded(2024);
    const nested = Array.from(
      { length: 32 },
      () => Array.from({ length: 32 }, () => [random(), random(), random()]),
    );
    const flat = new Float32Array(nested.flat(2));
    for (
      const image of [
        new Image(nested),
        new Image(flat, { width: 32, height: 32 }),
      ]
    ) {
      const decoded = await pixelsOf(image);
      assert.deepEqual(
        [decoded.width, decoded.height, decoded.channels],
        [32, 32, 3],
      );
      const mean = decoded.data.reduce((sum, value) => sum + value, 0) /
        decoded.data.length;
      assert.ok(
        mean > 100 && mean < 155,
        `mean ${mean} of uniform [0, 1) values`,
      );
      assert.ok(decoded.data.some((value) => value > 250));
      // Each byte is the rounded float.
      assert.equal(decoded.data[0], Math.round(nested[0][0][0] * 255));
    }
  });

  it("copies its input: later changes by the caller have no effect", async () => {
    const bytes = randomBytes(4 * 3 * 3, 31);
    const expected = bytes.slice();
    const fromBytes = new Image(bytes, { width: 4, height: 3 });
    bytes.fill(0);

    const floats = new Float32Array(4).fill(1);
    const fromFloats = new Image(floats, { width: 2, height: 2 });
    floats.fill(0);

    const nested = [[1, 1], [1, 1]];
    const fromNested = new Image(nested);
    nested[0][0] = 0;
    nested[1] = [0, 0];

    const imageData = {
      data: new Uint8ClampedArray(4).fill(200),
      width: 1,
      height: 1,
    };
    const fromImageData = new Image(imageData);
    imageData.data.fill(0);

    const png = await encodePng(Uint8Array.of(1, 2, 3, 4), {
      width: 2,
      height: 2,
      channels: 1,
    });
    const pngCopy = png.slice();
    const fromPng = new Image(png);
    png.fill(0);

    assert.deepEqual((await pixelsOf(fromBytes)).data, expected);
    assert.deepEqual([...(await pixelsOf(fromFloats)).data], [
      255,
      255,
      255,
      255,
    ]);
    assert.deepEqual([...(await pixelsOf(fromNested)).data], [
      255,
      255,
      255,
      255,
    ]);
    assert.deepEqual([...(await pixelsOf(fromImageData)).data], [
      200,
      200,
      200,
      200,
    ]);
    const encoded = await fromPng.encode();
    assert.deepEqual(encoded.data, pngCopy);
    // Nor does changing what encode() returned.
    encoded.data.fill(0);
    assert.deepEqual((await fromPng.encode()).data, pngCopy);
  });

  it("keeps the caption and puts it in the metadata", async () => {
    const image = new Image([[0, 1]], { caption: "a digit" });
    assert.equal(image.caption, "a digit");
    const encoded = await image.encode();
    assert.deepEqual(encoded.metadata, {
      width: 2,
      height: 1,
      channels: 1,
      caption: "a digit",
    });
    const plain = await new Image([[0, 1]]).encode();
    assert.equal("caption" in plain.metadata, false);
    assert.equal(new Image([[0]]).caption, undefined);
  });

  describe("encoded input", () => {
    it("passes a PNG through, with its size from the header", async () => {
      const png = await encodePng(randomBytes(5 * 3 * 2, 4), {
        width: 5,
        height: 3,
        channels: 2,
      });
      for (const input of [png, png.slice().buffer]) {
        const image = new Image(input, { caption: "as is" });
        assert.deepEqual(
          [image.width, image.height, image.channels],
          [5, 3, 2],
        );
        const encoded = await image.encode();
        assert.equal(encoded.contentType, "image/png");
        assert.equal(encoded.extension, "png");
        assert.deepEqual(encoded.data, png);
        assert.deepEqual(encoded.metadata, {
          width: 5,
          height: 3,
          channels: 2,
          caption: "as is",
        });
      }
      // A palette PNG has no channel count in its header.
      const palette = new Image(pngHeader(4, 4, 3));
      assert.deepEqual([palette.width, palette.height, palette.channels], [
        4,
        4,
        undefined,
      ]);
    });

    it("recognises JPEG, GIF and WebP and reads their size", async () => {
      const jpeg = Uint8Array.from([
        0xff,
        0xd8, // SOI
        0xff,
        0xe0,
        0x00,
        0x06,
        0x4a,
        0x46,
        0x49,
        0x46, // APP0, 4 bytes of data
        0xff,
        0xff, // a fill byte
        0xc2,
        0x00,
        0x0b,
        0x08,
        0x01,
        0x2c,
        0x00,
        0xc8,
        0x03,
        1,
        2,
        3, // SOF2 200×300, 3 components
        0xff,
        0xd9,
      ]);
      const gif = Uint8Array.from([
        ...ascii("GIF89a"),
        0x40,
        0x01,
        0xf0,
        0x00,
        0,
        0,
        0,
      ]);
      const webpLossy = new Uint8Array(30);
      webpLossy.set(ascii("RIFF"), 0);
      webpLossy.set(ascii("WEBPVP8 "), 8);
      webpLossy.set([0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01], 23); // 640×480
      const webpLossless = new Uint8Array(30);
      webpLossless.set(ascii("RIFF"), 0);
      webpLossless.set(ascii("WEBPVP8L"), 8);
      webpLossless[20] = 0x2f;
      // width-1 = 99 in 14 bits, height-1 = 49 in the next 14.
      new DataView(webpLossless.buffer).setUint32(21, 99 | (49 << 14), true);
      const webpExtended = new Uint8Array(30);
      webpExtended.set(ascii("RIFF"), 0);
      webpExtended.set(ascii("WEBPVP8X"), 8);
      webpExtended.set([0x0f, 0x27, 0x00, 0xe7, 0x03, 0x00], 24); // 10000×1000

      const cases: [Uint8Array, string, string, Record<string, number>][] = [
        [jpeg, "image/jpeg", "jpg", { width: 200, height: 300, channels: 3 }],
        [gif, "image/gif", "gif", { width: 320, height: 240 }],
        [webpLossy, "image/webp", "webp", { width: 640, height: 480 }],
        [webpLossless, "image/webp", "webp", { width: 100, height: 50 }],
        [webpExtended, "image/webp", "webp", { width: 10000, height: 1000 }],
      ];
      for (const [bytes, contentType, extension, size] of cases) {
        const encoded = await new Image(bytes).encode();
        assert.equal(encoded.contentType, contentType);
        assert.equal(encoded.extension, extension);
        assert.deepEqual(encoded.data, bytes);
        assert.deepEqual(encoded.metadata, size, contentType);
      }
      // A JPEG cut before its frame header has no size.
      const cut = new Image(jpeg.subarray(0, 12));
      assert.equal(cut.width, undefined);
      assert.deepEqual((await cut.encode()).metadata, {});
    });

    it("reads bytes with a known magic as raw pixels when width or height is given", async () => {
      const bytes = Uint8Array.from([0xff, 0xd8, 0xff, 0x00]); // JPEG magic
      const image = new Image(bytes, { width: 2, height: 2 });
      assert.equal(image.channels, 1);
      const decoded = await pixelsOf(image);
      assert.deepEqual([...decoded.data], [0xff, 0xd8, 0xff, 0x00]);
    });

    it("reads a Blob in encode()", async () => {
      const png = await encodePng(Uint8Array.of(10, 20, 30), {
        width: 1,
        height: 1,
        channels: 3,
      });
      const image = new Image(
        new Blob([png as Uint8Array<ArrayBuffer>], { type: "image/png" }),
        {
          caption: "blob",
        },
      );
      assert.equal(image.width, undefined);
      const encoded = await image.encode();
      assert.equal(encoded.contentType, "image/png");
      assert.deepEqual(encoded.data, png);
      assert.deepEqual(encoded.metadata, {
        width: 1,
        height: 1,
        channels: 3,
        caption: "blob",
      });
    });

    it("rejects a Blob that is no known image in encode() with a TypeError", async () => {
      const image = new Image(new Blob(["hello"], { type: "text/plain" }));
      await assert.rejects(image.encode(), {
        name: "TypeError",
        message:
          /Blob \(type "text\/plain[^"]*", 5 bytes\) is not a PNG, JPEG, GIF or WebP file: its first bytes are 68 65 6c 6c 6f$/,
      });
    });

    it("rejects options meant for raw pixels with a TypeError", async () => {
      const png = await encodePng(new Uint8Array(1), {
        width: 1,
        height: 1,
        channels: 1,
      });
      assert.throws(() => new Image(png, { channels: 3 }), {
        name: "TypeError",
        message:
          /encoded png file as 'options.channels' applies to raw pixels only: current value is 3/,
      });
      assert.throws(
        () =>
          new Image(new Blob([png as Uint8Array<ArrayBuffer>]), {
            range: [0, 1],
          }),
        {
          name: "TypeError",
          message: /Blob .*'options.range' applies to raw pixels only/,
        },
      );
      assert.throws(
        () =>
          new Image(new Blob([png as Uint8Array<ArrayBuffer>]), { width: 1 }),
        {
          name: "TypeError",
          message:
            /Blob \(an encoded file\) as 'options.width' applies to raw pixels only: current value is 1/,
        },
      );
    });
  });

  describe("bad input", () => {
    function throwsWith(
      make: () => unknown,
      name: "TypeError" | "RangeError",
      message: RegExp,
    ): void {
      assert.throws(make, (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.name, name, error.message);
        assert.match(error.message, message);
        return true;
      });
    }

    it("rejects values outside [0, 1], NaN and infinities, naming the first and its index", () => {
      throwsWith(
        () =>
          new Image(new Float32Array([0, 0.5, 1.5, 2]), {
            width: 2,
            height: 2,
          }),
        "RangeError",
        /must lie in \[0, 1\]: value 1.5 at index 2 is outside \(pass 'range'/,
      );
      throwsWith(
        () => new Image(new Float64Array([0, -0.25]), { width: 2, height: 1 }),
        "RangeError",
        /value -0.25 at index 1 is outside/,
      );
      throwsWith(
        () => new Image(new Float64Array([0, 0, NaN]), { width: 3, height: 1 }),
        "RangeError",
        /finite numbers: value NaN at index 2 is not/,
      );
      throwsWith(
        () => new Image(new Float32Array([Infinity]), { width: 1, height: 1 }),
        "RangeError",
        /value Infinity at index 0/,
      );
      throwsWith(
        () => new Image([[0, 1], [1, 255]]),
        "RangeError",
        /value 255 at \[1\]\[1\] is outside.*\[0, 255\]/,
      );
      throwsWith(
        () => new Image([[[0, 0, 0]], [[0, -1, 0]]]),
        "RangeError",
        /value -1 at \[1\]\[0\]\[1\]/,
      );
      throwsWith(
        () =>
          new Image(new Float32Array([0, 3]), {
            width: 2,
            height: 1,
            range: [0, 2],
          }),
        "RangeError",
        /must lie in \[0, 2\]: value 3 at index 1 is outside$/,
      );
      throwsWith(
        () =>
          new Image(Uint8Array.from([0, 11]), {
            width: 2,
            height: 1,
            range: [0, 10],
          }),
        "RangeError",
        /value 11 at index 1/,
      );
      throwsWith(
        () =>
          new Image(new Float64Array([1, -Infinity]), {
            width: 2,
            height: 1,
            normalize: "minmax",
          }),
        "RangeError",
        /value -Infinity at index 1/,
      );
    });

    it("rejects a bad range or normalize option", () => {
      const data = new Float32Array(2);
      throwsWith(
        () => new Image(data, { width: 2, height: 1, range: [1, 0] }),
        "RangeError",
        /'range' must be finite with lo < hi: current value is \[1, 0\]/,
      );
      throwsWith(
        () => new Image(data, { width: 2, height: 1, range: [0, NaN] }),
        "RangeError",
        /\[0, NaN\]/,
      );
      throwsWith(
        () =>
          new Image(data, {
            width: 2,
            height: 1,
            range: [0, "1"] as unknown as [number, number],
          }),
        "TypeError",
        /'range' must be a pair \[lo, hi\] of numbers/,
      );
      throwsWith(
        () =>
          new Image(data, {
            width: 2,
            height: 1,
            range: [0, 1],
            normalize: "minmax",
          }),
        "TypeError",
        /'range' and 'normalize' exclude each other/,
      );
      throwsWith(
        () =>
          new Image(data, {
            width: 2,
            height: 1,
            normalize: "zscore" as "minmax",
          }),
        "TypeError",
        /'normalize' must be "minmax": current value is "zscore"/,
      );
    });

    it("rejects typed-array shapes that do not fit", () => {
      throwsWith(
        () => new Image(new Float32Array(12), { height: 2 }),
        "TypeError",
        /'options.width' is required: current value is undefined$/,
      );
      throwsWith(
        () => new Image(new Uint8Array(12), { width: 2 }),
        "TypeError",
        /'options.height' is required.*not a PNG, JPEG, GIF or WebP file either/,
      );
      throwsWith(
        () => new Image(new Uint8Array(12)),
        "TypeError",
        /'options.width' is required/,
      );
      throwsWith(
        () => new Image(new Uint8Array(12), { width: 0, height: 2 }),
        "RangeError",
        /'width' must be a positive integer.*current value is 0$/,
      );
      throwsWith(
        () => new Image(new Uint8Array(12), { width: 2, height: 1.5 }),
        "RangeError",
        /'height' .*current value is 1.5$/,
      );
      throwsWith(
        () => new Image(new Uint8Array(8), { width: 2, height: 2 }),
        "RangeError",
        /channels 1, 3 or 4: current length is 8 for 2×2$/,
      );
      throwsWith(
        () =>
          new Image(new Uint8Array(8), {
            width: 2,
            height: 2,
            channels: 2 as 1,
          }),
        "RangeError",
        /'options.channels' must be 1, 3 or 4: current value is 2$/,
      );
      throwsWith(
        () =>
          new Image(new Uint8Array(13), { width: 2, height: 2, channels: 3 }),
        "RangeError",
        /2 \* 2 \* 3 = 12 values: current length is 13$/,
      );
      throwsWith(
        () =>
          new Image(new Uint8Array(12), {
            width: 2,
            height: 2,
            layout: "WHC" as "HWC",
          }),
        "TypeError",
        /'options.layout' must be "HW", "HWC" or "CHW": current value is "WHC"$/,
      );
      throwsWith(
        () =>
          new Image(new Uint8Array(12), { width: 2, height: 2, layout: "HW" }),
        "RangeError",
        /layout "HW" holds one channel: current channel count is 3$/,
      );
      throwsWith(
        () =>
          new Image(new Int16Array(4) as unknown as Uint8Array, {
            width: 2,
            height: 2,
          }),
        "TypeError",
        /from an Int16Array as raw pixels must be a Uint8Array, Uint8ClampedArray, Float32Array or Float64Array/,
      );
    });

    it("rejects nested arrays that are ragged, empty, non-numeric or of a wrong depth", () => {
      throwsWith(
        () => new Image([[0, 1], [0]]),
        "RangeError",
        /must not be ragged: \[1\] has length 1, expected 2$/,
      );
      throwsWith(
        () => new Image([[[0, 0, 0], [0, 0]]]),
        "RangeError",
        /\[0\]\[1\] has length 2, expected 3$/,
      );
      throwsWith(
        () => new Image([]),
        "RangeError",
        /must not be empty: current value is \[\]$/,
      );
      throwsWith(
        () => new Image([[]]),
        "RangeError",
        /no level may be empty: current shape is 1×0$/,
      );
      throwsWith(
        () => new Image([[0, "1"]] as unknown as number[][]),
        "TypeError",
        /\[0\]\[1\] must be a number: current value is "1"$/,
      );
      throwsWith(
        () => new Image([[0, 1], 5] as unknown as number[][]),
        "TypeError",
        /\[1\] must be an array: current value is 5$/,
      );
      throwsWith(
        () => new Image([0, 1, 0.5] as unknown as number[][]),
        "TypeError",
        /\[0\] must be an array \(a row\): current value is 0; a flat array of numbers needs to be a typed array/,
      );
      throwsWith(
        () => new Image([[[0, 0], [0, 0]]]),
        "RangeError",
        /channel count must be 1, 3 or 4: current value is 2 \(shape 1×2×2, layout "HWC"\); pass layout: "CHW"/,
      );
      throwsWith(
        () => new Image([[[0, 0, 0]]], { layout: "HW" }),
        "RangeError",
        /layout "HW" needs 2 levels of nested arrays: current shape is 1×1×3$/,
      );
      throwsWith(
        () => new Image([[0, 0]], { layout: "CHW" }),
        "RangeError",
        /layout "CHW" needs 3 levels of nested arrays: current shape is 1×2/,
      );
      throwsWith(
        () => new Image([[0, 0]], { width: 3 }),
        "RangeError",
        /'options.width' does not match the input: current value is 3, the input has 2$/,
      );
    });

    it("rejects inputs of no accepted kind, and bad options or captions", () => {
      for (const input of [null, undefined, 42, "image.png", {}]) {
        throwsWith(
          () => new Image(input as unknown as Uint8Array),
          "TypeError",
          /Cannot create an image from .*: expected encoded bytes/,
        );
      }
      throwsWith(
        () => new Image([[0]], null as unknown as undefined),
        "TypeError",
        /'options' must be an object: current value is null$/,
      );
      throwsWith(
        () => new Image([[0]], { caption: 5 as unknown as string }),
        "TypeError",
        /'caption' must be a string: current value is 5$/,
      );
      throwsWith(
        () =>
          new Image({
            data: new Float32Array(4) as unknown as Uint8Array,
            width: 1,
            height: 1,
          }),
        "TypeError",
        /'data' must be a Uint8ClampedArray or Uint8Array: current value is an instance of Float32Array$/,
      );
      throwsWith(
        () =>
          new Image({ data: new Uint8ClampedArray(4), width: 2, height: 1 }),
        "RangeError",
        /2 \* 1 \* 4 = 8 values: current length is 4$/,
      );
      throwsWith(
        () =>
          new Image({ data: new Uint8ClampedArray(4), width: 1, height: 1 }, {
            channels: 3,
          }),
        "RangeError",
        /'options.channels' does not match the input: current value is 3, the input has 4$/,
      );
    });
  });
});
