import { sleep } from "@otp/testkit";
import autocannon from "autocannon";
import type pg from "pg";

/**
 * A delivery run's backlog: `amount` OTPs created through the API (16 connections), all with
 * lifetime `lifetime`, then waited for until every event is confirmed by RabbitMQ (the outbox is
 * emptied on confirm), so that the clock starts with all of them queued.
 */
export async function createBacklog(
  apiUrl: string,
  pool: pg.Pool,
  amount: number,
  lifetime: number,
  phoneBase: number,
): Promise<void> {
  await createThroughApi(apiUrl, amount, lifetime, phoneBase);
  for (let i = 0; ; i++) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
    if (rows[0]?.n === 0) break;
    if (i > 600) throw new Error(`the outbox still holds ${rows[0]?.n} events`);
    await sleep(100);
  }
}

function createThroughApi(apiUrl: string, amount: number, lifetime: number, phoneBase: number): Promise<void> {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: apiUrl,
        connections: 16,
        amount,
        timeout: 10,
        requests: [
          {
            method: "POST",
            path: "/sms",
            headers: { "content-type": "application/json" },
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({
                phone: String(phoneBase + ++n),
                password: "12345",
                lifetime,
                message: "Your OTP is 12345",
              }),
            }),
          },
        ],
      },
      (error, result) => {
        if (error) reject(error);
        else if (result.non2xx + result.errors + result.timeouts > 0)
          reject(
            new Error(`creating OTPs for the delivery run failed: ${result.non2xx} non-2xx, ${result.errors} errors`),
          );
        else resolve();
      },
    );
  });
}
