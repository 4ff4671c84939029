import { describe, expect, it } from "vitest";
import { isPhoneRegion, nationalDigitsOf, nationalPrefixOf } from "./phone.js";

describe("the numbering plans", () => {
  it("know each region's national prefix (read from metadata the library does not type)", () => {
    expect(nationalPrefixOf("KZ")).toBe("8");
    expect(nationalPrefixOf("RU")).toBe("8");
    expect(nationalPrefixOf("GB")).toBe("0");
    expect(nationalPrefixOf("US")).toBe("1");
    expect(nationalPrefixOf("IT")).toBeUndefined();
  });

  it("know which regions exist", () => {
    expect(isPhoneRegion("KZ")).toBe(true);
    expect(isPhoneRegion("XX")).toBe(false);
    expect(isPhoneRegion("kz")).toBe(false);
  });

  it("give a number's national digits, which every way of writing it contains", () => {
    expect(nationalDigitsOf("77019998877")).toBe("7019998877");
    expect(nationalDigitsOf("+44 7911 123456")).toBe("7911123456");
    expect(nationalDigitsOf("112")).toBe("12");
  });
});
