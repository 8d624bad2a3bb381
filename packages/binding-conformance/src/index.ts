export * from './types';
export { describeBindingConformance, makeMessage, seededBytes, SUITE_IDLE_TIMEOUT_MS } from './suite';
