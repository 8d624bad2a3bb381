import { waitFor } from '@twitter-relaynet/test-support';

import { IntervalPoller } from './poller';

afterEach(() => jest.useRealTimers());

test('runs the task every interval, one run at a time, and stop() waits for the run under way', async () => {
  let running = 0;
  let most = 0;
  let runs = 0;
  let release: () => void = () => undefined;
  const poller = new IntervalPoller({
    intervalMs: 1,
    task: async () => {
      running += 1;
      most = Math.max(most, running);
      runs += 1;
      if (runs === 3) await new Promise<void>((resolve) => (release = resolve));
      running -= 1;
    },
  }).start();
  await waitFor('the third run', () => runs === 3);
  const joined = poller.runNow(); // joins the run under way instead of starting another
  const stopped = poller.stop();
  let stoppedYet = false;
  void stopped.then(() => (stoppedYet = true));
  await Promise.resolve();
  expect(stoppedYet).toBe(false);
  release();
  await Promise.all([joined, stopped]);
  expect(most).toBe(1);
  expect(runs).toBe(3);
  await poller.runNow(); // stopped: nothing runs
  expect(runs).toBe(3);
});

test('start({ immediately }) runs at once; failures are reported and spaced out with core backoff', async () => {
  jest.useFakeTimers();
  const errors: Array<[string, number]> = [];
  let runs = 0;
  let fail = true;
  const poller = new IntervalPoller({
    intervalMs: 100,
    backoff: { initialDelayMs: 100, maxDelayMs: 400 },
    task: async () => {
      runs += 1;
      if (fail) throw new Error(`failure ${runs}`);
    },
    onError: (error, failures) => errors.push([(error as Error).message, failures]),
  }).start({ immediately: true });
  await jest.advanceTimersByTimeAsync(0);
  expect(runs).toBe(1);
  await jest.advanceTimersByTimeAsync(100); // after the 1st failure: 100 ms
  expect(runs).toBe(2);
  await jest.advanceTimersByTimeAsync(199); // after the 2nd: 200 ms
  expect(runs).toBe(2);
  await jest.advanceTimersByTimeAsync(1);
  expect(runs).toBe(3);
  await jest.advanceTimersByTimeAsync(400); // after the 3rd: 400 ms (the cap)
  expect(runs).toBe(4);
  fail = false;
  await jest.advanceTimersByTimeAsync(400);
  expect(runs).toBe(5);
  await jest.advanceTimersByTimeAsync(100); // it worked: back to the interval
  expect(runs).toBe(6);
  expect(errors).toEqual([
    ['failure 1', 1],
    ['failure 2', 2],
    ['failure 3', 3],
    ['failure 4', 4],
  ]);
  await poller.stop();
});

test('without backoff, a failing task keeps the interval', async () => {
  jest.useFakeTimers();
  let runs = 0;
  const poller = new IntervalPoller({
    intervalMs: 50,
    task: async () => {
      runs += 1;
      throw new Error('no');
    },
  }).start();
  await jest.advanceTimersByTimeAsync(150);
  expect(runs).toBe(3);
  await poller.stop();
});
