// A loopback HTTP server for bench/artifact_bench.ts, run in its own process
// so serving costs no CPU time in the process being measured:
// `node bench/helpers/loopback_server.mjs <file>`. Listens on 127.0.0.1 on a
// free port and prints `port <n>` on its first line of output.
//   PUT  any path: reads and discards the body, answers JSON
//        { bytes, contentLength, chunked } (contentLength null when absent);
//        with `?verify` in the URL also `sha256`, the body's SHA-256 in hex.
//   GET  any path: streams <file> from disk with a Content-Length.
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";

const file = process.argv[2];
if (!file) {
  console.error("usage: node loopback_server.mjs <file>");
  process.exit(2);
}

const server = createServer((request, response) => {
  if (request.method === "PUT" || request.method === "POST") {
    let bytes = 0;
    const hash = request.url.includes("?verify")
      ? createHash("sha256")
      : undefined;
    request.on("data", (chunk) => {
      bytes += chunk.length;
      hash?.update(chunk);
    });
    request.on("end", () => {
      const length = request.headers["content-length"];
      const body = JSON.stringify({
        bytes,
        contentLength: length === undefined ? null : Number(length),
        chunked: /chunked/i.test(request.headers["transfer-encoding"] ?? ""),
        sha256: hash?.digest("hex"),
      });
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
    request.on("error", () => response.destroy());
    return;
  }
  if (request.method === "GET") {
    let size;
    try {
      size = statSync(file).size;
    } catch (error) {
      response.writeHead(404).end(String(error));
      return;
    }
    response.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": size,
    });
    // 1 MiB reads, as curl and our client would use large buffers anyway.
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(response);
    return;
  }
  response.writeHead(405).end();
});

server.listen(0, "127.0.0.1", () => {
  console.log(`port ${server.address().port}`);
});
// Connections kept alive by the clients would hold close(): just exit.
process.on("SIGTERM", () => process.exit(0));
