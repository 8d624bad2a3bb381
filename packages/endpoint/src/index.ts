// The public surface of the endpoint library. Nothing is public unless it is exported here.

export {
  DELIVERIES_AHEAD,
  PrivateEndpoint,
  type PrivateEndpointOptions,
  type PublicPeer,
  type OutgoingParcel,
  type CollectOptions,
  type CollectionReport,
} from './PrivateEndpoint';
export {
  PublicEndpoint,
  type PublicEndpointOptions,
  type PublicListenOptions,
  type SendOptions,
  type QueuedParcel,
} from './PublicEndpoint';
export type {
  OutgoingMessage,
  IncomingMessage,
  MessageSender,
  MessageHandler,
  ReceiptOutcome,
  ReceiptStatus,
} from './messages';
export { DEFAULT_PARCEL_TTL_SECONDS, DEFAULT_INITIAL_SESSION_KEY_ROTATION_MS } from './constants';

// Connection parameters of a public endpoint (published by the adapter, read by the app)
export {
  type ConnectionParameters,
  CONNECTION_PARAMETERS_FORMAT,
  CONNECTION_PARAMETERS_VERSION,
  getConnectionParametersId,
  serializeConnectionParameters,
  parseConnectionParameters,
  writeConnectionParameters,
  readConnectionParameters,
} from './connectionParameters';

// PDAs
export {
  type DeliveryAuthorization,
  serializeDeliveryAuthorization,
  deserializeDeliveryAuthorization,
  checkDeliveryAuthorization,
} from './pda';

// Private endpoint ↔ gateway transport
export {
  type GatewayTransport,
  type GatewaySession,
  type GatewayRegistration,
  type EndpointCredentials,
  type CollectParcelsOptions,
  PoWebSocketGatewayTransport,
  type PoWebSocketGatewayTransportOptions,
} from './transport';

// Outbox delivery (public endpoint → relaying gateway)
export {
  OutboxDispatcher,
  type OutboxDispatcherOptions,
  type OutboxClient,
  type GatewayRoute,
  type GatewayResolver,
  type FlushReport,
} from './outbox';

// Channel sessions (RS-003)
export {
  SessionManager,
  DEFAULT_SESSION_KEY_LIFETIME_MS,
  MAX_SESSION_KEY_LIFETIME_MS,
  type EncryptionResult,
  type DecryptionResult,
} from './sessions';

// Storage
export type {
  KeyStore,
  PeerSessionKeyStore,
  DedupLedger,
  Outbox,
  OutboxEntry,
  OwnSessionKey,
  IdentityRecord,
  PeerSessionKeyRecord,
  EndpointStores,
} from './stores/types';
export {
  MemoryKeyStore,
  MemoryPeerSessionKeyStore,
  MemoryDedupLedger,
  MemoryOutbox,
  createMemoryStores,
} from './stores/memory';
export {
  openEndpointSqliteStores,
  SqliteEndpointStores,
  DATABASE_FILE_NAME,
  ensurePrivateDirectory,
} from './stores/sqlite';

// Infrastructure
export { type Clock, systemClock, ManualClock } from './clock';
export { EndpointError, InvalidParcelError, EndpointStateError, PeerError, ConnectionParametersError } from './errors';
