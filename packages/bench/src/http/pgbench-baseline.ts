import type { Bench } from "../bench.js";
import type { Measurement } from "../load.js";
import { pgbench } from "../pgbench/runner.js";

/**
 * The database baseline of one endpoint at one concurrency: pgbench running `script` on the
 * scratch database with the API's protocol, for as long as the API was loaded.
 */
export function pgbenchBaseline(
  bench: Bench,
  script: string,
  vars: Record<string, string>,
  connections: number,
): Promise<Measurement> {
  const { options, scratch, roles } = bench;
  return pgbench(
    scratch.pg,
    { script, vars, connections, seconds: options.seconds, protocol: options.protocol },
    scratch.workDir,
    roles,
    options.warmup,
  );
}
