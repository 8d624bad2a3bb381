// Test-only helpers shared by the packages' tests. Never imported by runtime code. This entry needs nothing but Node
// and pg; the fixtures built on a workspace library have an entry of their own, so that a test loads only what it
// uses: `@twitter-relaynet/test-support/gateway`, `/endpoint` and `/browser` (Chromium through playwright-core).
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
export { closedByServer, openConnection, startOpenCall } from './sockets';
export { onTerminal, Running, stopAll } from './terminal';
export { tmpfsUnavailable } from './tmpfs';
export {
  buildPackages,
  Daemon,
  type DaemonOptions,
  type LogLine,
  type ProcessResult,
  runProcess,
  type RunOptions,
} from './processes';
export { issuePkiChain, type PkiChain, type PkiChainKeys } from './pkiChain';
export { seededRandom } from './seededRandom';
