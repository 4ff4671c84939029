/**
 * The peer baseline as a process of its own, like the API (docs/performance.md, "The peer"):
 *   node --import tsx main.ts --port 3200 --database-url postgres://… --amqp-url amqp://… --queue q --pool-max 10
 * It creates its table if missing, then answers; SIGTERM closes it.
 */
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import pg from "pg";
import { PEER_SCHEMA, peerApp } from "./app.js";
import { PeerPublisher } from "./publisher.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3200" },
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    "amqp-url": { type: "string", default: "amqp://guest:guest@127.0.0.1:5672" },
    queue: { type: "string", default: "peer.sms" },
    "pool-max": { type: "string", default: "10" },
  },
});

const pool = new pg.Pool({ connectionString: values["database-url"], max: Number(values["pool-max"]) });
await pool.query(PEER_SCHEMA);
const publisher = await PeerPublisher.connect(values["amqp-url"] ?? "", values.queue ?? "peer.sms");
const app = peerApp({ pool, publish: publisher.publish, hourlyLimit: 10 });
const server = serve({ fetch: app.fetch, port: Number(values.port), hostname: "127.0.0.1" }, (info) =>
  process.stdout.write(`${JSON.stringify({ msg: "peer listening", port: info.port })}\n`),
);
process.once("SIGTERM", () =>
  server.close(async () => {
    await publisher.close().catch(() => {});
    await pool.end();
    process.exit(0);
  }),
);
