/**
 * What the relay tells its user: per-file problems (always, one line each), progress bars on a terminal,
 * and the one-line summary. Structured JSON logs (--verbose) go through the Logger instead.
 */
import type { MessageKind } from './flashdrive';

/** Exit statuses (documented in README.md and --help). */
export const ExitCode = {
  /** Something was delivered or collected, and nothing went wrong. */
  DONE: 0,
  /** At least one problem: an invalid or unreadable file, cargo not acked, a write or connection failure. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Nothing was delivered or collected, and nothing went wrong. */
  NOTHING_TO_DO: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Octets in SI units, like `ls -h --si`: 999 B, 1.2 kB, 800 kB, 12 MB. */
export function formatOctets(octets: number): string {
  if (octets < 1000) return `${octets} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = octets;
  let unit = -1;
  do {
    value /= 1000;
    unit++;
  } while (value >= 999.5 && unit < units.length - 1);
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value).toString()} ${units[unit]}`;
}

export interface Tally {
  count: number;
  octets: number;
}

/** The outcome of a run. */
export interface RelayResult {
  incomingExists: boolean;
  delivered: Tally;
  collectedCargo: Tally;
  collectedCcas: number;
  /** Cargo files still on the flashdrive because the gateway never acked them. */
  undelivered: number;
  /** Cargo and pickup authorizations the gateway refused, saying why (kept, or moved aside if for good). */
  refused: number;
  /** Files that are not valid cargo or CCAs (left in place). */
  invalidFiles: number;
  /** Every other problem: unreadable files, connection failures, failed writes or deletions. */
  errors: number;
}

export function emptyResult(): RelayResult {
  return {
    incomingExists: true,
    delivered: { count: 0, octets: 0 },
    collectedCargo: { count: 0, octets: 0 },
    collectedCcas: 0,
    undelivered: 0,
    refused: 0,
    invalidFiles: 0,
    errors: 0,
  };
}

export function exitCodeOf(result: RelayResult): ExitCode {
  if (result.undelivered || result.refused || result.invalidFiles || result.errors) return ExitCode.FAILURE;
  if (result.delivered.count + result.collectedCargo.count + result.collectedCcas === 0) {
    return ExitCode.NOTHING_TO_DO;
  }
  return ExitCode.DONE;
}

const plural = (count: number, singular: string, pluralForm = `${singular}s`) =>
  `${count} ${count === 1 ? singular : pluralForm}`;

/**
 * e.g. `relay: delivered 3 cargo (1.2 MB), collected 2 cargo (800 kB) and 1 pickup authorization into
 * /media/usb/relayer-gw` (where it went is said when something was saved there).
 */
export function formatSummary(result: RelayResult, outgoing?: string): string {
  const problems: string[] = [];
  if (result.refused) problems.push(`${plural(result.refused, 'file')} refused by the gateway`);
  if (result.undelivered) problems.push(`${result.undelivered} cargo not delivered (kept)`);
  if (result.invalidFiles) problems.push(`${plural(result.invalidFiles, 'invalid file')} left in place`);
  if (result.errors) problems.push(plural(result.errors, 'error'));
  const moved =
    `delivered ${result.delivered.count} cargo (${formatOctets(result.delivered.octets)}), ` +
    `collected ${result.collectedCargo.count} cargo (${formatOctets(result.collectedCargo.octets)}) ` +
    `and ${plural(result.collectedCcas, 'pickup authorization')}` +
    (outgoing && result.collectedCargo.count + result.collectedCcas > 0 ? ` into ${outgoing}` : '');
  if (problems.length) return `relay: ${moved}; ${problems.join(', ')}`;
  if (exitCodeOf(result) === ExitCode.NOTHING_TO_DO) return `relay: nothing to do (no cargo delivered or collected)`;
  return `relay: ${moved}`;
}

/** Progress events from a run. Human-readable problem lines always go through `line`. */
export interface Reporter {
  /** A line for the user (problem or notice), printed whatever the mode. */
  line(text: string): void;
  deliveryStarted(files: number, octets: number): void;
  /** A file counted in deliveryStarted turned out not to be deliverable (invalid, unreadable). */
  deliveryDropped(octets: number): void;
  cargoDelivered(octets: number): void;
  deliveryFinished(): void;
  waiting(seconds: number): void;
  collectionStarted(label: string): void;
  collected(kind: MessageKind, octets: number): void;
  collectionFinished(): void;
  /** Clear any progress display (before the summary). */
  finish(): void;
}

export interface OutputStream {
  write(text: string): unknown;
  readonly columns?: number;
}

/** Not a terminal: only the problem lines (the summary is printed by the caller). */
export class PlainReporter implements Reporter {
  public constructor(private readonly stream: OutputStream) {}
  public line(text: string): void {
    this.stream.write(`${text}\n`);
  }
  public deliveryStarted(): void {}
  public deliveryDropped(): void {}
  public cargoDelivered(): void {}
  public deliveryFinished(): void {}
  public waiting(seconds: number): void {
    this.line(describeWait(seconds));
  }
  public collectionStarted(): void {}
  public collected(): void {}
  public collectionFinished(): void {}
  public finish(): void {}
}

/** The pause between delivering and collecting, said so that a courier does not think the relay hangs. */
export function describeWait(seconds: number): string {
  return `relay: waiting ${seconds} s for the gateway's answers to what was delivered, to take them on this trip (--wait 0 skips this)`;
}

const CLEAR_LINE = '\r\x1b[2K';
const BAR_WIDTH = 24;

export function renderBar(done: number, total: number, width = BAR_WIDTH): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/**
 * A tiny progress display for a terminal: one live line (redrawn in place, at most every `intervalMs`),
 * finished phases left on screen, problem lines printed above the live line.
 */
export class TerminalProgress implements Reporter {
  private live: (() => string) | null = null;
  private lastRender = 0;
  private delivery = { files: 0, octets: 0, doneFiles: 0, doneOctets: 0 };
  private collection = { label: '', cargo: 0, octets: 0, ccas: 0 };

  public constructor(
    private readonly stream: OutputStream,
    private readonly intervalMs = 100,
    private readonly now: () => number = Date.now,
  ) {}

  public line(text: string): void {
    this.stream.write(`${this.live ? CLEAR_LINE : ''}${text}\n`);
    this.render(true);
  }

  public deliveryStarted(files: number, octets: number): void {
    this.delivery = { files, octets, doneFiles: 0, doneOctets: 0 };
    this.live = () => {
      const d = this.delivery;
      return (
        `relay: delivering ${renderBar(d.doneOctets, d.octets)} ${d.doneFiles}/${d.files} cargo ` +
        `${formatOctets(d.doneOctets)}/${formatOctets(d.octets)}`
      );
    };
    this.render(true);
  }

  public deliveryDropped(octets: number): void {
    this.delivery.files--;
    this.delivery.octets -= octets;
    this.render(false);
  }

  public cargoDelivered(octets: number): void {
    this.delivery.doneFiles++;
    this.delivery.doneOctets += octets;
    this.render(false);
  }

  public deliveryFinished(): void {
    this.endPhase();
  }

  public waiting(seconds: number): void {
    this.live = () => describeWait(seconds);
    this.render(true);
  }

  public collectionStarted(label: string): void {
    this.collection = { label, cargo: 0, octets: 0, ccas: 0 };
    this.live = () => {
      const c = this.collection;
      return (
        `relay: collecting ${c.label}: ${c.cargo} cargo (${formatOctets(c.octets)}), ` +
        `${plural(c.ccas, 'pickup authorization')}`
      );
    };
    this.render(true);
  }

  public collected(kind: MessageKind, octets: number): void {
    if (kind === 'cargo') {
      this.collection.cargo++;
      this.collection.octets += octets;
    } else {
      this.collection.ccas++;
    }
    this.render(false);
  }

  public collectionFinished(): void {
    this.endPhase();
  }

  public finish(): void {
    if (this.live) this.stream.write(CLEAR_LINE);
    this.live = null;
  }

  private endPhase(): void {
    if (!this.live) return;
    this.render(true);
    this.stream.write('\n');
    this.live = null;
  }

  private render(force: boolean): void {
    if (!this.live) return;
    const now = this.now();
    if (!force && now - this.lastRender < this.intervalMs) return;
    this.lastRender = now;
    let text = this.live();
    const columns = this.stream.columns;
    if (columns && text.length >= columns) text = text.slice(0, Math.max(0, columns - 1));
    this.stream.write(`${CLEAR_LINE}${text}`);
  }
}
