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
export {
  FUZZ_RUNS,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParameters,
  FuzzCounter,
  FuzzUnexpectedError,
  expectTypedOutcome,
  expectTypedOutcomeAsync,
  arbitraryBytes,
  argvArbitrary,
  mutation,
  mutations,
  applyMutation,
  applyMutations,
  chunking,
  splitAt,
  type ErrorClass,
  type Mutation,
} from './fuzz';
export {
  startFlood,
  garbage,
  silent,
  residentSetSize,
  isAlive,
  type Flood,
  type FloodOptions,
  type FloodStats,
  type FloodTarget,
  type Misbehaviour,
} from './flood';
export { describeDaemonCommandLineFuzz, type DaemonCommandLine } from './daemonCliFuzz';
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
