import { describe, expect, it } from "vitest";
import { z } from "zod";
import { chatId, email, ip, optional, password, phone, positiveInt, required, target } from "./scalars.js";
import { validationMessage } from "./validation-message.js";

/** Parses `{[name]: value}` with `schema` and returns the value or the client-facing message. */
function parse(schema: z.ZodType, value: unknown, name = "x"): unknown {
  const result = z.object({ [name]: schema }).safeParse(value === undefined ? {} : { [name]: value });
  return result.success ? (result.data as Record<string, unknown>)[name] : `error: ${validationMessage(result.error)}`;
}

describe("phone", () => {
  it.each([
    ["77011234567", "77011234567"],
    [77011234567, "77011234567"],
    ["+77011234567", "77011234567"],
    ["  +7 (701) 123-45-67 ", "77011234567"],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(phone(), input, "phone")).toBe(expected);
  });

  it.each([
    [undefined, 'error: "phone" parameter must be set'],
    ["", 'error: "phone" parameter must be set'],
    ["   ", 'error: "phone" parameter must be set'],
    [null, 'error: "phone" parameter must be set'],
    ["7701abc", 'error: "phone" must be 3 to 20 digits'],
    ["++7701", 'error: "phone" must be 3 to 20 digits'],
    [-7701, 'error: "phone" must be a string of digits'],
    [7701.5, 'error: "phone" must be a string of digits'],
    [true, 'error: "phone" must be a string of digits'],
    [["7701"], 'error: "phone" must be a string of digits'],
    ["1".repeat(21), 'error: "phone" must be 3 to 20 digits'],
  ])("rejects %j", (input, message) => {
    expect(parse(phone(), input, "phone")).toBe(message);
  });
});

describe("chat_id", () => {
  it.each([
    ["1234567890", "1234567890"],
    [1234567890, "1234567890"],
    [-1001234567890, "-1001234567890"],
    [" 42 ", "42"],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(chatId(), input, "chat_id")).toBe(expected);
  });

  it.each([
    [undefined, 'error: "chat_id" parameter must be set'],
    ["abc", 'error: "chat_id" must be an integer'],
    [1.5, 'error: "chat_id" must be an integer'],
    ["99999999999999999", 'error: "chat_id" must be an integer'],
    ["9999999999999999", 'error: "chat_id" is out of range'],
  ])("rejects %j", (input, message) => {
    expect(parse(chatId(), input, "chat_id")).toBe(message);
  });
});

describe("password", () => {
  it("accepts strings and numbers, trimmed", () => {
    expect(parse(required(password()), "12345", "password")).toBe("12345");
    expect(parse(required(password()), 12345, "password")).toBe("12345");
    expect(parse(required(password()), " 12345 ", "password")).toBe("12345");
  });

  it("is required where required and optional where optional", () => {
    expect(parse(required(password()), "", "password")).toBe('error: "password" parameter must be set');
    expect(parse(optional(password()), "", "password")).toBeUndefined();
    expect(parse(optional(password()), undefined, "password")).toBeUndefined();
  });

  it("rejects control characters inside a code", () => {
    expect(parse(required(password()), "12\r\n34", "password")).toBe('error: "password" must not contain control characters');
  });

  it("rejects objects and overlong codes", () => {
    expect(parse(required(password()), { a: 1 }, "password")).toBe('error: "password" must be a string');
    expect(parse(required(password()), "1".repeat(129), "password")).toBe(
      'error: "password" must be at most 128 characters',
    );
  });
});

describe("email", () => {
  it("trims and lower-cases", () => {
    expect(parse(email(), "  FooBar@Example.COM ", "email")).toBe("foobar@example.com");
  });

  it.each([
    [undefined, 'error: "email" parameter must be set'],
    ["not-an-email", 'error: "email" must be a valid email address'],
    [42, 'error: "email" must be a string'],
  ])("rejects %j", (input, message) => {
    expect(parse(email(), input, "email")).toBe(message);
  });
});

describe("ip", () => {
  it("accepts IPv4 and IPv6", () => {
    expect(parse(ip(), "123.123.123.123", "ip")).toBe("123.123.123.123");
    expect(parse(ip(), " 2001:db8::1 ", "ip")).toBe("2001:db8::1");
  });

  it("rejects what is not an address", () => {
    expect(parse(ip(), "123.123.123", "ip")).toBe('error: "ip" must be an IPv4 or IPv6 address');
    expect(parse(ip(), 123, "ip")).toBe('error: "ip" must be a string');
  });
});

describe("positive integers", () => {
  const lifetime = positiveInt("lifetime", 86_400);
  it.each([
    [300, 300],
    ["300", 300],
    [" 300 ", 300],
    [86_400, 86_400],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(lifetime, input, "lifetime")).toBe(expected);
  });

  it.each([
    [undefined, 'error: "lifetime" parameter must be set'],
    [0, 'error: "lifetime" must be between 1 and 86400'],
    ["0", 'error: "lifetime" must be between 1 and 86400'],
    [-5, 'error: "lifetime" must be between 1 and 86400'],
    [86_401, 'error: "lifetime" must be between 1 and 86400'],
    [1.5, 'error: "lifetime" must be an integer'],
    ["1.5", 'error: "lifetime" must be an integer'],
    ["five", 'error: "lifetime" must be an integer'],
  ])("rejects %j", (input, message) => {
    expect(parse(lifetime, input, "lifetime")).toBe(message);
  });
});

describe("target (GET /password)", () => {
  it.each([
    ["+77011234567", "77011234567"],
    [77011234567, "77011234567"],
    ["Foo@Example.com", "foo@example.com"],
    ["-100123", "-100123"],
  ])("normalises %j like the channel it belongs to", (input, expected) => {
    expect(parse(target(), input, "target")).toBe(expected);
  });

  it.each([["a\u0000b@example.com"], ["7701\u0000"], ["abc\u0007def"], ["x\u007f"]])(
    "rejects %j: control characters are in no target, and PostgreSQL refuses NUL",
    (input) => {
      expect(parse(target(), input, "target")).toBe('error: "target" must not contain control characters');
    },
  );
});
