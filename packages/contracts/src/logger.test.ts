import pino from "pino";
import { describe, expect, it } from "vitest";
import { createLogger, fixedFieldLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => lines.push(JSON.parse(line)) } };
}

describe("the services' logger", () => {
  it("redacts a password or a sealed text that ends up in a log call", () => {
    const { lines, destination } = capture();
    const logger = createLogger("otp-test", "info", destination);
    logger.info({ password: "123456", event: { sealed: "abc" } }, "oops");
    expect(lines[0]).toMatchObject({ password: "[redacted]", event: { sealed: "[redacted]" }, service: "otp-test" });
  });

  it("its request-line sibling writes to the same stream, at the same level, in the same format", () => {
    const { lines, destination } = capture();
    const logger = createLogger("otp-test", "warn", destination);
    const requestLines = fixedFieldLogger(logger);
    expect(requestLines).not.toBe(logger);
    requestLines.info({ route: "/sms/check" }, "request");
    requestLines.warn({ route: "/sms/check", status: 500 }, "request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: "otp-test", pid: process.pid, route: "/sms/check", status: 500 });
    expect(lines[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("a logger made elsewhere is its own request-line logger", () => {
    const other = pino({ level: "silent" });
    expect(fixedFieldLogger(other)).toBe(other);
  });
});
