/**
 * What the user gateway knows of the skew between this computer's clock and the Internet side's, and the decisions
 * that change it. The daemon publishes the status for the app (packages/config clockStatus.ts has the same shape);
 * the decisions live here:
 * - `internet`: the relaying gateway's latest notice (clockSkewNotice.ts); the latest by its clock wins. A
 *   "refused" one is also cleared when a cargo acknowledges parcels of ours and holds no new refusal (its
 *   "resolved" notice may never come, e.g. if it was reset after refusing);
 * - `local`: this gateway left out parcels of the last cargo, dated beyond its tolerance (this clock is behind);
 *   cleared by the next cargo that has none.
 */
import { type Logger } from '@twitter-relaynet/core';
import { formatHours, type FutureDatedCargo } from './clockSkew';
import type { ClockSkewNotice } from './clockSkewNotice';
import type { CargoReceipt } from './Gateway';

export interface ClockSkewRefusal {
  /** When the refusal happened, on the refusing side's clock. */
  readonly at: Date;
  /** How far the latest message was dated ahead of the refusing side's clock (a lower bound of the skew). */
  readonly aheadMs: number;
  readonly parcelCount: number;
  readonly toleranceSeconds: number;
}

export interface ClockSkewStatus {
  readonly internet?: ClockSkewNotice;
  readonly local?: ClockSkewRefusal;
}

type RefusedNotice = Extract<ClockSkewNotice, { status: 'refused' }>;

/** A cargo under way: what the monitor saw before it. */
export interface CargoWatch {
  readonly refusalsBefore: number;
}

/** The user gateway's clock skew status: fed with the notices and receipts of cargo, logging each change. */
export class ClockSkewMonitor {
  private refusalNoticesRead = 0;

  constructor(
    private current: ClockSkewStatus,
    private readonly logger: Logger,
    /** The warning logged for a "refused" notice (default: a sentence of this module's). */
    private readonly describeRefusal: (notice: RefusedNotice) => string = defaultRefusalDescription,
  ) {}

  get status(): ClockSkewStatus {
    return this.current;
  }

  /** A notice from the relaying gateway, read from its cargo. Resolves to whether the status changed. */
  noticeReceived(notice: ClockSkewNotice): boolean {
    const known = this.current.internet;
    if (known && known.at > notice.at) return false;
    if (notice.status === 'refused') {
      this.refusalNoticesRead += 1;
      this.logger.warn({ at: notice.at.toISOString(), aheadMs: notice.aheadMs }, this.describeRefusal(notice));
    } else {
      this.logger.info({ at: notice.at.toISOString() }, 'The relaying gateway takes cargo from this computer again');
    }
    this.current = { ...this.current, internet: notice };
    return true;
  }

  /** Before a cargo is received: the notices it holds are told apart from earlier ones. */
  watchCargo(): CargoWatch {
    return { refusalsBefore: this.refusalNoticesRead };
  }

  /** The cargo was taken (`receipt`): update the status from what it held. */
  cargoTaken(watch: CargoWatch, receipt: CargoReceipt, fields: object = {}): ClockSkewStatus {
    const { futureDated } = receipt;
    let local: ClockSkewRefusal | undefined;
    if (futureDated) {
      logFutureDatedCargo(this.logger, futureDated, 'user', fields);
      local = {
        at: futureDated.now,
        aheadMs: Math.max(1, Math.round(futureDated.aheadMs)),
        parcelCount: futureDated.parcelIds.length,
        toleranceSeconds: futureDated.toleranceSeconds,
      };
    }
    let { internet } = this.current;
    if (
      internet?.status === 'refused' &&
      receipt.acknowledgedParcels.length > 0 &&
      this.refusalNoticesRead === watch.refusalsBefore
    ) {
      // The relaying gateway took parcels of ours and did not complain in the same cargo.
      this.logger.info(fields, 'The relaying gateway takes parcels from this computer again');
      internet = undefined;
    }
    this.current = { ...(internet && { internet }), ...(local && { local }) };
    return this.current;
  }
}

function defaultRefusalDescription(notice: RefusedNotice): string {
  return (
    `The relaying gateway refused ${notice.parcelCount} parcel(s) from this computer, dated ` +
    `${formatHours(notice.aheadMs)} ahead of its clock (tolerance ${formatHours(notice.toleranceSeconds * 1000)}): ` +
    "is this computer's clock ahead?"
  );
}

/**
 * Log the parcels a cargo held that are dated beyond the tolerance: on the user gateway ('user') this computer's
 * clock may be behind, and they come again with the next courier; on the relaying gateway ('relaying') the user's
 * clock is probably ahead, and the user gateway is told in the cargo collected next.
 */
export function logFutureDatedCargo(
  logger: Logger,
  futureDated: FutureDatedCargo,
  side: 'user' | 'relaying',
  fields: object = {},
): void {
  const dated =
    `Parcels not taken: ${futureDated.parcelIds.length} parcel(s) in this cargo are dated ` +
    `${formatHours(futureDated.aheadMs)} ahead of this ${side === 'user' ? 'computer' : 'gateway'}'s clock ` +
    `(${futureDated.now.toISOString()}), beyond the clock drift tolerance of ` +
    `${formatHours(futureDated.toleranceSeconds * 1000)}: `;
  const consequence =
    side === 'user'
      ? "is this computer's clock right? The rest of the cargo is taken; these come again with the next courier"
      : "the clock of the user's computer is probably ahead. The rest of the cargo is taken; the user gateway keeps " +
        'these (they are not acknowledged) and is told in the cargo collected next';
  logger.error(
    {
      ...fields,
      cargoId: futureDated.cargoId,
      ...(side === 'relaying' && { peerId: futureDated.peerId }),
      parcelIds: futureDated.parcelIds,
      latestDate: futureDated.latest.toISOString(),
    },
    dated + consequence,
  );
}
