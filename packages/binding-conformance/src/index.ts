export * from './types';
export { describeBindingConformance, makeMessage, seededBytes, SUITE_IDLE_TIMEOUT_MS } from './suite';
export { describeSlowLink, SLOW_LINK_IDLE_TIMEOUT_MS } from './slowLink';
export {
  FUZZ_RUNS,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParameters,
  FuzzCounter,
  FuzzUnexpectedError,
  expectTypedOutcome,
  expectTypedOutcomeAsync,
  arbitraryBytes,
  mutation,
  mutations,
  applyMutation,
  applyMutations,
  chunking,
  splitAt,
  type Mutation,
} from './fuzz';
export { argvArbitrary } from './fuzz';
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
