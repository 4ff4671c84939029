import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { afterEach, expect, it } from "vitest";
import { createBrokerClient } from "../src/client.js";
import type { ManagedConnection } from "../src/connection.js";
import { silentLog } from "../src/log.js";
import { useTestBroker } from "../src/testing/index.js";
import { TcpProxy } from "../src/testing/tcp-proxy.js";

/**
 * Failing over between the addresses of RABBITMQ_URL. The test broker is one node, so each
 * "node" here is a TcpProxy in front of it: cutting a proxy is that node going away for this
 * client only. (The real three-node cluster is the fault test's: pnpm test:cluster.)
 */

const broker = useTestBroker("failover");
const target = new URL(broker.url);
const proxies: TcpProxy[] = [];
const clients: ManagedConnection[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const p of proxies.splice(0)) await p.stop();
});

/** The test broker's URL (with its credentials) through a new proxy. */
async function node(): Promise<{ proxy: TcpProxy; url: string; address: string }> {
  const proxy = new TcpProxy("127.0.0.1", Number(target.port || 5672));
  proxies.push(proxy);
  const url = new URL(broker.url);
  url.hostname = "127.0.0.1";
  url.port = String(await proxy.start());
  const address = new URL(url);
  address.password = "";
  return { proxy, url: url.toString(), address: address.toString() };
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function client(urls: string[]) {
  const setups: string[] = [];
  const c = await createBrokerClient({
    url: urls,
    prefix: broker.prefix,
    name: "failover-test",
    log: silentLog,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 200,
    confirmTimeoutMs: 5_000,
  });
  clients.push(c.connection);
  // After the topology and the publisher's channel: which address each (re)connection's setup ran on.
  await c.connection.addSetup(async () => {
    setups.push(c.connection.address ?? "(during setup)");
  });
  const publish = () => c.publisher.publish(c.topology.exchange, "sms", Buffer.from("{}"), { messageId: randomUUID() });
  return { ...c, setups, publish };
}

it("connects to the first address that answers, and says which one", async () => {
  const live = await node();
  const { connection, publish } = await client([`amqp://guest:guest@127.0.0.1:${await closedPort()}`, live.url]);
  connection.start();
  await connection.waitForConnection(10_000);
  expect(connection.address).toBe(live.address);
  expect(connection.address).not.toMatch(/\/\/[^/@]*:[^/@]*@/); // no password
  await publish();
});

it("fails over to the next address when its node goes, with the topology and channels set up again there", async () => {
  const [a, b] = [await node(), await node()];
  const { connection, publish, setups } = await client([a.url, b.url]);
  connection.start();
  await connection.waitForConnection(10_000);
  expect(connection.address).toBe(a.address);
  await publish();

  await a.proxy.cut();
  await expect.poll(() => connection.address).toBe(b.address);
  // Every setup hook ran again on the new connection: the publisher's channel confirms there.
  expect(setups).toHaveLength(2);
  await publish();

  // The first node coming back moves nothing: the connection stays where it is.
  await a.proxy.restore();
  const acceptedByA = a.proxy.accepted;
  await new Promise((r) => setTimeout(r, 500));
  expect(connection.address).toBe(b.address);
  expect(a.proxy.accepted).toBe(acceptedByA);

  // And when that one goes, it wraps round to the first.
  await b.proxy.cut();
  await expect.poll(() => connection.address).toBe(a.address);
  await publish();
  expect(setups).toHaveLength(3);
});

it("after losing a node, tries the others before it, and comes back to it only when they are down too", async () => {
  const [a, b, c] = [await node(), await node(), await node()];
  const { connection, publish } = await client([a.url, b.url, c.url]);
  connection.start();
  await connection.waitForConnection(10_000);
  await b.proxy.cut(); // down before it is needed: refused, so the next one is tried at once
  await a.proxy.cut();
  await expect.poll(() => connection.address).toBe(c.address);
  expect(b.proxy.accepted).toBe(0);
  await publish();
  await a.proxy.restore();
  await c.proxy.cut();
  await expect.poll(() => connection.address).toBe(a.address);
  await publish();
});
