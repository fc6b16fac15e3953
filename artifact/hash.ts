// This module is browser compatible.
// It never imports a `node:` module: `node:crypto` is reached at run time
// through `process.getBuiltinModule` (Deno, Bun, Node 20.16+); workers and
// browsers get the pure TypeScript implementations in `_sha256.ts` and
// `_md5.ts`.

import { UnsupportedRuntimeError } from "../errors/errors.ts";
import { Md5 } from "./_md5.ts";
import { Sha256 } from "./_sha256.ts";

/** A digest algorithm of {@linkcode createHash}. */
export type HashAlgorithm = "sha256" | "md5";

/**
 * Where a hash is computed: `"native"` is `node:crypto`, `"pure"` the
 * TypeScript implementation that runs everywhere.
 */
export type HashImplementation = "native" | "pure";

/**
 * A hash fed in chunks, so a file of any size is hashed in constant memory.
 *
 * @example Hashing in chunks
 * ```ts
 * import { createHash, toHex } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const hash = createHash("sha256");
 * hash.update(new TextEncoder().encode("a"));
 * hash.update(new TextEncoder().encode("bc"));
 * assert.equal(
 *   toHex(hash.digest()),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * ```
 */
export interface IncrementalHash {
  /** The digest algorithm. */
  readonly algorithm: HashAlgorithm;
  /** Whether `node:crypto` or the pure TypeScript code computes it. */
  readonly implementation: HashImplementation;
  /** Feeds bytes; may be called any number of times. Throws after digest(). */
  update(chunk: Uint8Array): void;
  /** Finishes; returns the raw digest (32 bytes sha256, 16 bytes md5). Callable once. */
  digest(): Uint8Array;
}

/** The part of a `node:crypto` `Hash` that is used. */
interface NodeHashLike {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

interface NodeCryptoLike {
  createHash(algorithm: string): NodeHashLike;
}

type BuiltinLookup = (name: string) => unknown;

// The last lookup, keyed by the `getBuiltinModule` function it went through:
// hiding or replacing that function (tests do) makes the next call look again.
let lastLookup: BuiltinLookup | undefined;
let lastCrypto: NodeCryptoLike | undefined;

function nodeCrypto(): NodeCryptoLike | undefined {
  let lookup: unknown;
  try {
    lookup = (globalThis as { process?: { getBuiltinModule?: unknown } })
      .process?.getBuiltinModule;
  } catch {
    return undefined;
  }
  if (typeof lookup !== "function") return undefined;
  if (lookup === lastLookup) return lastCrypto;
  let found: NodeCryptoLike | undefined;
  try {
    const crypto = (lookup as BuiltinLookup)("node:crypto") as
      | Partial<NodeCryptoLike>
      | undefined;
    found = typeof crypto?.createHash === "function"
      ? crypto as NodeCryptoLike
      : undefined;
  } catch {
    found = undefined;
  }
  lastLookup = lookup as BuiltinLookup;
  lastCrypto = found;
  return found;
}

function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) &&
      (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] ===
        "Uint8Array");
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return ArrayBuffer.isView(value)
    ? value.constructor.name
    : Object.prototype.toString.call(value).slice(8, -1);
}

function checkChunk(algorithm: HashAlgorithm, chunk: unknown): void {
  if (!isUint8Array(chunk)) {
    throw new TypeError(
      `Cannot update the ${algorithm} hash: expected a Uint8Array, got ${
        describe(chunk)
      }`,
    );
  }
}

function finishedError(algorithm: HashAlgorithm, action: string): Error {
  return new Error(
    `Cannot ${action} the ${algorithm} hash: digest() was already called`,
  );
}

class NativeHash implements IncrementalHash {
  readonly algorithm: HashAlgorithm;
  readonly implementation: HashImplementation = "native";
  #hash: NodeHashLike;
  #finished = false;

  constructor(algorithm: HashAlgorithm, crypto: NodeCryptoLike) {
    this.algorithm = algorithm;
    this.#hash = crypto.createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    if (this.#finished) throw finishedError(this.algorithm, "update");
    checkChunk(this.algorithm, chunk);
    this.#hash.update(chunk);
  }

