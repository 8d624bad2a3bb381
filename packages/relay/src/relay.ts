import { type Logger, silentLogger } from '@twitter-relaynet/core';
/**
 * One relay run against one gateway: deliver the cargo in `incoming`, wait, collect (once per CCA carried,
 * or once without a CCA) into `outgoing`.
 *
 * Invariants: a file in `incoming` is deleted only after the gateway acked it (cargo) or after the
 * collection it authorised completed (CCA); a collected message is acked only after it is durably in
 * `outgoing` under its final name; invalid files are reported and never sent nor deleted.
 */
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import {
  checkMessage,
  describeError,
  type FlashdriveFile,
  InvalidMessageError,
  KIND_EXTENSION,
  readMessageFile,
  realFileSystem,
  scanFolder,
  stageDurably,
  type StagedFile,
  syncDirectory,
  type WriteFileSystem,
} from './flashdrive';
import {
  type CollectedMessage,
  CollectionRefusedError,
  type GatewayConnection,
  type GatewayConnector,
  type RefusedDelivery,
  RefusalDisposition,
} from './gateway';
import { emptyResult, type RelayResult, type Reporter } from './output';

/** Where refused files are set aside, inside the folder they were in (subfolders are never scanned). */
export const REFUSED_FOLDER = 'refused';

export interface RelayOptions {
  /** The gateway: its CoSocket Unix socket, or its CogRPC server. */
  readonly gateway: GatewayConnector;
  /** Flashdrive folder holding cargo (and CCAs) for this gateway. */
  readonly incoming: string;
  /** Flashdrive folder to save what the gateway hands over (created if missing, inside an existing folder). */
  readonly outgoing: string;
  /** Seconds to wait between delivering and collecting (skipped when nothing was delivered). */
  readonly waitSeconds: number;
  /**
   * The gateway hands out cargo only against a pickup authorization (a relaying gateway): with none on the
   * flashdrive there is nothing to collect, and asking would only be refused.
   */
  readonly ccaRequired?: boolean;
  readonly signal?: AbortSignal;
}

export interface RelayDependencies {
  readonly reporter: Reporter;
  /** Structured log lines (--verbose). */
  readonly logger?: Logger;
  /** File operations used to write collected messages (tests inject failures here). */
  readonly fs?: WriteFileSystem;
}

interface LoadedCca {
  readonly file: FlashdriveFile;
  readonly bytes: Buffer;
  readonly id: string;
}

export async function runRelay(options: RelayOptions, deps: RelayDependencies): Promise<RelayResult> {
  return new RelayRun(options, deps).run();
}

class RelayRun {
  private readonly result = emptyResult();
  private readonly reporter: Reporter;
  private readonly logger: Logger;
  private readonly fs: WriteFileSystem;

  public constructor(
    private readonly options: RelayOptions,
    private readonly deps: RelayDependencies,
  ) {
    this.reporter = deps.reporter;
    this.logger = deps.logger ?? silentLogger;
    this.fs = deps.fs ?? realFileSystem;
  }

