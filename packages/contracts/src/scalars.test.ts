import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_PHONE_RULES, type PhoneRules } from "./phone.js";
import {
  chatId,
  email,
  emailLimitKey,
  ip,
  optional,
  password,
  phone,
  positiveInt,
  required,
  target,
  targetForms,
} from "./scalars.js";
import { validationMessage } from "./validation-message.js";

/** Parses `{[name]: value}` with `schema` and returns the value or the client-facing message. */
function parse(schema: z.ZodType, value: unknown, name = "x"): unknown {
  const result = z.object({ [name]: schema }).safeParse(value === undefined ? {} : { [name]: value });
  return result.success ? (result.data as Record<string, unknown>)[name] : `error: ${validationMessage(result.error)}`;
}

describe("phone", () => {
  const valid = DEFAULT_PHONE_RULES;
  it.each([
    ["77011234567", "77011234567"],
    [77011234567, "77011234567"],
    ["+77011234567", "77011234567"],
    ["  +7 (701) 123-45-67 ", "77011234567"],
    ["7.701.123.45.67", "77011234567"],
    ["0077011234567", "77011234567"],
    ["01177011234567", "77011234567"],
    ["+7 8 701 123 45 67", "77011234567"],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(phone(valid), input, "phone")).toBe(expected);
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
    ["7701\r\n1234567", 'error: "phone" must not contain control characters'],
    ["7701\t1234567", 'error: "phone" must not contain control characters'],
  ])("rejects %j", (input, message) => {
    expect(parse(phone(valid), input, "phone")).toBe(message);
  });

  const INVALID =
    'error: "phone" is not a valid phone number: send it in international format, with its country code (e.g. 77011234567)';
  it.each([["87019998877"], ["077019998877"], ["+87019998877"], ["112"], ["911"], ["1900555"], ["70000000000"]])(
    "refuses %j: national without a default region, emergency, short or unassigned",
    (input) => {
      expect(parse(phone(valid), input, "phone")).toBe(INVALID);
    },
  );

  it("reads national forms of OTP_DEFAULT_REGION, and international ones still", () => {
    const kz: PhoneRules = { check: "valid", defaultRegion: "KZ" };
    expect(parse(phone(kz), "87019998877", "phone")).toBe("77019998877");
    expect(parse(phone(kz), "8 (701) 999-88-77", "phone")).toBe("77019998877");
    expect(parse(phone(kz), "77019998877", "phone")).toBe("77019998877");
    expect(parse(phone(kz), "0077019998877", "phone")).toBe("77019998877");
    expect(parse(phone(kz), "+447911123456", "phone")).toBe("447911123456");
    expect(parse(phone(kz), "112", "phone")).toBe(
      'error: "phone" is not a valid phone number, in international format or national for KZ',
    );
    const gb: PhoneRules = { check: "valid", defaultRegion: "GB" };
    expect(parse(phone(gb), "07911 123456", "phone")).toBe("447911123456");
    // 011 is a national number in GB (Bristol), not the North American international prefix.
    expect(parse(phone(gb), "0117 496 0000", "phone")).toBe("441174960000");
    const us: PhoneRules = { check: "valid", defaultRegion: "US" };
    expect(parse(phone(us), "(202) 555-0123", "phone")).toBe("12025550123");
    expect(parse(phone(us), "011 7 701 123 45 67", "phone")).toBe("77011234567");
  });

  it("OTP_PHONE_CHECK=possible takes numbers of a possible length; off keeps the rest as given", () => {
    const possible: PhoneRules = { check: "possible", defaultRegion: undefined };
    expect(parse(phone(possible), "70000000000", "phone")).toBe("70000000000");
    expect(parse(phone(possible), "0070000000000", "phone")).toBe("70000000000");
    expect(parse(phone(possible), "112", "phone")).toBe(
      'error: "phone" is not a possible phone number: send it in international format, with its country code (e.g. 77011234567)',
    );
    const off: PhoneRules = { check: "off", defaultRegion: undefined };
    for (const asGiven of ["112", "911", "1900555", "87019998877", "077019998877"]) {
      expect(parse(phone(off), asGiven, "phone")).toBe(asGiven);
    }
    // Still canonical when it reads as a number: one number, one key, in every mode.
    expect(parse(phone(off), "0077019998877", "phone")).toBe("77019998877");
    expect(parse(phone(off), "+7 (701) 999-88-77", "phone")).toBe("77019998877");
    expect(parse(phone(off), "7701abc", "phone")).toBe('error: "phone" must be 3 to 20 digits');
    // A number no plan reads, behind the international prefix 00 or a +: one spelling too, since an
    // E.164 number never starts with 0 (the destination policy judges its prefix as sent).
    expect(parse(phone(off), "008821612345678901", "phone")).toBe("8821612345678901");
    expect(parse(phone(off), "+8821612345678901", "phone")).toBe("8821612345678901");
    expect(parse(phone(off), "8821612345678901", "phone")).toBe("8821612345678901");
    expect(parse(phone(off), "+008821612345678901", "phone")).toBe("8821612345678901");
    expect(parse(phone(off), "0012", "phone")).toBe("0012"); // not a 2-digit number
  });
});

