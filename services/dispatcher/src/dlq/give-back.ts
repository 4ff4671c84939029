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
 * acks, a letter is there twice, never lost.
 *
 * Best effort: when the copies are not all confirmed within CONFIRM_WAIT_MS (a resource alarm
 * blocks the connection; a quorum queue without its majority) or cannot be routed (the queue
 * deleted meanwhile), nothing is acked and the letters go back as the channel closes, as they did
 * before copies — one delivery counted each. The command never waits out an alarm.
 */
export async function giveBack(ch: ConfirmChannel, t: Topology, letters: readonly GetMessage[]): Promise<boolean> {
  if (letters.length === 0) return true;
  let returned = false;
  const onReturn = () => {
    returned = true;
  };
  ch.on("return", onReturn);
  let timer: NodeJS.Timeout | undefined;
  try {
    for (const letter of letters) ch.publish("", t.deadQueue, letter.content, copyOptions(letter));
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), CONFIRM_WAIT_MS);
    });
    // Settled either way, so that a wait given up on cannot reject unhandled when the channel closes.
    const confirmed = ch.waitForConfirms().then(
      () => "confirmed" as const,
      () => "nacked" as const, // or the channel closed
    );
    if ((await Promise.race([confirmed, timedOut])) !== "confirmed" || returned) return false;
  } finally {
    clearTimeout(timer);
    ch.off("return", onReturn);
  }
  for (const letter of letters) ch.ack(letter);
  return true;
}

/** How long the copies' confirms are waited for before the letters are left to the channel's close. */
const CONFIRM_WAIT_MS = 10_000;

/** The letter's properties, but those RabbitMQ checks or sets itself (user, delivery count). */
function copyOptions({ properties }: GetMessage): Options.Publish {
  const { userId: _user, clusterId: _cluster, headers = {}, ...rest } = properties;
  const { "x-delivery-count": _count, ...kept } = headers as Record<string, unknown>;
  const options: Record<string, unknown> = { ...rest, headers: kept, persistent: true, mandatory: true };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as Options.Publish;
}
