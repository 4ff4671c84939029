import { describe, expect, it } from "vitest";
import { maskTarget } from "./mask.js";

describe("maskTarget", () => {
  it("keeps the first four and last two digits of a phone of 11 digits or more", () => {
    expect(maskTarget("77011234567")).toBe("7701*****67");
    expect(maskTarget("998901234567")).toBe("9989******67");
  });

  it("hides at least five characters of a shorter number or chat id", () => {
    expect(maskTarget("1234567890")).toBe("123*****90");
    expect(maskTarget("123456789")).toBe("12*****89");
    expect(maskTarget("12345678")).toBe("1*****78");
    expect(maskTarget("1234567")).toBe("1*****7");
    expect(maskTarget("-100123")).toBe("-*****3");
    expect(maskTarget("123456")).toBe("1*****");
    expect(maskTarget("12345")).toBe("*****");
    expect(maskTarget("12")).toBe("**");
    for (let n = 1; n <= 20; n++) {
      const masked = maskTarget("9".repeat(n));
      expect(masked).toHaveLength(n);
      expect(masked.split("*").length - 1).toBeGreaterThanOrEqual(Math.min(n, 5));
    }
  });

  it("keeps the first letter and the domain of an email", () => {
    expect(maskTarget("foobar@example.com")).toBe("f***@example.com");
    expect(maskTarget("@example.com")).toBe("***@example.com");
  });
});
