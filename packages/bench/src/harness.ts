/**
 * The benchmark harness: named groups, a registry of figures (and of ratios between figures
 * measured in the same run), throughput timing, a table printer and a JSON writer.
 *
 * Everything here but `measureThroughput` is deterministic, so it is unit tested.
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------------------------------------
// Options and groups

export interface BenchOptions {
  /** Time budget of one throughput measurement, in seconds (in-flight operations then finish). */
  readonly seconds: number;
  /** Warm-up before each throughput measurement, in seconds (same concurrency, discarded). */
  readonly warmupSeconds: number;
  /** Operations in flight at once, for every implementation and floor alike. */
  readonly concurrency: number;
  /** Sizes of the end-to-end groups (the sizes by default; small ones for smoke tests). */
  readonly sizes?: Partial<GroupSizes>;
  /** `core`: measure only these (e.g. cargoUnwrap, floor, bigRoundTrip); all when absent. */
  readonly coreOnly?: readonly string[];
}

export interface GroupSizes {
  /** `pipeline`: tweets (and timeline updates) per run, one run per value. */
  readonly pipelineN: readonly number[];
  /** `scale`: parcels queued at the user gateway, one run per value. */
  readonly scaleSizes: readonly number[];
  /** `relay`: MiB of cargo carried through bin/relay in each direction. */
  readonly relayMiB: number;
  /** `scaleout`: parcels each way per configuration. */
  readonly scaleoutParcels: number;
}

export const DEFAULT_SIZES: GroupSizes = {
  pipelineN: [1_000, 10_000],
  scaleSizes: [1_000, 10_000, 100_000],
  relayMiB: 1_024,
  scaleoutParcels: 2_000,
};

/** "1000,10000" → [1000, 10000]: positive integers, at least one; `fallback` when absent. */
export function parseSizeList(flag: string, text: string | undefined, fallback: readonly number[]): readonly number[] {
  if (text === undefined) return fallback;
  const values = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map(Number);
  if (values.length === 0 || values.some((value) => !Number.isInteger(value) || value < 1)) {
    throw new Error(`${flag} must be a comma-separated list of positive integers (got "${text}")`);
  }
  return values;
}

export function groupSizes(options: BenchOptions): GroupSizes {
  return { ...DEFAULT_SIZES, ...options.sizes };
}

export const DEFAULT_OPTIONS: BenchOptions = { seconds: 1.5, warmupSeconds: 0.3, concurrency: 8 };

export interface GroupContext {
  readonly options: BenchOptions;
  readonly figures: FigureRegistry;
  /** Progress messages (to stderr; stdout carries the table). */
  readonly log: (message: string) => void;
  /** Where a group may write a chart (SVG) of its figures; none when unset. */
  readonly chartFile?: string;
  /** Where the pipeline group writes its chart (SVG) of the time per stage; none when unset. */
  readonly pipelineChartFile?: string;
}

/** A named set of measurements. Its figures are named `<group name>.…`. */
export interface BenchGroup {
  readonly name: string;
  readonly description: string;
  run(context: GroupContext): Promise<void>;
}

/** The groups to run: all of them, or those named in `only` (in registry order). */
export function selectGroups(groups: readonly BenchGroup[], only?: readonly string[]): BenchGroup[] {
  const names = new Set<string>();
  for (const group of groups) {
    if (names.has(group.name)) throw new Error(`Duplicate benchmark group "${group.name}"`);
    names.add(group.name);
  }
  if (!only || only.length === 0) return [...groups];
  const unknown = only.filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new Error(`Unknown benchmark group(s): ${unknown.join(', ')} (known: ${[...names].join(', ')})`);
  }
  return groups.filter((group) => only.includes(group.name));
}

// ---------------------------------------------------------------------------------------------
// Figures and ratios

export interface Figure {
  readonly value: number;
  readonly unit: string;
}

/** Acceptable range of a ratio (inclusive). */
export interface Target {
  readonly min?: number;
  readonly max?: number;
}

export interface RatioFigure extends Figure {
  readonly name: string;
  /** The figure measured. */
  readonly numerator: string;
  /** The baseline it is compared with, measured in the same run. */
  readonly denominator: string;
  /** Short name of the baseline, for the table ("relaynet-core", "floor"). */
  readonly label: string;
  readonly target?: Target;
  /** Whether the target is met (undefined without a target). */
  readonly met?: boolean;
}

