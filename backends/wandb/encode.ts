// This module is browser compatible.
//
// Pure encoders from uetai events to W&B's wire formats: JSON with bare
// NaN/Infinity tokens, the `{key: {value}}` config, media values of history
// rows with their run files, and artifact manifest digests.
import type { MediaEvent, ParamValue } from "../../event/types.ts";
import { createHash, toHex } from "../../artifact/hash.ts";
import { encodeBase64 } from "../../runtime/base64.ts";

const NAN = "\u0000uetai:NaN\u0000";
const POS = "\u0000uetai:Infinity\u0000";
const NEG = "\u0000uetai:-Infinity\u0000";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * JSON as W&B's client writes it: `NaN`, `Infinity` and `-Infinity` as bare
 * tokens (which `JSON.stringify` would turn into `null`).
 *
 * @param value Any JSON value.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { wandbJson } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * assert.equal(wandbJson({ a: NaN, b: -Infinity, c: 1 }), '{"a":NaN,"b":-Infinity,"c":1}');
 * ```
 */
export function wandbJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v !== "number" || Number.isFinite(v)) return v;
    return Number.isNaN(v) ? NAN : v > 0 ? POS : NEG;
  }).replaceAll(JSON.stringify(NAN), "NaN")
    .replaceAll(JSON.stringify(POS), "Infinity")
    .replaceAll(JSON.stringify(NEG), "-Infinity");
}

/** Our library, as `_wandb.cli_version` names it. */
export const CLI_VERSION = "uetai/0.1.0";

/**
 * The run config as `UpsertBucket` takes it: a JSON string of `{key:
 * {value}}`, with `_wandb.value.t` present (W&B treats a run without it as
 * never started when resuming).
 *
 * @param params The parameters.
 * @returns The JSON string.
 */
export function configJson(
  params: Readonly<Record<string, ParamValue>>,
): string {
  const config: Record<string, { value: unknown }> = {};
  for (const [key, value] of Object.entries(params)) config[key] = { value };
  config._wandb = { value: { cli_version: CLI_VERSION, t: {} } };
  return wandbJson(config);
}

/** A run file a media value needs, and the value for the history row. */
export interface WandbMedia {
  /** The value in the history row. */
  value: unknown;
  /** The file to upload, if any: run-relative path and bytes. */
  file?: { path: string; data: Uint8Array };
}

function sha256Hex(data: Uint8Array): string {
  const hash = createHash("sha256");
  hash.update(data);
  return toHex(hash.digest());
}

/** A key made safe as a file name: `/` keeps its meaning, the rest W&B's "upload safe" set. */
function safeKey(key: string): string {
  return key.split("/").map((part) =>
    part.replace(/[^\w\-. ]/g, "_").replace(/^\.+$/, "_") || "_"
  ).join("/");
}

function fileOf(
  event: MediaEvent,
  dir: string,
  ext: string,
  data: Uint8Array,
): { path: string; data: Uint8Array; sha256: string } {
  const sha256 = sha256Hex(data);
  return {
    path: `media/${dir}/${safeKey(event.key)}_${event.step}_${
      sha256.slice(0, 20)
    }.${ext}`,
    data,
    sha256,
  };
}

function table(
  event: MediaEvent,
  columns: unknown[],
  rows: unknown[][],
): WandbMedia {
  const data = encoder.encode(wandbJson({ columns, data: rows }));
  const file = fileOf(event, "table", "table.json", data);
  return {
    value: {
      _type: "table-file",
      path: file.path,
      sha256: file.sha256,
      size: data.length,
      ncols: columns.length,
      nrows: rows.length,
      log_mode: "IMMUTABLE",
    },
    file,
  };
}

/**
 * A media value as W&B's SDK writes it: images, audio, HTML, tables and
 * model graphs as run files under `media/<kind>/<key>_<step>_<sha20>.<ext>`
 * referenced from the history row; histograms inline
 * (`{_type: "histogram", values, bins}`); text samples, confusion matrices
 * and curves as tables.
 *
 * @param event The media event, with its bytes.
 * @returns The history value and the file to upload.
 */
export function wandbMedia(event: MediaEvent): WandbMedia {
  const meta = event.metadata ?? {};
  const json = (): Record<string, unknown> =>
    JSON.parse(decoder.decode(event.data));
  switch (event.mediaType) {
    case "image": {
      const ext = event.extension ?? "png";
      const file = fileOf(event, "images", ext, event.data);
      const value: Record<string, unknown> = {
        _type: "image-file",
        path: file.path,
        sha256: file.sha256,
        size: event.data.length,
        format: ext,
      };
      if (typeof meta.width === "number") value.width = meta.width;
      if (typeof meta.height === "number") value.height = meta.height;
      if (typeof meta.caption === "string") value.caption = meta.caption;
      return { value, file };
    }
    case "audio": {
      const file = fileOf(event, "audio", event.extension ?? "wav", event.data);
      const value: Record<string, unknown> = {
        _type: "audio-file",
        path: file.path,
        sha256: file.sha256,
        size: event.data.length,
      };
      if (typeof meta.caption === "string") value.caption = meta.caption;
      return { value, file };
    }
    case "html": {
      const file = fileOf(event, "html", "html", event.data);
      return {
        value: {
          _type: "html-file",
          path: file.path,
          sha256: file.sha256,
          size: event.data.length,
        },
        file,
      };
    }
    case "graph": {
      const parsed = json() as {
        text?: string;
        nodes?: { id: string; label?: string; op?: string }[];
        edges?: { from: string; to: string }[];
      };
      const data = encoder.encode(JSON.stringify({
        format: "uetai",
        text: parsed.text,
        nodes: (parsed.nodes ?? []).map((n) => ({
          id: n.id,
          name: n.label ?? n.id,
          class_name: n.op ?? "",
        })),
        edges: (parsed.edges ?? []).map((e) => [e.from, e.to]),
      }));
      const file = fileOf(event, "graph", "graph.json", data);
      return {
        value: {
          _type: "graph-file",
          path: file.path,
          sha256: file.sha256,
          size: data.length,
        },
        file,
      };
    }
    case "histogram": {
      const parsed = json() as { counts: number[]; edges: number[] };
      return {
        value: {
          _type: "histogram",
          values: parsed.counts,
          bins: parsed.edges,
        },
      };
    }
    case "table": {
      const parsed = json() as { columns: unknown[]; rows: unknown[][] };
      return table(event, parsed.columns, parsed.rows);
    }
    case "text":
      return table(event, ["text"], [[decoder.decode(event.data)]]);
    case "confusion_matrix": {
      const parsed = json() as { labels: string[]; matrix: number[][] };
      const rows: unknown[][] = [];
      parsed.labels.forEach((actual, i) =>
        parsed.labels.forEach((predicted, j) =>
          rows.push([actual, predicted, parsed.matrix[i][j]])
        )
      );
      return table(event, ["Actual", "Predicted", "nPredictions"], rows);
    }
    case "curve": {
      const parsed = json() as { x: number[]; y: number[] };
      return table(event, ["x", "y"], parsed.x.map((x, i) => [x, parsed.y[i]]));
    }
    default: {
      const file = fileOf(
        event,
        safeKey(event.mediaType),
        event.extension ?? "bin",
        event.data,
      );
      return {
        value: {
          _type: "file",
          path: file.path,
          sha256: file.sha256,
          size: event.data.length,
        },
        file,
      };
    }
  }
}

/**
 * W&B's artifact digest: hex MD5 of `wandb-artifact-manifest-v1\n` and, per
 * entry sorted by path, `<path>:<base64 MD5>\n`.
 *
 * @param entries Path and base64 MD5 of each file.
 * @returns The digest.
 *
 * @example
 * ```ts
 * import { wandbManifestDigest } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   wandbManifestDigest([{ path: "f.txt", md5: "XUFAKrxLKna5cZ2REBfFkg==" }]),
 *   "b3c712c65ff5236425889b9284087b12",
 * );
 * ```
 */
export function wandbManifestDigest(
  entries: readonly { path: string; md5: string }[],
): string {
  const hash = createHash("md5");
  hash.update(encoder.encode("wandb-artifact-manifest-v1\n"));
  for (
    const entry of [...entries].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0
    )
  ) {
    hash.update(encoder.encode(`${entry.path}:${entry.md5}\n`));
  }
  return toHex(hash.digest());
}

/**
 * Base64 MD5 of bytes (the manifest file's digest).
 *
 * @param data The bytes.
 * @returns The digest.
 */
export function md5Base64(data: Uint8Array): string {
  const hash = createHash("md5");
  hash.update(data);
  return encodeBase64(hash.digest());
}

/**
 * A random id of `length` characters `[a-z0-9]` (W&B's `clientID`).
 *
 * @param length How long.
 * @returns The id.
 */
export function randomClientId(length = 128): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/**
 * Parses W&B's JSON, which may hold bare `NaN`, `Infinity` and `-Infinity`
 * tokens (as `wandbJson` writes them); they become those numbers. Text
 * inside strings is left alone.
 *
 * @param text The JSON text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSON even so.
 *
 * @example
 * ```ts
 * import { parseWandbJson } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseWandbJson('{"a":NaN,"b":"NaN","c":-Infinity}'), {
 *   a: NaN,
 *   b: "NaN",
 *   c: -Infinity,
 * });
 * ```
 */
export function parseWandbJson(text: string): unknown {
  let out = "";
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    for (
      const [token, marker] of [
        ["-Infinity", NEG],
        ["Infinity", POS],
        ["NaN", NAN],
      ] as const
    ) {
      if (text.startsWith(token, i)) {
        out += text.slice(start, i) + JSON.stringify(marker);
        i += token.length - 1;
        start = i + 1;
        break;
      }
    }
  }
  out += text.slice(start);
  return JSON.parse(
    out,
    (_key, value) =>
      value === NAN
        ? NaN
        : value === POS
        ? Infinity
        : value === NEG
        ? -Infinity
        : value,
  );
}
