// The Twitter service: its messages (proto/twitter.proto) and their media types. No side effects on import:
// the .proto file is loaded on first encode/decode.
export * from './mediaTypes';
export * from './messages';
export { findProtoFile, loadTwitterProto, PROTO_FILE, PROTO_PACKAGE } from './proto';
export { MAX_WEIGHTED_TWEET_LENGTH, weightedTweetLength } from './tweetText';
