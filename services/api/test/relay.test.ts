import { type BrokerClient, createBrokerClient, silentLog } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import { createSql, createTables } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import amqp from "amqplib";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OutboxRelay } from "../src/outbox/relay.js";
import type { EventPublisher } from "../src/outbox/types.js";

const db = useTestDatabase();
const testBroker = useTestBroker("api-relay");
let pool: pg.Pool;
let broker: BrokerClient;
let inspector: amqp.ChannelModel;

beforeAll(async () => {
  pool = new pg.Pool({ ...db(), max: 6 });
  broker = await createBrokerClient({ ...testBroker, name: "relay-test", log: silentLog });
  broker.connection.start();
  await broker.connection.waitForConnection(10_000);
  inspector = await amqp.connect(testBroker.url);
});
afterAll(async () => {
  await inspector?.close();
  await broker?.connection.close();
  await pool?.end();
});
beforeEach(() => pool.query("DELETE FROM outbox"));

/** `n` unpublished events, old enough for the relay to take (past its grace period). */
async function backlog(n: number): Promise<void> {
  await pool.query(
    `INSERT INTO outbox (id, otp_id, channel, event, created_at)
     SELECT gen_random_uuid(), gen_random_uuid(), 'email', jsonb_build_object('n', i), now() - interval '1 hour'
     FROM generate_series(1, $1::int) AS i`,
    [n],
  );
}

const outboxCount = async () => (await pool.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n as number;

function relayWith(
  publisher: EventPublisher,
  options: { batchSize?: number; stopTimeoutMs?: number; pool?: pg.Pool } = {},
) {
  return new OutboxRelay({
    pool,
    sql: createSql(createTables("public")).outbox,
    publisher,
    exchange: broker.topology.exchange,
    clock: () => new Date(),
    log: silentLog,
    intervalMs: 20,
    ...options,
  });
}

describe("OutboxRelay.stop()", () => {
  it("returns within its timeout while a publish hangs, and leaves the rows for the next relay", async () => {
    await backlog(3);
    let publishes = 0;
    // A broker that took the message and never confirms it, as after a connection silently lost.
    const stuck: EventPublisher = {
      isReady: true,
      publish: () => {
        publishes++;
        return new Promise<void>(() => {});
      },
    };
    const relay = relayWith(stuck, { stopTimeoutMs: 300 });
    relay.start();
    await expect.poll(() => publishes, { timeout: 5_000 }).toBe(3);

    const started = Date.now();
    const outcome = await Promise.race([
      relay.stop(),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 3 s"), 3_000)),
    ]);
    expect(outcome).toBe("abandoned");
    expect(Date.now() - started).toBeLessThan(1_500);

    // The abandoned pass rolled back: its rows are unlocked and still there.
    expect(await outboxCount()).toBe(3);
    const claimable = await pool.query("SELECT id FROM outbox FOR UPDATE SKIP LOCKED");
    expect(claimable.rowCount).toBe(3);
  });

  it("a pass that stop() gave up on while it waited for a connection publishes nothing once it gets one", async () => {
    await backlog(3);
    let publishes = 0;
    const publisher: EventPublisher = {
      isReady: true,
      publish: async () => {
        publishes++;
      },
    };
    // A pool that hands out its connection only once `open()` is called (a pool exhausted at
    // shutdown); `released` resolves when the pass gives the connection back, i.e. has ended.
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let connects = 0;
    let released: () => void = () => {};
    const passEnded = new Promise<void>((resolve) => {
      released = resolve;
    });
    const slowPool = {
      async connect() {
        connects++;
        await gate;
        const client = await pool.connect();
        const release = client.release.bind(client);
        client.release = (error?: Error | boolean) => {
          release(error);
          released();
        };
        return client;
      },
    } as unknown as pg.Pool;

    const relay = relayWith(publisher, { pool: slowPool, stopTimeoutMs: 100 });
    relay.start();
    await expect.poll(() => connects, { timeout: 5_000 }).toBe(1);
    expect(await relay.stop()).toBe("abandoned");

    open();
    await passEnded;
    expect(publishes).toBe(0);
    expect(await outboxCount()).toBe(3);
    const claimable = await pool.query("SELECT id FROM outbox FOR UPDATE SKIP LOCKED");
    expect(claimable.rowCount).toBe(3);
  });

  it("waits for a pass in progress to finish: says `finished` and the rows are deleted, not left behind", async () => {
    await backlog(3);
    let publishes = 0;
    // Confirms that come, only slowly: the pass is still publishing when stop() is called.
    const slow: EventPublisher = {
      isReady: true,
      publish: async () => {
        publishes++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      },
    };
    const relay = relayWith(slow);
    relay.start();
    await expect.poll(() => publishes, { timeout: 5_000 }).toBe(3);

    expect(await relay.stop(2_000)).toBe("finished");
    expect(await outboxCount()).toBe(0);
  });

  it("says `finished` when no pass is in progress", async () => {
    const relay = relayWith({ isReady: true, publish: async () => {} });
    relay.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await relay.stop(300)).toBe("finished");
  });
});

