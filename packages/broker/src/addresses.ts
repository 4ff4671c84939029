/**
 * The addresses of RABBITMQ_URL in the order a ManagedConnection tries them: one attempt each,
 * round and round. Whatever becomes of an attempt (it fails, or connects and is later lost), the
 * next goes to the next address, so a node that just failed is tried last; and the loop backs off
 * only once every address has failed in a row.
 */
export class AddressRotation {
  readonly #urls: readonly string[];
  #next = 0;
  #failedInARow = 0;

  constructor(url: string | readonly string[]) {
    this.#urls = typeof url === "string" ? [url] : [...url];
    if (this.#urls.length === 0) throw new Error("ManagedConnection needs at least one URL");
  }

  /** The address of the next attempt. */
  take(): string {
    const url = this.#urls[this.#next] as string;
    this.#next = (this.#next + 1) % this.#urls.length;
    return url;
  }

  /** An attempt connected: the count of failures in a row starts again. */
  connected(): void {
    this.#failedInARow = 0;
  }

  /** An attempt failed; true when that completes a round of failures through every address. */
  failed(): boolean {
    this.#failedInARow++;
    return this.#failedInARow % this.#urls.length === 0;
  }
}