  digest(): Uint8Array {
    if (this.#finished) throw finishedError(this.algorithm, "digest");
    this.#finished = true;
    // A copy into a plain Uint8Array, not a Buffer (whose methods differ).
    return new Uint8Array(this.#hash.digest());
  }
}

class PureHash implements IncrementalHash {
  readonly algorithm: HashAlgorithm;
  readonly implementation: HashImplementation = "pure";
  #hash: Sha256 | Md5;
  #finished = false;

  constructor(algorithm: HashAlgorithm) {
    this.algorithm = algorithm;
    this.#hash = algorithm === "sha256" ? new Sha256() : new Md5();
  }

  update(chunk: Uint8Array): void {
    if (this.#finished) throw finishedError(this.algorithm, "update");
    checkChunk(this.algorithm, chunk);
    this.#hash.update(chunk);
  }

  digest(): Uint8Array {
    if (this.#finished) throw finishedError(this.algorithm, "digest");
    this.#finished = true;
    return this.#hash.digest();
  }
}

/**
 * Starts an incremental SHA-256 or MD5 hash. By default it is computed by
 * `node:crypto` where the runtime has it (Deno, Bun, Node), reached at run
 * time so the module stays web-only, and by a pure TypeScript
 * implementation elsewhere (workers, browsers); both give the same digest.
 *
 * @param algorithm `"sha256"` or `"md5"`.
 * @param options Which implementation to use.
 * @returns A hash to feed with `update()` and finish with `digest()`.
 * @throws {TypeError} When the algorithm or the implementation is unknown.
 * @throws {UnsupportedRuntimeError} When `"native"` is asked for and the
 * runtime has no `node:crypto`.
 *
 * @example SHA-256 and MD5 of a text
 * ```ts
 * import { createHash, toHex } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("abc");
 * const sha256 = createHash("sha256");
 * sha256.update(bytes);
 * assert.equal(
 *   toHex(sha256.digest()),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * const md5 = createHash("md5", { implementation: "pure" });
 * md5.update(bytes);
 * assert.equal(md5.implementation, "pure");
 * assert.equal(toHex(md5.digest()), "900150983cd24fb0d6963f7d28e17f72");
 * ```
 */
export function createHash(
  algorithm: HashAlgorithm,
  options?: {
    /**
     * `"auto"` uses `node:crypto` where the runtime has it and the pure
     * TypeScript implementation elsewhere; `"native"` requires
     * `node:crypto`; `"pure"` always uses TypeScript.
     *
     * @default {"auto"}
     */
    implementation?: "auto" | HashImplementation;
  },
): IncrementalHash {
  if (algorithm !== "sha256" && algorithm !== "md5") {
    throw new TypeError(
      `Cannot create a hash: unknown algorithm ${
        describe(algorithm)
      }, expected "sha256" or "md5"`,
    );
  }
  const implementation = options?.implementation ?? "auto";
  if (implementation === "pure") return new PureHash(algorithm);
  if (implementation !== "auto" && implementation !== "native") {
    throw new TypeError(
      `Cannot create a ${algorithm} hash: unknown implementation ${
        describe(implementation)
      }, expected "auto", "native" or "pure"`,
    );
  }
  const crypto = nodeCrypto();
  if (crypto) return new NativeHash(algorithm, crypto);
  if (implementation === "native") {
    throw new UnsupportedRuntimeError(
      `Cannot create a native ${algorithm} hash: this runtime has no node:crypto`,
      { capability: "node:crypto" },
    );
  }
  return new PureHash(algorithm);
}

/**
 * Tells whether `node:crypto` is reachable through
 * `process.getBuiltinModule`, that is whether {@linkcode createHash} can
 * use the native implementation.
 *
 * @returns `true` in Deno, Bun and Node 20.16+; `false` in workers without
 * Node compatibility and in browsers.
 *
 * @example Picking the implementation
 * ```ts
 * import { createHash, nativeHashAvailable } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const hash = createHash("sha256");
 * assert.equal(hash.implementation, nativeHashAvailable() ? "native" : "pure");
 * ```
 */
export function nativeHashAvailable(): boolean {
  return nodeCrypto() !== undefined;
}

const HEX_PAIRS: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/**
 * Formats bytes as lowercase hexadecimal, two digits a byte.
 *
 * @param bytes The bytes, such as a digest.
 * @returns The hexadecimal text.
 *
 * @example Formatting a digest
 * ```ts
 * import { toHex } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.equal(toHex(Uint8Array.of(0, 15, 16, 255)), "000f10ff");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += HEX_PAIRS[bytes[i]];
  return text;
}
