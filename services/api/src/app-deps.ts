import type { Config, Keyring, Logger } from "@otp/contracts";
import type pg from "pg";
import type { Clock } from "./clock.js";
import type { PendingEvent } from "./domain/issue.js";
import type { Metrics } from "./metrics.js";

/** Everything `createApp` needs; `main.ts` builds the real ones, tests their own. */
export interface AppDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly keys: Keyring;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Takes an accepted OTP's event once its transaction has committed; must neither throw nor block. */
  readonly afterCommit: (pending: PendingEvent) => void;
  /** Whether a publish to RabbitMQ can be attempted right now, for `/health`. */
  readonly brokerReady: () => boolean;
}
