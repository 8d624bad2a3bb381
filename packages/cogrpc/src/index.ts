export {
  MAX_CARGO_LENGTH,
  CARGO_MESSAGE_OVERHEAD,
  MAX_CARGO_MESSAGE_LENGTH,
  DEFAULT_CARGO_WINDOW,
  DEFAULT_CLIENT_DEADLINE_MS,
  MAX_AUTHORIZATION_LENGTH,
} from './constants';
export { CogRPCError, CcaRefusedError, type CcaRefusalReason } from './errors';
export { COGRPC_PROTO_PATH, COGRPC_DIALECTS, loadCogRPCService, type CogRPCDialect } from './proto';
export {
  createCogRPCServer,
  parseCcaAuthorization,
  type CogRPCServer,
  type CogRPCServerOptions,
  type CargoContext,
  type CollectableCargo,
  type CollectionContext,
} from './server';
export {
  CogRPCClient,
  type CogRPCClientOptions,
  type CollectCargoOptions,
  type CollectedCargo,
  type CargoCollectionReport,
} from './client';
export {
  CourierRegistrationClient,
  GatewayRegistrationRefusedError,
  MAX_REGISTRATION_MESSAGE_LENGTH,
  loadCourierRegistrationService,
} from './registration';
// The transport pieces a CogRPC user needs, from the shared gRPC layer.
export {
  type ServerTls,
  type ClientTls,
  generateSelfSignedCertificate,
  loadOrCreateServerTlsIdentity,
  certificateFingerprint,
  parseAddress,
  PogRPCCallError as GrpcCallError,
} from '@twitter-relaynet/pogrpc';
