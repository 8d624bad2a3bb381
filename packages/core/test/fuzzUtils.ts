/**
 * Helpers for the property-based fuzz tests (fuzz.spec.ts): run configuration, a hang guard,
 * error-branch checks, raw byte mutators and a structure-aware DER model (generator + tree mutator).
 *
 * FUZZ_RUNS (default 300) sets the runs per property; FUZZ_SEED (an integer, or "random") replaces
 * the fixed per-property seeds; FUZZ_PATH replays one counterexample (with FUZZ_SEED and `-t`).
 */
import * as vm from 'node:vm';

import { FUZZ_RUNS as SHARED_FUZZ_RUNS, fuzzParameters as sharedFuzzParameters } from '@twitter-relaynet/test-support';
import fc from 'fast-check';

import { decodeAsn1, type Asn1Element } from '../src/asn1/decode';
import { integer, oid } from '../src/asn1/encode';
import { RelaynetError } from '../src/errors';
import { ALGORITHM_OIDS, AWALA_OIDS, CMS_OIDS, X509_OIDS } from '../src/oids';

// ---------------------------------------------------------------------------------------------
// Configuration

/** The core's parsers get more runs by default than the other packages' (300 against 200), unless FUZZ_RUNS says. */
export const FUZZ_RUNS = process.env.FUZZ_RUNS ? SHARED_FUZZ_RUNS : 300;

/**
 * A single input using more CPU time than this fails the property. CPU time, not wall time: on a loaded machine
 * a 2 s wall-clock limit fails healthy inputs (seen with a load average of 4-6), while the CPU an input needs does
 * not depend on what else runs. Wall time is still capped, at WALL_FACTOR times the limit, so that an endless
 * loop is interrupted.
 */
export const TIME_LIMIT_MS = 2_000;
const WALL_FACTOR = 10;

/** Jest timeout for one property: generous, and proportional to the number of runs. */
export const TEST_TIMEOUT_MS = 60_000 + FUZZ_RUNS * 25;

/** fast-check parameters for the property called `name` (test-support's: fixed seed unless FUZZ_SEED is set). */
export function fuzzParameters<T>(name: string, runs = FUZZ_RUNS): fc.Parameters<T> {
  return sharedFuzzParameters(name, runs);
}

// ---------------------------------------------------------------------------------------------
// Hang guard

/** Thrown (and so failing the property) when one input takes longer than the time limit. */
export class FuzzHangError extends Error {}

/** Thrown when a deserializer fails with an error outside the expected branches. */
export class FuzzUnexpectedError extends Error {}

const guardContext = vm.createContext({ target: undefined as unknown });
const guardScript = new vm.Script('target()');

/**
 * Run `fn` so that its synchronous part is interrupted after `limitMs` × WALL_FACTOR (a vm timeout terminates
 * whatever JavaScript runs, an infinite loop in a parser included: a Promise.race timer cannot
 * fire while the event loop is blocked).
 */
function runInterruptibly<T>(fn: () => T, limitMs: number): T {
  guardContext.target = fn;
  const cpuStart = process.cpuUsage();
  try {
    return guardScript.runInContext(guardContext, { timeout: limitMs * WALL_FACTOR }) as T;
  } catch (error) {
    if ((error as { code?: string } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new FuzzHangError(
        `Input blocked the event loop for more than ${limitMs * WALL_FACTOR} ms (${cpuMsSince(cpuStart)} ms of CPU)`,
      );
    }
    throw error;
  } finally {
    guardContext.target = undefined;
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 1000);
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

function checkElapsed(cpuStart: NodeJS.CpuUsage, limitMs: number): void {
  const cpuMs = cpuMsSince(cpuStart);
  if (cpuMs > limitMs) {
    throw new FuzzHangError(`Input took ${cpuMs} ms of CPU (limit ${limitMs} ms)`);
  }
}

/** Call a synchronous deserializer under the hang guard and capture its result or error. */
export function outcomeOf<T>(fn: () => T, limitMs = TIME_LIMIT_MS): Outcome<T> {
  const start = process.cpuUsage();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: runInterruptibly(fn, limitMs) };
  } catch (error) {
    if (error instanceof FuzzHangError) throw error;
    outcome = { ok: false, error };
  }
  checkElapsed(start, limitMs);
  return outcome;
}

