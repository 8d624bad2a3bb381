import type { OutgoingCargo } from '@twitter-relaynet/gateway';

import { mapCargoes } from './collection';

function cargo(id: string): OutgoingCargo {
  return { id, serialized: Buffer.from(id), expiryDate: new Date(), parcelCount: 1, pcaCount: 0 };
}

async function* cargoes(ids: readonly string[], failAfter?: number): AsyncGenerator<OutgoingCargo> {
  for (const [index, id] of ids.entries()) {
    if (index === failAfter) throw new Error('store down');
    yield cargo(id);
  }
}

test('maps each cargo in order, and says when they all went out', async () => {
  let ended = 0;
  const mapped = mapCargoes(cargoes(['a', 'b']), { map: (c) => c.id, end: () => (ended += 1) });
  const seen: string[] = [];
  for await (const id of mapped) seen.push(id);
  expect(seen).toEqual(['a', 'b']);
  expect(ended).toBe(1);
});

test('a failure to make a cargo reaches the caller as `error` makes it, and the cargoes did not all go out', async () => {
  let ended = 0;
  const mapped = mapCargoes(cargoes(['a', 'b'], 1), {
    map: (c) => c.id,
    end: () => (ended += 1),
    error: (error) => new Error(`outage: ${(error as Error).message}`),
  });
  await expect(mapped.next()).resolves.toEqual({ done: false, value: 'a' });
  await expect(mapped.next()).rejects.toThrow('outage: store down');
  await expect(mapped.next()).resolves.toEqual({ done: true, value: undefined });
  expect(ended).toBe(0);
});

test('stopping early stops the generation (its finally blocks run)', async () => {
  let stopped = false;
  const source = (async function* () {
    try {
      yield cargo('a');
      yield cargo('b');
    } finally {
      stopped = true;
    }
  })();
  const mapped = mapCargoes(source, { map: (c) => c.id });
  for await (const id of mapped) {
    expect(id).toBe('a');
    break;
  }
  expect(stopped).toBe(true);
});
