// This module is browser compatible.
//
// Scoped relay tokens: a compact, HMAC-SHA-256-signed claim set made with
// WebCrypto, so the same code mints and checks tokens in Deno, Bun, Node,
// workers and browsers. Format: `uetai1.<claims>.<signature>`, both parts
// base64url without padding; the claims are JSON.
import { decodeBase64, encodeBase64 } from "../runtime/base64.ts";
import { TrackerError } from "../errors/errors.ts";

const PREFIX = "uetai1";
const encoder = new TextEncoder();

/** What a relay token allows: its scope and its limits. */
export interface TokenScope {
  /** The only project the holder may log to. */
  project: string;
  /** When set, the only run the holder may log to. */
  runId?: string;
  /** When set, every metric, media and parameter key must start with one of these. */
  keyPrefixes?: string[];
  /** Most metric points the holder may send in all. */
  maxPoints?: number;
  /** Most request-body bytes the holder may send in all. */
  maxBytes?: number;
  /** Who holds it, for the audit log (a user, a page, a device). */
  subject?: string;
}

/** Options of {@linkcode mintToken}. */
export interface MintTokenOptions extends TokenScope {
  /** How long the token is valid, in milliseconds (at most 30 days). */
  expiresInMs: number;
  /** The time now, in milliseconds since the epoch (for tests). */
  nowMs?: number;
}

/** The claims a token carries, as {@linkcode verifyToken} returns them. */
export interface TokenClaims extends TokenScope {
  /** Token id, for quotas and the audit log. */
  id: string;
  /** When it was minted, in milliseconds since the epoch. */
  issuedAtMs: number;
  /** When it expires, in milliseconds since the epoch. */
  expiresAtMs: number;
}

/** Why a token was refused. */
export type TokenProblem = "missing" | "malformed" | "signature" | "expired";

/**
 * A relay token that is missing, malformed, not signed by the relay's key,
 * or expired. The message never contains the token.
 *
 * @example
 * ```ts
 * import { TokenError } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * const error = new TokenError("expired", "the token expired");
 * assert.equal(error.problem, "expired");
 * ```
 */
export class TokenError extends TrackerError {
  /** What is wrong with the token. */
  readonly problem: TokenProblem;

  /**
   * Creates the error.
   *
   * @param problem What is wrong.
   * @param message A message that does not contain the token.
   */
  constructor(problem: TokenProblem, message: string) {
    super(message);
    this.name = "TokenError";
    this.problem = problem;
  }
}

/** A signing key: text of at least 32 bytes, raw bytes, or an HMAC `CryptoKey`. */
export type SigningKey = string | Uint8Array | CryptoKey;

const keys = new WeakMap<object, Promise<CryptoKey>>();
const textKeys = new Map<string, Promise<CryptoKey>>();

/**
 * Imports a signing key once (cached), checking it is long enough.
 *
 * @param key The key.
 * @returns The HMAC-SHA-256 key.
 * @throws {TypeError} When the key is shorter than 32 bytes or of another type.
 */
export function importSigningKey(key: SigningKey): Promise<CryptoKey> {
  if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey) {
    return Promise.resolve(key);
  }
  const bytes = typeof key === "string"
    ? encoder.encode(key)
    : key instanceof Uint8Array
    ? key
    : undefined;
  if (bytes === undefined || bytes.length < 32) {
    throw new TypeError(
      `Cannot use the relay signing key: expected a string or Uint8Array of at least 32 bytes, got ${
        bytes === undefined ? typeof key : `${bytes.length} bytes`
      }`,
    );
  }
  const cached = typeof key === "string"
    ? textKeys.get(key)
    : keys.get(key as object);
  if (cached) return cached;
  const imported = crypto.subtle.importKey(
    "raw",
    bytes as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  if (typeof key === "string") {
    if (textKeys.size > 16) textKeys.clear();
    textKeys.set(key, imported);
  } else keys.set(key as object, imported);
  return imported;
}

function base64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new SyntaxError("not base64url");
  }
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") +
    "=".repeat((4 - (text.length % 4)) % 4);
  return decodeBase64(padded);
}

function checkScope(scope: TokenScope, action: string): void {
  const fail = (what: string, value: unknown, expected: string): never => {
    throw new TypeError(
      `Cannot ${action}: '${what}' is ${
        JSON.stringify(value) ?? String(value)
      }; expected ${expected}`,
    );
  };
  if (typeof scope?.project !== "string" || scope.project === "") {
    fail("project", scope?.project, "a non-empty string");
  }
  if (
    scope.runId !== undefined &&
    (typeof scope.runId !== "string" || scope.runId === "")
  ) {
    fail("runId", scope.runId, "a non-empty string");
  }
  if (
    scope.keyPrefixes !== undefined &&
    (!Array.isArray(scope.keyPrefixes) || scope.keyPrefixes.length === 0 ||
      scope.keyPrefixes.some((p) => typeof p !== "string" || p === ""))
  ) {
    fail("keyPrefixes", scope.keyPrefixes, "a non-empty array of strings");
  }
  for (const name of ["maxPoints", "maxBytes"] as const) {
    const value = scope[name];
    if (
      value !== undefined && (!Number.isSafeInteger(value) || value < 0)
    ) {
      fail(name, value, "a non-negative integer");
    }
  }
  if (scope.subject !== undefined && typeof scope.subject !== "string") {
    fail("subject", scope.subject, "a string");
  }
}