/** Same for an asynchronous deserializer: vm guard on its synchronous part, timer on the rest. */
export async function outcomeOfAsync<T>(fn: () => Promise<T>, limitMs = TIME_LIMIT_MS): Promise<Outcome<T>> {
  const start = process.cpuUsage();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FuzzHangError(`Input did not settle within ${limitMs * WALL_FACTOR} ms`)),
      limitMs * WALL_FACTOR,
    );
  });
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await Promise.race([runInterruptibly(fn, limitMs), deadline]) };
  } catch (error) {
    if (error instanceof FuzzHangError) throw error;
    outcome = { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
  checkElapsed(start, limitMs);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Error branches

type ErrorClass = abstract new (...args: never[]) => Error;

export function describeError(error: unknown): string {
  // Errors from Node internals may come from another realm (jest's vm), so no instanceof Error here.
  if (error !== null && typeof error === 'object' && 'message' in error) {
    const { cause, message } = error as Error;
    const causeText = cause === undefined ? '' : ` (cause: ${describeError(cause)})`;
    return `${error.constructor?.name ?? 'Error'}: ${String(message)}${causeText}`;
  }
  return `non-error ${typeof error}: ${String(error)}`;
}

export function hex(input: Uint8Array, max = 4096): string {
  const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('hex');
  return text.length > max * 2 ? `${text.slice(0, max * 2)}… (${input.length} octets)` : text;
}

/**
 * Fail (throw) unless the outcome is a success or an error of one of the `allowed` classes
 * (all of which are RelaynetError subclasses). Returns the value on success, undefined otherwise.
 */
export function expectTyped<T>(
  outcome: Outcome<T>,
  allowed: readonly ErrorClass[],
  input: Uint8Array | string,
): T | undefined {
  if (outcome.ok) return outcome.value;
  const { error } = outcome;
  const where = typeof input === 'string' ? `input ${JSON.stringify(input.slice(0, 4096))}` : `input hex ${hex(input)}`;
  if (!(error instanceof RelaynetError)) {
    const stack = (error as Error | null)?.stack ? `\n${(error as Error).stack}` : '';
    throw new FuzzUnexpectedError(`Untyped error ${describeError(error)}\n${where}${stack}`);
  }
  if (!allowed.some((errorClass) => error instanceof errorClass)) {
    throw new FuzzUnexpectedError(
      `Unexpected error branch ${describeError(error)} (expected ${allowed.map((c) => c.name).join(' | ')})\n${where}`,
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Raw bytes

/** Arbitrary bytes up to 4 KiB: mostly short, sometimes long, often starting like DER. */
export const arbitraryBytes: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4096, size: 'max' }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom(0x30, 0x31, 0x04, 0x24, 0x02, 0x06, 0x03, 0xa0, 0xa1, 0x80, 0x1f, 0x3f),
          fc.constantFrom(0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xff, 0x00, 0x7f),
          fc.uint8Array({ maxLength: 512 }),
        )
        .map(([tag, length, rest]) => Uint8Array.from([tag, length, ...rest])),
    },
  )
  .map((bytes) => Buffer.from(bytes));

export type ByteMutation =
  | { readonly op: 'flipBit'; readonly at: number; readonly bit: number }
  | { readonly op: 'setByte'; readonly at: number; readonly value: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'extend'; readonly bytes: Uint8Array }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'overwrite'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number; readonly to: number };

const position = fc.nat();
const shortBytes = fc.uint8Array({ minLength: 1, maxLength: 32 });

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flipBit' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('setByte' as const),
      at: position,
      value: fc.oneof(fc.constantFrom(0x00, 0x80, 0x81, 0x84, 0xff, 0x30, 0x1f), fc.integer({ min: 0, max: 255 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extend' as const), bytes: shortBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: shortBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('overwrite' as const), at: position, bytes: shortBytes }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('duplicate' as const),
      at: position,
      length: fc.integer({ min: 1, max: 256 }),
      to: position,
    }),
  },
);

