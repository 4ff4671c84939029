import type { LookupAddress } from "node:dns";
import { isPublicAddress, literalAddress, resolveAddresses, webhookUrlProblem } from "@otp/contracts";

/** How long a subscription's host name may take to resolve before it is judged without it. */
const RESOLVE_TIMEOUT_MS = 2_000;

/**
 * What is wrong with a webhook URL, or undefined (docs/lifecycle.md, "Webhook subscriptions"):
 * the rules of `webhookUrlProblem`, and, unless `allowPrivate`, a host name that resolves to a
 * loopback, private, link-local or unique-local address. A name that does not resolve now is
 * accepted: DNS answers change, so the dispatcher checks the addresses again at every send.
 */
export async function webhookUrlRefusal(value: string, allowPrivate: boolean): Promise<string | undefined> {
  const problem = webhookUrlProblem(value, allowPrivate);
  if (problem || allowPrivate) return problem;
  const host = new URL(value).hostname;
  if (literalAddress(host) !== undefined) return undefined;
  const addresses = await resolve(host);
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  // Not which address: the answer would tell a caller what internal names resolve to.
  return refused && `${host} resolves to an address that is not public`;
}

/** The host's addresses as DNS gives them (resolveAddresses: no thread held), none after RESOLVE_TIMEOUT_MS. */
function resolve(host: string): Promise<LookupAddress[]> {
  const late = new Promise<LookupAddress[]>((done) => setTimeout(() => done([]), RESOLVE_TIMEOUT_MS).unref());
  return Promise.race([resolveAddresses(host).catch((): LookupAddress[] => []), late]);
}
