import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// The cluster fault test (`pnpm test:cluster`, test/faults/cluster.test.ts): starts a throwaway
// three-node RabbitMQ cluster of its own (scripts/rabbitmq-cluster.sh; root or the rabbitmq user),
// runs the built services against it and kills its nodes. It leaves the shared RabbitMQ alone and
// uses the shared PostgreSQL like any test. FAULTS_PROFILE=full (default) or ci.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/faults/cluster.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 360_000,
    hookTimeout: 300_000,
    silent: false,
    reporters: ["verbose"],
  },
});
