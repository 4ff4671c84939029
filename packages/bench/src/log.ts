/**
 * The benchmark's progress, on stderr (stdout carries only the report): each line stamped with the
 * seconds since the run started, so a slow step shows in the log.
 */

export type Log = (message: string) => void;

const started = performance.now();

/** Seconds since this module was loaded: the start of the run. */
export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}

export const log: Log = (message) =>
  process.stderr.write(`[bench ${elapsedSeconds().toFixed(0).padStart(3)} s] ${message}\n`);
