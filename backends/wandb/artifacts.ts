// This module is browser compatible.
import { uploadStagedFile } from "../../artifact/http.ts";
import { artifactDigest, assertSameType } from "../../artifact/manifest.ts";
import {
  assertAlias,
  assertArtifactName,
  formatVersionSelector,
  parseVersionIndex,
} from "../../artifact/names.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  StagedFile,
  VersionSelector,
} from "../../artifact/types.ts";
import { createHash } from "../../artifact/hash.ts";
import { ArtifactNotFoundError, IntegrityError } from "../../errors/errors.ts";
import { abortableSleep, backoffDelayMs } from "../../pipeline/retry.ts";
import { encodeBase64 } from "../../runtime/base64.ts";
import {
  md5Base64,
  parseWandbJson,
  randomClientId,
  wandbManifestDigest,
} from "./encode.ts";
import { WandbApiError, type WandbHttp } from "./http.ts";
import {
  ADD_ALIASES,
  ARTIFACT_BY_ID,
  ARTIFACT_BY_NAME,
  ARTIFACT_FILE_URLS,
  ARTIFACT_TYPE,
  ARTIFACT_USED_BY,
  ARTIFACT_VERSIONS,
  COMMIT_ARTIFACT,
  CREATE_ARTIFACT,
  CREATE_ARTIFACT_FILES,
  CREATE_ARTIFACT_MANIFEST,
  UPDATE_ARTIFACT,
  USE_ARTIFACT,
} from "./queries.ts";

/**
 * The metadata key under which uetai keeps what W&B has no field for: the
 * producing run as uetai names it, the creation time in milliseconds, and
 * the runs that used the version with their times.
 */
const META_KEY = "_uetai";
const PAGE = 1000;
const UPLOADS_AT_ONCE = 4;
const ATTEMPTS = 4;
/** Signed URLs are handed out for an hour; refetch well before. */
const URL_TTL_MS = 10 * 60_000;

/** Saves and metadata updates in this process, one at a time per collection. */
const collectionTails = new Map<string, Promise<unknown>>();

function serialByKey<T>(key: string, task: () => Promise<T>): Promise<T> {
  const tail = collectionTails.get(key) ?? Promise.resolve();
  const run = tail.then(task, task);
  const settled = run.catch(() => {});
  collectionTails.set(key, settled);
  settled.then(() => {
    if (collectionTails.get(key) === settled) collectionTails.delete(key);
  });
  return run;
}

function sameUse(a: ArtifactRunRef, b: ArtifactRunRef): boolean {
  return a.project === b.project && a.runId === b.runId &&
    a.timestampMs === b.timestampMs;
}

interface UetaiMeta {
  createdBy?: ArtifactRunRef;
  createdMs?: number;
  uses?: ArtifactRunRef[];
}

interface ArtifactNode {
  id: string;
  digest?: string;
  state?: string;
  versionIndex?: number | null;
  description?: string | null;
  metadata?: string | null;
  createdAt?: string | null;
  artifactType?: { name?: string } | null;
  aliases?: { alias?: string }[] | null;
  currentManifest?: { file?: { directUrl?: string | null } | null } | null;
}

interface ManifestEntry {
  digest?: unknown;
  size?: unknown;
  ref?: unknown;
  birthArtifactID?: unknown;
  extra?: { sha256?: unknown } | null;
}

interface Located {
  node: ArtifactNode;
  manifest: ArtifactManifest;
  user: Record<string, unknown>;
  meta: UetaiMeta;
  /** The metadata on W&B is not a JSON object uetai can rewrite whole. */
  foreignMetadata: boolean;
}

