// Audio and encodeWav(): round trips through an independent decoder
// (wavefile), golden bytes derived by hand from the WAV spec, clipping,
// sniffing of encoded files, and typed errors for bad input.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import wavefile from "wavefile";
import { Audio } from "../media/audio.ts";
import { countClippedSamples, encodeWav } from "../media/wav.ts";
import { isMediaValue, MEDIA_VALUE } from "../media/media_value.ts";

const { WaveFile } = wavefile;

// ---------------------------------------------------------------------------
// Helpers

/** What wavefile exposes of the `fmt ` and `fact` chunks (typed `object`). */
interface DecodedWav {
  fmt: {
    audioFormat: number;
    numChannels: number;
    sampleRate: number;
    byteRate: number;
    blockAlign: number;
    bitsPerSample: number;
  };
  fact: { chunkId: string; dwSampleLength: number };
  bitDepth: string;
  container: string;
  /** One Float64Array per channel, or the samples of a mono file. */
  channels: Float64Array[];
  interleaved: Float64Array;
}

function decode(bytes: Uint8Array): DecodedWav {
  const wav = new WaveFile(bytes);
  const numChannels = (wav.fmt as { numChannels: number }).numChannels;
  const planar = wav.getSamples(false) as unknown as
    | Float64Array
    | Float64Array[];
  return {
    fmt: wav.fmt as DecodedWav["fmt"],
    fact: wav.fact as DecodedWav["fact"],
    bitDepth: wav.bitDepth,
    container: wav.container,
    channels: numChannels === 1
      ? [planar as Float64Array]
      : planar as Float64Array[],
    interleaved: wav.getSamples(true),
  };
}

/** A deterministic test signal: a sine plus pseudo-random noise, in [-1, 1]. */
function signal(length: number, seed: number): Float32Array {
  const samples = new Float32Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const noise = state / 2147483648 * 2 - 1;
    samples[i] = 0.7 * Math.sin(2 * Math.PI * 440 * i / 8000) + 0.3 * noise;
  }
  return samples;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function ascii(text: string): number[] {
  return Array.from(text, (char) => char.charCodeAt(0));
}

const PCM16_TOLERANCE = 1 / 32768;

// ---------------------------------------------------------------------------

