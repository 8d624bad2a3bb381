import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import type { LogFormat } from '@twitter-relaynet/core';

import { renderChildLine } from './render';

export interface ProcessSpec {
  /** Shown before each of its output lines. */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Awaited just before it is started, after the processes listed before it are ready: what it needs of them
   * (e.g. the address and certificate another one published), as more arguments.
   */
  readonly prepare?: (signal: AbortSignal) => Promise<readonly string[]>;
  /** Awaited once it is started, before the processes listed after it are started (e.g. until it published). */
  readonly ready?: (signal: AbortSignal) => Promise<void>;
}

export interface SupervisorResult {
  /** 0 when every process was stopped on request and exited cleanly. */
  readonly exitCode: number;
  /** The process whose exit brought the others down, if any. */
  readonly firstExit: {
    readonly name: string;
    readonly code: number | null;
    readonly signal: string | null;
    /** Set when it did not exit but could not be started or did not become ready. */
    readonly error?: string;
  } | null;
}

export interface SupervisorOptions {
  readonly write?: (line: string) => void;
  /** How long to wait after SIGTERM before SIGKILL. */
  readonly stopTimeoutMs?: number;
  /** How the children's lines are shown: as they are ('json', the default) or as human lines. */
  readonly logFormat?: LogFormat;
}

/**
 * Run processes side by side. Each output line is prefixed with its process name (see render.ts). When one exits
 * on its own, the others are stopped and the result names it; `stop()` (Ctrl-C) stops them all.
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly write: (line: string) => void;
  private readonly stopTimeoutMs: number;
  private readonly logFormat: LogFormat;
  private firstExit: SupervisorResult['firstExit'] = null;
  private stopping = false;
  private readonly stopController = new AbortController();
  private launching = true;
  private readonly done: Promise<SupervisorResult>;
  private resolveDone!: (result: SupervisorResult) => void;

  constructor(
    private readonly specs: readonly ProcessSpec[],
    options: SupervisorOptions = {},
  ) {
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.logFormat = options.logFormat ?? 'json';
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Start the processes in order (each after the previous one's `ready`); resolves once they all ended. */
  start(): Promise<SupervisorResult> {
    // Detached children would outlive a supervisor that exits abruptly (an uncaught error): not ours.
    process.once('exit', () => {
      for (const child of this.children.values()) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
    void this.launch();
    return this.done;
  }

  private async launch(): Promise<void> {
    const width = Math.max(...this.specs.map((spec) => spec.name.length));
    const signal = this.stopController.signal;
    for (const spec of this.specs) {
      if (this.stopping) break;
      try {
        const more = spec.prepare ? await spec.prepare(signal) : [];
        if (this.stopping) break;
        this.spawn({ ...spec, args: [...(spec.args ?? []), ...more] }, width);
        await spec.ready?.(signal);
      } catch (error) {
        if (this.stopping) break;
        const message = error instanceof Error ? error.message : String(error);
        this.firstExit = { name: spec.name, code: null, signal: null, error: message };
        this.write(`${spec.name}: ${message}: stopping the others\n`);
        this.stop();
        break;
      }
    }
    this.launching = false;
    this.resolveIfAllEnded();
  }

  private spawn(spec: ProcessSpec, width: number): void {
    // Each child in its own process group: Ctrl-C reaches only the supervisor, which then stops the children
    // one signal each, so a daemon never takes a second signal for an impatient one while it shuts down.
    const child = spawn(spec.command, [...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.set(spec.name, child);
    const show = (line: string) => this.write(renderChildLine(spec.name, width, line, this.logFormat) + '\n');
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', show);
    }
    child.on('error', (error) => show(`could not start: ${error.message}`));
    child.on('close', (code, signal) => this.onExit(spec.name, code, signal));
  }

  /** Stop every process (SIGTERM, then SIGKILL after the timeout). */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopController.abort();
    for (const child of this.children.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, this.stopTimeoutMs).unref();
      }
    }
  }

  private onExit(name: string, code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.stopping && this.firstExit === null) {
      this.firstExit = { name, code, signal };
      this.write(`${name} exited (${signal ? `signal ${signal}` : `code ${code}`}): stopping the others\n`);
      this.stop();
    } else if (this.stopping) {
      this.write(`${name} stopped${code === 0 ? '' : ` (${signal ? `signal ${signal}` : `code ${code}`})`}\n`);
    }
    this.children.delete(name);
    this.resolveIfAllEnded();
  }

  private resolveIfAllEnded(): void {
    if (this.children.size === 0 && (!this.launching || this.stopping)) {
      this.resolveDone({ exitCode: this.firstExit ? 1 : 0, firstExit: this.firstExit });
    }
  }
}
