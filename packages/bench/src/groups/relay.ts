/**
 * The `relay` group: carry `--relay-mib` MiB of cargo (1 GiB by default) through bin/relay in each
 * direction, with the real daemons, against a durable copy of the same files on the same disk in the
 * same run (each file copied, fsync'd and its folder fsync'd before the next: what the relay guarantees for
 * each cargo before it is acknowledged or its source deleted), with plain `cp` and `cp` + one `sync` beside it;
 * and the peak RSS of the relay and of each gateway while it runs.
 *
 * The parcels are queued first, untimed: the adapter sends its share to the relaying gateway over
 * PogRPC, then is stopped (so that nothing but the relay and the gateways runs while measured),
 * and the apps deliver theirs to the user gateway. Then four relay runs, each timed on its own
 * (the CCA is held back from the flashdrive while the cargo is delivered to the relaying gateway,
 * so that that run only delivers and the next only collects):
 *
 * 1. toInternet.collect: at the user gateway, the cargo for the relaying gateway onto the flashdrive;
 * 2. toInternet.deliver: at the relaying gateway, that cargo into it;
 * 3. fromInternet.collect: at the relaying gateway (with the CCA), the cargo for the user gateway;
 * 4. fromInternet.deliver: at the user gateway, that cargo into it.
 *
 * Then the same trip again with as many parcels, the runs at the relaying gateway (2 and 3) going over CogRPC
 * (TLS, the certificate pinned) instead of CoSocket: `relay.cogrpc.MBps` beside `relay.MBps`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { groupSizes, type BenchGroup, type GroupContext, type Target } from '../harness';
import { KIB_PER_MIB } from '../procfs';
import { type App, Network, openAppsWithPdas, type RelayRun, sendFromAdapter, sendFromApps, waitFor } from '../network';
import { adapterIdleRssKiB, recordGatewaysIdleRss, recordIdleRss } from './idleRss';

/** Content of each parcel: large, so that cargo is made of few parcels (up to ~8 MiB each). */
export const RELAY_PARCEL_CONTENT_BYTES = 1024 * 1024;
const RELAY_APPS = 2;
const PARCEL_TYPE = 'application/vnd.twitter-relaynet.bench-bulk';
const LOAD_CONCURRENCY = 4;
const LOAD_TIMEOUT_MS = 60 * 60_000;
const BYTES_PER_MB = 1e6;
/**
 * Issue 18: ≥ 50% of a durable copy's throughput (it was plain `cp`'s, page cache to page cache, which promises
 * nothing the relay may settle for); ≤ 200 MiB of peak RSS for the relay and each gateway.
 */
export const RELAY_TARGETS = {
  vsDurableCopy: { min: 0.5 } as Target,
  rssBudgetMiB: 200,
  vsRssBudget: { max: 1 } as Target,
  /** Issue 15: the relaying gateway over CogRPC (TLS) at ≥ 0.8× the rate over CoSocket. */
  cogrpcVsCoSocket: { min: 0.8 } as Target,
};

export const relayGroup: BenchGroup = {
  name: 'relay',
  description:
    'Cargo through bin/relay in each direction (1 GiB by default) vs a durable copy (and cp) of the same files, then again over CogRPC (TLS) at the relaying gateway; peak RSS of the relay and the gateways',
  run: runRelay,
};

interface Leg {
  readonly name: string;
  readonly bytes: number;
  readonly run: RelayRun;
}