export function applyByteMutation(input: Buffer, mutation: ByteMutation): Buffer {
  const length = input.length;
  const at = length === 0 ? 0 : 'at' in mutation ? mutation.at % length : 0;
  switch (mutation.op) {
    case 'flipBit': {
      if (length === 0) return input;
      const copy = Buffer.from(input);
      copy[at] ^= 1 << mutation.bit;
      return copy;
    }
    case 'setByte': {
      if (length === 0) return input;
      const copy = Buffer.from(input);
      copy[at] = mutation.value;
      return copy;
    }
    case 'truncate':
      return input.subarray(0, at);
    case 'extend':
      return Buffer.concat([input, mutation.bytes]);
    case 'insert':
      return Buffer.concat([input.subarray(0, at), mutation.bytes, input.subarray(at)]);
    case 'overwrite': {
      const copy = Buffer.from(input);
      copy.set(mutation.bytes.subarray(0, Math.max(0, length - at)), at);
      return copy;
    }
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + mutation.length)]);
    case 'duplicate': {
      const range = input.subarray(at, at + mutation.length);
      const to = length === 0 ? 0 : mutation.to % (length + 1);
      return Buffer.concat([input.subarray(0, to), range, input.subarray(to)]);
    }
  }
}

export const byteMutations = fc.array(byteMutation, { minLength: 1, maxLength: 4 });

export function applyByteMutations(input: Buffer, mutations: readonly ByteMutation[]): Buffer {
  return mutations.reduce(applyByteMutation, input);
}

// ---------------------------------------------------------------------------------------------
// A mutable DER/BER model: a tree of TLVs, with control over how each header is written.

/** How a length is written; everything but 'minimal' is BER-only or malformed. */
export type LengthMode =
  | 'minimal'
  | 'nonMinimal' // 0x81 nn even below 128, or with a leading zero octet
  | 'fourOctets' // 0x84 + 4 octets
  | 'fiveOctets' // 0x85 + 5 octets (the decoder refuses > 4)
  | 'plusOne'
  | 'minusOne'
  | 'huge' // 0x84 ff ff ff ff
  | 'indefinite'; // 0x80 ... 00 00 (on a primitive too)

export interface TlvNode {
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  /** Write a long-form tag (1f ...) even for numbers below 31; `nonMinimalTag` adds a 0x80 octet. */
  longTag?: boolean;
  nonMinimalTag?: boolean;
  lengthMode?: LengthMode;
  /** Constructed content. */
  children?: TlvNode[];
  /** Primitive content. */
  content?: Buffer;
  /** A primitive (OCTET/BIT STRING) whose content is itself DER: mutations reach into it. */
  encapsulated?: { readonly prefix: Buffer; node: TlvNode };
}

