// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import {
  checkSampleRate,
  countClippedSamples,
  encodeWav,
  type WavSampleFormat,
} from "./wav.ts";
import { describeValue } from "./_json.ts";

/** One channel of samples, nominally in [-1, 1]. */
export type AudioChannel = Float32Array | Float64Array | readonly number[];

/**
 * Samples given to {@linkcode Audio}: one channel (mono), or an array of
 * channels that all have the same length.
 */
export type AudioSamples = AudioChannel | readonly AudioChannel[];

/** An already-encoded audio file: the bytes of a WAV, MP3, OGG or FLAC file. */
export type AudioFile = Uint8Array | ArrayBuffer | Blob;

/** Options of {@linkcode Audio} built from samples. */
export interface AudioOptions {
  /**
   * Samples per second of each channel: a positive integer, typically 8000
   * to 384000.
   */
  sampleRate: number;
  /**
   * How the WAV file stores each sample. `"pcm16"` clamps samples to
   * [-1, 1] (the clamped ones are counted in `clippedSamples`); `"float32"`
   * keeps them as they are.
   * @default {"pcm16"}
   */
  format?: WavSampleFormat;
  /** A caption shown with the audio. */
  caption?: string;
}

/** Options of {@linkcode Audio} built from an encoded file. */
export interface AudioFileOptions {
  /**
   * Samples per second, as the caller declares it (the file is not
   * decoded): a positive integer. Reported in the metadata when given.
   */
  sampleRate?: number;
  /** A caption shown with the audio. */
  caption?: string;
}

/** The encoded formats {@linkcode Audio} recognises by their magic bytes. */
type AudioFileFormat = "wav" | "mp3" | "ogg" | "flac";

const FILE_TYPES: Readonly<
  Record<AudioFileFormat, { contentType: string; extension: string }>
> = {
  wav: { contentType: "audio/wav", extension: "wav" },
  mp3: { contentType: "audio/mpeg", extension: "mp3" },
  ogg: { contentType: "audio/ogg", extension: "ogg" },
  flac: { contentType: "audio/flac", extension: "flac" },
};

const MAX_UINT16 = 0xffff;
const MAX_UINT32 = 0xffff_ffff;

/**
 * Audio to log: samples that are encoded as a WAV file, or an encoded WAV,
 * MP3, OGG or FLAC file that is kept as it is.
 *
 * Samples are validated and copied at once, so changing the caller's arrays
 * later has no effect and `encode()` cannot fail. Encoded bytes are
 * recognised by their magic bytes (`RIFF....WAVE`, `ID3` or an MPEG audio
 * frame sync, `OggS`, `fLaC`) and copied; a `Blob` is immutable, so it is
 * kept and read, and recognised, by `encode()`.
 *
 * @example Log a tone as 16-bit PCM
 * ```ts
 * import { Audio } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const tone = new Float32Array(800);
 * for (let i = 0; i < tone.length; i++) tone[i] = Math.sin(2 * Math.PI * 440 * i / 8000);
 * const audio = new Audio(tone, { sampleRate: 8000, caption: "A4" });
 * const encoded = await audio.encode();
 * assert.equal(encoded.contentType, "audio/wav");
 * assert.equal(encoded.data.length, 44 + 800 * 2);
 * assert.deepEqual(encoded.metadata, {
 *   sampleRate: 8000,
 *   channels: 1,
 *   samples: 800,
 *   durationSeconds: 0.1,
 *   format: "pcm16",
 *   clippedSamples: 0,
 *   caption: "A4",
 * });
 * ```
 *
 * @example Stereo, with clipping reported
 * ```ts
 * import { Audio } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const audio = new Audio([[0, 1.5, -0.5], [0, -3, 0.25]], { sampleRate: 16000 });
 * assert.equal(audio.channelCount, 2);
 * assert.equal(audio.length, 3);
 * const { metadata } = await audio.encode();
 * assert.equal(metadata.clippedSamples, 2);
 * ```
 *
 * @example Keep an encoded file as it is
 * ```ts
 * import { Audio } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const flac = new Uint8Array([0x66, 0x4c, 0x61, 0x43, 0, 0, 0, 0x22]); // "fLaC" + a block header
 * const encoded = await new Audio(flac, { caption: "take 1" }).encode();
 * assert.equal(encoded.contentType, "audio/flac");
 * assert.equal(encoded.extension, "flac");
 * assert.deepEqual(encoded.data, flac);
 * ```
 *
 * @example Bad input is rejected at once, naming the value
 * ```ts
 * import { Audio } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * assert.throws(() => new Audio([0, NaN], { sampleRate: 8000 }), {
 *   name: "RangeError",
 *   message: "Cannot create Audio as samples must be finite numbers: sample 1 is NaN",
 * });
 * assert.throws(() => new Audio([0], { sampleRate: 44100.5 }), RangeError);
 * ```
 */
