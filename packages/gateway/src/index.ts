// The public surface of the gateway library. Nothing is public unless it is exported here.

export { type Clock, systemClock, ManualClock } from './clock';
export * from './errors';

// Storage
export * from './stores/types';
export {
  createMemoryStores,
  MemoryParcelStore,
  MemoryIdLedger,
  MemoryPcaQueue,
  MemoryCertificateRegistry,
  MemoryRegistrationStore,
  MemoryCourierAnswerStore,
} from './stores/memory';
export {
  openGatewaySqliteStores,
  SqliteGatewayStores,
  SqliteParcelStore,
  SqliteIdLedger,
  SqlitePcaQueue,
  SqliteCertificateRegistry,
  SqliteRegistrationStore,
  SqliteCourierAnswerStore,
} from './stores/sqlite';

// Gateways
export {
  Gateway,
  CARGO_BACKDATING_MS,
  type GatewayIdentity,
  type GatewayOptions,
  type GatewayCounters,
  type OutgoingCargo,
  type CargoReceipt,
  type CargoDestination,
  type ParcelOutcome,
  type ParcelAcceptance,
} from './Gateway';
export {
  UserGateway,
  CCA_BACKDATING_MS,
  DEFAULT_CCA_TTL_SECONDS,
  type UserGatewayOptions,
  type RelayingGatewayInfo,
  type CollectedParcel,
  KEEP_ALIVE_RECHECK_MS,
} from './UserGateway';
export {
  RelayingGateway,
  USER_GATEWAY_CERTIFICATE_VALIDITY_MS,
  DEFAULT_DELIVERY_LEASE_MS,
  deliveryBackoffMs,
  type RelayingGatewayOptions,
  type CargoCollection,
  type DeliveredParcel,
  type FailedParcel,
} from './RelayingGateway';
export {
  InternetDelivery,
  type InternetDeliveryOptions,
  type InternetRoute,
  type ParcelConnection,
  type RouteFailure,
  routeFailureFields,
  DELIVERY_BATCH,
  DELIVERY_ROUNDS_IN_FLIGHT,
  DELIVERY_PIPELINE_MAX_BYTES,
} from './internetDelivery';
export { RouteBackoff, ROUTE_RETRY_INITIAL_MS, ROUTE_RETRY_MAX_MS } from './routeBackoff';

// Registration
export {
  selfIssueGatewayCertificate,
  writeRegistrationRequest,
  answerRegistrationRequests,
  readRegistrationResponse,
  RELAYING_GATEWAY_CERTIFICATE_VALIDITY_MS,
  type RegistrationResponse,
} from './registration';

export { UserGatewayRegistration } from './userGatewayRegistration';
export {
  CourierRegistrar,
  type CourierRegistrationAnswer,
  type CourierRegistrationRequest,
  createCourierRegistrationRequest,
  parseCourierRegistrationRequest,
  verifyCourierRegistrationResponse,
  registrationRequestDigest,
  REGISTRATION_REQUEST_MAX_AGE_MS,
  REGISTRATION_REQUEST_RENEWAL_MS,
  REGISTRATION_REQUEST_MAX_FUTURE_MS,
} from './courierRegistration';

// Clock skew between the two sides: parcels dated beyond the drift tolerance, and the notice telling the user
export { findFutureDatedParcels, formatHours, type FutureDatedCargo, type FutureDatedParcels } from './clockSkew';
export {
  type CargoWatch,
  ClockSkewMonitor,
  type ClockSkewRefusal,
  type ClockSkewStatus,
  logFutureDatedCargo,
} from './clockSkewStatus';
export {
  type ClockSkewNotice,
  CLOCK_SKEW_NOTICE_TYPE,
  CLOCK_SKEW_REFUSED_PARCEL_ID,
  CLOCK_SKEW_RESOLVED_PARCEL_ID,
  MalformedClockSkewNoticeError,
  parseClockSkewNotice,
  serializeClockSkewNotice,
} from './clockSkewNotice';
