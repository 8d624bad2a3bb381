/**
 * Memory of another process, from Linux's /proc (the figures are Linux-only; elsewhere they are
 * reported as not measured).
 *
 * bin/* are sh scripts that `exec node`, so the pid of a spawned bin/* is node's own once the
 * script has run: read it after the child printed something, not right after spawn.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

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

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux port node runs on). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of /proc/PID/stat's text, in ms; null when unparsable. */
export function parseProcStatCpuMs(stat: string): number | null {
  // The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isInteger(user) || !Number.isInteger(system)) return null;
  return ((user + system) * 1000) / TICKS_PER_SECOND;
}

/** CPU time `pid` used so far (user + system), in ms; null when /proc cannot tell. */
export function readProcessCpuMs(pid: number): number | null {
  try {
    return parseProcStatCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * CPU time one thread of `pid` used so far, in ms; null when /proc cannot tell. The main thread's id is the pid: for
 * node, the event loop (with the synchronous crypto and the JavaScript), without the threadpool, GC helpers and JIT.
 */
export function readThreadCpuMs(pid: number, tid: number = pid): number | null {
  try {
    return parseProcStatCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** CPU time used so far by the processes whose command name is `name` (e.g. postgres), in ms; null without /proc. */
export function readCpuMsOfProcessesNamed(name: string): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return null;
  }
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name) total += parseProcStatCpuMs(stat) ?? 0;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}
