export { CloseCode, ProtocolError } from './closeCodes';
export {
  ConnectionClosedError,
  HandshakeError,
  PoWebSocketError,
  RegistrationRefusedError,
  UntrustedSocketError,
} from './errors';
export { type CloseInfo, type ConnectionOptions, DEFAULTS } from './peer';
export { MAX_PARCEL_SIZE, MAX_WS_PAYLOAD, MessageTag, type ParcelDeliveryDeauthorization } from './proto';
export {
  type EndpointRegistration,
  GatewayConnection,
  type OutgoingParcel,
  type ParcelSourceOptions,
  PoWebSocketServer,
  type PoWebSocketServerOptions,
} from './server';
export {
  type CollectOptions,
  type DeliverOptions,
  PoWebSocketConnection,
  type PoWebSocketClientOptions,
  checkSocketOwnership,
} from './client';
export {
  type EndpointIdentity,
  makeEndpointCertificateIssuer,
  makeHandshakeSigner,
  makeHandshakeVerifier,
} from './handshakeCrypto';
