import { describe, expect, it } from "vitest";
import type { DeliveryResult } from "../delivery/measure.js";
import { boundBy } from "./bound.js";
import { deliveryReport, SINGLE_BROKER_ONE_DISPATCHER, singleBrokerTwin } from "./delivery.js";

const d = (name: string, eventsPerSecond: number, cores: Record<string, number>): DeliveryResult => ({
  name,
  events: 10_000,
  eventsPerSecond,
  wallSeconds: 5,
  duplicates: 0,
  cores,
});

describe("what bounds a figure", () => {
  it("is the machine when its cores are all but full", () => {
    expect(boundBy({ dispatcher: 0.95, machine: 1.9 }, 2)).toBe("the machine (1.90 of 2 cores busy)");
  });

  it("is a single-threaded process at a whole core, else waiting", () => {
    expect(boundBy({ dispatcher: 0.93, "dispatcher:sys": 0.1, postgres: 0.2, machine: 1.3 }, 2)).toBe(
      "dispatcher: one core (0.93), a single thread",
    );
    // RabbitMQ at a core is not the bound: it runs on several threads.
    expect(boundBy({ "rmq-c1": 0.95, machine: 1.2 }, 2)).toBe("no core full (1.20 of 2 busy): waiting on round trips");
  });
});

describe("the delivery report", () => {
  it("reads a cluster's figure beside the single broker's with as many dispatchers", () => {
    expect(singleBrokerTwin("3-node cluster, 2 dispatchers")).toBe("queue mode, 2 dispatchers");
    const { lines } = deliveryReport(
      undefined,
      [d(SINGLE_BROKER_ONE_DISPATCHER, 2000, { machine: 1 }), d("3-node cluster, 1 dispatcher", 1500, { machine: 1 })],
      2,
    );
    expect(lines.find((l) => l.startsWith("| 3-node cluster, 1 dispatcher"))).toContain("| 0.75× |");
  });

  it("checks the 2,000 deliveries/s target on the single broker with one dispatcher only", () => {
    const part = (perSecond: number) =>
      deliveryReport(
        undefined,
        [d(SINGLE_BROKER_ONE_DISPATCHER, perSecond, { machine: 1 }), d("3-node cluster, 1 dispatcher", 5000, {})],
        2,
      ).targets;
    expect(part(2000)).toMatchObject([{ met: true }]);
    expect(part(1999)).toMatchObject([{ met: false, figure: "1,999/s" }]);
  });
});
