/**
 * Give back the memory of finished work once a daemon goes quiet.
 *
 * V8 frees a dead Buffer's memory only when it collects garbage, and it collects when JavaScript allocates, or when
 * Buffers grow by tens of MiB since the last collection. A relay run leaves a gateway with up to ~60 MiB of dead
 * cargo buffers (made, sent or stored, then dropped); an idle daemon allocates nothing more, so it would keep them
 * for hours. Two collectors, both started by runDaemon: the idle one collects once per quiet spell, when dead Buffers
 * may be worth it; the Buffer-growth one collects while the daemon works too, once Buffers grew 24 MiB since the last
 * collection, so that dead cargo does not pile up to V8's own threshold first.
 */
import { performance } from 'node:perf_hooks';

/** What one check sees of the last interval. */
export interface IdleSample {
  /** Share of the interval the event loop was busy (0–1). */
  readonly utilization: number;
  /** Octets held by ArrayBuffers (Buffers included), live or dead. */
  readonly arrayBufferBytes: number;
}

export interface IdleCollectorOptions {
  /** At or below this event loop utilization over an interval, the daemon is quiet. Default 0.02. */
  readonly maxUtilization?: number;
  /** Collect only when ArrayBuffers hold at least this much (below, nothing worth a full collection). Default 16 MiB. */
  readonly minArrayBufferBytes?: number;
}

const DEFAULT_MAX_UTILIZATION = 0.02;
const DEFAULT_MIN_ARRAY_BUFFER_BYTES = 16 * 1024 * 1024;
/** How often the daemon is looked at: a collection comes this long (to twice this) after work stops. */
export const IDLE_CHECK_INTERVAL_MS = 2_000;

/** The decision alone: feed it a sample per interval; it says when to collect. */
export class IdleCollector {
  private readonly maxUtilization: number;
  private readonly minArrayBufferBytes: number;
  /** Collected in this quiet spell already: live Buffers above the threshold are not collected again and again. */
  private collectedSinceWork = false;

  constructor(options: IdleCollectorOptions = {}) {
    this.maxUtilization = options.maxUtilization ?? DEFAULT_MAX_UTILIZATION;
    this.minArrayBufferBytes = options.minArrayBufferBytes ?? DEFAULT_MIN_ARRAY_BUFFER_BYTES;
  }

  /** Whether to collect now. */
  check(sample: IdleSample): boolean {
    if (sample.utilization > this.maxUtilization) {
      this.collectedSinceWork = false;
      return false;
    }
    if (this.collectedSinceWork || sample.arrayBufferBytes < this.minArrayBufferBytes) return false;
    this.collectedSinceWork = true;
    return true;
  }
}

/**
 * Check every `IDLE_CHECK_INTERVAL_MS` and run `gc` when `IdleCollector` says so. Does nothing without `gc`
 * (node started without --expose-gc, as bin/* start the daemons). The timer does not keep the process alive.
 */
export function startIdleCollector(
  gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc,
  options: IdleCollectorOptions = {},
): { stop(): void } {
  if (!gc) return { stop: () => undefined };
  const collector = new IdleCollector(options);
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    if (collector.check({ utilization, arrayBufferBytes: process.memoryUsage().arrayBuffers })) gc();
  }, IDLE_CHECK_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Busy or not: collect once Buffers have grown by `growthBytes` since the last collection (V8 waits for ~64 MiB of
 * growth, all of it dead cargo in a relay run). A gateway relaying cargo makes and drops three or four ~9 MiB
 * Buffers per cargo; left to V8, up to ~64 MiB of them wait dead for a collection, on top of the live ones, and
 * glibc then keeps that high-water mark resident. Measured from the level the last collection left (the live
 * Buffers), so that a daemon holding many live Buffers is not collected over and over for nothing.
 */
export class BufferGrowthCollector {
  private baseline = 0;

  constructor(private readonly growthBytes: number = DEFAULT_BUFFER_GROWTH_BYTES) {}

  /** Whether to collect now, Buffers holding `arrayBufferBytes`. */
  check(arrayBufferBytes: number): boolean {
    // Buffers freed by V8's own collections lower the baseline too.
    if (arrayBufferBytes < this.baseline) this.baseline = arrayBufferBytes;
    return arrayBufferBytes >= this.baseline + this.growthBytes;
  }

  /** A collection left `arrayBufferBytes`: growth is measured from there. */
  collected(arrayBufferBytes: number): void {
    this.baseline = arrayBufferBytes;
  }
}

/** Two cargoes' worth: one collection per cargo or two at the relay's pace (a few ms each for a daemon's heap). */
const DEFAULT_BUFFER_GROWTH_BYTES = 24 * 1024 * 1024;
/** How often Buffers are looked at while they hold more than the quiet threshold, and when they do not. */
const BUFFER_CHECK_INTERVAL_MS = { busy: 20, quiet: 500 };

/**
 * Check Buffers every `BUFFER_CHECK_INTERVAL_MS` and run a full `gc` when `BufferGrowthCollector` says so. Does
 * nothing without `gc`. The timer does not keep the process alive.
 */
export function startBufferCollector(
  gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc,
  growthBytes = DEFAULT_BUFFER_GROWTH_BYTES,
): { stop(): void } {
  if (!gc) return { stop: () => undefined };
  const collector = new BufferGrowthCollector(growthBytes);
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const check = () => {
    if (stopped) return;
    let { arrayBuffers } = process.memoryUsage();
    if (collector.check(arrayBuffers)) {
      gc();
      arrayBuffers = process.memoryUsage().arrayBuffers;
      collector.collected(arrayBuffers);
    }
    // Looked at often only while Buffers are plenty (cargo moving): an idle daemon is woken twice a second.
    timer = setTimeout(
      check,
      arrayBuffers >= DEFAULT_MIN_ARRAY_BUFFER_BYTES ? BUFFER_CHECK_INTERVAL_MS.busy : BUFFER_CHECK_INTERVAL_MS.quiet,
    );
    timer.unref();
  };
  check();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
