/**
 * What the fake servers (`fake_comet.ts`, `fake_mlflow.ts`) share: a
 * {@linkcode LoopbackServer} that owns the `node:http` server on 127.0.0.1
 * (random port), tracks its open connections, and injects faults from a
 * queue: answered ones (429, 5xx, ...: the fake builds the answer, in its
 * service's shape), hangs, resets and an unreachable server. Runs unchanged
 * under Deno, Bun and Node.
 *
 * While a reset fault is pending the server closes idle kept-alive
 * connections, and {@linkcode LoopbackServer.resetPending} tells the fake to
 * answer `Connection: close`: Deno's fetch silently retries a request once
 * when a reused connection breaks, which would otherwise hide the reset.
 * `setDown(true)` closes idle connections too.
 *
 * @module
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { Buffer } from "node:buffer";

type Socket = IncomingMessage["socket"];

/** The faults the server itself carries out; the fake never sees them. */
export type SilentFaultKind = "hang" | "reset";

/** Which requests a fault applies to, and how many. */
export interface FaultTarget {
  /** An exact path, or a pattern tested on the path; all paths when absent. */
  path?: string | RegExp;
  /** Only this method (any case); all methods when absent. */
  method?: string;
  /**
   * How many matching requests get the fault.
   * @default {1}
   */
  count?: number;
}

/** A fault a request met, which the fake answers. */
export interface Fault<K extends string> {
  /** The fake's kind of fault (`"throttle"`, `"fail"`, ...). */
  kind: K;
  /** The status given when the fault was added. */
  status: number;
  /** The `Retry-After` seconds given when the fault was added. */
  retryAfterS: number;
}

interface QueuedFault<K extends string> extends Fault<K | SilentFaultKind> {
  path: string | RegExp | undefined;
  method: string | undefined;
  remaining: number;
}

/** How {@linkcode LoopbackServer.serve} handles one request. */
export interface Exchange<K extends string> {
  /** The method faults are matched on. */
  method: string;
  /** The path faults are matched on. */
  path: string;
  /** Gets the whole body once it is read, whatever happens next. */
  received?: (body: Uint8Array) => void;
  /** Answers the request: with `fault`'s answer when one matched. */
  answer: (body: Uint8Array, fault: Fault<K> | undefined) => void;
}

/**
 * Checks the status of a `fail()` fault.
 *
 * @param status The status asked for.
 * @returns The status.
 * @throws {RangeError} When it is not 400-599.
 */
export function failStatus(status: number): number {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(
      `Cannot inject a failure: status ${status} is not 400-599`,
    );
  }
  return status;
}

/**
 * The request headers with lower-case names, repeated ones joined by `, `.
 *
 * @param request The request.
 * @returns The headers.
 */
export function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) {
      headers[name.toLowerCase()] = Array.isArray(value)
        ? value.join(", ")
        : value;
    }
  }
  return headers;
}

/**
 * A `node:http` server on 127.0.0.1 with a fault queue. `K` is the kinds of
 * fault the fake answers itself; hangs and resets are carried out here.
 *
 * @example A fake's request handler
 * ```ts
 * const server = await LoopbackServer.start<"fail">("Example");
 * server.onRequest((request, response) =>
 *   server.serve(request, response, {
 *     method: request.method ?? "GET",
 *     path: request.url ?? "/",
 *     answer: (_body, fault) => response.writeHead(fault?.status ?? 200).end(),
 *   })
 * );
 * server.addFault("fail", { path: "/x" }, 503);
 * await server.close();
 * ```
 */
