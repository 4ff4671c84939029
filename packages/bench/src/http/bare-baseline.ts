import type { Bench } from "../bench.js";
import { freePort } from "../processes.js";

/**
 * The bare HTTP baseline: bare-server.mjs, the API's own HTTP stack answering a constant, as a
 * process of its own (its CPU accounted to `bare` while it runs).
 */
export async function startBareServer(bench: Bench): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const bare = bench.resources.spawn("bare", "packages/bench/src/bare-server.mjs", { args: [String(port)] });
  const url = `http://127.0.0.1:${port}`;
  await bare.waitForHttp(url, { timeoutMs: 60_000 });
  bench.roles.bare = [bare.pid];
  return {
    url,
    stop: async () => {
      await bare.stop();
      delete bench.roles.bare;
    },
  };
}