function encodeIdentifier(node: TlvNode): Buffer {
  const first = (node.tagClass << 6) | (node.constructed ? 0x20 : 0);
  if (node.tagNumber < 31 && !node.longTag) return Buffer.from([first | node.tagNumber]);
  const octets: number[] = [];
  let n = node.tagNumber;
  do {
    octets.unshift((n & 0x7f) | (octets.length ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  if (node.nonMinimalTag) octets.unshift(0x80);
  return Buffer.from([first | 0x1f, ...octets]);
}

function lengthOctets(length: number, octetCount?: number): number[] {
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  while (octetCount !== undefined && octets.length < octetCount) octets.unshift(0);
  return octets;
}

function encodeLengthAs(length: number, mode: LengthMode): Buffer {
  switch (mode) {
    case 'minimal':
    case 'indefinite':
      if (length < 0x80) return Buffer.from([length]);
      return Buffer.from([0x80 | lengthOctets(length).length, ...lengthOctets(length)]);
    case 'nonMinimal': {
      const octets = [0, ...lengthOctets(length)];
      return Buffer.from([0x80 | octets.length, ...octets]);
    }
    case 'fourOctets':
      return Buffer.from([0x84, ...lengthOctets(length, 4)]);
    case 'fiveOctets':
      return Buffer.from([0x85, ...lengthOctets(length, 5)]);
    case 'plusOne':
      return encodeLengthAs(length + 1, 'minimal');
    case 'minusOne':
      return encodeLengthAs(Math.max(0, length - 1), 'minimal');
    case 'huge':
      return Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]);
  }
}

export function encodeTree(node: TlvNode): Buffer {
  let content: Buffer;
  if (node.children) {
    content = Buffer.concat(node.children.map(encodeTree));
  } else if (node.encapsulated) {
    content = Buffer.concat([node.encapsulated.prefix, encodeTree(node.encapsulated.node)]);
  } else {
    content = node.content ?? Buffer.alloc(0);
  }
  const identifier = encodeIdentifier(node);
  if (node.lengthMode === 'indefinite') {
    return Buffer.concat([identifier, Buffer.from([0x80]), content, Buffer.from([0, 0])]);
  }
  return Buffer.concat([identifier, encodeLengthAs(content.length, node.lengthMode ?? 'minimal'), content]);
}

/** Parse valid DER/BER into the model, looking inside OCTET/BIT STRINGs that hold DER. */
export function parseTree(der: Buffer): TlvNode {
  return fromElement(decodeAsn1(der, { ber: true }), 0);
}

function fromElement(element: Asn1Element, depth: number): TlvNode {
  const node: TlvNode = {
    tagClass: element.tagClass,
    constructed: element.constructed,
    tagNumber: element.tagNumber,
  };
  if (element.constructed) {
    node.children = element.children.map((child) => fromElement(child, depth + 1));
    return node;
  }
  node.content = Buffer.from(element.content);
  const isBitString = element.tagClass === 0 && element.tagNumber === 3;
  const isOctetString = (element.tagClass === 0 && element.tagNumber === 4) || element.tagClass === 2;
  const prefixLength = isBitString ? 1 : 0;
  if ((isBitString || isOctetString) && depth < 24 && node.content.length > prefixLength + 2) {
    const inner = node.content.subarray(prefixLength);
    if ((inner[0] & 0x20) !== 0 && (!isBitString || node.content[0] === 0)) {
      try {
        const innerElement = decodeAsn1(inner);
        node.encapsulated = {
          prefix: node.content.subarray(0, prefixLength),
          node: fromElement(innerElement, depth + 1),
        };
        delete node.content;
      } catch {
        // Not DER: keep it opaque.
      }
    }
  }
  return node;
}

interface NodeSlot {
  readonly node: TlvNode;
  readonly parent: TlvNode[] | null;
  readonly index: number;
}

function collectSlots(root: TlvNode): NodeSlot[] {
  const slots: NodeSlot[] = [{ node: root, parent: null, index: 0 }];
  const visit = (node: TlvNode): void => {
    if (node.children) {
      node.children.forEach((child, index) => {
        slots.push({ node: child, parent: node.children!, index });
        visit(child);
      });
    }
    if (node.encapsulated) {
      slots.push({ node: node.encapsulated.node, parent: null, index: 0 });
      visit(node.encapsulated.node);
    }
  };
  visit(root);
  return slots;
}

function cloneTree(node: TlvNode): TlvNode {
  return {
    ...node,
    children: node.children?.map(cloneTree),
    encapsulated: node.encapsulated && { prefix: node.encapsulated.prefix, node: cloneTree(node.encapsulated.node) },
  };
}

// ---------------------------------------------------------------------------------------------
// Structure-aware generation

const ALL_OIDS = [
  ...Object.values(X509_OIDS),
  ...Object.values(CMS_OIDS),
  ...Object.values(ALGORITHM_OIDS),
  ...Object.values(AWALA_OIDS),
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.3.14.3.2.26', // SHA-1
  '1.2.840.10040.4.1', // DSA
  '1.3.101.112', // Ed25519
  '1.2.840.113549.1.3.1', // DH
];
const encodedOidContents = ALL_OIDS.map((dotted) => oid(dotted).subarray(2));

const INTERESTING_INTEGERS: readonly bigint[] = [
  0n,
  1n,
  2n,
  3n,
  -1n,
  127n,
  128n,
  255n,
  256n,
  32n,
  48n,
  64n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  -(2n ** 53n),
  2n ** 64n,
  -(2n ** 63n),
  15_552_000n,
  15_552_001n,
];
const integerContents = INTERESTING_INTEGERS.map((value) => {
  const encoded = integer(value);
  return encoded.subarray(encoded[1] & 0x80 ? 2 + (encoded[1] & 0x7f) : 2);
});

const TEXT_CONTENTS = [
  '',
  ' ',
  'a',
  'text/plain',
  'application/vnd.relaynet.tweet',
  'gw.example.com',
  '0deadbeef',
  '20250101000000',
  '20251301000000',
  '20240229235959',
  '20230229000000',
  '99991231235959',
  '00000101000000',
  '250101000000Z',
  '991231235959Z',
  '500101000000Z',
  '20250101000000Z',
  '20250101000000.123Z',
  '2025010100000Z',
  '\u007f',
  '\u0000',
  'é',
  'a'.repeat(65),
  'a'.repeat(256),
  'CN',
].map((text) => Buffer.from(text, 'latin1'));

const primitiveContent: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...encodedOidContents) },
  { weight: 3, arbitrary: fc.constantFrom(...integerContents) },
  { weight: 2, arbitrary: fc.constantFrom(...TEXT_CONTENTS) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff]), Buffer.from([1])) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 48 }).map((bytes) => Buffer.from(bytes)) },
);

