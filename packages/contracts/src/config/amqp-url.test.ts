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

  it("takes a vhost and a query after the host, and a percent-encoded @ anywhere", () => {
    expect(urlsOf("amqp://rabbit:5672/otp,amqp://rabbit-2:5672/?heartbeat=5")).toEqual([
      "amqp://rabbit:5672/otp",
      "amqp://rabbit-2:5672/?heartbeat=5",
    ]);
    expect(urlsOf("amqp://u:p%40w%2Fx@rabbit:5672/v%40h")).toEqual(["amqp://u:p%40w%2Fx@rabbit:5672/v%40h"]);
  });

  it.each([
    ["rabbit", "not a URL"],
    ["rabbit:5672", "not an amqp:// or amqps:// URL"],
    ["amqp://", "no host"],
    ["amqp://a,", "item 2 of 2, empty"],
    ["amqp://a,,amqp://b", "item 2 of 3, empty"],
    ["amqp://a,http://b", 'item 2 of 2, "http://b/" is not amqp:// or amqps://'],
    ["amqp://rabbit-1,rabbit-2", "item 2 of 2, not a URL"],
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
      `RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (item 2 of 2, not an amqp:// or amqps:// URL; ${HINT})`,
    );
  });

  it("never shows an item that does not parse, even without an @ (a raw comma split the password)", () => {
    // amqp://otp:hunter (the password's start as a port) and 2@rabbit.
    expect(errorOf("amqp://otp:hunter,2@rabbit")).toBe(
      `RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (item 1 of 2, not a URL; ${HINT})`,
    );
    expect(errorOf("otp:hunter2")).not.toContain("hunter2");
    expect(errorOf("amqp://a,otp:hunter2")).not.toContain("hunter2");
  });

  it.each([
    ["a raw / in a password", "amqp://otp:8080/Secret@rabbit-1"],
    ["a raw ? in a password", "amqp://otp:8080?Secret@rabbit-1"],
    ["a raw # in a password", "amqp://otp:8080#Secret@rabbit-1"],
    ["a raw @ in a vhost", "amqp://rabbit-1/Secret@vhost"],
  ])("refuses an @ after the host (%s): it says to percent-encode, and shows no part of the value", (_, value) => {
    for (const [list, where] of [
      [value, ""],
      [`amqp://ok@rabbit-0,${value}`, "item 2 of 2, "],
    ] as const) {
      const error = errorOf(list);
      expect(error).toBe(
        `RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas (${where}has an @ after its host (${HINT}))`,
      );
      expect(error).not.toMatch(/Secret|8080/);
    }
  });
});

const HINT = "a @ / , ? or # inside a user name or password is written %40 %2F %2C %3F %23";

describe("amqpAddress", () => {
  it("drops the password and the query, keeps the user, host, port and vhost", () => {
    expect(amqpAddress("amqp://otp:secret@rabbit-2:5672/otp?heartbeat=10")).toBe("amqp://otp@rabbit-2:5672/otp");
    expect(amqpAddress("amqp://127.0.0.1:5701")).toBe("amqp://127.0.0.1:5701");
    expect(amqpAddress("amqp://u:p%40w@rabbit/v%40h")).toBe("amqp://u@rabbit/v%40h");
  });

  it("shows nothing of a URL with an @ after its host: its host and port may be a user name and a password's start", () => {
    for (const url of ["amqp://otp:8080/Secret@rabbit-1", "amqp://otp:8080?Secret@r", "amqp://otp:8080#Secret@r"]) {
      expect(amqpAddress(url)).not.toMatch(/otp|8080|Secret/);
    }
  });

  it("shows nothing of a value that is not a URL", () => {
    expect(amqpAddress("amqp://otp:hunter")).toBe("(not a URL)");
  });
});
