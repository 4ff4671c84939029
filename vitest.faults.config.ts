import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// The fault-injection suite (`pnpm test:faults`): runs the built services as processes and stops
// and starts the local PostgreSQL and RabbitMQ, so it runs alone, after a build, one file at a time.
// FAULTS_PROFILE=full (default, about 3 minutes) or ci (about a minute). The cluster fault test
// (test/faults/cluster.test.ts) has a config of its own: vitest.cluster.config.ts.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/faults/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "test/faults/cluster.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 360_000,
    hookTimeout: 120_000,
    // The report is printed with console.log; show it as it comes.
    silent: false,
    reporters: ["verbose"],
  },
});
