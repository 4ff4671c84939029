import { CHECK_PHONE_BASE } from "../pgbench/scripts.js";
import { createBody } from "./bodies.js";

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
