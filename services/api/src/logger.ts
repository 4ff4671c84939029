import { createLogger as createServiceLogger, type DestinationStream, type Logger } from "@otp/contracts";

export type { Logger };

/** The API's logger: the shared format under the name `otp-api`. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return createServiceLogger("otp-api", level, destination);
}
