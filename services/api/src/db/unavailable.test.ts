import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "./unavailable.js";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it("recognises outages", () => {
    for (const error of [
      withCode("ECONNREFUSED"),
      withCode("57P01", "terminating connection due to administrator command"),
      withCode("57P03", "the database system is starting up"),
      withCode("08006"),
      withCode("57014", "canceling statement due to statement timeout"),
      withCode("53200", "out of memory"),
      withCode("53100", "could not extend file: No space left on device"),
      withCode("40P01", "deadlock detected"),
      withCode("40001", "could not serialize access due to concurrent update"),
      new Error("timeout exceeded when trying to connect"),
      new Error("Connection terminated unexpectedly"),
      Object.assign(new AggregateError([withCode("ECONNREFUSED")]), { code: undefined }),
      new Error("wrapped", { cause: withCode("ECONNRESET") }),
    ]) {
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    }
  });

  it("leaves ordinary failures alone", () => {
    for (const error of [
      withCode("23505", "duplicate key"),
      withCode("42P01", 'relation "otp" does not exist'),
      new Error("boom"),
      undefined,
      "ECONNREFUSED",
    ]) {
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
  });
});
