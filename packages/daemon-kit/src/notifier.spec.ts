import { Notifier } from './notifier';

test('wait() resolves on the next notify(), on abort, or after its timeout', async () => {
  jest.useFakeTimers();
  try {
    const notifier = new Notifier();
    const controller = new AbortController();
    const woken: string[] = [];
    void notifier.wait(controller.signal, 60_000).then(() => woken.push('notified'));
    notifier.notify();
    await jest.advanceTimersByTimeAsync(0);
    expect(woken).toEqual(['notified']);

    void notifier.wait(controller.signal, 60_000).then(() => woken.push('aborted'));
    controller.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(woken).toEqual(['notified', 'aborted']);
    await notifier.wait(controller.signal, 60_000); // already aborted: at once

    void notifier.wait(new AbortController().signal, 1_000).then(() => woken.push('timed out'));
    await jest.advanceTimersByTimeAsync(999);
    expect(woken).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(woken).toEqual(['notified', 'aborted', 'timed out']);
  } finally {
    jest.useRealTimers();
  }
});
