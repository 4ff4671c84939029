import { describe, expect, it } from "vitest";
import { isRejectedData } from "./rejected-data.js";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isRejectedData", () => {
  it("recognises values PostgreSQL refuses", () => {
    for (const error of [
      withCode("22021", 'invalid byte sequence for encoding "UTF8": 0x00'),
      withCode("22P02", 'invalid input syntax for type uuid: "x"'),
      withCode("22P05", "unsupported Unicode escape sequence"),
      new Error("wrapped", { cause: withCode("22021") }),
    ]) {
      expect(isRejectedData(error), String(error)).toBe(true);
    }
  });

  it("leaves outages and bugs alone", () => {
    for (const error of [
      withCode("ECONNREFUSED"),
      withCode("42P01"),
      withCode("23505"),
      new Error("boom"),
      undefined,
    ]) {
      expect(isRejectedData(error)).toBe(false);
    }
  });
});