/** Tags, biased towards those the Relaynet structures use. */
const tagArbitrary: fc.Arbitrary<{ tagClass: number; tagNumber: number }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      tagClass: fc.constant(0),
      tagNumber: fc.constantFrom(1, 2, 3, 4, 5, 6, 12, 16, 17, 19, 22, 23, 24, 26, 30),
    }),
  },
  { weight: 3, arbitrary: fc.record({ tagClass: fc.constant(2), tagNumber: fc.integer({ min: 0, max: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      tagClass: fc.integer({ min: 0, max: 3 }),
      tagNumber: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 28 - 1 })),
    }),
  },
);

export const lengthModeArbitrary: fc.Arbitrary<LengthMode> = fc.oneof(
  { weight: 30, arbitrary: fc.constant('minimal' as const) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<LengthMode>(
      'nonMinimal',
      'fourOctets',
      'fiveOctets',
      'plusOne',
      'minusOne',
      'huge',
      'indefinite',
    ),
  },
);

const treeArbitraries = fc.letrec((tie) => ({
  tree: fc.oneof(
    { maxDepth: 8, depthIdentifier: 'der-tree' },
    { weight: 3, arbitrary: tie('primitive') as fc.Arbitrary<TlvNode> },
    { weight: 3, arbitrary: tie('constructed') as fc.Arbitrary<TlvNode> },
    { weight: 1, arbitrary: tie('encapsulating') as fc.Arbitrary<TlvNode> },
  ),
  primitive: fc
    .record({ tag: tagArbitrary, content: primitiveContent, lengthMode: lengthModeArbitrary, longTag: fc.boolean() })
    .map(({ tag, content, lengthMode, longTag }): TlvNode => ({
      ...tag,
      constructed: false,
      content,
      lengthMode,
      longTag: longTag && tag.tagNumber > 30,
    })),
  constructed: fc
    .record({
      tag: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom({ tagClass: 0, tagNumber: 16 }, { tagClass: 0, tagNumber: 17 }) },
        { weight: 2, arbitrary: fc.record({ tagClass: fc.constant(2), tagNumber: fc.integer({ min: 0, max: 3 }) }) },
        { weight: 1, arbitrary: tagArbitrary },
      ),
      children: fc.array(tie('tree') as fc.Arbitrary<TlvNode>, { maxLength: 6, depthIdentifier: 'der-tree' }),
      lengthMode: lengthModeArbitrary,
    })
    .map(({ tag, children, lengthMode }): TlvNode => ({ ...tag, constructed: true, children, lengthMode })),
  encapsulating: fc
    .record({ bitString: fc.boolean(), inner: tie('constructed') as fc.Arbitrary<TlvNode> })
    .map(({ bitString, inner }): TlvNode => ({
      tagClass: 0,
      constructed: false,
      tagNumber: bitString ? 3 : 4,
      encapsulated: { prefix: bitString ? Buffer.from([0]) : Buffer.alloc(0), node: inner },
    })),
}));

