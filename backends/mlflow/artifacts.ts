// This module is browser compatible.
import { uploadStagedFile } from "../../artifact/http.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  VersionSelector,
} from "../../artifact/types.ts";
import {
  artifactDigest,
  assertSameType,
  sortEntries,
} from "../../artifact/manifest.ts";
import {
  assertAlias,
  assertArtifactName,
  formatVersionSelector,
} from "../../artifact/names.ts";
import { ArtifactNotFoundError, IntegrityError } from "../../errors/errors.ts";
import { MlflowApiError, type MlflowHttp } from "./http.ts";
import type { MlflowRunInfo } from "./backend.ts";
import { keyPath, quoteFilterValue } from "./encode.ts";

const LATEST_TAG = "uetai.latest";
const TYPE_TAG = "uetai.type";
const encoder = new TextEncoder();

interface RawVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  creation_timestamp?: number;
  tags?: { key: string; value: string }[];
}

interface RawModel {
  name: string;
  tags?: { key: string; value: string }[];
  aliases?: { alias: string; version: string }[];
}

/** What `manifest.json` beside a version's files holds. */
interface StoredManifest {
  files: (ArtifactFileEntry & { stored: string })[];
}

interface Located {
  version: RawVersion;
  tags: Record<string, string>;
}

/** Options of {@linkcode MlflowArtifactStore}. */
export interface MlflowArtifactStoreOptions {
  /** The authenticated HTTP client. */
  http: MlflowHttp;
  /** Finds or creates the MLflow run of a uetai run (the files live in its artifacts). */
  ensureRun: (runId: string) => Promise<MlflowRunInfo>;
  /** The uetai run that versions logged without a run (`createdBy`) are kept with. */
  runId?: string;
}

/**
 * uetai artifact versions in MLflow's Model Registry: one registered model
 * per artifact name (tagged `uetai.type`), one model version per logged
 * version (`v1`, `v2`, ... are MLflow's version numbers), tagged with the
 * manifest digest, size, creator and metadata; user aliases are registry
 * aliases. The files are uploaded through the artifact proxy into the
 * producing run's artifacts, at `uetai-artifacts/<name>/<digest>/files/`,
 * beside a `manifest.json` that lists each file's SHA-256 and MD5 (and its
 * stored name: `%` and `#`, which the proxy cannot store, become `_`).
 *
 * MLflow reserves the alias `latest` (its newest version); uetai's `latest`,
 * which moves back when identical content is logged again, is the
 * registered model's tag `uetai.latest`.
 *
 * @example
 * ```ts
 * import { MlflowArtifactStore, MlflowHttp } from "@uetai/uetai/mlflow";
 * import assert from "node:assert/strict";
 * const store = new MlflowArtifactStore({
 *   http: new MlflowHttp({ trackingUri: "http://127.0.0.1:9" }),
 *   ensureRun: () => Promise.reject(new Error("offline")),
 * });
 * assert.equal(store.backend, "mlflow");
 * ```
 */
export class MlflowArtifactStore implements ArtifactStore {
  /** `"mlflow"`. */
  readonly backend: string = "mlflow";
  #http: MlflowHttp;
  #ensureRun: MlflowArtifactStoreOptions["ensureRun"];
  #runId: string | undefined;
  #stored = new Map<string, { folder: string; names: Map<string, string> }>();
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Creates the store.
   *
   * @param options HTTP client, run lookup, default run.
   */
  constructor(options: MlflowArtifactStoreOptions) {
    this.#http = options.http;
    this.#ensureRun = options.ensureRun;
    this.#runId = options.runId;
  }

  /**
   * Uploads a version's files (each with a `Content-Length`, checked
   * against its SHA-256 as it goes), its manifest, then creates the model
   * version. Content identical to an existing version makes no new version:
   * the aliases and `latest` move to it.
   *
   * @param draft The version.
   * @param options Abort signal and progress.
   * @returns The stored version.
   */
  putVersion(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions = {},
  ): Promise<ArtifactManifest & { created: boolean }> {
    return this.#serial(() => this.#put(draft, options));
  }

