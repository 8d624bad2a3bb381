/**
 * The registration leg of a relay run: a never-online user gateway registers through the courier alone.
 *
 * - At the user gateway: hand in each response found in `<incoming>/registration/` (deleted once the
 *   gateway says it is taken), then ask for the gateway's pending request and save it in
 *   `<outgoing>/registration/` (nothing when it is registered).
 * - At the relaying gateway: present each request found in `<incoming>/registration/`, save the response in
 *   `<outgoing>/registration/` under the request's name, and only then delete the request.
 *
 * Every file is fsync'd and renamed into place before what it answers is deleted, so a run killed at any
 * point leaves the request or its response on the flashdrive; the relaying gateway answers the same request
 * with the same response, and the user gateway takes the same response twice as once.
 *
 * The gateway is reached through a `RegistrationExchange`, one call per message, so that any binding can
 * carry the leg: CoSocket (`coSocketRegistrationExchange`) and CogRPC (`registrationExchangeOf` around a
 * `CourierRegistrationClient` of packages/cogrpc).
 */
import { createHash, randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { type Logger, silentLogger } from '@twitter-relaynet/core';
import { CoSocketClient, CoSocketQuitError, CoSocketRefusalError, QuitReason } from '@twitter-relaynet/cosocket';

import { describeError, isIgnoredName, readMessageFile, syncDirectory, writeDurably } from './flashdrive';
import { ExitCode, type Reporter } from './output';
import { RelayError } from './errors';

/** The subfolder of user-gw/ and relayer-gw/ holding registration messages. */
export const REGISTRATION_FOLDER = 'registration';
export const REQUEST_EXTENSION = '.request';
export const RESPONSE_EXTENSION = '.response';
/** Larger files are not registration messages (a request or response is a few KiB). */
const MAX_REGISTRATION_FILE_LENGTH = 65_536;

/**
 * One registration message to the gateway and its answer. Throws `RegistrationRefusedError` if the gateway
 * refused it for good; any other error means it could not answer now (the file stays for the next trip).
 * At the user gateway an empty body asks for its pending request (an empty answer: nothing to carry).
 */
export type RegistrationExchange = (body: Buffer) => Promise<Buffer>;

export class RegistrationRefusedError extends RelayError {}

/** The gateway does not offer registration exchanges (an older gateway): the leg is skipped. */
export class RegistrationUnsupportedError extends RelayError {}

export interface RegistrationLegOptions {
  readonly side: 'user-gateway' | 'relayer-gateway';
  /** The run's --incoming and --outgoing: the leg uses their `registration/` subfolders. */
  readonly incoming: string;
  readonly outgoing: string;
  /** Connects lazily (only when there is something to exchange); null if the gateway cannot be reached. */
  readonly exchange: RegistrationExchange;
  readonly signal?: AbortSignal;
}

export interface RegistrationLegResult {
  /** Requests taken from the user gateway, responses saved for it, responses it took. */
  requestsTaken: number;
  responsesSaved: number;
  responsesHandedIn: number;
  /** Requests or responses the gateway refused for good (moved to `refused/`). */
  refused: number;
  errors: number;
}

export async function runRegistrationLeg(
  options: RegistrationLegOptions,
  deps: { readonly reporter: Reporter; readonly logger?: Logger },
): Promise<RegistrationLegResult> {
  const leg = new RegistrationLeg(options, deps.reporter, deps.logger ?? silentLogger);
  try {
    if (options.side === 'user-gateway') await leg.atUserGateway();
    else await leg.atRelayingGateway();
  } catch (error) {
    if (error instanceof RegistrationUnsupportedError) {
      deps.logger?.info({ err: error.message }, 'Registration leg skipped: the gateway does not offer it');
    } else {
      leg.problem(`relay: registration: ${describeError(error)}`);
    }
  }
  return leg.result;
}

class RegistrationLeg {
  public readonly result: RegistrationLegResult = {
    requestsTaken: 0,
    responsesSaved: 0,
    responsesHandedIn: 0,
    refused: 0,
    errors: 0,
  };
  private readonly incoming: string;
  private readonly outgoing: string;

  public constructor(
    private readonly options: RegistrationLegOptions,
    private readonly reporter: Reporter,
    private readonly logger: Logger,
  ) {
    this.incoming = join(options.incoming, REGISTRATION_FOLDER);
    this.outgoing = join(options.outgoing, REGISTRATION_FOLDER);
  }

  public async atUserGateway(): Promise<void> {
    for (const name of await this.list(RESPONSE_EXTENSION)) {
      if (this.options.signal?.aborted) return;
      const path = join(this.incoming, name);
      const response = await this.readFile(path);
      if (!response) continue;
      if (!(await this.present(path, response))) continue;
      await this.remove(path);
      this.result.responsesHandedIn++;
      this.reporter.line(`relay: registration response ${this.display(path)} handed to the user gateway`);
    }
    if (this.options.signal?.aborted) return;
    const request = await this.options.exchange(Buffer.alloc(0));
    if (request.length === 0) return; // registered: nothing to carry
    const name = createHash('sha256').update(request).digest('hex').slice(0, 32) + REQUEST_EXTENSION;
    const carried = await lstat(join(this.outgoing, name)).then(
      () => true,
      () => false,
    );
    await this.save(this.outgoing, name, request);
    this.result.requestsTaken++;
    this.logger.info({ file: join(this.outgoing, name) }, 'Registration request taken from the user gateway');
    if (carried) return; // said on the trip that took it
    this.reporter.line(
      `relay: registration request of the user gateway saved as ${this.display(join(this.outgoing, name))} ` +
        '(relay relayer-gateway presents it)',
    );
  }

  public async atRelayingGateway(): Promise<void> {
    for (const name of await this.list(REQUEST_EXTENSION)) {
      if (this.options.signal?.aborted) return;
      const path = join(this.incoming, name);
      const request = await this.readFile(path);
      if (!request) continue;
      const response = await this.present(path, request);
      if (!response) continue;
      if (response.length === 0) throw new Error('the gateway answered a registration request with nothing');
      const responseName = name.slice(0, -REQUEST_EXTENSION.length) + RESPONSE_EXTENSION;
      // The response is on the flashdrive before the request goes: killed in between, the next trip
      // presents the request again and gets the same response.
      await this.save(this.outgoing, responseName, response);
      await this.remove(path);
      this.result.responsesSaved++;
      this.logger.info({ request: path, response: join(this.outgoing, responseName) }, 'Registration request answered');
      this.reporter.line(
        `relay: registration request ${this.display(path)} answered; response saved as ` +
          `${this.display(join(this.outgoing, responseName))} (relay user-gateway hands it in)`,
      );
    }
  }

  /** Names of the files with `extension` in the incoming registration folder (none if it is missing). */
  private async list(extension: string): Promise<string[]> {
    const stats = await lstat(this.incoming).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!stats) return [];
    if (stats.isSymbolicLink()) throw new Error(`${this.display(this.incoming)} is a symbolic link, refused`);
    if (!stats.isDirectory()) throw new Error(`${this.display(this.incoming)} is not a folder`);
    return (await readdir(this.incoming)).filter((name) => name.endsWith(extension) && !isIgnoredName(name)).sort();
  }

  /** The file's content, or null (reported) if it cannot be a registration message. */
  private async readFile(path: string): Promise<Buffer | null> {
    try {
      const content = await readMessageFile(path);
      if (content.length === 0 || content.length > MAX_REGISTRATION_FILE_LENGTH) {
        throw new Error(`${content.length} octets: not a registration message`);
      }
      return content;
    } catch (error) {
      this.problem(`relay: ${this.display(path)}: left in place: ${describeError(error)}`);
      return null;
    }
  }

  /** The gateway's answer, or null if it refused the file for good (set aside, reported). */
  private async present(path: string, body: Buffer): Promise<Buffer | null> {
    try {
      return await this.options.exchange(body);
    } catch (error) {
      if (!(error instanceof RegistrationRefusedError)) throw error;
      this.result.refused++;
      this.logger.warn({ file: path, err: error.message }, 'Registration message refused by the gateway');
      this.reporter.line(`relay: ${this.display(path)}: refused by the gateway: ${error.message}`);
      await this.setAside(path);
      return null;
    }
  }

  private async save(folder: string, name: string, content: Buffer): Promise<void> {
    // Only these two levels: the folder holding them is the flashdrive, which must be there.
    for (const dir of [join(folder, '..'), folder]) {
      await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      if ((await lstat(dir)).isSymbolicLink()) throw new Error(`${this.display(dir)} is a symbolic link, refused`);
    }
    // A run killed while writing leaves the temp file; the name is the same next time.
    await rm(join(folder, `.${name}.tmp`), { force: true });
    await writeDurably(folder, name, content);
  }

  private async remove(path: string): Promise<void> {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await syncDirectory(this.incoming);
  }

  private async setAside(path: string): Promise<void> {
    const folder = join(this.incoming, 'refused');
    try {
      await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      const target = join(folder, `${randomUUID()}-${relative(this.incoming, path)}`);
      await rename(path, target);
      await syncDirectory(folder);
      await syncDirectory(this.incoming);
      this.reporter.line(
        `relay: ${this.display(path)}: moved to ${this.display(target)} (it will not be presented again)`,
      );
    } catch (error) {
      this.problem(
        `relay: ${this.display(path)}: could not be set aside (${describeError(error)}); it will be refused again`,
      );
    }
  }

  public problem(text: string): void {
    this.result.errors++;
    this.logger.error({}, text.replace(/^relay: /, ''));
    this.reporter.line(text);
  }

  private display(path: string): string {
    const rel = relative(process.cwd(), path);
    return rel && !rel.startsWith('..') ? rel : path;
  }
}

