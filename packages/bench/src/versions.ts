import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PgConfig } from "@otp/contracts";
import type { ChannelModel } from "amqplib";
import pg from "pg";
import { ROOT } from "./processes.js";
import { clientOf } from "./scratch.js";

/** The versions of what the figures depend on, for the report's "Machine:" line. */
export async function serverVersions(
  pgConfig: PgConfig,
  amqpConnection: ChannelModel,
): Promise<{ postgres: string; rabbitmq: string; autocannon: string }> {
  const admin = new pg.Client({ ...clientOf(pgConfig), database: "postgres" });
  await admin.connect();
  const postgres = (await admin.query("SHOW server_version")).rows[0].server_version as string;
  await admin.end();
  const rabbitmq = String(
    (amqpConnection as unknown as { connection: { serverProperties: { version?: string } } }).connection
      .serverProperties.version ?? "unknown",
  );
  const autocannon = JSON.parse(readFileSync(join(ROOT, "packages/bench/node_modules/autocannon/package.json"), "utf8"))
    .version as string;
  return { postgres, rabbitmq, autocannon };
}