  async #put(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions,
  ): Promise<ArtifactManifest & { created: boolean }> {
    assertArtifactName(draft.name);
    for (const alias of draft.aliases) assertRegistryAlias(alias);
    const model = await this.#model(draft.name);
    assertSameType(draft, model ? tagsOf(model.tags)[TYPE_TAG] : undefined);
    const versions = model ? await this.#versions(draft.name) : [];
    const same = versions.find((v) => v.tags["uetai.digest"] === draft.digest);
    if (same) {
      await this.#setAliases(draft.name, same.version.version, [
        ...draft.aliases,
        "latest",
      ]);
      return {
        ...(await this.#manifest(draft.name, same.version.version)),
        created: false,
      };
    }
    const runId = draft.createdBy?.runId ?? this.#runId;
    if (runId === undefined) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(draft.name)
        } to MLflow without a run: its files are kept in a run's artifacts`,
      );
    }
    const run = await this.#ensureRun(runId);
    const folder = `${run.artifactUri}/uetai-artifacts/${keyPath(draft.name)}/${
      draft.digest.slice(0, 16)
    }`;
    const names = storedNames(draft.files.map((f) => f.path));
    for (const file of draft.files) {
      await this.#upload(
        `${folder}/files/${names.get(file.path)}`,
        file,
        options,
      );
    }
    const stored: StoredManifest = {
      files: draft.files.map((f) => ({
        path: f.path,
        size: f.size,
        sha256: f.sha256,
        md5: f.md5,
        stored: names.get(f.path)!,
      })),
    };
    await this.#http.putArtifact(
      `${folder}/manifest.json`,
      encoder.encode(JSON.stringify(stored)),
      { signal: options.signal },
    );
    if (!model) {
      try {
        await this.#http.json("POST", "registered-models/create", {
          body: {
            name: draft.name,
            tags: [{ key: TYPE_TAG, value: draft.type }],
            description: `uetai artifact of type ${draft.type}`,
          },
        });
      } catch (error) {
        if (
          !(error instanceof MlflowApiError) ||
          error.errorCode !== "RESOURCE_ALREADY_EXISTS"
        ) throw error;
      }
    }
    const tags = [
      { key: "uetai.digest", value: draft.digest },
      { key: "uetai.size", value: String(draft.size) },
      { key: "uetai.files", value: String(draft.files.length) },
      { key: "uetai.createdMs", value: String(Date.now()) },
      { key: "uetai.metadata", value: JSON.stringify(draft.metadata) },
    ];
    if (draft.createdBy) {
      tags.push({
        key: "uetai.createdBy",
        value: JSON.stringify(draft.createdBy),
      });
    }
    const created = await this.#http.json<{ model_version?: RawVersion }>(
      "POST",
      "model-versions/create",
      {
        body: {
          name: draft.name,
          source: `${folder}/files`,
          run_id: run.runId,
          tags,
          description: `${draft.files.length} files, ${draft.size} bytes`,
        },
      },
    );
    const version = created.model_version?.version;
    if (typeof version !== "string") {
      throw new MlflowApiError(
        `MLflow's answer to the new version of ${
          JSON.stringify(draft.name)
        } has no version number`,
        { endpoint: "POST /api/2.0/mlflow/model-versions/create" },
      );
    }
    await this.#setAliases(draft.name, version, [...draft.aliases, "latest"]);
    return { ...(await this.#manifest(draft.name, version)), created: true };
  }

  /**
   * Finds a version by `latest`, number (`v3` is MLflow's version 3) or
   * alias.
   *
   * @param name Artifact name.
   * @param selector Which version.
   * @returns Its manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   */
  async resolveVersion(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    const wanted = formatVersionSelector(selector);
    const notFound = (why: string) =>
      new ArtifactNotFoundError(
        `MLflow has no version ${JSON.stringify(wanted)} of artifact ${
          JSON.stringify(name)
        }${why}`,
        { backend: "mlflow", artifact: name, version: wanted },
      );
    const model = await this.#model(name);
    if (!model) throw notFound(" (no registered model of that name)");
    let version: string | undefined;
    switch (selector.kind) {
      case "latest":
        version = tagsOf(model.tags)[LATEST_TAG] ??
          (await this.#versions(name)).at(-1)?.version.version;
        break;
      case "index":
        version = String(selector.index);
        break;
      case "alias":
        version = model.aliases?.find((a) => a.alias === selector.alias)
          ?.version;
        break;
      case "semver":
        version = undefined;
        break;
    }
    if (version === undefined) throw notFound("");
    try {
      return await this.#manifest(name, version, model);
    } catch (error) {
      if (
        error instanceof MlflowApiError &&
        error.errorCode === "RESOURCE_DOES_NOT_EXIST"
      ) throw notFound("");
      throw error;
    }
  }

  /**
   * Lists the versions, oldest first.
   *
   * @param name Artifact name.
   * @returns Their manifests; empty when there is no such artifact.
   */
  async listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const model = await this.#model(name);
    if (!model) return [];
    const manifests: ArtifactManifest[] = [];
    for (const located of await this.#versions(name)) {
      // Versions registered by other tools have no uetai manifest.
      if (located.tags["uetai.digest"] === undefined) continue;
      manifests.push(
        await this.#manifest(name, located.version.version, model, located),
      );
    }
    return manifests;
  }

  /**
   * Points aliases at a version (MLflow moves a registry alias by itself).
   *
   * @param name Artifact name.
   * @param version The version, such as `v2`.
   * @param aliases Aliases to set.
   * @returns The version's manifest.
   */
  setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    for (const alias of aliases) assertRegistryAlias(alias);
    return this.#serial(async () => {
      const number = mlflowVersion(name, version);
      const manifest = await this.resolveVersion(name, {
        kind: "index",
        index: Number(number),
      });
      await this.#setAliases(name, number, aliases);
      return await this.#manifest(
        name,
        mlflowVersion(manifest.name, manifest.version),
      );
    });
  }

  /**
   * Streams one file of a version from the artifact proxy.
   *
   * @param manifest The version.
   * @param file One of its files.
   * @param options Abort signal.
   * @returns The bytes.
   */
  async openFile(
    manifest: ArtifactManifest,
    file: ArtifactFileEntry,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const key = `${manifest.name}@${manifest.version}`;
    if (!this.#stored.has(key)) {
      await this.#manifest(
        manifest.name,
        mlflowVersion(manifest.name, manifest.version),
      );
    }
    const stored = this.#stored.get(key);
    const name = stored?.names.get(file.path);
    if (!stored || name === undefined) {
      throw new ArtifactNotFoundError(
        `MLflow has no file ${
          JSON.stringify(file.path)
        } in version ${manifest.version} of artifact ${
          JSON.stringify(manifest.name)
        }`,
        {
          backend: "mlflow",
          artifact: manifest.name,
          version: manifest.version,
        },
      );
    }
    const response = await this.#http.getArtifact(
      `${stored.folder}/files/${name}`,
      options.signal,
    );
    return response.body ?? new Blob([]).stream();
  }

  /**
   * Records that a run used a version, in the version's tag `uetai.uses`.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  recordUse(manifest: ArtifactManifest, usedBy: ArtifactRunRef): Promise<void> {
    return this.#serial(async () => {
      const version = mlflowVersion(manifest.name, manifest.version);
      const uses = await this.listUses(manifest.name, manifest.version);
      // The tag has a size limit: the latest 500 uses are kept.
      const kept = [...uses, usedBy].slice(-500);
      await this.#http.json("POST", "model-versions/set-tag", {
        body: {
          name: manifest.name,
          version,
          key: "uetai.uses",
          value: JSON.stringify(kept),
        },
      });
    });
  }

  /**
   * The runs that used a version, oldest first.
   *
   * @param name Artifact name.
   * @param version The version, such as `v2`.
   * @returns The runs.
   */
  async listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    try {
      const answer = await this.#http.json<{ model_version?: RawVersion }>(
        "GET",
        "model-versions/get",
        { query: { name, version: mlflowVersion(name, version) } },
      );
      const uses = tagsOf(answer.model_version?.tags)["uetai.uses"];
      return uses ? JSON.parse(uses) : [];
    } catch (error) {
      if (
        error instanceof MlflowApiError &&
        error.errorCode === "RESOURCE_DOES_NOT_EXIST"
      ) return [];
      throw error;
    }
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #model(name: string): Promise<RawModel | undefined> {
    try {
      const answer = await this.#http.json<{ registered_model?: RawModel }>(
        "GET",
        "registered-models/get",
        { query: { name } },
      );
      return answer.registered_model;
    } catch (error) {
      if (
        error instanceof MlflowApiError &&
        error.errorCode === "RESOURCE_DOES_NOT_EXIST"
      ) return undefined;
      throw error;
    }
  }

  /** Every version of a model, oldest first. */
  async #versions(name: string): Promise<Located[]> {
    const all: RawVersion[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#http.json<{
        model_versions?: RawVersion[];
        next_page_token?: string;
      }>("GET", "model-versions/search", {
        query: {
          filter: `name=${quoteFilterValue(name)}`,
          max_results: 10000,
          page_token: pageToken,
        },
      });
      all.push(...(page.model_versions ?? []));
      pageToken = page.model_versions?.length
        ? page.next_page_token
        : undefined;
    } while (pageToken);
    return all
      .sort((a, b) => Number(a.version) - Number(b.version))
      .map((version) => ({ version, tags: tagsOf(version.tags) }));
  }

  async #setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<void> {
    for (const alias of new Set(aliases)) {
      if (alias === "latest") {
        await this.#http.json("POST", "registered-models/set-tag", {
          body: { name, key: LATEST_TAG, value: version },
        });
      } else {
        await this.#http.json("POST", "registered-models/alias", {
          body: { name, alias, version },
        });
      }
    }
  }

  async #manifest(
    name: string,
    version: string,
    model?: RawModel,
    located?: Located,
  ): Promise<ArtifactManifest> {
    model ??= await this.#model(name);
    let raw = located?.version;
    if (!raw) {
      const answer = await this.#http.json<{ model_version?: RawVersion }>(
        "GET",
        "model-versions/get",
        { query: { name, version } },
      );
      raw = answer.model_version;
    }
    if (!raw || !model) {
      throw new MlflowApiError(
        `MLflow has no version ${version} of ${JSON.stringify(name)}`,
        {
          endpoint: "GET /api/2.0/mlflow/model-versions/get",
          errorCode: "RESOURCE_DOES_NOT_EXIST",
          status: 404,
        },
      );
    }
    const tags = tagsOf(raw.tags);
    const folder = raw.source.replace(/\/files$/, "");
    if (tags["uetai.digest"] === undefined || folder === raw.source) {
      throw new ArtifactNotFoundError(
        `Version ${version} of ${
          JSON.stringify(name)
        } in MLflow's registry was not logged by uetai (no uetai.digest tag); read it with getExperiment()`,
        { backend: "mlflow", artifact: name, version: `v${version}` },
      );
    }
    // Bounded: the store's calls wait on one another.
    const response = await this.#http.getArtifact(
      `${folder}/manifest.json`,
      AbortSignal.timeout(120_000),
    );
    const stored = JSON.parse(await response.text()) as StoredManifest;
    const files = sortEntries(
      stored.files.map(({ path, size, sha256, md5 }) => ({
        path,
        size,
        sha256,
        md5,
      })),
    );
    const digest = artifactDigest(files);
    if (digest !== tags["uetai.digest"]) {
      throw new IntegrityError("<manifest>", {
        algorithm: "sha256",
        expected: tags["uetai.digest"],
        actual: digest,
        artifact:
          `${name}:v${version} (its manifest.json does not match the digest logged with it)`,
      });
    }
    this.#stored.set(`${name}@v${version}`, {
      folder,
      names: new Map(stored.files.map((f) => [f.path, f.stored])),
    });
    const modelTags = tagsOf(model.tags);
    const aliases = (model.aliases ?? [])
      .filter((a) => a.version === version)
      .map((a) => a.alias);
    if ((modelTags[LATEST_TAG] ?? "") === version) aliases.push("latest");
    const manifest: ArtifactManifest = {
      name,
      type: modelTags[TYPE_TAG] ?? "",
      version: `v${version}`,
      digest,
      size: files.reduce((sum, f) => sum + f.size, 0),
      files,
      metadata: parseObject(tags["uetai.metadata"]),
      aliases: aliases.sort(),
      createdMs: Number(tags["uetai.createdMs"] ?? raw.creation_timestamp ?? 0),
    };
    const createdBy = tags["uetai.createdBy"];
    if (createdBy) manifest.createdBy = JSON.parse(createdBy);
    return manifest;
  }

  #upload(
    uri: string,
    file: ArtifactDraft["files"][number],
    options: ArtifactTransferOptions,
  ): Promise<void> {
    return uploadStagedFile(
      file,
      (body, onProgress) =>
        this.#http.putArtifact(uri, body, {
          signal: options.signal,
          onProgress,
        }),
      options,
    );
  }
}