  public async run(): Promise<RelayResult> {
    const { incoming } = this.options;
    let scan;
    try {
      const incomingStats = await lstat(incoming).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
      if (incomingStats?.isSymbolicLink()) throw new Error(SYMLINK_REFUSED);
      if (incomingStats && !incomingStats.isDirectory()) throw new Error('not a folder');
      scan = await scanFolder(incoming);
    } catch (error) {
      this.problem(`relay: cannot read the incoming folder ${incoming}: ${describeError(error)}`, { incoming });
      this.result.errors++;
      return this.result;
    }
    // Refused before anything is delivered: the run would only half happen.
    if ((await lstat(this.options.outgoing).catch(() => null))?.isSymbolicLink()) {
      this.result.errors++;
      this.problem(`relay: cannot use the outgoing folder ${this.options.outgoing}: ${SYMLINK_REFUSED}`, {
        outgoing: this.options.outgoing,
      });
      return this.result;
    }
    if (!scan.exists) {
      this.result.incomingExists = false;
      this.reporter.line(`relay: incoming folder ${incoming} does not exist: nothing to deliver`);
      this.logger.info({ incoming }, 'Incoming folder missing: nothing to deliver');
    }
    for (const rejected of scan.rejected) {
      this.fileProblem(rejected.path, rejected.reason, rejected.invalid);
    }

    const cargoFiles = scan.files.filter((file) => file.kind === 'cargo');
    const ccaFiles = scan.files.filter((file) => file.kind === 'cca');
    this.logger.info(
      { incoming, cargoFiles: cargoFiles.length, ccaFiles: ccaFiles.length, rejected: scan.rejected.length },
      'Incoming folder scanned',
    );

    if (cargoFiles.length) {
      const connected = await this.deliver(cargoFiles);
      if (!connected) return this.result; // the gateway is unreachable: no point trying to collect
    }
    if (this.aborted()) return this.result;

    if (this.result.delivered.count > 0 && this.options.waitSeconds > 0) {
      this.reporter.waiting(this.options.waitSeconds);
      this.logger.info({ seconds: this.options.waitSeconds }, 'Waiting before collecting');
      await delay(this.options.waitSeconds * 1000, undefined, { signal: this.options.signal }).catch(() => undefined);
      if (this.aborted()) return this.result;
    }

    const ccas = await this.loadCcas(ccaFiles);
    await this.collectAll(ccas);
    return this.result;
  }

  // -------------------------------------------------------------------------------------------
  // Delivery

  /** Deliver every cargo file; false if the gateway could not be reached at all. */
  private async deliver(files: readonly FlashdriveFile[]): Promise<boolean> {
    this.reporter.deliveryStarted(
      files.length,
      files.reduce((sum, file) => sum + file.size, 0),
    );
    const client = await this.connect('deliver cargo');
    if (!client) {
      this.result.undelivered += files.length;
      this.reporter.deliveryFinished();
      return false;
    }

    // 'refused': the gateway said why it will not take it (cargoRefused dealt with it).
    const states = new Map<FlashdriveFile, 'invalid' | 'sent' | 'acked' | 'refused'>();
    const inFlight = new Map<string, { file: FlashdriveFile; cargoId: string; octets: number }>();
    const deletions: Array<Promise<void>> = [];
    // An async generator cannot be an arrow function, so it reaches the run through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    async function* cargoes() {
      for (const file of files) {
        if (self.aborted()) return;
        let bytes: Buffer;
        let cargoId: string;
        try {
          bytes = await readMessageFile(file.path);
          ({ id: cargoId } = await checkMessage(bytes, 'cargo'));
        } catch (error) {
          states.set(file, 'invalid');
          self.reporter.deliveryDropped(file.size);
          if (error instanceof InvalidMessageError) self.fileProblem(file.path, error.message, true);
          else self.fileProblem(file.path, `could not be read: ${describeError(error)}`, false);
          continue;
        }
        const deliveryId = randomUUID();
        inFlight.set(deliveryId, { file, cargoId, octets: bytes.length });
        states.set(file, 'sent');
        self.logger.info({ file: file.path, cargoId, deliveryId, octets: bytes.length }, 'Delivering cargo');
        yield { id: deliveryId, cargo: bytes };
      }
    }

    const report = await client.deliverCargo(oneAhead(cargoes()), {
      signal: this.options.signal,
      onAck: (deliveryId) => {
        const delivery = inFlight.get(deliveryId);
        if (!delivery) return;
        inFlight.delete(deliveryId);
        states.set(delivery.file, 'acked');
        this.result.delivered.count++;
        this.result.delivered.octets += delivery.octets;
        this.reporter.cargoDelivered(delivery.octets);
        deletions.push(this.deleteDelivered(delivery.file, delivery.cargoId, deliveryId));
      },
      onRefusal: (refusal) => {
        const delivery = inFlight.get(refusal.id);
        if (!delivery) return;
        inFlight.delete(refusal.id);
        states.set(delivery.file, 'refused');
        this.reporter.deliveryDropped(delivery.file.size);
        deletions.push(this.cargoRefused(delivery.file, delivery.cargoId, refusal));
      },
    });
    await Promise.all(deletions);
    if (deletions.length) {
      await syncDirectory(this.options.incoming).catch((error: unknown) =>
        this.logger.warn({ incoming: this.options.incoming, err: describeError(error) }, 'Could not fsync folder'),
      );
    }
    await client.close(true);
    this.reporter.deliveryFinished();

