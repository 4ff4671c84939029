/**
 * `pnpm bench` (after `pnpm build`): the real API, dispatchers and recording provider as processes of
 * their own on a scratch database and broker prefix, loaded from this process with autocannon, each
 * figure beside a baseline measured in the same run (docs/performance.md). The phases (phases/):
 *   - http: POST /sms and GET /sms/check (JSON body on the GET, as clients of the original product
 *     send it) at several concurrencies, beside pgbench running the API's SQL and the bare Hono stack
 *     answering a constant;
 *   - peer: this service and the peer baseline (peer/: what a team writes in an afternoon on the
 *     same stack) in alternation at 16 connections, with first right and wrong checks;
 *   - rows: creates and checks with 5 M old rows against an empty table, in alternation;
 *   - delivery: throughput API → RabbitMQ → dispatcher(s) → provider, beside the provider's ceiling,
 *     on the single broker and on a throwaway 3-node cluster;
 *   - policy: what the destination policy costs a create.
 * Prints a Markdown table and writes it to packages/bench/last-results.md. Options:
 *   --seconds 4 --warmup 1 --connections 1,16,64 --events 10000 --rounds 3 --old-rows 5000000
 *   --cluster 3 --cluster-port 5761 --only http|peer|rows|delivery|policy --api-node-arg=--cpu-prof
 * (`--old-rows 0` skips the rows phase, `--cluster 0` the cluster's scenarios.)
 * Run it alone on the machine: whatever else runs meanwhile is in its figures (docs/performance.md).
 */
import { rmSync, writeFileSync } from "node:fs";
import { type Bench, openBench } from "./bench.js";
import { elapsedSeconds, log } from "./log.js";
import { parseOptions } from "./options.js";
import { PHASE_GROUPS, selectPhases } from "./phases/index.js";
import type { ReportPart } from "./report/part.js";
import { renderReport } from "./report/render.js";
import { Resources } from "./resources.js";
import { createScratch } from "./scratch.js";

const options = parseOptions(process.argv.slice(2), PHASE_GROUPS);
const scratch = createScratch();
log(`work directory ${scratch.workDir} (service logs in logs/)`);
const resources = new Resources(scratch.logDir, log);

async function main(): Promise<void> {
  const bench = await openBench(options, scratch, resources, log);
  const parts: ReportPart[] = [];
  for (const phase of selectPhases(options.only)) parts.push(await phase.run(bench));
  await bench.services.api.stop();
  writeReport(bench, parts);
}

function writeReport(bench: Bench, parts: readonly ReportPart[]): void {
  const report = renderReport(
    {
      date: new Date(),
      machine: bench.machine,
      seconds: options.seconds,
      warmup: options.warmup,
      elapsedSeconds: elapsedSeconds(),
    },
    parts,
  );
  process.stdout.write(`\n${report}\n`);
  writeFileSync(options.out, report);
  log(`written to ${options.out}`);
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.stderr.write(`service logs kept in ${scratch.logDir}\n`);
} finally {
  await resources.cleanup();
  // A failed or a profiled run (node flags for a service) keeps its work directory and service logs.
  if (!failed && options.apiNodeArgs.length === 0 && options.dispatcherNodeArgs.length === 0) {
    rmSync(scratch.workDir, { recursive: true, force: true });
  }
  log(`done in ${elapsedSeconds().toFixed(0)} s`);
}
process.exit(failed ? 1 : 0);
