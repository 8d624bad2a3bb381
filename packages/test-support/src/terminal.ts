/** Test helpers: processes watched line by line, on a pipe or on a real pseudo-terminal. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Every process started here and not yet ended, for stopAll. */
const live = new Set<Running>();

/** A running process: its output so far (stdout and stderr), and a way to wait for a line. */
export class Running {
  output = '';
  private readonly waiters: Array<() => void> = [];
  readonly done: Promise<number | null>;

  /** `onTerminal`: the child is util-linux's script, and Ctrl-C is typed rather than sent. */
  constructor(
    readonly child: ChildProcessWithoutNullStreams,
    private readonly terminal = false,
  ) {
    live.add(this);
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
        for (const waiter of this.waiters) waiter();
      });
    }
    this.done = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status) => {
        live.delete(this);
        resolve(status);
      });
    });
  }

  /** Ctrl-C: typed on the terminal, or SIGINT. */
  interrupt(): void {
    if (this.terminal) this.child.stdin.write('\x03');
    else this.child.kill('SIGINT');
  }

  /** Resolves when the output matches; fails if the process ends first. */
  waitFor(pattern: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => pattern.test(this.output) && resolve();
      this.waiters.push(check);
      check();
      void this.done.then(() => reject(new Error(`the process ended without printing ${pattern}:\n${this.output}`)));
    });
  }
}

/**
 * A command on a pseudo-terminal (util-linux's script): its stdin, stdout and stderr are a terminal, and what is
 * written to `child.stdin` is typed into it (\x03 is Ctrl-C).
 */
export function onTerminal(argv: readonly string[], env: NodeJS.ProcessEnv): Running {
  // script runs the command with $SHELL -c. Under CI SHELL is unset, so that is dash, which forks rather than execs
  // the command: Ctrl-C then killed the waiting shell (exit 130) while the command was still shutting down cleanly.
  // `exec` leaves the command alone on the terminal whatever the shell; SHELL is fixed so the test is the same anywhere.
  const command = `exec ${argv.map((word) => `'${word}'`).join(' ')}`;
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    env: { ...env, SHELL: '/bin/sh' },
  });
  return new Running(child, true);
}

/** For afterEach: a test that failed while waiting leaves nothing running (the daemons of an npm start included). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].map((running) => {
      running.interrupt();
      return running.done.catch(() => undefined);
    }),
  );
}
