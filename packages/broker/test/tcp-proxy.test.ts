import { randomUUID } from "node:crypto";
import { type AddressInfo, connect, createServer } from "node:net";
import { afterAll, expect, it } from "vitest";
import { ManagedConnection } from "../src/connection.js";
import { BrokerUnavailableError } from "../src/errors.js";
import { silentLog } from "../src/log.js";
import { ConfirmPublisher } from "../src/publisher.js";
import { useTestBroker } from "../src/testing/index.js";
import { TcpProxy } from "../src/testing/tcp-proxy.js";
import { assertTopology, topology } from "../src/topology.js";

const broker = useTestBroker("proxy");
const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
afterAll(() => proxy.stop());

it("cutting the proxy looks like a broker outage to the service behind it, restoring it heals", async () => {
  const port = await proxy.start();
  const url = new URL(broker.url);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  const connection = new ManagedConnection({
    url: url.toString(),
    name: "proxied",
    log: silentLog,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 200,
  });
  await connection.addSetup(async (c) => {
    const ch = await c.createChannel();
    await assertTopology(ch, topology(broker.prefix));
    await ch.close();
  });
  const publisher = await ConfirmPublisher.attach(connection, { log: silentLog, confirmTimeoutMs: 2_000 });
  connection.start();
  await connection.waitForConnection(10_000);
  const t = topology(broker.prefix);

  await proxy.cut();
  await expect.poll(() => connection.isConnected).toBe(false);
  await expect(
    publisher.publish(t.exchange, "sms", Buffer.from("{}"), { messageId: randomUUID() }),
  ).rejects.toBeInstanceOf(BrokerUnavailableError);

  await proxy.restore();
  await connection.waitForConnection(10_000);
  await publisher.publish(t.exchange, "sms", Buffer.from("{}"), { messageId: randomUUID() });
  await connection.close();
});

it("holdReplies: what the client sends still reaches the server; the answers wait for releaseReplies", async () => {
  const received: string[] = [];
  const echo = createServer((socket) =>
    socket.on("data", (chunk) => {
      received.push(chunk.toString());
      socket.write(chunk);
    }),
  );
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  const echoProxy = new TcpProxy("127.0.0.1", (echo.address() as AddressInfo).port);
  const client = connect(await echoProxy.start(), "127.0.0.1");
  const answers: string[] = [];
  client.on("data", (chunk) => answers.push(chunk.toString()));
  try {
    client.write("one");
    await expect.poll(() => answers.join("")).toBe("one");
    echoProxy.holdReplies();
    client.write("two");
    await expect.poll(() => received.join("")).toBe("onetwo");
    await new Promise((r) => setTimeout(r, 100));
    expect(answers.join("")).toBe("one");
    echoProxy.releaseReplies();
    await expect.poll(() => answers.join("")).toBe("onetwo");
  } finally {
    client.destroy();
    await echoProxy.stop();
    echo.close();
  }
});
