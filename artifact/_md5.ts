// This module is browser compatible.
// MD5 (RFC 1321) in pure TypeScript, incremental: whole 64-byte blocks are
// compressed straight from the caller's bytes and only a trailing partial
// block is copied. The length is kept as a safe integer of bytes, so inputs
// up to 2^53 - 1 bytes (8 PiB) hash correctly. MD5 is for content checksums
// (object stores still use it), not for security.

/**
 * Compresses the 64-byte blocks of `data` in `[start, end)` into `state`
 * (`end - start` is a multiple of 64). The 64 steps of RFC 1321, 3.4, are
 * written out with the message words in locals; each step adds the table
 * value T[i] = floor(2^32 * |sin(i)|).
 */
function compress(
  state: Int32Array,
  data: Uint8Array,
  start: number,
  end: number,
): void {
  let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3];
  for (let p = start; p < end; p += 64) {
    const x0 = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) |
      (data[p + 3] << 24);
    const x1 = data[p + 4] | (data[p + 5] << 8) | (data[p + 6] << 16) |
      (data[p + 7] << 24);
    const x2 = data[p + 8] | (data[p + 9] << 8) | (data[p + 10] << 16) |
      (data[p + 11] << 24);
    const x3 = data[p + 12] | (data[p + 13] << 8) | (data[p + 14] << 16) |
      (data[p + 15] << 24);
    const x4 = data[p + 16] | (data[p + 17] << 8) | (data[p + 18] << 16) |
      (data[p + 19] << 24);
    const x5 = data[p + 20] | (data[p + 21] << 8) | (data[p + 22] << 16) |
      (data[p + 23] << 24);
    const x6 = data[p + 24] | (data[p + 25] << 8) | (data[p + 26] << 16) |
      (data[p + 27] << 24);
    const x7 = data[p + 28] | (data[p + 29] << 8) | (data[p + 30] << 16) |
      (data[p + 31] << 24);
    const x8 = data[p + 32] | (data[p + 33] << 8) | (data[p + 34] << 16) |
      (data[p + 35] << 24);
    const x9 = data[p + 36] | (data[p + 37] << 8) | (data[p + 38] << 16) |
      (data[p + 39] << 24);
    const x10 = data[p + 40] | (data[p + 41] << 8) | (data[p + 42] << 16) |
      (data[p + 43] << 24);
    const x11 = data[p + 44] | (data[p + 45] << 8) | (data[p + 46] << 16) |
      (data[p + 47] << 24);
    const x12 = data[p + 48] | (data[p + 49] << 8) | (data[p + 50] << 16) |
      (data[p + 51] << 24);
    const x13 = data[p + 52] | (data[p + 53] << 8) | (data[p + 54] << 16) |
      (data[p + 55] << 24);
    const x14 = data[p + 56] | (data[p + 57] << 8) | (data[p + 58] << 16) |
      (data[p + 59] << 24);
    const x15 = data[p + 60] | (data[p + 61] << 8) | (data[p + 62] << 16) |
      (data[p + 63] << 24);
    let a = h0, b = h1, c = h2, d = h3;
    let t = 0;
    // Round 1: F.
    t = (a + (d ^ (b & (c ^ d))) + x0 + 0xd76aa478) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + (c ^ (a & (b ^ c))) + x1 + 0xe8c7b756) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + (b ^ (d & (a ^ b))) + x2 + 0x242070db) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + (a ^ (c & (d ^ a))) + x3 + 0xc1bdceee) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + (d ^ (b & (c ^ d))) + x4 + 0xf57c0faf) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + (c ^ (a & (b ^ c))) + x5 + 0x4787c62a) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + (b ^ (d & (a ^ b))) + x6 + 0xa8304613) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + (a ^ (c & (d ^ a))) + x7 + 0xfd469501) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + (d ^ (b & (c ^ d))) + x8 + 0x698098d8) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + (c ^ (a & (b ^ c))) + x9 + 0x8b44f7af) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + (b ^ (d & (a ^ b))) + x10 + 0xffff5bb1) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + (a ^ (c & (d ^ a))) + x11 + 0x895cd7be) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + (d ^ (b & (c ^ d))) + x12 + 0x6b901122) | 0;
    a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + (c ^ (a & (b ^ c))) + x13 + 0xfd987193) | 0;
    d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + (b ^ (d & (a ^ b))) + x14 + 0xa679438e) | 0;
    c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + (a ^ (c & (d ^ a))) + x15 + 0x49b40821) | 0;
    b = (c + ((t << 22) | (t >>> 10))) | 0;
    // Round 2: G.
    t = (a + (c ^ (d & (b ^ c))) + x1 + 0xf61e2562) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + (b ^ (c & (a ^ b))) + x6 + 0xc040b340) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + (a ^ (b & (d ^ a))) + x11 + 0x265e5a51) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + (d ^ (a & (c ^ d))) + x0 + 0xe9b6c7aa) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (c ^ (d & (b ^ c))) + x5 + 0xd62f105d) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + (b ^ (c & (a ^ b))) + x10 + 0x02441453) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + (a ^ (b & (d ^ a))) + x15 + 0xd8a1e681) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + (d ^ (a & (c ^ d))) + x4 + 0xe7d3fbc8) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (c ^ (d & (b ^ c))) + x9 + 0x21e1cde6) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + (b ^ (c & (a ^ b))) + x14 + 0xc33707d6) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + (a ^ (b & (d ^ a))) + x3 + 0xf4d50d87) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + (d ^ (a & (c ^ d))) + x8 + 0x455a14ed) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (c ^ (d & (b ^ c))) + x13 + 0xa9e3e905) | 0;
    a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + (b ^ (c & (a ^ b))) + x2 + 0xfcefa3f8) | 0;
    d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + (a ^ (b & (d ^ a))) + x7 + 0x676f02d9) | 0;
    c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + (d ^ (a & (c ^ d))) + x12 + 0x8d2a4c8a) | 0;
    b = (c + ((t << 20) | (t >>> 12))) | 0;
    // Round 3: H.
    t = (a + (b ^ c ^ d) + x5 + 0xfffa3942) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x8 + 0x8771f681) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x11 + 0x6d9d6122) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x14 + 0xfde5380c) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x1 + 0xa4beea44) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x4 + 0x4bdecfa9) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x7 + 0xf6bb4b60) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x10 + 0xbebfbc70) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x13 + 0x289b7ec6) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x0 + 0xeaa127fa) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x3 + 0xd4ef3085) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x6 + 0x04881d05) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + x9 + 0xd9d4d039) | 0;
    a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + x12 + 0xe6db99e5) | 0;
    d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + x15 + 0x1fa27cf8) | 0;
    c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + x2 + 0xc4ac5665) | 0;
    b = (c + ((t << 23) | (t >>> 9))) | 0;
    // Round 4: I.
    t = (a + (c ^ (b | ~d)) + x0 + 0xf4292244) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x7 + 0x432aff97) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x14 + 0xab9423a7) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x5 + 0xfc93a039) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x12 + 0x655b59c3) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x3 + 0x8f0ccc92) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x10 + 0xffeff47d) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x1 + 0x85845dd1) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x8 + 0x6fa87e4f) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x15 + 0xfe2ce6e0) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x6 + 0xa3014314) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x13 + 0x4e0811a1) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + x4 + 0xf7537e82) | 0;
    a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + x11 + 0xbd3af235) | 0;
    d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + x2 + 0x2ad7d2bb) | 0;
    c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + x9 + 0xeb86d391) | 0;
    b = (c + ((t << 21) | (t >>> 11))) | 0;
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
}

