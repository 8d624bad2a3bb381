/** RS-004 packet tags (uint16 little-endian on the wire). */
export enum PacketTag {
  CARGO_COLLECTION_REQUEST = 0x00,
  CARGO_DELIVERY = 0x01,
  /** File-descriptor variant: left undefined by RS-004 ("TODO"); refused as an invalid packet. */
  CARGO_DELIVERY_FD = 0x02,
  CARGO_COLLECTION = 0x03,
  CARGO_DELIVERY_COMPLETION = 0x04,
  /**
   * Extension (not in RS-004): a gateway hands the relayer a CCA to carry to the peer gateway. Same body as a
   * Cargo Delivery (varchar delivery id ‖ uint32 length ‖ CCA), acknowledged with a Cargo Collection packet.
   */
  CCA_DELIVERY = 0x10,
  /**
   * Extension (not in RS-004), gateway → relayer, only to a relayer that opted in (REFUSAL_REPORTS_OPT_IN):
   * `varchar subject ‖ uint8 disposition ‖ uint16 length ‖ UTF-8 reason`. The subject is the delivery id
   * of a Cargo Delivery the gateway will not store (sent instead of its ack), or empty for the pending
   * Cargo Collection Request (sent before its Completion).
   */
  REFUSAL = 0x11,
  /**
   * Extension (not in RS-004), relayer → gateway: `uint32 length ‖ body`, a gateway registration exchange
   * (packages/gateway courierRegistration.ts says what the bodies are). A relayer sends it on a connection
   * of its own: a gateway without the extension quits with invalid-packet, which costs that connection only.
   */
  REGISTRATION_EXCHANGE = 0x12,
  /**
   * Extension, gateway → relayer, the answer to a Registration Exchange: `uint8 status ‖ uint32 length ‖ body`;
   * status 0: the body is the answer; 1: refused for good, the body is the reason (UTF-8).
   */
  REGISTRATION_RESULT = 0x13,
  HANDSHAKE_CHALLENGE = 0xf0,
  HANDSHAKE_RESPONSE = 0xf1,
  HANDSHAKE_COMPLETE = 0xf2,
  QUIT = 0xff,
}

/** RS-004 Quit reasons, plus 0x05 (timeout), an extension of this implementation. */
export enum QuitReason {
  OK = 0x00,
  INVALID_PACKET = 0x01,
  HANDSHAKE_ERROR = 0x02,
  QUOTA_REACHED = 0x03,
  INTERNAL_ERROR = 0x04,
  /** Extension: the peer stalled past the idle timeout, or the connection outlived its overall timeout. */
  TIMEOUT = 0x05,
}

export const QUIT_REASON_NAMES: Readonly<Record<number, string>> = {
  [QuitReason.OK]: 'ok',
  [QuitReason.INVALID_PACKET]: 'invalid-packet',
  [QuitReason.HANDSHAKE_ERROR]: 'handshake-error',
  [QuitReason.QUOTA_REACHED]: 'quota-reached',
  [QuitReason.INTERNAL_ERROR]: 'internal-error',
  [QuitReason.TIMEOUT]: 'timeout',
};

export function quitReasonName(reason: number): string {
  return QUIT_REASON_NAMES[reason] ?? `unknown-0x${reason.toString(16).padStart(4, '0')}`;
}

/** What a refused cargo or CCA should become on the relayer's side (Refusal packet, extension). */
export enum RefusalDisposition {
  /** Refused for good: do not present it again (set it aside). */
  FINAL = 0x00,
  /** Not taken now (e.g. the clocks disagree): keep it and present it again later. */
  LATER = 0x01,
}

/**
 * The relayer's opt-in to Refusal packets: a Cargo Delivery Completion (0x04) carrying this in place of
 * a gateway address, sent first on the connection. To a gateway that does not know the extension it
 * says "no more cargo for the gateway named x-refusal-reports", which names no gateway: it is ignored,
 * and that gateway goes on acknowledging or quitting as RS-004 says.
 */
export const REFUSAL_REPORTS_OPT_IN = 'x-refusal-reports';

/** Registration Result status (extension). */
export enum RegistrationStatus {
  ANSWERED = 0x00,
  REFUSED = 0x01,
}

/** Largest registration exchange body either way: requests and responses are a few KiB of certificates. */
export const MAX_REGISTRATION_BODY_LENGTH = 65_536;

/** Longest reason in a Refusal packet, in octets (longer ones are cut on a character boundary). */
export const MAX_REFUSAL_REASON_LENGTH = 2048;

/** Largest cargo or CCA accepted: 9 MiB, the reference implementation's RAMF limit. */
export const MAX_MESSAGE_LENGTH = 9_437_184;
/** varchar: uint8 length prefix. */
export const MAX_VARCHAR_LENGTH = 255;
/** Handshake nonce length (RS-004). */
export const NONCE_LENGTH = 32;
/** Largest Handshake Response body (all signatures with their prefixes). */
export const MAX_HANDSHAKE_RESPONSE_LENGTH = 1_048_576;
/** Default number of unacknowledged deliveries in flight (RS-000 [HEAD]). */
export const DEFAULT_WINDOW = 5;
/** Largest header preceding a message body: tag + varchar + uint32. */
export const MAX_FRAME_OVERHEAD = 2 + 1 + MAX_VARCHAR_LENGTH + 4;

export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_SERVER_CONNECTION_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 60_000;
