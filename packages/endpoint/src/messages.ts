import type { Certificate } from '@twitter-relaynet/core';

/** What the app sends: a media type and its content (a core ServiceMessage). */
export interface OutgoingMessage {
  readonly type: string;
  readonly content: Buffer;
}

export interface MessageSender {
  /** The sender's node id. */
  readonly id: string;
  /** The sender's certificate (a PDA when the sender is a public endpoint writing to a private one). */
  readonly certificate: Certificate;
  /** The certificates the sender attached, from its issuer up. */
  readonly certificateChain: readonly Certificate[];
}

/** A message from a peer, validated and decrypted. */
export interface IncomingMessage {
  readonly parcelId: string;
  readonly type: string;
  readonly content: Buffer;
  readonly sender: MessageSender;
  readonly creationDate: Date;
  readonly expiryDate: Date;
  /** The return address of the gateway that delivered the parcel (PogRPC `gateway` metadata); null when absent. */
  readonly gatewayAddress: string | null;
  /** How the payload was encrypted. */
  readonly encryption: 'session' | 'sessionless';
}

/**
 * Takes a message durably (stores it, acts on it). The parcel is acknowledged only once this resolves; if it
 * rejects the parcel stays with the gateway, which delivers it again.
 */
export type MessageHandler = (message: IncomingMessage) => Promise<void>;

export type ReceiptStatus = 'accepted' | 'duplicate' | 'refused';

export interface ReceiptOutcome {
  readonly status: ReceiptStatus;
  readonly parcelId: string | null;
  readonly senderId: string | null;
  /** Why the parcel was refused. */
  readonly reason?: string;
}
