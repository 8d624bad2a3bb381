/**
 * The `pipeline` group: N tweets from app endpoints to the adapter's public endpoint, and N
 * timeline updates back, through the real daemons, sockets and bin/relay (see ../network.ts).
 *
 * Tweets: the apps make and deliver N parcels to the user gateway (PoWebSocket), the courier runs
 * bin/relay at the user gateway then at the relaying gateway, which delivers to the adapter
 * (PogRPC); the clock stops when the adapter has decrypted the last one.
 * Timeline: the adapter queues N parcels (PDA-authorized) that its outbox delivers to the
 * relaying gateway (PogRPC); the courier runs bin/relay at the user gateway (a fresh CCA), at the
 * relaying gateway (collection), at the user gateway (delivery); the clock stops when the apps
 * have collected and decrypted the last one.
 *
 * Each way's parcels/s is compared with the raw-crypto floor of the same per-parcel work
 * (pipelineFloor.ts) measured in the same run, and with the 500 parcels/s.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

import { renderStackedBarChart } from '../chart';
import { readProcessCpuMs } from '../procfs';
import { groupSizes, measureThroughput, type BenchGroup, type GroupContext, type Target } from '../harness';
import {
  type App,
  collectAtApps,
  Network,
  openAppsWithPdas,
  receivedAtApps,
  sendFromAdapter,
  sendFromApps,
  waitFor,
} from '../network';
import { floorParcelTrip, makeTripFloorKeys } from './pipelineFloor';

/** Apps sending tweets (each a private endpoint of its own). */
export const PIPELINE_APPS = 2;
/** A tweet's content: about as long as a tweet with its JSON around it. */
export const TWEET_BYTES = 300;
/** Parcels made (or queued at the adapter) at once: crypto runs in libuv's threadpool meanwhile. */
const MAKE_CONCURRENCY = 8;
const TWEET_TYPE = 'application/vnd.twitter-relaynet.bench-tweet';
const TIMELINE_TYPE = 'application/vnd.twitter-relaynet.bench-timeline';
/** Measurements of the floor, of which the best is recorded. */
const FLOOR_ROUNDS = 3;
/** How long one way may take before the run is declared stuck. */
const WAY_TIMEOUT_MS = 30 * 60_000;

export const PIPELINE_TARGETS = {
  /** The issue: ≥ 500 parcels/s each way. */
  parcelsPerSec: 500,
  vsTarget: { min: 1 } as Target,
  /** The issue: ≥ 1/3 of the floor. */
  vsFloor: { min: 1 / 3 } as Target,
};

export const pipelineGroup: BenchGroup = {
  name: 'pipeline',
  description:
    'N tweets app → user gateway → relay → relaying gateway → adapter, N timeline updates back (real daemons), vs the crypto floor',
  run: runPipeline,
};

