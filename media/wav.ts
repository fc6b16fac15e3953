// This module is browser compatible.
import { describeValue } from "./_json.ts";

/**
 * How {@linkcode encodeWav} stores each sample: `"pcm16"` is 16-bit signed
 * integer PCM (WAVE format 1), `"float32"` is 32-bit IEEE float (WAVE
 * format 3).
 */
export type WavSampleFormat = "pcm16" | "float32";

/** Options of {@linkcode encodeWav}. */
export interface EncodeWavOptions {
  /**
   * Samples per second of each channel: a positive integer, typically 8000
   * to 384000.
   */
  sampleRate: number;
  /**
   * How each sample is stored.
   * @default {"pcm16"}
   */
  format?: WavSampleFormat;
}

const MAX_UINT16 = 0xffff;

const MAX_UINT32 = 0xffff_ffff;
const PCM16_SCALE = 32767;

/**
 * Encodes channels of samples as a RIFF/WAVE file: a `fmt ` chunk, for
 * `"float32"` the `fact` chunk that non-PCM formats require, and a `data`
 * chunk with the channels interleaved frame by frame, all little-endian.
 *
 * Clipping policy for `"pcm16"`: each sample is clamped to [-1, 1], then
 * scaled by 32767 and rounded to the nearest integer, halves away from zero,
 * so the output is symmetric and lies in [-32767, 32767] (-32768 is never
 * written). Count the samples this clamps with
 * {@linkcode countClippedSamples} to report them. `"float32"` stores the
 * samples unchanged, so nothing is clipped.
 *
 * @param channels One `Float32Array` per channel, all of the same length
 * (zero-length channels give a valid file with no frames).
 * @param options The sample rate and the sample format.
 * @returns The bytes of the WAV file (backed by a plain `ArrayBuffer`, so
 * they can go to `Blob`, `fetch` or `crypto.subtle` as they are).
 * @throws {TypeError} When `channels` is not a non-empty array of
 * `Float32Array`s, `sampleRate` is not a number or `format` is unknown.
 * @throws {RangeError} When the channels differ in length, a sample is NaN
 * or infinite (its channel and index are named), the sample rate is not a
 * positive integer, or the file would exceed the WAV size limits.
 *
 * @example Encode one second of a 440 Hz tone
 * ```ts
 * import { encodeWav } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const tone = new Float32Array(8000);
 * for (let i = 0; i < tone.length; i++) tone[i] = Math.sin(2 * Math.PI * 440 * i / 8000);
 * const bytes = encodeWav([tone], { sampleRate: 8000 });
 * assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "RIFF");
 * assert.equal(bytes.length, 44 + 8000 * 2);
 * ```
 *
 * @example Stereo as 32-bit float
 * ```ts
 * import { encodeWav } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const left = new Float32Array([0.5, 1.5]);
 * const right = new Float32Array([-0.25, 0]);
 * const bytes = encodeWav([left, right], { sampleRate: 48000, format: "float32" });
 * const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
 * assert.equal(view.getUint16(20, true), 3); // IEEE float
 * assert.equal(view.getFloat32(58 + 4, true), -0.25); // frame 0, right channel
 * ```
 */
