// Serving the dashboard in Deno (Deno.serve), Bun (Bun.serve) and Node
// (node:http, reached at run time, with a small fetch adapter): no
// dependency beyond Hono.
import { toNativeResponse } from "../runtime/native_response.ts";
import {
  createDashboard,
  type DashboardApp,
  type DashboardOptions,
} from "./app.ts";

/** Options of {@linkcode serveDashboard}. */
export interface ServeDashboardOptions extends DashboardOptions {
  /**
   * The interface to listen on. Anything but a loopback address exposes
   * the store to the network (and is added to `allowedHosts`).
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; `0` picks a free one.
   * @default {6070}
   */
  port?: number;
}

/** A running dashboard server. */
export interface DashboardServer {
  /**
   * Where to open it, such as `http://127.0.0.1:6070/` (on loopback when
   * it listens on every interface, `0.0.0.0` or `::`).
   */
  url: string;
  /** The interface it listens on. */
  hostname: string;
  /** The port it listens on. */
  port: number;
  /** The app it serves. */
  app: DashboardApp;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoServer;
}
interface BunServer {
  port: number;
  stop(closeActive?: boolean): Promise<void> | void;
}
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): BunServer;
}

/** The parts of `node:http` the adapter uses. */
interface NodeRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}
interface NodeResponse {
  writeHead(status: number, headers: string[]): void;
  write(chunk: Uint8Array): boolean;
  end(): void;
  once(event: "drain" | "close", listener: () => void): void;
  on(event: "close", listener: () => void): void;
  destroyed: boolean;
}
interface NodeHttpServer {
  listen(port: number, hostname: string, callback: () => void): void;
  once(event: "error", listener: (error: Error) => void): void;
  address(): { port: number } | string | null;
  close(callback: () => void): void;
  closeAllConnections?(): void;
}
interface NodeHttp {
  createServer(
    handler: (request: NodeRequest, response: NodeResponse) => void,
  ): NodeHttpServer;
}

function isLoopbackAddress(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" ||
    hostname === "[::1]" || /^127\./.test(hostname);
}

/**
 * Serves the dashboard (see {@linkcode createDashboard}) with the runtime's
 * own server: `Deno.serve`, `Bun.serve`, or `node:http` in Node. Listens on
 * loopback by default, so only this machine can open it.
 *
 * @param options The store folder, interface, port and the app's options.
 * @returns The server, once it listens.
 * @throws {UnsupportedRuntimeError} When the runtime has no filesystem.
 * @throws {Error} When the port is taken (`EADDRINUSE`/`AddrInUse`).
 *
 * @example
 * ```ts
 * import { serveDashboard } from "@uetai/uetai/dashboard";
 * import assert from "node:assert/strict";
 * const server = await serveDashboard({ dir: await Deno.makeTempDir(), port: 0 });
 * const answer = await fetch(`${server.url}api/runs`);
 * assert.deepEqual(await answer.json(), { runs: [] });
 * await server.close();
 * ```
 */
export async function serveDashboard(
  options: ServeDashboardOptions = {},
): Promise<DashboardServer> {
  // "[::1]" as a URL writes it; the servers want "::1".
  const hostname = (options.hostname ?? "127.0.0.1").replace(
    /^\[(.*)\]$/,
    "$1",
  );
  const allowedHosts = [...(options.allowedHosts ?? [])];
  if (!isLoopbackAddress(hostname)) allowedHosts.push(hostname);
  const app = createDashboard({ ...options, allowedHosts });
  const fetch = (request: Request): Response | Promise<Response> =>
    app.fetch(request);
  const port = options.port ?? 6070;
  // Every interface: this machine opens it on loopback.
  const shown = hostname === "0.0.0.0"
    ? "127.0.0.1"
    : hostname === "::"
    ? "::1"
    : hostname;
  const host = shown.includes(":") ? `[${shown}]` : shown;
  const made = (listening: number, close: () => Promise<void>) => ({
    url: `http://${host}:${listening}/`,
    hostname,
    port: listening,
    app,
    close,
  });

  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno && typeof deno.serve === "function") {
    const server = deno.serve({ hostname, port, onListen() {} }, fetch);
    return made(server.addr.port, () => server.shutdown());
  }
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  if (bun && typeof bun.serve === "function") {
    // Bun refuses responses of a replaced global Response class.
    const server = bun.serve({
      hostname,
      port,
      fetch: async (request: Request) => toNativeResponse(await fetch(request)),
    });
    return made(server.port, async () => {
      await server.stop(true);
    });
  }
  const http = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process?.getBuiltinModule?.("node:http") as NodeHttp | undefined;
  if (!http) {
    throw new Error(
      "Cannot serve the dashboard: this runtime has neither Deno.serve, Bun.serve nor node:http (serve app.fetch yourself)",
    );
  }
  const server = http.createServer((request, response) => {
    void answer(request, response, fetch, host, port);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address();
  const listening = typeof address === "object" && address
    ? address.port
    : port;
  return made(listening, () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }));
}

/** Answers one `node:http` request through a fetch handler. */
async function answer(
  request: NodeRequest,
  response: NodeResponse,
  fetch: (request: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<void> {
  const aborted = new AbortController();
  response.on("close", () => aborted.abort());
  let result: Response;
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) {
        headers.append(name, one);
      }
    }
    const method = request.method ?? "GET";
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (method !== "GET" && method !== "HEAD") {
      const chunks: Uint8Array[] = [];
      for await (const chunk of request) chunks.push(chunk);
      body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const chunk of chunks) {
        body.set(chunk, at);
        at += chunk.length;
      }
    }
    const origin = `http://${headers.get("host") ?? `${host}:${port}`}`;
    result = await fetch(
      new Request(new URL(request.url ?? "/", origin), {
        method,
        headers,
        body,
        signal: aborted.signal,
      }),
    );
  } catch (error) {
    result = new Response(`Cannot answer: ${(error as Error).message}`, {
      status: 500,
    });
  }
  const headers: string[] = []; // flat: name, value, name, value...
  result.headers.forEach((value, name) => headers.push(name, value));
  response.writeHead(result.status, headers);
  if (!result.body || request.method === "HEAD") {
    await result.body?.cancel();
    response.end();
    return;
  }
  const reader = result.body.getReader();
  try {
    while (!response.destroyed) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!response.write(value)) {
        await new Promise<void>((resolve) => {
          response.once("drain", resolve);
          response.once("close", resolve);
        });
      }
    }
  } catch {
    // The client went away, or the body failed: nothing more to send.
  } finally {
    await reader.cancel().catch(() => {});
    response.end();
  }
}
