// This module is browser compatible: it never imports a `node:` module. The
// filesystem is reached at run time through `process.getBuiltinModule`, which
// Deno, Bun and Node 20.16+ provide; workers and browsers have none.

import { UnsupportedRuntimeError } from "../errors/errors.ts";

/** The open-file handle subset of `node:fs/promises` that uetai uses. */
export interface FileHandleLike {
  /** Writes data at the current position (or `position`). */
  write(data: string | Uint8Array): Promise<unknown>;
  /** Reads into `buffer`. */
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  /** Flushes data (not all metadata) to the storage device. */
  datasync(): Promise<void>;
  /** Truncates the file to `length` bytes. */
  truncate(length?: number): Promise<void>;
  /** File size and kind. */
  stat(): Promise<{ size: number }>;
  /** Closes the handle. */
  close(): Promise<void>;
}

/**
 * Reads `length` bytes from `start` (fewer at the end of the file).
 *
 * @param handle An open file.
 * @param start Byte offset.
 * @param length How many bytes at most.
 * @returns The bytes read.
 */
export async function readAt(
  handle: FileHandleLike,
  start: number,
  length: number,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(
      buffer,
      done,
      length - done,
      start + done,
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** The subset of `node:fs/promises` that uetai uses. */
export interface FileSystemLike {
  /** Creates a folder. */
  mkdir(path: string, options: { recursive: boolean }): Promise<unknown>;
  /** Opens a file. */
  open(path: string, flags: string): Promise<FileHandleLike>;
  /** Reads a whole (small) file as text. */
  readFile(path: string, encoding: "utf8"): Promise<string>;
  /** Reads a whole file as bytes. */
  readFile(path: string): Promise<Uint8Array>;
  /** Writes a whole (small) file. */
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  /** Appends to a file, creating it. */
  appendFile(path: string, data: string | Uint8Array): Promise<void>;
  /** Renames a file or folder, replacing a file at `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Lists a folder. */
  readdir(path: string): Promise<string[]>;
  /** Size and kind of a path. */
  stat(
    path: string,
  ): Promise<
    { size: number; isDirectory(): boolean; isFile(): boolean; mtimeMs: number }
  >;
  /** Size and kind of a path, not following a final symbolic link. */
  lstat(path: string): Promise<{ isSymbolicLink(): boolean }>;
  /** Resolves symbolic links and `..` to an absolute path. */
  realpath(path: string): Promise<string>;
  /** Removes a path. */
  rm(
    path: string,
    options?: { recursive?: boolean; force?: boolean },
  ): Promise<void>;
}

interface ProcessLike {
  uptime?: () => number;
  getBuiltinModule?: (name: string) => unknown;
  env?: Record<string, string | undefined>;
  pid?: number;
  cwd?: () => string;
  kill?: (pid: number, signal: number) => boolean;
}

function currentProcess(): ProcessLike | undefined {
  return (globalThis as { process?: ProcessLike }).process;
}

/**
 * Returns `node:fs/promises` when the runtime has a filesystem, reached at
 * run time so the module graph stays web-only; `undefined` in workers and
 * browsers.
 *
 * @returns The filesystem, or `undefined`.
 */
export function getFileSystem(): FileSystemLike | undefined {
  try {
    const fs = currentProcess()?.getBuiltinModule?.("node:fs/promises");
    return fs ? fs as FileSystemLike : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the given filesystem, or the runtime's, or throws naming what
 * could not be done.
 *
 * @param given A filesystem passed in options, if any.
 * @param action What needs it, such as `"open the local store"`.
 * @returns The filesystem.
 * @throws {UnsupportedRuntimeError} When the runtime has none.
 */
export function requireFileSystem(
  given: FileSystemLike | undefined,
  action: string,
): FileSystemLike {
  const fs = given ?? getFileSystem();
  if (!fs) {
    throw new UnsupportedRuntimeError(
      `Cannot ${action}: this runtime has no filesystem`,
      {
        capability: "filesystem",
      },
    );
  }
  return fs;
}

/**
 * The environment, read one variable at a time: access denied (Deno with
 * `--allow-env=SOME,VARS` or none) or absent (workers, browsers) reads as
 * `undefined` instead of throwing, and scoped permissions still let the
 * allowed variables through.
 *
 * @returns A read-only view of the environment variables.
 */
export function readEnvironment(): Readonly<
  Record<string, string | undefined>
> {
  return new Proxy({} as Record<string, string | undefined>, {
    get(_target, key): string | undefined {
      if (typeof key !== "string") return undefined;
      try {
        const value = currentProcess()?.env?.[key];
        return typeof value === "string" ? value : undefined;
      } catch {
        return undefined;
      }
    },
  });
}

/**
 * Tells whether a process with this id is alive on this machine. `true`
 * when it cannot be told (so nothing that may be in use is taken over).
 *
 * @param pid The process id.
 * @returns Whether the process may still be running.
 */
export function isProcessAlive(pid: number): boolean {
  const kill = currentProcess()?.kill;
  if (typeof kill !== "function") return true;
  try {
    kill.call(currentProcess(), pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * When this process started, in milliseconds since the epoch, or `undefined`
 * where that cannot be told.
 *
 * @returns The start time.
 */
export function processStartMs(): number | undefined {
  try {
    const uptime = currentProcess()?.uptime;
    return typeof uptime === "function"
      ? Date.now() - uptime.call(currentProcess()) * 1000
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The id of this process, or `undefined` where there is none.
 *
 * @returns The process id.
 */
export function processId(): number | undefined {
  return currentProcess()?.pid;
}

/**
 * Joins path segments with `/` and folds repeated separators. Enough for the
 * relative and absolute paths the local store builds; `node:path` is avoided
 * so this module stays web-only.
 *
 * @param parts Path segments.
 * @returns The joined path.
 */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((part) => part !== "").join("/");
  return joined.replace(/\/{2,}/g, "/");
}

/**
 * The operating system's folder for temporary files (`node:os` reached at
 * run time), or `undefined` where the runtime has none.
 *
 * @returns The folder.
 */
export function tempDirectory(): string | undefined {
  try {
    const os = currentProcess()?.getBuiltinModule?.("node:os") as
      | { tmpdir?: () => string }
      | undefined;
    return typeof os?.tmpdir === "function" ? os.tmpdir() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a whole file under a temporary name beside it, then renames it into
 * place, so readers see the old content or the new, never a torn one. With
 * `durable`, the bytes reach the storage device before the rename.
 *
 * @param fs The filesystem.
 * @param path The file.
 * @param data Its new content.
 * @param options `durable`: flush before the rename.
 */
export async function writeFileAtomic(
  fs: FileSystemLike,
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (options.durable) {
      const handle = await fs.open(temporary, "wx");
      try {
        await handle.write(
          typeof data === "string" ? new TextEncoder().encode(data) : data,
        );
        await handle.datasync();
      } finally {
        await handle.close();
      }
    } else {
      await fs.writeFile(temporary, data);
    }
    await fs.rename(temporary, path);
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => {});
    throw error;
  }
}

/** Default root folder of the local store and the spools. */
export const DEFAULT_DIR = ".uetai";

/**
 * Checks that a project name or run id is safe as one folder name.
 *
 * @param what `"project"` or `"runId"`, for the message.
 * @param value The name.
 * @throws {TypeError} When the name is empty, has a separator or NUL, or starts with '.'.
 */
export function assertSafeName(
  what: string,
  value: unknown,
): asserts value is string {
  if (
    typeof value !== "string" || value === "" || value.length > 200 ||
    /[/\\\0:]/.test(value) || value.startsWith(".")
  ) {
    throw new TypeError(
      `Cannot use ${what} ${
        JSON.stringify(value)
      }: expected a non-empty name of at most 200 characters without '/', '\\', ':' or NUL, not starting with '.'`,
    );
  }
}
