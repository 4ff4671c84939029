import http from "node:http";
import https from "node:https";
import { createSigner, type PolicyChannel, type PresendHookConfig, publicOnlyLookup } from "@otp/contracts";

/**
 * The pre-send hook (docs/policy.md, "The pre-send hook"): a POST of `{channel, target, country,
 * prefix, ip}`, signed the Standard Webhooks way, answered `{"action": "allow" | "deny"}` within
 * the timeout. The one place a full target leaves the service, so neither the body nor the number
 * is ever logged, put in a metric or in an error: a failure is told by its kind only.
 */

export interface HookRequest {
  readonly channel: PolicyChannel;
  readonly target: string;
  readonly country: string;
  readonly prefix: string;
  readonly ip: string | null;
}

/** `timeout`, `error` (network, non-2xx) and `invalid` (an answer that is neither allow nor deny) are failures. */
export type HookResult = "allow" | "deny" | "timeout" | "error" | "invalid";

export interface PresendHook {
  readonly fail: PresendHookConfig["fail"];
  ask(request: HookRequest): Promise<HookResult>;
}

/** The longest answer read: `{"action": "allow"}` and whatever a risk engine adds. */
const MAX_ANSWER_BYTES = 16 * 1024;

export function createPresendHook(config: PresendHookConfig): PresendHook {
  const url = new URL(config.url);
  const client = url.protocol === "https:" ? https : http;
  const agent = new client.Agent({
    keepAlive: true,
    ...(config.allowPrivate ? {} : { lookup: publicOnlyLookup }),
  });
  const signer = createSigner(config.secret);
  return {
    fail: config.fail,
    ask(request) {
      const body = JSON.stringify(request);
      const headers = { "content-type": "application/json", ...signer.sign(body) };
      return new Promise<HookResult>((resolve) => {
        const req = client.request(url, { method: "POST", headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) req.destroy();
            else chunks.push(chunk);
          });
          res.on("end", () => {
            const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
            resolve(ok ? actionOf(Buffer.concat(chunks).toString("utf8")) : "error");
          });
          res.on("error", () => resolve("error"));
        });
        const timer = setTimeout(() => {
          resolve("timeout");
          req.destroy();
        }, config.timeoutMs);
        req.on("error", () => resolve("error"));
        req.on("close", () => clearTimeout(timer));
        req.end(body);
      });
    },
  };
}

function actionOf(text: string): HookResult {
  try {
    const action = (JSON.parse(text) as { action?: unknown } | null)?.action;
    return action === "allow" || action === "deny" ? action : "invalid";
  } catch {
    return "invalid";
  }
}
