// Incremental SHA-256 and MD5: the pure TypeScript implementations against
// the published vectors and against node:crypto, chunked every which way.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash as nodeCreateHash } from "node:crypto";
import {
  createHash,
  type HashAlgorithm,
  type HashImplementation,
  nativeHashAvailable,
  toHex,
} from "../artifact/hash.ts";
import { UnsupportedRuntimeError } from "../errors/errors.ts";

// ---------------------------------------------------------------------------
// Helpers

const ALGORITHMS: readonly HashAlgorithm[] = ["sha256", "md5"];
const IMPLEMENTATIONS: readonly HashImplementation[] = ["pure", "native"];

const encoder = new TextEncoder();

/** A deterministic xorshift32 byte stream, so failures reproduce. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** Small deterministic generator of integers in [min, max]. */
function integers(seed: number): (min: number, max: number) => number {
  let state = seed | 0 || 1;
  return (min, max) => {
    state = (Math.imul(state, 1664525) + 1013904223) | 0;
    return min + ((state >>> 0) % (max - min + 1));
  };
}

/** Hashes `data` fed in chunks whose sizes come from `sizes` in turn. */
function hashChunked(
  algorithm: HashAlgorithm,
  implementation: HashImplementation,
  data: Uint8Array,
  sizes: readonly number[] | ((offset: number) => number),
): string {
  const hash = createHash(algorithm, { implementation });
  assert.equal(hash.implementation, implementation);
  assert.equal(hash.algorithm, algorithm);
  let offset = 0;
  let turn = 0;
  while (offset < data.length) {
    const size = typeof sizes === "function"
      ? sizes(offset)
      : sizes[turn++ % sizes.length];
    hash.update(data.subarray(offset, offset + size));
    offset += size;
  }
  return toHex(hash.digest());
}

function reference(algorithm: HashAlgorithm, data: Uint8Array): string {
  return nodeCreateHash(algorithm).update(data).digest("hex");
}

function repeat(text: string, times: number): Uint8Array {
  return encoder.encode(text.repeat(times));
}

