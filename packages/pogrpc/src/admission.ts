/**
 * Which TCP connections a gRPC binding server (PogRPC, CogRPC) keeps when it is full. A connection is *pending*
 * from the moment it is accepted until it starts a call (TLS handshake, HTTP/2 preface and the call's headers all
 * done), and *calling* afterwards. Pending connections cost an attacker nothing (a silent TCP connection is
 * enough), so they must not be able to take the slots a real peer needs:
 * - a pending connection has `handshakeTimeoutMs` to start its call, counted from the accept, whatever it
 *   sends meanwhile (a drip resets no timer);
 * - at the cap, a new connection is admitted and the pending connection that has been quiet the longest is
 *   closed to make room. A real peer in the middle of its handshake keeps exchanging octets, so it is never
 *   the quietest for long; silent or stalled ones are. Only when every slot is held by a calling connection
 *   is the new one refused.
 * Unix-socket connections (owner-only, 0600) are trusted: counted, never evicted, no deadline.
 */
import type { Socket } from 'node:net';
import { type Logger } from '@twitter-relaynet/core';

export interface ConnectionAdmissionOptions {
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
  /** Binding name used in log lines, e.g. `PogRPC`. */
  readonly label: string;
  /** Unix-socket servers: the socket file is owner-only, so every connection keeps its slot. */
  readonly trustEveryConnection?: boolean;
  /** How often shed connections are summed up in the log (one line per period at most). */
  readonly logEveryMs?: number;
}

interface PendingConnection {
  readonly peer: string;
  readonly socket: Socket;
  /** `socket.bytesRead` when last looked at, and when it last changed. */
  bytesRead: number;
  quietSince: number;
  readonly deadline: NodeJS.Timeout;
}

interface ShedCounts {
  evicted: number;
  refused: number;
  handshakeTimedOut: number;
}

export class ConnectionAdmission {
  private readonly open = new Set<Socket>();
  /** By peer, `address:port` as grpc-js's `getPeer()` spells it (unique among open TCP connections). */
  private readonly pending = new Map<string, PendingConnection>();
  private shed: ShedCounts = { evicted: 0, refused: 0, handshakeTimedOut: 0 };
  private logTimer: NodeJS.Timeout | null = null;

  public constructor(private readonly options: ConnectionAdmissionOptions) {}

  /** Take a new connection, making room if needed; false if it was refused (and destroyed). */
  public admit(socket: Socket): boolean {
    const peer = this.options.trustEveryConnection ? null : peerOf(socket);
    if (peer === null && !this.options.trustEveryConnection) {
      socket.destroy(); // reset before we got to it: no address left
      return false;
    }
    if (this.open.size >= this.options.maxConnections && !this.evictQuietest()) {
      this.count('refused');
      socket.destroy();
      return false;
    }
    this.open.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      const entry = peer === null ? undefined : this.pending.get(peer);
      if (entry?.socket === socket) this.forget(entry);
    });
    if (peer === null) return true;
    const deadline = setTimeout(() => {
      this.count('handshakeTimedOut');
      socket.destroy();
    }, this.options.handshakeTimeoutMs);
    deadline.unref();
    this.pending.set(peer, { peer, socket, bytesRead: socket.bytesRead, quietSince: Date.now(), deadline });
    return true;
  }

  /** A call started on the connection of `peer` (grpc-js `call.getPeer()`): it now keeps its slot. */
  public callStarted(peer: string): void {
    const entry = this.pending.get(peer);
    if (entry) this.forget(entry);
  }

  public close(): void {
    for (const entry of this.pending.values()) this.forget(entry);
    if (this.logTimer) clearTimeout(this.logTimer);
    this.logTimer = null;
  }

  private forget(entry: PendingConnection): void {
    clearTimeout(entry.deadline);
    this.pending.delete(entry.peer);
  }

  /** Close the pending connection quiet for the longest; false if there is none. */
  private evictQuietest(): boolean {
    const now = Date.now();
    let quietest: PendingConnection | null = null;
    // `bytesRead` moves even while TLS and HTTP/2 consume the socket natively (no 'data' events to listen to),
    // so activity is sampled here; a new connection at the cap triggers a scan of at most maxConnections entries.
    for (const entry of this.pending.values()) {
      if (entry.socket.bytesRead !== entry.bytesRead) {
        entry.bytesRead = entry.socket.bytesRead;
        entry.quietSince = now;
      }
      if (!quietest || entry.quietSince < quietest.quietSince) quietest = entry;
    }
    if (!quietest) return false;
    this.count('evicted');
    quietest.socket.destroy();
    // Its 'close' comes later: free the slot now, or a burst of arrivals would all count it as open.
    this.open.delete(quietest.socket);
    this.forget(quietest);
    return true;
  }

  /** Shed connections are logged in batches, so that a flood of connections is not a flood of log lines. */
  private count(kind: keyof ShedCounts): void {
    this.shed[kind]++;
    this.logTimer ??= setTimeout(() => {
      this.logTimer = null;
      const shed = this.shed;
      this.shed = { evicted: 0, refused: 0, handshakeTimedOut: 0 };
      const fields = {
        ...shed,
        maxConnections: this.options.maxConnections,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      };
      this.options.logger.warn(
        fields,
        `${this.options.label} connections shed: evicted (quietest pending, to make room), refused (every slot held by a call) or ` +
          'closed for not starting a call in time',
      );
    }, this.options.logEveryMs ?? 1_000);
    this.logTimer.unref();
  }
}

/** `address:port` as grpc-js names a call's peer; null for Unix sockets. */
function peerOf(socket: Socket): string | null {
  return socket.remoteAddress && socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : null;
}
