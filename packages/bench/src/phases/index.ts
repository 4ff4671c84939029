import { delivery } from "./delivery.js";
import { httpLoad } from "./http-load.js";
import { oldRows } from "./old-rows.js";
import { peerComparison } from "./peer.js";
import type { Phase } from "./phase.js";
import { policyCost } from "./policy.js";

export type { Phase } from "./phase.js";

/**
 * Every phase of `pnpm bench`, in the order they run and appear in the report. A new phase is a
 * module of its own in this folder (see phase.ts) and one entry here; `--only <group>` then
 * selects it by its group (docs/performance.md).
 */
export const PHASES: readonly Phase[] = [httpLoad, peerComparison, oldRows, delivery, policyCost];

/** The groups `--only` may name. */
export const PHASE_GROUPS: readonly string[] = [...new Set(PHASES.map((p) => p.group))];

/** The phases a run does: all of them, or those of the `--only` group. */
export function selectPhases(only: string | undefined): readonly Phase[] {
  return only === undefined ? PHASES : PHASES.filter((p) => p.group === only);
}
