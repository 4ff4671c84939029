import type { IncomingMessage } from "node:http";
import { Hono } from "hono";
import type pg from "pg";

/**
 * The peer baseline (docs/performance.md, "The peer"): the OTP service a team would write in an
 * afternoon on the same stack — Hono, node-postgres, amqplib — with the same two routes and
 * bodies as this service's SMS endpoints. A create takes a transaction: an advisory lock on the
 * target, a count of its codes in the last hour (the rate limit), the insert of the code in
 * plaintext, commit; then the message is published with a publisher confirm before the answer. A
 * check is one plain SELECT of the target's newest unexpired code, compared in the process; it
 * writes nothing (no failure count, no guess limit, no verification record).
 */

/** Its own table, in the benchmark's scratch database. */
export const PEER_SCHEMA = `
CREATE TABLE IF NOT EXISTS peer_otp (
  id bigserial PRIMARY KEY,
  channel text NOT NULL,
  target text NOT NULL,
  code text NOT NULL,
  message text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expire_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS peer_otp_target_idx ON peer_otp (channel, target, created_at);`;

export interface PeerDeps {
  readonly pool: pg.Pool;
  /** Resolves once RabbitMQ has confirmed the message. */
  readonly publish: (message: Buffer) => Promise<void>;
  /** Codes per target per hour. */
  readonly hourlyLimit: number;
}

interface Body {
  readonly phone?: unknown;
  readonly password?: unknown;
  readonly lifetime?: unknown;
  readonly message?: unknown;
}

export function peerApp(deps: PeerDeps): Hono<{ Bindings: { incoming?: IncomingMessage } }> {
  const app = new Hono<{ Bindings: { incoming?: IncomingMessage } }>();
  app.get("/health", (c) => c.json({ status: true }));
  app.post("/sms", async (c) => {
    const body = await readBody(c.env?.incoming, c.req.raw);
    if (typeof body.phone !== "string" || typeof body.password !== "string") return c.json({ status: false }, 400);
    const lifetime = typeof body.lifetime === "number" ? body.lifetime : 300;
    const message = typeof body.message === "string" ? body.message : body.password;
    if (!(await insertCode(deps, body.phone, body.password, lifetime, message))) {
      return c.json({ status: false, message: "Too many codes" }, 429);
    }
    await deps.publish(Buffer.from(JSON.stringify({ channel: "sms", phone: body.phone, message })));
    return c.json({ status: true });
  });
  app.get("/sms/check", async (c) => {
    const body = await readBody(c.env?.incoming, c.req.raw);
    if (typeof body.phone !== "string" || typeof body.password !== "string") return c.json({ status: false }, 400);
    const { rows } = await deps.pool.query<{ code: string }>(
      `SELECT code FROM peer_otp WHERE channel = 'sms' AND target = $1 AND expire_at > now()
       ORDER BY created_at DESC LIMIT 1`,
      [body.phone],
    );
    return c.json({ status: rows[0]?.code === body.password });
  });
  return app;
}

/** The create's transaction; false when the target has reached its hourly limit. */
async function insertCode(deps: PeerDeps, phone: string, code: string, lifetime: number, message: string) {
  const client = await deps.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`sms:${phone}`]);
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM peer_otp WHERE channel = 'sms' AND target = $1 AND created_at > now() - interval '1 hour'",
      [phone],
    );
    if ((rows[0]?.n ?? 0) >= deps.hourlyLimit) {
      await client.query("ROLLBACK");
      return false;
    }
    await client.query(
      "INSERT INTO peer_otp (channel, target, code, message, expire_at) VALUES ('sms', $1, $2, $3, now() + make_interval(secs => $4))",
      [phone, code, message, lifetime],
    );
    await client.query("COMMIT");
    return true;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The JSON body, GET included: @hono/node-server's fetch Request cannot carry a GET body, so it is
 * read from Node's request as the API reads it (docs/api.md).
 */
async function readBody(incoming: IncomingMessage | undefined, request: Request): Promise<Body> {
  let text: string;
  if (incoming) {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  } else text = await request.text();
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Body) : {};
  } catch {
    return {};
  }
}
