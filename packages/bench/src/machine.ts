import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly node: string;
  readonly postgres: string;
  readonly rabbitmq: string;
  readonly pgbench: string;
  readonly autocannon: string;
  readonly kernel: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1]?.trim() ?? "unknown";
  } catch {}
  return cpus()[0]?.model ?? "unknown";
}

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export function describeMachine(versions: { postgres: string; rabbitmq: string; autocannon: string }): Machine {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    ramGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: command("uname", ["-sr"]),
    pgbench: command("pgbench", ["--version"]).replace(/^pgbench \(PostgreSQL\) /, ""),
    ...versions,
  };
}
