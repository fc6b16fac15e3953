// This module is browser compatible.
import { uploadStagedFile } from "../../artifact/http.ts";
import { randomHexId } from "../../runtime/values.ts";
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
import { CometApiError, type CometHttp } from "./http.ts";
import type { CometExperimentInfo } from "./backend.ts";
import { isExperimentKey } from "./encode.ts";

/** What a version's `versionMetadata` holds under this key: the uetai manifest's summary. */
const META_KEY = "uetai";
const NO_ARTIFACT = 624522;
const NO_VERSION = 624523;

interface CometVersionDetail {
  artifactVersionId: string;
  artifactVersion: string;
  alias?: string[] | null;
  tags?: string[] | null;
  metadata?: string | null;
  state?: string;
  experimentKey?: string;
  added?: number | string;
}

interface CometArtifactDetail {
  artifactId: string;
  artifactName: string;
  artifactType: string;
  versions?: CometVersionDetail[];
}

interface CometArtifactFile {
  assetId: string;
  fileName: string;
  fileSize: number;
  metadata?: string | null;
  remote?: boolean;
}

interface UetaiVersionMeta {
  digest: string;
  size: number;
  createdMs: number;
  createdBy?: ArtifactRunRef;
  uses?: ArtifactRunRef[];
}

interface Located {
  type: string;
  detail: CometVersionDetail;
  user: Record<string, unknown>;
  meta: UetaiVersionMeta | undefined;
}

/** Options of {@linkcode CometArtifactStore}. */
export interface CometArtifactStoreOptions {
  /** The authenticated HTTP client. */
  http: CometHttp;
  /** The workspace holding the artifacts. */
  workspace: string;
  /**
   * The experiment that versions logged without a run (`createdBy`) belong
   * to; Comet keeps every version with an experiment.
   */
  experimentKey?: string;
  /** Creates (or finds) the experiment of a run, which artifact calls need. */
  ensureExperiment: (
    runId: string,
    signal?: AbortSignal,
  ) => Promise<CometExperimentInfo>;
}

/**
 * uetai artifact versions kept as Comet artifacts: a version per content,
 * numbered by Comet's semantic versions (`1.0.0`, then `2.0.0`, ...: Comet
 * bumps the major version when none is given), with the user's aliases and
 * metadata. Each file is an asset of the version whose metadata holds its
 * SHA-256 and MD5, and the version's metadata holds the manifest digest
 * under `uetai`, so a download is verified file by file and as a whole.
 * `latest` is kept as a Comet alias on the version logged last.
 *
 * @example
 * ```ts
 * import { CometArtifactStore, CometHttp } from "@uetai/uetai/comet";
 * import assert from "node:assert/strict";
 * const store = new CometArtifactStore({
 *   http: new CometHttp({ apiKey: "k3y", rootUrl: "http://127.0.0.1:9" }),
 *   workspace: "ws",
 *   ensureExperiment: () => Promise.reject(new Error("offline")),
 * });
 * assert.equal(store.backend, "comet");
 * ```
 */
export class CometArtifactStore implements ArtifactStore {
  /** `"comet"`. */
  readonly backend: string = "comet";
  #http: CometHttp;
  #workspace: string;
  #ensureExperiment: CometArtifactStoreOptions["ensureExperiment"];
  #experimentKey: string | undefined;
  #files = new Map<
    string,
    { versionId: string; experimentKey: string; assets: Map<string, string> }
  >();
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Creates the store.
   *
   * @param options HTTP client, workspace and experiment lookup.
   */
  constructor(options: CometArtifactStoreOptions) {
    this.#http = options.http;
    this.#workspace = options.workspace;
    this.#ensureExperiment = options.ensureExperiment;
    this.#experimentKey = options.experimentKey;
  }

