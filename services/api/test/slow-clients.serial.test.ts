import { connect, type Socket } from "node:net";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { describe, expect, it } from "vitest";
import { freshPhone, startTestApi } from "./support/harness.js";
import { httpRequest } from "./support/http.js";

/**
 * The HTTP edge against slow clients (docs/security.md, "The HTTP edge"). It asserts answer times
 * in wall-clock milliseconds, so it runs in the serial suite, alone on the machine, where a second
 * is a second (vitest.serial.config.ts).
 */
const db = useTestDatabase();
const broker = useTestBroker("api-slow-clients");
const json = { "Content-Type": "application/json" };
const smsBody = (phone: string) => JSON.stringify({ phone, password: "4321", lifetime: 60, message: "code 4321" });

/** Opens a connection that sends a request's headers and one byte of its declared 1,000-byte body, then stalls. */
function stalledBody(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
      resolve(socket);
    });
    socket.on("error", () => {});
    socket.once("error", reject);
    // Read what the server answers (its 408): a socket nobody reads from never reports its close.
    socket.resume();
  });
}

describe("slow clients", () => {
  it("2,000 stalled bodies: /health and a real check still answer within a second; the stalled are cut at the timeout", async () => {
    const edge = await startTestApi({
      pg: db(),
      broker,
      env: { HTTP_REQUEST_TIMEOUT: "5", HTTP_HEADERS_TIMEOUT: "5", HTTP_CONNECTIONS_CHECK_INTERVAL: "0.5" },
    });
    const phone = freshPhone();
    const sockets: Socket[] = [];
    try {
      expect((await edge.raw("POST", "/sms", smsBody(phone), json)).status).toBe(200);
      const opened = Date.now();
      for (let i = 0; i < 2_000; i += 200) {
        sockets.push(...(await Promise.all(Array.from({ length: 200 }, () => stalledBody(edge.port)))));
      }
      const closedAt = sockets.map(
        (socket) => new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now()))),
      );
      const allOpen = Date.now();
      // The client runs in the server's process: let the server take in the burst of 2,000 requests
      // (each then waits for its body) before timing what a client behind them gets.
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      const timed = async (path: string, body?: string) => {
        const started = Date.now();
        const answer = await httpRequest(edge.baseUrl, "GET", path, body === undefined ? {} : { body, headers: json });
        return { answer, ms: Date.now() - started };
      };
      const health = await timed("/health");
      expect(health.answer.status).toBe(200);
      expect(health.ms).toBeLessThan(1_000);
      const check = await timed("/sms/check", JSON.stringify({ phone, password: "4321" }));
      expect(check.answer.json).toEqual({ status: true });
      expect(check.ms).toBeLessThan(1_000);

      expect(sockets.every((socket) => !socket.closed)).toBe(true);

      // Each is cut within the request timeout (5 s from its start) plus the checking interval.
      const closed = await Promise.all(closedAt);
      const slowest = Math.max(...closed) - opened;
      expect(slowest).toBeLessThan(5_000 + 500 + (allOpen - opened) + 1_500);
      expect(Math.min(...closed) - opened).toBeGreaterThanOrEqual(4_500);
    } finally {
      for (const socket of sockets) socket.destroy();
      await edge.close();
    }
  });
});
