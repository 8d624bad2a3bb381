/** Test helpers for README-driven tests: commands through a shell as a user pastes them, and background systems. */
import { spawn, type ChildProcess } from 'node:child_process';

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

  run(command: string): Promise<ShellResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      child.on('error', reject);
      child.on('close', (status) => {
        const result = { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
        this.transcript.push(`$ ${command}\n[exit ${status}]\n${result.stdout}${result.stderr}`);
        resolve(result);
      });
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Probe until it returns non-null. The timeout is a safety net for a broken system, not a pace: the probe is
 * what is awaited. `context` adds what helps to diagnose a time-out (the system's output, the last commands).
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | null>,
  context: () => string,
  timeoutMs = 90_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.\n${context()}`);
    await sleep(intervalMs);
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
