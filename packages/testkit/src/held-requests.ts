import type { ServerResponse } from "node:http";

/** Requests the recording provider holds open, unanswered, until they are released (or their client goes). */
export class HeldRequests {
  /** Each resolves its request's wait with true when called. */
  readonly #held = new Set<() => void>();

  get size(): number {
    return this.#held.size;
  }

  /** Resolves true once released, false if the connection closed first. */
  wait(res: ServerResponse): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const answer = () => resolve(true);
      this.#held.add(answer);
      res.on("close", () => {
        this.#held.delete(answer);
        resolve(false);
      });
    });
  }

  /** Lets every request held now go on to its answer. */
  releaseAll(): void {
    const held = [...this.#held];
    this.#held.clear();
    for (const answer of held) answer();
  }
}
