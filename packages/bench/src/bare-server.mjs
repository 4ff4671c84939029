// The baseline "bare HTTP stack": the API's own Hono and @hono/node-server (same versions), one
// route answering a constant for any method and path, no middleware, the body left unread. What
// the API adds on top of this (parsing, validation, logging, metrics, PostgreSQL) is the gap
// between the two columns of the benchmark.
//   node bare-server.mjs <port>
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.all("*", (c) => c.json({ status: true }));

const server = serve({ fetch: app.fetch, port: Number(process.argv[2] ?? 3100), hostname: "127.0.0.1" }, (info) =>
  process.stdout.write(`${JSON.stringify({ msg: "bare server listening", port: info.port })}\n`),
);
process.once("SIGTERM", () => server.close(() => process.exit(0)));
