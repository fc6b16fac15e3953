// This module is browser compatible.
export { isPlainObject } from "../runtime/values.ts";

/**
 * Describes a value for an error message: its type, and the value itself
 * when short (strings are quoted and cut at 40 characters).
 *
 * @param value Anything.
 * @returns Such as `string "abc"`, `an array`, `an instance of Date`.
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `an instance of ${name}` : "an object";
  }
  if (typeof value === "string") {
    return `string ${
      JSON.stringify(value.length > 40 ? value.slice(0, 37) + "..." : value)
    }`;
  }
  return `${typeof value} ${String(value)}`;
}
