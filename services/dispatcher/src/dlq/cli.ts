import { parseArgs } from "node:util";
import { createBrokerClient, type Log, ManagedConnection, topology } from "@otp/broker";
import { loadConfigOrExit } from "@otp/contracts";
import { createPool } from "@otp/db";
import { StatusStore } from "../status/status-store.js";
import { type DeadLetter, listDeadLetters, replayDeadLetters } from "./dead-letters.js";

/**
 * The operator's view of the dead-letter queue, with the service's own variables (RABBITMQ_URL,
 * RABBITMQ_PREFIX, PG_*):
 *   pnpm --filter dispatcher dlq list [--json] [--limit N]
 *   pnpm --filter dispatcher dlq replay --id <event id> [--id <event id> ...]
 *   pnpm --filter dispatcher dlq replay --all
 */
const USAGE = `usage: dlq list [--json] [--limit N]
       dlq replay --id <event id> [--id ...] | --all`;

const { values, positionals } = parseArgs({
  // `pnpm … dlq -- list` passes the "--" along.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
  allowPositionals: true,
  options: {
    id: { type: "string", multiple: true },
    all: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    limit: { type: "string", default: "10000" },
  },
});
const command = positionals[0];
if (command !== "list" && command !== "replay") {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
if (command === "replay" && !values.all && (values.id ?? []).length === 0) {
  process.stderr.write(`replay needs --id <event id> or --all\n${USAGE}\n`);
  process.exit(2);
}

const config = loadConfigOrExit();
const t = topology(config.amqp.prefix);

/**
 * Connection trouble goes to stderr as it happens: the wait below only says that no connection came
 * within its time, while the reason (a refused login, a refused or unreachable port) is in these.
 */
const stderrLog: Log = {
  info() {},
  debug() {},
  warn: writeToStderr,
  error: writeToStderr,
};
function writeToStderr(obj: object, msg?: string): void {
  const err = (obj as { err?: unknown }).err;
  process.stderr.write(`${msg ?? "RabbitMQ"}${err instanceof Error ? `: ${err.message}` : ""}\n`);
}

const name = "otp-dlq-cli";
// Only a replay declares the topology (so that its copies always route) and publishes, with the
// service's own broker client so that a replay is published as every other copy is (mandatory,
// confirm timeout). A list declares nothing: under a mistyped RABBITMQ_PREFIX it must say that
// there is nothing there, not create an empty topology and list it.
const { urls, prefix } = config.amqp;
const client = command === "replay" ? await createBrokerClient({ url: urls, prefix, name, log: stderrLog }) : undefined;
const managed = client?.connection ?? new ManagedConnection({ url: urls, name, log: stderrLog });
const publisher = client?.publisher;
managed.start();
const connection = await managed.waitForConnection(10_000).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});

function table(letters: readonly DeadLetter[]): string {
  const rows = [
    ["ID", "CHANNEL", "OTP_ID", "REASON", "ATTEMPTS", "DEAD_LETTERED_AT", "LAST_ERROR"],
    ...letters.map((l) => [
      l.id,
      l.channel,
      l.otpId ?? "-",
      l.reason,
      l.attempts === null ? "-" : String(l.attempts),
      l.deadAt ?? "-",
      l.lastError ?? "-",
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

try {
  if (command === "list") {
    const letters = await listDeadLetters(connection, t, Number(values.limit));
    process.stdout.write(
      values.json
        ? `${JSON.stringify(letters, null, 2)}\n`
        : `${table(letters)}\n${letters.length} dead letter(s) in ${t.deadQueue}\n`,
    );
  } else if (publisher) {
    // (a replay: the publisher is attached exactly then)
    const pool = createPool(config.pg, { applicationName: "otp-dlq-cli", onError: () => {} });
    try {
      const result = await replayDeadLetters(
        {
          connection,
          publisher,
          topology: t,
          store: new StatusStore(pool, config.pg.schema, config.otp.maxCheckAttempts),
        },
        { all: values.all, ids: values.id ?? [] },
      );
      if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else {
        for (const id of result.replayed) process.stdout.write(`replayed ${id}\n`);
        for (const s of result.skipped) process.stdout.write(`skipped  ${s.id}: ${s.why}\n`);
        for (const f of result.failed) process.stdout.write(`failed   ${f.id}: ${f.why}\n`);
        process.stdout.write(`${result.replayed.length} replayed, ${result.skipped.length} skipped\n`);
      }
      if (result.failed.length > 0) {
        process.stderr.write(
          "the replay stopped: a copy was not confirmed; the dead letters not replayed are still there\n",
        );
        process.exitCode = 1;
      }
    } finally {
      await pool.end();
    }
  }
} finally {
  await managed.close();
}
