import { connect } from "node:net";
import { silentLog } from "@otp/broker";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startHttpServer } from "./http-server.js";

/** Sends `head` as it is over a new connection and resolves with the answer's text (or what came before the timeout). */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(2_000, done);
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (/\r\n\r\n/.test(answer) && answer.includes("}")) done();
    });
    socket.on("end", done);
    socket.on("error", reject);
    socket.write(head);
  });
}

describe("the dispatcher's health and metrics port", () => {
  it("answers 400 to a request target that is no URL, and keeps serving", async () => {
    const server = await startHttpServer({
      port: 0,
      health: async () => ({ database: true, broker: true }),
      registry: new Registry(),
      log: silentLog,
    });
    try {
      const bad = await rawRequest(server.port, "GET http://[zz/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      expect(bad).toMatch(/^HTTP\/1\.1 400 /);
      expect(bad).toMatch(/content-type: application\/json/i);
      expect(bad).toContain('"status_code":"bad_request"');

      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: true });
    } finally {
      await server.close();
    }
  });
});
