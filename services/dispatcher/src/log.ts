import { createLogger as createServiceLogger, type Logger } from "@otp/contracts";

export type { Logger };

/** The dispatcher's logger: the shared format. Targets are not logged at all here. */
export function createLogger(level: string, name = "otp-dispatcher"): Logger {
  return createServiceLogger(name, level);
}