describe("encodeWav()", () => {
  it("encodeWav() writes pcm16 that wavefile decodes within 1/32768", () => {
    const samples = signal(2205, 7);
    const bytes = encodeWav([samples], { sampleRate: 22050 });
    const wav = decode(bytes);
    assert.equal(wav.container, "RIFF");
    assert.equal(wav.fmt.audioFormat, 1);
    assert.equal(wav.fmt.numChannels, 1);
    assert.equal(wav.fmt.sampleRate, 22050);
    assert.equal(wav.fmt.bitsPerSample, 16);
    assert.equal(wav.fmt.blockAlign, 2);
    assert.equal(wav.fmt.byteRate, 22050 * 2);
    assert.equal(wav.bitDepth, "16");
    assert.equal(bytes.length, 44 + samples.length * 2);
    const decoded = wav.channels[0];
    assert.equal(decoded.length, samples.length);
    for (let i = 0; i < samples.length; i++) {
      const error = Math.abs(decoded[i] / 32767 - samples[i]);
      assert.ok(error <= PCM16_TOLERANCE, `sample ${i} is off by ${error}`);
    }
  });

  it("encodeWav() writes float32 with a fact chunk that wavefile decodes exactly", () => {
    const samples = signal(1000, 3);
    samples[10] = 1.75; // float keeps values outside [-1, 1]
    samples[11] = -3;
    samples[12] = 1e-30;
    const bytes = encodeWav([samples], {
      sampleRate: 96000,
      format: "float32",
    });
    const wav = decode(bytes);
    assert.equal(wav.fmt.audioFormat, 3);
    assert.equal(wav.fmt.bitsPerSample, 32);
    assert.equal(wav.fmt.sampleRate, 96000);
    assert.equal(wav.fmt.blockAlign, 4);
    assert.equal(wav.fmt.byteRate, 96000 * 4);
    assert.equal(wav.bitDepth, "32f");
    assert.equal(wav.fact.chunkId, "fact");
    assert.equal(wav.fact.dwSampleLength, 1000);
    assert.equal(bytes.length, 58 + samples.length * 4);
    assert.deepEqual(Array.from(wav.channels[0]), Array.from(samples));
  });

  it("encodeWav() interleaves stereo frame by frame", () => {
    const left = new Float32Array([0.1, 0.2, 0.3, 0.4]);
    const right = new Float32Array([-0.1, -0.2, -0.3, -0.4]);
    const bytes = encodeWav([left, right], {
      sampleRate: 44100,
      format: "float32",
    });
    const wav = decode(bytes);
    assert.equal(wav.fmt.numChannels, 2);
    assert.equal(wav.fmt.blockAlign, 8);
    assert.equal(wav.fmt.byteRate, 44100 * 8);
    assert.deepEqual(Array.from(wav.channels[0]), Array.from(left));
    assert.deepEqual(Array.from(wav.channels[1]), Array.from(right));
    assert.deepEqual(
      Array.from(wav.interleaved),
      [0, 1, 2, 3].flatMap((i) => [left[i], right[i]]),
    );
    // And in the raw bytes: L0 R0 L1 R1 ... after the 58-byte header.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = 0; i < 4; i++) {
      assert.equal(view.getFloat32(58 + i * 8, true), left[i]);
      assert.equal(view.getFloat32(58 + i * 8 + 4, true), right[i]);
    }
  });

  it("encodeWav() round-trips pcm16 stereo and 3 channels through wavefile", () => {
    for (const count of [2, 3]) {
      const channels = Array.from(
        { length: count },
        (_, c) => signal(500, 11 + c),
      );
      const wav = decode(encodeWav(channels, { sampleRate: 48000 }));
      assert.equal(wav.fmt.numChannels, count);
      assert.equal(wav.fmt.blockAlign, count * 2);
      for (let c = 0; c < count; c++) {
        for (let i = 0; i < 500; i++) {
          const error = Math.abs(wav.channels[c][i] / 32767 - channels[c][i]);
          assert.ok(error <= PCM16_TOLERANCE, `channel ${c} sample ${i}`);
        }
      }
    }
  });

  it("encodeWav() matches hand-made golden bytes for pcm16 mono", () => {
    const samples = new Float32Array([0, 0.5, -0.5, 1, -1, 2]);
    const bytes = encodeWav([samples], { sampleRate: 8000 });
    assert.equal(
      hex(bytes),
      [
        "52494646", // "RIFF"
        "30000000", // RIFF size: 36 + 12
        "57415645", // "WAVE"
        "666d7420", // "fmt "
        "10000000", // fmt size 16
        "0100", // PCM
        "0100", // 1 channel
        "401f0000", // 8000 Hz
        "803e0000", // 16000 bytes per second
        "0200", // block align
        "1000", // 16 bits
        "64617461", // "data"
        "0c000000", // 12 bytes
        "0000", // 0
        "0040", // 0.5 -> 16383.5 -> 16384 (halves away from zero)
        "00c0", // -0.5 -> -16384
        "ff7f", // 1 -> 32767
        "0180", // -1 -> -32767
        "ff7f", // 2 -> clamped to 32767
      ].join(""),
    );
  });

  it("encodeWav() matches hand-made golden bytes for float32 stereo", async () => {
    const left = new Float32Array([0.5, 1]);
    const right = new Float32Array([-0.25, 0]);
    const bytes = encodeWav([left, right], {
      sampleRate: 8000,
      format: "float32",
    });
    const expected = [
      "52494646", // "RIFF"
      "42000000", // RIFF size: 74 - 8
      "57415645", // "WAVE"
      "666d7420", // "fmt "
      "12000000", // fmt size 18
      "0300", // IEEE float
      "0200", // 2 channels
      "401f0000", // 8000 Hz
      "00fa0000", // 64000 bytes per second
      "0800", // block align
      "2000", // 32 bits
      "0000", // cbSize
      "66616374", // "fact"
      "04000000", // fact size
      "02000000", // 2 frames
      "64617461", // "data"
      "10000000", // 16 bytes
      "0000003f", // L0 0.5
      "000080be", // R0 -0.25
      "0000803f", // L1 1
      "00000000", // R1 0
    ].join("");
    assert.equal(hex(bytes), expected);
    // The same check through SHA-256, as a fixture would store it.
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", bytes),
    );
    const expectedBytes = new Uint8Array(
      expected.match(/../g)!.map((pair) => parseInt(pair, 16)),
    );
    const expectedDigest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", expectedBytes),
    );
    assert.equal(hex(digest), hex(expectedDigest));
  });

  it("encodeWav() clamps pcm16 to ±32767 and countClippedSamples() counts the clamped samples", () => {
    const left = new Float32Array([1.5, -1.5, 1, -1, 0.999, 100]);
    const right = new Float32Array([0, -2, 0, 0, 0, 0]);
    assert.equal(countClippedSamples([left, right]), 4);
    const wav = decode(encodeWav([left, right], { sampleRate: 8000 }));
    assert.deepEqual(Array.from(wav.channels[0]), [
      32767,
      -32767,
      32767,
      -32767,
      Math.round(0.999 * 32767),
      32767,
    ]);
    assert.equal(wav.channels[1][1], -32767);
    assert.equal(countClippedSamples([new Float32Array([1, -1, 0])]), 0);
  });

  it("encodeWav() rounds symmetrically, so -x encodes as the negation of x", () => {
    const values = Array.from({ length: 200 }, (_, i) => (i + 0.5) / 32767);
    const positive = decode(
      encodeWav([new Float32Array(values)], { sampleRate: 8000 }),
    );
    const negative = decode(
      encodeWav([new Float32Array(values.map((v) => -v))], {
        sampleRate: 8000,
      }),
    );
    for (let i = 0; i < values.length; i++) {
      // `+ 0` turns the -0 of the negated zero into 0.
      assert.equal(negative.channels[0][i], -positive.channels[0][i] + 0);
    }
  });

  it("encodeWav() writes a valid file for zero-length channels", () => {
    const bytes = encodeWav([new Float32Array(0)], { sampleRate: 8000 });
    assert.equal(bytes.length, 44);
    assert.equal(decode(bytes).channels[0].length, 0);
  });

  it("encodeWav() rejects bad input with typed errors naming the value", () => {
    const ok = new Float32Array([0, 0.5]);
    assert.throws(() => encodeWav([], { sampleRate: 8000 }), {
      name: "TypeError",
      message: /'channels' must be a non-empty array .*an array of length 0/,
    });
    assert.throws(
      () =>
        encodeWav([ok, new Float64Array(2) as unknown as Float32Array], {
          sampleRate: 8000,
        }),
      { name: "TypeError", message: /channel 1 is Float64Array/ },
    );
    assert.throws(
      () => encodeWav([ok, new Float32Array(3)], { sampleRate: 8000 }),
      {
        name: "RangeError",
        message: /channel 0 has 2 samples, channel 1 has 3/,
      },
    );
    assert.throws(
      () => encodeWav([ok, new Float32Array([0, NaN])], { sampleRate: 8000 }),
      { name: "RangeError", message: /sample 1 of channel 1 is NaN/ },
    );
    assert.throws(
      () =>
        encodeWav([new Float32Array([Infinity])], {
          sampleRate: 8000,
          format: "float32",
        }),
      { name: "RangeError", message: /sample 0 of channel 0 is Infinity/ },
    );
    for (const sampleRate of [0, -8000, 44100.5, NaN, Infinity]) {
      assert.throws(() => encodeWav([ok], { sampleRate }), {
        name: "RangeError",
        message: new RegExp(`'sampleRate'.*current value is ${sampleRate}$`),
      });
    }
    assert.throws(
      () => encodeWav([ok], { sampleRate: "8000" as unknown as number }),
      { name: "TypeError", message: /current value is "8000"/ },
    );
    assert.throws(
      () =>
        encodeWav([ok], {
          sampleRate: 8000,
          format: "mp3" as unknown as "pcm16",
        }),
      { name: "TypeError", message: /'format'.*current value is "mp3"/ },
    );
    assert.throws(
      () => encodeWav([ok], { sampleRate: 0xffff_ffff }),
      { name: "RangeError", message: /exceeds the format's limits/ },
    );
  });
});

