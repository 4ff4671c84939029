import type { Target } from "./targets.js";

/**
 * What a phase adds to the report: its tables and notes (Markdown lines, a blank line put before
 * them), and its targets, checked against the run, listed together at the end in the phases' order.
 */
export interface ReportPart {
  readonly lines: readonly string[];
  readonly targets: readonly Target[];
}
