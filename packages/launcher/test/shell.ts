/** Test helpers for README-driven tests: commands through a shell as a user pastes them, and background systems. */
import { spawn, type ChildProcess } from 'node:child_process';

import { runProcess, waitFor } from '@twitter-relaynet/test-support';

import { REPO_ROOT } from '../src/layout';

export interface ShellResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Commands run through `sh -c` from the repository root in one environment; every run is kept in `transcript`. */
export class Shell {
  constructor(
    public env: NodeJS.ProcessEnv,
    readonly transcript: string[] = [],
  ) {}

  async run(command: string): Promise<ShellResult> {
    const { status, stdout, stderr } = await runProcess('sh', ['-c', command], { cwd: REPO_ROOT, env: this.env });
    this.transcript.push(`$ ${command}\n[exit ${status}]\n${stdout}${stderr}`);
    return { status, stdout, stderr };
  }
}

/**
 * Probe until it returns non-null (test-support's `waitFor`, with the system's output on a time-out). The timeout is a
 * safety net for a broken system, not a pace: the probe is what is awaited. `context` adds what helps to diagnose a
 * time-out (the system's output, the last commands).
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | null>,
  context: () => string,
  timeoutMs = 90_000,
  intervalMs = 500,
): Promise<T> {
  try {
    const found = await waitFor(
      what,
      async () => {
        const value = await probe();
        return value === null ? null : { value };
      },
      timeoutMs,
      intervalMs,
    );
    return found.value;
  } catch (error) {
    throw new Error(`${(error as Error).message}.\n${context()}`);
  }
}

/** A long-running command (such as `npm start`) in its own process group, so that "Ctrl-C" reaches all of it. */
export class Background {
  output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(command: string, env: NodeJS.ProcessEnv) {
    // exec after any leading VAR=value words (`VAR=value exec cmd` passes them on): the command replaces the shell.
    const execed = command.replace(/^((?:\w+=\S*\s+)*)/, '$1exec ');
    this.child = spawn('sh', ['-c', execed], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exit = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Ctrl-C to the whole group. */
  interrupt(): void {
    this.signal('SIGINT');
  }

  /** For afterAll: Ctrl-C, and if that hangs, SIGKILL to the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.interrupt();
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      this.exit.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 20_000))),
    ]);
    clearTimeout(timer);
    if (!stopped) this.signal('SIGKILL');
  }

  private signal(name: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, name);
    } catch {
      // already gone
    }
  }
}
