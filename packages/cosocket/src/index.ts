export {
  PacketTag,
  QuitReason,
  RefusalDisposition,
  REFUSAL_REPORTS_OPT_IN,
  MAX_REFUSAL_REASON_LENGTH,
  MAX_REGISTRATION_BODY_LENGTH,
  RegistrationStatus,
  quitReasonName,
  MAX_MESSAGE_LENGTH,
  MAX_VARCHAR_LENGTH,
  NONCE_LENGTH,
  DEFAULT_WINDOW,
  MAX_FRAME_OVERHEAD,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  DEFAULT_SERVER_CONNECTION_TIMEOUT_MS,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
} from './constants';
export {
  CoSocketError,
  CoSocketProtocolError,
  CoSocketQuitError,
  CoSocketConnectionClosedError,
  CoSocketAbortedError,
  CoSocketHandshakeError,
  CoSocketMessageSizeError,
  CoSocketRefusalError,
} from './errors';
export { type Packet, encodePacket } from './packets';
export { PacketDecoder } from './decoder';
export {
  createCoSocketServer,
  type CoSocketServer,
  type CoSocketServerOptions,
  type CollectionItem,
  type CollectionResponse,
} from './server';
export {
  CoSocketClient,
  type CoSocketClientOptions,
  type CoSocketTarget,
  type CoSocketDeliveryReport,
  type RefusedDelivery,
  type DeliverCargoOptions,
  type CollectedMessage,
  type CollectCargoOptions,
} from './client';