// FIPS 180-4 examples (csrc.nist.gov) and RFC 1321, appendix A.5, plus the
// MD5 of the NIST messages.
const VECTORS: readonly {
  name: string;
  data: () => Uint8Array;
  sha256: string;
  md5: string;
}[] = [
  {
    name: "the empty message",
    data: () => new Uint8Array(0),
    sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    md5: "d41d8cd98f00b204e9800998ecf8427e",
  },
  {
    name: '"abc"',
    data: () => encoder.encode("abc"),
    sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    md5: "900150983cd24fb0d6963f7d28e17f72",
  },
  {
    name: "the 448-bit NIST message",
    data: () =>
      encoder.encode(
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      ),
    sha256: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    md5: "8215ef0796a20bcaaae116d3876c664a",
  },
  {
    name: "the 896-bit NIST message",
    data: () =>
      encoder.encode(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno" +
          "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      ),
    sha256: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    md5: "03dd8807a93175fb062dfb55dc7d359c",
  },
  {
    name: '"message digest"',
    data: () => encoder.encode("message digest"),
    sha256: "f7846f55cf23e14eebeab5b4e1550cad5b509e3348fbc4efa3a1413d393cb650",
    md5: "f96b697d7cb7938d525a2f31aaf161d0",
  },
  {
    name: "80 digits (RFC 1321)",
    data: () => repeat("1234567890", 8),
    sha256: "f371bc4a311f2b009eef952dd83ca80e2b60026c8e935592d0f9c308453c813e",
    md5: "57edf4a22be3c955ac49da2e2107b67a",
  },
  {
    name: 'one million "a"',
    data: () => repeat("a", 1_000_000),
    sha256: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    md5: "7707d6ae4e027c70eea2a935c2296f21",
  },
];

// ---------------------------------------------------------------------------

describe("createHash()", () => {
  for (const implementation of IMPLEMENTATIONS) {
    for (const vector of VECTORS) {
      for (const algorithm of ALGORITHMS) {
        it(`${implementation} ${algorithm} of ${vector.name} matches the published digest`, () => {
          const data = vector.data();
          assert.equal(
            hashChunked(algorithm, implementation, data, [data.length || 1]),
            vector[algorithm],
          );
        });
      }
    }
  }

  it('one million "a" fed in odd chunk sizes gives the published digests', () => {
    const data = repeat("a", 1_000_000);
    for (const implementation of IMPLEMENTATIONS) {
      for (
        const sizes of [[1], [3], [7, 61], [63], [65], [127, 1, 64], [4097]]
      ) {
        assert.equal(
          hashChunked("sha256", implementation, data, sizes),
          VECTORS[6].sha256,
          `${implementation} sha256 in chunks of ${sizes}`,
        );
        assert.equal(
          hashChunked("md5", implementation, data, sizes),
          VECTORS[6].md5,
          `${implementation} md5 in chunks of ${sizes}`,
        );
      }
    }
  });

  it("every length from 0 to 200 bytes matches node:crypto, whole and byte by byte", () => {
    const data = pseudoRandomBytes(200, 7);
    for (let length = 0; length <= 200; length++) {
      const message = data.subarray(0, length);
      for (const algorithm of ALGORITHMS) {
        const expected = reference(algorithm, message);
        for (const implementation of IMPLEMENTATIONS) {
          assert.equal(
            hashChunked(algorithm, implementation, message, [length || 1]),
            expected,
            `${implementation} ${algorithm} of ${length} bytes in one chunk`,
          );
          assert.equal(
            hashChunked(algorithm, implementation, message, [1]),
            expected,
            `${implementation} ${algorithm} of ${length} bytes byte by byte`,
          );
        }
      }
    }
  });

  it("lengths around the padding boundaries match node:crypto in every split", () => {
    const data = pseudoRandomBytes(200, 11);
    for (const length of [55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128]) {
      const message = data.subarray(0, length);
      for (const algorithm of ALGORITHMS) {
        const expected = reference(algorithm, message);
        for (let split = 0; split <= length; split++) {
          const hash = createHash(algorithm, { implementation: "pure" });
          hash.update(message.subarray(0, split));
          hash.update(new Uint8Array(0));
          hash.update(message.subarray(split));
          assert.equal(
            toHex(hash.digest()),
            expected,
            `pure ${algorithm} of ${length} bytes split at ${split}`,
          );
        }
      }
    }
  });

  it("random inputs in random chunkings agree between pure, native and one-shot node:crypto", () => {
    const next = integers(2024);
    for (let trial = 0; trial < 60; trial++) {
      const length = next(0, trial < 40 ? 2000 : 300_000);
      const data = pseudoRandomBytes(length, trial + 1);
      const maxChunk = next(1, 1000);
      for (const algorithm of ALGORITHMS) {
        const expected = reference(algorithm, data);
        for (const implementation of IMPLEMENTATIONS) {
          assert.equal(
            hashChunked(
              algorithm,
              implementation,
              data,
              () => next(0, maxChunk),
            ),
            expected,
            `${implementation} ${algorithm}, trial ${trial}, ${length} bytes`,
          );
        }
      }
    }
  });

  it("5 MiB fed in chunks of 1 byte to 1 MiB matches node:crypto", () => {
    const data = pseudoRandomBytes(5 << 20, 99);
    const expected = {
      sha256: reference("sha256", data),
      md5: reference("md5", data),
    };
    for (const size of [1, 13, 64, 1000, 4096, 65_537, 1 << 20]) {
      for (const algorithm of ALGORITHMS) {
        for (const implementation of IMPLEMENTATIONS) {
          // Byte-by-byte over 5 MiB is slow; the first 256 KiB suffice.
          const message = size === 1 ? data.subarray(0, 256 << 10) : data;
          assert.equal(
            hashChunked(algorithm, implementation, message, [size]),
            size === 1 ? reference(algorithm, message) : expected[algorithm],
            `${implementation} ${algorithm} in chunks of ${size}`,
          );
        }
      }
    }
  });

  // About 6 s: more than Bun's default per-test limit of 5 s.
  it(
    "a message of more than 2^32 bits (528 MiB of zeros) agrees between pure and native",
    {
      timeout: 60_000,
    },
    () => {
      const chunk = new Uint8Array(16 << 20);
      const tail = pseudoRandomBytes(1000, 5);
      for (const algorithm of ALGORITHMS) {
        const pure = createHash(algorithm, { implementation: "pure" });
        const native = createHash(algorithm, { implementation: "native" });
        for (let i = 0; i < 33; i++) {
          pure.update(chunk);
          native.update(chunk);
        }
        pure.update(tail);
        native.update(tail);
        assert.equal(toHex(pure.digest()), toHex(native.digest()), algorithm);
      }
    },
  );

  it('"auto" is native here and digests are plain Uint8Arrays of the right size', () => {
    assert.equal(nativeHashAvailable(), true);
    for (const algorithm of ALGORITHMS) {
      const auto = createHash(algorithm);
      assert.equal(auto.implementation, "native");
      for (const implementation of IMPLEMENTATIONS) {
        const hash = createHash(algorithm, { implementation });
        hash.update(encoder.encode("abc"));
        const digest = hash.digest();
        assert.equal(Object.getPrototypeOf(digest), Uint8Array.prototype);
        assert.equal(digest.length, algorithm === "sha256" ? 32 : 16);
      }
    }
  });

  it("native update() does not keep or change the caller's bytes", () => {
    const data = pseudoRandomBytes(1000, 3);
    const copy = data.slice();
    const hash = createHash("sha256", { implementation: "native" });
    hash.update(data);
    data.fill(0);
    assert.equal(toHex(hash.digest()), reference("sha256", copy));
  });
});

describe("createHash() errors", () => {
  it("update() and digest() after digest() throw a clear Error", () => {
    for (const algorithm of ALGORITHMS) {
      for (const implementation of IMPLEMENTATIONS) {
        const hash = createHash(algorithm, { implementation });
        hash.update(encoder.encode("abc"));
        hash.digest();
        assert.throws(
          () => hash.update(encoder.encode("more")),
          new RegExp(
            `^Error: Cannot update the ${algorithm} hash: digest\\(\\) was already called$`,
          ),
        );
        assert.throws(
          () => hash.digest(),
          /Cannot digest the .* hash: digest\(\) was already called/,
        );
      }
    }
  });

  it("update() with something other than a Uint8Array throws a TypeError naming it", () => {
    for (const implementation of IMPLEMENTATIONS) {
      const hash = createHash("sha256", { implementation });
      for (
        const [value, named] of [
          ["abc", '"abc"'],
          [[1, 2, 3], "Array"],
          [new Uint16Array(2), "Uint16Array"],
          [new ArrayBuffer(4), "ArrayBuffer"],
          [null, "null"],
          [undefined, "undefined"],
        ] as const
      ) {
        assert.throws(
          () => hash.update(value as unknown as Uint8Array),
          (error: unknown) => {
            assert.ok(error instanceof TypeError);
            assert.equal(
              error.message,
              `Cannot update the sha256 hash: expected a Uint8Array, got ${named}`,
            );
            return true;
          },
        );
      }
      // The hash is still usable after a rejected chunk.
      hash.update(encoder.encode("abc"));
      assert.equal(toHex(hash.digest()), VECTORS[1].sha256);
    }
  });

  it("an unknown algorithm or implementation throws a TypeError naming the value and what was expected", () => {
    assert.throws(
      () => createHash("sha1" as HashAlgorithm),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.equal(
          error.message,
          'Cannot create a hash: unknown algorithm "sha1", expected "sha256" or "md5"',
        );
        return true;
      },
    );
    assert.throws(
      () => createHash("SHA256" as HashAlgorithm, { implementation: "pure" }),
      /unknown algorithm "SHA256"/,
    );
    assert.throws(
      () =>
        createHash("md5", {
          implementation: "wasm" as HashImplementation,
        }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.equal(
          error.message,
          'Cannot create a md5 hash: unknown implementation "wasm", expected "auto", "native" or "pure"',
        );
        return true;
      },
    );
  });

  it("Buffers and Uint8Array views at an offset are accepted", () => {
    const backing = pseudoRandomBytes(300, 17);
    const view = new Uint8Array(backing.buffer, 37, 200);
    // A node:crypto digest is a Buffer, a Uint8Array subclass.
    const buffer = nodeCreateHash("sha256").update(view).digest();
    for (const implementation of IMPLEMENTATIONS) {
      assert.equal(
        hashChunked("md5", implementation, view, [33]),
        reference("md5", view),
      );
      assert.equal(
        hashChunked("md5", implementation, buffer, [5]),
        reference("md5", buffer),
      );
    }
  });
});