/** MLflow's number of a uetai version (`v3` → `3`). */
function mlflowVersion(name: string, version: string): string {
  const match = /^v([1-9][0-9]*)$/.exec(version);
  if (!match) {
    throw new ArtifactNotFoundError(
      `MLflow has no version ${JSON.stringify(version)} of artifact ${
        JSON.stringify(name)
      } (its versions are named v1, v2, ...)`,
      { backend: "mlflow", artifact: name, version },
    );
  }
  return match[1];
}

function assertRegistryAlias(alias: string): void {
  assertAlias(alias);
  if (alias !== "latest" && !/^[\w-]{1,255}$/.test(alias)) {
    throw new TypeError(
      `Cannot use alias ${
        JSON.stringify(alias)
      } in MLflow's registry: expected letters, digits, '_' and '-' only`,
    );
  }
}

/** The names files are stored under: `%` and `#` (which the proxy cannot store) become `_`. */
function storedNames(paths: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const path of paths) {
    const stored = path.split("/").map((segment) =>
      segment.replace(/[%#]/g, "_")
    ).join("/");
    const other = taken.get(stored);
    if (other !== undefined && other !== path) {
      throw new TypeError(
        `Cannot store ${JSON.stringify(path)} and ${
          JSON.stringify(other)
        } in MLflow: both become ${
          JSON.stringify(stored)
        } ('%' and '#' cannot be stored by its artifact proxy)`,
      );
    }
    taken.set(stored, path);
    names.set(path, stored);
  }
  return names;
}

function tagsOf(
  tags: { key: string; value: string }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags ?? []) out[tag.key] = tag.value;
  return out;
}

function parseObject(text: string | undefined): Record<string, unknown> {
  try {
    const parsed = text ? JSON.parse(text) : {};
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? parsed
      : {};
  } catch {
    return {};
  }
}
