/**
 * Shared helpers for the `*.fuzz.spec.ts` suites outside the core (bindings, service codecs, CLI
 * parsers). Same conventions as packages/core/test/fuzzUtils.ts: FUZZ_RUNS (default 200) runs per
 * property, FUZZ_SEED (an integer, or "random") replaces the fixed per-property seeds. Every suite
 * counts the cases it really ran and prints the count; with FUZZ_REPORT=<file> it also appends one
 * JSON line per suite to that file, so a long run can be totalled.
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import fc from 'fast-check';

export const FUZZ_RUNS = positiveInteger(process.env.FUZZ_RUNS) ?? 200;

/** Jest timeout for one property: generous, and proportional to the number of runs. */
export const FUZZ_TEST_TIMEOUT_MS = 60_000 + FUZZ_RUNS * 20;

function positiveInteger(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new Error(`Invalid FUZZ_RUNS "${value}"`);
  return parsed;
}

const randomSeed = Date.now() ^ (Math.random() * 0x7fffffff);

function seedFor(name: string): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv === 'random') return randomSeed;
  if (fromEnv) {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) throw new Error(`Invalid FUZZ_SEED "${fromEnv}"`);
    return seed | 0;
  }
  // FNV-1a of the property name: fixed per property, different across properties.
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** fast-check parameters for the property `name`: fixed seed unless FUZZ_SEED says otherwise. */
export function fuzzParameters<T>(name: string, runs = FUZZ_RUNS): fc.Parameters<T> {
  const path = process.env.FUZZ_PATH;
  return { numRuns: runs, seed: seedFor(name), ...(path ? { path } : {}) };
}

/** Counts the cases a suite ran (shrinking runs included) and reports them once, at the end. */
export class FuzzCounter {
  private cases = 0;
  private readonly started = performance.now();

  public constructor(private readonly suite: string) {}

  public count(): void {
    this.cases += 1;
  }

  public get total(): number {
    return this.cases;
  }

  /** Print the figure (and append it to $FUZZ_REPORT); call from afterAll. */
  public report(): void {
    const seconds = Math.round((performance.now() - this.started) / 100) / 10;
    const line = { suite: this.suite, cases: this.cases, runsPerProperty: FUZZ_RUNS, seconds };
    process.stdout.write(`fuzz: ${this.suite}: ${this.cases} cases in ${seconds} s\n`);
    if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(line)}\n`);
  }
}

/** Thrown when a parser fails with an error that is not one of its typed errors. */
export class FuzzUnexpectedError extends Error {}

export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Run `fn`; succeed on a result or on an error of the `allowed` classes; anything else (a TypeError,
 * a RangeError from a Buffer read, a string thrown) fails the property with the input.
 */
export function expectTypedOutcome<T>(fn: () => T, allowed: readonly ErrorClass[], input: unknown): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (allowed.some((errorClass) => error instanceof errorClass)) return undefined;
    throw new FuzzUnexpectedError(`Untyped error ${describe(error)} for input ${render(input)}`, { cause: error });
  }
}

/** Same for asynchronous parsers. */
export async function expectTypedOutcomeAsync<T>(
  fn: () => Promise<T>,
  allowed: readonly ErrorClass[],
  input: unknown,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (allowed.some((errorClass) => error instanceof errorClass)) return undefined;
    throw new FuzzUnexpectedError(`Untyped error ${describe(error)} for input ${render(input)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'message' in error) {
    return `${(error as Error).constructor?.name ?? 'Error'}: ${String((error as Error).message)}`;
  }
  return `non-error ${typeof error}: ${String(error)}`;
}

function render(input: unknown): string {
  if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    const text = Buffer.from(input).toString('hex');
    return `hex ${text.length > 2048 ? `${text.slice(0, 2048)}… (${input.length} octets)` : text}`;
  }
  const text = JSON.stringify(input);
  return text === undefined ? String(input) : text.slice(0, 2048);
}

// ---------------------------------------------------------------------------------------------
// Byte-level generators and mutators

/** Arbitrary bytes: mostly short, sometimes up to 4 KiB. */
export const arbitraryBytes: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096, size: 'max' }) },
  )
  .map((bytes) => Buffer.from(bytes));

/** One raw mutation of a valid input. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'interesting'; readonly at: number; readonly width: 1 | 2 | 4; readonly value: number };

/** Values that break length fields: zero, one, maxima of each width, off-by-one around them. */
const INTERESTING = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('interesting' as const),
    at: fc.nat(),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const),
    value: fc.constantFrom(...INTERESTING),
  }),
);

export const mutations: fc.Arbitrary<Mutation[]> = fc.array(mutation, { minLength: 1, maxLength: 4 });

export function applyMutation(input: Buffer, m: Mutation): Buffer {
  if (input.length === 0) return m.kind === 'insert' ? Buffer.from(m.bytes) : input;
  const at = m.at % input.length;
  const out = Buffer.from(input);
  switch (m.kind) {
    case 'flip':
      out[at] ^= 1 << m.bit;
      return out;
    case 'set':
      out[at] = m.value;
      return out;
    case 'insert':
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.count)]);
    case 'truncate':
      return input.subarray(0, at);
    case 'interesting': {
      const start = Math.min(at, Math.max(0, input.length - m.width));
      const width = Math.min(m.width, input.length - start);
      const value = m.value % 2 ** (8 * width);
      // Both byte orders: the bindings use little-endian (CoSocket) and big-endian (protobuf varints aside) fields.
      if (m.at % 2 === 0) out.writeUIntLE(value, start, width);
      else out.writeUIntBE(value, start, width);
      return out;
    }
  }
}

export function applyMutations(input: Buffer, list: readonly Mutation[]): Buffer {
  return list.reduce((bytes, m) => applyMutation(bytes, m), input);
}

/** Cut points to split a stream into chunks, as a socket would deliver it. */
export const chunking: fc.Arbitrary<number[]> = fc.array(fc.nat({ max: 4096 }), { maxLength: 8 });

export function splitAt(input: Buffer, cuts: readonly number[]): Buffer[] {
  if (input.length === 0) return [input];
  const points = [...new Set(cuts.map((c) => c % input.length))].filter((p) => p > 0).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(input.subarray(start, point));
    start = point;
  }
  chunks.push(input.subarray(start));
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Command lines

/** Strings that trip option parsers: empty, dashes, `=`, NUL, huge numbers, unicode, `--`. */
const NASTY_WORDS = [
  '',
  '-',
  '--',
  '---',
  '-h',
  '--help',
  '=',
  '--=',
  '-1',
  '0',
  '1e999',
  'NaN',
  '\u0000',
  ' ',
  '\u202e',
  '💥',
  '9'.repeat(400),
];

/**
 * argv (after `node script`) made of the command's own flags and words, nasty words and random
 * strings, in random order: most runs reach the option validation, not just "unknown option".
 */
export function argvArbitrary(
  flags: readonly string[],
  words: readonly string[] = [],
  values?: fc.Arbitrary<string>,
): fc.Arbitrary<string[]> {
  const token = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...flags) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_WORDS, ...words) },
    { weight: 3, arbitrary: values ?? fc.string({ maxLength: 30 }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...flags), fc.string({ maxLength: 20 })).map(([f, v]) => `${f}=${v}`),
    },
  );
  return fc.array(token, { maxLength: 8 });
}
