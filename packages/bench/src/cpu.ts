import { readdirSync, readFileSync } from "node:fs";

/**
 * Who used the CPU during a run, from /proc: the process groups the benchmark knows (by pid) and
 * PostgreSQL, RabbitMQ and pgbench by command name. Read before and after a run; the difference,
 * over the run's wall time, is in cores (2.0 = both cores of this machine busy all the time).
 */

const TICKS_PER_SECOND = 100;

export type Roles = Record<string, number[]>;

export interface CpuSnapshot {
  readonly at: number;
  readonly byRole: Record<string, number>;
  /** All CPUs, busy ticks (user, nice, system, irq, softirq). */
  readonly machineBusy: number;
}

function stat(pid: string): { comm: string; ticks: number; sysTicks: number; childTicks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    // After the comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { comm, ticks, sysTicks: Number(fields[12]), childTicks: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
}

function machineBusy(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice: busy = user … softirq less idle/iowait.
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return [0, 1, 2, 5, 6].reduce((sum, i) => sum + (v[i] ?? 0), 0);
}

export function snapshot(roles: Roles): CpuSnapshot {
  const byRole: Record<string, number> = {};
  const rolesByPid = new Map<number, string>();
  for (const [role, pids] of Object.entries(roles)) for (const pid of pids) rolesByPid.set(pid, role);
  const add = (role: string, ticks: number) => {
    byRole[role] = (byRole[role] ?? 0) + ticks;
  };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(entry);
    if (!s) continue;
    const pid = Number(entry);
    const role = rolesByPid.get(pid);
    if (!role) {
      // Backends that ended during the run (pgbench's connections) are in the postmaster's child time.
      if (s.comm === "postgres") add("postgres", s.ticks + s.childTicks);
      else if (s.comm === "beam.smp" || s.comm.startsWith("erl")) add("rabbitmq", s.ticks);
      else if (s.comm === "pgbench") add("pgbench", s.ticks);
    } else {
      add(role, s.ticks);
      add(`${role}:sys`, s.sysTicks);
    }
    // pgbench has exited by the end of its run: its time is in this process's child time.
    if (pid === process.pid) add("pgbench", s.childTicks);
  }
  return { at: performance.now(), byRole, machineBusy: machineBusy() };
}

/** Cores used per role between two snapshots, plus `machine` (all processes) — e.g. {api: 0.91, postgres: 0.62}. */
export function coresBetween(a: CpuSnapshot, b: CpuSnapshot, wallSeconds?: number): Record<string, number> {
  const seconds = wallSeconds ?? (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  for (const role of new Set([...Object.keys(a.byRole), ...Object.keys(b.byRole)])) {
    const ticks = (b.byRole[role] ?? 0) - (a.byRole[role] ?? 0);
    if (ticks > 0) out[role] = ticks / TICKS_PER_SECOND / seconds;
  }
  out.machine = (b.machineBusy - a.machineBusy) / TICKS_PER_SECOND / seconds;
  return out;
}

/**
 * "api 0.95 (41% sys), postgres 0.61, loadgen 0.40, other 0.02 (all 1.98)" — largest first; `other`
 * is what no known process accounts for (anything else running on the machine).
 */
export function formatCores(cores: Record<string, number>): string {
  const { machine = 0, ...rest } = cores;
  const roles = Object.entries(rest).filter(([k]) => !k.endsWith(":sys"));
  const known = roles.reduce((sum, [, v]) => sum + v, 0);
  const parts = [...roles, ["other", Math.max(0, machine - known)] as [string, number]]
    .filter(([, v]) => v >= 0.05)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => {
      const sys = rest[`${k}:sys`];
      return `${k} ${v.toFixed(2)}${sys !== undefined && v > 0.1 ? ` (${Math.round((100 * sys) / v)}% sys)` : ""}`;
    });
  return `${parts.join(", ")} (all ${machine.toFixed(2)})`;
}
