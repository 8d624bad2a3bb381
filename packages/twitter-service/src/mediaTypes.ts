/** ServiceMessage media types of the Twitter service (proto/twitter.proto). */
export const TWEET_TYPE = 'application/vnd.relaynet.twitter.tweet+protobuf';
export const UPDATE_SUBSCRIPTION_TYPE = 'application/vnd.relaynet.twitter.update-subscription+protobuf';
export const TIMELINE_UPDATE_BATCH_TYPE = 'application/vnd.relaynet.twitter.timeline-update-batch+protobuf';
export const TWEET_OUTCOME_TYPE = 'application/vnd.relaynet.twitter.tweet-outcome+protobuf';
export const SUBSCRIPTION_STATUS_TYPE = 'application/vnd.relaynet.twitter.subscription-status+protobuf';

/** Sent by the app to the adapter. */
export const APP_TO_ADAPTER_TYPES: readonly string[] = [TWEET_TYPE, UPDATE_SUBSCRIPTION_TYPE];
/** Sent by the adapter to the app. */
export const ADAPTER_TO_APP_TYPES: readonly string[] = [
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  SUBSCRIPTION_STATUS_TYPE,
];
