/**
 * Before `npm start` starts anything: is the system running already? A second start would otherwise fail on the
 * first port it cannot have (listen EADDRINUSE) after its other processes had started on the same data root.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Something the system needs that another process has. */
export interface Taken {
  /** e.g. "port 8085 (the X API emulator)". */
  readonly what: string;
  /** The process that has it, when this machine says (Linux /proc, own processes or root). */
  readonly holder: { readonly pid: number; readonly command: string } | null;
}

export type Probe =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly owner: string }
  | { readonly kind: 'unix'; readonly path: string; readonly owner: string };

function tcpPortTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** A socket file nobody listens on is a leftover the daemon removes itself: only a live one counts. */
function unixSocketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The inode of the listening socket, from the kernel's tables. */
function listeningInode(probe: Probe): string | null {
  if (probe.kind === 'tcp') {
    const port = probe.port.toString(16).toUpperCase().padStart(4, '0');
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const row of readOrEmpty(table).split('\n').slice(1)) {
        const columns = row.trim().split(/\s+/);
        // local_address is HEXADDR:HEXPORT; state 0A is LISTEN.
        if (columns[1]?.endsWith(`:${port}`) && columns[3] === '0A') return columns[9];
      }
    }
    return null;
  }
  for (const row of readOrEmpty('/proc/net/unix').split('\n').slice(1)) {
    const columns = row.trim().split(/\s+/);
    // Flags 00010000 marks a listening socket; accepted connections may show the same path.
    if (columns[7] === probe.path && (parseInt(columns[3], 16) & 0x10000) !== 0) return columns[6];
  }
  return null;
}

function holderOf(probe: Probe): Taken['holder'] {
  const inode = listeningInode(probe);
  if (!inode) return null;
  const target = `socket:[${inode}]`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to see
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link === target) {
        const command = readOrEmpty(`/proc/${pid}/cmdline`).split('\0').filter(Boolean).join(' ');
        return { pid: Number(pid), command };
      }
    }
  }
  return null;
}

/** What of `probes` another process has already (empty: the way is clear). */
export async function findTaken(probes: readonly Probe[]): Promise<Taken[]> {
  const taken: Taken[] = [];
  for (const probe of probes) {
    const inUse =
      probe.kind === 'tcp' ? await tcpPortTaken(probe.host, probe.port) : await unixSocketAnswers(probe.path);
    if (!inUse) continue;
    const what =
      probe.kind === 'tcp' ? `port ${probe.host}:${probe.port} (${probe.owner})` : `${probe.path} (${probe.owner})`;
    taken.push({ what, holder: holderOf(probe) });
  }
  return taken;
}

/** The message of a start refused because the system seems to run already. */
export function describeTaken(taken: readonly Taken[]): string {
  const lines = taken.map(
    ({ what, holder }) => `  ${what} is in use${holder ? ` by process ${holder.pid}: ${holder.command}` : ''}`,
  );
  const pids = [...new Set(taken.flatMap(({ holder }) => (holder ? [holder.pid] : [])))];
  return (
    'start: the system seems to be running already (another npm start?), so nothing was started:\n' +
    `${lines.join('\n')}\n` +
    `Use the one that runs, or stop it first (Ctrl-C in its terminal${pids.length ? `, or kill ${pids.join(' ')}` : ''}); ` +
    'to run a second system beside it, give it another --data-root, X_API_EMULATOR_PORT,\n' +
    'RELAYER_GATEWAY_POGRPC_ADDRESS, RELAYER_GATEWAY_COGRPC_ADDRESS and TWITTER_API_ADAPTER_POGRPC_ADDRESS.\n'
  );
}
