// The relay's artifact routes: token holders upload artifact versions and
// read them back through the relay, which writes them to the first
// upstream's artifact store (`upstream.artifacts(project)`, the project
// always the token's). An upload is started with the version's manifest,
// each file is streamed in (counted against its declared size, hashed, kept
// in memory until the commit, abandoned uploads dropped after ten minutes),
// then committed as one `putVersion`. Imports no Hono at run time: the app
// and the token checks come from server.ts through a `RouteKit`.
import type { Context, Hono } from "hono";
import { artifactDigest, sortEntries } from "../artifact/manifest.ts";
import {
  assertAlias,
  assertArtifactName,
  assertArtifactPaths,
  parseVersionSelector,
} from "../artifact/names.ts";
import { ContentHasher } from "../artifact/streams.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  StagedFile,
} from "../artifact/types.ts";
import { isPlainObject } from "../runtime/values.ts";
import type { ArtifactOperation, AuditEntry } from "./server.ts";
import type { TokenClaims } from "./token.ts";

/** How long an upload may stay without a request before it is dropped. */
const UPLOAD_TTL_MS = 10 * 60_000;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const MD5_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/** Statuses the artifact routes answer problems with. */
export type ArtifactProblemStatus =
  | 400
  | 403
  | 404
  | 409
  | 413
  | 422
  | 429
  | 502
  | 503;

/** What the artifact routes need of the relay (server.ts builds it). */
export interface RouteKit {
  /** The clock, in milliseconds since the epoch. */
  now(): number;
  /** Largest JSON request body. */
  maxBodyBytes: number;
  /** Largest artifact version. */
  maxArtifactBytes: number;
  /** Most bytes of uploads in progress kept at once. */
  maxStagingBytes: number;
  /** The upstream artifact store of a project. */
  store(project: string): ArtifactStore;
  /** The project owning a run, when the relay knows it. */
  runOwner(runId: string): Promise<string | undefined>;
  /**
   * Checks the token, meters the request, answers problems and audits
   * (always, or when `audited(status)`).
   */
  guard(
    c: Context,
    start: Pick<AuditEntry, "action" | "operation">,
    handler: (
      claims: TokenClaims,
      entry: AuditEntry,
      used: { bytes: number },
    ) => Promise<Response>,
    audited?: (status: number) => boolean,
  ): Promise<Response>;
  /** Makes the problem the guard answers (JSON `{error, ...details}`). */
  fail(
    status: ArtifactProblemStatus,
    message: string,
    details?: Record<string, unknown>,
    retryAfterS?: number,
  ): Error;
  /** Reads a request body, 413 past `maxBytes`. */
  readBody(c: Context, maxBytes: number): Promise<Uint8Array>;
  /** Tells the relay's owner about an upstream failure. */
  onUpstreamError(error: Error): void;
}

interface UploadFile extends ArtifactFileEntry {
  /** The content, once received and verified. */
  chunks?: Uint8Array[];
  /** Whether a request is streaming it in now. */
  receiving: boolean;
}

interface Upload {
  id: string;
  /** Memory it holds: its files' bytes and its description. */
  held: number;
  tokenId: string;
  project: string;
  name: string;
  type: string;
  metadata: Record<string, unknown>;
  aliases: string[];
  digest: string;
  size: number;
  createdBy?: ArtifactRunRef;
  files: UploadFile[];
  /** The token's usage, charged `size` bytes at the start. */
  usage: { bytes: number };
  expiresAtMs: number;
  committing: boolean;
}

const refusals = (status: number): boolean => status >= 400;
const denials = (status: number): boolean =>
  status === 401 || status === 403 || status === 429;