  /**
   * Uploads a version: upsert, one upload per file against the version,
   * then `CLOSED` (or `ERROR` when an upload failed). Content identical to
   * an existing version makes no new version: the aliases move to it.
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
    const signal = options.signal;
    const artifact = await this.#artifact(draft.name);
    assertSameType(draft, artifact?.artifactType);
    const versions = this.#closed(artifact);
    const same = versions.find((v) =>
      v.meta?.digest === draft.digest && v.detail.state !== "ERROR"
    );
    if (same) {
      const manifest = await this.#relabel(
        draft.name,
        versions,
        same,
        [...draft.aliases, "latest"],
      );
      return { ...manifest, created: false };
    }
    // The producing run's experiment; a run that cannot be a Comet
    // experiment (another backend's id) leaves the store's own.
    const runId = isExperimentKey(draft.createdBy?.runId)
      ? draft.createdBy.runId
      : this.#experimentKey;
    if (runId === undefined) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(draft.name)
        } to Comet without the run logging it: Comet keeps every version with its experiment`,
      );
    }
    const experiment = await this.#ensureExperiment(runId, signal);
    const createdMs = Date.now();
    const meta: UetaiVersionMeta = {
      digest: draft.digest,
      size: draft.size,
      createdMs,
    };
    if (draft.createdBy) meta.createdBy = draft.createdBy;
    const upsert = await this.#http.json<
      { artifactVersionId?: unknown; currentVersion?: unknown }
    >("POST", "/api/rest/v2/write/artifacts/upsert", {
      body: {
        artifactName: draft.name,
        artifactType: draft.type,
        experimentKey: runId,
        versionMetadata: JSON.stringify({
          ...draft.metadata,
          [META_KEY]: meta,
        }),
        alias: draft.aliases,
      },
      signal,
    });
    const versionId = upsert.artifactVersionId;
    const version = upsert.currentVersion;
    if (typeof versionId !== "string" || typeof version !== "string") {
      throw new CometApiError(
        `Comet's answer to the upsert of artifact ${
          JSON.stringify(draft.name)
        } has no artifactVersionId or currentVersion`,
        {
          endpoint: "POST /api/rest/v2/write/artifacts/upsert",
          retryable: false,
        },
      );
    }
    try {
      for (const file of draft.files) {
        await this.#uploadFile(experiment, versionId, file, options);
      }
    } catch (error) {
      await this.#setState(versionId, runId, "ERROR").catch(() => {});
      throw error;
    }
    await this.#setState(versionId, runId, "CLOSED", signal);
    const after = this.#closed(await this.#artifact(draft.name));
    const created = after.find((v) => v.detail.artifactVersionId === versionId);
    if (!created) {
      throw new CometApiError(
        `Comet does not list version ${version} of artifact ${
          JSON.stringify(draft.name)
        } after closing it`,
        { endpoint: "GET /api/rest/v2/artifacts/get", retryable: false },
      );
    }
    const manifest = await this.#relabel(draft.name, after, created, [
      "latest",
    ]);
    return { ...manifest, created: true };
  }

  /**
   * Finds a version by `latest`, index (`vN`: the N-th version, oldest
   * first), semantic version or alias.
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
    const versions = this.#closed(await this.#artifact(name));
    let found: Located | undefined;
    switch (selector.kind) {
      case "latest":
        found =
          versions.find((v) => (v.detail.alias ?? []).includes("latest")) ??
            versions[versions.length - 1];
        break;
      case "index":
        found = versions[selector.index];
        break;
      case "semver":
        found = versions.find((v) =>
          v.detail.artifactVersion === selector.version
        );
        break;
      case "alias":
        found = versions.find((v) =>
          (v.detail.alias ?? []).includes(selector.alias)
        );
        break;
    }
    if (!found) {
      const wanted = formatVersionSelector(selector);
      throw new ArtifactNotFoundError(
        versions.length === 0
          ? `Comet has no artifact ${JSON.stringify(name)} in workspace ${
            JSON.stringify(this.#workspace)
          }`
          : `Comet has no version ${JSON.stringify(wanted)} of artifact ${
            JSON.stringify(name)
          } (versions: ${
            versions.map((v) => v.detail.artifactVersion).join(", ")
          })`,
        { backend: "comet", artifact: name, version: wanted },
      );
    }
    return await this.#manifest(name, found);
  }

  /**
   * Lists the closed versions, oldest first.
   *
   * @param name Artifact name.
   * @returns Their manifests; empty when there is no such artifact.
   */
  async listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const versions = this.#closed(await this.#artifact(name));
    const manifests: ArtifactManifest[] = [];
    for (const version of versions) {
      manifests.push(await this.#manifest(name, version));
    }
    return manifests;
  }