export class LoopbackServer<K extends string> {
  /** Base URL, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;

  #server: Server;
  #sockets: Set<Socket>;
  #busy: Set<Socket> = new Set();
  #faults: QueuedFault<K>[] = [];
  #down = false;
  #handler?: (request: IncomingMessage, response: ServerResponse) => void;

  private constructor(server: Server, sockets: Set<Socket>, port: number) {
    this.#server = server;
    this.#sockets = sockets;
    this.url = `http://127.0.0.1:${port}`;
  }

  /**
   * Listens on 127.0.0.1 with a random port. Requests that come before
   * {@linkcode LoopbackServer.onRequest} has a handler get their socket
   * destroyed.
   *
   * @param service The service named in errors ("Comet", "MLflow").
   * @returns The listening server.
   */
  static async start<K extends string>(
    service: string,
  ): Promise<LoopbackServer<K>> {
    const started: { server?: LoopbackServer<K> } = {};
    const server = createServer(
      (request: IncomingMessage, response: ServerResponse) => {
        response.on("error", () => {});
        request.on("error", () => {});
        const handler = started.server === undefined
          ? undefined
          : started.server.#handler;
        if (handler === undefined) request.socket.destroy();
        else handler(request, response);
      },
    );
    const sockets = new Set<Socket>();
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.on(
      "clientError",
      (_error: Error, socket: Socket) => socket.destroy(),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new Error(
        `Cannot start the fake ${service} server: it has no port`,
      );
    }
    started.server = new LoopbackServer<K>(server, sockets, address.port);
    return started.server;
  }

  /**
   * Sets the handler of every request from now on.
   *
   * @param handler Gets each request (normally passes it to
   * {@linkcode LoopbackServer.serve}).
   */
  onRequest(
    handler: (request: IncomingMessage, response: ServerResponse) => void,
  ): void {
    this.#handler = handler;
  }

  /**
   * Queues a fault. A reset also closes the idle connections, so the request
   * that meets it comes on a fresh connection.
   *
   * @param kind The kind of fault.
   * @param target Which requests and how many.
   * @param status The status the fake answers with.
   * @param retryAfterS The `Retry-After` seconds the fake answers with.
   * @throws {RangeError} When `count` is not a positive integer.
   */
  addFault(
    kind: K | SilentFaultKind,
    target: FaultTarget,
    status: number = 0,
    retryAfterS: number = 0,
  ): void {
    const count = target.count ?? 1;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot add a ${kind} fault: count ${count} is not a positive integer`,
      );
    }
    this.#faults.push({
      kind,
      path: target.path,
      method: target.method?.toUpperCase(),
      remaining: count,
      status,
      retryAfterS,
    });
    if (kind === "reset") this.#closeIdle();
  }

  /**
   * While down, every request's socket is destroyed at once, as if the
   * server were unreachable. Going down closes the idle connections.
   *
   * @param down Whether the server is down.
   */
  setDown(down: boolean): void {
    this.#down = down;
    if (down) this.#closeIdle();
  }

  /**
   * Whether a reset fault is pending: every answer should then say
   * `Connection: close` (see the module notes).
   */
  get resetPending(): boolean {
    return this.#faults.some((fault) => fault.kind === "reset");
  }

  /**
   * Serves one request: while down, destroys its socket; else reads the body,
   * hands it to `received`, takes the first matching fault, and hangs (never
   * answers), resets (destroys the socket) or calls `answer`.
   *
   * @param request The request.
   * @param response Its response.
   * @param exchange What faults match on, and the fake's callbacks.
   */
  serve(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange<K>,
  ): void {
    const socket = request.socket;
    this.#busy.add(socket);
    response.on("close", () => this.#busy.delete(socket));
    if (this.#down) {
      socket.destroy();
      return;
    }
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      exchange.received?.(body);
      const fault = this.#takeFault(exchange.method, exchange.path);
      if (fault?.kind === "hang") return;
      if (fault?.kind === "reset") {
        socket.destroy();
        return;
      }
      exchange.answer(body, fault as Fault<K> | undefined);
    });
  }

  /**
   * Closes the listening socket and every open connection, hung ones too.
   *
   * @returns When the server is closed.
   */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Closes the kept-alive connections no request is using. Deno's fetch
   * silently retries a request once when a reused connection breaks, which
   * would hide a reset; after this, the request that meets the fault comes
   * on a fresh connection.
   */
  #closeIdle(): void {
    for (const socket of this.#sockets) {
      if (!this.#busy.has(socket)) socket.destroy();
    }
  }

  #takeFault(method: string, path: string): QueuedFault<K> | undefined {
    const index = this.#faults.findIndex((fault) => {
      if (fault.method !== undefined && fault.method !== method) return false;
      if (fault.path === undefined) return true;
      if (typeof fault.path === "string") return fault.path === path;
      fault.path.lastIndex = 0;
      return fault.path.test(path);
    });
    if (index < 0) return undefined;
    const fault = this.#faults[index];
    if (--fault.remaining === 0) this.#faults.splice(index, 1);
    return fault;
  }
}
