/**
 * Loads proto/twitter.proto (the repository's `proto/` directory, found walking up from this module, so the same
 * code works from src/ under jest and from dist/ after tsc) with protobufjs, lazily: importing this package has no
 * side effects.
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

import { findProtoFolder } from '@twitter-relaynet/core';

export const PROTO_FILE = 'twitter.proto';
export const PROTO_PACKAGE = 'relaynet.twitter';

export function findProtoFile(startDir: string = __dirname): string {
  return path.join(findProtoFolder([PROTO_FILE], startDir), PROTO_FILE);
}

let cachedRoot: protobuf.Root | undefined;

export function loadTwitterProto(): protobuf.Root {
  if (!cachedRoot) {
    const root = protobuf.loadSync(findProtoFile());
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

export function lookupType(name: string): protobuf.Type {
  return loadTwitterProto().lookupType(`${PROTO_PACKAGE}.${name}`);
}