export class Audio implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** The kind of media: always `"audio"`. */
  readonly mediaType: "audio" = "audio";
  #channels: Float32Array[] | undefined;
  #bytes: Uint8Array | undefined;
  #blob: Blob | undefined;
  #sampleRate: number | undefined;
  #format: WavSampleFormat = "pcm16";
  #caption: string | undefined;

  /**
   * Creates audio from samples, to be encoded as a WAV file.
   *
   * @param samples One channel, or an array of channels of the same length;
   * samples must be finite numbers.
   * @param options The sample rate (required), the WAV sample format and a
   * caption.
   * @throws {TypeError} When `samples` is not an accepted type, a sample is
   * not a number, or an option has the wrong type.
   * @throws {RangeError} When there are no samples, a sample is NaN or
   * infinite, the channels differ in length, or the sample rate is not a
   * positive integer.
   */
  constructor(samples: AudioSamples, options: AudioOptions);
  /**
   * Creates audio from an encoded WAV, MP3, OGG or FLAC file, kept as it is.
   *
   * @param file The file's bytes.
   * @param options A caption, and the sample rate if the caller knows it.
   * @throws {TypeError} When the bytes are not a recognised audio file (for
   * a `Blob`, `encode()` rejects instead), or an option has the wrong type.
   * @throws {RangeError} When the file is empty or the sample rate is not a
   * positive integer.
   */
  constructor(file: AudioFile, options?: AudioFileOptions);
  constructor(
    input: AudioSamples | AudioFile,
    options?: AudioOptions | AudioFileOptions,
  ) {
    if (
      options !== undefined && (typeof options !== "object" || options === null)
    ) {
      throw new TypeError(
        `Cannot create Audio as 'options' must be an object: current value is ${
          describeValue(options)
        }`,
      );
    }
    const caption = options?.caption;
    if (caption !== undefined && typeof caption !== "string") {
      throw new TypeError(
        `Cannot create Audio as 'caption' must be a string: current value is ${
          describeValue(caption)
        }`,
      );
    }
    this.#caption = caption;

    const bytes = toFileBytes(input);
    if (bytes !== undefined) {
      if ((bytes instanceof Uint8Array ? bytes.length : bytes.size) === 0) {
        throw new RangeError(
          "Cannot create Audio as the file is empty: 0 bytes",
        );
      }
      if (options?.sampleRate !== undefined) {
        this.#sampleRate = checkSampleRate(options.sampleRate, "create Audio");
      }
      if (bytes instanceof Uint8Array) {
        sniffFile(bytes);
        this.#bytes = bytes;
      } else {
        this.#blob = bytes;
      }
      return;
    }

    if (options === undefined || options.sampleRate === undefined) {
      throw new TypeError(
        "Cannot create Audio from samples as 'sampleRate' is required: current value is undefined",
      );
    }
    const sampleRate = checkSampleRate(options.sampleRate, "create Audio");
    const format = (options as AudioOptions).format ?? "pcm16";
    if (format !== "pcm16" && format !== "float32") {
      throw new TypeError(
        `Cannot create Audio as 'format' must be "pcm16" or "float32": current value is ${
          describeValue(format)
        }`,
      );
    }
    const channels = toChannels(input);
    checkWavLimits(channels.length, channels[0].length, sampleRate, format);
    this.#channels = channels;
    this.#sampleRate = sampleRate;
    this.#format = format;
  }

  /**
   * Samples per second of each channel. For an encoded file, the rate given
   * in the options, if any (the file is not decoded).
   */
  get sampleRate(): number | undefined {
    return this.#sampleRate;
  }

  /** How many channels the samples have; `undefined` for an encoded file. */
  get channelCount(): number | undefined {
    return this.#channels?.length;
  }

  /** Samples per channel; `undefined` for an encoded file. */
  get length(): number | undefined {
    return this.#channels?.[0].length;
  }

  /** Bytes held: the copied samples, the encoded file, or the Blob's size. */
  get sizeHintBytes(): number {
    let bytes = this.#bytes?.byteLength ?? this.#blob?.size ?? 0;
    for (const channel of this.#channels ?? []) bytes += channel.byteLength;
    return bytes;
  }

  /** The caption, if any. */
  get caption(): string | undefined {
    return this.#caption;
  }

  /**
   * Encodes the audio. Samples become a WAV file whose metadata holds
   * `sampleRate`, `channels`, `samples` (per channel), `durationSeconds`,
   * `format`, `clippedSamples` (always 0 for `"float32"`) and `caption`. An
   * encoded file is returned as it is, with its own content type and
   * extension, and `sampleRate` and `caption` when they were given.
   *
   * @returns The bytes of one file and how to describe it.
   * @throws {TypeError} For a `Blob` that is not a recognised audio file.
   */
  async encode(): Promise<EncodedMedia> {
    const channels = this.#channels;
    if (channels !== undefined) {
      const sampleRate = this.#sampleRate as number;
      const metadata: Record<string, unknown> = {
        sampleRate,
        channels: channels.length,
        samples: channels[0].length,
        durationSeconds: channels[0].length / sampleRate,
        format: this.#format,
        clippedSamples: this.#format === "pcm16"
          ? countClippedSamples(channels)
          : 0,
      };
      if (this.#caption !== undefined) metadata.caption = this.#caption;
      return {
        mediaType: "audio",
        contentType: "audio/wav",
        extension: "wav",
        data: encodeWav(channels, { sampleRate, format: this.#format }),
        metadata,
      };
    }

    const data = this.#bytes !== undefined
      ? new Uint8Array(this.#bytes)
      : new Uint8Array(await (this.#blob as Blob).arrayBuffer());
    const { contentType, extension } = FILE_TYPES[sniffFile(data)];
    const metadata: Record<string, unknown> = {};
    if (this.#sampleRate !== undefined) metadata.sampleRate = this.#sampleRate;
    if (this.#caption !== undefined) metadata.caption = this.#caption;
    return { mediaType: "audio", contentType, extension, data, metadata };
  }
}

/** Copies the input when it is an encoded file; `undefined` for samples. */
function toFileBytes(input: unknown): Uint8Array | Blob | undefined {
  const tag = Object.prototype.toString.call(input);
  if (
    (typeof Blob !== "undefined" && input instanceof Blob) ||
    tag === "[object Blob]" || tag === "[object File]"
  ) {
    return input as Blob;
  }
  if (tag === "[object ArrayBuffer]") {
    return new Uint8Array((input as ArrayBuffer).slice(0));
  }
  // `new Uint8Array(view)` copies, even for subclasses such as Node's Buffer
  // whose `slice()` shares memory.
  if (tag === "[object Uint8Array]") return new Uint8Array(input as Uint8Array);
  return undefined;
}

/** Recognises an audio file by its magic bytes, or throws naming them. */
function sniffFile(bytes: Uint8Array): AudioFileFormat {
  const format = fileFormatOf(bytes);
  if (format === undefined) {
    const head = Array.from(
      bytes.subarray(0, 12),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join(" ");
    throw new TypeError(
      `Cannot create Audio as the bytes are not a WAV, MP3, OGG or FLAC file: they start with ${head}${
        bytes.length > 12 ? " ..." : ""
      } (${bytes.length} bytes)`,
    );
  }
  return format;
}

function fileFormatOf(bytes: Uint8Array): AudioFileFormat | undefined {
  if (startsWith(bytes, "RIFF") && startsWith(bytes, "WAVE", 8)) return "wav";
  if (startsWith(bytes, "OggS")) return "ogg";
  if (startsWith(bytes, "fLaC")) return "flac";
  if (startsWith(bytes, "ID3")) return "mp3";
  // An MPEG audio frame header: 11 sync bits, then a version other than
  // "reserved" (01), a layer other than "reserved" (00, which is AAC's ADTS),
  // a bitrate index other than 1111 and a sample rate index other than 11.
  if (
    bytes.length >= 4 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 &&
    ((bytes[1] >> 3) & 0b11) !== 0b01 && ((bytes[1] >> 1) & 0b11) !== 0b00 &&
    bytes[2] >> 4 !== 0b1111 && ((bytes[2] >> 2) & 0b11) !== 0b11
  ) {
    return "mp3";
  }
  return undefined;
}

function startsWith(bytes: Uint8Array, text: string, offset = 0): boolean {
  if (bytes.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** Validates and copies samples into one `Float32Array` per channel. */
function toChannels(input: unknown): Float32Array[] {
  if (isChannel(input) && !Array.isArray(input)) {
    return [toChannel(input, undefined)];
  }
  if (!Array.isArray(input)) {
    throw new TypeError(
      `Cannot create Audio as samples must be a Float32Array, a Float64Array, an array of numbers or an array of channels: current value is ${
        describeValue(input)
      }`,
    );
  }
  if (input.length === 0) {
    throw new RangeError("Cannot create Audio as it has no samples: 0 samples");
  }
  if (typeof input[0] === "number") return [toChannel(input, undefined)];

  for (let c = 0; c < input.length; c++) {
    if (!isChannel(input[c])) {
      throw new TypeError(
        `Cannot create Audio as each channel must be a Float32Array, a Float64Array or an array of numbers: channel ${c} is ${
          describeValue(input[c])
        }`,
      );
    }
  }
  const length = (input[0] as AudioChannel).length;
  for (let c = 1; c < input.length; c++) {
    const channelLength = (input[c] as AudioChannel).length;
    if (channelLength !== length) {
      throw new RangeError(
        `Cannot create Audio as all channels must have the same length: channel 0 has ${length} samples, channel ${c} has ${channelLength}`,
      );
    }
  }
  return input.map((channel, c) => toChannel(channel as AudioChannel, c));
}

function isChannel(value: unknown): value is AudioChannel {
  if (Array.isArray(value)) return true;
  const tag = Object.prototype.toString.call(value);
  return tag === "[object Float32Array]" || tag === "[object Float64Array]";
}

function toChannel(
  input: AudioChannel,
  channel: number | undefined,
): Float32Array {
  const where = (index: number): string =>
    channel === undefined
      ? `sample ${index}`
      : `sample ${index} of channel ${channel}`;
  if (input.length === 0) {
    throw new RangeError(
      channel === undefined
        ? "Cannot create Audio as it has no samples: 0 samples"
        : `Cannot create Audio as it has no samples: channel ${channel} has 0 samples`,
    );
  }
  const isArray = Array.isArray(input);
  // Copy first, then validate the copy: later changes to `input` cannot
  // reach it.
  const samples = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const value: unknown = input[i];
    if (isArray && typeof value !== "number") {
      throw new TypeError(
        `Cannot create Audio as samples must be numbers: ${where(i)} is ${
          describeValue(value)
        }`,
      );
    }
    samples[i] = value as number;
    if (!Number.isFinite(samples[i])) {
      throw new RangeError(
        Number.isFinite(value)
          ? `Cannot create Audio as samples must fit a 32-bit float: ${
            where(i)
          } is ${value}`
          : `Cannot create Audio as samples must be finite numbers: ${
            where(i)
          } is ${value}`,
      );
    }
  }
  return samples;
}

/** The WAV header's fields are 16 and 32 bits wide; see `encodeWav()`. */
function checkWavLimits(
  channelCount: number,
  length: number,
  sampleRate: number,
  format: WavSampleFormat,
): void {
  const bytesPerSample = format === "float32" ? 4 : 2;
  const blockAlign = channelCount * bytesPerSample;
  const headerBytes = format === "float32" ? 58 : 44;
  if (
    blockAlign > MAX_UINT16 || sampleRate * blockAlign > MAX_UINT32 ||
    headerBytes - 8 + length * blockAlign > MAX_UINT32
  ) {
    throw new RangeError(
      `Cannot create Audio as it exceeds the WAV format's limits: ${channelCount} channels of ${length} samples at ${sampleRate} Hz as ${format}`,
    );
  }
}
