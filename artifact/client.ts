// This module is browser compatible: the filesystem is reached at run time.
import { isPlainObject } from "../runtime/values.ts";
import type { FileSystemLike } from "../runtime/fs.ts";
import { downloadVersion } from "./download.ts";
import {
  assertAlias,
  assertArtifactName,
  parseVersionSelector,
} from "./names.ts";
import {
  type ArtifactSourceOptions,
  cancelUnreadInputs,
  stageArtifact,
} from "./stage.ts";
import type {
  ArtifactManifest,
  ArtifactProgress,
  ArtifactRunRef,
  ArtifactStore,
} from "./types.ts";

/** Options of `logger.logArtifact()`. */
export interface LogArtifactOptions extends ArtifactSourceOptions {
  /** Artifact name: letters, digits, `_`, `-`, `.`. */
  name: string;
  /** Artifact type, such as `"model"`, `"dataset"`, `"checkpoint"`. */
  type: string;
  /** A JSON-serialisable description stored with the version. */
  metadata?: Record<string, unknown>;
  /** User aliases to point at the new version (moved from others); `latest` always moves. */
  aliases?: readonly string[];
  /** Called as content is hashed and stored. */
  onProgress?: (progress: ArtifactProgress) => void;
  /** Aborts the upload (versions already stored by other backends stay). */
  signal?: AbortSignal;
}

/** What `logger.logArtifact()` returns: the version the first backend stored. */
export interface LoggedArtifact extends ArtifactManifest {
  /** `false` when identical content was already a version (only aliases moved). */
  created: boolean;
  /** The version each backend stored, by backend name. */
  versions: Record<string, string>;
}

/** Options of `logger.downloadArtifact()`. */
export interface DownloadArtifactOptions {
  /** Artifact name. */
  name: string;
  /**
   * Which version: `"latest"`, a number (`3`, `"v3"`), a semver string
   * (`"1.0.0"`, Comet) or an alias.
   * @default {"latest"}
   */
  version?: string | number;
  /** The folder to write the files into; created when missing. */
  savePath: string;
  /** Called as bytes arrive. */
  onProgress?: (progress: ArtifactProgress) => void;
  /** Aborts the download. */
  signal?: AbortSignal;
}

/** A backend's artifact store, with the backend's name. */
export interface NamedArtifactStore {
  /** The backend's name. */
  backend: string;
  /** Its store. */
  store: ArtifactStore;
}

function checkLogOptions(options: LogArtifactOptions): void {
  if (!isPlainObject(options)) {
    throw new TypeError(
      `Cannot log artifact: options are ${
        options === null ? "null" : typeof options
      }; expected { name, type, path | files | data }`,
    );
  }
  assertArtifactName(options.name);
  if (
    typeof options.type !== "string" || options.type === "" ||
    options.type.length > 128
  ) {
    throw new TypeError(
      `Cannot log artifact ${JSON.stringify(options.name)}: type is ${
        JSON.stringify(options.type) ?? "undefined"
      }; expected a non-empty string of at most 128 characters such as "model"`,
    );
  }
  if (options.metadata !== undefined) {
    let json: string | undefined;
    try {
      json = isPlainObject(options.metadata)
        ? JSON.stringify(options.metadata)
        : undefined;
    } catch {
      json = undefined;
    }
    if (json === undefined) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(options.name)
        }: metadata is not a JSON-serialisable plain object`,
      );
    }
  }
  if (options.aliases !== undefined) {
    if (!Array.isArray(options.aliases)) {
      throw new TypeError(
        `Cannot log artifact ${
          JSON.stringify(options.name)
        }: aliases is ${typeof options.aliases}; expected an array of strings`,
      );
    }
    for (const alias of options.aliases) assertAlias(alias);
  }
}

/**
 * Logs an artifact version to every store: the content is hashed once
 * (streamed), then stored by each backend in turn. The first backend's
 * failure rejects; a later backend's failure goes to `onStoreError` and the
 * others' versions stand.
 *
 * @param stores The backends' stores, the first one answering.
 * @param options What to log.
 * @param createdBy The logging run.
 * @param context Filesystem and where later backends' failures go.
 * @returns The first backend's version.
 */
export async function logArtifactToStores(
  stores: readonly NamedArtifactStore[],
  options: LogArtifactOptions,
  createdBy: ArtifactRunRef,
  context: {
    fs?: FileSystemLike;
    onStoreError?: (error: unknown, backend: string) => void;
  } = {},
): Promise<LoggedArtifact> {
  try {
    checkLogOptions(options);
  } catch (error) {
    cancelUnreadInputs(options, error);
    throw error;
  }
  const staged = await stageArtifact(options, {
    name: options.name,
    fs: context.fs,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  try {
    const draft = {
      name: options.name,
      type: options.type,
      // Its JSON form, as every store keeps it (a Date becomes its text).
      metadata: JSON.parse(JSON.stringify(options.metadata ?? {})),
      aliases: [...new Set(options.aliases ?? [])].filter((alias) =>
        alias !== "latest"
      ),
      digest: staged.digest,
      size: staged.size,
      files: staged.files,
      createdBy,
    };
    let first: LoggedArtifact | undefined;
    const versions: Record<string, string> = {};
    for (const [index, { backend, store }] of stores.entries()) {
      try {
        const stored = await store.putVersion(draft, {
          onProgress: options.onProgress,
          signal: options.signal,
        });
        versions[backend] = stored.version;
        first ??= { ...stored, versions };
      } catch (error) {
        if (index === 0 || options.signal?.aborted) throw error;
        context.onStoreError?.(error, backend);
      }
    }
    return first!;
  } finally {
    await staged.dispose();
  }
}

/**
 * Downloads a version from a store into a folder, verified, and records the
 * run's use of it.
 *
 * @param store The store.
 * @param options Name, selector, folder, progress and abort signal.
 * @param usedBy The downloading run.
 * @param fs The filesystem, when not the runtime's.
 * @returns The version downloaded.
 */
export async function downloadFromStore(
  store: ArtifactStore,
  options: DownloadArtifactOptions,
  usedBy: ArtifactRunRef,
  fs?: FileSystemLike,
): Promise<ArtifactManifest> {
  if (!isPlainObject(options)) {
    throw new TypeError(
      `Cannot download artifact: options are ${
        options === null ? "null" : typeof options
      }; expected { name, version?, savePath }`,
    );
  }
  assertArtifactName(options.name);
  const selector = parseVersionSelector(options.version);
  const manifest = await store.resolveVersion(options.name, selector);
  await downloadVersion(store, manifest, options.savePath, {
    fs,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  await store.recordUse(manifest, usedBy);
  return manifest;
}
