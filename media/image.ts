// This module is browser compatible.

import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { encodePng } from "./png.ts";
import { show as describe } from "./_json.ts";

/**
 * How raw pixel values are ordered: `"HW"` is one value per pixel, row by
 * row (grayscale); `"HWC"` is row by row with each pixel's channels together
 * (channels-last, as in most image libraries); `"CHW"` is one full plane per
 * channel (channels-first, as in PyTorch tensors).
 */
export type ImageLayout = "HW" | "HWC" | "CHW";

/** Typed arrays {@linkcode Image} accepts as raw pixels. */
export type ImagePixels =
  | Uint8Array
  | Uint8ClampedArray
  | Float32Array
  | Float64Array;

/** An object shaped like the DOM `ImageData`: RGBA bytes, row by row. */
export interface ImageDataLike {
  /** `width * height * 4` bytes, RGBA. */
  readonly data: Uint8ClampedArray | Uint8Array;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/**
 * What {@linkcode Image} accepts: encoded bytes (PNG, JPEG, GIF or WebP, as
 * a `Uint8Array`, `ArrayBuffer` or `Blob`), raw pixels in a typed array
 * (with `width` and `height` options), nested arrays of numbers (H×W, H×W×C
 * or, with `layout: "CHW"`, C×H×W) or an `ImageData`-like object.
 */
export type ImageInput =
  | ImagePixels
  | ArrayBuffer
  | Blob
  | readonly (readonly number[])[]
  | readonly (readonly (readonly number[])[])[]
  | ImageDataLike;

/** Options of {@linkcode Image}. */
export interface ImageOptions {
  /**
   * Width in pixels of raw pixels in a typed array (required for them). For
   * other inputs it is read from the input and, if given, must agree.
   */
  width?: number;
  /**
   * Height in pixels of raw pixels in a typed array (required for them).
   * For other inputs it is read from the input and, if given, must agree.
   */
  height?: number;
  /**
   * Channels per pixel: 1 (grayscale), 3 (RGB) or 4 (RGBA).
   * @default {length / (width * height)}
   */
  channels?: 1 | 3 | 4;
  /**
   * Order of raw pixel values.
   * @default {"HWC" ("HW" for one channel)}
   */
  layout?: ImageLayout;
  /**
   * The range `[lo, hi]` of the values, mapped linearly onto 0..255; a value
   * outside it is a `RangeError`. Without it (and without `normalize`),
   * integer typed arrays are taken as 0..255 and everything else must lie in
   * [0, 1].
   */
  range?: readonly [number, number];
  /**
   * `"minmax"` maps the smallest value to 0 and the largest to 255 (an
   * image of one value becomes all 0).
   */
  normalize?: "minmax";
  /** A caption shown with the image. */
  caption?: string;
}

interface EncodedFormat {
  contentType: string;
  extension: string;
}

interface HeaderInfo {
  width?: number;
  height?: number;
  channels?: number;
}

/** A linear map from values to bytes: `round((value - lo) * scale)`. */
interface ValueMap {
  lo: number;
  hi: number;
  scale: number;
}

const MAX_DIMENSION = 0x7fff_ffff;
const LAYOUTS: readonly string[] = ["HW", "HWC", "CHW"];
const RAW_ONLY_OPTIONS = [
  "width",
  "height",
  "channels",
  "layout",
  "range",
  "normalize",
] as const;
const PNG_FORMAT: EncodedFormat = {
  contentType: "image/png",
  extension: "png",
};
const JPEG_FORMAT: EncodedFormat = {
  contentType: "image/jpeg",
  extension: "jpg",
};
const GIF_FORMAT: EncodedFormat = {
  contentType: "image/gif",
  extension: "gif",
};
const WEBP_FORMAT: EncodedFormat = {
  contentType: "image/webp",
  extension: "webp",
};

/**
 * An image to log: raw pixels, nested arrays or an already encoded file.
 *
 * The constructor validates its input and copies it (raw pixels into a
 * compact 8-bit HWC buffer), so changing the input afterwards has no
 * effect; bad input is a `TypeError` or `RangeError` there. `encode()` makes
 * a PNG with {@linkcode encodePng}, or returns encoded input as it is.
 *
 * Which input is which:
 * - A `Uint8Array` or `ArrayBuffer` is an encoded file when it starts with
 *   the magic bytes of PNG, JPEG, GIF or WebP and neither `width` nor
 *   `height` is given; otherwise it is raw pixels. A `Blob` is always an
 *   encoded file, read and recognised by `encode()`.
 * - Raw pixels in a `Uint8Array`, `Uint8ClampedArray`, `Float32Array` or
 *   `Float64Array` need `width` and `height`; `channels` (1, 3 or 4) is
 *   inferred from the length, and `layout` defaults to `"HWC"`.
 * - Nested arrays are H×W (grayscale), H×W×C, or C×H×W with
 *   `layout: "CHW"`; every row must have the same length.
 * - An `ImageData`-like `{ data, width, height }` is RGBA.
 *
 * Value policy: `Uint8Array` and `Uint8ClampedArray` values are 0..255 as
 * they are. Float arrays and nested arrays must lie in [0, 1] and are
 * scaled by 255 and rounded to the nearest integer, halves up (0.5 becomes
 * 128). Other ranges need `range: [lo, hi]` or `normalize: "minmax"`. A
 * value outside the allowed range, NaN or infinite is a `RangeError` naming
 * the first such value and its index; nothing is clamped or wrapped.
 *
 * @example Log a float image in [0, 1]
 * ```ts
 * import { Image } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const pixels = new Float32Array(4 * 2 * 3).fill(0.5); // 4×2 RGB
 * const image = new Image(pixels, { width: 4, height: 2, caption: "gray" });
 * assert.equal(image.channels, 3);
 * const encoded = await image.encode();
 * assert.equal(encoded.contentType, "image/png");
 * assert.deepEqual(encoded.metadata, { width: 4, height: 2, channels: 3, caption: "gray" });
 * ```
 *
 * @example Nested arrays, channels first, with their own range
 * ```ts
 * import { Image } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const chw = [[[0, 255]], [[0, 255]], [[255, 0]]]; // 3 channels, 1×2 pixels
 * const image = new Image(chw, { layout: "CHW", range: [0, 255] });
 * assert.equal(image.width, 2);
 * assert.equal(image.height, 1);
 * assert.throws(() => new Image([[0, 2]]), RangeError); // 2 is outside [0, 1]
 * ```
 *
 * @example Pass an encoded PNG through
 * ```ts
 * import { encodePng, Image } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const png = await encodePng(new Uint8Array(6), { width: 3, height: 2, channels: 1 });
 * const image = new Image(png);
 * assert.equal(image.width, 3);
 * assert.deepEqual((await image.encode()).data, png);
 * ```
 */
export class Image implements MediaValue {
  /** The media brand. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"image"`. */
  readonly mediaType: "image" = "image";

