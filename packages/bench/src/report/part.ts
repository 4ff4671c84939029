/**
 * What a phase adds to the report: its tables and notes (Markdown lines, a blank line put before
 * them), and its lines under "Targets", in the phases' order.
 */
export interface ReportPart {
  readonly lines: readonly string[];
  readonly targets: readonly string[];
}
