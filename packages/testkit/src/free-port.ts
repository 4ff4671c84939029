import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1, asked from the kernel and released for a child process to take.
 * (Another process could take it in between; on a test machine that has not been seen to matter.)
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no TCP port")),
      );
    });
  });
}
