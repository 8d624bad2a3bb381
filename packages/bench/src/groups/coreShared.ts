/** What the core group's implementations share (no library imports: the RSS child loads this). */

export type PayloadMode = 'sessionless' | 'session';

export const SERVICE_MESSAGE_TYPE = 'application/vnd.relaynet.bench';
export const GATEWAY_ADDRESS = 'gateway.bench.test';

/** The operations measured, driven alike for @twitter-relaynet/core and relaynet-core. */
export interface CoreOps {
  /** ServiceMessage → EnvelopedData → Parcel, signed by the public endpoint (PDA as its certificate). */
  serializeParcel(mode: PayloadMode, content: Buffer): Promise<Buffer>;
  /** Deserialize (signature), validate against the recipient's certificate (chain), decrypt; the content. */
  unwrapParcel(mode: PayloadMode, parcel: Buffer): Promise<Buffer>;
  /** CargoMessageSet of serialized parcels → session EnvelopedData → Cargo signed by the private gateway. */
  buildCargo(parcels: readonly Buffer[]): Promise<Buffer>;
  /** Deserialize, validate, decrypt, then deserialize (verify) every parcel; returns how many. */
  unwrapCargo(cargo: Buffer): Promise<number>;
}

export const toArrayBuffer = (buffer: Buffer): ArrayBuffer =>
  buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