export const RATIO_UNIT = 'x';

const FIGURE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** `numerator / denominator`, or null when that is not a finite number. */
export function computeRatio(numerator: number, denominator: number): number | null {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return null;
  const ratio = numerator / denominator;
  return Number.isFinite(ratio) ? ratio : null;
}

export function meetsTarget(value: number, target: Target): boolean {
  return (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max);
}

export function describeTarget(target: Target): string {
  const parts: string[] = [];
  // 1/3 reads "≥0.333", not "≥0.3333333333333333".
  if (target.min !== undefined) parts.push(`≥${Number(target.min.toPrecision(3))}`);
  if (target.max !== undefined) parts.push(`≤${Number(target.max.toPrecision(3))}`);
  return parts.join(' ');
}

export interface BenchReport {
  readonly figures: Record<string, Figure>;
  /** How each ratio figure was computed, and whether it met its target. */
  readonly ratios: Record<string, Omit<RatioFigure, 'name' | 'value' | 'unit'>>;
  readonly meta: Record<string, unknown>;
}

/** Every figure of a run, in the order recorded. Ratio figures are figures too (unit "x"). */
export class FigureRegistry {
  private readonly measured = new Map<string, Figure>();
  private readonly ratioFigures = new Map<string, RatioFigure>();
  private readonly notes: string[] = [];

  record(name: string, value: number, unit: string): Figure {
    this.assertNewName(name);
    if (!Number.isFinite(value)) throw new Error(`Figure ${name} is not a finite number (${value})`);
    const figure = { value, unit };
    this.measured.set(name, figure);
    return figure;
  }

  /**
   * Record `numerator / denominator` as the figure `name`. When either figure is missing or the
   * ratio is not finite, nothing is recorded, a note says why, and undefined is returned.
   */
  ratio(
    name: string,
    numerator: string,
    denominator: string,
    options: { label: string; target?: Target },
  ): RatioFigure | undefined {
    this.assertNewName(name);
    const top = this.measured.get(numerator);
    const bottom = this.measured.get(denominator);
    if (!top || !bottom) {
      this.note(`${name} not computed: ${!top ? numerator : denominator} was not measured`);
      return undefined;
    }
    const value = computeRatio(top.value, bottom.value);
    if (value === null) {
      this.note(`${name} not computed: ${numerator} / ${denominator} is not finite`);
      return undefined;
    }
    const ratio: RatioFigure = {
      name,
      value,
      unit: RATIO_UNIT,
      numerator,
      denominator,
      label: options.label,
      ...(options.target ? { target: options.target, met: meetsTarget(value, options.target) } : {}),
    };
    this.ratioFigures.set(name, ratio);
    return ratio;
  }

  note(message: string): void {
    this.notes.push(message);
  }

  get(name: string): Figure | undefined {
    return this.measured.get(name) ?? this.ratioFigures.get(name);
  }

  get measuredNames(): string[] {
    return [...this.measured.keys()];
  }

  get ratios(): RatioFigure[] {
    return [...this.ratioFigures.values()];
  }

  get allNotes(): string[] {
    return [...this.notes];
  }

  /** Ratios whose numerator is `name`, in the order recorded. */
  ratiosOf(name: string): RatioFigure[] {
    return this.ratios.filter((ratio) => ratio.numerator === name);
  }

  toReport(meta: Record<string, unknown> = {}): BenchReport {
    const figures: Record<string, Figure> = {};
    for (const [name, { value, unit }] of this.measured) figures[name] = { value, unit };
    const ratios: BenchReport['ratios'] = {};
    for (const { name, value, unit, ...how } of this.ratioFigures.values()) {
      figures[name] = { value, unit };
      ratios[name] = how;
    }
    return { figures, ratios, meta: { ...meta, ...(this.notes.length ? { notes: this.allNotes } : {}) } };
  }

  private assertNewName(name: string): void {
    if (!FIGURE_NAME.test(name)) throw new Error(`Invalid figure name "${name}"`);
    if (this.measured.has(name) || this.ratioFigures.has(name)) throw new Error(`Figure ${name} recorded twice`);
  }
}

