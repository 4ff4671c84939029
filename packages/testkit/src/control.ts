import type { ServerResponse } from "node:http";
import type { FaultRule } from "./fault-rules.js";
import { parseJson, sendJson } from "./http-helpers.js";
import type { RecordingProvider } from "./recording-provider.js";

/** The HTTP control endpoints (/__requests, /__control/...): see recording-provider.ts. */
export function handleControl(
  provider: RecordingProvider,
  method: string,
  url: URL,
  body: string,
  res: ServerResponse,
): void {
  const path = url.pathname;
  const input = parseJson(body) as Record<string, unknown> | unknown[] | undefined;
  if (path === "/__requests" && method === "GET") {
    const prefix = url.searchParams.get("path");
    sendJson(res, 200, { status: true, requests: provider.requests(prefix === null ? {} : { path: prefix }) });
  } else if (path === "/__requests" && method === "DELETE") {
    provider.clearRequests();
    sendJson(res, 200, { status: true });
  } else if (path === "/__control" && method === "GET") {
    sendJson(res, 200, { status: true, ...provider.snapshot() });
  } else if (path === "/__control/rules" && method === "POST") {
    const rules = Array.isArray(input) ? input : input === undefined ? [] : [input];
    for (const rule of rules) provider.addRule(rule as FaultRule);
    sendJson(res, 200, { status: true, rules: provider.snapshot().rules.length });
  } else if (path === "/__control/rules" && method === "DELETE") {
    provider.clearRules();
    sendJson(res, 200, { status: true, rules: 0 });
  } else if (path === "/__control/delay" && method === "POST") {
    const ms = Number((input as { ms?: unknown } | undefined)?.ms ?? 0);
    provider.setDelay(Number.isFinite(ms) ? ms : 0);
    sendJson(res, 200, { status: true });
  } else if (path === "/__control/hold" && method === "POST") {
    provider.hold();
    sendJson(res, 200, { status: true });
  } else if (path === "/__control/release" && method === "POST") {
    provider.release();
    sendJson(res, 200, { status: true });
  } else if (path === "/__control/reset" && method === "POST") {
    provider.reset();
    sendJson(res, 200, { status: true });
  } else {
    sendJson(res, 404, { status: false, message: `no control endpoint ${method} ${path}` });
  }
}
