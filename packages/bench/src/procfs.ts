/**
 * Memory of another process, from Linux's /proc (the figures are Linux-only; elsewhere they are
 * reported as not measured).
 *
 * bin/* are sh scripts that `exec node`, so the pid of a spawned bin/* is node's own once the
 * script has run: read it after the child printed something, not right after spawn.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface ProcessMemory {
  /** Resident set size now, in KiB. */
  readonly rssKiB: number;
  /** Peak resident set size (VmHWM) since the start or the last `resetPeakRss`, in KiB. */
  readonly peakRssKiB: number;
  /** The command name, to check that we are looking at node and not at a shell. */
  readonly name: string;
}

/** The memory of `pid`, or null when /proc cannot tell (not Linux, process gone). */
export function readProcessMemory(pid: number): ProcessMemory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  return parseProcStatus(status);
}

export function parseProcStatus(status: string): ProcessMemory | null {
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
  const kib = (name: string): number | undefined => {
    const match = /^(\d+)\s*kB$/.exec(field(name) ?? '');
    return match ? Number(match[1]) : undefined;
  };
  const rssKiB = kib('VmRSS');
  const peakRssKiB = kib('VmHWM');
  if (rssKiB === undefined || peakRssKiB === undefined) return null;
  return { rssKiB, peakRssKiB, name: field('Name') ?? '' };
}

/**
 * Reset the peak RSS of `pid` to its current RSS (Linux ≥ 4.0: "5" to /proc/PID/clear_refs; the
 * process must be ours). Returns false when that is not possible, in which case the peak covers
 * the process's whole life.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export const KIB_PER_MIB = 1024;