/** Options of {@linkcode WandbArtifactStore}. */
export interface WandbArtifactStoreOptions {
  /** The authenticated HTTP client. */
  http: WandbHttp;
  /** The entity owning the project (the viewer's default when not configured). */
  entity: () => Promise<string>;
  /** The W&B project holding the artifacts. */
  project: string;
  /**
   * Creates (or finds) the W&B run of a uetai run of this project, so a
   * version can name it as producer (`runName`) and as user
   * (`useArtifact`). Without it, runs are kept in uetai's metadata only.
   */
  ensureRun?: (runId: string, signal?: AbortSignal) => Promise<unknown>;
}

/**
 * uetai artifact versions kept as W&B artifacts, by W&B's own flow:
 * `createArtifact` (a committed version with the same manifest digest is a
 * dedup hit: no new version, the aliases move to it), an empty
 * `createArtifactManifest`, `createArtifactFiles` (content W&B already
 * stores is not uploaded again), a PUT per file to its signed URL (never
 * with the API key, checked against the file's SHA-256 as it streams), the
 * manifest (`wandb_manifest.json`, each entry with its base64 MD5, size,
 * `birthArtifactID` and its SHA-256 under `extra`), and `commitArtifact`.
 * Versions are W&B's `vN`; `latest` and user aliases are W&B aliases.
 * Downloads resolve `name:vN` or `name:alias`, read the manifest and the
 * file URLs, and check each file's base64 MD5 as it streams (the artifact
 * layer checks the SHA-256).
 *
 * The producing run (as uetai names it), the creation time and the runs
 * that used the version are kept in the version's metadata under
 * `_uetai`; the user's metadata sits beside it, unchanged.
 *
 * @example
 * ```ts
 * import { WandbArtifactStore, WandbHttp } from "@uetai/uetai/wandb";
 * import assert from "node:assert/strict";
 * const store = new WandbArtifactStore({
 *   http: new WandbHttp({ apiKey: "k".repeat(40), baseUrl: "http://127.0.0.1:9" }),
 *   entity: () => Promise.resolve("me"),
 *   project: "mnist",
 * });
 * assert.equal(store.backend, "wandb");
 * ```
 */
export class WandbArtifactStore implements ArtifactStore {
  /** `"wandb"`. */
  readonly backend: string = "wandb";
  #http: WandbHttp;
  #entity: () => Promise<string>;
  #project: string;
  #ensureRun: WandbArtifactStoreOptions["ensureRun"];
  /** Manifests of committed versions (immutable), by artifact id. */
  #manifests = new Map<string, Promise<Record<string, ManifestEntry>>>();
  /** Signed file URLs by artifact id, with when they were fetched. */
  #urls = new Map<string, { atMs: number; urls: Map<string, string> }>();
  /** Artifact ids by `name@version`. */
  #ids = new Map<string, string>();

  /**
   * Creates the store.
   *
   * @param options HTTP client, entity, project and run lookup.
   */
  constructor(options: WandbArtifactStoreOptions) {
    this.#http = options.http;
    this.#entity = options.entity;
    this.#project = options.project;
    this.#ensureRun = options.ensureRun;
  }

  /**
   * Logs a version by W&B's flow (see the class). Calls of one store are
   * serialised, as W&B's client serialises saves of a collection.
   *
   * @param draft The version.
   * @param options Abort signal and progress.
   * @returns The stored version; `created` is false on a dedup hit.
   */
  putVersion(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions = {},
  ): Promise<ArtifactManifest & { created: boolean }> {
    return this.#serialFor(draft.name, () => this.#put(draft, options));
  }

