// This module is browser compatible.
import { createHash, toHex } from "./hash.ts";
import type { ArtifactFileEntry } from "./types.ts";

const textEncoder = new TextEncoder();

/** First line of the text an artifact digest is taken over. */
export const DIGEST_HEADER = "uetai-artifact-manifest-v1\n";

/**
 * Sorts entries by path (UTF-16 code unit order, the order every JavaScript
 * runtime sorts strings in), as manifests list them.
 *
 * @param entries The entries.
 * @returns A sorted copy.
 *
 * @example
 * ```ts
 * import { sortEntries } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const sorted = sortEntries([{ path: "b" }, { path: "a" }]);
 * assert.deepEqual(sorted.map((e) => e.path), ["a", "b"]);
 * ```
 */
export function sortEntries<T extends { path: string }>(
  entries: readonly T[],
): T[] {
  return [...entries].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
}

/**
 * The digest of an artifact version: SHA-256 (lowercase hex) over
 * `uetai-artifact-manifest-v1\n` followed by one line
 * `<sha256> <size> <path>\n` per file, sorted by path. It depends on the
 * content and the paths only, so logging the same files again finds the
 * version that already holds them.
 *
 * @param entries The files (any order).
 * @returns The digest.
 *
 * @example
 * ```ts
 * import { artifactDigest } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * const a = { path: "a.txt", size: 1, sha256: "00".repeat(32) };
 * const b = { path: "b.txt", size: 2, sha256: "11".repeat(32) };
 * assert.equal(artifactDigest([a, b]), artifactDigest([b, a]));
 * assert.notEqual(artifactDigest([a]), artifactDigest([b]));
 * ```
 */
export function artifactDigest(
  entries: readonly Pick<ArtifactFileEntry, "path" | "size" | "sha256">[],
): string {
  const hash = createHash("sha256");
  hash.update(textEncoder.encode(DIGEST_HEADER));
  for (const entry of sortEntries(entries)) {
    hash.update(
      textEncoder.encode(`${entry.sha256} ${entry.size} ${entry.path}\n`),
    );
  }
  return toHex(hash.digest());
}

/**
 * The aliases that point at a version, sorted.
 *
 * @param aliases Alias → version pairs (a `Map` or `Object.entries(...)`).
 * @param version The version.
 * @returns Its aliases.
 *
 * @example
 * ```ts
 * import { aliasesOf } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.deepEqual(aliasesOf([["latest", "v1"], ["best", "v1"], ["old", "v0"]], "v1"), ["best", "latest"]);
 * ```
 */
export function aliasesOf(
  aliases: Iterable<readonly [string, string]>,
  version: string,
): string[] {
  const found: string[] = [];
  for (const [alias, target] of aliases) {
    if (target === version) found.push(alias);
  }
  return found.sort();
}

/**
 * Checks that a new version keeps the type of the artifact's earlier
 * versions (an artifact has one type, as in W&B).
 *
 * @param draft The new version's name and type.
 * @param existingType The type of the earlier versions, if any.
 * @throws {TypeError} Naming both types.
 *
 * @example
 * ```ts
 * import { assertSameType } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assertSameType({ name: "m", type: "model" }, undefined);
 * assert.throws(() => assertSameType({ name: "m", type: "dataset" }, "model"), TypeError);
 * ```
 */
export function assertSameType(
  draft: { name: string; type: string },
  existingType: string | undefined,
): void {
  if (existingType !== undefined && existingType !== draft.type) {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(draft.name)} as type ${
        JSON.stringify(draft.type)
      }: its versions are of type ${JSON.stringify(existingType)}`,
    );
  }
}