async function runRelay({ options, figures, log }: GroupContext): Promise<void> {
  const mib = groupSizes(options).relayMiB;
  const parcels = Math.max(1, Math.round((mib * 1024 * 1024) / RELAY_PARCEL_CONTENT_BYTES));
  const network = new Network({ cogrpc: true });
  try {
    log(`relay: ${parcels} parcels of ${RELAY_PARCEL_CONTENT_BYTES / 1024} KiB each way (daemons in ${network.root})`);
    await network.start();
    await recordGatewaysIdleRss(figures, network, 'idleRssMiB');
    recordIdleRss(figures, 'relay.adapter.idleRssMiB', await adapterIdleRssKiB(network));
    const apps = await openAppsWithPdas(network, RELAY_APPS);
    const cosocket = await trip(network, apps, parcels, 'cosocket', log, (toRelayer) => {
      const cp = copyBaseline(network, toRelayer);
      figures.record('relay.cp.MBps', cp.bytes / BYTES_PER_MB / (cp.copyMs / 1000), 'MB/s');
      figures.record('relay.cpSync.MBps', cp.bytes / BYTES_PER_MB / (cp.copySyncMs / 1000), 'MB/s');
      figures.record('relay.durableCopy.MBps', cp.bytes / BYTES_PER_MB / (cp.durableMs / 1000), 'MB/s');
      figures.record('relay.durableCopy.cpuMsPerMB', cp.durableCpuMs / (cp.bytes / BYTES_PER_MB), 'ms');
    });
    recordLegs(figures, cosocket);

    // The same trip again, as much cargo each way, reaching the relaying gateway over CogRPC (TLS) instead.
    log('relay: the adapter takes what the first trip brought it');
    await network.reopenAdapter();
    await waitFor(
      "the adapter to receive the first trip's parcels",
      async () => (await network.adapterReceived()) >= parcels,
      LOAD_TIMEOUT_MS,
    );
    const cogrpc = await trip(network, apps, parcels, 'cogrpc', log);
    recordCogRPCLegs(figures, cogrpc);
    // Idle is with nothing left to do: the adapter takes the second trip's parcels first (stopped, it would have
    // the relaying gateway reading and retrying them all the while).
    await network.reopenAdapter();
    await waitFor(
      "the adapter to receive the second trip's parcels",
      async () => (await network.adapterReceived()) >= 2 * parcels,
      LOAD_TIMEOUT_MS,
    );
    await recordGatewaysIdleRss(figures, network, 'idleRssAfterRunsMiB');
  } finally {
    await network.close();
  }
}

/**
 * Queue `parcels` each way (untimed), then the four timed relay runs; the runs at the relaying gateway go `over`
 * CoSocket or CogRPC. `afterUserCollect` runs once the cargo for the relaying gateway is on the flashdrive.
 */
async function trip(
  network: Network,
  apps: readonly App[],
  parcels: number,
  over: 'cosocket' | 'cogrpc',
  log: GroupContext['log'],
  afterUserCollect?: (toRelayer: string) => void,
): Promise<Leg[]> {
  const storedBefore = storedCounts(network, apps);
  const load = { type: PARCEL_TYPE, contentBytes: RELAY_PARCEL_CONTENT_BYTES, concurrency: LOAD_CONCURRENCY };
  await sendFromAdapter(network, apps, parcels, { ...load, timeoutMs: LOAD_TIMEOUT_MS });
  await network.stopAdapter();
  log(`relay (${over}): queued at the relaying gateway; queueing at the user gateway`);
  await sendFromApps(apps, parcels, load);

  const legs: Leg[] = [];
  const cargoBytes = (folder: string) => network.folderBytes(folder).bytes;

  log(`relay (${over}): toInternet.collect`);
  const collectUser = await network.relayOk('user');
  legs.push({ name: 'toInternet.collect', bytes: cargoBytes(network.toRelayer), run: collectUser });
  afterUserCollect?.(network.toRelayer);

  // Hold the CCA back so that this run only delivers.
  const held = network.path('held-ccas');
  moveCcas(network.toRelayer, held);
  log(`relay (${over}): toInternet.deliver`);
  const deliverBytes = cargoBytes(network.toRelayer);
  const deliverRelayer = await network.relay('relayer', { over });
  // Without a CCA the relay's collection is refused ("without a pickup authorization") after the delivery;
  // what matters here is that every cargo was delivered (acknowledged, so deleted).
  const left = network.folderBytes(network.toRelayer).files;
  if (left > 0 || (deliverRelayer.status !== 0 && !/without a pickup authorization/.test(deliverRelayer.stderr))) {
    throw new Error(
      `bin/relay did not deliver every cargo (status ${deliverRelayer.status}, ${left} files left):\n${deliverRelayer.stderr}`,
    );
  }
  legs.push({ name: 'toInternet.deliver', bytes: deliverBytes, run: deliverRelayer });
  moveCcas(held, network.toRelayer);

  log(`relay (${over}): fromInternet.collect`);
  const collectRelayer = await network.relayOk('relayer', { over });
  legs.push({ name: 'fromInternet.collect', bytes: cargoBytes(network.toUser), run: collectRelayer });
  log(`relay (${over}): fromInternet.deliver`);
  const deliverUserBytes = cargoBytes(network.toUser);
  const deliverUser = await network.relayOk('user');
  legs.push({ name: 'fromInternet.deliver', bytes: deliverUserBytes, run: deliverUser });

  checkArrived(network, apps, parcels, storedBefore);
  return legs;
}

