import { describe, expect, it } from "vitest";
import { decrypt, deriveKeyring, digestPassword, encrypt, generateCode, sealContent, unsealContent } from "./crypto.js";

const keys = deriveKeyring("a test secret of enough length");
const otherKeys = deriveKeyring("another secret of enough length");

describe("password digests", () => {
  it("are stable per key and differ across keys and codes", () => {
    expect(digestPassword(keys, "12345")).toEqual(digestPassword(keys, "12345"));
    expect(digestPassword(keys, "12345")).not.toEqual(digestPassword(keys, "12346"));
    expect(digestPassword(keys, "12345")).not.toEqual(digestPassword(otherKeys, "12345"));
    expect(digestPassword(keys, "12345").toString("hex")).not.toContain("12345");
  });
});

describe("encryption", () => {
  it("round-trips and hides the plaintext", () => {
    const sealed = encrypt(keys, "123456", "otp-1");
    expect(sealed.toString("latin1")).not.toContain("123456");
    expect(decrypt(keys, sealed, "otp-1")).toBe("123456");
  });

  it("refuses another key, another context, or tampered bytes", () => {
    const sealed = encrypt(keys, "123456", "otp-1");
    expect(() => decrypt(otherKeys, sealed, "otp-1")).toThrow();
    expect(() => decrypt(keys, sealed, "otp-2")).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expect(() => decrypt(keys, tampered, "otp-1")).toThrow();
  });

  it("seals delivery content bound to the event id", () => {
    const content = { password: "4711", message: "Your code: {password}" };
    const sealed = sealContent(keys, content, "event-1");
    expect(Buffer.from(sealed, "base64url").toString("latin1")).not.toContain("4711");
    expect(unsealContent(keys, sealed, "event-1")).toEqual(content);
    expect(() => unsealContent(keys, sealed, "event-2")).toThrow();
  });
});

describe("generated codes", () => {
  it("have the requested number of digits and vary", () => {
    const codes = new Set(Array.from({ length: 200 }, () => generateCode(6)));
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(codes.size).toBeGreaterThan(190);
    expect(generateCode(10)).toMatch(/^\d{10}$/);
  });
});