/**
 * The leg over CoSocket: one connection, opened at the first exchange, for all of them. A gateway that
 * cannot be reached or does not know the extension makes `RegistrationUnsupportedError` (the cargo part of
 * the run says whether the gateway is there); a refusal `RegistrationRefusedError`.
 */
export function coSocketRegistrationExchange(
  socketPath: string,
  options: { readonly signal?: AbortSignal; readonly logger?: Logger; readonly connectTimeoutMs?: number },
): { exchange: RegistrationExchange; close(): Promise<void> } {
  let client: CoSocketClient | null = null;
  return {
    exchange: async (body) => {
      if (!client || client.isClosed) {
        try {
          client = await CoSocketClient.connect(socketPath, {
            signal: options.signal,
            logger: options.logger,
            connectTimeoutMs: options.connectTimeoutMs,
          });
        } catch (error) {
          throw new RegistrationUnsupportedError(`cannot connect to ${socketPath}: ${describeError(error)}`);
        }
      }
      try {
        return await client.exchangeRegistration(body);
      } catch (error) {
        if (error instanceof CoSocketRefusalError) throw new RegistrationRefusedError(error.reason);
        if (error instanceof CoSocketQuitError && error.quitReason === QuitReason.INVALID_PACKET) {
          throw new RegistrationUnsupportedError('the gateway does not know registration exchanges');
        }
        throw error;
      }
    },
    close: async () => {
      if (client && !client.isClosed) await client.close();
    },
  };
}

