import { phpJsonEncode } from "../../../../services/dispatcher/src/transports/php-json.js";
import { queueTask, renderCall } from "../../../../services/dispatcher/src/transports/render.js";
import type { Roles } from "../cpu.js";
import { type Measurement, measureHttp } from "../load.js";
import { resetProvider } from "./provider.js";

/**
 * The provider's own ceiling: the exact Queue task body the dispatcher sends for an SMS, POSTed to
 * `/task` by the load generator over 32 connections.
 */
export function measureProviderCeiling(
  providerUrl: string,
  options: { seconds: number; warmupSeconds: number; roles: Roles },
): Promise<Measurement> {
  const providers = {
    sms: { url: providerUrl, worker: "sms" },
    call: { url: providerUrl, worker: "sms" },
    email: { url: providerUrl, worker: "email" },
    telegram: { url: providerUrl, worker: "telegram", appToken: "" },
  };
  let n = 0;
  const body = () =>
    phpJsonEncode(
      queueTask(
        renderCall(providers, "sms", String(60_000_000_000 + ++n), { password: "12345", message: "Your OTP is 12345" }),
      ),
    );
  return measureHttp({
    url: providerUrl,
    method: "POST",
    path: "/task",
    body,
    connections: 32,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    roles: options.roles,
  }).finally(() => resetProvider(providerUrl));
}
