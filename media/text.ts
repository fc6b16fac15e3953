// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { copyJsonObject, show, utf8Bytes } from "./_json.ts";

/** Options of {@linkcode Text}. */
export interface TextOptions {
  /**
   * JSON description kept with the text (Comet sends it as the text sample's
   * metadata). The key `length` is reserved.
   * @default {{}}
   */
  metadata?: Record<string, unknown>;
}

/**
 * A text sample, such as a generated sentence. Encodes to a UTF-8
 * `text/plain` file (`.txt`), like Comet's `log_text` (asset type
 * `text-sample`). The metadata holds the caller's metadata plus `length`,
 * the length of the text in UTF-16 code units (JavaScript's `length`).
 *
 * @example Log a generated sentence
 * ```ts
 * import { Text } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const sample = new Text("Hello, world", { metadata: { epoch: 3 } });
 * const encoded = await sample.encode();
 * assert.equal(encoded.contentType, "text/plain");
 * assert.equal(new TextDecoder().decode(encoded.data), "Hello, world");
 * assert.deepEqual(encoded.metadata, { epoch: 3, length: 12 });
 * ```
 */
export class Text implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"text"`. */
  readonly mediaType: "text" = "text";
  #text: string;
  #metadata: Record<string, unknown>;

  /**
   * Creates a text sample; the text and the metadata are copied.
   *
   * @param text The text.
   * @param options The metadata to keep with it.
   * @throws {TypeError} When `text` is not a string or the metadata is not a JSON object.
   * @throws {RangeError} When the metadata uses the reserved key `length`.
   */
  constructor(text: string, options: TextOptions = {}) {
    if (typeof text !== "string") {
      throw new TypeError(
        `Cannot create Text as 'text' must be a string: current value is ${
          show(text)
        }`,
      );
    }
    const metadata = copyJsonObject(
      options?.metadata ?? {},
      "Cannot create Text",
      "metadata",
    );
    if (Object.hasOwn(metadata, "length")) {
      throw new RangeError(
        `Cannot create Text as 'metadata' must not use the reserved key "length": current value is ${
          show(metadata.length)
        }`,
      );
    }
    this.#text = text;
    this.#metadata = metadata;
  }

  /**
   * Encodes the text as UTF-8.
   *
   * @returns A `text/plain` file with extension `txt`.
   */
  encode(): Promise<EncodedMedia> {
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "text/plain",
      extension: "txt",
      data: utf8Bytes(this.#text),
      metadata: {
        ...structuredClone(this.#metadata),
        length: this.#text.length,
      },
    });
  }
}
