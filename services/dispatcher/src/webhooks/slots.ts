/**
 * How many attempts to one subscription a dispatcher has in flight, each subscription at most
 * `perSubscription` (docs/webhooks.md, "Its own queue"): a receiver that answers slowly, or not
 * at all until the timeout, then holds that many of the webhooks' prefetch slots, not all of
 * them, and the other subscriptions' webhooks go on beside it. A webhook that finds its
 * subscription's slots taken is put back, its attempt not counted, after a delay that doubles with
 * each time in a row (handle-webhook.ts).
 */
export class SubscriptionSlots {
  readonly #busy = new Map<string, number>();

  constructor(readonly perSubscription: number) {
    if (!(perSubscription >= 1)) throw new Error(`perSubscription must be at least 1, got ${perSubscription}`);
  }

  /** Takes a slot of `subscription`; false when all of its slots are taken. */
  tryTake(subscription: string): boolean {
    const busy = this.#busy.get(subscription) ?? 0;
    if (busy >= this.perSubscription) return false;
    this.#busy.set(subscription, busy + 1);
    return true;
  }

  /** Gives back a slot taken with {@link tryTake}. */
  give(subscription: string): void {
    const busy = (this.#busy.get(subscription) ?? 0) - 1;
    if (busy > 0) this.#busy.set(subscription, busy);
    else this.#busy.delete(subscription);
  }

  /** A quarter of the prefetch, at least one: what one subscription may hold of a dispatcher's. */
  static forPrefetch(prefetch: number): SubscriptionSlots {
    return new SubscriptionSlots(Math.max(1, Math.ceil(prefetch / 4)));
  }
}
