// This module is browser compatible.

/**
 * Tells whether a value is a plain object (`{}` or `Object.create(null)`),
 * as opposed to an array, a class instance or a primitive.
 *
 * @param value Anything.
 * @returns Whether it is a plain object.
 */
export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A random id of 32 lower-case hex digits (a UUID without its dashes): run
 * ids, Comet experiment keys and asset ids.
 *
 * @returns The id.
 */
export function randomHexId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
