// Test helpers: which runtime runs the tests, and how to start a child
// process of the same runtime on a TypeScript file.
import { fileURLToPath } from "node:url";

/** The runtime executing the tests. */
export const RUNTIME: "deno" | "bun" | "node" =
  typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
    ? "deno"
    : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
    ? "bun"
    : "node";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The Deno binary installed from npm. */
export const DENO_BIN: string = fileURLToPath(
  new URL("../../node_modules/.bin/deno", import.meta.url),
);

/** tsx's loader (what `--import tsx` names), as a file URL. */
const TSX_LOADER: string =
  new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

/**
 * The command that runs a TypeScript file in the current runtime.
 *
 * @param file Absolute path of the script.
 * @returns The executable and its arguments.
 */
export function scriptCommand(file: string): [string, string[]] {
  const execPath =
    (globalThis as { process: { execPath: string } }).process.execPath;
  switch (RUNTIME) {
    case "deno":
      return [execPath, ["run", "-A", file]];
    case "bun":
      return [execPath, [file]];
    default:
      // tsx by file URL, so the child may run in any working folder.
      return [execPath, ["--import", TSX_LOADER, file]];
  }
}
