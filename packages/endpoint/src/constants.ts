const DAY_MS = 24 * 3_600_000;

/** Parcels we send live this long unless told otherwise (a courier round trip takes days). */
export const DEFAULT_PARCEL_TTL_SECONDS = 14 * 24 * 3600;

/** A new initial session key is published this often; old ones keep working until they expire. */
export const DEFAULT_INITIAL_SESSION_KEY_ROTATION_MS = 7 * DAY_MS;
