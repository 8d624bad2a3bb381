import { waitFor } from './waitFor';

describe('waitFor', () => {
  test('resolves with the first truthy value, sync or async', async () => {
    let calls = 0;
    await expect(waitFor('the third call', () => ++calls >= 3 && calls, 5_000, 1)).resolves.toBe(3);
    await expect(waitFor('an async value', async () => 'ready')).resolves.toBe('ready');
  });

  test('waits for an event that happens later', async () => {
    let done = false;
    setImmediate(() => (done = true));
    await expect(waitFor('the flag', () => done, 5_000, 1)).resolves.toBe(true);
  });

  test('says what it waited for when the safety net trips', async () => {
    await expect(waitFor('something that never happens', () => false, 30, 5)).rejects.toThrow(
      'Timed out after 30 ms waiting for something that never happens',
    );
  });

  test('passes on a failing check', async () => {
    await expect(
      waitFor('a broken probe', () => {
        throw new Error('probe broke');
      }),
    ).rejects.toThrow('probe broke');
  });
});