describe("createHash() without node:crypto", () => {
  const host =
    (globalThis as { process: { getBuiltinModule?: unknown } }).process;
  let saved: unknown;
  beforeEach(() => {
    saved = host.getBuiltinModule;
    host.getBuiltinModule = undefined;
  });
  afterEach(() => {
    host.getBuiltinModule = saved;
  });

  it('"auto" falls back to the pure implementation with the same digests', () => {
    assert.equal(nativeHashAvailable(), false);
    for (const algorithm of ALGORITHMS) {
      const hash = createHash(algorithm);
      assert.equal(hash.implementation, "pure");
      hash.update(encoder.encode("abc"));
      assert.equal(toHex(hash.digest()), VECTORS[1][algorithm]);
    }
  });

  it('"native" throws UnsupportedRuntimeError naming node:crypto', () => {
    assert.throws(
      () => createHash("sha256", { implementation: "native" }),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedRuntimeError);
        assert.equal(error.capability, "node:crypto");
        assert.match(error.message, /this runtime has no node:crypto/);
        return true;
      },
    );
  });

  it("a getBuiltinModule that throws or lacks node:crypto counts as absent", () => {
    host.getBuiltinModule = () => {
      throw new Error("no such module");
    };
    assert.equal(nativeHashAvailable(), false);
    host.getBuiltinModule = () => undefined;
    assert.equal(nativeHashAvailable(), false);
    assert.equal(createHash("md5").implementation, "pure");
    host.getBuiltinModule = saved;
    assert.equal(nativeHashAvailable(), true);
  });
});

describe("toHex()", () => {
  it("formats every byte value as two lowercase digits", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const expected = Array.from(
      all,
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal(toHex(all), expected);
    assert.equal(toHex(new Uint8Array(0)), "");
  });
});
