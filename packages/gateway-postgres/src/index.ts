// The relaying gateway's stores on PostgreSQL. Loaded only when a database URL is given: nothing else in
// the repository imports this package statically, so the default (SQLite) install never loads `pg`.
export {
  openPostgresStores,
  PostgresGatewayStores,
  PostgresParcelStore,
  PostgresIdLedger,
  PostgresPcaQueue,
  PostgresCertificateRegistry,
  PostgresRegistrationStore,
  PARCELS_CHANNEL,
  IdentityMismatchError,
  type PostgresStoresOptions,
} from './stores';
export { PostgresCourierAnswerStore } from './courierAnswers';
export { migrate, MIGRATIONS, SCHEMA_VERSION } from './migrations';
