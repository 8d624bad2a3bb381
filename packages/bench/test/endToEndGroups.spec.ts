/**
 * Smoke test of the end-to-end groups at tiny sizes, against the real daemons and bin/relay: every
 * figure the issue asks for is there, finite and plausible. No timing is asserted (performance is
 * what the benchmark reports, not what a test checks).
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FigureRegistry, type BenchGroup, type BenchOptions } from '../src/harness';
import { latencyGroup } from '../src/groups/latency';
import { pipelineGroup } from '../src/groups/pipeline';
import { relayGroup } from '../src/groups/relay';
import { scaleGroup } from '../src/groups/scale';
import { scaleoutGroup } from '../src/groups/scaleout';
import { buildExecutables } from '../src/network';
import { describeWithPostgres } from '@twitter-relaynet/test-support';

jest.setTimeout(120_000);

const OPTIONS: BenchOptions = {
  seconds: 0.2,
  warmupSeconds: 0,
  concurrency: 4,
  sizes: { pipelineN: [12], scaleSizes: [10, 30], relayMiB: 3, scaleoutParcels: 24 },
};

let dir: string;

beforeAll(() => {
  buildExecutables();
  dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function run(
  group: BenchGroup,
  charts: { chartFile?: string; pipelineChartFile?: string } = {},
): Promise<FigureRegistry> {
  const figures = new FigureRegistry();
  await group.run({ options: OPTIONS, figures, log: () => undefined, ...charts });
  return figures;
}

function value(figures: FigureRegistry, name: string): number {
  const figure = figures.get(name);
  if (!figure) throw new Error(`Figure ${name} missing (have: ${figures.measuredNames.join(', ')})`);
  expect(Number.isFinite(figure.value)).toBe(true);
  return figure.value;
}

test('relay: MB/s each way (CoSocket, then CogRPC at the relaying gateway) and against cp, peak RSS of the relay and both gateways, idle RSS of every daemon', async () => {
  const figures = await run(relayGroup);
  for (const leg of ['toInternet.collect', 'toInternet.deliver', 'fromInternet.collect', 'fromInternet.deliver']) {
    // 3 parcels of 1 MiB of content: at least 3 MiB of cargo went each way.
    expect(value(figures, `relay.${leg}.MB`)).toBeGreaterThanOrEqual((3 * 1024 * 1024) / 1e6);
    expect(value(figures, `relay.${leg}.MBps`)).toBeGreaterThan(0);
  }
  expect(value(figures, 'relay.MBps')).toBeGreaterThan(0);
  expect(value(figures, 'relay.cp.MBps')).toBeGreaterThan(0);
  expect(value(figures, 'relay.vsCp')).toBeCloseTo(value(figures, 'relay.MBps') / value(figures, 'relay.cp.MBps'));
  expect(value(figures, 'relay.vsDurableCopy')).toBeCloseTo(
    value(figures, 'relay.MBps') / value(figures, 'relay.durableCopy.MBps'),
  );
  // CPU time per MB: the relay's and the gateway's in each run, and the durable copy's (the bench's own).
  for (const leg of ['toInternet.collect', 'fromInternet.deliver']) {
    expect(value(figures, `relay.${leg}.relayCpuMsPerMB`)).toBeGreaterThan(0);
    expect(value(figures, `relay.${leg}.gatewayCpuMsPerMB`)).toBeGreaterThan(0);
  }
  expect(value(figures, 'relay.cpuPerMB.vsDurableCopy')).toBeCloseTo(
    value(figures, 'relay.cpuMsPerMB') / value(figures, 'relay.durableCopy.cpuMsPerMB'),
  );
  // The same trip with the relaying gateway over CogRPC (TLS).
  for (const leg of ['toInternet.deliver', 'fromInternet.collect'])
    expect(value(figures, `relay.cogrpc.${leg}.MBps`)).toBeGreaterThan(0);
  expect(value(figures, 'relay.cogrpc.vsCoSocket')).toBeCloseTo(
    value(figures, 'relay.cogrpc.MBps') / value(figures, 'relay.MBps'),
  );
  const gatewayFigures = (prefix: string, suffix: string) =>
    [`${prefix}.userGateway.${suffix}`, `${prefix}.relayingGateway.${suffix}`] as const;
  for (const name of [
    'relay.peakRssMiB',
    ...gatewayFigures('relay', 'peakRssMiB'),
    'relay.cogrpc.peakRssMiB',
    ...gatewayFigures('relay.cogrpc', 'peakRssMiB'),
    ...gatewayFigures('relay', 'idleRssMiB'),
    'relay.adapter.idleRssMiB',
    ...gatewayFigures('relay', 'idleRssAfterRunsMiB'),
  ]) {
    // A node process, not a shell (a few MiB) nor a runaway.
    expect(value(figures, name)).toBeGreaterThan(20);
    expect(value(figures, name)).toBeLessThan(4096);
  }
});

test('scale: ms per parcel for each queue size, ratios to the smallest, and the chart', async () => {
  const chart = join(dir, 'chart.svg');
  const figures = await run(scaleGroup, { chartFile: chart });
  for (const label of ['10', '30']) {
    for (const phase of ['', 'enqueue.', 'collect.', 'deliver.'])
      expect(value(figures, `scale.${phase}msPerParcel.${label}`)).toBeGreaterThan(0);
    expect(value(figures, `scale.msPerParcel.${label}`)).toBeCloseTo(
      value(figures, `scale.collect.msPerParcel.${label}`) + value(figures, `scale.deliver.msPerParcel.${label}`),
    );
  }
  expect(value(figures, 'scale.msPerParcel.30.vs10')).toBeGreaterThan(0);
  const svg = readFileSync(chart, 'utf8');
  expect(svg).toMatch(/^<svg /);
  expect(svg.match(/<circle /g)).toHaveLength(8);
});

test('pipeline: parcels/s each way with every stage, the CPU of each process, the floor, the ratios and the chart', async () => {
  const pipelineChartFile = join(dir, 'pipeline.svg');
  const figures = await run(pipelineGroup, { pipelineChartFile });
  expect(value(figures, 'pipeline.floor.parcelsPerSec')).toBeGreaterThan(0);
  for (const way of ['tweets', 'timeline']) {
    const perSec = value(figures, `pipeline.${way}.parcelsPerSec`);
    expect(perSec).toBe(value(figures, `pipeline.${way}.12.parcelsPerSec`));
    expect(value(figures, `pipeline.${way}.vsFloor`)).toBeCloseTo(
      perSec / value(figures, 'pipeline.floor.parcelsPerSec'),
    );
    const stages = figures.measuredNames.filter((name) => name.startsWith(`pipeline.${way}.12.stage.`));
    expect(stages.length).toBeGreaterThanOrEqual(4);
    const totalMs = stages.reduce((sum, name) => sum + value(figures, name), 0);
    expect(perSec).toBeCloseTo(12 / (totalMs / 1000));
    // The apps and the adapter run in processes of their own, and did the endpoint work (/proc counts CPU in 10 ms
    // ticks, so a process that worked a few ms may read 0: their sum is what must be positive).
    const endpointsCpu = ['apps', 'adapter'].map((part) => value(figures, `pipeline.${way}.12.cpuMsPerParcel.${part}`));
    expect(Math.min(...endpointsCpu)).toBeGreaterThanOrEqual(0);
    expect(endpointsCpu[0] + endpointsCpu[1]).toBeGreaterThan(0);
    expect(value(figures, `pipeline.${way}.12.cpuMsPerParcel.bench`)).toBeGreaterThanOrEqual(0);
    for (const gateway of ['userGateway', 'relayingGateway']) {
      expect(value(figures, `pipeline.${way}.12.cpuMsPerParcel.${gateway}`)).toBeGreaterThanOrEqual(0);
    }
  }
  const chart = readFileSync(pipelineChartFile, 'utf8');
  expect(chart).toContain('>tweets, 12<');
  expect(chart).toContain('>timeline, 12<');
});

test('latency: one tweet from twitter-app to the X API emulator, by stage', async () => {
  const figures = await run(latencyGroup);
  const stages = ['app', 'relayAtUserGateway', 'relayAtRelayingGateway', 'relayingGatewayToAdapter', 'adapterToX'];
  for (const stage of stages) expect(value(figures, `latency.stage.${stage}`)).toBeGreaterThanOrEqual(0);
  const sum = stages.reduce((total, stage) => total + value(figures, `latency.stage.${stage}`), 0);
  expect(value(figures, 'latency.totalMs')).toBeCloseTo(sum);
  // Two relay runs and a node process at least: not instantaneous.
  expect(value(figures, 'latency.totalMs')).toBeGreaterThan(value(figures, 'latency.stage.app'));
});

describeWithPostgres('scaleout', () => {
  test('parcels/s with 1 instance on SQLite, 1 and 3 on PostgreSQL, the ratios, peak RSS, connections, CPU and transactions', async () => {
    const figures = await run(scaleoutGroup);
    expect(figures.allNotes).toEqual([]);
    for (const config of ['sqlite1', 'pg1', 'pg3'])
      expect(value(figures, `scaleout.${config}.parcelsPerSec`)).toBeGreaterThan(0);
    expect(value(figures, 'scaleout.pg3.vsPg1')).toBeCloseTo(
      value(figures, 'scaleout.pg3.parcelsPerSec') / value(figures, 'scaleout.pg1.parcelsPerSec'),
    );
    expect(value(figures, 'scaleout.pg1.vsSqlite1')).toBeGreaterThan(0);
    for (const name of ['sqlite1.i0', 'pg1.i0', 'pg3.i0', 'pg3.i1', 'pg3.i2']) {
      expect(value(figures, `scaleout.${name}.peakRssMiB`)).toBeGreaterThan(20);
    }
    expect(figures.get('scaleout.pg3.i3.peakRssMiB')).toBeUndefined();
    // Each instance holds at least one connection (its pool, its LISTEN): three hold more than one.
    expect(value(figures, 'scaleout.pg3.dbConnections')).toBeGreaterThan(value(figures, 'scaleout.pg1.dbConnections'));
    expect(figures.get('scaleout.sqlite1.dbConnections')).toBeUndefined();
    expect(value(figures, 'scaleout.pg1.cpuSeconds.postgres')).toBeGreaterThan(0);
    // The CPU per parcel of each part, and what it allows: the main thread is part of its process.
    for (const config of ['sqlite1', 'pg1', 'pg3']) {
      expect(value(figures, `scaleout.${config}.cpuMsPerParcel.total`)).toBeGreaterThan(0);
      expect(value(figures, `scaleout.${config}.cpuBoundParcelsPerSec`)).toBeGreaterThan(0);
      expect(value(figures, `scaleout.${config}.i0.mainThreadCpuSeconds`)).toBeLessThanOrEqual(
        value(figures, `scaleout.${config}.i0.cpuSeconds`),
      );
    }
    expect(value(figures, 'scaleout.pg3.dbTransactionsPerParcel')).toBeGreaterThan(0);
    expect(figures.get('scaleout.sqlite1.dbTransactionsPerParcel')).toBeUndefined();
  });
});
