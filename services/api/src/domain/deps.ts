import type { Config, Keyring } from "@otp/contracts";
import type { TableNames } from "@otp/db";
import type pg from "pg";
import type { Clock } from "../clock.js";

/** What the domain functions need: storage, keys, time and the OTP settings. No HTTP, no broker. */
export interface DomainDeps {
  readonly pool: pg.Pool;
  readonly tables: TableNames;
  readonly keys: Keyring;
  readonly clock: Clock;
  readonly otp: Config["otp"];
}
