export * from './types';
export { describeBindingConformance, makeMessage, seededBytes, SUITE_IDLE_TIMEOUT_MS } from './suite';
export { describeSlowLink, SLOW_LINK_IDLE_TIMEOUT_MS } from './slowLink';
