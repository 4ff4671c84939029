import type { Config, Keyring } from "@otp/contracts";
import type { Sql } from "@otp/db";
import type pg from "pg";
import type { Clock } from "../clock.js";
import type { PolicyCache } from "./policy/cache.js";
import type { PresendHook } from "./policy/hook.js";
import type { PolicyEvents } from "./policy/policed-issue.js";
import type { TestTargets } from "./test-targets.js";

/** What the domain functions need: storage, keys, time and the OTP and guessing settings. No HTTP, no broker. */
export interface DomainDeps {
  readonly pool: pg.Pool;
  /** The statements, for the tables of the configured schema (`createSql(createTables(schema))`). */
  readonly sql: Sql;
  readonly keys: Keyring;
  readonly clock: Clock;
  readonly otp: Config["otp"];
  /** How targets are read and which key their limits count under. */
  readonly targets: Config["targets"];
  readonly guessing: Config["guessing"];
  /** The destination policies of the phone channels, as of at most a second ago (docs/policy.md). */
  readonly policies: PolicyCache;
  /** The pre-send hook, when `OTP_PRESEND_HOOK_URL` is set. */
  readonly presendHook: PresendHook | undefined;
  readonly policyEvents: PolicyEvents;
  /** The test targets (docs/test-targets.md); undefined unless `OTP_TEST_TARGETS=true`. */
  readonly testTargets?: TestTargets | undefined;
}
