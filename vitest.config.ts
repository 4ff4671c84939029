import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Workspace packages export their TypeScript sources under the "source" condition, so tests run
// the code as written, without a build.
const conditions = ["source", ...defaultServerConditions];

/**
 * Two projects, one run (`pnpm test` runs both, `pnpm test:unit` only the first, in a few seconds:
 * threads without isolation, which only a whole run's CLI flags can choose):
 *   unit         `src/**\/*.test.ts`, beside the code: pure logic, no PostgreSQL, no RabbitMQ. Their
 *                environment points both at a closed port, so a unit test that reaches for a
 *                service fails here instead of passing only where the services run.
 *   integration  `test/**\/*.test.ts` of each package and service, and the repository's `test/`:
 *                real PostgreSQL and RabbitMQ, behind the global setup (the template database).
 * The tests that restart a shared server (`*.disruptive.test.ts`) or time answers on the wall clock
 * (`*.serial.test.ts`) run alone afterwards (vitest.serial.config.ts); the fault suite has a config
 * of its own (vitest.faults.config.ts).
 */
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    exclude: [
      "**/node_modules/**",
      "**/dist/**",
      "test/faults/**",
      "test/pumping/**",
      "**/*.disruptive.test.ts",
      "**/*.serial.test.ts",
    ],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Polls wait on real PostgreSQL and RabbitMQ (a quorum queue declare alone takes ~0.2 s); on a
    // loaded 2-core machine vitest's 1 s default makes a passing poll flaky.
    expect: { poll: { timeout: 10_000 } },
    // Each file has its own database and broker names, so files run in parallel.
    fileParallelism: true,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["{packages,services}/*/src/**/*.test.ts"],
          env: { PG_HOST: "127.0.0.1", PG_PORT: "1", RABBITMQ_URL: "amqp://127.0.0.1:1" },
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["{packages,services}/*/test/**/*.test.ts", "test/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
        },
      },
    ],
  },
});
