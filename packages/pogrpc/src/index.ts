export {
  MAX_PARCEL_LENGTH,
  MESSAGE_OVERHEAD,
  MAX_GRPC_MESSAGE_LENGTH,
  MAX_DELIVERY_ID_LENGTH,
  MAX_GATEWAY_ADDRESS_LENGTH,
  DEFAULT_WINDOW,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  DEFAULT_SERVER_CALL_TIMEOUT_MS,
  GATEWAY_METADATA_KEY,
  MAX_CONCURRENT_STREAMS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
} from './constants';
export {
  PogRPCError,
  PogRPCCallError,
  PogRPCProtocolError,
  PogRPCAbortedError,
  PogRPCInvalidParcelError,
} from './errors';
export {
  POGRPC_PROTO_PATH,
  loadPogRPCService,
  loadGrpcPackage,
  type ParcelDeliveryMessage,
  type ParcelDeliveryAckMessage,
} from './proto';
export {
  type TlsIdentity,
  type SelfSignedOptions,
  DEFAULT_TLS_HOSTNAMES,
  TLS_KEY_FILE,
  TLS_CERTIFICATE_FILE,
  generateSelfSignedCertificate,
  loadOrCreateServerTlsIdentity,
  certificateFingerprint,
} from './tls';
export {
  createPogRPCServer,
  parseAddress,
  type PogRPCServer,
  type PogRPCServerOptions,
  type ServerTls,
  type ParcelContext,
} from './server';
export { PogRPCClient, type PogRPCClientOptions, type ClientTls } from './client';
// The gRPC transport and delivery streams, shared with the CogRPC binding.
export {
  grpcServerOptions,
  listenGrpc,
  clientChannel,
  type GrpcListener,
  type GrpcListenerOptions,
  type GrpcBindingServerOptions,
  type GrpcBindingClientOptions,
} from './transport';
export { callProgress } from './callProgress';
export {
  InboundDeliveryCall,
  type InboundDeliveryOptions,
  type DeliveryMessage,
  type DeliveryAckMessage,
} from './inbound';
export {
  ServerCall,
  ServerCalls,
  grpcBindingServer,
  startGrpcBindingServer,
  type GrpcBindingSettings,
  type GrpcBindingContext,
  type ServerCallOptions,
  type GrpcBindingServer,
} from './serverCall';
export { deliverOverCall, type OutboundOptions } from './outbound';
