import { createServer, type Server as HttpServer, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { type Config, type ErrorCode, HTTP_STATUS_OF, type Logger } from "@otp/contracts";
import { SECURITY_HEADERS } from "./headers.js";

type FetchCallback = Parameters<typeof getRequestListener>[0];

/**
 * Serves `app` on `port` with the edge settings of docs/security.md: a client that is slow to send
 * its headers or its body is cut after `HTTP_HEADERS_TIMEOUT` / `HTTP_REQUEST_TIMEOUT` (Node's own
 * default lets a stalled body hold its connection for 300 s), idle keep-alive connections after
 * `HTTP_KEEPALIVE_TIMEOUT`, and connections beyond `HTTP_MAX_CONNECTIONS` are dropped at once, so
 * that stalled clients cannot take every file descriptor and starve `/health` and real requests.
 * A request that is not HTTP the app can read (a malformed request line, headers over Node's
 * 16 KiB, a URL no `Request` takes) is answered in the envelope too, never with an empty body.
 */
export async function listen(
  app: { fetch: FetchCallback },
  http: Config["http"],
  port: number,
  logger: Pick<Logger, "error">,
): Promise<HttpServer> {
  const listener = getRequestListener(app.fetch, {
    // Called when no Request could be made of what the client sent (or the app itself threw).
    errorHandler: (error) => {
      if (error instanceof Error && error.name === "RequestError") {
        return envelopeResponse("bad_request", "The request's URL or Host header cannot be read");
      }
      logger.error({ err: error }, "internal error outside the app's own handler");
      return envelopeResponse("internal", "Internal error");
    },
  });
  const server = createServer(
    {
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      connectionsCheckingInterval: http.connectionsCheckingIntervalMs,
    },
    listener,
  );
  server.on("clientError", answerClientError);
  server.maxConnections = http.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

function envelope(code: ErrorCode, message: string): string {
  return JSON.stringify({ status: false, status_code: code, message });
}

/** The envelope with the HTTP status that goes with its code, as every other failure answers. */
function envelopeResponse(code: ErrorCode, message: string): Response {
  const headers = { ...SECURITY_HEADERS, "content-type": "application/json" };
  return new Response(envelope(code, message), { status: HTTP_STATUS_OF[code], headers });
}

/**
 * What Node's HTTP parser refused, answered as Node would (431, 408, else 400) but in the envelope,
 * with the headers of every answer, and the connection closed. Nothing is written when the socket
 * is gone or an answer to an earlier request on it has begun.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (error.code === "ECONNRESET" || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  const [code, message]: [ErrorCode, string] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? ["headers_too_large", "The request line and headers are over 16 KiB: send long parameters in the body"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ["request_timeout", "The request was not received in time"]
        : ["bad_request", "The request is not valid HTTP/1.1"];
  const status = HTTP_STATUS_OF[code];
  const body = envelope(code, message);
  const headers = Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${headers.join("")}connection: close\r\n\r\n${body}`,
  );
  // With a clientError listener Node leaves the socket to it: `end` only half-closes, and a client
  // that never closes its side would keep the connection (and its request) for ever — the stalled
  // client the timeouts are there to cut. What it still sends is read and dropped meanwhile.
  socket.resume();
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}

/** How long a refused client gets to read the answer and close before its socket is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1_000;

/**
 * Stops accepting connections and waits for the open ones to end: connections kept alive go as soon
 * as they are idle, including those whose request was in flight when the stop began; whatever is
 * still busy after `drainMs` is cut.
 */
export async function drain(server: HttpServer, drainMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  const reaper = setInterval(() => server.closeIdleConnections(), 25);
  server.closeIdleConnections();
  const drainTimer = setTimeout(() => server.closeAllConnections(), drainMs);
  await stopped;
  clearInterval(reaper);
  clearTimeout(drainTimer);
}
