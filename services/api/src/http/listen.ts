import type { Server as HttpServer } from "node:http";
import { createAdaptorServer } from "@hono/node-server";

type FetchCallback = Parameters<typeof createAdaptorServer>[0]["fetch"];

import type { Config } from "@otp/contracts";

/**
 * Serves `app` on `port` with the edge settings of docs/security.md: a client that is slow to send
 * its headers or its body is cut after `HTTP_HEADERS_TIMEOUT` / `HTTP_REQUEST_TIMEOUT` (Node's own
 * default lets a stalled body hold its connection for 300 s), idle keep-alive connections after
 * `HTTP_KEEPALIVE_TIMEOUT`, and connections beyond `HTTP_MAX_CONNECTIONS` are dropped at once, so
 * that stalled clients cannot take every file descriptor and starve `/health` and real requests.
 */
export async function listen(app: { fetch: FetchCallback }, http: Config["http"], port: number): Promise<HttpServer> {
  // HTTP/1.1 only (createAdaptorServer's default); the cast gives the http.Server methods used on close.
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      connectionsCheckingInterval: http.connectionsCheckingIntervalMs,
    },
  }) as HttpServer;
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