/** The CogRPC trip's figures: each leg's rate, the whole trip's (`relay.cogrpc.MBps`) and its ratio to CoSocket's. */
function recordCogRPCLegs(figures: GroupContext['figures'], legs: readonly Leg[]): void {
  for (const leg of legs) {
    figures.record(`relay.cogrpc.${leg.name}.MBps`, leg.bytes / BYTES_PER_MB / (leg.run.ms / 1000), 'MB/s');
    if (typeof leg.run.gatewayPeakRssKiB === 'number') {
      figures.record(`relay.cogrpc.${leg.name}.gatewayPeakRssMiB`, leg.run.gatewayPeakRssKiB / KIB_PER_MIB, 'MiB');
    }
  }
  figures.record('relay.cogrpc.MBps', totalRate(legs), 'MB/s');
  recordPeakRss(figures, legs, 'relay.cogrpc');
  figures.ratio('relay.cogrpc.vsCoSocket', 'relay.cogrpc.MBps', 'relay.MBps', {
    label: 'CoSocket',
    target: RELAY_TARGETS.cogrpcVsCoSocket,
  });
}

function totalRate(legs: readonly Leg[]): number {
  const bytes = legs.reduce((sum, leg) => sum + leg.bytes, 0);
  const ms = legs.reduce((sum, leg) => sum + leg.run.ms, 0);
  return bytes / BYTES_PER_MB / (ms / 1000);
}

function recordLegs(figures: GroupContext['figures'], legs: readonly Leg[]): void {
  for (const leg of legs) {
    figures.record(`relay.${leg.name}.MB`, leg.bytes / BYTES_PER_MB, 'MB');
    figures.record(`relay.${leg.name}.MBps`, leg.bytes / BYTES_PER_MB / (leg.run.ms / 1000), 'MB/s');
    // Which leg makes each peak (the totals below keep the maximum only).
    if (typeof leg.run.gatewayPeakRssKiB === 'number') {
      figures.record(`relay.${leg.name}.gatewayPeakRssMiB`, leg.run.gatewayPeakRssKiB / KIB_PER_MIB, 'MiB');
    }
    const { relay, gateway } = leg.run.cpuMs;
    if (relay !== null) figures.record(`relay.${leg.name}.relayCpuMsPerMB`, relay / (leg.bytes / BYTES_PER_MB), 'ms');
    if (gateway !== null) {
      figures.record(`relay.${leg.name}.gatewayCpuMsPerMB`, gateway / (leg.bytes / BYTES_PER_MB), 'ms');
    }
  }
  figures.record('relay.MBps', totalRate(legs), 'MB/s');
  // CPU time per MB moved, relay and gateway together, over the four runs: against the durable copy's, what
  // the trip costs beyond copying, however busy the machine (wall times are not).
  const cpuMs = legs.map((leg) => [leg.run.cpuMs.relay, leg.run.cpuMs.gateway]).flat();
  if (cpuMs.every((ms): ms is number => ms !== null)) {
    const megabytes = legs.reduce((sum, leg) => sum + leg.bytes, 0) / BYTES_PER_MB;
    figures.record('relay.cpuMsPerMB', cpuMs.reduce((sum, ms) => sum + ms, 0) / megabytes, 'ms');
    figures.ratio('relay.cpuPerMB.vsDurableCopy', 'relay.cpuMsPerMB', 'relay.durableCopy.cpuMsPerMB', {
      label: 'durable copy',
    });
  } else {
    figures.note('relay.cpuMsPerMB: not measured (no /proc)');
  }
  figures.ratio('relay.vsDurableCopy', 'relay.MBps', 'relay.durableCopy.MBps', {
    label: 'durable copy',
    target: RELAY_TARGETS.vsDurableCopy,
  });
  figures.ratio('relay.vsCp', 'relay.MBps', 'relay.cp.MBps', { label: 'cp' });
  figures.ratio('relay.vsCpSync', 'relay.MBps', 'relay.cpSync.MBps', { label: 'cp + sync' });

  recordPeakRss(figures, legs, 'relay');
}

