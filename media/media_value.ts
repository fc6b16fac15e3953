// This module is browser compatible.

/** What a media value encodes to: the bytes of one file and how to describe it. */
export interface EncodedMedia {
  /** The kind of media, such as `"image"`, `"audio"`, `"table"`. */
  mediaType: string;
  /** MIME type of `data`, such as `"image/png"`, `"audio/wav"`, `"application/json"`. */
  contentType: string;
  /** File extension without the dot, such as `"png"`. */
  extension: string;
  /** The encoded bytes. */
  data: Uint8Array;
  /** JSON-serialisable description: caption, width, height, sampleRate, labels, ... */
  metadata: Record<string, unknown>;
}

/**
 * The brand every media value carries, so values from another copy of the
 * library (or another realm) are recognised too.
 */
export const MEDIA_VALUE: unique symbol = Symbol.for(
  "uetai.media_value",
) as never;

/**
 * Implemented by every typed media value (`Image`, `Audio`, `Text`, ...).
 * Constructors validate and copy their input at once (bad input is a
 * `TypeError` or `RangeError` there), so `encode()` depends on nothing the
 * caller may change later and runs off the logging hot path.
 */
export interface MediaValue {
  /** The brand: always `true`. */
  readonly [MEDIA_VALUE]: true;
  /** The kind of media, such as `"image"`. */
  readonly mediaType: string;
  /**
   * About how many bytes the value holds, so queues can count it against
   * their memory bounds before it is encoded. A fixed guess is used when
   * absent.
   */
  readonly sizeHintBytes?: number;
  /** Encodes the value into the bytes of one file. */
  encode(): Promise<EncodedMedia>;
}

/**
 * Tells whether a value is a media value (of any copy of the library).
 *
 * @param value Anything.
 * @returns Whether `value` carries the media brand and an `encode()` method.
 *
 * @example
 * ```ts
 * import { isMediaValue } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * assert.equal(isMediaValue({ loss: 1 }), false);
 * ```
 */
export function isMediaValue(value: unknown): value is MediaValue {
  return typeof value === "object" && value !== null &&
    (value as { [MEDIA_VALUE]?: unknown })[MEDIA_VALUE] === true &&
    typeof (value as { encode?: unknown }).encode === "function";
}
