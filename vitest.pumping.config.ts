import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// The pumping simulation (`pnpm test:pumping`, test/pumping): two API replicas on a simulated clock
// under legitimate traffic and an SMS pumping attack. PUMPING_PROFILE=full (default, a few minutes)
// or ci (well under a minute). It prints its table as it ends.
const conditions = ["source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/pumping/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
    silent: false,
    reporters: ["verbose"],
  },
});
