// This module is browser compatible.
// Private helper of the PNG encoder; not part of the public API.

/**
 * CRC-32 lookup tables (polynomial 0xEDB88320, as in PNG, zlib and gzip) for
 * slicing-by-8: `TABLES[0]` is the classic byte table, `TABLES[k]` advances
 * the table by k more zero bytes, so eight bytes are folded per step.
 */
const TABLES: readonly Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const base = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    base[n] = c;
  }
  tables.push(base);
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1];
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      table[n] = base[previous[n] & 0xff] ^ (previous[n] >>> 8);
    }
    tables.push(table);
  }
  return tables;
}

/**
 * Computes the CRC-32 of bytes (the checksum of PNG chunks, zlib's
 * `crc32()`), optionally continuing from the CRC of the bytes before them, so
 * `crc32(b, crc32(a))` equals the CRC of `a` followed by `b`.
 *
 * @param bytes The bytes to checksum.
 * @param previous The CRC-32 of the preceding bytes, or 0 to start.
 * @returns The CRC-32, an unsigned 32-bit integer.
 *
 * @example The check value of the CRC-32 catalogue
 * ```ts
 * import { crc32 } from "./_crc32.ts";
 * import assert from "node:assert/strict";
 * const text = new TextEncoder().encode("123456789");
 * assert.equal(crc32(text), 0xcbf43926);
 * assert.equal(crc32(text.subarray(4), crc32(text.subarray(0, 4))), 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array, previous: number = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~previous;
  let i = 0;
  const length = bytes.length;
  const blocks = length - (length & 7);
  while (i < blocks) {
    const lo = crc ^
      (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) |
        (bytes[i + 3] << 24));
    crc = t7[lo & 0xff] ^ t6[(lo >>> 8) & 0xff] ^ t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^ t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
    i += 8;
  }
  while (i < length) crc = t0[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
