// This module is browser compatible.
// SHA-256 (FIPS 180-4, section 6.2) in pure TypeScript, incremental: whole
// 64-byte blocks are compressed straight from the caller's bytes and only a
// trailing partial block is copied. The length is kept as a safe integer of
// bytes, so inputs up to 2^53 - 1 bytes (8 PiB) hash correctly.

/** Round constants (FIPS 180-4, 4.2.2): cube roots of the first 64 primes. */
const K: Int32Array = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/** Initial hash value (FIPS 180-4, 5.3.3): square roots of the first 8 primes. */
const H0: readonly number[] = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

/**
 * Compresses the 64-byte blocks of `data` in `[start, end)` into `state`
 * (`end - start` is a multiple of 64), using `w` for the message schedule.
 */
function compress(
  state: Int32Array,
  w: Int32Array,
  data: Uint8Array,
  start: number,
  end: number,
): void {
  let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3];
  let h4 = state[4], h5 = state[5], h6 = state[6], h7 = state[7];
  for (let p = start; p < end; p += 64) {
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    let t1 = 0, t2 = 0;
    // Rounds 0..15 read the block's big-endian words.
    for (let i = 0, q = p; i < 16; i++, q += 4) {
      const word = (data[q] << 24) | (data[q + 1] << 16) |
        (data[q + 2] << 8) | data[q + 3];
      w[i] = word;
      t1 = (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
          ((e >>> 25) | (e << 7))) +
        (g ^ (e & (f ^ g))) + K[i] + word) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
        ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b)))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    // Rounds 16..63 extend the schedule as they go.
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const word = ((((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^
        (y >>> 10)) +
        w[i - 7] +
        (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        w[i - 16]) | 0;
      w[i] = word;
      t1 = (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
          ((e >>> 25) | (e << 7))) +
        (g ^ (e & (f ^ g))) + K[i] + word) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
        ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b)))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

/** An incremental SHA-256: `update()` any number of times, then `digest()` once. */
export class Sha256 {
  #state: Int32Array = Int32Array.from(H0);
  #schedule: Int32Array = new Int32Array(64);
  #block: Uint8Array = new Uint8Array(64);
  #blockLength = 0;
  #bytes = 0;
  #finished = false;

  /**
   * Feeds bytes.
   *
   * @param data The next bytes of the message.
   * @throws {Error} After `digest()`.
   * @throws {RangeError} When the message would pass 2^53 - 1 bytes.
   */
  update(data: Uint8Array): void {
    if (this.#finished) {
      throw new Error("Cannot update the SHA-256 hash: digest() was called");
    }
    const length = data.length;
    if (this.#bytes + length > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        "Cannot update the SHA-256 hash: the message would pass 2^53 - 1 bytes",
      );
    }
    this.#bytes += length;
    const block = this.#block;
    let offset = 0;
    if (this.#blockLength > 0) {
      let filled = this.#blockLength;
      while (filled < 64 && offset < length) block[filled++] = data[offset++];
      if (filled < 64) {
        this.#blockLength = filled;
        return;
      }
      compress(this.#state, this.#schedule, block, 0, 64);
      this.#blockLength = 0;
    }
    const end = length - ((length - offset) % 64);
    if (end > offset) compress(this.#state, this.#schedule, data, offset, end);
    // Keep the trailing partial block (under 64 bytes) for the next call.
    let filled = 0;
    for (let i = end; i < length; i++) block[filled++] = data[i];
    this.#blockLength = filled;
  }

  /**
   * Pads the message and returns its digest.
   *
   * @returns The 32-byte digest.
   * @throws {Error} When called a second time.
   */
  digest(): Uint8Array {
    if (this.#finished) {
      throw new Error("Cannot digest the SHA-256 hash: digest() was called");
    }
    this.#finished = true;
    const block = this.#block;
    let filled = this.#blockLength;
    block[filled++] = 0x80;
    if (filled > 56) {
      block.fill(0, filled);
      compress(this.#state, this.#schedule, block, 0, 64);
      filled = 0;
    }
    block.fill(0, filled, 56);
    // The message length in bits, as a 64-bit big-endian number.
    const high = Math.floor(this.#bytes / 0x20000000);
    const low = (this.#bytes % 0x20000000) * 8;
    writeUint32BigEndian(block, 56, high);
    writeUint32BigEndian(block, 60, low);
    compress(this.#state, this.#schedule, block, 0, 64);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      writeUint32BigEndian(out, i * 4, this.#state[i]);
    }
    return out;
  }
}

function writeUint32BigEndian(
  bytes: Uint8Array,
  offset: number,
  value: number,
): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}