/** `<prefix>.peakRssMiB` (the relay's), `<prefix>.userGateway.…` and `<prefix>.relayingGateway.…`, against the budget. */
function recordPeakRss(figures: GroupContext['figures'], legs: readonly Leg[], prefix: string): void {
  if (!figures.get('relay.rssBudgetMiB')) figures.record('relay.rssBudgetMiB', RELAY_TARGETS.rssBudgetMiB, 'MiB');
  const peak = (values: (number | null | undefined)[], name: string) => {
    const known = values.filter((value): value is number => typeof value === 'number');
    if (known.length < values.length) {
      figures.note(`${name}: not measured (no /proc, or the peak could not be reset)`);
      return;
    }
    figures.record(name, Math.max(...known) / KIB_PER_MIB, 'MiB');
    figures.ratio(`${name.replace(/\.peakRssMiB$/, '')}.peakRss.vsBudget`, name, 'relay.rssBudgetMiB', {
      label: '200 MiB budget',
      target: RELAY_TARGETS.vsRssBudget,
    });
  };
  peak(
    legs.map((leg) => leg.run.memory?.peakRssKiB),
    `${prefix}.peakRssMiB`,
  );
  const at = (gateway: 'user' | 'relayer') =>
    legs.filter(
      (leg) => (leg.name === 'toInternet.collect' || leg.name === 'fromInternet.deliver') === (gateway === 'user'),
    );
  peak(
    at('user').map((leg) => leg.run.gatewayPeakRssKiB),
    `${prefix}.userGateway.peakRssMiB`,
  );
  peak(
    at('relayer').map((leg) => leg.run.gatewayPeakRssKiB),
    `${prefix}.relayingGateway.peakRssMiB`,
  );
}

/**
 * The same cargo files copied to another folder on the same disk: `cp` alone (page cache to page cache), `cp`
 * followed by one `sync -f`, and the durable copy, one file after the other: copied (copyFileSync, the kernel's
 * copy as cp's), fsync'd, its folder fsync'd, as the relay must before it acknowledges or deletes each one.
 */
function copyBaseline(
  network: Network,
  folder: string,
): { bytes: number; copyMs: number; copySyncMs: number; durableMs: number; durableCpuMs: number } {
  const files = readdirSync(folder).filter((name) => name.endsWith('.cargo'));
  const bytes = network.folderBytes(folder).bytes;
  const time = (how: 'plain' | 'sync' | 'durable') => {
    const target = network.path(`cp-baseline-${how}`);
    mkdirSync(target);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    if (how === 'durable') {
      for (const name of files) {
        copyFileSync(join(folder, name), join(target, name));
        fsyncPath(join(target, name));
        fsyncPath(target);
      }
    } else {
      run('cp', [...files.map((name) => join(folder, name)), target]);
      if (how === 'sync') run('sync', ['-f', target]);
    }
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    rmSync(target, { recursive: true, force: true });
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  // Best of two each, taking turns, so that none gains from coming later (warm caches).
  const best = { plain: Infinity, sync: Infinity, durable: Infinity };
  let durableCpuMs = Infinity;
  for (let round = 0; round < 2; round++) {
    for (const how of ['plain', 'sync', 'durable'] as const) {
      const { ms, cpuMs } = time(how);
      best[how] = Math.min(best[how], ms);
      // (The bench's own CPU: the durable copy runs in this process; cp's CPU is its own.)
      if (how === 'durable') durableCpuMs = Math.min(durableCpuMs, cpuMs);
    }
  }
  return { bytes, copyMs: best.plain, copySyncMs: best.sync, durableMs: best.durable, durableCpuMs };
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0)
    throw new Error(`${command} failed (${result.status}): ${result.stderr?.toString() ?? result.error}`);
}

function moveCcas(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name.endsWith('.cca')) renameSync(join(from, name), join(to, name));
  }
}

function storedCounts(network: Network, apps: readonly App[]): { atRelayer: number; atUser: number } {
  return {
    atRelayer: network.relayer.count('Parcel stored', network.adapterId),
    atUser: apps.reduce((sum, app) => sum + network.userGateway.count('Parcel stored', app.id), 0),
  };
}

/** Every parcel reached the other gateway's queue (the figures mean nothing otherwise). */
function checkArrived(
  network: Network,
  apps: readonly App[],
  parcels: number,
  before: { atRelayer: number; atUser: number },
): void {
  const after = storedCounts(network, apps);
  const atRelayer = after.atRelayer - before.atRelayer;
  const atUser = after.atUser - before.atUser;
  if (atRelayer < parcels || atUser < parcels) {
    throw new Error(
      `Parcels carried: ${atRelayer} of ${parcels} to the relaying gateway, ${atUser} of ${parcels} to the user gateway`,
    );
  }
}
