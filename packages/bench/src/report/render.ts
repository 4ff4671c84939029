import type { Machine } from "../machine.js";
import type { ReportPart } from "./part.js";
import { renderTargets } from "./targets.js";

export interface ReportFrame {
  readonly date: Date;
  readonly machine: Machine;
  readonly seconds: number;
  readonly warmup: number;
  readonly elapsedSeconds: number;
}

/** The report: the date and machine, each phase's part, then every phase's targets. */
export function renderReport(frame: ReportFrame, parts: readonly ReportPart[]): string {
  const m = frame.machine;
  const out: string[] = [];
  out.push(`### Benchmark results (${frame.date.toISOString().slice(0, 16).replace("T", " ")} UTC)`);
  out.push("");
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.kernel}; Node.js ${m.node}, PostgreSQL ${m.postgres} ` +
      `(pgbench ${m.pgbench}), RabbitMQ ${m.rabbitmq}, autocannon ${m.autocannon}. PostgreSQL, RabbitMQ, the ` +
      `services and the load generator all share these cores. Each figure: ${frame.warmup} s warm-up, then ${frame.seconds} s measured; ` +
      `\`pnpm bench\` took ${Math.round(frame.elapsedSeconds)} s.`,
  );
  for (const part of parts) if (part.lines.length > 0) out.push("", ...part.lines);
  const targets = renderTargets(parts.flatMap((part) => part.targets));
  if (targets.length > 0) out.push("", ...targets);
  return `${out.join("\n")}\n`;
}