/** Random TLV trees (DER mostly, BER and malformed headers sometimes). */
export const derTree: fc.Arbitrary<TlvNode> = treeArbitraries.tree as fc.Arbitrary<TlvNode>;
export const derTreeBytes: fc.Arbitrary<Buffer> = derTree.map(encodeTree);

// ---------------------------------------------------------------------------------------------
// Structure-aware mutation of a valid value

export type TreeMutation =
  | { readonly op: 'replace'; readonly at: number; readonly tree: TlvNode }
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'swap'; readonly at: number; readonly other: number }
  | { readonly op: 'insert'; readonly at: number; readonly tree: TlvNode }
  | { readonly op: 'retag'; readonly at: number; readonly tagClass: number; readonly tagNumber: number }
  | { readonly op: 'toggleConstructed'; readonly at: number }
  | { readonly op: 'longTag'; readonly at: number; readonly nonMinimal: boolean }
  | { readonly op: 'length'; readonly at: number; readonly mode: LengthMode }
  | { readonly op: 'content'; readonly at: number; readonly content: Buffer }
  | { readonly op: 'flipContentBit'; readonly at: number; readonly offset: number; readonly bit: number }
  | { readonly op: 'chunk'; readonly at: number; readonly chunkSize: number; readonly indefinite: boolean }
  | { readonly op: 'deepen'; readonly at: number; readonly levels: number; readonly indefinite: boolean };

export const treeMutation: fc.Arbitrary<TreeMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replace' as const), at: position, tree: derTree }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), at: position, other: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, tree: derTree }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('retag' as const),
      at: position,
      tagClass: fc.integer({ min: 0, max: 3 }),
      tagNumber: fc.oneof(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 2 ** 28 - 1 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('toggleConstructed' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('longTag' as const), at: position, nonMinimal: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('length' as const),
      at: position,
      mode: fc.constantFrom<LengthMode>(
        'nonMinimal',
        'fourOctets',
        'fiveOctets',
        'plusOne',
        'minusOne',
        'huge',
        'indefinite',
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('content' as const), at: position, content: primitiveContent }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('flipContentBit' as const),
      at: position,
      offset: position,
      bit: fc.integer({ min: 0, max: 7 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('chunk' as const),
      at: position,
      chunkSize: fc.integer({ min: 1, max: 64 }),
      indefinite: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('deepen' as const),
      at: position,
      levels: fc.integer({ min: 1, max: 40 }),
      indefinite: fc.boolean(),
    }),
  },
);

export const treeMutations = fc.array(treeMutation, { minLength: 1, maxLength: 3 });

/** Replace a node that has no parent list (the root, or the DER inside an OCTET/BIT STRING). */
function replaceInPlace(node: TlvNode, replacement: TlvNode, root: TlvNode): TlvNode {
  if (node === root) return replacement;
  const bag = node as unknown as Record<string, unknown>;
  for (const key of Object.keys(bag)) delete bag[key];
  Object.assign(node, replacement);
  return root;
}

