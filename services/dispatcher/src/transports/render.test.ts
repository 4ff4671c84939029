import { describe, expect, it } from "vitest";
import { renderCall, substitute } from "./render.js";

const providers = {
  sms: { url: "http://sms", worker: "sms" },
  call: { url: "http://sms", worker: "sms" },
  email: { url: "http://email", worker: "email" },
  telegram: { url: "http://telegram:8080", worker: "telegram", appToken: "t" },
};

describe("{password} in the texts", () => {
  it.each([["$&"], ["$$"], ["$`"], ["$'"]])(
    "is replaced by the code literally, even by %j (String.replace would expand it)",
    (code) => {
      expect(substitute("Code: {password}.", `12${code}34`)).toBe(`Code: 12${code}34.`);
      const call = renderCall(providers, "sms", "77011234567", { password: code, message: "{password} / {password}" });
      expect(call.json.message).toBe(`${code} / ${code}`);
    },
  );

  it("leaves an absent text absent", () => {
    expect(substitute(undefined, "1")).toBeNull();
    expect(substitute(null, "1")).toBeNull();
  });
});
