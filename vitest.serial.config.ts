import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Tests that must run alone, one file at a time, after the parallel suite (vitest.config.ts):
//   *.disruptive.test.ts  restart the shared RabbitMQ or PostgreSQL, which no other test may see;
//   *.serial.test.ts      assert wall-clock times, which other files running beside them would skew.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: [
      "{packages,services}/*/{src,test}/**/*.{disruptive,serial}.test.ts",
      "test/**/*.{disruptive,serial}.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
