import { randomBytes } from "node:crypto";

/**
 * Fresh random nonces of `size` bytes for the check's blinded comparison (docs/security.md,
 * "Constant-time comparison"), cut from a block of `batch` drawn at once: one call into the
 * random generator per `batch` checks instead of per check (it was 5 % of the API's time per
 * check). Every nonce is used once: a block is never refilled, a new one is drawn.
 */
export function nonceSource(size = 16, batch = 256): () => Buffer {
  let block = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset + size > block.length) {
      block = randomBytes(size * batch);
      offset = 0;
    }
    const nonce = block.subarray(offset, offset + size);
    offset += size;
    return nonce;
  };
}
