import {
  emptyResult,
  ExitCode,
  exitCodeOf,
  formatOctets,
  formatSummary,
  PlainReporter,
  renderBar,
  TerminalProgress,
} from './output';

test.each([
  [0, '0 B'],
  [999, '999 B'],
  [1000, '1.0 kB'],
  [1234, '1.2 kB'],
  [800_000, '800 kB'],
  [999_600, '1.0 MB'],
  [1_200_000, '1.2 MB'],
  [12_345_678, '12 MB'],
  [3_000_000_000, '3.0 GB'],
])('formatOctets(%d) = %s', (octets, text) => {
  expect(formatOctets(octets)).toBe(text);
});

describe('summary and exit status', () => {
  test('done', () => {
    const result = emptyResult();
    result.delivered = { count: 3, octets: 1_200_000 };
    result.collectedCargo = { count: 2, octets: 800_000 };
    result.collectedCcas = 1;
    expect(formatSummary(result)).toBe(
      'relay: delivered 3 cargo (1.2 MB), collected 2 cargo (800 kB) and 1 pickup authorization',
    );
    expect(exitCodeOf(result)).toBe(ExitCode.DONE);
  });

  test('a CCA alone counts as collected', () => {
    const result = emptyResult();
    result.collectedCcas = 1;
    expect(exitCodeOf(result)).toBe(0);
  });

  test('nothing to do', () => {
    expect(formatSummary(emptyResult())).toBe('relay: nothing to do (no cargo delivered or collected)');
    expect(exitCodeOf(emptyResult())).toBe(3);
  });

  test('any problem is a failure, even with nothing moved', () => {
    for (const field of ['undelivered', 'invalidFiles', 'errors'] as const) {
      const result = emptyResult();
      result[field] = 2;
      expect(exitCodeOf(result)).toBe(ExitCode.FAILURE);
    }
    const result = emptyResult();
    result.delivered = { count: 1, octets: 10 };
    result.undelivered = 1;
    result.invalidFiles = 1;
    result.errors = 2;
    expect(formatSummary(result)).toBe(
      'relay: delivered 1 cargo (10 B), collected 0 cargo (0 B) and 0 pickup authorizations; 1 cargo not delivered (kept), ' +
        '1 invalid file left in place, 2 errors',
    );
  });
});

describe('progress', () => {
  function fakeTerminal(columns?: number) {
    const writes: string[] = [];
    return { writes, stream: { write: (text: string) => writes.push(text), columns } };
  }

  test('renderBar', () => {
    expect(renderBar(0, 10, 10)).toBe('[----------]');
    expect(renderBar(5, 10, 10)).toBe('[#####-----]');
    expect(renderBar(10, 10, 10)).toBe('[##########]');
    expect(renderBar(0, 0, 4)).toBe('[####]');
  });

  test('redraws one line in place, prints problems above it, leaves finished phases on screen', () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const progress = new TerminalProgress(stream, 100, () => now);
    progress.deliveryStarted(3, 3000);
    progress.cargoDelivered(1000); // throttled: same instant
    now = 150;
    progress.line('relay: x.cargo: left in place: empty file (0 octets)');
    progress.deliveryDropped(1000); // x.cargo no longer counts
    progress.cargoDelivered(1000);
    progress.deliveryFinished();
    progress.collectionStarted('without a CCA');
    now = 300;
    progress.collected('cargo', 1500);
    now = 400;
    progress.collected('cca', 900);
    progress.collectionFinished();
    progress.finish();
    expect(writes.join('')).toBe(
      '\r\x1b[2Krelay: delivering [------------------------] 0/3 cargo 0 B/3.0 kB' +
        '\r\x1b[2Krelay: x.cargo: left in place: empty file (0 octets)\n' +
        '\r\x1b[2Krelay: delivering [########----------------] 1/3 cargo 1.0 kB/3.0 kB' +
        '\r\x1b[2Krelay: delivering [########################] 2/2 cargo 2.0 kB/2.0 kB\n' +
        '\r\x1b[2Krelay: collecting without a CCA: 0 cargo (0 B), 0 pickup authorizations' +
        '\r\x1b[2Krelay: collecting without a CCA: 1 cargo (1.5 kB), 0 pickup authorizations' +
        '\r\x1b[2Krelay: collecting without a CCA: 1 cargo (1.5 kB), 1 pickup authorization' +
        '\r\x1b[2Krelay: collecting without a CCA: 1 cargo (1.5 kB), 1 pickup authorization\n',
    );
  });

  test('lines are cut to the terminal width', () => {
    const { writes, stream } = fakeTerminal(20);
    new TerminalProgress(stream).waiting(5);
    expect(writes).toEqual(['\r\x1b[2Krelay: waiting 5 s ']);
  });

  test('the plain reporter prints only lines', () => {
    const { writes, stream } = fakeTerminal();
    const plain = new PlainReporter(stream);
    plain.deliveryStarted();
    plain.line('relay: something');
    plain.cargoDelivered();
    plain.finish();
    expect(writes).toEqual(['relay: something\n']);
  });
});
