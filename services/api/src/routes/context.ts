import type { AppDeps } from "../app-deps.js";
import type { createChecker } from "../domain/check.js";
import type { DomainDeps } from "../domain/deps.js";
import type { Issuer } from "../domain/issue.js";
import type { Lifecycle } from "../domain/lifecycle.js";
import type { Lookups } from "../domain/lookups.js";
import type { WebhookStore } from "../domain/webhooks/store.js";

/** What route modules get: the dependencies and the domain services built from them once. */
export interface RouteContext {
  readonly deps: AppDeps;
  readonly domain: DomainDeps;
  readonly issuer: Issuer;
  readonly check: ReturnType<typeof createChecker>;
  readonly lookups: Lookups;
  readonly lifecycle: Lifecycle;
  readonly webhooks: WebhookStore;
}
