import { describe, expect, it } from "vitest";
import { JsonInteger, phpJsonEncode } from "./php-json.js";

describe("phpJsonEncode (PHP json_encode without flags, as Guzzle's `json` option sent it)", () => {
  it("escapes slashes and every non-ASCII character, keeps key order, writes null for absent", () => {
    expect(
      phpJsonEncode({
        url: "http://sms/sms",
        method: "post",
        json: { message: "Код: 1234 ✓ 😀", html: undefined, n: null },
      }),
    ).toBe(
      '{"url":"http:\\/\\/sms\\/sms","method":"post","json":{"message":"\\u041a\\u043e\\u0434: 1234 \\u2713 \\ud83d\\ude00","html":null,"n":null}}',
    );
  });

  it("escapes quotes, backslashes and control characters like PHP", () => {
    expect(phpJsonEncode('a"b\\c\nd\te\u0001')).toBe('"a\\"b\\\\c\\nd\\te\\u0001"');
  });

  it("encodes every ASCII character as PHP does (the fast path for plain strings included)", () => {
    for (let code = 0; code < 0x80; code++) {
      const c = String.fromCharCode(code);
      // PHP and JSON.stringify agree on ASCII except `/`, which PHP escapes.
      const php = JSON.stringify(c).replace("/", "\\/");
      expect(phpJsonEncode(c)).toBe(php);
      expect(phpJsonEncode(`plain ${c} text`)).toBe(`"plain ${php.slice(1, -1)} text"`);
    }
  });

  it("writes chat ids as bare integers, even beyond 2^53", () => {
    expect(phpJsonEncode({ to: new JsonInteger("-1001234567890123456") })).toBe('{"to":-1001234567890123456}');
    expect(() => new JsonInteger("12a")).toThrow();
  });

  it("agrees with JSON.parse on what it wrote", () => {
    const value = { a: [1, true, false, null, "x/y"], b: { ключ: "значение" } };
    expect(JSON.parse(phpJsonEncode(value))).toEqual(value);
  });
});
