/**
 * Helpers for the `*.flood.spec.ts` tests: many concurrent bad connections against a server (Unix
 * socket or TCP, optionally TLS), each with one misbehaviour, and the resident memory of a process.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type FloodTarget =
  { readonly path: string } | { readonly host: string; readonly port: number; readonly tls?: boolean };

/**
 * One misbehaviour: what to write at once, then optionally what to drip one octet at a time
 * (slowloris). The socket is never ended by the flooder: only the server can end it.
 */
export interface Misbehaviour {
  readonly name: string;
  readonly burst: () => Buffer;
  readonly drip?: () => Buffer;
}

export interface FloodStats {
  readonly opened: number;
  /** Connections established and not closed yet. */
  readonly open: number;
  /** Connections the server ended or destroyed while the flood ran. */
  readonly closedByServer: number;
  /** Connections refused or reset before they were established. */
  readonly failed: number;
}

export interface Flood {
  stats(): FloodStats;
  /** Destroy every connection the server has not closed; resolves when all are gone. */
  stop(): Promise<void>;
}

/** Arbitrary octets, never a valid frame of anything in particular. */
export const garbage: Misbehaviour = { name: 'garbage', burst: () => randomBytes(4096) };

const DRIP_INTERVAL_MS = 200;

/** Connects and says nothing: it only holds a slot (the cheapest flood there is). */
export const silent: Misbehaviour = { name: 'silent', burst: () => Buffer.alloc(0) };

export interface FloodOptions {
  /**
   * Open a connection again this long after each close (by the server or refused), as a determined flooder
   * does; by default a closed connection stays closed.
   */
  readonly reconnectAfterMs?: number;
}

/**
 * Open `count` connections to `target`, cycling through `behaviours`. Connections are opened at
 * once (all concurrent) and kept open until the server closes them or `stop()` is called.
 */
export function startFlood(
  target: FloodTarget,
  count: number,
  behaviours: readonly Misbehaviour[],
  options: FloodOptions = {},
): Flood {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let opened = 0;
  let open = 0;
  let closedByServer = 0;
  let failed = 0;
  let stopping = false;
  const tls = 'tls' in target && target.tls === true;

  const later = (ms: number, action: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  const connect = (behaviour: Misbehaviour) => {
    const socket: Socket =
      'path' in target
        ? netConnect({ path: target.path })
        : tls
          ? tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false, ALPNProtocols: ['h2'] })
          : netConnect({ host: target.host, port: target.port });
    sockets.add(socket);
    let established = false;
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      established = true;
      opened++;
      open++;
      socket.write(behaviour.burst());
      const drip = behaviour.drip?.();
      if (drip) {
        let offset = 0;
        const timer = setInterval(() => {
          if (offset >= drip.length || socket.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
            return;
          }
          socket.write(drip.subarray(offset, offset + 1));
          offset++;
        }, DRIP_INTERVAL_MS);
        timers.add(timer);
      }
    });
    socket.on('data', () => undefined); // read (and drop) whatever the server answers
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      if (established) open--;
      else failed++;
      if (stopping) return;
      if (established) closedByServer++;
      if (options.reconnectAfterMs !== undefined) later(options.reconnectAfterMs, () => connect(behaviour));
    });
  };

  for (let i = 0; i < count; i++) connect(behaviours[i % behaviours.length]);

  return {
    stats: () => ({ opened, open, closedByServer, failed }),
    stop: async () => {
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      const closing = [...sockets].map(
        (socket) =>
          new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve()))),
      );
      for (const socket of sockets) socket.destroy();
      await Promise.all(closing);
    },
  };
}

/** Resident set size of a process, in octets (Linux /proc). */
export function residentSetSize(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** True while the process exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
