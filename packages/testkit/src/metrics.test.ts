import { expect, it } from "vitest";
import { metricValue } from "./metrics.js";

const text = `# HELP otp_checked_total Checks by outcome.
# TYPE otp_checked_total counter
otp_checked_total{channel="sms",outcome="match"} 3
otp_checked_total{channel="sms",outcome="mismatch"} 12
otp_checked_total{outcome="match",channel="email"} 1
process_open_fds 17
`;

it("reads one sample by name and exact labels, in any order; an absent series is 0", () => {
  expect(metricValue(text, "otp_checked_total", { channel: "sms", outcome: "match" })).toBe(3);
  expect(metricValue(text, "otp_checked_total", { outcome: "mismatch", channel: "sms" })).toBe(12);
  expect(metricValue(text, "otp_checked_total", { channel: "email", outcome: "match" })).toBe(1);
  expect(metricValue(text, "otp_checked_total", { channel: "call", outcome: "match" })).toBe(0);
  expect(metricValue(text, "otp_checked_total", { channel: "sms" })).toBe(0);
  expect(metricValue(text, "process_open_fds")).toBe(17);
});
