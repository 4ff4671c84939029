import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy a test can cut and restore: put it between a service and RabbitMQ (or PostgreSQL)
 * to make that dependency "go down" for this one service, without disturbing the real server that
 * other test files share. `cut()` drops every connection and refuses new ones until `restore()`.
 */
export class TcpProxy {
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  #blackholed = false;
  #holdingReplies = false;
  /** The server-to-client half of each proxied connection, for holdReplies(). */
  readonly #replies = new Map<Socket, Socket>();
  #holdingRequests = false;
  /** The client-to-server half of each proxied connection, for holdRequests(). */
  readonly #requests = new Map<Socket, Socket>();
  #accepted = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  /** Listens on an ephemeral port (or the port it had before a cut); resolves with it. */
  async start(): Promise<number> {
    const server = createServer((client) => {
      this.#accepted++;
      if (this.#blackholed) {
        this.#swallow(client);
        return;
      }
      const upstream = connect(this.#targetPort, this.#targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      this.#requests.set(client, upstream);
      client.on("close", () => this.#requests.delete(client));
      if (!this.#holdingRequests) client.pipe(upstream);
      this.#replies.set(upstream, client);
      upstream.on("close", () => this.#replies.delete(upstream));
      if (!this.#holdingReplies) upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no TCP address");
    this.#port = address.port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** How many client connections the proxy has accepted so far (a reconnect loop shows up here). */
  get accepted(): number {
    return this.#accepted;
  }

  /**
   * Keeps every connection open and accepts new ones, but passes no byte either way: a broker that
   * hangs, or a network that drops packets, which a client only notices by its own timeouts (unlike
   * `cut()`, whose refusal it sees at once). `restore()` or `cut()` ends it.
   */
  blackhole(): void {
    this.#blackholed = true;
    for (const s of this.#sockets) {
      s.unpipe();
      this.#swallow(s);
    }
  }

  /**
   * Holds back what the server sends (on open connections and new ones) while what the client sends
   * still passes: the server sees every request, the client gets no answer, until releaseReplies().
   * For RabbitMQ, a publisher's messages reach their queue while their confirms wait here.
   */
  holdReplies(): void {
    this.#holdingReplies = true;
    holdAll(this.#replies);
  }

  /** Passes on what holdReplies() held back, and everything after it. */
  releaseReplies(): void {
    this.#holdingReplies = false;
    releaseAll(this.#replies);
  }

  /**
   * Stops reading what the client sends (on open connections and new ones) while what the server
   * sends still passes: a server that stops reading its socket, as RabbitMQ's flow control does,
   * while its heartbeats keep the connection up. The client's writes back up until releaseRequests().
   */
  holdRequests(): void {
    this.#holdingRequests = true;
    holdAll(this.#requests);
  }

  /** Passes on what holdRequests() held back, and everything after it. */
  releaseRequests(): void {
    this.#holdingRequests = false;
    releaseAll(this.#requests);
  }

  /** Reads and drops whatever arrives, so the peer's writes neither fail nor back up. */
  #swallow(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.removeAllListeners("data");
    socket.on("data", () => {});
    socket.resume();
  }

  /** Drops every open connection and stops accepting new ones. */
  async cut(): Promise<void> {
    this.#blackholed = false;
    this.#holdingReplies = false;
    this.#holdingRequests = false;
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts connections again, on the same port (after a blackhole, once its connections are dropped). */
  async restore(): Promise<void> {
    if (this.#blackholed) await this.cut();
    if (!this.#server) await this.start();
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** Stops each source (a key) passing on to its destination: nothing more is read from it. */
function holdAll(pipes: ReadonlyMap<Socket, Socket>): void {
  for (const [from, to] of pipes) {
    from.unpipe(to);
    from.pause();
  }
}

/** Pipes each source to its destination again, what it held back first. */
function releaseAll(pipes: ReadonlyMap<Socket, Socket>): void {
  for (const [from, to] of pipes) from.pipe(to);
}