/**
 * The leg over CogRPC: `client` is a `CourierRegistrationClient` of packages/cogrpc (structurally, so that
 * the relay does not need that package for CoSocket). Its `GatewayRegistrationRefusedError` is a refusal.
 */
export function registrationExchangeOf(
  client: { register(body: Buffer, options?: { signal?: AbortSignal }): Promise<Buffer> },
  signal?: AbortSignal,
): RegistrationExchange {
  return async (body) => {
    try {
      return await client.register(body, { signal });
    } catch (error) {
      if ((error as Error).name === 'GatewayRegistrationRefusedError')
        throw new RegistrationRefusedError((error as Error).message);
      throw error;
    }
  };
}

/**
 * The run's exit status with the leg's outcome: its problems fail the run, a response carried makes it
 * "done". Taking the request does not: an unregistered gateway hands it out on every trip until answered.
 */
export function exitCodeWithRegistration(code: ExitCode, leg: RegistrationLegResult): ExitCode {
  if (leg.errors || leg.refused) return ExitCode.FAILURE;
  // A request taken onto the flashdrive is work for the courier: the trip has something to carry.
  if (code === ExitCode.NOTHING_TO_DO && leg.requestsTaken + leg.responsesSaved + leg.responsesHandedIn > 0)
    return ExitCode.DONE;
  return code;
}
