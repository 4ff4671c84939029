/**
 * What bounds a throughput, read from the CPU each process used during the run (cpu.ts): the whole
 * machine when its cores were (nearly) all busy; else a single process at (nearly) a whole core —
 * a Node.js service is one thread, so that is its ceiling; else nothing on the CPU, which leaves
 * waiting: round trips, confirms, disk flushes (docs/performance.md, "What bounds each figure").
 */
export function boundBy(cores: Record<string, number>, machineCores: number): string {
  const { machine = 0, ...rest } = cores;
  const busiest = Object.entries(rest)
    .filter(([role]) => !role.endsWith(":sys"))
    .sort((a, b) => b[1] - a[1])[0];
  if (machine >= 0.9 * machineCores) return `the machine (${machine.toFixed(2)} of ${machineCores} cores busy)`;
  if (busiest && busiest[1] >= 0.85 && SINGLE_THREADED.some((p) => busiest[0].startsWith(p))) {
    return `${busiest[0]}: one core (${busiest[1].toFixed(2)}), a single thread`;
  }
  return `no core full (${machine.toFixed(2)} of ${machineCores} busy): waiting on round trips`;
}

/** The process groups that are one Node.js thread (RabbitMQ and PostgreSQL use several). */
const SINGLE_THREADED = ["api", "dispatcher", "provider", "peer", "loadgen", "bare"];
