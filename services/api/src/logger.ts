import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs, one object per line. Nothing in the API logs a password, a code or a message body;
 * the redaction below is a second line of defence should a request object end up in a log call.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "otp-api" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["password", "*.password", "sealed", "*.sealed", "headers.authorization", "*.headers.authorization"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
