import { CHANNELS, type Channel } from "./channels.js";
import { WEBHOOK_ROUTE } from "./lifecycle.js";

/**
 * What a dispatcher can consume (DISPATCHER_CHANNELS): the four OTP channels and the webhooks of the
 * verification lifecycle, each on a work queue of its own (docs/delivery.md, "Queues"), so that a
 * receiver that is down never holds up a code.
 */
export const DISPATCH_ROUTES = [...CHANNELS, WEBHOOK_ROUTE] as const;
export type DispatchRoute = Channel | typeof WEBHOOK_ROUTE;

/** True for the four OTP channels, false for the webhook route. */
export function isOtpChannel(route: DispatchRoute): route is Channel {
  return route !== WEBHOOK_ROUTE;
}
