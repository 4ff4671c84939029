import { int } from "./format.js";

/**
 * One target of the benchmark, checked against this run: what was measured beside what it is
 * measured against in the same run (docs/performance.md, "Targets").
 */
export interface Target {
  /** What is asked: "`POST /sms` ≥ 1.5× the peer (16 connections)". */
  readonly goal: string;
  /** This service's figure: "1,530 req/s". */
  readonly figure: string;
  /** The same-run figure it is held against, or "–" for an absolute target. */
  readonly baseline: string;
  /** The comparison: "1.62×", "31.2 ms". */
  readonly result: string;
  readonly met: boolean;
}

/** "1.62×": a ratio to two decimals. */
export const times = (ratio: number) => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "–");

/** A target on the ratio of `value` to `baseline` (both rates), met at `min` or above. */
export function ratioTarget(
  goal: string,
  value: number,
  baseline: number,
  min: number,
  units: { value: string; baseline: string } = { value: "req/s", baseline: "req/s" },
): Target {
  const ratio = value / baseline;
  return {
    goal,
    figure: `${int(value)} ${units.value}`,
    baseline: `${int(baseline)} ${units.baseline}`,
    result: times(ratio),
    met: Number.isFinite(ratio) && ratio >= min,
  };
}

/** A latency target: `ms` below `max`. */
export function latencyTarget(goal: string, ms: number, max: number): Target {
  return { goal, figure: `${ms.toFixed(1)} ms`, baseline: "–", result: `${ms.toFixed(1)} ms`, met: ms < max };
}

/** A rate target: `value` at `min` or above, with the figure it is read beside (or "–"). */
export function rateTarget(goal: string, value: number, min: number, beside: string, unit = "/s"): Target {
  return { goal, figure: `${int(value)}${unit}`, baseline: beside, result: `${int(value)}${unit}`, met: value >= min };
}

/** The targets as one table, in the phases' order, with the count met. */
export function renderTargets(targets: readonly Target[]): string[] {
  if (targets.length === 0) return [];
  const met = targets.filter((t) => t.met).length;
  return [
    `Targets: ${met} of ${targets.length} met.`,
    "",
    "| target | this service | same-run baseline | result | met |",
    "|---|--:|--:|--:|---|",
    ...targets.map(
      (t) => `| ${t.goal} | ${t.figure} | ${t.baseline} | ${t.result} | ${t.met ? "**met**" : "**not met**"} |`,
    ),
  ];
}
