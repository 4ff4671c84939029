import type { Bench } from "../bench.js";
import type { Measurement } from "../load.js";
import { checkParams, createParams } from "../pgbench/params.js";
import { checkScript, createScript } from "../pgbench/scripts.js";
import { pgbenchBaseline } from "./pgbench-baseline.js";
import type { Phones } from "./phones.js";

/** One endpoint under load: its requests (to the API and to the bare server) and its database baseline. */
export interface Endpoint {
  /** As the report names it: `POST /sms`. */
  readonly name: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body: () => string;
  readonly bareBody: () => string;
  /**
   * pgbench with the SQL the API sends for one request, at `connections`; `api` is the API's
   * measurement at the same concurrency, just taken. `batch`: see HttpRow.
   */
  readonly pgbench: (connections: number, api: Measurement) => Promise<{ measurement: Measurement; batch?: number }>;
}

/** `POST /sms`: creates, each for a phone of its own. */
export function createEndpoint(bench: Bench, phones: Phones): Endpoint {
  const params = createParams(bench.scratch.keys);
  let runs = 0;
  return {
    name: "POST /sms",
    method: "POST",
    path: "/sms",
    body: phones.createBody,
    bareBody: phones.bareCreateBody,
    pgbench: async (connections, api) => {
      // The API deletes published outbox rows in one statement per 20 ms flush: its share per create.
      const batch = Math.max(1, Math.min(500, Math.round(api.rps * 0.02)));
      bench.log(`POST /sms, ${connections} connections: pgbench (outbox delete every ${batch} inserts)`);
      const script = createScript(batch);
      // Each run's own `run` variable: its rows do not collide with an earlier run's.
      const vars = { ...params, ...script.vars(++runs) };
      return { measurement: await pgbenchBaseline(bench, script.script, vars, connections), batch };
    },
  };
}

/**
 * `GET /sms/check` (JSON body on the GET, as clients of the original product send it): right
 * guesses for OTPs the creates made. Built once the creates are done: the checks draw from them.
 */
export function checkEndpoint(bench: Bench, phones: Phones): Endpoint {
  const params = checkParams(bench.scratch.keys);
  return {
    name: "GET /sms/check",
    method: "GET",
    path: "/sms/check",
    body: phones.checkBody,
    bareBody: phones.checkBody,
    pgbench: async (connections) => {
      bench.log(`GET /sms/check, ${connections} connections: pgbench`);
      const vars = { ...params, created: String(phones.created) };
      return { measurement: await pgbenchBaseline(bench, checkScript(), vars, connections) };
    },
  };
}
