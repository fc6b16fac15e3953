// This module is browser compatible.

/**
 * Typed media values for `logger.log()`: images, audio, text, HTML, model
 * graphs, tables, histograms, confusion matrices and curves, with pure
 * TypeScript encoders (PNG through `CompressionStream`, WAV). Constructors
 * check and copy their input at once; encoding happens off the logging hot
 * path, once for every backend.
 *
 * @example
 * ```ts
 * import { createLogger } from "@uetai/uetai";
 * import { Audio, Histogram, Image, Text } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const logger = createLogger({ backend: "memory" });
 * const pixels = new Float32Array(8 * 8).map((_, i) => i / 63); // floats in [0, 1]
 * logger.log({
 *   digit: new Image(pixels, { width: 8, height: 8, channels: 1, caption: "a gradient" }),
 *   tone: new Audio(new Float32Array(800).map((_, i) => Math.sin(i / 4)), { sampleRate: 8000 }),
 *   weights: new Histogram({ values: [0.1, 0.2, 0.2, 0.9], bins: 4 }),
 *   note: new Text("hello"),
 * }, { step: 1 });
 * const report = await logger.end();
 * assert.equal(report.ok, true);
 * ```
 *
 * @module
 */
export {
  type EncodedMedia,
  isMediaValue,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
export {
  Image,
  type ImageDataLike,
  type ImageInput,
  type ImageLayout,
  type ImageOptions,
  type ImagePixels,
} from "./image.ts";
export { encodePng, type EncodePngOptions } from "./png.ts";
export {
  Audio,
  type AudioChannel,
  type AudioFile,
  type AudioFileOptions,
  type AudioOptions,
  type AudioSamples,
} from "./audio.ts";
export {
  countClippedSamples,
  encodeWav,
  type EncodeWavOptions,
  type WavSampleFormat,
} from "./wav.ts";
export * from "./text.ts";
export * from "./html.ts";
export * from "./graph.ts";
export * from "./table.ts";
export * from "./histogram.ts";
export * from "./confusion_matrix.ts";
export * from "./curve.ts";
