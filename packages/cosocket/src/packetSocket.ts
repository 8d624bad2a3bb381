import type { Socket } from 'node:net';

import { ServiceUnavailableError } from '@twitter-relaynet/binding';
import { type Logger, ProgressWatchdog, socketProgress } from '@twitter-relaynet/core';

import { QuitReason, quitReasonName } from './constants';
import { PacketDecoder } from './decoder';
import { CoSocketConnectionClosedError, CoSocketError, CoSocketProtocolError, CoSocketQuitError } from './errors';
import { encodePacket, type Packet } from './packets';
import { PacketTag } from './constants';

/** How long we wait for the peer to close after we quit, before destroying the socket. */
const QUIT_GRACE_MS = 1_000;

export interface PacketSocketOptions {
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly maxMessageLength: number;
  /** Overall lifetime limit; 0 disables it. */
  readonly connectionTimeoutMs?: number;
  readonly logFields?: Record<string, unknown>;
}

/**
 * One RS-004 connection: decodes packets, writes packets with backpressure, enforces idle and overall
 * timeouts and turns
 * every framing violation into a Quit packet with the right reason followed by closing the connection.
 */
export class PacketSocket {
  public readonly closed: Promise<void>;
  /** Set once the connection ended; the error explains why (undefined = clean Quit OK from either side). */
  public closeError: Error | undefined;
  public isClosed = false;
  private readonly decoder: PacketDecoder;
  /**
   * Idle = no octets moved either way, not "no packet": a cargo of megabytes over a slow link takes longer than
   * the idle timeout and must not be cut (then retried, forever). Suspended while the local side is busy (e.g.
   * storing a cargo): the peer is waiting on us then.
   */
  private readonly idleWatchdog: ProgressWatchdog;
  private lifetimeTimer: NodeJS.Timeout | null = null;
  private quitting = false;
  private readonly drainWaiters = new Set<() => void>();

  public constructor(
    public readonly socket: Socket,
    private readonly options: PacketSocketOptions,
    private readonly onPacket: (packet: Packet) => void,
  ) {
    this.decoder = new PacketDecoder({ maxMessageLength: options.maxMessageLength });
    this.idleWatchdog = new ProgressWatchdog({
      idleMs: options.idleTimeoutMs,
      progress: () => socketProgress(socket),
      onIdle: (idleForMs) => this.quit(QuitReason.TIMEOUT, `Peer idle for ${idleForMs} ms (no octet moved either way)`),
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.clearTimers();
        if (!this.closeError && !this.quitting) {
          this.closeError = new CoSocketConnectionClosedError('Connection closed by the peer without a Quit');
        }
        for (const wake of this.drainWaiters) wake();
        resolve();
      });
    });
    socket.on('error', (error) => {
      this.closeError ??= new CoSocketConnectionClosedError(`Socket error: ${error.message}`, { cause: error });
      this.log('warn', { err: error.message }, 'CoSocket connection error');
    });
    socket.on('drain', () => {
      for (const wake of this.drainWaiters) wake();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      if (!this.quitting) {
        const midPacket = this.decoder.midPacket;
        this.closeError ??= new CoSocketConnectionClosedError(
          midPacket ? 'Connection ended in the middle of a packet' : 'Connection ended without a Quit',
        );
        this.log(midPacket ? 'warn' : 'info', {}, this.closeError.message);
      }
      socket.end();
    });
    if (options.connectionTimeoutMs) {
      this.lifetimeTimer = setTimeout(() => {
        this.quit(QuitReason.TIMEOUT, `Connection exceeded its overall timeout of ${options.connectionTimeoutMs} ms`);
      }, options.connectionTimeoutMs);
      this.lifetimeTimer.unref();
    }
  }

  /** True once either side quit or the connection closed: no more packets will be exchanged. */
  public get ending(): boolean {
    return this.quitting || this.isClosed;
  }

  /** Octets held by the decoder for a packet not yet complete. */
  public get decoderBufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /** Run local work (e.g. a store) with the idle timer suspended: the peer is waiting on us, not stalling. */
  public async whileBusy<T>(work: () => Promise<T>): Promise<T> {
    this.idleWatchdog.pause();
    try {
      return await work();
    } finally {
      this.idleWatchdog.resume();
    }
  }

  /** Write a packet; resolves once the socket can take more (backpressure), rejects if the connection is gone. */
  public async send(packet: Packet): Promise<void> {
    if (this.isClosed || this.quitting || this.socket.writableEnded) {
      throw this.closeError ?? new CoSocketConnectionClosedError('Connection is closed');
    }
    const parts = encodePacket(packet);
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
    while (this.socket.writableNeedDrain && !this.isClosed) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.drainWaiters.delete(wake);
          resolve();
        };
        this.drainWaiters.add(wake);
      });
    }
    if (this.isClosed && this.closeError) throw this.closeError;
  }

  /**
   * Send Quit with `reason`, log why, and close. Safe to call repeatedly; only the first call counts.
   */
  public quit(reason: QuitReason, why: string, error?: Error): void {
    if (this.quitting || this.isClosed) return;
    this.quitting = true;
    this.clearTimers();
    const level = reason === QuitReason.OK ? 'info' : reason === QuitReason.INTERNAL_ERROR ? 'error' : 'warn';
    // An outage its owner logs once (ServiceUnavailableError) gets no line per connection.
    if (!(error instanceof ServiceUnavailableError)) {
      this.log(level, { quitReason: quitReasonName(reason) }, `Quitting CoSocket connection: ${why}`);
    }
    if (reason !== QuitReason.OK) {
      this.closeError ??= error ?? new CoSocketProtocolError(why, reason);
    }
    if (!this.socket.writableEnded && !this.socket.destroyed) {
      for (const part of encodePacket({ tag: PacketTag.QUIT, reason })) this.socket.write(part);
      this.socket.end();
    }
    setTimeout(() => this.socket.destroy(), QUIT_GRACE_MS).unref();
  }

  /** Tear the connection down without a Quit. */
  public destroy(error?: Error): void {
    this.closeError ??= error ?? new CoSocketConnectionClosedError('Connection destroyed locally');
    this.quitting = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.quitting) return; // ignore whatever the peer sends after we quit
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (error) {
      if (error instanceof CoSocketProtocolError) {
        this.quit(error.quitReason, error.message, error);
        return;
      }
      throw error;
    }
    for (const packet of packets) {
      if (this.quitting) return;
      if (packet.tag === PacketTag.QUIT) {
        this.handlePeerQuit(packet.reason);
        return;
      }
      try {
        this.onPacket(packet);
      } catch (error) {
        if (error instanceof CoSocketProtocolError) {
          this.quit(error.quitReason, error.message, error);
        } else {
          const err = error instanceof Error ? error : new CoSocketError(String(error));
          this.quit(QuitReason.INTERNAL_ERROR, `Internal error: ${err.message}`, err);
        }
        return;
      }
    }
  }

  private handlePeerQuit(reason: number): void {
    this.quitting = true;
    this.clearTimers();
    if (reason !== QuitReason.OK) this.closeError ??= new CoSocketQuitError(reason);
    this.log(reason === QuitReason.OK ? 'info' : 'warn', { quitReason: quitReasonName(reason) }, 'Peer quit');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), QUIT_GRACE_MS).unref();
  }

  private clearTimers(): void {
    this.idleWatchdog.stop();
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = null;
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    this.options.logger[level]({ ...this.options.logFields, ...fields }, message);
  }
}