function applyTreeMutation(root: TlvNode, mutation: TreeMutation): TlvNode {
  const slots = collectSlots(root);
  const slot = slots[mutation.at % slots.length];
  const { node } = slot;
  switch (mutation.op) {
    case 'replace':
      if (!slot.parent) return replaceInPlace(node, cloneTree(mutation.tree), root);
      slot.parent[slot.index] = cloneTree(mutation.tree);
      return root;
    case 'delete':
      if (slot.parent) slot.parent.splice(slot.index, 1);
      return root;
    case 'duplicate':
      if (slot.parent) slot.parent.splice(slot.index, 0, cloneTree(node));
      return root;
    case 'swap': {
      if (!slot.parent || slot.parent.length < 2) return root;
      const other = mutation.other % slot.parent.length;
      [slot.parent[slot.index], slot.parent[other]] = [slot.parent[other], slot.parent[slot.index]];
      return root;
    }
    case 'insert':
      if (node.children) node.children.splice(mutation.at % (node.children.length + 1), 0, cloneTree(mutation.tree));
      return root;
    case 'retag':
      node.tagClass = mutation.tagClass;
      node.tagNumber = mutation.tagNumber;
      return root;
    case 'toggleConstructed':
      node.constructed = !node.constructed;
      return root;
    case 'longTag':
      node.longTag = true;
      node.nonMinimalTag = mutation.nonMinimal;
      return root;
    case 'length':
      node.lengthMode = mutation.mode;
      return root;
    case 'content':
      delete node.children;
      delete node.encapsulated;
      node.content = mutation.content;
      return root;
    case 'flipContentBit': {
      if (!node.content || node.content.length === 0) return root;
      const content = Buffer.from(node.content);
      content[mutation.offset % content.length] ^= 1 << mutation.bit;
      node.content = content;
      return root;
    }
    case 'chunk': {
      // BER constructed string: the primitive content split into primitive chunks of the same type.
      const content =
        node.content ??
        (node.encapsulated ? Buffer.concat([node.encapsulated.prefix, encodeTree(node.encapsulated.node)]) : undefined);
      if (!content) return root;
      const chunks: TlvNode[] = [];
      for (let i = 0; i < content.length || i === 0; i += mutation.chunkSize) {
        chunks.push({
          tagClass: 0,
          constructed: false,
          tagNumber: 4,
          content: content.subarray(i, i + mutation.chunkSize),
        });
      }
      delete node.content;
      delete node.encapsulated;
      node.constructed = true;
      node.children = chunks;
      node.lengthMode = mutation.indefinite ? 'indefinite' : 'minimal';
      return root;
    }
    case 'deepen': {
      // Wrap the node in many SEQUENCEs (towards and past the decoder's depth limit).
      let wrapped: TlvNode = cloneTree(node);
      for (let i = 0; i < mutation.levels; i++) {
        wrapped = {
          tagClass: 0,
          constructed: true,
          tagNumber: 16,
          children: [wrapped],
          lengthMode: mutation.indefinite ? 'indefinite' : 'minimal',
        };
      }
      if (!slot.parent) return replaceInPlace(node, wrapped, root);
      slot.parent[slot.index] = wrapped;
      return root;
    }
  }
}

/** Re-encode `valid` after applying the mutations to its TLV tree (parsed afresh each time). */
export function mutateTree(valid: Buffer, mutations: readonly TreeMutation[]): Buffer {
  let root = parseTree(valid);
  for (const mutation of mutations) root = applyTreeMutation(root, mutation);
  return encodeTree(root);
}

/** Either kind of mutation, and sometimes both (a tree mutation, then raw bytes). */
export type AnyMutation =
  | { readonly kind: 'bytes'; readonly mutations: readonly ByteMutation[] }
  | { readonly kind: 'tree'; readonly mutations: readonly TreeMutation[]; readonly then: readonly ByteMutation[] };

export const anyMutation: fc.Arbitrary<AnyMutation> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), mutations: byteMutations }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tree' as const),
      mutations: treeMutations,
      then: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: byteMutations }),
    }),
  },
);

/** Mutate `valid`; `prefixLength` octets (e.g. a RAMF format signature) are kept out of the tree. */
export function applyMutation(valid: Buffer, mutation: AnyMutation, prefixLength = 0): Buffer {
  if (mutation.kind === 'bytes') return applyByteMutations(valid, mutation.mutations);
  const prefix = valid.subarray(0, prefixLength);
  let mutated: Buffer;
  try {
    mutated = Buffer.concat([prefix, mutateTree(valid.subarray(prefixLength), mutation.mutations)]);
  } catch {
    // Not DER (PEM text, a truncated message): fall back to flipping a bit where each mutation points.
    const flips = mutation.mutations.map((m): ByteMutation => ({ op: 'flipBit', at: m.at, bit: m.at % 8 }));
    mutated = applyByteMutations(valid, flips);
  }
  return applyByteMutations(mutated, mutation.then);
}

// ---------------------------------------------------------------------------------------------
// Pathological inputs