export function encodeWav(
  channels: readonly Float32Array[],
  options: EncodeWavOptions,
): Uint8Array<ArrayBuffer> {
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new TypeError(
      `Cannot encode WAV as 'channels' must be a non-empty array of Float32Array: current value is ${
        describeValue(channels)
      }`,
    );
  }
  const channelCount = channels.length;
  for (let c = 0; c < channelCount; c++) {
    if (!isFloat32Array(channels[c])) {
      throw new TypeError(
        `Cannot encode WAV as each channel must be a Float32Array: channel ${c} is ${
          describeValue(channels[c])
        }`,
      );
    }
  }
  const frameCount = channels[0].length;
  for (let c = 1; c < channelCount; c++) {
    if (channels[c].length !== frameCount) {
      throw new RangeError(
        `Cannot encode WAV as all channels must have the same length: channel 0 has ${frameCount} samples, channel ${c} has ${
          channels[c].length
        }`,
      );
    }
  }
  const sampleRate = checkSampleRate(options?.sampleRate, "encode WAV");

  const format = options.format ?? "pcm16";
  if (format !== "pcm16" && format !== "float32") {
    throw new TypeError(
      `Cannot encode WAV as 'format' must be "pcm16" or "float32": current value is ${
        describeValue(format)
      }`,
    );
  }

  const isFloat = format === "float32";
  const bytesPerSample = isFloat ? 4 : 2;
  const blockAlign = channelCount * bytesPerSample;
  const byteRate = sampleRate * blockAlign;
  const dataBytes = frameCount * blockAlign;
  // fmt is 16 bytes for PCM; non-PCM formats add cbSize (18) and a fact chunk.
  const fmtBytes = isFloat ? 18 : 16;
  const factChunkBytes = isFloat ? 8 + 4 : 0;
  const headerBytes = 12 + 8 + fmtBytes + factChunkBytes + 8;
  const riffBytes = headerBytes - 8 + dataBytes;
  if (
    blockAlign > MAX_UINT16 || byteRate > MAX_UINT32 || riffBytes > MAX_UINT32
  ) {
    throw new RangeError(
      `Cannot encode WAV as the file exceeds the format's limits: ${channelCount} channels of ${frameCount} samples at ${sampleRate} Hz as ${format}`,
    );
  }

  const bytes = new Uint8Array(headerBytes + dataBytes);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  function ascii(text: string): void {
    for (let i = 0; i < text.length; i++) {
      bytes[offset++] = text.charCodeAt(i);
    }
  }
  function u16(value: number): void {
    view.setUint16(offset, value, true);
    offset += 2;
  }
  function u32(value: number): void {
    view.setUint32(offset, value, true);
    offset += 4;
  }

  ascii("RIFF");
  u32(riffBytes);
  ascii("WAVE");
  ascii("fmt ");
  u32(fmtBytes);
  u16(isFloat ? 3 : 1); // WAVE_FORMAT_IEEE_FLOAT or WAVE_FORMAT_PCM
  u16(channelCount);
  u32(sampleRate);
  u32(byteRate);
  u16(blockAlign);
  u16(bytesPerSample * 8);
  if (isFloat) {
    u16(0); // cbSize: no extension
    ascii("fact");
    u32(4);
    u32(frameCount); // dwSampleLength: frames per channel
  }
  ascii("data");
  u32(dataBytes);

  for (let c = 0; c < channelCount; c++) {
    const samples = channels[c];
    let position = offset + c * bytesPerSample;
    for (let i = 0; i < frameCount; i++, position += blockAlign) {
      const sample = samples[i];
      if (!Number.isFinite(sample)) {
        throw new RangeError(
          `Cannot encode WAV as samples must be finite numbers: sample ${i} of channel ${c} is ${sample}`,
        );
      }
      if (isFloat) {
        view.setFloat32(position, sample, true);
      } else {
        const clamped = sample > 1 ? 1 : sample < -1 ? -1 : sample;
        const scaled = clamped * PCM16_SCALE;
        // Round half away from zero, so that -x encodes as the negation of x.
        const rounded = scaled < 0 ? -Math.round(-scaled) : Math.round(scaled);
        view.setInt16(position, rounded, true);
      }
    }
  }
  return bytes;
}

/**
 * Counts the samples that {@linkcode encodeWav}'s `"pcm16"` format clamps:
 * those above 1 or below -1 (NaN is not counted; the encoder rejects it).
 * Samples of exactly 1 or -1 are not clipped.
 *
 * @param channels One `Float32Array` per channel.
 * @returns How many samples, over all channels, lie outside [-1, 1].
 *
 * @example
 * ```ts
 * import { countClippedSamples } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const left = new Float32Array([0, 1, 1.5]);
 * const right = new Float32Array([-1, -2, 0.5]);
 * assert.equal(countClippedSamples([left, right]), 2);
 * ```
 */
export function countClippedSamples(
  channels: readonly Float32Array[],
): number {
  let clipped = 0;
  for (const samples of channels) {
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i];
      if (sample > 1 || sample < -1) clipped++;
    }
  }
  return clipped;
}

function isFloat32Array(value: unknown): value is Float32Array {
  return Object.prototype.toString.call(value) === "[object Float32Array]";
}

/**
 * Checks a sample rate: a positive integer that fits a WAV header. Shared by
 * `encodeWav` and `Audio` (not part of the public API).
 *
 * @param sampleRate The value given.
 * @param action What was being done, for the message: `"encode WAV"`.
 * @returns The sample rate.
 */
export function checkSampleRate(sampleRate: unknown, action: string): number {
  if (typeof sampleRate !== "number") {
    throw new TypeError(
      `Cannot ${action} as 'sampleRate' must be a number: current value is ${
        describeValue(sampleRate)
      }`,
    );
  }
  if (
    !Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > MAX_UINT32
  ) {
    throw new RangeError(
      `Cannot ${action} as 'sampleRate' must be a positive integer: current value is ${
        describeValue(sampleRate)
      }`,
    );
  }
  return sampleRate;
}
