import { pino } from "pino";

export type Logger = pino.Logger;

/** How long a log line may wait in the buffer before it is written. */
const LOG_FLUSH_MS = 100;

/**
 * JSON lines on stdout. Never log codes or message texts; targets are not logged at all. Buffered:
 * written 4 KiB at a time or LOG_FLUSH_MS after the line at the latest, synchronously on exit;
 * pino's default, a synchronous write per line, is a system call per delivery.
 */
export function createLogger(level: string, name = "dispatcher"): Logger {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => stream.flush(), LOG_FLUSH_MS).unref();
  return pino({ level, base: { service: name, pid: process.pid } }, stream);
}
