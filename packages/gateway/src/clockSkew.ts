/**
 * Clock skew between the two sides of the sneakernet.
 *
 * A parcel dated further in the future than the drift tolerance would fail validation one item at a
 * time, and a refused item is acknowledged to the peer (a PCA), which then deletes it: it would be lost
 * without anybody on the user's side knowing. Such parcels are not bad, though: their sender's clock is
 * ahead of ours. So the gateway's cargo intake looks at the dates of the parcels first and, if any is
 * beyond the tolerance, refuses the whole cargo with FutureDatedCargoError and stores nothing: the daemon
 * does not acknowledge it, the relay keeps the file on the flashdrive, the peer keeps its parcels, and
 * nothing is lost once the clocks agree.
 *
 * Somebody must also tell the user. When the user's computer is the one behind, its own gateway refuses
 * and says so there. When it is ahead, the refusal happens on the Internet side, so the relaying gateway
 * sends the user gateway a ClockSkewNotice (clockSkewNotice.ts) in the cargo the courier collects next.
 */
import { DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS, type Parcel, TimingError } from '@twitter-relaynet/core';

export interface FutureDatedParcels {
  readonly parcelIds: readonly string[];
  /** The latest creation date among them. */
  readonly latest: Date;
  /** How far the latest is ahead of `now`, in ms. */
  readonly aheadMs: number;
}

/** The parcels dated more than `toleranceSeconds` after `now`; null if there are none. */
export function findFutureDatedParcels(
  parcels: Iterable<Parcel>,
  now: Date,
  toleranceSeconds: number = DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS,
): FutureDatedParcels | null {
  const limit = now.getTime() + toleranceSeconds * 1000;
  const parcelIds: string[] = [];
  let latest = 0;
  for (const parcel of parcels) {
    const date = parcel.creationDate.getTime();
    if (date > limit) {
      parcelIds.push(parcel.id);
      latest = Math.max(latest, date);
    }
  }
  if (!parcelIds.length) return null;
  return { parcelIds, latest: new Date(latest), aheadMs: latest - now.getTime() };
}

export interface FutureDatedCargo extends FutureDatedParcels {
  readonly cargoId: string;
  readonly peerId: string;
  /** This gateway's clock when it looked. */
  readonly now: Date;
  readonly toleranceSeconds: number;
}

/**
 * A cargo holding parcels dated beyond the clock drift tolerance. Not a permanent refusal (nothing in it
 * is bad): the cargo must not be acknowledged, so that it comes again once the clocks agree.
 */
export class FutureDatedCargoError extends TimingError {
  constructor(readonly details: FutureDatedCargo) {
    super(
      `Cargo ${details.cargoId} holds ${details.parcelIds.length} parcel(s) dated ${formatHours(details.aheadMs)} ` +
        `ahead of this gateway's clock (${details.now.toISOString()}), beyond the clock drift tolerance of ` +
        `${formatHours(details.toleranceSeconds * 1000)}`,
    );
  }
}

/** "3.0 h" */
export function formatHours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
