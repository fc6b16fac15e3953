// This module is browser compatible.
import type { ArtifactFileEntry, VersionSelector } from "./types.ts";

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const INDEX_PATTERN = /^v(0|[1-9][0-9]{0,14})$/;
/** Malformed version numbers (`v-1`, `v01`, `v1.5`): neither index nor alias. */
const INDEX_LIKE_PATTERN = /^v[-+]?[0-9][0-9.]*$/;
const SEMVER_PATTERN =
  /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const MAX_PATH_LENGTH = 1024;

/**
 * Checks an artifact name: letters, digits, `_`, `-` and `.`, starting with
 * a letter or digit, at most 128 characters (what every backend accepts).
 *
 * @param name The name.
 * @throws {TypeError} Naming the value and what was expected.
 *
 * @example
 * ```ts
 * import { assertArtifactName } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assertArtifactName("mnist-mlp");
 * assert.throws(() => assertArtifactName("../model"), TypeError);
 * ```
 */
export function assertArtifactName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new TypeError(
      `Cannot use artifact name ${
        JSON.stringify(name)
      }: expected 1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
}

/**
 * Checks an alias a user wants to point at a version: the form of a name
 * that is neither a version index (`v3`) nor a semver string.
 *
 * @param alias The alias.
 * @throws {TypeError} Naming the value and what was expected.
 *
 * @example
 * ```ts
 * import { assertAlias } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assertAlias("best");
 * assert.throws(() => assertAlias("v2"), TypeError);
 * ```
 */
export function assertAlias(alias: unknown): asserts alias is string {
  if (
    typeof alias !== "string" || !NAME_PATTERN.test(alias) ||
    INDEX_PATTERN.test(alias) || INDEX_LIKE_PATTERN.test(alias) ||
    SEMVER_PATTERN.test(alias)
  ) {
    throw new TypeError(
      `Cannot use alias ${
        JSON.stringify(alias)
      }: expected 1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit, and not a version such as "v3" or "1.0.0"`,
    );
  }
}

/**
 * Parses a version selector: `undefined` or `"latest"`, a version number
 * (`3` or `"v3"`), a semver string (`"1.0.0"`) or an alias (`"best"`).
 *
 * @param version The selector as the user wrote it.
 * @returns The parsed selector.
 * @throws {TypeError} When it is none of those.
 *
 * @example
 * ```ts
 * import { parseVersionSelector } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseVersionSelector("v3"), { kind: "index", index: 3 });
 * assert.deepEqual(parseVersionSelector(3), { kind: "index", index: 3 });
 * assert.deepEqual(parseVersionSelector("1.0.0"), { kind: "semver", version: "1.0.0" });
 * assert.deepEqual(parseVersionSelector(undefined), { kind: "latest" });
 * assert.deepEqual(parseVersionSelector("best"), { kind: "alias", alias: "best" });
 * ```
 */
export function parseVersionSelector(
  version: string | number | undefined,
): VersionSelector {
  if (version === undefined || version === "latest") return { kind: "latest" };
  if (typeof version === "number") {
    if (Number.isSafeInteger(version) && version >= 0) {
      return { kind: "index", index: version };
    }
  } else if (typeof version === "string") {
    const index = INDEX_PATTERN.exec(version);
    if (index) return { kind: "index", index: Number(index[1]) };
    if (SEMVER_PATTERN.test(version)) return { kind: "semver", version };
    if (NAME_PATTERN.test(version) && !INDEX_LIKE_PATTERN.test(version)) {
      return { kind: "alias", alias: version };
    }
  }
  throw new TypeError(
    `Cannot select artifact version ${
      typeof version === "string" ? JSON.stringify(version) : String(version)
    }: expected "latest", a version number such as 3 or "v3", a semver string such as "1.0.0", or an alias`,
  );
}

/**
 * Reads the number of a version named `v<N>` (the local store's and W&B's
 * form).
 *
 * @param version Such as `"v3"`.
 * @returns `3`, or `undefined` when `version` is not of that form.
 *
 * @example
 * ```ts
 * import { parseVersionIndex } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.equal(parseVersionIndex("v3"), 3);
 * assert.equal(parseVersionIndex("v03"), undefined);
 * ```
 */
export function parseVersionIndex(version: string): number | undefined {
  const match = INDEX_PATTERN.exec(version);
  return match ? Number(match[1]) : undefined;
}

/**
 * Writes a selector back as text, for messages.
 *
 * @param selector A parsed selector.
 * @returns Such as `"v3"`, `"1.0.0"`, `"latest"` or `"best"`.
 *
 * @example
 * ```ts
 * import { formatVersionSelector } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.equal(formatVersionSelector({ kind: "index", index: 2 }), "v2");
 * ```
 */
export function formatVersionSelector(selector: VersionSelector): string {
  switch (selector.kind) {
    case "latest":
      return "latest";
    case "index":
      return `v${selector.index}`;
    case "semver":
      return selector.version;
    case "alias":
      return selector.alias;
  }
}

/**
 * Checks one path inside an artifact before anything is written for it:
 * relative, `/`-separated, no empty, `.` or `..` segment, no backslash, no
 * drive letter, no NUL or other control character, at most 1024 characters.
 * The same rule applies to what is logged and to manifests being downloaded,
 * so no manifest can make a download write outside its folder.
 *
 * @param path The path inside the artifact.
 * @throws {TypeError} Naming the path and what was expected.
 *
 * @example
 * ```ts
 * import { assertArtifactPath } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assertArtifactPath("weights/layer1.bin");
 * assert.throws(() => assertArtifactPath("../../etc/passwd"), TypeError);
 * assert.throws(() => assertArtifactPath("C:/Windows/x"), TypeError);
 * ```
 */
export function assertArtifactPath(path: unknown): asserts path is string {
  let problem: string | undefined;
  if (typeof path !== "string" || path === "") {
    problem = "it is not a non-empty string";
  } else if (path.length > MAX_PATH_LENGTH) {
    problem = `it is longer than ${MAX_PATH_LENGTH} characters`;
    // deno-lint-ignore no-control-regex
  } else if (/[\u0000-\u001f\u007f]/.test(path)) {
    problem = "it contains NUL or another control character";
  } else if (path.includes("\\")) {
    problem = "it contains a backslash";
  } else if (path.startsWith("/")) {
    problem = "it is absolute";
  } else if (/^[A-Za-z]:/.test(path)) {
    problem = "it starts with a drive letter";
  } else if (
    path.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    problem = "it has an empty, '.' or '..' segment";
  }
  if (problem !== undefined) {
    throw new TypeError(
      `Cannot use artifact file path ${
        typeof path === "string" ? JSON.stringify(path) : String(path)
      }: ${problem}; expected a relative path such as "weights/model.bin"`,
    );
  }
}

/**
 * Checks every path of a list of entries and that no two collide: the same
 * path twice, or a file that is also a folder of another (`a` and `a/b`).
 *
 * @param entries The entries.
 * @throws {TypeError} Naming the first bad or colliding path.
 *
 * @example
 * ```ts
 * import { assertArtifactPaths } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 * assert.throws(() => assertArtifactPaths([{ path: "a" }, { path: "a/b" }]), TypeError);
 * ```
 */
export function assertArtifactPaths(
  entries: readonly Pick<ArtifactFileEntry, "path">[],
): void {
  const files = new Set<string>();
  for (const { path } of entries) {
    assertArtifactPath(path);
    if (files.has(path)) {
      throw new TypeError(
        `Cannot use artifact file path ${
          JSON.stringify(path)
        }: it appears twice; expected each path once`,
      );
    }
    files.add(path);
  }
  for (const path of files) {
    let slash = path.indexOf("/");
    while (slash !== -1) {
      const folder = path.slice(0, slash);
      if (files.has(folder)) {
        throw new TypeError(
          `Cannot use artifact file path ${JSON.stringify(path)}: ${
            JSON.stringify(folder)
          } is a file in the same artifact`,
        );
      }
      slash = path.indexOf("/", slash + 1);
    }
  }
}