// ---------------------------------------------------------------------------

describe("Audio", () => {
  it("Audio is a media value of type audio", () => {
    const audio = new Audio([0], { sampleRate: 8000 });
    assert.equal(audio.mediaType, "audio");
    assert.equal(audio[MEDIA_VALUE], true);
    assert.ok(isMediaValue(audio));
  });

  it("Audio.encode() returns a pcm16 WAV with its metadata", async () => {
    const samples = signal(4000, 5);
    const audio = new Audio(samples, { sampleRate: 8000, caption: "noise" });
    assert.equal(audio.sampleRate, 8000);
    assert.equal(audio.channelCount, 1);
    assert.equal(audio.length, 4000);
    assert.equal(audio.caption, "noise");
    const encoded = await audio.encode();
    assert.equal(encoded.mediaType, "audio");
    assert.equal(encoded.contentType, "audio/wav");
    assert.equal(encoded.extension, "wav");
    assert.deepEqual(encoded.metadata, {
      sampleRate: 8000,
      channels: 1,
      samples: 4000,
      durationSeconds: 0.5,
      format: "pcm16",
      clippedSamples: 0,
      caption: "noise",
    });
    assert.deepEqual(
      encoded.data,
      encodeWav([samples], { sampleRate: 8000 }),
    );
    const wav = decode(encoded.data);
    assert.equal(wav.fmt.sampleRate, 8000);
    assert.equal(wav.fmt.bitsPerSample, 16);
    for (let i = 0; i < samples.length; i++) {
      assert.ok(
        Math.abs(wav.channels[0][i] / 32767 - samples[i]) <= PCM16_TOLERANCE,
      );
    }
  });

  it("Audio.encode() omits the caption when none was given", async () => {
    const { metadata } = await new Audio([0, 0.5], { sampleRate: 16000 })
      .encode();
    assert.equal("caption" in metadata, false);
    assert.equal(metadata.durationSeconds, 2 / 16000);
  });

  it("Audio.encode() writes float32 exactly and reports no clipping", async () => {
    const left = signal(300, 1);
    const right = signal(300, 2);
    left[0] = 2.5;
    const audio = new Audio([left, right], {
      sampleRate: 44100,
      format: "float32",
    });
    const encoded = await audio.encode();
    assert.equal(encoded.metadata.format, "float32");
    assert.equal(encoded.metadata.clippedSamples, 0);
    assert.equal(encoded.metadata.channels, 2);
    const wav = decode(encoded.data);
    assert.equal(wav.fmt.audioFormat, 3);
    assert.equal(wav.fmt.numChannels, 2);
    assert.equal(wav.fmt.bitsPerSample, 32);
    assert.deepEqual(Array.from(wav.channels[0]), Array.from(left));
    assert.deepEqual(Array.from(wav.channels[1]), Array.from(right));
  });

  it("Audio.encode() counts clipped pcm16 samples over all channels", async () => {
    const audio = new Audio([[0, 1.5, -0.5, 1], [-1, -3, 0.25, 7]], {
      sampleRate: 8000,
    });
    const encoded = await audio.encode();
    assert.equal(encoded.metadata.clippedSamples, 3);
    const wav = decode(encoded.data);
    assert.deepEqual(Array.from(wav.interleaved), [
      0,
      -32767,
      32767,
      -32767,
      -16384,
      8192,
      32767,
      32767,
    ]);
  });

  it("Audio accepts Float64Array, number[] and mixed channels, rounded to float32", async () => {
    const values = [0.1, -0.2, 1 / 3];
    const expected = values.map(Math.fround);
    for (const input of [new Float64Array(values), values]) {
      const encoded = await new Audio(input, {
        sampleRate: 8000,
        format: "float32",
      }).encode();
      assert.deepEqual(Array.from(decode(encoded.data).channels[0]), expected);
    }
    const mixed = new Audio(
      [new Float32Array(values), new Float64Array(values), values],
      { sampleRate: 8000, format: "float32" },
    );
    assert.equal(mixed.channelCount, 3);
    const wav = decode((await mixed.encode()).data);
    for (let c = 0; c < 3; c++) {
      assert.deepEqual(Array.from(wav.channels[c]), expected);
    }
  });

  it("Audio accepts any positive integer sample rate", () => {
    for (const sampleRate of [1000, 8000, 44100, 384000]) {
      assert.equal(new Audio([0], { sampleRate }).sampleRate, sampleRate);
    }
  });

  it("Audio ignores changes to the caller's samples after construction", async () => {
    const float32 = new Float32Array([0.1, 0.2]);
    const float64 = new Float64Array([0.1, 0.2]);
    const numbers = [0.1, 0.2];
    const left = [0.1, 0.2];
    const channels = [left, new Float32Array([0.3, 0.4])];
    const audios = [float32, float64, numbers].map((input) =>
      new Audio(input, { sampleRate: 8000, format: "float32" })
    );
    const stereo = new Audio(channels, { sampleRate: 8000, format: "float32" });
    const before = await Promise.all(
      [...audios, stereo].map(async (audio) =>
        hex((await audio.encode()).data)
      ),
    );

    float32[0] = NaN;
    float64[1] = 9;
    numbers.push(0.5);
    numbers[0] = -1;
    left[0] = 5;
    channels[1][1] = 0;
    channels.push([0, 0]);

    const after = await Promise.all(
      [...audios, stereo].map(async (audio) =>
        hex((await audio.encode()).data)
      ),
    );
    assert.deepEqual(after, before);
    assert.equal(stereo.channelCount, 2);
    assert.equal(audios[2].length, 2);
  });

  it("Audio ignores changes to the caller's bytes and to returned data", async () => {
    const bytes = new Uint8Array([...ascii("OggS"), 0, 2, 0, 0]);
    const buffer = bytes.slice().buffer;
    const fromBytes = new Audio(bytes);
    const fromBuffer = new Audio(buffer);
    bytes.fill(0);
    new Uint8Array(buffer).fill(0);
    for (const audio of [fromBytes, fromBuffer]) {
      const first = await audio.encode();
      assert.deepEqual(Array.from(first.data), [...ascii("OggS"), 0, 2, 0, 0]);
      first.data.fill(0);
      const second = await audio.encode();
      assert.deepEqual(Array.from(second.data.subarray(0, 4)), ascii("OggS"));
    }
    const samples = new Audio([0.5], { sampleRate: 8000 });
    (await samples.encode()).data.fill(0);
    assert.equal(hex((await samples.encode()).data.subarray(44)), "0040");
  });

  it("Audio rejects empty audio with a RangeError", () => {
    const inputs: unknown[] = [
      new Float32Array(0),
      new Float64Array(0),
      [],
      [[]],
      [new Float32Array(0), new Float32Array(0)],
    ];
    for (const input of inputs) {
      assert.throws(
        () => new Audio(input as Float32Array, { sampleRate: 8000 }),
        { name: "RangeError", message: /has no samples/ },
      );
    }
    assert.throws(() => new Audio(new Uint8Array(0)), {
      name: "RangeError",
      message: /the file is empty: 0 bytes/,
    });
    assert.throws(() => new Audio(new ArrayBuffer(0)), RangeError);
    assert.throws(() => new Audio(new Blob([])), RangeError);
  });

  it("Audio rejects NaN and Infinity naming the first bad index", () => {
    const cases: [unknown, RegExp][] = [
      [[0, 0.1, NaN, NaN], /: sample 2 is NaN$/],
      [new Float32Array([0, Infinity]), /: sample 1 is Infinity$/],
      [new Float64Array([-Infinity]), /: sample 0 is -Infinity$/],
      [[[0, 0], [0, NaN]], /: sample 1 of channel 1 is NaN$/],
      [
        [new Float32Array(3), new Float64Array([0, 0, Infinity])],
        /: sample 2 of channel 1 is Infinity$/,
      ],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => new Audio(input as number[], { sampleRate: 8000 }),
        { name: "RangeError", message },
      );
    }
    assert.throws(
      () => new Audio(new Float64Array([0, 1e39]), { sampleRate: 8000 }),
      {
        name: "RangeError",
        message: /must fit a 32-bit float: sample 1 is 1e\+39$/,
      },
    );
  });

  it("Audio rejects channels of different lengths naming both", () => {
    assert.throws(
      () => new Audio([[0, 0, 0], [0, 0], [0, 0, 0]], { sampleRate: 8000 }),
      {
        name: "RangeError",
        message: /channel 0 has 3 samples, channel 1 has 2$/,
      },
    );
  });

  it("Audio rejects a bad sample rate naming the value", () => {
    for (const sampleRate of [0, -8000, 44100.5, NaN, Infinity, 2 ** 33]) {
      assert.throws(() => new Audio([0], { sampleRate }), {
        name: "RangeError",
        message: new RegExp(
          `'sampleRate' must be a positive integer: current value is ${sampleRate}$`,
        ),
      });
    }
    assert.throws(
      () => new Audio([0], { sampleRate: "44100" as unknown as number }),
      { name: "TypeError", message: /current value is "44100"$/ },
    );
    assert.throws(
      () => new Audio([0], {} as { sampleRate: number }),
      { name: "TypeError", message: /'sampleRate' is required/ },
    );
    assert.throws(
      () => new Audio([0], undefined as unknown as { sampleRate: number }),
      { name: "TypeError", message: /'sampleRate' is required/ },
    );
    // A declared rate for an encoded file is validated too.
    assert.throws(
      () => new Audio(new Uint8Array(ascii("fLaC")), { sampleRate: -1 }),
      { name: "RangeError", message: /current value is -1$/ },
    );
  });

  it("Audio rejects bad types and options with a TypeError naming the value", () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => new Audio(new Int16Array(4) as never, { sampleRate: 8000 }),
        /current value is Int16Array$/,
      ],
      [
        () => new Audio(null as never, { sampleRate: 8000 }),
        /current value is null$/,
      ],
      [
        () => new Audio("beep" as never, { sampleRate: 8000 }),
        /current value is "beep"$/,
      ],
      [
        () => new Audio([0, "x"] as never, { sampleRate: 8000 }),
        /samples must be numbers: sample 1 is "x"$/,
      ],
      [
        () => new Audio([[0], [0], "x"] as never, { sampleRate: 8000 }),
        /channel 2 is "x"$/,
      ],
      [
        () => new Audio([[0, null]] as never, { sampleRate: 8000 }),
        /sample 1 of channel 0 is null$/,
      ],
      [
        () => new Audio([undefined, 0] as never, { sampleRate: 8000 }),
        /channel 0 is undefined$/,
      ],
      [
        () => new Audio([0], { sampleRate: 8000, format: "mp3" as "pcm16" }),
        /'format' must be "pcm16" or "float32": current value is "mp3"$/,
      ],
      [
        () => new Audio([0], { sampleRate: 8000, caption: 42 as never }),
        /'caption' must be a string: current value is 42$/,
      ],
      [
        () => new Audio([0], 8000 as never),
        /'options' must be an object: current value is 8000$/,
      ],
    ];
    for (const [create, message] of cases) {
      assert.throws(create, { name: "TypeError", message });
    }
  });

  it("Audio rejects unknown bytes naming their first bytes", async () => {
    const cases: [number[], RegExp][] = [
      [[0, 1, 2, 3], /they start with 00 01 02 03 \(4 bytes\)$/],
      [
        // A RIFF file that is not WAVE (AVI).
        [...ascii("RIFF"), 4, 0, 0, 0, ...ascii("AVI "), ...ascii("LIST")],
        /they start with 52 49 46 46 04 00 00 00 41 56 49 20 \.\.\. \(16 bytes\)$/,
      ],
      // AAC in ADTS: frame sync, but layer 00.
      [[0xff, 0xf1, 0x50, 0x80], /they start with ff f1 50 80/],
      [[0xff, 0xfb], /they start with ff fb \(2 bytes\)$/], // truncated frame header
      [[0xff, 0xfb, 0xf0, 0x00], /ff fb f0 00/], // bad bitrate index
      [ascii("ID"), /49 44/],
      [ascii("OggT"), /4f 67 67 54/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(() => new Audio(new Uint8Array(bytes)), {
        name: "TypeError",
        message,
      });
      assert.throws(
        () => new Audio(new Uint8Array(bytes).buffer),
        { name: "TypeError", message },
      );
      // A Blob is read by encode(), which rejects.
      const audio = new Audio(new Blob([new Uint8Array(bytes)]));
      await assert.rejects(audio.encode(), { name: "TypeError", message });
    }
  });

  it("Audio recognises WAV, MP3, OGG and FLAC bytes and keeps them as they are", async () => {
    const files: [string, number[], string, string][] = [
      [
        "WAV",
        [...ascii("RIFF"), 0x24, 0, 0, 0, ...ascii("WAVE"), ...ascii("fmt ")],
        "audio/wav",
        "wav",
      ],
      [
        "MP3 with ID3",
        [...ascii("ID3"), 4, 0, 0, 0, 0, 0, 0],
        "audio/mpeg",
        "mp3",
      ],
      // MPEG-1 Layer III, 128 kbit/s, 44100 Hz.
      ["MP3 frame", [0xff, 0xfb, 0x90, 0x64], "audio/mpeg", "mp3"],
      // MPEG-2 Layer III, 64 kbit/s, 22050 Hz.
      ["MPEG-2 frame", [0xff, 0xf3, 0x80, 0xc4], "audio/mpeg", "mp3"],
      ["OGG", [...ascii("OggS"), 0, 2, 0, 0, 0, 0], "audio/ogg", "ogg"],
      ["FLAC", [...ascii("fLaC"), 0, 0, 0, 0x22], "audio/flac", "flac"],
    ];
    for (const [name, bytes, contentType, extension] of files) {
      const inputs = [
        new Uint8Array(bytes),
        new Uint8Array(bytes).buffer,
        new Blob([new Uint8Array(bytes)]),
      ];
      for (const input of inputs) {
        const audio = new Audio(input, { caption: name });
        assert.equal(audio.sampleRate, undefined);
        assert.equal(audio.channelCount, undefined);
        assert.equal(audio.length, undefined);
        assert.equal(audio.caption, name);
        const encoded = await audio.encode();
        assert.equal(encoded.mediaType, "audio", name);
        assert.equal(encoded.contentType, contentType, name);
        assert.equal(encoded.extension, extension, name);
        assert.deepEqual(Array.from(encoded.data), bytes, name);
        assert.deepEqual(encoded.metadata, { caption: name });
      }
    }
  });

  it("Audio keeps a WAV from encodeWav() byte for byte, with a declared sample rate", async () => {
    const wav = encodeWav([signal(100, 9)], { sampleRate: 16000 });
    const audio = new Audio(wav, { sampleRate: 16000 });
    assert.equal(audio.sampleRate, 16000);
    const encoded = await audio.encode();
    assert.equal(encoded.contentType, "audio/wav");
    assert.equal(hex(encoded.data), hex(wav));
    assert.deepEqual(encoded.metadata, { sampleRate: 16000 });
  });
});
