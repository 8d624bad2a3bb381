// Test-only helpers shared by the packages' tests. Never imported by runtime code.
export {
  startThrottlingProxy,
  type Endpoint,
  type LinkOptions,
  type ThrottlingProxy,
  type ThrottlingProxyOptions,
} from './throttlingProxy';
export {
  createTestDatabase,
  DEFAULT_TEST_DATABASE_URL,
  describeWithPostgres,
  postgresReachable,
  testDatabaseServerUrl,
  type PgModule,
  type TestDatabase,
  useTestDatabase,
} from './postgres';
export { waitFor } from './waitFor';
export { TestPoWebSocketGateway, type PoWebSocketModule } from './poWebSocketGateway';
export {
  buildPackages,
  Daemon,
  type DaemonOptions,
  type LogLine,
  type ProcessResult,
  runProcess,
  type RunOptions,
} from './processes';
