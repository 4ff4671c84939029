import type { Bench } from "../bench.js";
import type { ReportPart } from "../report/part.js";

/**
 * One part of the benchmark: it measures with the services the run started (starting its own
 * processes through `bench.resources`, so that they are stopped however the run ends) and returns
 * its part of the report. Phases run one after the other, never side by side: each has the
 * machine to itself (docs/performance.md).
 */
export interface Phase {
  readonly name: string;
  /** `pnpm bench --only <group>` runs the phases of one group. */
  readonly group: string;
  run(bench: Bench): Promise<ReportPart>;
}
