import { startBareServer } from "../http/bare-baseline.js";
import { checkEndpoint, createEndpoint } from "../http/endpoints.js";
import { measureEachConcurrency } from "../http/measure.js";
import { Phones } from "../http/phones.js";
import { httpReport } from "../report/http.js";
import type { Phase } from "./phase.js";

/**
 * POST /sms, then GET /sms/check, at each concurrency, each beside pgbench running the API's SQL
 * and the bare HTTP stack answering a constant (docs/performance.md).
 */
export const httpLoad: Phase = {
  name: "HTTP load",
  group: "http",
  async run(bench) {
    const bare = await startBareServer(bench);
    const phones = new Phones();
    const rows = await measureEachConcurrency(bench, bare.url, createEndpoint(bench, phones));
    bench.log(`${phones.created} OTPs to check`);
    rows.push(...(await measureEachConcurrency(bench, bare.url, checkEndpoint(bench, phones))));
    await bare.stop();
    return httpReport(rows, bench.options.protocol);
  },
};