describe("chat_id", () => {
  it.each([
    ["1234567890", "1234567890"],
    [1234567890, "1234567890"],
    [-1001234567890, "-1001234567890"],
    [" 42 ", "42"],
    ["01234", "1234"],
    ["-0100", "-100"],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(chatId(), input, "chat_id")).toBe(expected);
  });

  it.each([
    [undefined, 'error: "chat_id" parameter must be set'],
    ["abc", 'error: "chat_id" must be an integer'],
    [1.5, 'error: "chat_id" must be an integer'],
    ["99999999999999999", 'error: "chat_id" must be an integer'],
    ["9999999999999999", 'error: "chat_id" is out of range'],
    ["12\n34", 'error: "chat_id" must be an integer'],
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
    expect(parse(required(password()), "12\r\n34", "password")).toBe(
      'error: "password" must not contain control characters',
    );
  });

  it("rejects invisible formatting characters: a code of a zero-width space alone, a direction override", () => {
    for (const code of ["\u200b", "12\u200b34", "\u202e4321", "12\u2066"]) {
      expect(parse(required(password()), code, "password")).toBe(
        'error: "password" must not contain invisible characters',
      );
    }
  });

  it("refuses a number it could not keep digit for digit, rather than storing another code", () => {
    // What JSON.parse makes of 12345678901234567890: a number that is no longer those digits.
    for (const value of [JSON.parse("12345678901234567890"), 1.1, 1e21, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(parse(required(password()), value, "password")).toBe(
        'error: "password" as a JSON number must be a whole number below 2^53; send a longer code as a string',
      );
    }
    expect(parse(required(password()), 9007199254740991, "password")).toBe("9007199254740991");
    expect(parse(required(password()), "12345678901234567890", "password")).toBe("12345678901234567890");
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
    ["a\r\n@example.com", 'error: "email" must be a valid email address'],
  ])("rejects %j", (input, message) => {
    expect(parse(email(), input, "email")).toBe(message);
  });

  it.each([
    ["foo+tag@example.com", "foo@example.com"],
    ["foo+a+b@example.com", "foo@example.com"],
    ["foo+@example.com", "foo@example.com"],
    ["foo@example.com", "foo@example.com"],
    ["+tag@example.com", "+tag@example.com"],
  ])("counts limits of %j under %j with OTP_EMAIL_CANONICAL", (address, key) => {
    expect(emailLimitKey(address)).toBe(key);
  });
});

describe("ip", () => {
  it.each([
    ["123.123.123.123", "123.123.123.123"],
    [" 2001:db8::1 ", "2001:db8::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::ffff:cb00:7107", "203.0.113.7"],
    ["::FFFF:CB00:7107", "203.0.113.7"],
  ])("accepts %j as %j", (input, expected) => {
    expect(parse(ip(), input, "ip")).toBe(expected);
  });

  it("rejects what is not an address, a zone, and anything longer than an address", () => {
    expect(parse(ip(), "123.123.123", "ip")).toBe('error: "ip" must be an IPv4 or IPv6 address');
    expect(parse(ip(), "1.2.3", "ip")).toBe('error: "ip" must be an IPv4 or IPv6 address');
    expect(parse(ip(), 123, "ip")).toBe('error: "ip" must be a string');
    expect(parse(ip(), "fe80::1%eth0", "ip")).toBe('error: "ip" must not carry a zone (%…)');
    expect(parse(ip(), `fe80::1%${"x".repeat(4096)}`, "ip")).toBe('error: "ip" must be at most 45 characters');
    expect(parse(ip(), "1.2.3.4\r\n", "ip")).toBe("1.2.3.4");
    expect(parse(ip(), "1.2.3.4\nX-Evil: 1", "ip")).toBe('error: "ip" must be an IPv4 or IPv6 address');
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
    [" +77011234567 ", "+77011234567"],
    [77011234567, "77011234567"],
    ["Foo@Example.com", "foo@example.com"],
    ["-100123", "-100123"],
  ])("trims %j (and lower-cases an email)", (input, expected) => {
    expect(parse(target(), input, "target")).toBe(expected);
  });

  it.each([
    ["77011234567", DEFAULT_PHONE_RULES, ["77011234567"]],
    ["+7 (701) 123-45-67", DEFAULT_PHONE_RULES, ["+7 (701) 123-45-67", "77011234567"]],
    ["0077011234567", DEFAULT_PHONE_RULES, ["0077011234567", "77011234567"]],
    ["87019998877", DEFAULT_PHONE_RULES, ["87019998877"]],
    ["87019998877", { check: "valid", defaultRegion: "KZ" }, ["87019998877", "77019998877"]],
    ["01234", DEFAULT_PHONE_RULES, ["01234", "1234"]],
    ["-100123", DEFAULT_PHONE_RULES, ["-100123"]],
    ["foo+tag@example.com", DEFAULT_PHONE_RULES, ["foo+tag@example.com"]],
    ["112", DEFAULT_PHONE_RULES, ["112"]],
  ] as const)("looks %j up as given and in its canonical forms (%j)", (input, rules, forms) => {
    expect(targetForms(input, rules)).toEqual(forms);
  });

  it.each([["a\u0000b@example.com"], ["7701\u0000"], ["abc\u0007def"], ["x\u007f"]])(
    "rejects %j: control characters are in no target, and PostgreSQL refuses NUL",
    (input) => {
      expect(parse(target(), input, "target")).toBe('error: "target" must not contain control characters');
    },
  );
});
