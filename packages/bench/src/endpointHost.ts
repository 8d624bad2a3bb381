/**
 * The bench's side of an endpoint child process (endpointChild.ts): fork it, call it over IPC, stop it. A call
 * resolves with the child's answer or rejects with its error; if the child dies, every pending call rejects with
 * how it ended and the end of its stderr.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';

/** Parcels to make: their type, content size, and how many are made at once (their crypto overlaps). */
export interface ParcelLoad {
  readonly type: string;
  readonly contentBytes: number;
  readonly concurrency: number;
}

/** What a child can be asked, with its arguments and answer. */
export interface EndpointOps {
  /** Open the adapter's PublicEndpoint, serve PogRPC and publish its route and connection parameters in `dir`. */
  openAdapter: { args: { dir: string; internetAddress: string; relayerRouteFile: string }; result: { id: string } };
  adapterStatus: { args: null; result: { received: number; pdaIds: string[] } };
  /** Queue parcels for these apps (with their PDAs); answers how many once they are in the outbox. */
  adapterSend: { args: { targets: { appId: string; n: number }[] } & ParcelLoad; result: number };
  /** Open and register an app, add the adapter as its peer and queue its PDA for the adapter. */
  openApp: { args: { dataDir: string; socketPath: string; adapterParametersFile: string }; result: { id: string } };
  /** Make and deliver parcels to the user gateway; answers once the gateway acknowledged them all. */
  appSend: { args: { n: number } & ParcelLoad; result: number };
  /** Collect what the user gateway has for the app; answers how many messages it received in all. */
  appCollect: { args: null; result: number };
  /** How many messages the app received in all. */
  appReceived: { args: null; result: number };
  /** Close whatever endpoint is open (the process stays, to open again). */
  close: { args: null; result: null };
}

export type EndpointCall = {
  [Op in keyof EndpointOps]: { readonly id: number; readonly op: Op; readonly args: EndpointOps[Op]['args'] };
}[keyof EndpointOps];

export type EndpointReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** The compiled child (the specs run this file from src/ under ts-jest; the child always runs from dist/). */
const CHILD_SCRIPT = resolve(__dirname, '..', 'dist', 'endpointChild.js');
const STDERR_TAIL_CHARS = 4_000;
/** How long a child may take to exit once told to, before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

export class EndpointHost {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private stderrTail = '';
  private ended: Error | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = fork(CHILD_SCRIPT, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    this.child.on('message', (reply: EndpointReply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      if (reply.ok) call.resolve(reply.result);
      else call.reject(new Error(`${this.name}: ${reply.error}`));
    });
    this.exited = new Promise((done) => {
      this.child.once('exit', (code, signal) => {
        this.ended = new Error(
          `${this.name} (endpoint process ${this.child.pid}) ended with ${signal ?? `code ${code}`}` +
            (this.stderrTail ? `:\n${this.stderrTail}` : ''),
        );
        for (const call of this.pending.values()) call.reject(this.ended);
        this.pending.clear();
        done();
      });
    });
  }

  /** A new child, once it said it is ready. */
  static async start(name: string, env: NodeJS.ProcessEnv): Promise<EndpointHost> {
    const host = new EndpointHost(name, env);
    await host.waitFor(0);
    return host;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  call<Op extends keyof EndpointOps>(op: Op, args: EndpointOps[Op]['args']): Promise<EndpointOps[Op]['result']> {
    const id = this.nextId++;
    const answered = this.waitFor(id) as Promise<EndpointOps[Op]['result']>;
    if (!this.ended) this.child.send({ id, op, args } as EndpointCall);
    return answered;
  }

  /** Close its endpoint and end the process (killed if it does not exit in time). */
  async stop(): Promise<void> {
    if (this.ended) return;
    await this.call('close', null).catch(() => undefined);
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private waitFor(id: number): Promise<unknown> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}