    const why = this.options.signal?.aborted
      ? 'interrupted'
      : report.error
        ? this.options.gateway.describeDeliveryError(report.error)
        : 'the gateway did not acknowledge it';
    for (const file of files) {
      const state = states.get(file);
      if (state === 'acked' || state === 'invalid' || state === 'refused') continue;
      this.result.undelivered++;
      const unacked = [...inFlight].find(([, delivery]) => delivery.file === file);
      this.logger.warn(
        { file: file.path, deliveryId: unacked?.[0], cargoId: unacked?.[1].cargoId, err: why },
        'Cargo not delivered; kept on the flashdrive',
      );
      this.reporter.line(`relay: ${this.display(file.path)}: not delivered, kept on the flashdrive: ${why}`);
    }
    if (report.error) {
      this.logger.warn({ err: describeError(report.error) }, 'Delivery stopped early');
    }
    return true;
  }

  private async deleteDelivered(file: FlashdriveFile, cargoId: string, deliveryId: string): Promise<void> {
    try {
      await unlinkIfPresent(file.path);
      this.logger.info({ file: file.path, cargoId, deliveryId }, 'Cargo delivered and deleted');
    } catch (error) {
      this.result.errors++;
      this.logger.error({ file: file.path, cargoId, deliveryId, err: describeError(error) }, 'Could not delete');
      this.reporter.line(
        `relay: ${this.display(file.path)}: delivered, but could not be deleted (${describeError(error)}); ` +
          'delete it by hand',
      );
    }
  }

  /** The gateway refused a cargo, saying why: for good, it is set aside; for now, it stays. */
  private async cargoRefused(file: FlashdriveFile, cargoId: string, refusal: RefusedDelivery): Promise<void> {
    this.logger.warn(
      { file: file.path, cargoId, deliveryId: refusal.id, reason: refusal.reason, disposition: refusal.disposition },
      'Cargo refused by the gateway',
    );
    if (refusal.disposition === RefusalDisposition.LATER) {
      this.result.undelivered++;
      this.reporter.line(
        `relay: ${this.display(file.path)}: not taken by the gateway for now, kept on the flashdrive: ${refusal.reason}`,
      );
      return;
    }
    this.result.refused++;
    this.reporter.line(`relay: ${this.display(file.path)}: refused by the gateway: ${refusal.reason}`);
    await this.setAside(file);
  }

  /** Move a file refused for good into `refused/` beside it, so that it is not presented again. */
  private async setAside(file: FlashdriveFile): Promise<void> {
    const folder = join(this.options.incoming, REFUSED_FOLDER);
    try {
      await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      if (!(await lstat(folder)).isDirectory()) throw new Error(`${folder} is not a folder`);
      let target = join(folder, file.name);
      if (
        await lstat(target).then(
          () => true,
          () => false,
        )
      )
        target = join(folder, `${randomUUID()}-${file.name}`);
      await rename(file.path, target);
      await syncDirectory(folder);
      await syncDirectory(this.options.incoming);
      this.reporter.line(
        `relay: ${this.display(file.path)}: moved to ${this.display(target)} (it will not be presented again)`,
      );
    } catch (error) {
      this.result.errors++;
      this.problem(
        `relay: ${this.display(file.path)}: could not be moved to ${folder} (${describeError(error)}); ` +
          'it stays, and will be refused again',
        { file: file.path },
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Collection

  private async loadCcas(files: readonly FlashdriveFile[]): Promise<LoadedCca[]> {
    const ccas: LoadedCca[] = [];
    for (const file of files) {
      try {
        const bytes = await readMessageFile(file.path);
        const { id } = await checkMessage(bytes, 'cca');
        ccas.push({ file, bytes, id });
      } catch (error) {
        if (error instanceof InvalidMessageError) this.fileProblem(file.path, error.message, true);
        else this.fileProblem(file.path, `could not be read: ${describeError(error)}`, false);
      }
    }
    return ccas;
  }

  private async collectAll(ccas: readonly LoadedCca[]): Promise<void> {
    const { outgoing } = this.options;
    try {
      // Only the folder itself: the folder holding it is the flashdrive, which must be there.
      await mkdir(outgoing).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') throw new Error('the folder holding it does not exist (is the flashdrive there?)');
        if (error.code !== 'EEXIST') throw error;
      });
      const stats = await lstat(outgoing);
      if (stats.isSymbolicLink()) throw new Error(SYMLINK_REFUSED);
      if (!stats.isDirectory()) throw new Error('not a folder');
    } catch (error) {
      this.result.errors++;
      this.problem(`relay: cannot use the outgoing folder ${outgoing}: ${describeError(error)}; nothing collected`, {
        outgoing,
      });
      return;
    }
    if (!ccas.length && this.options.ccaRequired) {
      this.reporter.line(
        'relay: no pickup authorization (CCA) on the flashdrive, so nothing to collect here ' +
          '(the relay run at the user gateway brings them, once the user gateway is registered)',
      );
      return;
    }
    const requests: Array<LoadedCca | null> = ccas.length ? [...ccas] : [null];
    for (const cca of requests) {
      if (this.aborted()) return;
      // Stop at the first collection that could not reach the gateway or save to the flashdrive: the
      // next ones would fail the same way.
      if ((await this.collect(cca)) === 'stop') return;
    }
  }

  /** One collection; 'stop' if the gateway could not be reached or a message could not be saved. */
  private async collect(cca: LoadedCca | null): Promise<'continue' | 'stop'> {
    const label = cca
      ? `with the pickup authorization ${this.display(cca.file.path)}`
      : 'without a pickup authorization (CCA)';
    const client = await this.connect(`collect cargo ${label}`);
    if (!client) return 'stop';
    this.reporter.collectionStarted(label);
    this.logger.info({ cca: cca?.file.path, ccaId: cca?.id }, 'Collecting cargo');
    let stopped = false;
    let saveFailed = false;
    let completed = false;
    // Each message is checked, written and fsync'd as soon as it arrives, while the previous ones are:
    // the gateway keeps up to a window of messages unacked, so doing it strictly one after the other
    // would leave it, the CPU and the disk waiting on each other. Files are put in place one at a time
    // in arrival order, and each ack follows its own durable save.
    const saving = new Set<Promise<boolean>>();
    let previous: Promise<boolean> = Promise.resolve(true);
    // Stops waiting for more messages as soon as one cannot be saved or acked.
    const stop = new AbortController();
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal;
    const saveAndAck = async (message: CollectedMessage, turn: Promise<boolean>): Promise<boolean> => {
      const saved = await this.saveCollected(message.kind, message.deliveryId, message.message, turn);
      if (!saved) {
        // (When an earlier save failed, this one was skipped: that failure already said so.)
        if (await turn) saveFailed = true;
        stopped = true;
        stop.abort();
        return false;
      }
      try {
        await message.ack();
      } catch (error) {
        // Saved but the gateway never learns it: it will send it again next time (a new file; the
        // gateway deduplicates).
        this.result.errors++;
        this.problem(
          `relay: ${this.display(saved)}: saved, but the acknowledgement could not be sent ` +
            `(${describeError(error)}); the gateway may send it again`,
          { file: saved, deliveryId: message.deliveryId },
        );
        stopped = true;
        stop.abort();
        return false;
      }
      this.logger.info({ file: saved, deliveryId: message.deliveryId }, 'Acknowledged');
      return true;
    };
    try {
      try {
        for await (const message of client.collect(cca?.bytes ?? null, { signal })) {
          if (stopped) break;
          const task: Promise<boolean> = saveAndAck(message, previous).finally(() => saving.delete(task));
          saving.add(task);
          previous = task;
        }
      } finally {
        // Whatever ended the loop, every save under way finishes (and is acked if it succeeded) before
        // the connection is closed.
        await Promise.all(saving);
      }
      completed = !stopped;
    } catch (error) {
      // Our own stop (a failed save or ack, already reported) is not a failure of the collection.
      const ownStop = stopped && stop.signal.aborted && !this.options.signal?.aborted;
      if (error instanceof CollectionRefusedError) await this.collectionRefused(cca, error);
      else if (!ownStop) this.reportCollectionFailure(cca, label, error);
    }

    await client.close(!stopped);
    this.reporter.collectionFinished();

    if (completed) {
      this.logger.info({ cca: cca?.file.path, ccaId: cca?.id }, 'Collection complete');
      if (cca) await this.deleteUsedCca(cca);
    }
    return saveFailed ? 'stop' : 'continue';
  }

  /** The gateway refused the collection, saying why. */
  private async collectionRefused(cca: LoadedCca | null, refusal: CollectionRefusedError): Promise<void> {
    this.logger.warn(
      { cca: cca?.file.path, ccaId: cca?.id, reason: refusal.reason },
      'Collection refused by the gateway',
    );
    if (!cca) {
      this.result.refused++;
      this.reporter.line(
        `relay: the gateway hands over no cargo without a pickup authorization (CCA): ${refusal.reason} ` +
          `(${this.options.incoming} holds none: the relay run at the user gateway brings one)`,
      );
      return;
    }
    const what = `${this.display(cca.file.path)} (pickup authorization)`;
    if (refusal.disposition === RefusalDisposition.LATER) {
      this.result.errors++;
      this.reporter.line(`relay: ${what}: not accepted by the gateway for now, kept: ${refusal.reason}`);
      return;
    }
    this.result.refused++;
    this.reporter.line(`relay: ${what}: refused by the gateway: ${refusal.reason}`);
    await this.setAside(cca.file);
  }

  private reportCollectionFailure(cca: LoadedCca | null, label: string, error: unknown): void {
    this.result.errors++;
    // A relaying gateway hands out cargo only against a CCA, which the user gateway gives the courier.
    const refusedWithoutCca = !cca && describeError(error).includes('invalid-packet');
    const hint = cca
      ? '; the pickup authorization is kept'
      : refusedWithoutCca
        ? ` (${this.options.incoming} holds no pickup authorization (CCA): a relaying gateway needs one, which the relay run at the user gateway brings)`
        : '';
    this.problem(`relay: collection ${label} failed: ${describeError(error)}${hint}`, {
      cca: cca?.file.path,
      err: describeError(error),
    });
  }

  /**
   * Check and durably save one collected message; its path, or null: do not ack (the problem was
   * reported, or an earlier message could not be saved). The check (hashing, signature) and the write
   * under a temp name with its fsync start at once, overlapping the previous messages'; putting the
   * file in place waits for `turn`, the previous message's save (true if it succeeded), so that files
   * appear, and problems are reported, in arrival order, and nothing is saved after a failure.
   */
  private async saveCollected(
    kind: 'cargo' | 'cca',
    deliveryId: string,
    bytes: Buffer,
    turn: Promise<boolean>,
  ): Promise<string | null> {
    const name = `${randomUUID()}${KIND_EXTENSION[kind]}`;
    const path = join(this.options.outgoing, name);
    type Staging = { invalid: unknown } | { id: string; writeError: unknown } | { id: string; staged: StagedFile };
    const staging = async (): Promise<Staging> => {
      let id: string;
      try {
        ({ id } = await checkMessage(bytes, kind));
      } catch (error) {
        return { invalid: error };
      }
      try {
        return { id, staged: await stageDurably(this.options.outgoing, name, bytes, this.fs) };
      } catch (error) {
        return { id, writeError: error };
      }
    };
    const [outcome, previousSaved] = await Promise.all([staging(), turn]);
    if (!previousSaved) {
      if ('staged' in outcome) await outcome.staged.discard();
      return null;
    }
    if ('invalid' in outcome) {
      this.result.errors++;
      this.problem(
        `relay: the gateway sent an invalid ${kind === 'cca' ? 'pickup authorization (CCA)' : 'cargo'} (delivery ${deliveryId}): ` +
          `${describeError(outcome.invalid)}; not saved, not acknowledged; collection stopped`,
        { deliveryId, err: describeError(outcome.invalid) },
      );
      return null;
    }
    const { id } = outcome;
    try {
      if ('writeError' in outcome) throw outcome.writeError;
      await outcome.staged.commit();
    } catch (error) {
      this.result.errors++;
      this.problem(
        `relay: ${this.display(path)}: could not be saved (${describeError(error)}); not acknowledged, ` +
          'the gateway keeps it; collection stopped',
        { file: path, deliveryId, [kind === 'cca' ? 'ccaId' : 'cargoId']: id, err: describeError(error) },
      );
      return null;
    }
    if (kind === 'cargo') {
      this.result.collectedCargo.count++;
      this.result.collectedCargo.octets += bytes.length;
    } else {
      this.result.collectedCcas++;
    }
    this.reporter.collected(kind, bytes.length);
    this.logger.info(
      { file: path, deliveryId, [kind === 'cca' ? 'ccaId' : 'cargoId']: id, octets: bytes.length },
      kind === 'cca' ? 'CCA collected and saved' : 'Cargo collected and saved',
    );
    return path;
  }

  private async deleteUsedCca(cca: LoadedCca): Promise<void> {
    try {
      await unlinkIfPresent(cca.file.path);
      await syncDirectory(this.options.incoming).catch(() => undefined);
      this.logger.info({ file: cca.file.path, ccaId: cca.id }, 'Used CCA deleted');
    } catch (error) {
      this.result.errors++;
      this.problem(
        `relay: ${this.display(cca.file.path)}: pickup authorization used, but could not be deleted ` +
          `(${describeError(error)}); delete it by hand (it is single-use)`,
        { file: cca.file.path, ccaId: cca.id },
      );
    }
  }

  // -------------------------------------------------------------------------------------------

  private async connect(purpose: string): Promise<GatewayConnection | null> {
    const { gateway } = this.options;
    try {
      const client = await gateway.connect(this.options.signal);
      this.logger.info({ gateway: gateway.address, purpose }, 'Connected to the gateway');
      return client;
    } catch (error) {
      this.result.errors++;
      this.problem(
        `relay: cannot connect to the gateway at ${gateway.address} to ${purpose}: ${describeError(error)}${gateway.connectionHint(error)}`,
        { gateway: gateway.address },
      );
      return null;
    }
  }

  private aborted(): boolean {
    if (!this.options.signal?.aborted) return false;
    if (!this.interruptReported) {
      this.interruptReported = true;
      this.result.errors++;
      this.problem('relay: interrupted; what was not acknowledged stays where it was', {});
    }
    return true;
  }
  private interruptReported = false;

  private fileProblem(path: string, reason: string, invalid: boolean): void {
    if (invalid) this.result.invalidFiles++;
    else this.result.errors++;
    this.logger.warn({ file: path, reason }, invalid ? 'Invalid file left in place' : 'Unreadable file left in place');
    this.reporter.line(`relay: ${this.display(path)}: left in place: ${reason}`);
  }

  private problem(text: string, fields: Record<string, unknown>): void {
    this.logger.error(fields, text.replace(/^relay: /, ''));
    this.reporter.line(text);
  }

  /** Paths as the user typed them (relative to the current folder when inside it). */
  private display(path: string): string {
    const rel = relative(process.cwd(), path);
    return rel && !rel.startsWith('..') ? rel : path;
  }
}

const SYMLINK_REFUSED =
  'it is a symbolic link, refused: the flashdrive is not trusted to point the relay at other folders';

/**
 * The items of `source`, the next one prepared while the consumer handles this one: reading and checking the
 * next cargo file then overlaps sending this one (a client that waits for a message to leave before pulling
 * the next, as the gRPC ones do, would otherwise leave the link idle while it is read, and the CPU while it is
 * sent). At most one item more is held in memory.
 */
async function* oneAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done) return;
      next = iterator.next();
      next.catch(() => undefined); // awaited at the next turn, or dropped if the consumer stops
      yield result.value;
    }
  } finally {
    await next.catch(() => undefined);
    await iterator.return?.();
  }
}

/** Delete a file; one that is already gone (e.g. the folder vanished) is fine: it is not on the drive. */
async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
