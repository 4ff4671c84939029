import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout. Never log codes or message texts; targets are not logged at all. */
export function createLogger(level: string, name = "dispatcher"): Logger {
  return pino({ level, base: { service: name, pid: process.pid } });
}
