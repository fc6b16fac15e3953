// This module is browser compatible.
// Substitute for @std/encoding/base64 (JSR is unreachable where this is built):
// the native Uint8Array base64 methods where the runtime has them, atob/btoa otherwise.

interface Base64Native {
  toBase64?: () => string;
}
interface Base64Ctor {
  fromBase64?: (text: string) => Uint8Array;
}

/**
 * Encodes bytes as standard base64 (with padding).
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  const native = (bytes as Base64Native).toBase64;
  if (typeof native === "function") return native.call(bytes);
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/**
 * Decodes standard base64 text.
 *
 * @param text The base64 text.
 * @returns The decoded bytes.
 * @throws {SyntaxError} When `text` is not valid base64.
 */
export function decodeBase64(text: string): Uint8Array {
  const native = (Uint8Array as Base64Ctor).fromBase64;
  try {
    if (typeof native === "function") return native(text);
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch (cause) {
    throw new SyntaxError(
      `Cannot decode base64: the text of length ${text.length} is not valid base64`,
      { cause },
    );
  }
}
