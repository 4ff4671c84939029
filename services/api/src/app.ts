import { OpenAPIHono } from "@hono/zod-openapi";
import { createSql, createTables } from "@otp/db";
import { methodNotAllowed as methodNotAllowedMiddleware } from "hono/method-not-allowed";
import type { AppDeps } from "./app-deps.js";
import { createChecker } from "./domain/check.js";
import type { DomainDeps } from "./domain/deps.js";
import { createIssuer } from "./domain/issue.js";
import { createLifecycle } from "./domain/lifecycle.js";
import { createLookups } from "./domain/lookups.js";
import { createPolicyCache } from "./domain/policy/cache.js";
import { createPresendHook } from "./domain/policy/hook.js";
import type { PolicyEvents } from "./domain/policy/policed-issue.js";
import { createTestTargets } from "./domain/test-targets.js";
import { createWebhookStore } from "./domain/webhooks/store.js";
import { authMiddleware } from "./http/auth.js";
import { refuseCrossSite } from "./http/cross-site.js";
import type { AppEnv } from "./http/env.js";
import { errorHandler, methodNotAllowed, notFound } from "./http/error-handler.js";
import { responseHeaders } from "./http/headers.js";
import { observe } from "./http/observe.js";
import type { RouteContext } from "./routes/context.js";
import { docsRoutes } from "./routes/docs.js";
import { lifecycleRoutes } from "./routes/lifecycle.js";
import { limitRoutes } from "./routes/limits.js";
import { lookupRoutes } from "./routes/lookups.js";
import { opsRoutes } from "./routes/ops.js";
import { otpRoutes } from "./routes/otp.js";
import { policyRoutes } from "./routes/policy.js";
import { statsRoutes } from "./routes/stats.js";
import { telegramRoutes } from "./routes/telegram.js";
import { testTargetRoutes } from "./routes/test-targets.js";
import { webhookRoutes } from "./routes/webhooks.js";

export const API_VERSION = "1.0.0";

/** The HTTP API as a Hono app, built from its dependencies; no global state. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const sql = createSql(createTables(deps.config.pg.schema));
  const domainDeps: DomainDeps = {
    pool: deps.pool,
    sql,
    keys: deps.keys,
    clock: deps.clock,
    otp: deps.config.otp,
    targets: deps.config.targets,
    guessing: deps.config.guessing,
    policies: createPolicyCache({ pool: deps.pool, sql, logger: deps.logger }),
    presendHook: deps.config.presendHook && createPresendHook(deps.config.presendHook),
    policyEvents: policyEventsOf(deps),
    testTargets: deps.config.testTargets ? testTargetsOf(deps, sql) : undefined,
  };
  const check = createChecker(domainDeps);
  const lookups = createLookups(domainDeps);
  const ctx: RouteContext = {
    deps,
    domain: domainDeps,
    issuer: createIssuer(domainDeps, deps.afterCommit),
    check,
    lookups,
    lifecycle: createLifecycle(domainDeps, check, lookups),
    webhooks: createWebhookStore(domainDeps, deps.config.webhooks),
  };
  deps.metrics.setBacklogSource(async () => {
    const { rows } = await deps.pool.query<{ n: number }>(domainDeps.sql.outbox.count({}));
    return rows[0]?.n ?? 0;
  });

  const app = new OpenAPIHono<AppEnv>();
  app.use(responseHeaders());
  app.use(observe(deps.logger, deps.metrics));
  app.use(methodNotAllowedMiddleware({ app, onMethodNotAllowed: methodNotAllowed }));
  app.use(refuseCrossSite(deps.config.http.allowedOrigins));
  app.use(authMiddleware(deps.config));

  otpRoutes(app, ctx);
  limitRoutes(app, ctx);
  policyRoutes(app, ctx);
  lookupRoutes(app, ctx);
  lifecycleRoutes(app, ctx);
  webhookRoutes(app, ctx);
  telegramRoutes(app, ctx);
  statsRoutes(app, ctx);
  if (domainDeps.testTargets) testTargetRoutes(app, ctx, domainDeps.testTargets);
  opsRoutes(app, ctx);
  docsRoutes(app, API_VERSION);

  app.onError(errorHandler(deps.logger));
  app.notFound(notFound);
  return app;
}

/** The policy's metrics, and a warning for each failed call of the pre-send hook (its kind only: no number). */
function policyEventsOf(deps: AppDeps): PolicyEvents {
  return {
    decided: (channel, rule, decision) => deps.metrics.policyDecisions.inc({ channel, rule, decision }),
    hookAnswered(channel, result) {
      deps.metrics.presendHook.inc({ channel, result });
      if (result !== "allow" && result !== "deny") deps.logger.warn({ channel, result }, "the pre-send hook failed");
    },
  };
}

/** The test targets' cache and creates (docs/test-targets.md), under `OTP_TEST_TARGETS=true`. */
function testTargetsOf(deps: AppDeps, sql: ReturnType<typeof createSql>) {
  return createTestTargets({
    pool: deps.pool,
    sql,
    keys: deps.keys,
    clock: deps.clock,
    logger: deps.logger,
    maxFailures: deps.config.otp.maxCheckAttempts,
    supersede: deps.config.guessing.resend !== "new",
  });
}
