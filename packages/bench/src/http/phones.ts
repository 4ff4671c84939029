import { CHECK_PHONE_BASE } from "../pgbench/scripts.js";

/**
 * The request bodies of the HTTP load, a fresh one per request: each create for a phone of its own
 * (the API's are CHECK_PHONE_BASE + 1, 2, 3 …, the bare server's far above them), each check for a
 * random phone the API load created, with the right code.
 */
export class Phones {
  /** OTPs created through the API so far: the checks draw from them. */
  created = 0;
  #bareCreated = 0;

  readonly createBody = (): string => createBody(CHECK_PHONE_BASE + ++this.created);

  readonly bareCreateBody = (): string => createBody(CHECK_PHONE_BASE + 50_000_000 + ++this.#bareCreated);

  readonly checkBody = (): string =>
    JSON.stringify({
      phone: String(CHECK_PHONE_BASE + 1 + Math.floor(Math.random() * this.created)),
      password: "12345",
    });
}

function createBody(phone: number): string {
  return JSON.stringify({
    ip: "123.123.123.123",
    phone: String(phone),
    password: "12345",
    lifetime: 3600,
    message: "Your OTP is 12345",
  });
}
