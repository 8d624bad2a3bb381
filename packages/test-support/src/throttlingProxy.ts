import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Where to listen or connect: a TCP port (on `host`, default 127.0.0.1) or a Unix socket path. */
export type Endpoint = { readonly host?: string; readonly port: number } | { readonly path: string };

export interface LinkOptions {
  /** Octets per second in each direction; default unlimited. */
  readonly bytesPerSecond?: number;
  /** Added one-way delay, in ms; default 0. */
  readonly latencyMs?: number;
}

export interface ThrottlingProxyOptions extends LinkOptions {
  /** The real server. */
  readonly target: Endpoint;
  /** Where the proxy listens; default TCP 127.0.0.1 on a free port. */
  readonly listen?: Endpoint;
}

export interface ThrottlingProxy {
  /** Where clients connect: `{ host, port }` or `{ path }`. */
  readonly endpoint: Endpoint;
  /** `host:port` or the socket path, for the bindings' address options. */
  readonly address: string;
  /** Octets delivered so far: client → server (`up`) and server → client (`down`). */
  readonly forwarded: { up: number; down: number };
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections whose server side is open now (the proxy sees a server's close even during a stall). */
  readonly open: number;
  /**
   * Stop moving octets on every connection (open ones and new ones) until `resume()`: each peer sees a silent
   * connection, and a close by either side reaches the other only once the link resumes.
   */
  stall(): void;
  resume(): void;
  /** Abruptly close every open connection, both sides (a cut cable). */
  cut(): void;
  /** Resolves once `open` is at most `count` (e.g. 0: the server dropped every stalled connection). */
  whenOpenAtMost(count: number): Promise<void>;
  /** Resolves once at least `octets` were delivered in that direction. */
  whenForwarded(direction: 'up' | 'down', octets: number): Promise<void>;
  close(): Promise<void>;
}

/** Octets a direction holds (queued or "on the wire") before it stops reading from its source. */
const MIN_BUFFER = 64 * 1024;
/** Largest piece scheduled at once: at 256 KiB/s, 16 KiB is 62 ms of link time. */
const PIECE = 16 * 1024;

/**
 * One direction of a link: octets leave at `bytesPerSecond` (serialised, like a real link) and arrive
 * `latencyMs` later, in order. While stalled nothing is delivered, not even the end of the stream, so both peers
 * see a connection that is open but silent; the source is still read (up to the buffer limit), so that the proxy
 * notices when a peer gives up on the connection. It holds at most a buffer's worth, then pauses its source.
 */
class Direction {
  private linkFreeAt = 0;
  private inTransit = 0;
  private ended = false;
  private readonly queue: Array<{ readonly piece: Buffer; readonly arrivesAt: number }> = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly limit: number;

  public constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly options: LinkOptions,
    private readonly isStalled: () => boolean,
    private readonly onDelivered: (octets: number) => void,
  ) {
    const rate = options.bytesPerSecond ?? Infinity;
    this.limit = Math.max(
      MIN_BUFFER,
      Number.isFinite(rate) ? Math.ceil((rate * ((options.latencyMs ?? 0) + 100)) / 1000) : 0,
    );
    from.on('data', (chunk: Buffer) => this.accept(chunk));
    // A source that closes (gracefully or not) ends the other side once what it sent has been delivered.
    from.on('close', () => {
      this.ended = true;
      this.flush();
    });
  }

  /** After a stall: deliver what is due, and read again. */
  public resume(): void {
    this.flush();
    this.updateFlow();
  }

  public stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private accept(chunk: Buffer): void {
    const rate = this.options.bytesPerSecond;
    const now = Date.now();
    for (let offset = 0; offset < chunk.length; offset += PIECE) {
      const piece = chunk.subarray(offset, offset + PIECE);
      const leaves = rate ? Math.max(now, this.linkFreeAt) + (piece.length * 1000) / rate : now;
      this.linkFreeAt = leaves;
      this.inTransit += piece.length;
      this.queue.push({ piece, arrivesAt: leaves + (this.options.latencyMs ?? 0) });
    }
    this.updateFlow();
    this.flush();
  }

  /** Deliver every piece that is due (unless stalled), then wait for the next one. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.isStalled()) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].arrivesAt <= now) {
      const { piece } = this.queue.shift()!;
      this.inTransit -= piece.length;
      if (!this.to.destroyed) {
        this.to.write(piece);
        this.onDelivered(piece.length);
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), Math.max(1, this.queue[0].arrivesAt - now));
    } else if (this.ended && !this.to.destroyed) {
      this.to.end();
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.from.destroyed) return;
    if (this.inTransit >= this.limit) this.from.pause();
    else this.from.resume();
  }
}

/**
 * A TCP or Unix-socket proxy between a test's client and server that behaves like a bad link: limited
 * bandwidth, added latency, stalls (open but silent) and cut-offs. Each direction is shaped on its own.
 */
export async function startThrottlingProxy(options: ThrottlingProxyOptions): Promise<ThrottlingProxy> {
  let stalled = false;
  let accepted = 0;
  const forwarded = { up: 0, down: 0 };
  const links = new Set<{ client: Socket; server: Socket; directions: Direction[] }>();
  const serverSideOpen = () => [...links].filter((link) => !link.server.destroyed).length;
  // Checks re-run whenever a connection closes or octets are delivered; each removes itself once satisfied.
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const check of [...waiters]) check();
  };
  const whenTrue = (condition: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!condition()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });

  const server: Server = createServer((client) => {
    accepted++;
    const upstream =
      'path' in options.target
        ? createConnection(options.target.path)
        : createConnection(options.target.port, options.target.host ?? '127.0.0.1');
    const link = {
      client,
      server: upstream,
      directions: [
        new Direction(
          client,
          upstream,
          options,
          () => stalled,
          (n) => {
            forwarded.up += n;
            notify();
          },
        ),
        new Direction(
          upstream,
          client,
          options,
          () => stalled,
          (n) => {
            forwarded.down += n;
            notify();
          },
        ),
      ],
    };
    links.add(link);
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined); // a reset is one way a connection ends; 'close' follows
      socket.on('close', () => {
        if (client.destroyed && upstream.destroyed && links.delete(link)) {
          for (const direction of link.directions) direction.stop();
        }
        notify();
      });
    }
  });
  const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
  if ('path' in listen) server.listen(listen.path);
  else server.listen(listen.port, listen.host ?? '127.0.0.1');
  await once(server, 'listening');
  const bound = server.address();
  const endpoint: Endpoint =
    'path' in listen
      ? { path: listen.path }
      : { host: listen.host ?? '127.0.0.1', port: typeof bound === 'object' && bound ? bound.port : 0 };

  return {
    endpoint,
    address: 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`,
    forwarded,
    get accepted() {
      return accepted;
    },
    get open() {
      return serverSideOpen();
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const link of links) for (const direction of link.directions) direction.resume();
    },
    cut() {
      for (const link of [...links]) {
        link.client.destroy();
        link.server.destroy();
      }
    },
    whenOpenAtMost: (count) => whenTrue(() => serverSideOpen() <= count),
    whenForwarded: (direction, octets) => whenTrue(() => forwarded[direction] >= octets),
    async close() {
      for (const link of [...links]) {
        link.client.destroy();
        link.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
