/**
 * Clock skew between the two sides of the sneakernet.
 *
 * A parcel dated further in the future than the drift tolerance is refused by the gateway one item at
 * a time, and the refusal is acknowledged to the peer (a PCA), which then deletes the parcel: it would
 * be lost without anybody on the user's side knowing. Such parcels are not bad, though: their sender's
 * clock is ahead of ours. So, before the gateway sees a cargo, the daemon looks at the dates of the
 * parcels inside and refuses the whole cargo, unacknowledged, with a reason the courier sees: the
 * relay keeps the file on the flashdrive, the peer keeps the parcels, and nothing is lost once the
 * clocks agree.
 *
 * Both gateway daemons run this check before handing a cargo to the gateway. (A later step could fold it into
 * the gateway's cargo intake, which decrypts the cargo anyway, and skip the PCA of a future-dated parcel.)
 */
import type { KeyObject } from 'node:crypto';

import { Cargo, DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS, MessageType, Parcel, readMessageType } from '@twitter-relaynet/core';

export interface FutureDatedParcels {
  readonly parcelIds: readonly string[];
  /** The latest creation date among them. */
  readonly latest: Date;
  /** How far the latest is ahead of `now`, in ms. */
  readonly aheadMs: number;
}

/**
 * The parcels in `serialized` (a cargo for us) dated more than `toleranceSeconds` after `now`; null
 * if there are none, or if the cargo cannot be read at all (the gateway then refuses it with its own
 * reason).
 */
export async function findFutureDatedParcels(
  serialized: Buffer,
  privateKey: KeyObject,
  now: Date,
  toleranceSeconds: number = DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS,
): Promise<FutureDatedParcels | null> {
  let messages: readonly Buffer[];
  try {
    const cargo = await Cargo.deserialize(serialized);
    messages = (await cargo.unwrapPayload(privateKey)).payload.messages;
  } catch {
    return null;
  }
  const limit = now.getTime() + toleranceSeconds * 1000;
  const parcelIds: string[] = [];
  let latest = 0;
  for (const item of messages) {
    let parcel: Parcel;
    try {
      if (readMessageType(item) !== MessageType.PARCEL) continue;
      parcel = await Parcel.deserialize(item);
    } catch {
      continue; // the gateway skips and logs it
    }
    const date = parcel.creationDate.getTime();
    if (date > limit) {
      parcelIds.push(parcel.id);
      latest = Math.max(latest, date);
    }
  }
  if (!parcelIds.length) return null;
  return { parcelIds, latest: new Date(latest), aheadMs: latest - now.getTime() };
}

/** "3.0 h" */
export function formatHours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