/** The message ids of everything in the email work queue, which is emptied. */
async function drainEmailQueue(): Promise<string[]> {
  const ch = await inspector.createChannel();
  const ids: string[] = [];
  try {
    for (;;) {
      const message = await ch.get(broker.topology.workQueue("email"), { noAck: true });
      if (!message) return ids;
      ids.push(String(message.properties.messageId));
    }
  } finally {
    await ch.close();
  }
}

/** The real publisher, but every publish waits until `open()`: a relay caught mid-pass, rows locked. */
function held(inner: EventPublisher) {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let calls = 0;
  const publisher: EventPublisher = {
    get isReady() {
      return inner.isReady;
    },
    async publish(...args) {
      calls++;
      await gate;
      return inner.publish(...args);
    },
  };
  return { publisher, open: () => open(), calls: () => calls };
}

/** Runs passes until one finds nothing; the total published. */
async function relayAll(relay: OutboxRelay): Promise<number> {
  let total = 0;
  for (;;) {
    const published = await relay.runOnce();
    if (published === 0) return total;
    total += published;
  }
}

describe("several relays on one outbox (API replicas)", () => {
  it("one relay mid-publish neither blocks another nor shares its rows: each event is published exactly once", async () => {
    await drainEmailQueue();
    await backlog(40);
    const ids = (await pool.query<{ id: string }>("SELECT id FROM outbox")).rows.map((r) => r.id);

    // Relay A claims a batch and is held in the middle of publishing it, its rows locked.
    const a = held(broker.publisher);
    const relayA = relayWith(a.publisher, { batchSize: 10 });
    const passA = relayA.runOnce();
    await expect.poll(a.calls, { timeout: 5_000 }).toBe(10);

    // Relay B works the same backlog meanwhile. Plain FOR UPDATE would make it wait for A's
    // locks; no locking at all would let it take A's rows too.
    const relayB = relayWith(broker.publisher, { batchSize: 10 });
    const byB = await Promise.race([
      relayAll(relayB),
      new Promise<string>((resolve) => setTimeout(() => resolve("B blocked behind A's locked rows"), 5_000)),
    ]);
    expect(byB).toBe(30);

    a.open();
    expect(await passA).toBe(10);
    expect(await outboxCount()).toBe(0);
    const published = await drainEmailQueue();
    expect(published).toHaveLength(40);
    expect([...published].sort()).toEqual([...ids].sort());
  });
});

describe("the grace period", () => {
  it("leaves a young delivery row to its after-commit publish, but takes a young webhook row at once", async () => {
    await pool.query(
      `INSERT INTO outbox (id, otp_id, channel, event, created_at) VALUES
         (gen_random_uuid(), gen_random_uuid(), 'email', '{"young": "delivery"}', now()),
         (gen_random_uuid(), NULL, 'webhook', '{"young": "webhook"}', now())`,
    );
    const published: string[] = [];
    const recording: EventPublisher = {
      get isReady() {
        return true;
      },
      async publish(_exchange, routingKey) {
        published.push(routingKey);
      },
    };
    expect(await relayWith(recording).runOnce()).toBe(1);
    expect(published).toEqual(["webhook"]);
    const left = await pool.query<{ channel: string }>("SELECT channel FROM outbox");
    expect(left.rows.map((r) => r.channel)).toEqual(["email"]);
  });
});
