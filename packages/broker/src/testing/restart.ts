import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Restarts the local RabbitMQ application (not the Erlang VM): every connection drops, queues go
 * down and recover from disk, as in a broker restart. Only for `*.disruptive.test.ts` files, which
 * run one at a time after the parallel suite, because it disturbs every other user of the broker.
 */
export async function restartLocalRabbitMq(downForMs = 0): Promise<void> {
  await run("rabbitmqctl", ["-q", "stop_app"], { timeout: 60_000 });
  if (downForMs > 0) await new Promise((r) => setTimeout(r, downForMs));
  await run("rabbitmqctl", ["-q", "start_app"], { timeout: 60_000 });
  await run("rabbitmqctl", ["-q", "await_startup"], { timeout: 60_000 });
}
