// This module is browser compatible.
import { describe, isPlainObject } from "./describe.ts";
import type { ParamValue } from "../event/types.ts";

function toParamValue(key: string, value: unknown): ParamValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "undefined":
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new TypeError(`Cannot log parameter "${key}": the date is invalid`);
    }
    return value.toISOString();
  }
  if (Array.isArray(value)) {
    try {
      return JSON.stringify(value);
    } catch (cause) {
      throw new TypeError(
        `Cannot log parameter "${key}": the array cannot be serialised as JSON`,
        { cause },
      );
    }
  }
  throw new TypeError(
    `Cannot log parameter "${key}": expected a string, number, boolean, null, array or nested object, got ${
      describe(value)
    }`,
  );
}

/**
 * Flattens parameters: nested plain objects (and `Map`s) become `a/b`
 * keys; arrays become JSON text; `undefined` values are skipped; dates
 * become ISO text; non-finite numbers become text.
 *
 * @param params An object of parameters, such as parsed command-line flags.
 * @returns `[key, value]` pairs, in insertion order.
 * @throws {TypeError} Naming the key, for a function, symbol or class instance.
 */
export function flattenParams(params: unknown): Array<[string, ParamValue]> {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new TypeError(
      `Cannot log parameters: expected an object of parameters, got ${
        describe(params)
      }`,
    );
  }
  const out: Array<[string, ParamValue]> = [];
  const walk = (value: unknown, prefix: string, seen: Set<unknown>): void => {
    const entries = value instanceof Map
      ? [...value.entries()]
      : Object.entries(value as object);
    for (const [rawKey, child] of entries) {
      const key = prefix + String(rawKey);
      if (String(rawKey) === "") {
        throw new TypeError(
          `Cannot log parameters: an empty key under "${prefix}"`,
        );
      }
      if (isPlainObject(child) || child instanceof Map) {
        if (seen.has(child)) {
          throw new TypeError(
            `Cannot log parameter "${key}": the object refers to itself`,
          );
        }
        seen.add(child);
        walk(child, key + "/", seen);
        seen.delete(child);
        continue;
      }
      const converted = toParamValue(key, child);
      if (converted !== undefined) out.push([key, converted]);
    }
  };
  walk(params, "", new Set([params]));
  return out;
}
