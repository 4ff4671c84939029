import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { SetLimitRequests } from "./limit-requests.js";
import { DEFAULT_PHONE_RULES } from "./phone.js";
import { createCheckRequests, createOtpRequests, PasswordRequest, TargetRequest, targetOf } from "./requests.js";
import { CheckResponse, ErrorResponse, OkResponse, PasswordResponse, TargetResponse } from "./responses.js";
import { SEED_EXAMPLES, SEED_RESPONSES } from "./seed-examples.fixtures.js";
import { chatIdOfUpdate, TelegramUpdate } from "./telegram.js";
import { validationMessage } from "./validation-message.js";

const settings = { maxLifetime: 86_400, codeLength: 6, phone: DEFAULT_PHONE_RULES };
const create = createOtpRequests(settings);
const CheckRequests = createCheckRequests(DEFAULT_PHONE_RULES);

function accept<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (!result.success) throw new Error(`rejected: ${validationMessage(result.error)}`);
  return result.data;
}

function reject(schema: z.ZodType, body: unknown): string {
  const result = schema.safeParse(body);
  if (result.success) throw new Error(`accepted ${JSON.stringify(body)}`);
  return validationMessage(result.error);
}

describe("the original product README's request examples, verbatim", () => {
  const seed = (key: keyof typeof SEED_EXAMPLES) => JSON.parse(SEED_EXAMPLES[key]);

  it("POST /sms", () => {
    expect(accept(create.sms, seed("createSms"))).toEqual({
      ip: "123.123.123.123",
      phone: "77011234567",
      password: "12345",
      lifetime: 300,
      message: "Your OTP is 12345",
    });
  });

  it("POST /call", () => {
    expect(accept(create.call, seed("createCall"))).toEqual({
      ip: "123.123.123.123",
      phone: "77011234567",
      password: "12345",
      lifetime: 300,
    });
  });

  it("POST /email (text without html)", () => {
    const parsed = accept(create.email, seed("createEmail"));
    expect(parsed).toMatchObject({ email: "foobar@example.com", subject: "Hello", text: "Your OTP is 12345" });
    expect(parsed.html).toBeUndefined();
  });

  it("POST /telegram", () => {
    expect(accept(create.telegram, seed("createTelegram")).chat_id).toBe("1234567890");
  });

  it("GET /sms/check, /email/check, /telegram/check", () => {
    expect(accept(CheckRequests.sms, seed("checkSms"))).toEqual({ phone: "77011234567", password: "12345" });
    expect(accept(CheckRequests.email, seed("checkEmail"))).toEqual({ email: "foobar@example.com", password: "12345" });
    expect(accept(CheckRequests.telegram, seed("checkTelegram"))).toEqual({ chat_id: "1234567890", password: "12345" });
  });

  it("POST /limit/sms, /limit/call, /limit/email", () => {
    const rules = [
      { minutes: 10, rate: 3 },
      { minutes: 60, rate: 10 },
    ];
    expect(accept(SetLimitRequests.sms, seed("limitSms"))).toEqual({ ips: rules, phones: [rules[0]] });
    expect(accept(SetLimitRequests.call, seed("limitCall"))).toEqual({ ips: rules, phones: [rules[0]] });
    expect(accept(SetLimitRequests.email, seed("limitEmail"))).toEqual({ ips: rules, emails: [rules[0]] });
  });

  it("GET /target and GET /password", () => {
    expect(accept(TargetRequest, seed("target"))).toEqual({ password: "1234567", channel: "telegram" });
    expect(accept(PasswordRequest, seed("password"))).toEqual({ target: "77011234567" });
  });

  it("the original product's response examples fit the response schemas", () => {
    const response = (key: keyof typeof SEED_RESPONSES) => JSON.parse(SEED_RESPONSES[key]);
    expect(OkResponse.safeParse(response("ok")).success).toBe(true);
    expect(CheckResponse.safeParse(response("ok")).success).toBe(true);
    for (const key of ["ipLimit", "phoneLimit", "emailLimit"] as const) {
      expect(ErrorResponse.safeParse(response(key)).success).toBe(true);
    }
    expect(TargetResponse.safeParse(response("target")).success).toBe(true);
    expect(PasswordResponse.safeParse(response("password")).success).toBe(true);
  });
});

