/**
 * Child processes for tests and benchmarks: a command run to its exit with its output collected (`runProcess`), and a
 * daemon started until it says it is ready, its output collected, stopped with a signal (`Daemon`). Both are the
 * real executables; nothing here waits for time, only for the processes' own events.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { waitFor } from './waitFor';

/** How long a daemon may take to say it is ready before the test fails (a safety net, generous on a busy machine). */
const READY_TIMEOUT_MS = 60_000;

/** `tsc -b` of the given package folders of `repo` (incremental); throws with the compiler's output when it fails. */
export function buildPackages(repo: string, packages: readonly string[]): void {
  try {
    execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', ...packages], {
      cwd: repo,
      stdio: 'pipe',
    });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? String(error);
    throw new Error(`Could not build (tsc -b ${packages.join(' ')}):\n${output}`);
  }
}

/** How a run ended and what it wrote; its stdout is a Buffer with `stdoutAsBuffer` (binary output). */
export interface ProcessResult<Stdout extends string | Buffer = string> {
  /** The exit code, or null if a signal ended it. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Stdout;
  readonly stderr: string;
  /** Whether `killAfterMs` elapsed and the process was sent SIGKILL. */
  readonly killed: boolean;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Default: the system's temporary folder (nothing of the repository by accident). */
  readonly cwd?: string;
  /**
   * Written to its stdin, which is then closed; without it stdin is closed at once. The process may exit before
   * reading it all (a broken pipe is no error of the run).
   */
  readonly input?: string | Buffer;
  /** SIGKILL it after this long if it still runs (a crash trial, not a time-out). */
  readonly killAfterMs?: number;
  /** Called once it is spawned. */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** Run as another user (a test of permissions, when the tests run as root). */
  readonly uid?: number;
  readonly gid?: number;
}

/** Runs `command` with `args` to its end; resolves with its exit and everything it wrote (rejects if it cannot start). */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions & { readonly stdoutAsBuffer: true },
): Promise<ProcessResult<Buffer>>;
export function runProcess(command: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult>;
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions & { readonly stdoutAsBuffer?: boolean } = {},
): Promise<ProcessResult<string | Buffer>> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? tmpdir(),
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let killed = false;
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
    const timer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = child.kill('SIGKILL');
          }, options.killAfterMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: options.stdoutAsBuffer ? Buffer.concat(stdout) : Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        killed,
      });
    });
    options.onSpawn?.(child);
  });
}

/** One JSON log line of a daemon's stderr. */
export interface LogLine {
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface DaemonOptions {
  /** What messages call it; default the command's file name. */
  readonly name?: string;
  /** Its arguments; a function is called at every start (a restart may take other flags). */
  readonly args?: readonly string[] | (() => readonly string[]);
  /** Its whole environment; a function is called at every start (a restart may move the clock). Default: ours. */
  readonly env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  /** Default: the system's temporary folder. */
  readonly cwd?: string;
  /** It is ready once its stdout shows this (since this start). Default `<name>: ready`. */
  readonly readyText?: string;
  readonly readyTimeoutMs?: number;
  /** Keep only the last this many characters of stderr (a long benchmark logs a lot); default all of it. */
  readonly stderrTailChars?: number;
  /** Called with each whole line of stderr as it arrives. */
  readonly onStderrLine?: (line: string) => void;
}

/** A long-running child process: started until ready, restartable, stopped with a signal. */
export class Daemon {
  readonly name: string;
  /** All it wrote on stdout, over every start. */
  stdout = '';
  /** What it wrote on stderr, over every start (its tail only, with `stderrTailChars`). */
  stderr = '';
  /** How its last run ended; null while it runs, or before its first start. */
  exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private partialLine = '';

  constructor(
    readonly command: string,
    private readonly options: DaemonOptions = {},
  ) {
    this.name = options.name ?? basename(command);
  }

  /** Its process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Spawns it and resolves once it printed its ready text; throws if it exits first. */
  async start(): Promise<void> {
    const before = this.stdout.length;
    const { args = [], env = process.env } = this.options;
    const child = spawn(this.command, [...(typeof args === 'function' ? args() : args)], {
      cwd: this.options.cwd ?? tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: typeof env === 'function' ? env() : env,
    });
    this.child = child;
    this.exit = null;
    child.stdout!.on('data', (data: Buffer) => (this.stdout += data.toString()));
    child.stderr!.on('data', (data: Buffer) => this.onStderr(data.toString()));
    // 'close': its output is all in by then, not only its exit.
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
    void this.exited.then(() => {
      if (this.child === child) this.child = null;
    });
    const readyText = this.options.readyText ?? `${this.name}: ready`;
    await waitFor(
      `${this.name} to be ready`,
      () => {
        if (this.child !== child) throw new Error(`${this.name} exited at start:\n${this.stderr.slice(-2000)}`);
        return this.stdout.slice(before).includes(readyText);
      },
      this.options.readyTimeoutMs ?? READY_TIMEOUT_MS,
      20,
    );
  }

  /**
   * Sends `signal` (SIGTERM: a clean shutdown) and resolves once the process is gone. With `killAfterMs`, a process
   * still running then is sent SIGKILL.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    if (killAfterMs !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, killAfterMs)))]);
      clearTimeout(timer);
      if (this.child === child) child.kill('SIGKILL');
    }
    await this.exited;
    // Nothing of the child is left to keep this process alive.
    child.stdout?.destroy();
    child.stderr?.destroy();
  }

  /** Its JSON log lines on stderr so far (those kept, with `stderrTailChars`). */
  logs(): LogLine[] {
    return this.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          return { msg: '' };
        }
      });
  }

  /** Its name and the tail of its stderr, for a failure message. */
  describe(): string {
    return `${this.name} (stderr tail):\n${this.stderr.slice(-4_000)}`;
  }

  private onStderr(text: string): void {
    this.stderr += text;
    if (this.options.stderrTailChars !== undefined) this.stderr = this.stderr.slice(-this.options.stderrTailChars);
    const onLine = this.options.onStderrLine;
    if (!onLine) return;
    const lines = (this.partialLine + text).split('\n');
    this.partialLine = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  }
}
