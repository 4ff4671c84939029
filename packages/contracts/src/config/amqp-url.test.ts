import { describe, expect, it } from "vitest";
import { amqpAddress } from "./amqp-url.js";
import { parseConfig } from "./config.js";

function urlsOf(value: string): readonly string[] {
  const result = parseConfig({ RABBITMQ_URL: value });
  if (!result.ok) throw new Error(result.errors.join("; "));
  return result.config.amqp.urls;
}

function errorOf(value: string): string {
  const result = parseConfig({ RABBITMQ_URL: value });
  if (result.ok) throw new Error(`accepted ${value}`);
  expect(result.errors).toHaveLength(1);
  return result.errors[0] as string;
}

describe("RABBITMQ_URL", () => {
  it("takes one URL, as it always has", () => {
    expect(urlsOf("amqp://otp:secret@rabbit:5672/otp")).toEqual(["amqp://otp:secret@rabbit:5672/otp"]);
    expect(urlsOf(" amqps://rabbit ")).toEqual(["amqps://rabbit"]);
  });

  it("takes a comma-separated list, in order, each URL with credentials of its own", () => {
    expect(urlsOf("amqp://a:1@rabbit-1:5672, amqps://b:2@rabbit-2:5671/vh ,amqp://rabbit-3?heartbeat=5")).toEqual([
      "amqp://a:1@rabbit-1:5672",
      "amqps://b:2@rabbit-2:5671/vh",
      "amqp://rabbit-3?heartbeat=5",
    ]);
  });

  it("keeps a percent-encoded comma inside a password", () => {
    expect(urlsOf("amqp://u:p%2Cw@rabbit-1,amqp://u:p%2Cw@rabbit-2")).toEqual([
      "amqp://u:p%2Cw@rabbit-1",
      "amqp://u:p%2Cw@rabbit-2",
    ]);
  });

  it.each([
    ["rabbit", '"rabbit" is not a URL'],
    ["rabbit:5672", '"rabbit:5672" is not amqp:// or amqps://'],
    ["amqp://", '"amqp://" has no host'],
    ["amqp://a,", "item 2 of 2, empty"],
    ["amqp://a,,amqp://b", "item 2 of 3, empty"],
    ["amqp://a,http://b", 'item 2 of 2, "http://b/" is not amqp:// or amqps://'],
    ["amqp://rabbit-1,rabbit-2", 'item 2 of 2, "rabbit-2" is not a URL'],
  ])("rejects %j, naming the variable and the item", (value, detail) => {
    expect(errorOf(value)).toBe(
      `RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (${detail})`,
    );
  });

  it("never shows a password in an error", () => {
    expect(errorOf("amqp://ok@a,http://user:hunter2@b")).toBe(
      'RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (item 2 of 2, "http://user@b/" is not amqp:// or amqps://)',
    );
    expect(errorOf("amqp://user:hunter2@b:port")).not.toContain("hunter2");
    expect(errorOf("amqp://a,user:hunter2@b")).toBe(
      "RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (item 2 of 2, a value (not shown: it may hold a password) is not amqp:// or amqps://)",
    );
  });
});

describe("amqpAddress", () => {
  it("drops the password and the query, keeps the user, host, port and vhost", () => {
    expect(amqpAddress("amqp://otp:secret@rabbit-2:5672/otp?heartbeat=10")).toBe("amqp://otp@rabbit-2:5672/otp");
    expect(amqpAddress("amqp://127.0.0.1:5701")).toBe("amqp://127.0.0.1:5701");
  });
});
