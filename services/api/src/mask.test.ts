import { describe, expect, it } from "vitest";
import { maskTarget } from "./mask.js";

describe("maskTarget", () => {
  it("keeps the first four and last two digits of a phone", () => {
    expect(maskTarget("77011234567")).toBe("7701*****67");
    expect(maskTarget("12345678")).toBe("1234**78");
  });

  it("keeps the first letter and the domain of an email", () => {
    expect(maskTarget("foobar@example.com")).toBe("f***@example.com");
    expect(maskTarget("@example.com")).toBe("***@example.com");
  });

  it("hides most of short ids", () => {
    expect(maskTarget("1234567")).toBe("1*****7");
    expect(maskTarget("-100123")).toBe("-*****3");
    expect(maskTarget("12")).toBe("**");
  });
});
