#!/usr/bin/env node
/**
 * npm run bench -- [--only GROUP[,GROUP…]] [--json FILE] [--seconds N] [--warmup N] [--concurrency N] [--list]
 *
 * Runs the selected groups in this one process, prints a table of their figures (stdout; progress
 * goes to stderr) and, with --json, writes them as {"figures": {NAME: {"value", "unit"}}, …}.
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import {
  DEFAULT_OPTIONS,
  DEFAULT_SIZES,
  FigureRegistry,
  parseSizeList,
  renderMarkdown,
  renderTable,
  selectGroups,
  writeJsonReport,
  type BenchOptions,
} from '../harness';
import { CORE_MEASUREMENTS, GROUPS } from '../groups';

const USAGE = `usage: bench [--only GROUP[,GROUP...]] [--json FILE] [--markdown FILE] [--chart FILE] [--pipeline-chart FILE]
             [--seconds N] [--warmup N] [--concurrency N] [--pipeline-n N[,N...]] [--scale-sizes N[,N...]]
             [--relay-mib N] [--scaleout-parcels N] [--core-only NAME[,NAME...]] [--list]

  --only GROUP       run only these groups (repeatable or comma-separated)
  --json FILE        also write the figures as JSON
  --seconds N        time budget of each throughput measurement (default ${DEFAULT_OPTIONS.seconds})
  --warmup N         warm-up before each measurement, in seconds (default ${DEFAULT_OPTIONS.warmupSeconds})
  --concurrency N    operations in flight, for every implementation alike (default ${DEFAULT_OPTIONS.concurrency})
  --markdown FILE    also write the figures as Markdown tables (one per group)
  --chart FILE       write the scale group's chart (SVG) of throughput against queue size
  --pipeline-chart FILE write the pipeline group's chart (SVG) of the time per parcel of each stage
  --pipeline-n LIST  pipeline: tweets (and timeline updates) per run (default ${DEFAULT_SIZES.pipelineN.join(',')})
  --scale-sizes LIST scale: parcels queued at the user gateway (default ${DEFAULT_SIZES.scaleSizes.join(',')})
  --relay-mib N      relay: MiB of cargo carried in each direction (default ${DEFAULT_SIZES.relayMiB})
  --scaleout-parcels N scaleout: parcels each way per configuration (default ${DEFAULT_SIZES.scaleoutParcels})
  --core-only LIST   core: only these measurements, each with its floor and relaynet-core (${CORE_MEASUREMENTS.join(', ')})
  --list             list the groups and exit`;

function positiveNumber(flag: string, text: string | undefined, fallback: number, integer = false): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && (!Number.isInteger(value) || value < 1))) {
    throw new Error(`${flag} must be a ${integer ? 'positive integer' : 'non-negative number'} (got "${text}")`);
  }
  return value;
}

function splitNames(values: readonly string[]): string[] {
  return values
    .flatMap((value) => value.split(','))
    .map((name) => name.trim())
    .filter(Boolean);
}

function parseNameList(flag: string, values: readonly string[] | undefined, known: readonly string[]) {
  if (values === undefined) return undefined;
  const names = splitNames(values);
  const unknown = names.filter((name) => !known.includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`${flag} takes names among ${known.join(', ')} (got "${values.join(',')}")`);
  }
  return names;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      json: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      chart: { type: 'string' },
      'pipeline-chart': { type: 'string' },
      markdown: { type: 'string' },
      'pipeline-n': { type: 'string' },
      'scale-sizes': { type: 'string' },
      'relay-mib': { type: 'string' },
      'scaleout-parcels': { type: 'string' },
      'core-only': { type: 'string', multiple: true },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.list) {
    for (const group of GROUPS) process.stdout.write(`${group.name}\t${group.description}\n`);
    return;
  }
  const options: BenchOptions = {
    seconds: positiveNumber('--seconds', values.seconds, DEFAULT_OPTIONS.seconds),
    warmupSeconds: positiveNumber('--warmup', values.warmup, DEFAULT_OPTIONS.warmupSeconds),
    concurrency: positiveNumber('--concurrency', values.concurrency, DEFAULT_OPTIONS.concurrency, true),
    sizes: {
      pipelineN: parseSizeList('--pipeline-n', values['pipeline-n'], DEFAULT_SIZES.pipelineN),
      scaleSizes: parseSizeList('--scale-sizes', values['scale-sizes'], DEFAULT_SIZES.scaleSizes),
      relayMiB: positiveNumber('--relay-mib', values['relay-mib'], DEFAULT_SIZES.relayMiB, true),
      scaleoutParcels: positiveNumber(
        '--scaleout-parcels',
        values['scaleout-parcels'],
        DEFAULT_SIZES.scaleoutParcels,
        true,
      ),
    },
    coreOnly: parseNameList('--core-only', values['core-only'], CORE_MEASUREMENTS),
  };
  // `npm run` moves to the package root; a relative path is the caller's (INIT_CWD).
  const callerPath = (path: string) => resolve(process.env.INIT_CWD ?? process.cwd(), path);
  const chartFile = values.chart === undefined ? undefined : callerPath(values.chart);
  const pipelineChartFile = values['pipeline-chart'] === undefined ? undefined : callerPath(values['pipeline-chart']);
  const only = values.only && splitNames(values.only);
  const groups = selectGroups(GROUPS, only);

  const figures = new FigureRegistry();
  const log = (message: string) => process.stderr.write(`… ${message}\n`);
  const started = new Date();
  // A group that fails is noted and the others still run: a long run keeps what it measured.
  const failed: string[] = [];
  for (const group of groups) {
    log(`group ${group.name}: ${group.description}`);
    try {
      await group.run({ options, figures, log, chartFile, pipelineChartFile });
    } catch (error) {
      failed.push(group.name);
      figures.note(`group ${group.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      log(`group ${group.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  const meta = {
    groups: groups.map((group) => group.name),
    failedGroups: failed,
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    options,
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  };
  process.stdout.write(
    `\nBenchmark (${meta.groups.join(', ')}; node ${meta.node}, ${meta.cpus} CPUs, concurrency ${options.concurrency}, ` +
      `${options.seconds} s per measurement)\n\n`,
  );
  process.stdout.write(renderTable(figures));
  if (values.json) {
    const file = callerPath(values.json);
    await writeJsonReport(file, figures.toReport(meta));
    process.stderr.write(`figures written to ${file}\n`);
  }
  if (values.markdown) {
    const file = callerPath(values.markdown);
    await writeFile(file, renderMarkdown(figures));
    process.stderr.write(`tables written to ${file}\n`);
  }
  if (failed.length > 0) {
    process.stderr.write(`bench: group(s) failed: ${failed.join(', ')} (see the notes)\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
