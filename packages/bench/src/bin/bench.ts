#!/usr/bin/env node
/**
 * npm run bench -- [--only GROUP[,GROUP…]] [--json FILE] [--seconds N] [--warmup N] [--concurrency N] [--list]
 *
 * Runs the selected groups in this one process, prints a table of their figures (stdout; progress
 * goes to stderr) and, with --json, writes them as {"figures": {NAME: {"value", "unit"}}, …}.
 */
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { DEFAULT_OPTIONS, FigureRegistry, renderTable, selectGroups, writeJsonReport, type BenchOptions } from '../harness';
import { GROUPS } from '../groups';

const USAGE = `usage: bench [--only GROUP[,GROUP...]] [--json FILE] [--seconds N] [--warmup N] [--concurrency N] [--list]

  --only GROUP       run only these groups (repeatable or comma-separated)
  --json FILE        also write the figures as JSON
  --seconds N        time budget of each throughput measurement (default ${DEFAULT_OPTIONS.seconds})
  --warmup N         warm-up before each measurement, in seconds (default ${DEFAULT_OPTIONS.warmupSeconds})
  --concurrency N    operations in flight, for every implementation alike (default ${DEFAULT_OPTIONS.concurrency})
  --list             list the groups and exit`;

function positiveNumber(flag: string, text: string | undefined, fallback: number, integer = false): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && (!Number.isInteger(value) || value < 1))) {
    throw new Error(`${flag} must be a ${integer ? 'positive integer' : 'non-negative number'} (got "${text}")`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      json: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
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
  };
  const only = values.only?.flatMap((value) => value.split(',')).map((name) => name.trim()).filter(Boolean);
  const groups = selectGroups(GROUPS, only);

  const figures = new FigureRegistry();
  const log = (message: string) => process.stderr.write(`… ${message}\n`);
  const started = new Date();
  for (const group of groups) {
    log(`group ${group.name}: ${group.description}`);
    await group.run({ options, figures, log });
  }

  const meta = {
    groups: groups.map((group) => group.name),
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
    // `npm run` moves to the package root; a relative path is the caller's (INIT_CWD).
    const file = resolve(process.env.INIT_CWD ?? process.cwd(), values.json);
    await writeJsonReport(file, figures.toReport(meta));
    process.stderr.write(`figures written to ${file}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
