// This module is browser compatible.

/**
 * The runtime's own `Response` class. A library may replace the global one
 * with a subclass of it (`@hono/node-server` installs a lightweight
 * `Response` in the process that imports it); the original is found down
 * that chain.
 */
function nativeResponseClass(): typeof Response {
  let current = globalThis.Response;
  while (true) {
    const parent = Object.getPrototypeOf(current) as typeof Response | null;
    if (
      typeof parent !== "function" || parent === Function.prototype ||
      parent.name !== "Response"
    ) {
      return current;
    }
    current = parent;
  }
}

/**
 * A response the runtime's own server accepts: Bun's `Bun.serve` refuses a
 * `Response` of a replaced global class, so one is rebuilt with the native
 * class (same status, headers and streamed body).
 *
 * @param response A response from an app.
 * @returns The same response, or a native copy of it.
 */
export function toNativeResponse(response: Response): Response {
  const Native = nativeResponseClass();
  if (Object.getPrototypeOf(response) === Native.prototype) return response;
  return new Native(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