/** 1000 → "1k", 1500 → "1500". */
export function sizeLabel(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

async function runPipeline({ options, figures, log, pipelineChartFile }: GroupContext): Promise<void> {
  const sizes = [...groupSizes(options).pipelineN].sort((a, b) => a - b);
  const plaintext = randomBytes(TWEET_BYTES);
  log('pipeline: raw-crypto floor of one parcel trip');
  const keys = await makeTripFloorKeys();
  // The best of a few measurements: a floor is what the crypto can do undisturbed, and one measurement after the
  // previous groups (their daemons exiting, the kernel writing back their files) read 684/s where a quiet one
  // reads 1,000 to 1,200/s, which made the ratio to it look better than it was.
  let floorPerSec = 0;
  for (let round = 0; round < FLOOR_ROUNDS; round++) {
    const floor = await measureThroughput(() => floorParcelTrip(keys, plaintext), options);
    floorPerSec = Math.max(floorPerSec, floor.opsPerSec);
  }
  figures.record('pipeline.floor.parcelsPerSec', floorPerSec, 'parcels/s');
  figures.record('pipeline.target.parcelsPerSec', PIPELINE_TARGETS.parcelsPerSec, 'parcels/s');

  const network = new Network();
  try {
    log(`pipeline: starting the daemons in ${network.root}`);
    await network.start();
    // The PDAs reach the adapter on a first trip, untimed (the apps' "subscription").
    const apps = await openAppsWithPdas(network, PIPELINE_APPS);

    const runs: WayRun[] = [];
    for (const n of sizes) {
      const label = sizeLabel(n);
      log(`pipeline: ${n} tweets`);
      const tweets = new WayClock(network, log);
      await tweetsWay(tweets, network, apps, n);
      recordWay(figures, `pipeline.tweets.${label}`, n, tweets);
      runs.push({ way: 'tweets', n, stages: tweets.stages });
      log(`pipeline: ${n} timeline updates`);
      const timeline = new WayClock(network, log);
      await timelineWay(timeline, network, apps, n);
      recordWay(figures, `pipeline.timeline.${label}`, n, timeline);
      runs.push({ way: 'timeline', n, stages: timeline.stages });
    }
    if (pipelineChartFile) {
      await writeFile(pipelineChartFile, pipelineChart(runs));
      log(`pipeline: chart of the stages written to ${pipelineChartFile}`);
    }
    // The headline figures are those of the largest N.
    const largest = sizeLabel(sizes[sizes.length - 1]);
    for (const way of ['tweets', 'timeline'] as const) {
      const measured = figures.get(`pipeline.${way}.${largest}.parcelsPerSec`);
      if (!measured) continue;
      figures.record(`pipeline.${way}.parcelsPerSec`, measured.value, 'parcels/s');
      figures.ratio(`pipeline.${way}.vsFloor`, `pipeline.${way}.parcelsPerSec`, 'pipeline.floor.parcelsPerSec', {
        label: 'floor',
        target: PIPELINE_TARGETS.vsFloor,
      });
      figures.ratio(`pipeline.${way}.vsTarget`, `pipeline.${way}.parcelsPerSec`, 'pipeline.target.parcelsPerSec', {
        label: '500/s target',
        target: PIPELINE_TARGETS.vsTarget,
      });
    }
  } finally {
    await network.close();
  }
}

/** Wall time of each stage of one way, in order, in milliseconds. */
export type Stages = [stage: string, ms: number][];

/** One way of one run: N parcels and the wall time of each of its stages. */
export interface WayRun {
  readonly way: 'tweets' | 'timeline';
  readonly n: number;
  readonly stages: Stages;
}

/** The stages as the chart names them (figures keep the identifiers). */
export const STAGE_NAMES: Readonly<Record<string, string>> = {
  appToUserGateway: 'app → user gw (PoWebSocket)',
  relayAtUserGateway: 'relay at user gw',
  relayAtRelayingGateway: 'relay at relaying gw',
  relayingGatewayToAdapter: 'relaying gw → adapter (PogRPC)',
  adapterToRelayingGateway: 'adapter → relaying gw (PogRPC)',
  relayAtUserGatewayCca: 'relay at user gw (CCA)',
  userGatewayToApps: 'user gw → apps (PoWebSocket)',
};

/**
 * The time per parcel of each stage, one stacked bar per way and N (SVG): where a trip's time goes. Each bar
 * ends with its total and the parcels/s it makes (N over the sum of the stages, as the figures).
 */
export function pipelineChart(runs: readonly WayRun[]): string {
  return renderStackedBarChart({
    title: 'Pipeline: time per parcel of each stage',
    xLabel: 'milliseconds per parcel (stage wall time / N)',
    bars: runs.map(({ way, n, stages }) => {
      const segments = stages.map(([stage, ms]) => ({ name: STAGE_NAMES[stage] ?? stage, value: ms / n }));
      const msPerParcel = segments.reduce((sum, segment) => sum + segment.value, 0);
      return {
        label: `${way}, ${sizeLabel(n)}`,
        segments,
        note: `${msPerParcel.toFixed(2)} ms · ${Math.round(1000 / msPerParcel)}/s`,
      };
    }),
  });
}

function recordWay(figures: GroupContext['figures'], prefix: string, n: number, way: WayClock): void {
  const totalMs = way.stages.reduce((sum, [, ms]) => sum + ms, 0);
  figures.record(`${prefix}.parcelsPerSec`, n / (totalMs / 1000), 'parcels/s');
  for (const [stage, ms] of way.stages) figures.record(`${prefix}.stage.${stage}`, ms, 'ms');
  for (const part of CPU_PARTS) figures.record(`${prefix}.cpuMsPerParcel.${part}`, way.cpuMs[part] / n, 'ms');
}

/** The long-lived processes whose CPU time a way measures (bin/relay runs are not counted); `apps` is both apps'. */
export const CPU_PARTS = ['bench', 'apps', 'adapter', 'userGateway', 'relayingGateway'] as const;
type CpuPart = (typeof CPU_PARTS)[number];

/** The stages of one way as they run: their wall time, and the CPU time each process used meanwhile. */
class WayClock {
  readonly stages: Stages = [];
  readonly cpuMs: Record<CpuPart, number> = { bench: 0, apps: 0, adapter: 0, userGateway: 0, relayingGateway: 0 };

  constructor(
    private readonly network: Network,
    private readonly log: GroupContext['log'],
  ) {}

  async stage(stage: string, op: () => Promise<unknown>): Promise<void> {
    const cpuBefore = this.cpuNow();
    const started = performance.now();
    await op();
    const ms = performance.now() - started;
    const cpuAfter = this.cpuNow();
    this.stages.push([stage, ms]);
    const used = CPU_PARTS.map((part) => {
      const delta = (cpuAfter[part] ?? 0) - (cpuBefore[part] ?? 0);
      this.cpuMs[part] += delta;
      return `${part} ${Math.round(delta)}`;
    });
    this.log(`pipeline: ${stage} ${Math.round(ms)} ms; CPU ms: ${used.join(', ')}`);
  }

  /** CPU time (user + system, every thread) each process used so far, in ms. */
  private cpuNow(): Record<CpuPart, number | null> {
    const { user, system } = process.cpuUsage();
    const apps = this.network.appPids.map((pid) => readProcessCpuMs(pid));
    const adapterPid = this.network.adapterPid;
    return {
      bench: (user + system) / 1000,
      apps: apps.includes(null) ? null : apps.reduce<number>((total, ms) => total + ms!, 0),
      adapter: adapterPid === null ? null : readProcessCpuMs(adapterPid),
      userGateway: readProcessCpuMs(this.network.userGateway.pid),
      relayingGateway: readProcessCpuMs(this.network.relayer.pid),
    };
  }
}

async function tweetsWay(way: WayClock, network: Network, apps: readonly App[], n: number): Promise<void> {
  const expected = (await network.adapterReceived()) + n;
  await way.stage('appToUserGateway', () =>
    sendFromApps(apps, n, { type: TWEET_TYPE, contentBytes: TWEET_BYTES, concurrency: MAKE_CONCURRENCY }),
  );
  await way.stage('relayAtUserGateway', () => network.relayOk('user'));
  await way.stage('relayAtRelayingGateway', () => network.relayOk('relayer'));
  await way.stage('relayingGatewayToAdapter', () =>
    waitFor(
      'the adapter to receive every tweet',
      async () => (await network.adapterReceived()) >= expected,
      WAY_TIMEOUT_MS,
    ),
  );
}

async function timelineWay(way: WayClock, network: Network, apps: readonly App[], n: number): Promise<void> {
  const receivedBefore = await receivedAtApps(apps);
  await way.stage('adapterToRelayingGateway', () =>
    sendFromAdapter(network, apps, n, {
      type: TIMELINE_TYPE,
      contentBytes: TWEET_BYTES,
      concurrency: MAKE_CONCURRENCY,
      timeoutMs: WAY_TIMEOUT_MS,
    }),
  );
  await way.stage('relayAtUserGatewayCca', () => network.relayOk('user'));
  await way.stage('relayAtRelayingGateway', () => network.relayOk('relayer'));
  await way.stage('relayAtUserGateway', () => network.relayOk('user'));
  await way.stage('userGatewayToApps', async () => {
    const received = (await collectAtApps(apps)) - receivedBefore;
    if (received < n) throw new Error(`The apps collected ${received} of ${n} timeline updates`);
  });
}
