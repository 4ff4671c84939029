import { createServer, type ServerResponse } from "node:http";
import type { Log } from "@otp/broker";
import { type HealthContent, healthAnswer } from "@otp/contracts";
import type { Registry } from "prom-client";

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The dispatcher's own port: `GET /health` (200 or 503) and `GET /metrics` (Prometheus text). */
export async function startHttpServer(options: {
  readonly port: number;
  readonly health: () => Promise<HealthContent>;
  readonly registry: Registry;
  readonly log: Log;
}): Promise<HttpServer> {
  const server = createServer((req, res) => {
    const path = pathOf(req.url);
    // Thrown here, a request target that is no URL (`GET http://[zz/`) would end the dispatcher.
    if (path === undefined)
      return json(res, 400, { status: false, status_code: "bad_request", message: "the request's URL cannot be read" });
    const route = async () => {
      if (req.method !== "GET" && req.method !== "HEAD")
        return json(res, 405, { status: false, status_code: "method_not_allowed", message: "GET only" });
      if (path === "/health") {
        const answer = healthAnswer(await options.health());
        return json(res, answer.status ? 200 : 503, answer);
      }
      if (path === "/metrics") {
        const text = await options.registry.metrics();
        res.writeHead(200, { "content-type": options.registry.contentType });
        res.end(text);
        return;
      }
      return json(res, 404, { status: false, status_code: "not_found", message: `no route ${path}` });
    };
    route().catch((error) => {
      options.log.error({ err: error }, "health/metrics request failed");
      if (!res.headersSent) json(res, 500, { status: false, status_code: "internal", message: "internal error" });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The path of a request target; undefined when it cannot be read as a URL. */
function pathOf(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? "/", "http://dispatcher").pathname;
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