export async function writeJsonReport(file: string, report: BenchReport): Promise<void> {
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Table

/** Three significant digits, thousands separated; integers above 1000 are written whole. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude === 0) return '0';
  const decimals = Math.max(0, 2 - Math.floor(Math.log10(magnitude)));
  return value.toFixed(Math.min(decimals, 4));
}

export function formatRatio(ratio: RatioFigure): string {
  const target = ratio.target ? ` (target ${describeTarget(ratio.target)}: ${ratio.met ? 'ok' : 'MISSED'})` : '';
  return `${formatNumber(ratio.value)}× ${ratio.label}${target}`;
}

/**
 * One row per measured figure, with the ratios computed from it in the last column. A blank line
 * and a heading separate groups (the first segment of the names).
 */
export function renderTable(registry: FigureRegistry): string {
  const header = ['figure', 'value', 'unit', 'compared with baselines of the same run'];
  const rows: (string[] | string)[] = [];
  let group: string | undefined;
  for (const name of registry.measuredNames) {
    const figureGroup = name.split('.')[0];
    if (figureGroup !== group) {
      group = figureGroup;
      rows.push(`[${group}]`);
    }
    const figure = registry.get(name)!;
    const ratios = registry.ratiosOf(name).map(formatRatio).join('; ');
    rows.push([name, formatNumber(figure.value), figure.unit, ratios]);
  }
  const tableRows = rows.filter((row): row is string[] => Array.isArray(row));
  const widths = header.map((title, column) => Math.max(title.length, ...tableRows.map((row) => row[column].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === 1 ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((width) => '-'.repeat(width)))];
  for (const row of rows) out.push(typeof row === 'string' ? row : line(row));
  const notes = registry.allNotes;
  if (notes.length) out.push('', ...notes.map((note) => `note: ${note}`));
  return `${out.join('\n')}\n`;
}

/** The same figures as Markdown: one table per group, ratios and targets beside their figure. */
export function renderMarkdown(registry: FigureRegistry): string {
  const out: string[] = [];
  let group: string | undefined;
  for (const name of registry.measuredNames) {
    const figureGroup = name.split('.')[0];
    if (figureGroup !== group) {
      group = figureGroup;
      out.push(
        '',
        `### ${group}`,
        '',
        '| figure | value | unit | compared with baselines of the same run |',
        '| --- | ---: | --- | --- |',
      );
    }
    const figure = registry.get(name)!;
    const ratios = registry
      .ratiosOf(name)
      .map((ratio) => formatRatio(ratio).replace('MISSED', '**MISSED**'))
      .join('; ');
    out.push(`| \`${name}\` | ${formatNumber(figure.value)} | ${figure.unit} | ${ratios} |`);
  }
  const notes = registry.allNotes;
  if (notes.length) out.push('', ...notes.map((note) => `- note: ${note}`));
  return `${out.join('\n').trimStart()}\n`;
}

// ---------------------------------------------------------------------------------------------
// Timing

export interface ThroughputOptions {
  readonly seconds: number;
  readonly concurrency: number;
  readonly warmupSeconds?: number;
}

export interface ThroughputResult {
  /** Operations completed. */
  readonly ops: number;
  /** From the first start to the last completion (in-flight operations finish after the budget). */
  readonly seconds: number;
  readonly opsPerSec: number;
}

/**
 * Run `op` with `concurrency` invocations in flight until the time budget is spent, after a
 * warm-up run that is discarded. Every worker completes at least one operation.
 */
export async function measureThroughput(
  op: () => Promise<unknown> | unknown,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  if (options.warmupSeconds && options.warmupSeconds > 0) {
    await runFor(op, options.warmupSeconds, options.concurrency);
  }
  const { ops, seconds } = await runFor(op, options.seconds, options.concurrency);
  return { ops, seconds, opsPerSec: ops / seconds };
}

async function runFor(
  op: () => Promise<unknown> | unknown,
  seconds: number,
  concurrency: number,
): Promise<{ ops: number; seconds: number }> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let ops = 0;
  const worker = async () => {
    do {
      await op();
      ops++;
    } while (performance.now() < deadline);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(concurrency)) }, worker));
  return { ops, seconds: (performance.now() - start) / 1000 };
}

/** Time one call, in milliseconds. */
export async function timeOnce<T>(op: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await op();
  return { result, ms: performance.now() - start };
}
