/**
 * Loads proto/twitter.proto (the repository's `proto/` directory, found walking up from this module, so the same
 * code works from src/ under jest and from dist/ after tsc) with protobufjs, lazily: importing this package has no
 * side effects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

export const PROTO_FILE = 'twitter.proto';
export const PROTO_PACKAGE = 'relaynet.twitter';

export function findProtoFile(startDir: string = __dirname): string {
  let dir = startDir;
  for (;;) {
    const candidate = path.join(dir, 'proto', PROTO_FILE);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Cannot find proto/${PROTO_FILE} in ${startDir} or any parent directory`);
    dir = parent;
  }
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
