import type { Bench } from "../bench.js";
import { measureHttp } from "../load.js";
import type { HttpRow } from "../report/http.js";
import type { Endpoint } from "./endpoints.js";

/**
 * `endpoint` at each concurrency of `--connections`: the API, then pgbench, then the bare server,
 * one right after the other, so that each figure has its baselines measured on the machine as it
 * was then (docs/performance.md: the ratios move much less than the figures).
 */
export async function measureEachConcurrency(bench: Bench, bareUrl: string, endpoint: Endpoint): Promise<HttpRow[]> {
  const rows: HttpRow[] = [];
  for (const connections of bench.options.connections) {
    bench.log(`${endpoint.name}, ${connections} connections: API`);
    const api = await load(bench, bench.services.apiUrl, endpoint, endpoint.body, connections);
    const { measurement: pgbench, batch } = await endpoint.pgbench(connections, api);
    bench.log(`${endpoint.name}, ${connections} connections: bare HTTP`);
    const bare = await load(bench, bareUrl, endpoint, endpoint.bareBody, connections);
    rows.push({ endpoint: endpoint.name, connections, api, pgbench, bare, ...(batch === undefined ? {} : { batch }) });
  }
  return rows;
}

/** autocannon on `url`; a check must answer `{"status":true}`, anything else counts as a mismatch. */
function load(bench: Bench, url: string, endpoint: Endpoint, body: () => string, connections: number) {
  return measureHttp({
    url,
    method: endpoint.method,
    path: endpoint.path,
    body,
    connections,
    seconds: bench.options.seconds,
    warmupSeconds: bench.options.warmup,
    roles: bench.roles,
    ...(endpoint.method === "GET" ? { expectBody: '{"status":true}' } : {}),
  });
}
