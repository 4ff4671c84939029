import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Tests that restart the shared RabbitMQ or PostgreSQL: one file at a time, after the parallel
// suite (vitest.config.ts), so that no other test sees the outage.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["{packages,services}/*/{src,test}/**/*.disruptive.test.ts", "test/**/*.disruptive.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