/** An incremental MD5: `update()` any number of times, then `digest()` once. */
export class Md5 {
  #state: Int32Array = Int32Array.of(
    0x67452301,
    0xefcdab89 | 0,
    0x98badcfe | 0,
    0x10325476,
  );
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
      throw new Error("Cannot update the MD5 hash: digest() was called");
    }
    const length = data.length;
    if (this.#bytes + length > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        "Cannot update the MD5 hash: the message would pass 2^53 - 1 bytes",
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
      compress(this.#state, block, 0, 64);
      this.#blockLength = 0;
    }
    const end = length - ((length - offset) % 64);
    if (end > offset) compress(this.#state, data, offset, end);
    // Keep the trailing partial block (under 64 bytes) for the next call.
    let filled = 0;
    for (let i = end; i < length; i++) block[filled++] = data[i];
    this.#blockLength = filled;
  }

  /**
   * Pads the message and returns its digest.
   *
   * @returns The 16-byte digest.
   * @throws {Error} When called a second time.
   */
  digest(): Uint8Array {
    if (this.#finished) {
      throw new Error("Cannot digest the MD5 hash: digest() was called");
    }
    this.#finished = true;
    const block = this.#block;
    let filled = this.#blockLength;
    block[filled++] = 0x80;
    if (filled > 56) {
      block.fill(0, filled);
      compress(this.#state, block, 0, 64);
      filled = 0;
    }
    block.fill(0, filled, 56);
    // The message length in bits, as a 64-bit little-endian number.
    writeUint32LittleEndian(block, 56, (this.#bytes % 0x20000000) * 8);
    writeUint32LittleEndian(block, 60, Math.floor(this.#bytes / 0x20000000));
    compress(this.#state, block, 0, 64);
    const out = new Uint8Array(16);
    for (let i = 0; i < 4; i++) {
      writeUint32LittleEndian(out, i * 4, this.#state[i]);
    }
    return out;
  }
}

function writeUint32LittleEndian(
  bytes: Uint8Array,
  offset: number,
  value: number,
): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}
