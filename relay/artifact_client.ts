// This module is browser compatible.
//
// The client side of the relay's artifact routes: an `ArtifactStore` whose
// versions live behind a uetai relay, reached with a scoped token. Uploads
// stream each staged file to the relay (checked against its size and
// SHA-256 as it goes), then commit the version; reads stream back. Imports
// no Hono and no Node module, so `mod.ts` can carry it everywhere.
import {
  assertAlias,
  assertArtifactName,
  assertArtifactPaths,
  formatVersionSelector,
} from "../artifact/names.ts";
import { verifyingStream } from "../artifact/streams.ts";
import type {
  ArtifactDraft,
  ArtifactFileEntry,
  ArtifactManifest,
  ArtifactRunRef,
  ArtifactStore,
  ArtifactTransferOptions,
  StagedFile,
  VersionSelector,
} from "../artifact/types.ts";
import { ArtifactNotFoundError, IntegrityError } from "../errors/errors.ts";
import {
  abortableSleep,
  backoffDelayMs,
  parseRetryAfter,
} from "../pipeline/retry.ts";
import { checkRelayUrl, RelayError } from "./client.ts";

/** Options of {@linkcode RelayArtifactStore}. */
export interface RelayArtifactStoreOptions {
  /** The relay's base URL, such as `"https://relay.example.com"`. */
  url: string;
  /** A token minted by the relay's owner; its project is the one used. */
  token: string;
  /**
   * The project the caller means. The relay always uses the token's
   * project; when this one differs, it refuses (403) instead of writing
   * elsewhere than meant.
   */
  project?: string;
  /**
   * How long one request other than a file transfer may take, in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * Files uploaded at once.
   * @default {4}
   */
  concurrency?: number;
}

/** What the relay answers when refusing. */
interface Problem {
  error?: string;
  code?: string;
  artifact?: string;
  version?: string;
  file?: string;
  algorithm?: string;
  expected?: string;
  actual?: string;
}

/** Most tries of a request that is safe to repeat. */
const ATTEMPTS = 3;

/**
 * Whether `fetch` can send a `ReadableStream` body here: Deno, Node, Bun
 * (with `duplex: "half"`) and Cloudflare Workers can; browsers send none
 * over HTTP/1.1, so there the file is gathered into a Blob first.
 */
