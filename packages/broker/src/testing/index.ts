import { randomBytes } from "node:crypto";

export { TcpProxy } from "./tcp-proxy.js";

import amqp from "amqplib";
import { afterAll, inject } from "vitest";
import { deleteTopology, topology } from "../topology.js";

/** A name prefix of its own for one test file, so test files can share the broker in parallel. */
export function testPrefix(label = "t"): string {
  return `${label}.${process.pid}.${randomBytes(3).toString("hex")}`;
}

/** Deletes every queue and exchange declared under `prefix`. */
export async function deleteTestTopology(url: string, prefix: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await deleteTopology(channel, topology(prefix));
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * The broker settings for the calling test file: the run's RabbitMQ URL and a fresh prefix whose
 * queues and exchanges are deleted after the file's tests.
 */
export function useTestBroker(label = "t"): { url: string; prefix: string } {
  const url = inject("rabbitmqUrl");
  if (!url) {
    throw new Error(
      "useTestBroker() needs RabbitMQ: put this test in a test/ directory (the integration project, with " +
        "the global setup), not beside the code in src/, where unit tests run without services",
    );
  }
  const prefix = testPrefix(label);
  afterAll(async () => {
    await deleteTestTopology(url, prefix);
  });
  return { url, prefix };
}
