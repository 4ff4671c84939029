import type { Topology } from "@otp/broker";
import type { ConfirmChannel, GetMessage, Options } from "amqplib";

/**
 * Puts dead letters that were read but not replayed back in the dead-letter queue as fresh copies,
 * confirmed, then removes the letters read — rather than letting the channel's close return them.
 * A quorum queue counts every return as a delivery, and from RabbitMQ 4.0 drops a message past its
 * delivery limit (20 by default) when, like the dead-letter queue, it has nowhere to dead-letter it:
 * twenty `dlq list` runs would have emptied it (docs/delivery.md, "Retries, expiry and the
 * dead-letter queue"). A copy is the letter as it was (body, id, headers and their `x-death`), queued
 * behind the letters not yet read. Should the process die between the copies' confirm and the
 * acks, a letter is there twice, never lost. Throws, acking nothing, when a copy is not confirmed
 * or cannot be routed (the queue deleted meanwhile): the channel's close then returns the letters.
 */
export async function giveBack(ch: ConfirmChannel, t: Topology, letters: readonly GetMessage[]): Promise<void> {
  if (letters.length === 0) return;
  let returned = false;
  const onReturn = () => {
    returned = true;
  };
  ch.on("return", onReturn);
  try {
    for (const letter of letters) ch.publish("", t.deadQueue, letter.content, copyOptions(letter));
    await ch.waitForConfirms();
  } finally {
    ch.off("return", onReturn);
  }
  if (returned) throw new Error(`the dead-letter queue ${t.deadQueue} took no copy (deleted?): nothing removed`);
  for (const letter of letters) ch.ack(letter);
}

/** The letter's properties, but those RabbitMQ checks or sets itself (user, delivery count). */
function copyOptions({ properties }: GetMessage): Options.Publish {
  const { userId: _user, clusterId: _cluster, headers = {}, ...rest } = properties;
  const { "x-delivery-count": _count, ...kept } = headers as Record<string, unknown>;
  const options: Record<string, unknown> = { ...rest, headers: kept, persistent: true, mandatory: true };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as Options.Publish;
}
