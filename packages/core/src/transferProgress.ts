import type { Socket } from 'node:net';

const sent = new WeakMap<Socket, { written: number; backlog: number; drained: number }>();

/**
 * A count of the octets the peer took from `socket` so far, both directions: what we read, plus what the peer
 * drained of our outgoing backlog.
 *
 * Writing is not progress in itself: the kernel takes small writes (our own pings) into its buffer whether or
 * not the peer reads anything, so they would keep a dead peer "alive". Only while a backlog waits (the kernel
 * buffer is full) does each octet it accepts mean the peer consumed one. `bytesWritten` cannot tell: it counts
 * what was queued, and a single 8 MiB write stays "in progress" until its last octet leaves; libuv's write
 * queue shrinks as the kernel takes the data, so dispatched minus still-queued is what actually left. Those
 * two fields are Node internals; without them completed writes are used (coarser: a large write shows no
 * progress until it is done). Meant to be sampled by one ProgressWatchdog per socket.
 */
export function socketProgress(socket: Socket): number {
  const internals = socket as unknown as { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null };
  const dispatched = internals._bytesDispatched;
  const queued = internals._handle?.writeQueueSize;
  const queuedTotal = socket.bytesWritten ?? 0;
  const written =
    typeof dispatched === 'number' && typeof queued === 'number'
      ? dispatched - queued
      : queuedTotal - socket.writableLength;
  const backlog = queuedTotal - written;
  let state = sent.get(socket);
  if (!state) {
    state = { written, backlog, drained: 0 };
    sent.set(socket, state);
  } else {
    if (state.backlog > 0) state.drained += Math.max(0, written - state.written);
    state.written = written;
    state.backlog = backlog;
  }
  return socket.bytesRead + state.drained;
}

export interface ProgressWatchdogOptions {
  /** How long without progress counts as idle. */
  readonly idleMs: number;
  /** A number that changes whenever octets move (e.g. `socketProgress`); sampled, never subscribed to. */
  readonly progress: () => number;
  /** Called once, when nothing moved for `idleMs` (`idleForMs` is the measured silence). */
  readonly onIdle: (idleForMs: number) => void;
}

/**
 * Detects a transfer that stopped moving, however long it takes in total: a slow link that keeps delivering
 * octets is never idle, a peer that stops mid-message is, after `idleMs`.
 *
 * Two things keep it from blaming the peer for this process's own slowness. When the check runs, octets that
 * arrived while the event loop was blocked are still unread in the kernel: the verdict waits for one more poll
 * phase (setImmediate) before deciding. And when a check runs much later than scheduled, this process was not
 * running; that gap is not counted as the peer's silence.
 */
export class ProgressWatchdog {
  private readonly checkEveryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private confirming: NodeJS.Immediate | null = null;
  private lastSample = 0;
  private lastProgressAt = 0;
  private lastCheckAt = 0;
  private paused = 0;
  private stopped = false;

  public constructor(private readonly options: ProgressWatchdogOptions) {
    this.checkEveryMs = Math.max(5, Math.floor(options.idleMs / 4));
    this.restart();
  }

  /** Suspend detection while the local side is busy (e.g. storing): the peer is waiting on us. Nestable. */
  public pause(): void {
    this.paused++;
    this.clear();
  }

  public resume(): void {
    if (this.paused > 0) this.paused--;
    if (this.paused === 0) this.restart();
  }

  /** Progress this side observed some other way (e.g. a complete message decoded). */
  public touch(): void {
    this.lastProgressAt = Date.now();
  }

  public stop(): void {
    this.stopped = true;
    this.clear();
  }

  private restart(): void {
    this.clear();
    if (this.stopped || this.paused > 0 || !(this.options.idleMs > 0)) return;
    const now = Date.now();
    this.lastSample = this.options.progress();
    this.lastProgressAt = now;
    this.lastCheckAt = now;
    this.timer = setInterval(() => this.check(), this.checkEveryMs);
    this.timer.unref();
  }

  private check(): void {
    const now = Date.now();
    const late = now - this.lastCheckAt - this.checkEveryMs;
    this.lastCheckAt = now;
    if (late > this.checkEveryMs) this.lastProgressAt += late;
    if (this.sampleMoved(now) || now - this.lastProgressAt < this.options.idleMs || this.confirming) return;
    this.confirming = setImmediate(() => {
      this.confirming = null;
      if (this.stopped || this.paused > 0 || this.sampleMoved(Date.now())) return;
      const idleFor = Date.now() - this.lastProgressAt;
      this.stop();
      this.options.onIdle(idleFor);
    });
  }

  private sampleMoved(now: number): boolean {
    const sample = this.options.progress();
    if (sample === this.lastSample) return false;
    this.lastSample = sample;
    this.lastProgressAt = now;
    return true;
  }

  private clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.confirming) clearImmediate(this.confirming);
    this.confirming = null;
  }
}
