// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { show, utf8Bytes } from "./_json.ts";

/**
 * An HTML fragment or page, such as a report. Encodes to a UTF-8
 * `text/html` file (`.html`); Comet shows it in the experiment's HTML tab
 * (`write/experiment/html`). The metadata holds `length`, the length of the
 * HTML in UTF-16 code units. The HTML is kept as given: it is neither
 * parsed nor sanitised.
 *
 * @example Log a small report
 * ```ts
 * import { Html } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const encoded = await new Html("<b>done</b>").encode();
 * assert.equal(encoded.contentType, "text/html");
 * assert.equal(encoded.extension, "html");
 * assert.equal(new TextDecoder().decode(encoded.data), "<b>done</b>");
 * ```
 */
export class Html implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"html"`. */
  readonly mediaType: "html" = "html";
  #html: string;

  /**
   * Creates an HTML value.
   *
   * @param html The HTML text.
   * @throws {TypeError} When `html` is not a string.
   */
  constructor(html: string) {
    if (typeof html !== "string") {
      throw new TypeError(
        `Cannot create Html as 'html' must be a string: current value is ${
          show(html)
        }`,
      );
    }
    this.#html = html;
  }

  /**
   * Encodes the HTML as UTF-8.
   *
   * @returns A `text/html` file with extension `html`.
   */
  encode(): Promise<EncodedMedia> {
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "text/html",
      extension: "html",
      data: utf8Bytes(this.#html),
      metadata: { length: this.#html.length },
    });
  }
}