describe("create requests", () => {
  const sms = { phone: "77011234567", password: "12345", lifetime: 300, message: "Your OTP is 12345" };

  it("report the first missing parameter in the original product's order and words", () => {
    expect(reject(create.sms, {})).toBe('"phone" parameter must be set');
    expect(reject(create.sms, { phone: "77011234567", password: "1", lifetime: 300 })).toBe(
      '"message" parameter must be set',
    );
    expect(reject(create.sms, { ...sms, lifetime: "" })).toBe('"lifetime" parameter must be set');
    expect(reject(create.email, { email: "a@b.co", password: "1", lifetime: 30 })).toBe(
      '"subject" parameter must be set',
    );
    expect(reject(create.telegram, { password: "1", lifetime: 30, message: "m" })).toBe(
      '"chat_id" parameter must be set',
    );
  });

  it("accept numbers and numeric strings where the original product did", () => {
    expect(accept(create.sms, { ...sms, phone: 77011234567, password: 12345, lifetime: "300" })).toMatchObject({
      phone: "77011234567",
      password: "12345",
      lifetime: 300,
    });
  });

  it("bound lifetime by OTP_MAX_LIFETIME", () => {
    const short = createOtpRequests({ ...settings, maxLifetime: 60 });
    expect(reject(short.sms, { ...sms, lifetime: 61 })).toBe('"lifetime" must be between 1 and 60');
    expect(accept(short.sms, { ...sms, lifetime: 60 }).lifetime).toBe(60);
  });

  it("allow omitting the password only where a {password} placeholder can carry a generated one", () => {
    const { password: _omitted, ...withoutPassword } = sms;
    expect(reject(create.sms, withoutPassword)).toMatch(/^"password" parameter must be set \(or put \{password\}/);
    expect(accept(create.sms, { ...withoutPassword, message: "Code: {password}" }).password).toBeUndefined();
    expect(
      accept(create.email, { email: "a@b.co", lifetime: 30, subject: "Hi", html: "<b>{password}</b>" }).password,
    ).toBeUndefined();
    expect(reject(create.email, { email: "a@b.co", lifetime: 30, subject: "Hi", text: "no code" })).toMatch(
      /^"password" parameter must be set/,
    );
    // A call speaks the code itself.
    expect(accept(create.call, { phone: "77011234567", lifetime: 30 }).password).toBeUndefined();
  });

  it("treat a blank optional ip as absent and reject a malformed one", () => {
    expect(accept(create.sms, { ...sms, ip: "" }).ip).toBeUndefined();
    expect(reject(create.sms, { ...sms, ip: "localhost" })).toBe('"ip" must be an IPv4 or IPv6 address');
  });

  it("reject texts of the wrong type", () => {
    expect(reject(create.sms, { ...sms, message: 42 })).toBe('"message" must be a string');
  });

  it("count an SMS in segments: 11 of 153 GSM-7 septets, or of 67 UTF-16 units outside GSM-7", () => {
    // Today's 1,600 GSM-7 characters still fit, up to 11 × 153.
    expect(accept(create.sms, { ...sms, message: "x".repeat(1600) }).message).toHaveLength(1600);
    expect(accept(create.sms, { ...sms, message: "x".repeat(1683) }).message).toHaveLength(1683);
    expect(reject(create.sms, { ...sms, message: "x".repeat(1684) })).toMatch(
      /^"message" must fit in 11 SMS segments \(at most 11 segments once \{password\} is replaced: 1683 GSM-7 septets .*; this one takes 12$/,
    );
    // Extension characters take two septets.
    expect(reject(create.sms, { ...sms, message: "€".repeat(842) })).toMatch(/this one takes 12$/);
    // Cyrillic is UCS-2: 1,600 characters were accepted before, 737 is the most now.
    expect(accept(create.sms, { ...sms, message: "ж".repeat(737) }).message).toHaveLength(737);
    expect(reject(create.sms, { ...sms, message: "ж".repeat(1600) })).toMatch(/this one takes 24$/);
  });

  it("count an SMS after {password} is replaced, by the client's code or a generated one", () => {
    const { password: _omitted, ...generated } = sms;
    const fits = `${"x".repeat(1683 - 6)}{password}`; // 1,677 + 6 digits
    expect(accept(create.sms, { ...generated, message: fits }).message).toBe(fits);
    expect(reject(create.sms, { ...generated, message: `x${fits}` })).toMatch(/this one takes 12$/);
    expect(reject(create.sms, { ...sms, password: "1234567", message: fits })).toMatch(/this one takes 12$/);
  });

  it("count a Telegram message in UTF-16 code units, as Telegram does", () => {
    const telegram = { chat_id: "5", password: "1", lifetime: 30 };
    expect(accept(create.telegram, { ...telegram, message: "😀".repeat(2048) }).message).toHaveLength(4096);
    expect(reject(create.telegram, { ...telegram, message: "😀".repeat(4096) })).toBe(
      '"message" must be at most 4096 UTF-16 code units, as Telegram counts them (an emoji counts 2)',
    );
    expect(
      reject(create.telegram, { ...telegram, message: `${"x".repeat(4090)}{password}`, password: "1234567" }),
    ).toMatch(/^"message" must be at most 4096 UTF-16 code units/);
  });

  it("measure an email's subject and bodies after {password} is replaced, by the client's code or a generated one", () => {
    const email = { email: "a@b.co", lifetime: 30 };
    const code = "A".repeat(128);
    // 99 placeholders: 990 characters as written, 12,672 once a 128-character code replaces them.
    const subject = "{password}".repeat(99);
    expect(accept(create.email, { ...email, subject }).subject).toBe(subject);
    expect(reject(create.email, { ...email, password: code, subject })).toBe(
      '"subject" must be at most 998 characters once {password} is replaced',
    );
    const body = "{password}".repeat(500); // 5,000 as written, 64,000 with the code
    expect(reject(create.email, { ...email, password: code, subject: "Hi", text: body })).toBe(
      '"text" must be at most 60000 characters once {password} is replaced',
    );
    expect(reject(create.email, { ...email, password: code, subject: "Hi", html: body })).toBe(
      '"html" must be at most 60000 characters once {password} is replaced',
    );
    expect(accept(create.email, { ...email, password: "123456", subject: "Hi", text: body }).text).toBe(body);
  });

  it("refuse line breaks and controls in a subject, keep line breaks and tabs in the texts", () => {
    const email = { email: "a@b.co", password: "1", lifetime: 30 };
    for (const subject of ["Hi\r\nBcc: x@evil.example", "Hi\nthere", "Hi\tthere", "Hi\u0000", "Hi\u0085", "Hi\u2028"]) {
      expect(reject(create.email, { ...email, subject })).toBe(
        '"subject" must not contain line breaks or control characters',
      );
    }
    const texts = accept(create.email, { ...email, subject: "Hi", text: "a\r\n\tb", html: "<p>\n</p>" });
    expect(texts).toMatchObject({ text: "a\r\n\tb", html: "<p>\n</p>" });
    expect(accept(create.sms, { ...sms, message: "line 1\nline 2" }).message).toBe("line 1\nline 2");
    for (const bad of ["a\u0000b", "a\u001bb", "a\u0007b", "a\u007fb"]) {
      expect(reject(create.sms, { ...sms, message: bad })).toBe(
        '"message" must not contain control characters other than line breaks and tabs',
      );
      expect(reject(create.email, { ...email, subject: "Hi", html: bad })).toBe(
        '"html" must not contain control characters other than line breaks and tabs',
      );
    }
    // A client's code replaces {password} in the subject: it may not carry a header either.
    expect(reject(create.email, { ...email, subject: "Code {password}", password: "1\r\nBcc: x@evil.example" })).toBe(
      '"password" must not contain control characters',
    );
  });

  it("read the target of each channel", () => {
    expect(targetOf("sms", accept(create.sms, sms))).toBe("77011234567");
    expect(targetOf("telegram", { chat_id: "5" })).toBe("5");
    expect(() => targetOf("email", { phone: "1" })).toThrow();
  });
});

describe("limit requests", () => {
  it("keep absent measures absent and empty arrays empty", () => {
    expect(accept(SetLimitRequests.sms, {})).toEqual({ ips: undefined, phones: undefined });
    expect(accept(SetLimitRequests.sms, { phones: [] })).toEqual({ ips: undefined, phones: [] });
    expect(accept(SetLimitRequests.telegram, { chat_ids: [{ minutes: "5", rate: "2" }] })).toEqual({
      ips: undefined,
      chat_ids: [{ minutes: 5, rate: 2 }],
    });
  });

  it("reject non-positive or non-integer rules, saying where", () => {
    expect(reject(SetLimitRequests.sms, { phones: [{ minutes: 10, rate: 0 }] })).toBe(
      '"rate" must be between 1 and 1000000 (at phones[0].rate)',
    );
    expect(reject(SetLimitRequests.email, { emails: [{ minutes: 1.5, rate: 1 }] })).toBe(
      '"minutes" must be an integer (at emails[0].minutes)',
    );
    expect(reject(SetLimitRequests.sms, { ips: [{ rate: 1 }] })).toBe(
      '"minutes" parameter must be set (at ips[0].minutes)',
    );
    expect(reject(SetLimitRequests.sms, { ips: { minutes: 1, rate: 1 } })).toBe(
      '"ips" must be an array of {minutes, rate}',
    );
  });
});

describe("GET /target", () => {
  it("names a missing or unknown channel", () => {
    expect(reject(TargetRequest, { password: "1" })).toBe('"channel" parameter must be set');
    expect(reject(TargetRequest, { password: "1", channel: "fax" })).toBe(
      '"channel" must be one of sms, call, email, telegram',
    );
  });
});

describe("Telegram updates", () => {
  const update = {
    update_id: 10000,
    message: {
      message_id: 1365,
      date: 1441645532,
      chat: { id: 1111111, type: "private", first_name: "Test" },
      from: { id: 1111111, is_bot: false, first_name: "Test" },
      text: "/start",
    },
  };

  it("yield the chat id of a message, an edited message or a channel post", () => {
    expect(chatIdOfUpdate(accept(TelegramUpdate, update))).toBe("1111111");
    expect(chatIdOfUpdate(accept(TelegramUpdate, { update_id: 1, edited_message: update.message }))).toBe("1111111");
    expect(
      chatIdOfUpdate(accept(TelegramUpdate, { update_id: 1, channel_post: { chat: { id: -100123 }, text: "x" } })),
    ).toBe("-100123");
  });

  it("yield nothing for updates without a chat", () => {
    expect(chatIdOfUpdate(accept(TelegramUpdate, { update_id: 1, poll: { id: "1" } }))).toBeUndefined();
    expect(chatIdOfUpdate(accept(TelegramUpdate, { update_id: 1, message: { text: "no chat" } }))).toBeUndefined();
  });
});