function repeat(pattern: number[], times: number, suffix: number[] = []): Buffer {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(...pattern);
  return Buffer.from([...out, ...suffix]);
}

/** Nesting, lengths and tags chosen to make a naive parser recurse, allocate or loop. */
export function pathologicalInputs(): Array<{ readonly name: string; readonly bytes: Buffer }> {
  const nestedDefinite = (depth: number, tag = 0x30): Buffer => {
    let value = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < depth; i++)
      value = Buffer.concat([Buffer.from([tag]), encodeLengthAs(value.length, 'minimal'), value]);
    return value;
  };
  const wrapSequence = (value: Buffer): Buffer =>
    Buffer.concat([Buffer.from([0x30]), encodeLengthAs(value.length, 'minimal'), value]);
  const hugeInteger = (octets: number): Buffer =>
    Buffer.concat([Buffer.from([0x02]), encodeLengthAs(octets, 'minimal'), Buffer.alloc(octets, 0x7f)]);
  return [
    { name: '30 80 × 10000 (indefinite nesting, no end)', bytes: repeat([0x30, 0x80], 10_000) },
    { name: '30 80 × 10000 then 00 00 × 10000', bytes: repeat([0x30, 0x80], 10_000, Array(20_000).fill(0)) },
    { name: '30 80 × 31 then EOCs (at the depth limit)', bytes: repeat([0x30, 0x80], 31, Array(62).fill(0)) },
    { name: '24 80 × 5000 (constructed OCTET STRING, indefinite)', bytes: repeat([0x24, 0x80], 5_000) },
    { name: 'a0 80 × 5000', bytes: repeat([0xa0, 0x80], 5_000) },
    { name: 'definite nesting × 1000', bytes: nestedDefinite(1_000) },
    { name: 'definite nesting × 33', bytes: nestedDefinite(33) },
    { name: 'definite [0] nesting × 200', bytes: nestedDefinite(200, 0xa0) },
    { name: '30 84 ff ff ff ff', bytes: Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]) },
    { name: '30 88 ff × 8', bytes: Buffer.from([0x30, 0x88, ...Array(8).fill(0xff)]) },
    { name: '30 ff', bytes: Buffer.from([0x30, 0xff]) },
    {
      name: '04 84 7f ff ff ff + 1 KiB',
      bytes: Buffer.concat([Buffer.from([0x04, 0x84, 0x7f, 0xff, 0xff, 0xff]), Buffer.alloc(1024)]),
    },
    { name: 'long-form tag 1f ff ff ff ff 7f', bytes: Buffer.from([0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]) },
    {
      name: 'long-form tag, 4 KiB of continuation octets',
      bytes: Buffer.concat([Buffer.from([0x3f]), Buffer.alloc(4096, 0xff)]),
    },
    { name: 'non-minimal long-form tag 1f 80 01', bytes: Buffer.from([0x1f, 0x80, 0x01, 0x00]) },
    {
      name: 'SEQUENCE of 20000 NULLs',
      bytes: Buffer.concat([Buffer.from([0x30, 0x82, 0x9c, 0x40]), repeat([0x05, 0x00], 20_000)]),
    },
    {
      name: 'SEQUENCE of 10000 EOC-like 00 00',
      bytes: Buffer.concat([Buffer.from([0x30, 0x82, 0x4e, 0x20]), Buffer.alloc(20_000)]),
    },
    { name: 'INTEGER of 256 KiB', bytes: hugeInteger(256 * 1024) },
    { name: 'SEQUENCE { INTEGER of 64 KiB }', bytes: wrapSequence(hugeInteger(65_536)) },
    {
      name: 'OID of 64 KiB of 0xff',
      bytes: Buffer.concat([Buffer.from([0x06, 0x83, 0x01, 0x00, 0x00]), Buffer.alloc(65_536, 0xff)]),
    },
    { name: 'empty', bytes: Buffer.alloc(0) },
    { name: '00 00', bytes: Buffer.from([0, 0]) },
    { name: '1 MiB of zeros', bytes: Buffer.alloc(1024 * 1024) },
  ];
}