  async #put(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions,
  ): Promise<ArtifactManifest & { created: boolean }> {
    const signal = options.signal;
    assertArtifactName(draft.name);
    for (const alias of draft.aliases) assertAlias(alias);
    if (Object.hasOwn(draft.metadata, META_KEY)) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(draft.name)
        } to W&B: metadata key ${META_KEY} is reserved for uetai's own record`,
      );
    }
    const entity = await this.#entity();
    const project = this.#project;
    const existing = await this.#gql<
      { project?: { artifact?: ArtifactNode | null } | null }
    >("ArtifactType", ARTIFACT_TYPE, {
      entity,
      project,
      name: `${draft.name}:latest`,
    }, signal);
    assertSameType(draft, existing.project?.artifact?.artifactType?.name);

    const runName = await this.#ownRun(draft.createdBy, signal);
    const meta: UetaiMeta = { createdMs: Date.now() };
    if (draft.createdBy) meta.createdBy = draft.createdBy;
    const aliases = [...new Set([...draft.aliases, "latest"])].map((alias) => ({
      artifactCollectionName: draft.name,
      alias,
    }));
    const created = await this.#gql<
      { createArtifact?: { artifact?: ArtifactNode | null } | null }
    >("CreateArtifact", CREATE_ARTIFACT, {
      input: {
        entityName: entity,
        projectName: project,
        artifactTypeName: draft.type,
        artifactCollectionName: draft.name,
        runName: runName ?? null,
        digest: wandbManifestDigest(draft.files),
        digestAlgorithm: "MANIFEST_MD5",
        description: null,
        metadata: JSON.stringify({ ...draft.metadata, [META_KEY]: meta }),
        aliases,
        clientID: randomClientId(),
        sequenceClientID: randomClientId(),
        enableDigestDeduplication: true,
        historyStep: null,
        ttlDurationSeconds: null,
        distributedID: null,
        storageRegion: null,
      },
    }, signal);
    const artifact = created.createArtifact?.artifact;
    if (!artifact?.id) throw this.#malformed("CreateArtifact", draft.name);
    if (artifact.state === "COMMITTED") {
      // Dedup hit: W&B moved the aliases to the version with this content.
      const located = await this.#byId(draft.name, artifact.id, signal);
      return { ...located.manifest, created: false };
    }
    if (artifact.state !== "PENDING") {
      throw new WandbApiError(
        `W&B answered CreateArtifact for ${
          JSON.stringify(draft.name)
        } with state ${JSON.stringify(artifact.state)}, expected PENDING`,
        { endpoint: "POST /graphql CreateArtifact", retryable: false },
      );
    }
    const manifestVars = {
      artifactID: artifact.id,
      baseArtifactID: null,
      name: "wandb_manifest.json",
      entityName: entity,
      projectName: project,
      runName: runName ?? "",
      manifestType: "FULL",
    };
    const empty = await this.#gql<{
      createArtifactManifest?: { artifactManifest?: { id?: string } };
    }>("CreateArtifactManifest", CREATE_ARTIFACT_MANIFEST, {
      ...manifestVars,
      digest: "",
      includeUpload: false,
    }, signal);
    const manifestId = empty.createArtifactManifest?.artifactManifest?.id;
    if (!manifestId) {
      throw this.#malformed("CreateArtifactManifest", draft.name);
    }

    const births = await this.#uploadFiles(
      artifact.id,
      manifestId,
      draft,
      options,
    );
    const contents: Record<string, unknown> = {};
    for (const file of draft.files) {
      contents[file.path] = {
        digest: file.md5,
        size: file.size,
        birthArtifactID: births.get(file.path),
        extra: { sha256: file.sha256 },
      };
    }
    const manifestBytes = new TextEncoder().encode(JSON.stringify({
      version: 1,
      storagePolicy: "wandb-storage-policy-v1",
      storagePolicyConfig: { storageLayout: "V2" },
      contents,
    }));
    const full = await this.#gql<{
      createArtifactManifest?: {
        artifactManifest?: {
          file?: { uploadUrl?: string | null; uploadHeaders?: string[] | null };
        };
      };
    }>("CreateArtifactManifest", CREATE_ARTIFACT_MANIFEST, {
      ...manifestVars,
      digest: md5Base64(manifestBytes),
      includeUpload: true,
    }, signal);
    const upload = full.createArtifactManifest?.artifactManifest?.file;
    if (!upload?.uploadUrl) {
      throw this.#malformed("CreateArtifactManifest", draft.name);
    }
    await this.#retry(
      () =>
        this.#http.putSigned(
          upload.uploadUrl!,
          upload.uploadHeaders,
          manifestBytes,
          {
            signal,
          },
        ),
      signal,
    );
    // Concurrent commits to one collection may get 409 "rebase required":
    // W&B's client commits again, and so does this.
    await this.#retry(
      () =>
        this.#http.graphql("CommitArtifact", COMMIT_ARTIFACT, {
          artifactID: artifact.id,
        }, { signal }),
      signal,
      (error) => error.status === 409,
    );
    const located = await this.#byId(draft.name, artifact.id, signal);
    return { ...located.manifest, created: true };
  }

  /**
   * Finds a version by `latest`, `vN` or alias. Semantic versions are not
   * W&B's: they are not found.
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
    return (await this.#locate(name, selector)).manifest;
  }

  /**
   * The committed versions of an artifact, oldest first.
   *
   * @param name Artifact name.
   * @returns The versions; empty for an unknown name.
   */
  async listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const entity = await this.#entity();
    const nodes: ArtifactNode[] = [];
    let cursor: string | null = null;
    while (true) {
      const data: {
        project?: {
          artifactCollection?: {
            artifacts?: {
              pageInfo?: { hasNextPage?: boolean; endCursor?: string | null };
              edges?: { node?: ArtifactNode }[];
            };
          } | null;
        } | null;
      } = await this.#gql("ArtifactVersions", ARTIFACT_VERSIONS, {
        entity,
        project: this.#project,
        name,
        cursor,
        perPage: PAGE,
      });
      const page = data.project?.artifactCollection?.artifacts;
      for (const edge of page?.edges ?? []) {
        if (edge.node?.state === "COMMITTED") nodes.push(edge.node);
      }
      if (!page?.pageInfo?.hasNextPage || !page.pageInfo.endCursor) break;
      cursor = page.pageInfo.endCursor;
    }
    nodes.sort((a, b) => (a.versionIndex ?? 0) - (b.versionIndex ?? 0));
    const located = await Promise.all(
      nodes.map((node) => this.#located(name, node)),
    );
    return located.map((l) => l.manifest);
  }

  /**
   * Points user aliases at a version with W&B's `addAliases` (which moves
   * them from the versions holding them).
   *
   * @param name Artifact name.
   * @param version The version, `vN`.
   * @param aliases Aliases to set.
   * @returns The version afterwards.
   */
  setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    for (const alias of aliases) assertAlias(alias);
    return this.#serialFor(name, async () => {
      const located = await this.#locateVersion(name, version);
      await this.#gql("AddAliases", ADD_ALIASES, {
        artifactID: located.node.id,
        aliases: aliases.map((alias) => ({
          artifactCollectionName: name,
          alias,
        })),
      });
      return (await this.#byId(name, located.node.id)).manifest;
    });
  }

  /**
   * Opens a file of a version from its signed URL (no API key), checking
   * its size and base64 MD5 as it streams.
   *
   * @param manifest The version.
   * @param file One of its entries.
   * @param options Abort signal.
   * @returns The content.
   */
  async openFile(
    manifest: ArtifactManifest,
    file: ArtifactFileEntry,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const signal = options.signal;
    const id = this.#ids.get(`${manifest.name}@${manifest.version}`) ??
      (await this.#locateVersion(manifest.name, manifest.version)).node.id;
    let response: Response | undefined;
    for (let fresh = false;; fresh = true) {
      const url = (await this.#fileUrls(id, fresh, signal)).get(file.path);
      if (url === undefined) {
        if (fresh) {
          throw new ArtifactNotFoundError(
            `W&B lists no file ${
              JSON.stringify(file.path)
            } in ${manifest.name}:${manifest.version}`,
            {
              backend: this.backend,
              artifact: manifest.name,
              version: manifest.version,
            },
          );
        }
        continue;
      }
      try {
        response = await this.#retry(
          () => this.#http.getSigned(url, signal),
          signal,
        );
        break;
      } catch (error) {
        // An expired signature: fetch new URLs once.
        const status = (error as WandbApiError).status;
        if (fresh || (status !== 403 && status !== 404)) throw error;
      }
    }
    const body = response.body ?? new Blob([]).stream();
    return body.pipeThrough(md5Checking(file, manifest));
  }

  /**
   * Records that a run used a version: W&B's `useArtifact` for a run of
   * this project (the lineage graph), and the run in uetai's metadata of
   * the version, which `listUses` reads.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  recordUse(manifest: ArtifactManifest, usedBy: ArtifactRunRef): Promise<void> {
    return this.#serialFor(manifest.name, async () => {
      let located = await this.#locateVersion(
        manifest.name,
        manifest.version,
      );
      const runName = await this.#ownRun(usedBy);
      if (runName !== undefined) {
        await this.#gql("UseArtifact", USE_ARTIFACT, {
          entityName: await this.#entity(),
          projectName: this.#project,
          runName,
          artifactID: located.node.id,
        });
      }
      // A read-modify-write of the metadata: another process may write in
      // between, so it is read back and written again until the use is
      // there (W&B's own lineage, `usedBy`, has the run in any case).
      for (let attempt = 1;; attempt++) {
        if (located.foreignMetadata) {
          throw new WandbApiError(
            `Cannot record the use of ${manifest.name}:${manifest.version} in its metadata: W&B holds metadata that is not a JSON object, which uetai will not overwrite`,
            { endpoint: "POST /graphql UpdateArtifact", retryable: false },
          );
        }
        if ((located.meta.uses ?? []).some((use) => sameUse(use, usedBy))) {
          return;
        }
        if (attempt > 4) {
          throw new WandbApiError(
            `Cannot record the use of ${manifest.name}:${manifest.version}: its metadata kept changing under concurrent writers`,
            { endpoint: "POST /graphql UpdateArtifact", retryable: true },
          );
        }
        const meta = {
          ...located.meta,
          uses: [...located.meta.uses ?? [], usedBy],
        };
        await this.#gql("UpdateArtifact", UPDATE_ARTIFACT, {
          artifactID: located.node.id,
          metadata: JSON.stringify({ ...located.user, [META_KEY]: meta }),
        });
        await abortableSleep(attempt * 20 * Math.random());
        located = await this.#byId(manifest.name, located.node.id);
      }
    });
  }

  /**
   * The runs that used a version, oldest first: uetai's record, after the
   * runs only W&B's lineage (`usedBy`) knows, whose time is unknown (0).
   *
   * @param name Artifact name.
   * @param version The version, `vN`.
   * @returns The runs.
   */
  async listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    assertArtifactName(name);
    let located: Located;
    try {
      located = await this.#locateVersion(name, version);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return [];
      throw error;
    }
    const uses = [...located.meta.uses ?? []];
    // Runs in W&B's lineage that uetai's record lacks (other clients, or a
    // record lost to a concurrent writer): their time is unknown, 0.
    const lineage: ArtifactRunRef[] = [];
    let cursor: string | null = null;
    while (true) {
      const data: {
        artifact?: {
          usedBy?: {
            pageInfo?: { hasNextPage?: boolean; endCursor?: string | null };
            edges?: { node?: { name?: string; project?: { name?: string } } }[];
          };
        } | null;
      } = await this.#gql("ArtifactUsedBy", ARTIFACT_USED_BY, {
        id: located.node.id,
        cursor,
        perPage: PAGE,
      });
      const page = data.artifact?.usedBy;
      for (const edge of page?.edges ?? []) {
        const runId = edge.node?.name;
        const project = edge.node?.project?.name ?? this.#project;
        if (
          runId &&
          !uses.some((u) => u.runId === runId && u.project === project)
        ) {
          lineage.push({ project, runId, timestampMs: 0 });
        }
      }
      if (!page?.pageInfo?.hasNextPage || !page.pageInfo.endCursor) break;
      cursor = page.pageInfo.endCursor;
    }
    return [...lineage, ...uses];
  }

  // ------------------------------------------------------------ internals

  /** Runs a write to a collection after the others of this process. */
  #serialFor<T>(name: string, task: () => Promise<T>): Promise<T> {
    return serialByKey(
      `${this.#http.baseUrl}\0${this.#project}\0${name}`,
      task,
    );
  }

  /** The W&B run name for a uetai run of this project, created if needed. */
  async #ownRun(
    run: ArtifactRunRef | undefined,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    if (
      run === undefined || this.#ensureRun === undefined ||
      run.project !== this.#project || !/^[\w-]{1,128}$/.test(run.runId)
    ) {
      return undefined;
    }
    await this.#ensureRun(run.runId, signal);
    return run.runId;
  }

  /** A GraphQL call retried on what W&B's policy retries. */
  #gql<T>(
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.#retry(
      () => this.#http.graphql<T>(operation, query, variables, { signal }),
      signal,
    );
  }

  async #retry<T>(
    call: () => Promise<T>,
    signal?: AbortSignal,
    alsoRetry: (error: WandbApiError) => boolean = () => false,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (
          !(error instanceof WandbApiError) ||
          !(error.retryable || alsoRetry(error)) ||
          attempt >= ATTEMPTS || signal?.aborted
        ) {
          throw error;
        }
        await abortableSleep(
          backoffDelayMs(attempt, {
            initialDelayMs: 500,
            maxDelayMs: 30_000,
            retryAfterMs: error.retryAfterMs,
          }),
          signal,
        );
      }
    }
  }

  /** Asks for upload URLs for every file, then PUTs the ones W&B lacks. */
  async #uploadFiles(
    artifactId: string,
    manifestId: string,
    draft: ArtifactDraft,
    options: ArtifactTransferOptions,
  ): Promise<Map<string, string>> {
    const births = new Map<string, string>();
    if (draft.files.length === 0) return births;
    const data = await this.#gql<{
      createArtifactFiles?: {
        files?: {
          edges?: {
            node?: {
              uploadUrl?: string | null;
              uploadHeaders?: string[] | null;
              artifact?: { id?: string } | null;
            };
          }[];
        };
      };
    }>("CreateArtifactFiles", CREATE_ARTIFACT_FILES, {
      input: {
        artifactFiles: draft.files.map((file) => ({
          artifactID: artifactId,
          artifactManifestID: manifestId,
          name: file.path,
          md5: file.md5,
          mimetype: null,
          uploadPartsInput: null,
        })),
        storageLayout: "V2",
      },
    }, options.signal);
    const edges = data.createArtifactFiles?.files?.edges ?? [];
    if (edges.length !== draft.files.length) {
      throw this.#malformed("CreateArtifactFiles", draft.name);
    }
    // Edges come back in request order.
    const uploads: [StagedFile, string, string[] | null | undefined][] = [];
    for (const [i, file] of draft.files.entries()) {
      const node = edges[i].node;
      births.set(file.path, node?.artifact?.id ?? artifactId);
      if (node?.uploadUrl) {
        uploads.push([file, node.uploadUrl, node.uploadHeaders]);
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < uploads.length) {
        const [file, url, headers] = uploads[next++];
        await uploadStagedFile(
          file,
          (body, onProgress) =>
            this.#http.putSigned(url, headers, body, {
              signal: options.signal,
              onProgress,
            }),
          options,
          ATTEMPTS,
        );
      }
    };
    await Promise.all(
      Array.from(
        { length: Math.min(UPLOADS_AT_ONCE, uploads.length) },
        worker,
      ),
    );
    return births;
  }

  async #locate(name: string, selector: VersionSelector): Promise<Located> {
    const notFound = () =>
      new ArtifactNotFoundError(
        `W&B project ${JSON.stringify(this.#project)} has no artifact ${name}:${
          formatVersionSelector(selector)
        }`,
        {
          backend: this.backend,
          artifact: name,
          version: formatVersionSelector(selector),
        },
      );
    let alias: string;
    switch (selector.kind) {
      case "latest":
        alias = "latest";
        break;
      case "index":
        alias = `v${selector.index}`;
        break;
      case "alias":
        alias = selector.alias;
        break;
      default:
        throw notFound();
    }
    const data = await this.#gql<
      { project?: { artifact?: ArtifactNode | null } | null }
    >("ArtifactByName", ARTIFACT_BY_NAME, {
      entity: await this.#entity(),
      project: this.#project,
      name: `${name}:${alias}`,
    });
    const node = data.project?.artifact;
    if (!node || node.state !== "COMMITTED") throw notFound();
    return await this.#located(name, node);
  }

  /** A version by the store's own version string (`vN`). */
  #locateVersion(name: string, version: string): Promise<Located> {
    const index = parseVersionIndex(version);
    if (index === undefined) {
      return Promise.reject(
        new ArtifactNotFoundError(
          `W&B project ${
            JSON.stringify(this.#project)
          } has no artifact ${name}:${version} (W&B versions are v0, v1, ...)`,
          { backend: this.backend, artifact: name, version },
        ),
      );
    }
    return this.#locate(name, { kind: "index", index });
  }

  async #byId(
    name: string,
    id: string,
    signal?: AbortSignal,
  ): Promise<Located> {
    const data = await this.#gql<{ artifact?: ArtifactNode | null }>(
      "ArtifactByID",
      ARTIFACT_BY_ID,
      { id },
      signal,
    );
    if (!data.artifact) throw this.#malformed("ArtifactByID", name);
    return await this.#located(name, data.artifact);
  }

  /** Builds the uetai manifest of a committed version. */
  async #located(name: string, node: ArtifactNode): Promise<Located> {
    if (typeof node.versionIndex !== "number") {
      throw this.#malformed("an artifact query", name);
    }
    const version = `v${node.versionIndex}`;
    this.#ids.set(`${name}@${version}`, node.id);
    const contents = await this.#manifestOf(name, node);
    const files: ArtifactFileEntry[] = [];
    for (const [path, entry] of Object.entries(contents)) {
      if (typeof entry.ref === "string") continue; // Not stored by W&B.
      files.push({
        path,
        size: Number(entry.size ?? 0),
        md5: String(entry.digest ?? ""),
        sha256: typeof entry.extra?.sha256 === "string"
          ? entry.extra.sha256
          : "",
      });
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    let parsed: Record<string, unknown> = {};
    let foreignMetadata = false;
    try {
      const value = parseWandbJson(node.metadata || "{}");
      if (value && typeof value === "object" && !Array.isArray(value)) {
        parsed = value as Record<string, unknown>;
      } else foreignMetadata = true;
    } catch {
      foreignMetadata = true;
    }
    const { [META_KEY]: rawMeta, ...user } = parsed;
    const meta =
      (rawMeta && typeof rawMeta === "object" ? rawMeta : {}) as UetaiMeta;
    const created = Date.parse(
      /[zZ]|[+-]\d\d:?\d\d$/.test(node.createdAt ?? "")
        ? node.createdAt!
        : `${node.createdAt}Z`,
    );
    const manifest: ArtifactManifest = {
      name,
      type: node.artifactType?.name ?? "",
      version,
      // Versions other clients logged carry no SHA-256: W&B's digest then.
      digest: files.some((f) => f.sha256 === "") && node.digest
        ? node.digest
        : artifactDigest(files),
      size: files.reduce((sum, f) => sum + f.size, 0),
      files,
      metadata: user,
      aliases: (node.aliases ?? [])
        .map((a) => a.alias ?? "")
        .filter((alias) => alias !== "" && !/^v\d+$/.test(alias))
        .sort(),
      createdMs: typeof meta.createdMs === "number"
        ? meta.createdMs
        : Number.isFinite(created)
        ? created
        : 0,
    };
    if (meta.createdBy) manifest.createdBy = meta.createdBy;
    return { node, manifest, user, meta, foreignMetadata };
  }

  /** The entries of a committed version's `wandb_manifest.json`. */
  #manifestOf(
    name: string,
    node: ArtifactNode,
  ): Promise<Record<string, ManifestEntry>> {
    let found = this.#manifests.get(node.id);
    if (!found) {
      const url = node.currentManifest?.file?.directUrl;
      if (!url) return Promise.reject(this.#malformed("its manifest", name));
      found = this.#retry(() => this.#http.getSigned(url)).then(async (r) => {
        const json = await r.json() as { contents?: unknown };
        if (
          !json || typeof json.contents !== "object" || json.contents === null
        ) {
          throw this.#malformed("its manifest", name);
        }
        return json.contents as Record<string, ManifestEntry>;
      });
      this.#manifests.set(node.id, found);
      found.catch(() => this.#manifests.delete(node.id));
    }
    return found;
  }

  async #fileUrls(
    id: string,
    fresh: boolean,
    signal?: AbortSignal,
  ): Promise<Map<string, string>> {
    const cached = this.#urls.get(id);
    if (!fresh && cached && Date.now() - cached.atMs < URL_TTL_MS) {
      return cached.urls;
    }
    const urls = new Map<string, string>();
    let cursor: string | null = null;
    while (true) {
      const data: {
        artifact?: {
          files?: {
            pageInfo?: { hasNextPage?: boolean; endCursor?: string | null };
            edges?: { node?: { name?: string; directUrl?: string } }[];
          };
        } | null;
      } = await this.#gql("ArtifactFileURLs", ARTIFACT_FILE_URLS, {
        id,
        cursor,
        perPage: PAGE,
      }, signal);
      const page = data.artifact?.files;
      for (const edge of page?.edges ?? []) {
        if (edge.node?.name && edge.node.directUrl) {
          urls.set(edge.node.name, edge.node.directUrl);
        }
      }
      if (!page?.pageInfo?.hasNextPage || !page.pageInfo.endCursor) break;
      cursor = page.pageInfo.endCursor;
    }
    this.#urls.set(id, { atMs: Date.now(), urls });
    return urls;
  }

  #malformed(operation: string, name: string): WandbApiError {
    return new WandbApiError(
      `W&B's answer to ${operation} for artifact ${
        JSON.stringify(name)
      } lacks the fields W&B's own client reads`,
      { endpoint: `POST /graphql ${operation}`, retryable: false },
    );
  }
}

/** Checks a download's size and base64 MD5 against its manifest entry. */
function md5Checking(
  file: ArtifactFileEntry,
  manifest: ArtifactManifest,
): TransformStream<Uint8Array, Uint8Array> {
  const hash = createHash("md5");
  let size = 0;
  const artifact = `${manifest.name}:${manifest.version}`;
  return new TransformStream({
    transform(chunk, controller): void {
      size += chunk.length;
      if (size > file.size) {
        controller.error(
          new IntegrityError(file.path, {
            algorithm: "size",
            expected: String(file.size),
            actual: `more than ${file.size}`,
            artifact,
          }),
        );
        return;
      }
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush(controller): void {
      const actual = encodeBase64(hash.digest());
      if (size !== file.size) {
        controller.error(
          new IntegrityError(file.path, {
            algorithm: "size",
            expected: String(file.size),
            actual: String(size),
            artifact,
          }),
        );
      } else if (actual !== file.md5) {
        controller.error(
          new IntegrityError(file.path, {
            algorithm: "md5",
            expected: file.md5,
            actual,
            artifact,
          }),
        );
      }
    },
  });
}