/** A stream over chunks already in memory; each call starts again. */
function chunksStream(
  chunks: readonly Uint8Array[],
): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (index >= chunks.length) controller.close();
      else controller.enqueue(chunks[index++]);
    },
  }, { highWaterMark: 0 });
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/**
 * Registers the artifact routes on a relay app.
 *
 * @param app The relay's Hono app.
 * @param kit The token checks, limits and upstream of the relay.
 * @returns A function that drops every upload in progress (on close).
 */
export function registerArtifactRoutes(app: Hono, kit: RouteKit): () => void {
  const uploads = new Map<string, Upload>();
  let stagedBytes = 0;

  const drop = (upload: Upload, refund: boolean): void => {
    if (uploads.get(upload.id) !== upload) return;
    uploads.delete(upload.id);
    stagedBytes -= upload.held;
    if (refund) upload.usage.bytes -= upload.size;
    for (const file of upload.files) file.chunks = undefined;
  };

  const sweep = (): void => {
    const t = kit.now();
    for (const upload of uploads.values()) {
      if (
        upload.expiresAtMs <= t && !upload.committing &&
        !upload.files.some((file) => file.receiving)
      ) {
        drop(upload, true);
      }
    }
  };

  const invalid = (error: unknown): Error =>
    kit.fail(400, (error as Error).message, { code: "invalid" });

  /** Runs a check of artifact/names.ts, answering its TypeError as 400. */
  const check = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      if (error instanceof TypeError) throw invalid(error);
      throw error;
    }
  };

  /**
   * Calls the upstream store: ArtifactNotFoundError is a 404 with its
   * message; anything else goes to the owner and is a generic 502.
   */
  const upstream = async <T>(
    what: string,
    task: () => Promise<T>,
  ): Promise<T> => {
    try {
      return await task();
    } catch (error) {
      if ((error as Error)?.name === "ArtifactNotFoundError") {
        const found = error as Error & { artifact?: string; version?: string };
        throw kit.fail(404, found.message, {
          code: "not_found",
          artifact: found.artifact,
          version: found.version,
        });
      }
      kit.onUpstreamError(
        error instanceof Error ? error : new Error(String(error)),
      );
      throw kit.fail(
        502,
        `The relay's artifact store failed to ${what}; the relay's owner has the details`,
        { code: "upstream" },
      );
    }
  };

  const storeOf = (claims: TokenClaims): Promise<ArtifactStore> =>
    upstream(
      "open the project's artifacts",
      () => Promise.resolve().then(() => kit.store(claims.project)),
    );

  /** A client may say which project it means; it must be the token's. */
  const checkProject = (c: Context, claims: TokenClaims): void => {
    const wanted = c.req.header("x-uetai-project");
    if (wanted !== undefined && wanted !== claims.project) {
      throw kit.fail(
        403,
        `This token may use the artifacts of project ${
          describe(claims.project)
        } only, not ${describe(wanted)}`,
      );
    }
  };

  const readJson = async (c: Context): Promise<Record<string, unknown>> => {
    const body = await kit.readBody(c, kit.maxBodyBytes);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(body));
    } catch {
      value = undefined;
    }
    if (!isPlainObject(value)) {
      throw kit.fail(400, "The body is not a JSON object");
    }
    return value as Record<string, unknown>;
  };

  const nameParam = (c: Context): string => {
    const name = c.req.param("name");
    check(() => assertArtifactName(name));
    return name as string;
  };

  const versionParam = (c: Context): string => {
    const version = c.req.param("version");
    if (typeof version !== "string" || version === "" || version.length > 256) {
      throw kit.fail(400, `Version ${describe(version)} is not a version`, {
        code: "invalid",
      });
    }
    return version;
  };

  const resolve = (
    store: ArtifactStore,
    name: string,
    version: string,
  ): Promise<ArtifactManifest> => {
    let selector: ReturnType<typeof parseVersionSelector>;
    try {
      selector = parseVersionSelector(version);
    } catch (error) {
      throw invalid(error);
    }
    return upstream(
      "find the version",
      () => store.resolveVersion(name, selector),
    );
  };

  /**
   * Checks a run a client names as producer or user of a version: a
   * run-scoped token may name its own run only, and a run the relay knows
   * must be the token's project's.
   */
  const runRef = async (
    claims: TokenClaims,
    value: unknown,
    role: string,
  ): Promise<ArtifactRunRef> => {
    const ref = value as Partial<ArtifactRunRef> | undefined;
    if (
      !isPlainObject(ref) || typeof ref.runId !== "string" ||
      ref.runId === "" || ref.runId.length > 256 ||
      (ref.project !== undefined &&
        (typeof ref.project !== "string" || ref.project === "")) ||
      (ref.timestampMs !== undefined && !Number.isFinite(ref.timestampMs))
    ) {
      throw kit.fail(
        400,
        `'${role}' is ${
          describe(value)
        }; expected { runId, project?, timestampMs? }`,
        { code: "invalid" },
      );
    }
    const project = ref.project ?? claims.project;
    if (
      claims.runId !== undefined &&
      (ref.runId !== claims.runId || project !== claims.project)
    ) {
      throw kit.fail(
        403,
        `This token may write run ${describe(claims.runId)} of project ${
          describe(claims.project)
        } only, not ${describe(ref.runId)} of ${describe(project)}`,
      );
    }
    const owner = await kit.runOwner(ref.runId);
    if (
      owner !== undefined &&
      (owner !== claims.project || project !== claims.project)
    ) {
      throw kit.fail(
        403,
        `Run ${describe(ref.runId)} belongs to another project`,
      );
    }
    return {
      project,
      runId: ref.runId,
      timestampMs: ref.timestampMs ?? kit.now(),
    };
  };

  /** The upload of that id, if it is this token's. */
  const ownUpload = (c: Context, claims: TokenClaims): Upload => {
    sweep();
    const upload = uploads.get(c.req.param("id") ?? "");
    if (!upload || upload.tokenId !== claims.id) {
      throw kit.fail(
        404,
        "There is no such upload: it was committed, aborted or expired, or another token started it",
        { code: "upload" },
      );
    }
    return upload;
  };

  /** Refuses another type for an existing name (TypeError as the stores). */
  const checkType = async (
    store: ArtifactStore,
    name: string,
    type: string,
  ): Promise<void> => {
    const versions = await upstream(
      "list the versions",
      () => store.listVersions(name),
    );
    const existing = versions[0]?.type;
    if (existing !== undefined && existing !== type) {
      throw kit.fail(
        409,
        `Cannot log artifact ${describe(name)} as type ${
          describe(type)
        }: its versions are of type ${describe(existing)}`,
        { code: "invalid" },
      );
    }
  };

  const parseFiles = (value: unknown): ArtifactFileEntry[] => {
    if (!Array.isArray(value)) {
      throw kit.fail(400, `'files' is ${describe(value)}; expected an array`, {
        code: "invalid",
      });
    }
    const files = value.map((file: Partial<ArtifactFileEntry>) => {
      if (!isPlainObject(file)) {
        throw kit.fail(
          400,
          `A file is ${describe(file)}; expected { path, size, sha256, md5 }`,
          { code: "invalid" },
        );
      }
      const path = file.path;
      check(() => assertArtifactPaths([{ path: path as string }]));
      const problem = !Number.isSafeInteger(file.size) || file.size! < 0
        ? `its size ${describe(file.size)} is not a non-negative integer`
        : typeof file.sha256 !== "string" || !SHA256_PATTERN.test(file.sha256)
        ? `its sha256 ${describe(file.sha256)} is not 64 lowercase hex digits`
        : typeof file.md5 !== "string" || !MD5_PATTERN.test(file.md5)
        ? `its md5 ${describe(file.md5)} is not 16 bytes in base64`
        : undefined;
      if (problem !== undefined) {
        throw kit.fail(
          400,
          `Cannot upload artifact file ${describe(path)}: ${problem}`,
          { code: "invalid" },
        );
      }
      return {
        path: path as string,
        size: file.size!,
        sha256: file.sha256!,
        md5: file.md5!,
      };
    });
    check(() => assertArtifactPaths(files));
    return sortEntries(files);
  };

  // Start: the manifest of the version to upload.
  app.post("/v1/artifact-uploads", (c) =>
    kit.guard(
      c,
      { action: "artifact", operation: "start" },
      async (claims, entry, used) => {
        checkProject(c, claims);
        sweep();
        const body = await readJson(c);
        const name = body.name;
        check(() => assertArtifactName(name));
        entry.artifact = name as string;
        const type = body.type;
        if (typeof type !== "string" || type === "" || type.length > 128) {
          throw kit.fail(
            400,
            `'type' is ${
              describe(type)
            }; expected a non-empty string of at most 128 characters`,
            { code: "invalid" },
          );
        }
        const metadata = body.metadata ?? {};
        if (!isPlainObject(metadata)) {
          throw kit.fail(400, "'metadata' is not a JSON object", {
            code: "invalid",
          });
        }
        const aliasList = body.aliases ?? [];
        if (!Array.isArray(aliasList)) {
          throw kit.fail(400, "'aliases' is not an array", {
            code: "invalid",
          });
        }
        for (const alias of aliasList) check(() => assertAlias(alias));
        const files = parseFiles(body.files);
        const size = files.reduce((sum, file) => sum + file.size, 0);
        entry.bytes = size;
        if (body.size !== size) {
          throw kit.fail(
            400,
            `'size' is ${
              describe(body.size)
            }; the files hold ${size} bytes together`,
            { code: "invalid" },
          );
        }
        if (size > kit.maxArtifactBytes) {
          throw kit.fail(
            413,
            `The artifact of ${size} bytes is over the relay's limit of ${kit.maxArtifactBytes} bytes`,
            { code: "too_large" },
          );
        }
        if (body.digest !== artifactDigest(files)) {
          throw kit.fail(
            400,
            `'digest' is ${describe(body.digest)}; the files' entries give ${
              artifactDigest(files)
            }`,
            { code: "invalid" },
          );
        }
        const checkQuota = (): void => {
          if (
            claims.maxBytes !== undefined &&
            used.bytes + size > claims.maxBytes
          ) {
            throw kit.fail(
              429,
              `This token's quota of ${claims.maxBytes} bytes is used up (${used.bytes} sent, ${size} more asked)`,
              { code: "quota" },
              (claims.expiresAtMs - kit.now()) / 1000,
            );
          }
        };
        checkQuota();
        let createdBy: ArtifactRunRef | undefined;
        if (body.createdBy !== undefined) {
          createdBy = await runRef(claims, body.createdBy, "createdBy");
        } else if (claims.runId !== undefined) {
          throw kit.fail(
            403,
            `This token may write artifacts of run ${
              describe(claims.runId)
            } only: name it as 'createdBy'`,
          );
        }
        const store = await storeOf(claims);
        await checkType(store, name as string, type);
        // Again after the awaits: another upload may have started meanwhile.
        checkQuota();
        // The description counts too: uploads of empty files must not pile
        // up in memory; and a token keeps at most 16 uploads open.
        const held = size + JSON.stringify(body).length;
        const open = [...uploads.values()].filter((u) =>
          u.tokenId === claims.id
        ).length;
        if (stagedBytes + held > kit.maxStagingBytes || open >= 16) {
          throw kit.fail(
            503,
            open >= 16
              ? "This token has 16 artifact uploads open; finish or abandon one first"
              : "The relay holds as many artifact uploads as it can; try again later",
            { code: "busy" },
            30,
          );
        }
        const upload: Upload = {
          id: crypto.randomUUID(),
          held,
          tokenId: claims.id,
          project: claims.project,
          name: name as string,
          type,
          metadata: metadata as Record<string, unknown>,
          aliases: [...new Set(aliasList as string[])],
          digest: body.digest as string,
          size,
          files: files.map((file) => ({ ...file, receiving: false })),
          usage: used,
          expiresAtMs: kit.now() + UPLOAD_TTL_MS,
          committing: false,
        };
        if (createdBy) upload.createdBy = createdBy;
        used.bytes += size;
        stagedBytes += held;
        uploads.set(upload.id, upload);
        return c.json({
          uploadId: upload.id,
          expiresAtMs: upload.expiresAtMs,
          files: upload.files.map((file) => file.path),
        }, 201);
      },
      refusals,
    ));

  // One file's bytes, streamed in, counted, hashed.
  app.put("/v1/artifact-uploads/:id/files/:index", (c) =>
    kit.guard(
      c,
      { action: "artifact", operation: "file" },
      async (claims, entry) => {
        checkProject(c, claims);
        const upload = ownUpload(c, claims);
        entry.artifact = upload.name;
        const index = Number(c.req.param("index"));
        const file = Number.isSafeInteger(index)
          ? upload.files[index]
          : undefined;
        if (!file) {
          throw kit.fail(
            404,
            `The upload has no file ${describe(c.req.param("index"))}`,
            { code: "upload" },
          );
        }
        const request = c.req.raw;
        if (file.receiving || upload.committing) {
          await request.body?.cancel().catch(() => {});
          throw kit.fail(
            409,
            `File ${
              describe(file.path)
            } is being uploaded or committed already`,
          );
        }
        const tooLarge = (): Error =>
          kit.fail(
            413,
            `File ${
              describe(file.path)
            } is over its declared size of ${file.size} bytes`,
            { code: "too_large", file: file.path },
          );
        const declared = Number(request.headers.get("content-length") ?? NaN);
        if (Number.isFinite(declared) && declared > file.size) {
          await request.body?.cancel().catch(() => {});
          throw tooLarge();
        }
        file.receiving = true;
        const chunks: Uint8Array[] = [];
        const hasher = new ContentHasher();
        try {
          const reader = request.body?.getReader();
          while (reader) {
            let next: ReadableStreamReadResult<Uint8Array>;
            try {
              next = await reader.read();
            } catch {
              throw kit.fail(
                400,
                `The body of file ${
                  describe(file.path)
                } was interrupted after ${hasher.size} bytes`,
              );
            }
            if (next.done) break;
            if (hasher.size + next.value.length > file.size) {
              await reader.cancel().catch(() => {});
              throw tooLarge();
            }
            hasher.update(next.value);
            chunks.push(next.value);
          }
        } finally {
          file.receiving = false;
        }
        entry.bytes = hasher.size;
        const got = hasher.digest();
        const mismatch = got.size !== file.size
          ? ["size", String(file.size), String(got.size)]
          : got.sha256 !== file.sha256
          ? ["sha256", file.sha256, got.sha256]
          : got.md5 !== file.md5
          ? ["md5", file.md5, got.md5]
          : undefined;
        if (mismatch) {
          const [algorithm, expected, actual] = mismatch;
          throw kit.fail(
            422,
            `Artifact file ${
              describe(file.path)
            } of ${upload.name} failed verification: expected ${algorithm} ${expected}, got ${actual}`,
            { code: "integrity", file: file.path, algorithm, expected, actual },
          );
        }
        if (uploads.get(upload.id) !== upload) {
          throw kit.fail(404, "The upload was aborted or expired meanwhile", {
            code: "upload",
          });
        }
        file.chunks = chunks;
        upload.expiresAtMs = kit.now() + UPLOAD_TTL_MS;
        return c.json({ path: file.path, size: got.size });
      },
      refusals,
    ));

  // Commit: the version is written upstream.
  app.post("/v1/artifact-uploads/:id/commit", (c) =>
    kit.guard(
      c,
      { action: "artifact", operation: "commit" },
      async (claims, entry) => {
        checkProject(c, claims);
        const upload = ownUpload(c, claims);
        Object.assign(entry, { artifact: upload.name, bytes: upload.size });
        if (upload.committing) {
          throw kit.fail(409, "The upload is being committed already");
        }
        const missing = upload.files.filter((file) =>
          file.chunks === undefined
        );
        if (missing.length > 0 || upload.files.some((f) => f.receiving)) {
          throw kit.fail(
            409,
            `The upload lacks ${missing.length} of its ${upload.files.length} files, such as ${
              describe(missing[0]?.path)
            }`,
            { code: "incomplete" },
          );
        }
        upload.committing = true;
        let store: ArtifactStore;
        try {
          store = await storeOf(claims);
        } catch (error) {
          upload.committing = false;
          throw error;
        }
        const files: StagedFile[] = upload.files.map((file) => {
          const chunks = file.chunks!;
          return {
            path: file.path,
            size: file.size,
            sha256: file.sha256,
            md5: file.md5,
            open: () => chunksStream(chunks),
          };
        });
        const draft: ArtifactDraft = {
          name: upload.name,
          type: upload.type,
          metadata: upload.metadata,
          aliases: upload.aliases,
          digest: upload.digest,
          size: upload.size,
          files,
        };
        if (upload.createdBy) draft.createdBy = upload.createdBy;
        let stored: ArtifactManifest & { created: boolean };
        try {
          stored = await store.putVersion(draft);
        } catch (error) {
          upload.committing = false;
          upload.expiresAtMs = kit.now() + UPLOAD_TTL_MS;
          if (error instanceof TypeError) {
            // Another type for an existing name, put meanwhile: say so in
            // the relay's own words (the store's text is never answered).
            try {
              await checkType(store, upload.name, upload.type);
            } catch (problem) {
              if ((problem as { status?: number }).status === 409) {
                drop(upload, true);
              }
              throw problem;
            }
          }
          return await upstream(
            "store the version",
            () => Promise.reject(error),
          );
        }
        drop(upload, false);
        entry.version = stored.version;
        return c.json(stored, stored.created ? 201 : 200);
      },
    ));

  app.delete("/v1/artifact-uploads/:id", (c) =>
    kit.guard(
      c,
      { action: "artifact", operation: "abort" },
      (claims, entry) => {
        checkProject(c, claims);
        const upload = ownUpload(c, claims);
        entry.artifact = upload.name;
        if (upload.committing) {
          throw kit.fail(409, "The upload is being committed");
        }
        drop(upload, true);
        return Promise.resolve(c.body(null, 204));
      },
      refusals,
    ));

  // Reads.
  app.get("/v1/artifacts/:name/versions", (c) =>
    kit.guard(
      c,
      { action: "artifact", operation: "read" },
      async (claims, entry) => {
        checkProject(c, claims);
        const name = nameParam(c);
        entry.artifact = name;
        const store = await storeOf(claims);
        const versions = await upstream(
          "list the versions",
          () => store.listVersions(name),
        );
        return c.json({ versions });
      },
      denials,
    ));

  /**
   * A route about one version of an artifact: the token checked, the
   * project the token's, the name and version read from the path and put
   * in the audit entry, and the store of the token's project.
   */
  const onVersion = (
    operation: ArtifactOperation,
    handler: (
      c: Context,
      claims: TokenClaims,
      entry: AuditEntry,
      target: { store: ArtifactStore; name: string; version: string },
    ) => Promise<Response>,
    audited?: (status: number) => boolean,
  ) =>
  (c: Context): Promise<Response> =>
    kit.guard(c, { action: "artifact", operation }, async (claims, entry) => {
      checkProject(c, claims);
      const name = nameParam(c);
      const version = versionParam(c);
      Object.assign(entry, { artifact: name, version });
      const store = await storeOf(claims);
      return await handler(c, claims, entry, { store, name, version });
    }, audited);

  app.get(
    "/v1/artifacts/:name/versions/:version",
    onVersion(
      "read",
      async (c, _claims, _entry, { store, name, version }) =>
        c.json(await resolve(store, name, version)),
      denials,
    ),
  );

  app.get(
    "/v1/artifacts/:name/versions/:version/file",
    onVersion("read", async (c, _claims, entry, { store, name, version }) => {
      const path = c.req.query("path");
      const manifest = await resolve(store, name, version);
      const file = manifest.files.find((f) => f.path === path);
      if (!file) {
        throw kit.fail(
          404,
          `Version ${manifest.version} of artifact ${
            describe(name)
          } has no file ${describe(path)}`,
          { code: "not_found", artifact: name, version },
        );
      }
      const source = await upstream(
        "open the file",
        () => store.openFile(manifest, file, { signal: c.req.raw.signal }),
      );
      entry.bytes = file.size;
      // Passed through as it comes, held to the size the response
      // declares: an upstream that sends more or less breaks the
      // connection rather than the client's file.
      let sent = 0;
      const fail = (controller: TransformStreamDefaultController): void => {
        const error = new Error(
          `The upstream sent ${sent} bytes of ${
            describe(file.path)
          } (${name}:${manifest.version}), not ${file.size}`,
        );
        kit.onUpstreamError(error);
        controller.error(new Error("The upstream sent the wrong size"));
      };
      const body = source.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller): void {
            sent += chunk.length;
            if (sent > file.size) fail(controller);
            else controller.enqueue(chunk);
          },
          flush(controller): void {
            if (sent !== file.size) fail(controller);
          },
        }),
      );
      return new Response(body, {
        status: 200,
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(file.size),
          "x-uetai-sha256": file.sha256,
        },
      });
    }, denials),
  );

  app.get(
    "/v1/artifacts/:name/versions/:version/uses",
    onVersion("read", async (c, _claims, _entry, { store, name, version }) => {
      const uses = await upstream(
        "list the uses",
        () => store.listUses(name, version),
      );
      return c.json({ uses });
    }, denials),
  );

  // Writes besides uploads.
  app.post(
    "/v1/artifacts/:name/versions/:version/aliases",
    onVersion(
      "aliases",
      async (c, claims, _entry, { store, name, version }) => {
        const body = await readJson(c);
        if (!Array.isArray(body.aliases)) {
          throw kit.fail(400, "'aliases' is not an array", {
            code: "invalid",
          });
        }
        const aliases = body.aliases as unknown[];
        for (const alias of aliases) check(() => assertAlias(alias));
        // A run-scoped token (a page, a device) may move aliases only on
        // versions its own run made.
        if (claims.runId !== undefined) {
          const target = await upstream(
            "find the version",
            () => store.resolveVersion(name, parseVersionSelector(version)),
          );
          if (target.createdBy?.runId !== claims.runId) {
            throw kit.fail(
              403,
              `This token may move aliases only on versions run ${
                describe(claims.runId)
              } made`,
            );
          }
        }
        return c.json(
          await upstream(
            "move the aliases",
            () => store.setAliases(name, version, aliases as string[]),
          ),
        );
      },
    ),
  );

  app.post(
    "/v1/artifacts/:name/versions/:version/uses",
    onVersion("use", async (c, claims, entry, { store, name, version }) => {
      const body = await readJson(c);
      const usedBy = await runRef(claims, body.usedBy, "usedBy");
      entry.runIds = [usedBy.runId];
      const manifest = await resolve(store, name, version);
      await upstream(
        "record the use",
        () => store.recordUse(manifest, usedBy),
      );
      return c.body(null, 204);
    }),
  );

  return (): void => {
    for (const upload of [...uploads.values()]) drop(upload, true);
  };
}
