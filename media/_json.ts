// This module is browser compatible.
import { isPlainObject } from "../runtime/values.ts";

export { isPlainObject };
// Private helpers shared by the media value types; not part of the public API.

const ENCODER = new TextEncoder();

/**
 * Encodes text as UTF-8 (lone surrogates become U+FFFD).
 *
 * @param text Any string.
 * @returns Its UTF-8 bytes.
 */
export function utf8Bytes(text: string): Uint8Array {
  return ENCODER.encode(text);
}

/**
 * Serialises a JSON value and encodes it as UTF-8.
 *
 * @param value A value made only of JSON types (no `undefined`, no `NaN`).
 * @returns The UTF-8 bytes of `JSON.stringify(value)`.
 */
export function jsonBytes(value: unknown): Uint8Array {
  return ENCODER.encode(JSON.stringify(value));
}

/**
 * Shows a value in an error message: strings quoted (cut at 40 characters),
 * numbers as written, and the kind of anything else.
 *
 * @param value Anything.
 * @returns Such as `"cat"`, `NaN`, `undefined`, `an array`, `an instance of Date`.
 */
export function show(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return JSON.stringify(
        value.length > 40 ? value.slice(0, 37) + "..." : value,
      );
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    case "function":
      return "a function";
  }
  const name = (value as object).constructor?.name;
  return name && name !== "Object" ? `an instance of ${name}` : "an object";
}

/**
 * Tells whether a value can be read like an array: an array, a typed array,
 * or an object with a non-negative integer `length` (strings excluded).
 *
 * @param value Anything.
 * @returns Whether `value` is array-like.
 */
export function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return !(value instanceof DataView);
  }
  if (value === null || typeof value !== "object") return false;
  const length = (value as { length?: unknown }).length;
  return typeof length === "number" && Number.isSafeInteger(length) &&
    length >= 0;
}

/**
 * Deep-copies a JSON object, checking every value on the way.
 *
 * @param value The object to copy.
 * @param action What is being done, for messages, such as `"Cannot create Text"`.
 * @param path The name of `value`, for messages, such as `"metadata"`.
 * @returns A copy made only of strings, finite numbers, booleans, null, arrays and plain objects.
 * @throws {TypeError} When `value` is not a plain object or holds a non-JSON value; the message names its path.
 */
export function copyJsonObject(
  value: unknown,
  action: string,
  path: string,
): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new TypeError(
      `${action} as '${path}' must be a plain object: current value is ${
        show(value)
      }`,
    );
  }
  return copyJson(value, action, path, new Set()) as Record<string, unknown>;
}

function copyJson(
  value: unknown,
  action: string,
  path: string,
  seen: Set<object>,
): unknown {
  if (
    value === null || typeof value === "string" || typeof value === "boolean"
  ) {
    return value;
  }
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (Array.isArray(value) || isPlainObject(value)) {
    if (seen.has(value)) {
      throw new TypeError(
        `${action} as '${path}' must be JSON: the value refers to itself`,
      );
    }
    seen.add(value);
    let copy: unknown;
    if (Array.isArray(value)) {
      copy = value.map((item, index) =>
        copyJson(item, action, `${path}[${index}]`, seen)
      );
    } else {
      const object: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // defineProperty, so a "__proto__" key stays an own property.
        Object.defineProperty(object, key, {
          value: copyJson(item, action, `${path}.${key}`, seen),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      copy = object;
    }
    seen.delete(value);
    return copy;
  }
  throw new TypeError(
    `${action} as '${path}' must be JSON (a string, finite number, boolean, null, array or plain object): current value is ${
      show(value)
    }`,
  );
}

/**
 * Describes a value for the audio encoders' messages: strings quoted, arrays
 * with their length, typed arrays by type.
 *
 * @param value Anything.
 * @returns Such as `"abc"`, `an array of length 3`, `Float64Array`.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}
