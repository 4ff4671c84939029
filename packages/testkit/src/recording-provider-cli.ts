#!/usr/bin/env node
import { parseArgs } from "node:util";
import { RecordingProvider } from "./recording-provider.js";

/**
 * Runs the recording provider as a process of its own (fault-injection suite, benchmark, sandbox):
 *   node packages/testkit/dist/recording-provider-cli.js --port 8080 [--host 0.0.0.0]
 * It is driven over HTTP (see recording-provider.ts); SIGTERM or SIGINT stops it.
 */
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    "max-records": { type: "string", default: "100000" },
  },
});

const provider = new RecordingProvider({ maxRecords: Number(values["max-records"]) });
const port = await provider.start(Number(values.port), values.host);
process.stdout.write(`${JSON.stringify({ msg: "recording provider listening", host: values.host, port })}\n`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    provider.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
