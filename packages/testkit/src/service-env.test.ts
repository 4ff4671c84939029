import { type PgConfig, parseConfig } from "@otp/contracts";
import { expect, it } from "vitest";
import { serviceEnv } from "./service-env.js";

const pg: PgConfig = {
  host: "pooler",
  realHost: "db",
  port: 6432,
  database: "otp_t_1",
  schema: "public",
  user: "tester",
  password: "p w",
  poolMax: 4,
  queryTimeoutMs: 12_500,
};

it("gives the service exactly the test's database and broker, as its configuration parser reads them", () => {
  const env = serviceEnv({ pg, broker: { url: "amqp://u:p@mq:5673", prefix: "t.1" }, secret: "a secret of 16+ chars" });
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  expect(parsed.config.pg).toEqual(pg);
  expect(parsed.config.amqp).toEqual({ urls: ["amqp://u:p@mq:5673"], prefix: "t.1" });
  expect(parsed.config.otp.secret).toBe("a secret of 16+ chars");
});

it("applies overrides last; an undefined override removes the variable", () => {
  const env = serviceEnv(
    { pg, broker: { url: "amqp://mq", prefix: "p" }, secret: "s".repeat(16) },
    { PORT: "8080", RABBITMQ_PREFIX: "other", OTP_SECRET: undefined },
  );
  expect(env).toMatchObject({ PORT: "8080", RABBITMQ_PREFIX: "other" });
  expect(env).not.toHaveProperty("OTP_SECRET");
  expect(serviceEnv({ pg, broker: { url: "amqp://mq", prefix: "p" } })).not.toHaveProperty("OTP_SECRET");
});
