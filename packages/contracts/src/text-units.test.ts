import { describe, expect, it } from "vitest";
import { smsLength, utf16Units } from "./text-units.js";

describe("SMS length", () => {
  it.each([
    ["", "gsm7", 0, 0],
    ["x".repeat(160), "gsm7", 160, 1],
    ["x".repeat(161), "gsm7", 161, 2],
    ["x".repeat(306), "gsm7", 306, 2],
    ["x".repeat(307), "gsm7", 307, 3],
    ["€".repeat(80), "gsm7", 160, 1],
    ["{}[]~|^\\€", "gsm7", 18, 1],
    ["@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "gsm7", 44, 1],
    ["ж".repeat(70), "ucs2", 70, 1],
    ["ж".repeat(71), "ucs2", 71, 2],
    ["ж".repeat(134), "ucs2", 134, 2],
    ["Your code ж 1234", "ucs2", 16, 1],
    ["ç", "ucs2", 1, 1],
    ["\t", "ucs2", 1, 1],
    ["😀".repeat(35), "ucs2", 70, 1],
  ])("%j is %s, %i units, %i segments", (text, encoding, units, segments) => {
    expect(smsLength(text)).toEqual({ encoding, units, segments });
  });

  it("never splits an escape pair or a surrogate pair between segments", () => {
    // 152 septets, then € (2) does not fit in the first 153: it opens the second segment.
    expect(smsLength(`${"x".repeat(152)}€${"x".repeat(152)}`).segments).toBe(3);
    expect(smsLength(`${"x".repeat(151)}€${"x".repeat(153)}`).segments).toBe(2);
    expect(smsLength(`${"ж".repeat(66)}😀${"ж".repeat(66)}`).segments).toBe(3);
    expect(smsLength(`${"ж".repeat(65)}😀${"ж".repeat(67)}`).segments).toBe(2);
  });
});

describe("Telegram length", () => {
  it("counts UTF-16 code units: an emoji outside the BMP is 2", () => {
    expect(utf16Units("😀".repeat(4096))).toBe(8192);
    expect(utf16Units("ж".repeat(4096))).toBe(4096);
  });
});