/**
 * Mints a relay token: the scope and an expiry, signed with the relay's
 * key (HMAC-SHA-256, WebCrypto). Give it to a browser page or an edge
 * function; it cannot be widened without the key.
 *
 * @param signingKey The relay's signing key (at least 32 bytes).
 * @param options Scope, limits and lifetime.
 * @returns The token.
 * @throws {TypeError} When a scope field or the lifetime is invalid.
 *
 * @example
 * ```ts
 * import { mintToken, verifyToken } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * const key = "a-relay-signing-key-of-32-bytes-or-more";
 * const token = await mintToken(key, { project: "web", expiresInMs: 60_000 });
 * const claims = await verifyToken(key, token);
 * assert.equal(claims.project, "web");
 * ```
 */
export async function mintToken(
  signingKey: SigningKey,
  options: MintTokenOptions,
): Promise<string> {
  checkScope(options, "mint a relay token");
  const lifetime = options.expiresInMs;
  if (
    !Number.isSafeInteger(lifetime) || lifetime <= 0 ||
    lifetime > 30 * 24 * 3600_000
  ) {
    throw new TypeError(
      `Cannot mint a relay token: 'expiresInMs' is ${
        JSON.stringify(lifetime) ?? String(lifetime)
      }; expected a positive integer of at most 30 days (2592000000)`,
    );
  }
  const now = options.nowMs ?? Date.now();
  const id = base64Url(crypto.getRandomValues(new Uint8Array(12)));
  const claims: Record<string, unknown> = {
    id,
    project: options.project,
    issuedAtMs: now,
    expiresAtMs: now + lifetime,
  };
  for (
    const name of [
      "runId",
      "keyPrefixes",
      "maxPoints",
      "maxBytes",
      "subject",
    ] as const
  ) {
    if (options[name] !== undefined) claims[name] = options[name];
  }
  const body = base64Url(encoder.encode(JSON.stringify(claims)));
  const key = await importSigningKey(signingKey);
  const signature = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(`${PREFIX}.${body}`)),
  );
  return `${PREFIX}.${body}.${base64Url(signature)}`;
}

/**
 * Checks a relay token: its form, its signature (compared in constant time
 * by WebCrypto's `verify`) and its expiry.
 *
 * @param signingKey The relay's signing key.
 * @param token The token, as sent.
 * @param nowMs The time now (for tests).
 * @returns Its claims.
 * @throws {TokenError} When it is missing, malformed, forged or expired.
 *
 * @example
 * ```ts
 * import { mintToken, TokenError, verifyToken } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * const key = "a-relay-signing-key-of-32-bytes-or-more";
 * const token = await mintToken(key, { project: "web", expiresInMs: 1000, nowMs: 0 });
 * await assert.rejects(verifyToken(key, token, 5000), TokenError);
 * ```
 */
export async function verifyToken(
  signingKey: SigningKey,
  token: string | null | undefined,
  nowMs: number = Date.now(),
): Promise<TokenClaims> {
  if (typeof token !== "string" || token === "") {
    throw new TokenError("missing", "No relay token was given");
  }
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX || token.length > 4096) {
    throw new TokenError(
      "malformed",
      `The relay token is not of the form ${PREFIX}.<claims>.<signature>`,
    );
  }
  let signature: Uint8Array;
  let claims: TokenClaims;
  try {
    signature = fromBase64Url(parts[2]);
    const body = fromBase64Url(parts[1]);
    // One spelling per token: base64url whose unused bits are set is not
    // accepted as the same token.
    if (base64Url(signature) !== parts[2] || base64Url(body) !== parts[1]) {
      throw new SyntaxError("not canonical");
    }
    claims = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new TokenError("malformed", "The relay token cannot be decoded");
  }
  const key = await importSigningKey(signingKey);
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    signature as BufferSource,
    encoder.encode(`${parts[0]}.${parts[1]}`),
  );
  if (!valid) {
    throw new TokenError(
      "signature",
      "The relay token was not signed by this relay",
    );
  }
  if (
    claims === null || typeof claims !== "object" ||
    typeof claims.id !== "string" || typeof claims.expiresAtMs !== "number"
  ) {
    throw new TokenError("malformed", "The relay token lacks its claims");
  }
  try {
    checkScope(claims, "use the relay token");
  } catch (error) {
    throw new TokenError("malformed", (error as Error).message);
  }
  if (nowMs >= claims.expiresAtMs) {
    throw new TokenError(
      "expired",
      `The relay token expired at ${
        new Date(claims.expiresAtMs).toISOString()
      }`,
    );
  }
  return claims;
}

/**
 * Compares two secrets in time that does not depend on where they differ
 * (both are hashed first, so their lengths do not leak either).
 *
 * @param a One secret.
 * @param b The other.
 * @returns Whether they are equal.
 *
 * @example
 * ```ts
 * import { secretsEqual } from "@uetai/uetai/relay";
 * import assert from "node:assert/strict";
 * assert.equal(await secretsEqual("admin-key", "admin-key"), true);
 * assert.equal(await secretsEqual("admin-key", "admin-kez"), false);
 * ```
 */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all(
    [a, b].map(async (s) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)))
    ),
  );
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i] ^ y[i];
  return difference === 0;
}
