/** No connection to RabbitMQ right now; the outbox keeps the event until there is one. */
export class BrokerUnavailableError extends Error {
  override readonly name = "BrokerUnavailableError";
}

/** The broker did not confirm in time, nacked, or could not route the message. */
export class PublishFailedError extends Error {
  override readonly name: string = "PublishFailedError";
}

/** A publish RabbitMQ returned as unroutable: no queue is bound to where it was sent (deleted?). */
export class UnroutableError extends PublishFailedError {
  override readonly name = "UnroutableError";
}