  /**
   * Points aliases at a version, taking them from the others.
   *
   * @param name Artifact name.
   * @param version The semantic version.
   * @param aliases Aliases to add.
   * @returns The version's manifest.
   */
  setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    for (const alias of aliases) assertAlias(alias);
    return this.#serial(async () => {
      const versions = this.#closed(await this.#artifact(name));
      const target = versions.find((v) => v.detail.artifactVersion === version);
      if (!target) {
        throw new ArtifactNotFoundError(
          `Comet has no version ${JSON.stringify(version)} of artifact ${
            JSON.stringify(name)
          }`,
          { backend: "comet", artifact: name, version },
        );
      }
      return await this.#relabel(name, versions, target, aliases);
    });
  }

  /**
   * Streams one file of a version from Comet.
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
    let located = this.#files.get(`${manifest.name}@${manifest.version}`);
    if (!located) {
      await this.resolveVersion(manifest.name, {
        kind: "semver",
        version: manifest.version,
      });
      located = this.#files.get(`${manifest.name}@${manifest.version}`);
    }
    const assetId = located?.assets.get(file.path);
    if (!located || assetId === undefined) {
      throw new ArtifactNotFoundError(
        `Comet has no file ${
          JSON.stringify(file.path)
        } in version ${manifest.version} of artifact ${
          JSON.stringify(manifest.name)
        }`,
        {
          backend: "comet",
          artifact: manifest.name,
          version: manifest.version,
        },
      );
    }
    const response = await this.#http.stream(
      "/api/rest/v2/experiment/asset/get-asset",
      {
        query: {
          assetId,
          experimentKey: located.experimentKey,
          artifactVersionId: located.versionId,
        },
        signal: options.signal,
      },
    );
    if (!response.body) return new Blob([]).stream();
    return response.body;
  }

  /**
   * Records that a run used a version: Comet's lineage (the version is read
   * with the run as `consumerExperimentKey`), and the run in the version's
   * metadata, which `listUses` reads.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  recordUse(manifest: ArtifactManifest, usedBy: ArtifactRunRef): Promise<void> {
    return this.#serial(async () => {
      const versions = this.#closed(await this.#artifact(manifest.name));
      const target = versions.find((v) =>
        v.detail.artifactVersion === manifest.version
      );
      if (!target) return;
      try {
        await this.#ensureExperiment(usedBy.runId);
        await this.#http.json("GET", "/api/rest/v2/artifacts/version", {
          query: {
            workspace: this.#workspace,
            artifactName: manifest.name,
            version: manifest.version,
            consumerExperimentKey: usedBy.runId,
          },
        });
      } catch {
        // A run id that cannot be an experiment key: only the metadata keeps it.
      }
      const meta = target.meta;
      if (!meta) return;
      const uses = [...(meta.uses ?? []), usedBy];
      await this.#labels(target.detail.artifactVersionId, {
        versionMetadata: JSON.stringify({
          ...target.user,
          [META_KEY]: { ...meta, uses },
        }),
      });
    });
  }

  /**
   * The runs that used a version, oldest first.
   *
   * @param name Artifact name.
   * @param version The semantic version.
   * @returns The runs.
   */
  async listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    const versions = this.#closed(await this.#artifact(name));
    const target = versions.find((v) => v.detail.artifactVersion === version);
    return [...(target?.meta?.uses ?? [])];
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #artifact(name: string): Promise<CometArtifactDetail | undefined> {
    try {
      return await this.#http.json<CometArtifactDetail>(
        "GET",
        "/api/rest/v2/artifacts/get",
        { query: { workspace: this.#workspace, artifactName: name } },
      );
    } catch (error) {
      if (
        error instanceof CometApiError &&
        (error.sdkErrorCode === NO_ARTIFACT || error.status === 404)
      ) return undefined;
      throw error;
    }
  }

  /** The closed versions, oldest first (by semantic version). */
  #closed(artifact: CometArtifactDetail | undefined): Located[] {
    const versions = (artifact?.versions ?? [])
      .filter((v) => v.state === undefined || v.state === "CLOSED")
      .map((detail): Located => {
        let user: Record<string, unknown> = {};
        try {
          const parsed = detail.metadata ? JSON.parse(detail.metadata) : {};
          if (parsed && typeof parsed === "object") user = { ...parsed };
        } catch {
          // Metadata that is not JSON: not ours.
        }
        const meta = user[META_KEY] as UetaiVersionMeta | undefined;
        delete user[META_KEY];
        return {
          type: artifact?.artifactType ?? "",
          detail,
          user,
          meta: meta && typeof meta.digest === "string" ? meta : undefined,
        };
      });
    return versions.sort((a, b) =>
      compareSemver(a.detail.artifactVersion, b.detail.artifactVersion)
    );
  }

  async #relabel(
    name: string,
    versions: readonly Located[],
    target: Located,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    for (const other of versions) {
      if (other === target) continue;
      const current = other.detail.alias ?? [];
      const kept = current.filter((a) => !aliases.includes(a));
      if (kept.length !== current.length) {
        await this.#labels(other.detail.artifactVersionId, { alias: kept });
        other.detail.alias = kept;
      }
    }
    const current = target.detail.alias ?? [];
    const merged = [...new Set([...current, ...aliases])];
    if (merged.length !== current.length) {
      await this.#labels(target.detail.artifactVersionId, { alias: merged });
      target.detail.alias = merged;
    }
    return await this.#manifest(name, target);
  }

  async #labels(
    versionId: string,
    fields: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#http.json(
      "POST",
      "/api/rest/v2/write/artifacts/version/labels",
      {
        body: { artifactVersionId: versionId, ...fields },
        signal,
      },
    );
  }

  async #setState(
    versionId: string,
    experimentKey: string,
    state: "CLOSED" | "ERROR",
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#http.json("POST", "/api/rest/v2/write/artifacts/state", {
      body: { artifactVersionId: versionId, experimentKey, state },
      signal,
    });
  }

  async #uploadFile(
    experiment: CometExperimentInfo,
    versionId: string,
    file: ArtifactDraft["files"][number],
    options: ArtifactTransferOptions,
  ): Promise<void> {
    const dot = file.path.lastIndexOf(".");
    const slash = file.path.lastIndexOf("/");
    const extension = dot > slash + 1 ? file.path.slice(dot + 1) : undefined;
    const assetId = randomHexId();
    await uploadStagedFile(file, async (body, onProgress) => {
      await this.#http.upload(
        "/clientlib/asset/upload",
        [
          { name: "file", filename: "file", value: body },
          {
            name: "metadata",
            value: JSON.stringify({ sha256: file.sha256, md5: file.md5 }),
          },
        ],
        {
          auth: "query",
          query: {
            experimentId: experiment.experimentKey,
            projectId: experiment.projectId,
            runId: experiment.cometRunId,
            assetId,
            fileName: file.path,
            overwrite: "false",
            extension,
            artifactVersionId: versionId,
          },
          signal: options.signal,
          onProgress,
        },
      );
    }, options);
  }

  async #manifest(name: string, located: Located): Promise<ArtifactManifest> {
    const { detail, meta, user, type } = located;
    const listing = await this.#http.json<{ files?: CometArtifactFile[] }>(
      "GET",
      "/api/rest/v2/artifacts/version/files",
      {
        query: {
          workspace: this.#workspace,
          artifactName: name,
          version: detail.artifactVersion,
        },
      },
    ).catch((error) => {
      if (error instanceof CometApiError && error.sdkErrorCode === NO_VERSION) {
        return { files: [] };
      }
      throw error;
    });
    const assets = new Map<string, string>();
    const files: ArtifactFileEntry[] = [];
    for (const file of listing.files ?? []) {
      if (file.remote) continue;
      let digests: { sha256?: unknown; md5?: unknown } = {};
      try {
        digests = file.metadata ? JSON.parse(file.metadata) : {};
      } catch {
        // Not ours.
      }
      assets.set(file.fileName, file.assetId);
      files.push({
        path: file.fileName,
        size: file.fileSize,
        sha256: typeof digests.sha256 === "string" ? digests.sha256 : "",
        md5: typeof digests.md5 === "string" ? digests.md5 : "",
      });
    }
    const sorted = sortEntries(files);
    const digest = artifactDigest(sorted);
    if (meta && meta.digest !== digest) {
      throw new IntegrityError("<manifest>", {
        algorithm: "sha256",
        expected: meta.digest,
        actual: digest,
        artifact:
          `${name}:${detail.artifactVersion} (Comet's file list does not match the digest logged with it)`,
      });
    }
    this.#files.set(`${name}@${detail.artifactVersion}`, {
      versionId: detail.artifactVersionId,
      experimentKey: detail.experimentKey ?? "",
      assets,
    });
    const manifest: ArtifactManifest = {
      name,
      type,
      version: detail.artifactVersion,
      digest: meta?.digest ?? digest,
      size: sorted.reduce((sum, f) => sum + f.size, 0),
      files: sorted,
      metadata: user,
      aliases: [...(detail.alias ?? [])].sort(),
      createdMs: meta?.createdMs ??
        (typeof detail.added === "number"
          ? detail.added
          : Date.parse(String(detail.added)) || 0),
    };
    if (meta?.createdBy) manifest.createdBy = meta.createdBy;
    return manifest;
  }
}

/**
 * Orders semantic versions (`MAJOR.MINOR.PATCH[-pre]`) numerically; others
 * after them, by text.
 *
 * @param a One version.
 * @param b Another.
 * @returns Negative, zero or positive.
 */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string) => /^(\d+)\.(\d+)\.(\d+)(?:-(.+))?$/.exec(v);
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  if (pa[4] === pb[4]) return 0;
  if (pa[4] === undefined) return 1;
  if (pb[4] === undefined) return -1;
  return pa[4] < pb[4] ? -1 : 1;
}