function streamsRequestBodies(): boolean {
  const global = globalThis as {
    Deno?: unknown;
    process?: { versions?: { node?: string; bun?: string } };
    navigator?: { userAgent?: string };
  };
  return global.Deno !== undefined ||
    global.process?.versions?.node !== undefined ||
    global.process?.versions?.bun !== undefined ||
    global.navigator?.userAgent === "Cloudflare-Workers";
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Blob> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return new Blob(chunks as BlobPart[]);
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * An artifact store behind a uetai relay: what `createLogger({ relay })`
 * gives `logArtifact` and `downloadArtifact`. The relay writes to its own
 * upstream (Comet, MLflow, W&B, a local store), in the token's project.
 *
 * Each file is streamed to the relay as one `PUT` (with `duplex: "half"`
 * in Deno, Node, Bun and workers; gathered into a Blob in browsers),
 * verified against its size and SHA-256 on the way (an `IntegrityError`,
 * and no version), then the version is committed. Answers map to errors:
 * 404 `ArtifactNotFoundError`, 422 `IntegrityError`, a refused name, path,
 * alias or type `TypeError`, and 401, 403, 413, 429 and the rest
 * `RelayError` with the status. Network failures, 429 of the request rate
 * and 502/503 are retried for requests that are safe to repeat.
 *
 * @example
 * ```ts
 * import { createRelay, mintToken, RelayArtifactStore } from "@uetai/uetai/relay";
 * import { InMemoryBackend } from "@uetai/uetai/memory";
 * import { stageArtifact } from "@uetai/uetai/artifact";
 * import assert from "node:assert/strict";
 *
 * const signingKey = "a-relay-signing-key-of-32-bytes-or-more";
 * const relay = createRelay({ upstream: new InMemoryBackend(), signingKey });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, relay.fetch);
 * const token = await mintToken(signingKey, { project: "web", expiresInMs: 60_000 });
 * const store = new RelayArtifactStore({ url: `http://127.0.0.1:${server.addr.port}`, token });
 *
 * const staged = await stageArtifact({ data: new TextEncoder().encode("hi") }, { name: "notes" });
 * const stored = await store.putVersion({
 *   name: "notes", type: "text", metadata: {}, aliases: [],
 *   digest: staged.digest, size: staged.size, files: staged.files,
 * });
 * assert.equal(stored.version, "v0");
 * const latest = await store.resolveVersion("notes", { kind: "latest" });
 * const text = await new Response(await store.openFile(latest, latest.files[0])).text();
 * assert.equal(text, "hi");
 * await relay.close();
 * await server.shutdown();
 * ```
 */
export class RelayArtifactStore implements ArtifactStore {
  /** `"relay"`. */
  readonly backend: string = "relay";
  #url: string;
  #token: string;
  #project: string | undefined;
  #timeoutMs: number;
  #concurrency: number;

  /**
   * Creates the store; nothing is sent until the first call.
   *
   * @param options Relay URL, token, project, timeout and concurrency.
   * @throws {TypeError} When the URL, the token or an option is invalid.
   */
  constructor(options: RelayArtifactStoreOptions) {
    this.#url = checkRelayUrl(options?.url);
    if (typeof options.token !== "string" || options.token === "") {
      throw new TypeError(
        "Cannot use the relay's artifacts: 'token' must be the non-empty token the relay's owner minted",
      );
    }
    this.#token = options.token;
    this.#project = options.project;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#concurrency = options.concurrency ?? 4;
    if (!Number.isSafeInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new TypeError(
        `Cannot use the relay's artifacts: 'concurrency' is ${
          String(options.concurrency)
        }; expected a positive integer`,
      );
    }
  }

  /** The relay's base URL. */
  get url(): string {
    return this.#url;
  }

  /**
   * Uploads a version through the relay (see {@linkcode ArtifactStore.putVersion}).
   *
   * @param draft The version and its content.
   * @param options Abort signal and upload progress.
   * @returns The stored version, with `created`.
   * @throws {IntegrityError} When a file does not match its size or SHA-256.
   * @throws {RelayError} When the relay refuses (413 too large, 429 quota...).
   */
  async putVersion(
    draft: ArtifactDraft,
    options: ArtifactTransferOptions = {},
  ): Promise<ArtifactManifest & { created: boolean }> {
    assertArtifactName(draft.name);
    assertArtifactPaths(draft.files);
    for (const alias of draft.aliases) assertAlias(alias);
    const started = await this.#json<{ uploadId: string; files: string[] }>(
      "POST",
      "/v1/artifact-uploads",
      "POST /v1/artifact-uploads",
      {
        name: draft.name,
        type: draft.type,
        metadata: draft.metadata,
        aliases: draft.aliases,
        digest: draft.digest,
        size: draft.size,
        files: draft.files.map(({ path, size, sha256, md5 }) => ({
          path,
          size,
          sha256,
          md5,
        })),
        createdBy: draft.createdBy,
      },
      { signal: options.signal, retry: false },
    );
    const upload = `/v1/artifact-uploads/${segment(started.uploadId)}`;
    const byPath = new Map(draft.files.map((file) => [file.path, file]));
    const stop = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, stop.signal])
      : stop.signal;
    try {
      const queue = started.files.map((path, index) => ({
        index,
        file: byPath.get(path)!,
      }));
      const worker = async (): Promise<void> => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          await this.#putFile(
            `${upload}/files/${next.index}`,
            next.file,
            draft.name,
            { signal, onProgress: options.onProgress },
          );
        }
      };
      const workers = Array.from(
        { length: Math.min(this.#concurrency, queue.length) },
        () =>
          worker().catch((error) => {
            stop.abort(error);
            throw error;
          }),
      );
      const outcomes = await Promise.allSettled(workers);
      const failed = outcomes.find((o) => o.status === "rejected") as
        | PromiseRejectedResult
        | undefined;
      if (failed) throw failed.reason;
      return await this.#json<ArtifactManifest & { created: boolean }>(
        "POST",
        `${upload}/commit`,
        "POST /v1/artifact-uploads/:id/commit",
        {},
        { signal: options.signal, retry: false, name: draft.name },
      );
    } catch (error) {
      // Frees what the relay holds (and the token's quota) at once.
      await this.#send("DELETE", upload, "DELETE /v1/artifact-uploads/:id", {
        retry: false,
      }).then((r) => r.text(), () => {}).catch(() => {});
      throw error;
    }
  }

  /**
   * Finds a version.
   *
   * @param name Artifact name.
   * @param selector Which version.
   * @returns Its manifest.
   * @throws {ArtifactNotFoundError} When there is no such artifact or version.
   */
  resolveVersion(
    name: string,
    selector: VersionSelector,
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    return this.#json(
      "GET",
      `/v1/artifacts/${segment(name)}/versions/${
        segment(formatVersionSelector(selector))
      }`,
      "GET /v1/artifacts/:name/versions/:selector",
      undefined,
      { name },
    );
  }

  /**
   * Lists the versions of an artifact, oldest first.
   *
   * @param name Artifact name.
   * @returns The manifests; empty when there is none.
   */
  async listVersions(name: string): Promise<ArtifactManifest[]> {
    assertArtifactName(name);
    const answer = await this.#json<{ versions: ArtifactManifest[] }>(
      "GET",
      `/v1/artifacts/${segment(name)}/versions`,
      "GET /v1/artifacts/:name/versions",
      undefined,
      { name },
    );
    return answer.versions;
  }

  /**
   * Points user aliases at a version.
   *
   * @param name Artifact name.
   * @param version The version, as the relay's upstream names it.
   * @param aliases Aliases to set.
   * @returns The version with its aliases.
   */
  setAliases(
    name: string,
    version: string,
    aliases: readonly string[],
  ): Promise<ArtifactManifest> {
    assertArtifactName(name);
    for (const alias of aliases) assertAlias(alias);
    return this.#json(
      "POST",
      `/v1/artifacts/${segment(name)}/versions/${segment(version)}/aliases`,
      "POST /v1/artifacts/:name/versions/:version/aliases",
      { aliases },
      { name },
    );
  }

  /**
   * Opens one file of a version, streamed from the relay.
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
    const endpoint = "GET /v1/artifacts/:name/versions/:version/file";
    const response = await this.#send(
      "GET",
      `/v1/artifacts/${segment(manifest.name)}/versions/${
        segment(manifest.version)
      }/file?path=${segment(file.path)}`,
      endpoint,
      { signal: options.signal, retry: true, timeout: false },
    );
    if (!response.ok) {
      throw await this.#error(response, endpoint, manifest.name);
    }
    return response.body ?? new Blob([]).stream();
  }

  /**
   * Records that a run used a version.
   *
   * @param manifest The version.
   * @param usedBy The run.
   */
  async recordUse(
    manifest: ArtifactManifest,
    usedBy: ArtifactRunRef,
  ): Promise<void> {
    await this.#json(
      "POST",
      `/v1/artifacts/${segment(manifest.name)}/versions/${
        segment(manifest.version)
      }/uses`,
      "POST /v1/artifacts/:name/versions/:version/uses",
      { usedBy },
      { name: manifest.name },
    );
  }

  /**
   * The runs that used a version, oldest first.
   *
   * @param name Artifact name.
   * @param version The version.
   * @returns The runs.
   */
  async listUses(name: string, version: string): Promise<ArtifactRunRef[]> {
    assertArtifactName(name);
    const answer = await this.#json<{ uses: ArtifactRunRef[] }>(
      "GET",
      `/v1/artifacts/${segment(name)}/versions/${segment(version)}/uses`,
      "GET /v1/artifacts/:name/versions/:version/uses",
      undefined,
      { name },
    );
    return answer.uses;
  }

  /** Streams one file to the relay, verifying it on the way. */
  async #putFile(
    path: string,
    file: StagedFile,
    artifact: string,
    options: ArtifactTransferOptions,
  ): Promise<void> {
    const endpoint = "PUT /v1/artifact-uploads/:id/files/:index";
    const check: { error?: IntegrityError } = {};
    const progress = (bytesDone: number): void =>
      options.onProgress?.({
        phase: "upload",
        file: file.path,
        bytesDone,
        bytesTotal: file.size,
      });
    const integrity = (): IntegrityError => {
      const error = check.error!;
      return new IntegrityError(error.file, {
        algorithm: error.algorithm,
        expected: error.expected,
        actual: error.actual,
        artifact,
      });
    };
    const response = await this.#send("PUT", path, endpoint, {
      signal: options.signal,
      retry: true,
      timeout: false,
      body: async () => {
        let done = 0;
        const stream = verifyingStream(file, file.open(), check).pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller): void {
              done += chunk.length;
              controller.enqueue(chunk);
              progress(done);
            },
          }),
        );
        if (file.size > 0 && streamsRequestBodies()) return stream;
        try {
          return await collect(stream);
        } catch (error) {
          throw check.error ? integrity() : error;
        }
      },
      stopIf: () => check.error ? integrity() : undefined,
    });
    if (check.error) {
      await response.text().catch(() => {});
      throw integrity();
    }
    if (!response.ok) throw await this.#error(response, endpoint, artifact);
    // Read (not cancelled), so the connection goes back to the pool.
    await response.text().catch(() => {});
  }

  /** Sends a JSON request (or none) and reads the JSON answer. */
  async #json<T>(
    method: string,
    path: string,
    endpoint: string,
    body: unknown,
    options: { signal?: AbortSignal; retry?: boolean; name?: string } = {},
  ): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const response = await this.#send(method, path, endpoint, {
      signal: options.signal,
      retry: options.retry ?? method === "GET",
      body: text === undefined ? undefined : () => Promise.resolve(text),
    });
    if (!response.ok) throw await this.#error(response, endpoint, options.name);
    if (response.status === 204) return undefined as T;
    try {
      return await response.json() as T;
    } catch {
      throw new RelayError(
        `The relay answered ${endpoint} with a body that is not JSON`,
        { status: response.status, endpoint, retryable: false },
      );
    }
  }

  /**
   * Sends one request, trying again (with backoff, or `Retry-After`) on
   * network failures, the request rate's 429, 502 and 503 when `retry`.
   */
  async #send(
    method: string,
    path: string,
    endpoint: string,
    options: {
      signal?: AbortSignal;
      retry: boolean;
      timeout?: boolean;
      body?: () => Promise<BodyInit>;
      stopIf?: () => Error | undefined;
    },
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
    };
    if (this.#project !== undefined) {
      headers["x-uetai-project"] = this.#project;
    }
    for (let attempt = 1;; attempt++) {
      options.signal?.throwIfAborted();
      const body = await options.body?.();
      if (body !== undefined) {
        headers["content-type"] = typeof body === "string"
          ? "application/json"
          : "application/octet-stream";
      }
      const signals = [
        ...(options.signal ? [options.signal] : []),
        ...(options.timeout === false
          ? []
          : [AbortSignal.timeout(this.#timeoutMs)]),
      ];
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await fetch(`${this.#url}${path}`, {
          method,
          headers,
          body,
          signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
          ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
        } as RequestInit);
      } catch (cause) {
        const stopped = options.stopIf?.();
        if (stopped) throw stopped;
        if (options.signal?.aborted) throw options.signal.reason;
        failure = new RelayError(
          `Cannot reach the relay (${endpoint}): ${
            (cause as Error)?.message ?? cause
          }`,
          { endpoint, retryable: true },
        );
      }
      const retryable = response === undefined ||
        response.status === 502 || response.status === 503 ||
        // The request rate's 429 waits at most a minute; a quota's lasts
        // until the token expires and is not worth waiting for.
        (response.status === 429 &&
          (parseRetryAfter(response.headers.get("retry-after")) ?? 0) <=
            60_000);
      if (!retryable || !options.retry || attempt >= ATTEMPTS) {
        if (response) return response;
        throw failure;
      }
      const retryAfterMs = parseRetryAfter(
        response?.headers.get("retry-after"),
      );
      await response?.text().catch(() => {});
      await abortableSleep(
        backoffDelayMs(attempt, {
          initialDelayMs: 250,
          maxDelayMs: 10_000,
          retryAfterMs,
        }),
        options.signal,
      );
    }
  }

  /** The error of a refusal. */
  async #error(
    response: Response,
    endpoint: string,
    name?: string,
  ): Promise<Error> {
    const text = await response.text().catch(() => "");
    let problem: Problem = {};
    try {
      const parsed = JSON.parse(text);
      if (parsed !== null && typeof parsed === "object") problem = parsed;
    } catch {
      // Not JSON.
    }
    const reason = problem.error ?? (text.slice(0, 300) ||
      response.statusText);
    if (response.status === 404 && problem.code === "not_found") {
      return new ArtifactNotFoundError(reason, {
        backend: this.backend,
        artifact: problem.artifact ?? name ?? "",
        version: problem.version,
      });
    }
    if (problem.code === "integrity" && problem.file !== undefined) {
      return new IntegrityError(problem.file, {
        algorithm: problem.algorithm ?? "sha256",
        expected: problem.expected ?? "",
        actual: problem.actual ?? "",
        artifact: name,
      });
    }
    if (problem.code === "invalid") return new TypeError(reason);
    return new RelayError(
      `The relay answered ${response.status} to ${endpoint}: ${reason}`,
      {
        status: response.status,
        endpoint,
        retryable: response.status === 408 || response.status >= 500 ||
          (response.status === 429 && problem.code !== "quota"),
      },
    );
  }
}