  #pixels: Uint8Array | undefined;
  #encoded: Uint8Array | undefined;
  #format: EncodedFormat | undefined;
  #blob: Blob | undefined;
  #width: number | undefined;
  #height: number | undefined;
  #channels: number | undefined;
  #caption: string | undefined;

  /**
   * Validates and copies an image.
   *
   * @param input Encoded bytes, raw pixels, nested arrays or an
   * `ImageData`-like object (see {@linkcode ImageInput}).
   * @param options Size, channels, layout and value range of raw pixels,
   * and the caption.
   * @throws {TypeError} When the input is of no accepted kind, a nested
   * value is not a number, a row is not an array, `layout` or `normalize` is
   * unknown, options meant for raw pixels are given with an encoded file,
   * or `width`/`height` is missing for raw pixels.
   * @throws {RangeError} When the size, channel count or length do not fit
   * together, nested arrays are ragged or empty, or a value is outside the
   * allowed range, NaN or infinite.
   */
  constructor(input: ImageInput, options: ImageOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot create an image as 'options' must be an object: current value is ${
          describe(options)
        }`,
      );
    }
    const caption = options.caption;
    if (caption !== undefined && typeof caption !== "string") {
      throw new TypeError(
        `Cannot create an image as 'caption' must be a string: current value is ${
          describe(caption)
        }`,
      );
    }
    this.#caption = caption;

    if (typeof Blob === "function" && input instanceof Blob) {
      rejectRawOptions(options, "a Blob (an encoded file)");
      this.#blob = input;
      return;
    }
    let view: unknown = input;
    if (tagOf(input) === "ArrayBuffer") {
      view = new Uint8Array(input as ArrayBuffer);
    }
    if (ArrayBuffer.isView(view)) {
      const tag = tagOf(view);
      if (
        tag === "Uint8Array" && options.width === undefined &&
        options.height === undefined
      ) {
        const bytes = view as Uint8Array;
        const format = sniffFormat(bytes);
        if (format !== undefined) {
          rejectRawOptions(options, `an encoded ${format.extension} file`);
          this.#encoded = new Uint8Array(bytes); // a copy, also of a Node Buffer (whose slice() shares)
          this.#format = format;
          const header = readHeader(bytes, format);
          this.#width = header.width;
          this.#height = header.height;
          this.#channels = header.channels;
          return;
        }
      }
      if (
        tag !== "Uint8Array" && tag !== "Uint8ClampedArray" &&
        tag !== "Float32Array" && tag !== "Float64Array"
      ) {
        throw new TypeError(
          `Cannot create an image from ${
            tag.startsWith("I") ? "an" : "a"
          } ${tag} as raw pixels must be a Uint8Array, Uint8ClampedArray, Float32Array or Float64Array`,
        );
      }
      this.#setRaw(
        fromTypedArray(view as ImagePixels, options, tag === "Uint8Array"),
      );
      return;
    }
    if (Array.isArray(input)) {
      this.#setRaw(fromNested(input, options));
      return;
    }
    if (typeof input === "object" && input !== null && "data" in input) {
      this.#setRaw(fromImageData(input as ImageDataLike, options));
      return;
    }
    throw new TypeError(
      `Cannot create an image from ${
        describe(input)
      }: expected encoded bytes (Uint8Array, ArrayBuffer, Blob), a typed array of pixels, nested arrays of numbers or an ImageData-like { data, width, height }`,
    );
  }

  /**
   * Width in pixels; `undefined` for an encoded file whose header was not
   * read (a `Blob`, or an unusual header).
   */
  get width(): number | undefined {
    return this.#width;
  }

  /**
   * Height in pixels; `undefined` for an encoded file whose header was not
   * read (a `Blob`, or an unusual header).
   */
  get height(): number | undefined {
    return this.#height;
  }

  /**
   * Channels per pixel: 1, 3 or 4 for pixels; for an encoded file what its
   * header says (2 for a gray + alpha PNG), or `undefined` when unknown.
   */
  get channels(): number | undefined {
    return this.#channels;
  }

  /** Bytes held: the copied pixels, the encoded file, or the Blob's size. */
  get sizeHintBytes(): number {
    return this.#pixels?.byteLength ?? this.#encoded?.byteLength ??
      this.#blob?.size ?? 0;
  }

  /** The caption, if any. */
  get caption(): string | undefined {
    return this.#caption;
  }

  /**
   * Encodes the image: a PNG of the pixels, or the encoded file as given.
   *
   * @returns The bytes, content type, extension and metadata (`width`,
   * `height` and `channels` where known, and `caption` if set).
   * @throws {TypeError} When a `Blob` turns out not to be a PNG, JPEG, GIF
   * or WebP file.
   */
  async encode(): Promise<EncodedMedia> {
    let data: Uint8Array;
    let format: EncodedFormat;
    let header: HeaderInfo = {
      width: this.#width,
      height: this.#height,
      channels: this.#channels,
    };
    if (this.#pixels !== undefined) {
      data = await encodePng(this.#pixels, {
        width: this.#width as number,
        height: this.#height as number,
        channels: this.#channels as 1 | 3 | 4,
      });
      format = PNG_FORMAT;
    } else if (this.#encoded !== undefined) {
      data = this.#encoded.slice();
      format = this.#format as EncodedFormat;
    } else {
      const blob = this.#blob as Blob;
      data = new Uint8Array(await blob.arrayBuffer());
      const sniffed = sniffFormat(data);
      if (sniffed === undefined) {
        throw new TypeError(
          `Cannot encode the image as the Blob (type ${
            describe(blob.type)
          }, ${data.length} bytes) is not a PNG, JPEG, GIF or WebP file: its first bytes are ${
            hexPrefix(data)
          }`,
        );
      }
      format = sniffed;
      header = readHeader(data, sniffed);
    }
    const metadata: Record<string, unknown> = {};
    if (header.width !== undefined) metadata.width = header.width;
    if (header.height !== undefined) metadata.height = header.height;
    if (header.channels !== undefined) metadata.channels = header.channels;
    if (this.#caption !== undefined) metadata.caption = this.#caption;
    return {
      mediaType: "image",
      contentType: format.contentType,
      extension: format.extension,
      data,
      metadata,
    };
  }

  #setRaw(raw: RawImage): void {
    this.#pixels = raw.pixels;
    this.#width = raw.width;
    this.#height = raw.height;
    this.#channels = raw.channels;
  }
}

/** Pixels converted to 8-bit HWC, with their size. */
interface RawImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

function fromTypedArray(
  values: ImagePixels,
  options: ImageOptions,
  fromBytes: boolean,
): RawImage {
  const { width, height } = options;
  if (width === undefined || height === undefined) {
    const missing = width === undefined ? "width" : "height";
    const encodedHint = fromBytes
      ? " (these bytes are not a PNG, JPEG, GIF or WebP file either)"
      : "";
    throw new TypeError(
      `Cannot create an image from raw pixels as 'options.${missing}' is required: current value is undefined${encodedHint}`,
    );
  }
  checkDimension("width", width);
  checkDimension("height", height);
  const area = width * height;
  let channels: number;
  if (options.channels !== undefined) {
    channels = checkChannels(options.channels, "'options.channels'");
  } else {
    channels = values.length / area;
    if (channels !== 1 && channels !== 3 && channels !== 4) {
      throw new RangeError(
        `Cannot create an image as the pixels must hold width * height * channels values, with channels 1, 3 or 4: current length is ${values.length} for ${width}×${height}`,
      );
    }
  }
  if (values.length !== area * channels) {
    throw new RangeError(
      `Cannot create an image as the pixels must hold width * height * channels = ${width} * ${height} * ${channels} = ${
        area * channels
      } values: current length is ${values.length}`,
    );
  }
  const layout = resolveLayout(options.layout, channels);
  const integer = tagOf(values) === "Uint8Array" ||
    tagOf(values) === "Uint8ClampedArray";
  const pixels = toBytes(values, {
    width,
    height,
    channels,
    layout,
    map: valueMap(values, options, integer, (i) => `index ${i}`),
  });
  return { pixels, width, height, channels: channels as 1 | 3 | 4 };
}

function fromNested(rows: readonly unknown[], options: ImageOptions): RawImage {
  if (rows.length === 0) {
    throw new RangeError(
      "Cannot create an image from nested arrays as they must not be empty: current value is []",
    );
  }
  const first = rows[0];
  if (!Array.isArray(first)) {
    throw new TypeError(
      `Cannot create an image from nested arrays as [0] must be an array (a row): current value is ${
        describe(first)
      }; a flat array of numbers needs to be a typed array with width and height`,
    );
  }
  const depth = first.length > 0 && Array.isArray(first[0]) ? 3 : 2;
  const dims = depth === 2
    ? [rows.length, first.length]
    : [rows.length, first.length, (first[0] as unknown[]).length];
  if (dims.some((size) => size === 0)) {
    throw new RangeError(
      `Cannot create an image from nested arrays as no level may be empty: current shape is ${
        dims.join("×")
      }`,
    );
  }
  const values = new Float64Array(dims.reduce((a, b) => a * b, 1));
  flatten(rows, dims, 0, values, 0, "");

  let layout: ImageLayout;
  let width: number;
  let height: number;
  let channels: number;
  if (depth === 2) {
    if (options.layout !== undefined && options.layout !== "HW") {
      checkLayoutName(options.layout);
      throw new RangeError(
        `Cannot create an image as layout ${
          describe(options.layout)
        } needs 3 levels of nested arrays: current shape is ${
          dims.join("×")
        } (layout "HW")`,
      );
    }
    layout = "HW";
    [height, width] = dims;
    channels = 1;
  } else {
    layout = options.layout ?? "HWC";
    checkLayoutName(layout);
    if (layout === "HW") {
      throw new RangeError(
        `Cannot create an image as layout "HW" needs 2 levels of nested arrays: current shape is ${
          dims.join("×")
        }`,
      );
    }
    if (layout === "HWC") [height, width, channels] = dims;
    else [channels, height, width] = dims;
    if (channels !== 1 && channels !== 3 && channels !== 4) {
      const hint = layout === "HWC"
        ? `; pass layout: "CHW" for channels-first arrays`
        : "";
      throw new RangeError(
        `Cannot create an image as the channel count must be 1, 3 or 4: current value is ${channels} (shape ${
          dims.join("×")
        }, layout ${JSON.stringify(layout)})${hint}`,
      );
    }
  }
  checkAgrees(options, width, height, channels);
  const pixels = toBytes(values, {
    width,
    height,
    channels,
    layout,
    map: valueMap(
      values,
      options,
      false,
      (i) => nestedPath(i, dims),
    ),
  });
  return { pixels, width, height, channels: channels as 1 | 3 | 4 };
}

/** Copies nested arrays of the given shape into `out`, checking each level. */
function flatten(
  level: readonly unknown[],
  dims: readonly number[],
  depth: number,
  out: Float64Array,
  offset: number,
  path: string,
): number {
  const expected = dims[depth];
  if (level.length !== expected) {
    throw new RangeError(
      `Cannot create an image from nested arrays as they must not be ragged: ${
        path || "the outer array"
      } has length ${level.length}, expected ${expected}`,
    );
  }
  if (depth === dims.length - 1) {
    for (let i = 0; i < expected; i++) {
      const value = level[i];
      if (typeof value !== "number") {
        throw new TypeError(
          `Cannot create an image from nested arrays as ${path}[${i}] must be a number: current value is ${
            describe(value)
          }`,
        );
      }
      out[offset++] = value;
    }
    return offset;
  }
  for (let i = 0; i < expected; i++) {
    const child = level[i];
    if (!Array.isArray(child)) {
      throw new TypeError(
        `Cannot create an image from nested arrays as ${path}[${i}] must be an array: current value is ${
          describe(child)
        }`,
      );
    }
    offset = flatten(child, dims, depth + 1, out, offset, `${path}[${i}]`);
  }
  return offset;
}

function fromImageData(
  image: ImageDataLike,
  options: ImageOptions,
): RawImage {
  const { data, width, height } = image;
  const tag = tagOf(data);
  if (tag !== "Uint8ClampedArray" && tag !== "Uint8Array") {
    throw new TypeError(
      `Cannot create an image from an ImageData-like object as 'data' must be a Uint8ClampedArray or Uint8Array: current value is ${
        describe(data)
      }`,
    );
  }
  checkDimension("width", width);
  checkDimension("height", height);
  if (options.layout !== undefined && options.layout !== "HWC") {
    throw new RangeError(
      `Cannot create an image from an ImageData-like object as its layout is "HWC": 'options.layout' is ${
        describe(options.layout)
      }`,
    );
  }
  checkAgrees(options, width, height, 4);
  return fromTypedArray(
    data,
    { ...options, width, height, channels: 4, layout: "HWC" },
    false,
  );
}

/** Checks that size options given alongside a shaped input agree with it. */
function checkAgrees(
  options: ImageOptions,
  width: number,
  height: number,
  channels: number,
): void {
  const actual = { width, height, channels };
  for (const key of ["width", "height", "channels"] as const) {
    const given = options[key];
    if (given !== undefined && given !== actual[key]) {
      throw new RangeError(
        `Cannot create an image as 'options.${key}' does not match the input: current value is ${
          describe(given)
        }, the input has ${actual[key]}`,
      );
    }
  }
}

function checkDimension(name: string, value: unknown): void {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 ||
    value > MAX_DIMENSION
  ) {
    throw new RangeError(
      `Cannot create an image as '${name}' must be a positive integer up to ${MAX_DIMENSION}: current value is ${
        describe(value)
      }`,
    );
  }
}

function checkChannels(value: unknown, name: string): number {
  if (value !== 1 && value !== 3 && value !== 4) {
    throw new RangeError(
      `Cannot create an image as ${name} must be 1, 3 or 4: current value is ${
        describe(value)
      }`,
    );
  }
  return value;
}

function checkLayoutName(layout: unknown): void {
  if (typeof layout !== "string" || !LAYOUTS.includes(layout)) {
    throw new TypeError(
      `Cannot create an image as 'options.layout' must be "HW", "HWC" or "CHW": current value is ${
        describe(layout)
      }`,
    );
  }
}

function resolveLayout(
  layout: ImageLayout | undefined,
  channels: number,
): ImageLayout {
  if (layout === undefined) return channels === 1 ? "HW" : "HWC";
  checkLayoutName(layout);
  if (layout === "HW" && channels !== 1) {
    throw new RangeError(
      `Cannot create an image as layout "HW" holds one channel: current channel count is ${channels}`,
    );
  }
  return layout;
}

/**
 * Options only raw pixels take: an error for an encoded file. (Bytes with
 * `width` or `height` never get here: they are read as raw pixels.)
 */
function rejectRawOptions(options: ImageOptions, what: string): void {
  for (const key of RAW_ONLY_OPTIONS) {
    if (options[key] !== undefined) {
      throw new TypeError(
        `Cannot create an image from ${what} as 'options.${key}' applies to raw pixels only: current value is ${
          describe(options[key])
        } (give width and height to read bytes as raw pixels)`,
      );
    }
  }
}

/**
 * Decides how values become bytes and checks every value against it,
 * naming the first bad one with `where(index)`. Returns `undefined` for
 * bytes taken as they are.
 */
function valueMap(
  values: ArrayLike<number>,
  options: ImageOptions,
  integer: boolean,
  where: (index: number) => string,
): ValueMap | undefined {
  const { range, normalize } = options;
  if (range !== undefined && normalize !== undefined) {
    throw new TypeError(
      "Cannot create an image as 'range' and 'normalize' exclude each other: pass one of them",
    );
  }
  if (normalize !== undefined) {
    if (normalize !== "minmax") {
      throw new TypeError(
        `Cannot create an image as 'normalize' must be "minmax": current value is ${
          describe(normalize)
        }`,
      );
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (!Number.isFinite(value)) throw notFinite(value, where(i));
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
    return { lo, hi, scale: hi > lo ? 255 / (hi - lo) : 0 };
  }
  if (range !== undefined) {
    if (
      !Array.isArray(range) || range.length !== 2 ||
      typeof range[0] !== "number" || typeof range[1] !== "number"
    ) {
      throw new TypeError(
        `Cannot create an image as 'range' must be a pair [lo, hi] of numbers: current value is ${
          describe(range)
        }`,
      );
    }
    const [lo, hi] = range;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
      throw new RangeError(
        `Cannot create an image as 'range' must be finite with lo < hi: current value is [${lo}, ${hi}]`,
      );
    }
    checkWithin(values, lo, hi, where, "");
    return { lo, hi, scale: 255 / (hi - lo) };
  }
  if (integer) return undefined;
  checkWithin(
    values,
    0,
    1,
    where,
    ` (pass 'range', such as [0, 255], or normalize: "minmax" for values in another range)`,
  );
  return { lo: 0, hi: 1, scale: 255 };
}

function checkWithin(
  values: ArrayLike<number>,
  lo: number,
  hi: number,
  where: (index: number) => string,
  hint: string,
): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value >= lo && value <= hi) continue;
    if (!Number.isFinite(value)) throw notFinite(value, where(i));
    throw new RangeError(
      `Cannot create an image as pixel values must lie in [${lo}, ${hi}]: value ${value} at ${
        where(i)
      } is outside${hint}`,
    );
  }
}

function notFinite(value: number, at: string): RangeError {
  return new RangeError(
    `Cannot create an image as pixel values must be finite numbers: value ${value} at ${at} is not`,
  );
}

/** The path `[i][j][k]` of flat index `index` in nested arrays of shape `dims`. */
function nestedPath(index: number, dims: readonly number[]): string {
  let path = "";
  let rest = index;
  for (let d = dims.length - 1; d >= 0; d--) {
    path = `[${rest % dims[d]}]${path}`;
    rest = Math.floor(rest / dims[d]);
  }
  return path;
}

/** Converts checked values to 8-bit HWC pixels. */
function toBytes(
  values: ArrayLike<number>,
  shape: {
    width: number;
    height: number;
    channels: number;
    layout: ImageLayout;
    map: ValueMap | undefined;
  },
): Uint8Array {
  const { width, height, channels, layout, map } = shape;
  const length = width * height * channels;
  const out = new Uint8Array(length);
  const planar = layout === "CHW" && channels > 1;
  if (map === undefined && !planar) {
    out.set(values);
    return out;
  }
  const lo = map?.lo ?? 0;
  const scale = map?.scale ?? 1;
  if (!planar) {
    for (let i = 0; i < length; i++) {
      out[i] = Math.min(255, Math.round((values[i] - lo) * scale));
    }
    return out;
  }
  const area = width * height;
  for (let c = 0; c < channels; c++) {
    const plane = c * area;
    for (let p = 0; p < area; p++) {
      out[p * channels + c] = Math.min(
        255,
        Math.round((values[plane + p] - lo) * scale),
      );
    }
  }
  return out;
}

/** Recognises PNG, JPEG, GIF and WebP files by their first bytes. */
function sniffFormat(bytes: Uint8Array): EncodedFormat | undefined {
  if (
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 &&
    bytes[2] === 0x4e && bytes[3] === 0x47 && bytes[4] === 0x0d &&
    bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a
  ) {
    return PNG_FORMAT;
  }
  if (
    bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 &&
    bytes[2] === 0xff
  ) {
    return JPEG_FORMAT;
  }
  if (
    bytes.length >= 6 && ascii(bytes, 0, 4) === "GIF8" &&
    (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61
  ) {
    return GIF_FORMAT;
  }
  if (
    bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" &&
    ascii(bytes, 8, 4) === "WEBP"
  ) {
    return WEBP_FORMAT;
  }
  return undefined;
}

/** Reads the size (and channels where the header tells) of an encoded file. */
function readHeader(bytes: Uint8Array, format: EncodedFormat): HeaderInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.length;
  switch (format) {
    case PNG_FORMAT: {
      if (length < 26 || ascii(bytes, 12, 4) !== "IHDR") return {};
      const channels = [1, undefined, 3, undefined, 2, undefined, 4][
        bytes[25]
      ];
      return {
        width: view.getUint32(16),
        height: view.getUint32(20),
        ...(channels === undefined ? {} : { channels }),
      };
    }
    case GIF_FORMAT:
      if (length < 10) return {};
      return {
        width: view.getUint16(6, true),
        height: view.getUint16(8, true),
      };
    case WEBP_FORMAT:
      return readWebpHeader(bytes, view);
    default:
      return readJpegHeader(bytes, view);
  }
}

function readWebpHeader(bytes: Uint8Array, view: DataView): HeaderInfo {
  if (bytes.length < 30) return {};
  switch (ascii(bytes, 12, 4)) {
    case "VP8 ":
      if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) {
        return {};
      }
      return {
        width: view.getUint16(26, true) & 0x3fff,
        height: view.getUint16(28, true) & 0x3fff,
      };
    case "VP8L": {
      if (bytes[20] !== 0x2f) return {};
      const bits = view.getUint32(21, true);
      return {
        width: (bits & 0x3fff) + 1,
        height: ((bits >>> 14) & 0x3fff) + 1,
      };
    }
    case "VP8X":
      return { width: uint24(bytes, 24) + 1, height: uint24(bytes, 27) + 1 };
    default:
      return {};
  }
}

/** Walks the JPEG markers up to the first start-of-frame segment. */
function readJpegHeader(bytes: Uint8Array, view: DataView): HeaderInfo {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return {};
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2; // markers without a segment
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return {}; // end, or scan data
    const size = view.getUint16(i + 2);
    if (size < 2) return {};
    const startOfFrame = marker >= 0xc0 && marker <= 0xcf &&
      marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (startOfFrame) {
      if (i + 10 > bytes.length) return {};
      const height = view.getUint16(i + 5);
      const width = view.getUint16(i + 7);
      if (width === 0 || height === 0) return {};
      return { width, height, channels: bytes[i + 9] };
    }
    i += 2 + size;
  }
  return {};
}

function uint24(bytes: Uint8Array, offset: number): number {
  return bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16);
}

function ascii(bytes: Uint8Array, start: number, count: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + count));
}

function hexPrefix(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(none: the Blob is empty)";
  return [...bytes.subarray(0, 8)].map((byte) =>
    byte.toString(16).padStart(2, "0")
  ).join(" ");
}

function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}
