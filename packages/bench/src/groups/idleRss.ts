/**
 * Idle RSS of the daemons, for the `relay` group (issue 18: at most 120 MiB each): each daemon as the
 * system runs it, left alone after start-up, and the gateways again after the relay runs (what a run
 * leaves them holding).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { type GroupContext, type Target } from '../harness';
import { Daemon, type Network } from '../network';
import { KIB_PER_MIB, readProcessMemory } from '../procfs';

export const IDLE_RSS_TARGETS = { budgetMiB: 120, vsBudget: { max: 1 } as Target };

/**
 * How long an idle daemon is watched. Idle RSS moves a little (timers, a late collection): the
 * highest VmRSS seen over a few seconds, not one reading.
 */
const IDLE_WATCH_MS = 3_000;
const IDLE_STEP_MS = 100;
/**
 * After the runs, how long a gateway is left before it is watched: its idle collector (daemon-kit) looks every 2 s
 * for a quiet spell, as it would between two couriers' visits.
 */
const SETTLE_AFTER_RUNS_MS = 6_000;

/** The highest VmRSS of `pid` over the watch (after `settleMs`), in KiB; null without /proc. */
export async function idleRssKiB(pid: number, settleMs = 0): Promise<number | null> {
  await sleep(settleMs);
  let highest: number | null = null;
  for (let watched = 0; watched <= IDLE_WATCH_MS; watched += IDLE_STEP_MS) {
    const memory = readProcessMemory(pid);
    if (!memory) return null;
    highest = Math.max(highest ?? 0, memory.rssKiB);
    await sleep(IDLE_STEP_MS);
  }
  return highest;
}

/** Record `name` (MiB) and its ratio to the 120 MiB idle budget; a note when it could not be read. */
export function recordIdleRss(figures: GroupContext['figures'], name: string, kib: number | null): void {
  if (kib === null) {
    figures.note(`${name}: not measured (no /proc)`);
    return;
  }
  if (!figures.get('relay.idleRssBudgetMiB')) {
    figures.record('relay.idleRssBudgetMiB', IDLE_RSS_TARGETS.budgetMiB, 'MiB');
  }
  figures.record(name, kib / KIB_PER_MIB, 'MiB');
  figures.ratio(`${name.replace(/MiB$/, '')}.vsBudget`, name, 'relay.idleRssBudgetMiB', {
    label: `${IDLE_RSS_TARGETS.budgetMiB} MiB idle budget`,
    target: IDLE_RSS_TARGETS.vsBudget,
  });
}

/** Both gateways' idle RSS, recorded as `relay.<gateway>.<figure>`. */
export async function recordGatewaysIdleRss(
  figures: GroupContext['figures'],
  network: Network,
  figure: 'idleRssMiB' | 'idleRssAfterRunsMiB',
): Promise<void> {
  const settleMs = figure === 'idleRssAfterRunsMiB' ? SETTLE_AFTER_RUNS_MS : 0;
  const [user, relaying] = await Promise.all([
    idleRssKiB(network.userGateway.pid, settleMs),
    idleRssKiB(network.relayer.pid, settleMs),
  ]);
  recordIdleRss(figures, `relay.userGateway.${figure}`, user);
  recordIdleRss(figures, `relay.relayingGateway.${figure}`, relaying);
}

/**
 * bin/twitter-api-adapter started as the launcher starts it (its own data folder, the relaying gateway's PogRPC
 * address and pinned certificate, no X API reachable: it only reads the X API on a timeline sync), watched idle,
 * then stopped. The relay runs themselves use the bench's endpoint process (endpointChild.ts), not this daemon.
 */
export async function adapterIdleRssKiB(network: Network): Promise<number | null> {
  const adapter = new Daemon('twitter-api-adapter', [
    '--data-dir',
    network.path('adapter-daemon'),
    '--pogrpc-address',
    '127.0.0.1:0',
    '--sync-interval-ms',
    '3600000',
    '--env-file',
    '/dev/null',
    ...network.relayerFlags(),
  ]);
  await adapter.start();
  try {
    return await idleRssKiB(adapter.pid);
  } finally {
    await adapter.stop();
  }
}
