/** Size and time limits of RAMF (RS-001 HEAD, as the reference implementation enforces them). */

/** Largest serialized RAMF message accepted (9 MiB). */
export const MAX_RAMF_MESSAGE_LENGTH = 9 * 1024 * 1024;

/** Largest payload field (8 MiB). */
export const MAX_PAYLOAD_LENGTH = 8 * 1024 * 1024;

/** Largest plaintext to be encrypted into a payload (65 KiB of headroom for CMS). */
export const MAX_SDU_PLAINTEXT_LENGTH = 8_322_048;

/** Largest message id, in octets. */
export const MAX_MESSAGE_ID_LENGTH = 64;

/** Largest recipient id and recipient Internet address, in octets. */
export const MAX_RECIPIENT_ID_LENGTH = 1024;
export const MAX_INTERNET_ADDRESS_LENGTH = 1024;

/** Largest TTL: 180 days. */
export const MAX_TTL_SECONDS = 15_552_000;

/** TTL used when the caller gives none. */
export const DEFAULT_TTL_SECONDS = 5 * 60;

/** How far in the future a peer's creation date may be (RS-000 clock drift tolerance). */
export const DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS = 2 * 60 * 60;

/** Format signature: "Awala" + concrete type octet + version octet. */
export const FORMAT_SIGNATURE_PREFIX = Buffer.from('Awala', 'latin1');
export const FORMAT_SIGNATURE_LENGTH = FORMAT_SIGNATURE_PREFIX.length + 2;
