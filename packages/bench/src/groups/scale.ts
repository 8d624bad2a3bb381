/**
 * The `scale` group: time per parcel with 1k, 10k and 100k parcels queued at the user gateway.
 * Each size gets a fresh network (real daemons), so every queue starts empty:
 *
 * - enqueue: the apps deliver the parcels over PoWebSocket (the queue grows from 0 to N; this
 *   includes the apps' own crypto);
 * - collect: bin/relay at the user gateway packs the N queued parcels into cargo on the flashdrive;
 * - deliver: bin/relay at the relaying gateway delivers that cargo, which is unpacked and its N
 *   parcels queued there (while the gateway starts delivering them to the adapter, as it would).
 *
 * `scale.msPerParcel.<N>` is collect + deliver per parcel: the gateways' work with N queued. The
 * issue's target is "flat within 25%": each size's figure divided by the smallest size's is ≤ 1.25.
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

import { renderLineChart } from '../chart';
import { groupSizes, type BenchGroup, type FigureRegistry, type GroupContext, type Target } from '../harness';
import { Network, openAppsWithPdas, sendFromApps } from '../network';
import { sizeLabel } from './pipeline';

export const SCALE_APPS = 2;
const PARCEL_CONTENT_BYTES = 300;
const MAKE_CONCURRENCY = 8;
const PARCEL_TYPE = 'application/vnd.twitter-relaynet.bench-scale';
/** The issue: time per parcel flat within 25% from the smallest queue to the largest. */
export const FLAT_TARGET: Target = { max: 1.25 };
const PHASES = ['enqueue', 'collect', 'deliver'] as const;

export const scaleGroup: BenchGroup = {
  name: 'scale',
  description:
    'Time per parcel with 1k/10k/100k parcels queued at the user gateway (enqueue, collect into cargo, deliver to the relaying gateway)',
  run: runScale,
};

async function runScale({ options, figures, log, chartFile }: GroupContext): Promise<void> {
  const sizes = [...groupSizes(options).scaleSizes].sort((a, b) => a - b);
  for (const n of sizes) {
    const label = sizeLabel(n);
    const network = new Network();
    // A size that fails (e.g. a relay run that times out) is noted; the others are still measured.
    try {
      log(`scale: ${n} parcels (daemons in ${network.root})`);
      await network.start();
      const apps = await openAppsWithPdas(network, SCALE_APPS);
      // The adapter stays up, as users run it: the relaying gateway delivers to it while the relay
      // delivers the cargo. (Stopped, it would be worse: the gateway retries each new parcel at once.)
      const storedBefore = network.relayer.count('Parcel stored', network.adapterId);
      const enqueueStarted = performance.now();
      await sendFromApps(apps, n, {
        type: PARCEL_TYPE,
        contentBytes: PARCEL_CONTENT_BYTES,
        concurrency: MAKE_CONCURRENCY,
      });
      const enqueueMs = performance.now() - enqueueStarted;
      figures.record(`scale.enqueue.msPerParcel.${label}`, enqueueMs / n, 'ms');
      log(`scale: ${n} parcels queued in ${(enqueueMs / 1000).toFixed(1)} s; collecting`);
      const collect = await network.relayOk('user');
      figures.record(`scale.collect.msPerParcel.${label}`, collect.ms / n, 'ms');
      log(`scale: collected in ${(collect.ms / 1000).toFixed(1)} s; delivering`);
      const deliver = await network.relayOk('relayer');
      const stored = network.relayer.count('Parcel stored', network.adapterId) - storedBefore;
      if (stored < n) throw new Error(`The relaying gateway stored ${stored} of the ${n} parcels`);
      figures.record(`scale.deliver.msPerParcel.${label}`, deliver.ms / n, 'ms');
      figures.record(`scale.msPerParcel.${label}`, (collect.ms + deliver.ms) / n, 'ms');
    } catch (error) {
      figures.note(`scale: ${n} parcels failed: ${error instanceof Error ? error.message : String(error)}`);
      log(`scale: ${n} parcels failed: ${String(error)}`);
    } finally {
      await network.close();
    }
  }
  const smallest = sizeLabel(sizes[0]);
  for (const n of sizes.slice(1)) {
    const label = sizeLabel(n);
    for (const phase of ['', ...PHASES.map((p) => `${p}.`)]) {
      figures.ratio(
        `scale.${phase}msPerParcel.${label}.vs${smallest}`,
        `scale.${phase}msPerParcel.${label}`,
        `scale.${phase}msPerParcel.${smallest}`,
        {
          label: `${smallest} queued`,
          target: FLAT_TARGET,
        },
      );
    }
  }
  if (chartFile) {
    await writeFile(chartFile, scaleChart(figures, sizes));
    log(`scale: chart written to ${chartFile}`);
  }
}

/** Parcels per second (1000 / ms per parcel) against the queue size, one line per phase. */
export function scaleChart(figures: FigureRegistry, sizes: readonly number[]): string {
  const series = [
    { name: 'collect + deliver', figure: 'msPerParcel' },
    { name: 'collect (user gw → cargo)', figure: 'collect.msPerParcel' },
    { name: 'deliver (cargo → relaying gw)', figure: 'deliver.msPerParcel' },
    { name: 'enqueue (app → user gw)', figure: 'enqueue.msPerParcel' },
  ].map(({ name, figure }) => ({
    name,
    points: sizes.flatMap((n): [number, number][] => {
      const measured = figures.get(`scale.${figure}.${sizeLabel(n)}`);
      return measured ? [[n, 1000 / measured.value]] : [];
    }),
  }));
  return renderLineChart({
    title: 'Throughput against queue size (parcels queued at the user gateway)',
    xLabel: 'parcels queued (log scale)',
    yLabel: 'parcels per second',
    series,
  });
}
