/**
 * Clock skew between the two sides of the sneakernet.
 *
 * A parcel dated further in the future than the drift tolerance would fail validation, and a refused
 * item is acknowledged to the peer (a PCA), which then deletes it: it would be lost. Such a parcel is not
 * bad, though: its sender's clock is (or was) ahead of ours. So the gateway's cargo intake looks at the
 * parcels' dates first and leaves the future-dated ones out: not stored, no PCA. The peer deletes a
 * parcel only on its PCA (never because it went out in cargo), so it keeps them and sends them again;
 * everything else in the cargo is taken, and the cargo itself is acknowledged (nothing in it is lost, and
 * nothing valid waits behind a parcel that cannot go yet). The cargo's and a CCA's own dates are no reason
 * to refuse them either: a peer whose clock is days ahead still gets its other items through and, above
 * all, the word that its clock is wrong.
 *
 * The sending side can decide something too: a queued parcel dated beyond the tolerance of its own
 * clock (made while that clock was ahead, before it was set right) would be left out by any peer whose
 * clock is right, so it is held back from cargo until its date is acceptable (or its sender replaces it
 * with a re-dated copy: the same sender and id replace the queued one).
 *
 * Somebody must also tell the user. When the user's computer is the one behind, its own gateway leaves
 * the Internet's parcels out and says so there. When it is ahead, only the Internet side sees it, so the
 * relaying gateway sends the user gateway a ClockSkewNotice (clockSkewNotice.ts) in the cargo the courier
 * collects next.
 */
import { DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS, type Parcel } from '@twitter-relaynet/core';

export interface FutureDatedParcels {
  readonly parcels: readonly Parcel[];
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
  const found = [...parcels].filter((parcel) => parcel.creationDate.getTime() > limit);
  if (!found.length) return null;
  const latest = Math.max(...found.map((parcel) => parcel.creationDate.getTime()));
  return {
    parcels: found,
    parcelIds: found.map((parcel) => parcel.id),
    latest: new Date(latest),
    aheadMs: latest - now.getTime(),
  };
}

/** The parcels a cargo intake left out because of their dates (see CargoReceipt). */
export interface FutureDatedCargo extends FutureDatedParcels {
  readonly cargoId: string;
  readonly peerId: string;
  /** This gateway's clock when it looked. */
  readonly now: Date;
  readonly toleranceSeconds: number;
}

/** Validation options for cargo and CCAs: any date ahead of `now` is fine (see above), expiry still counts. */
export function envelopeValidationOptions(now: Date) {
  return { now, clockDriftToleranceSeconds: Number.POSITIVE_INFINITY };
}

/** "3.0 h" */
export function formatHours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
