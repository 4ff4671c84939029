import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Workspace packages export their TypeScript sources under the "source" condition, so tests run
// the code as written, without a build.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["{packages,services}/*/src/**/*.test.ts", "{packages,services}/*/test/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "test/faults/**", "**/*.disruptive.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Polls wait on real PostgreSQL and RabbitMQ (a quorum queue declare alone takes ~0.2 s); on a
    // loaded 2-core machine vitest's 1 s default makes a passing poll flaky.
    expect: { poll: { timeout: 10_000 } },
    // Each file has its own database and broker names, so files run in parallel.
    fileParallelism: true,
  },
});
