import {
  computeRatio,
  describeTarget,
  FigureRegistry,
  formatNumber,
  meetsTarget,
  parseSizeList,
  renderMarkdown,
  renderTable,
  selectGroups,
  type BenchGroup,
} from './harness';

const group = (name: string): BenchGroup => ({ name, description: name, run: async () => undefined });

describe('figure registry', () => {
  test('records figures in order and refuses duplicates, bad names and non-finite values', () => {
    const figures = new FigureRegistry();
    figures.record('core.a.opsPerSec', 10, 'ops/s');
    figures.record('core.b.opsPerSec', 20, 'ops/s');
    expect(figures.measuredNames).toEqual(['core.a.opsPerSec', 'core.b.opsPerSec']);
    expect(() => figures.record('core.a.opsPerSec', 1, 'ops/s')).toThrow(/twice/);
    expect(() => figures.record('core..a', 1, 'ops/s')).toThrow(/Invalid figure name/);
    expect(() => figures.record('core.c', Number.NaN, 'ops/s')).toThrow(/finite/);
  });

  test('ratios are value / baseline, with targets checked', () => {
    const figures = new FigureRegistry();
    figures.record('core.x.opsPerSec', 1500, 'ops/s');
    figures.record('core.x.relaynetCore.opsPerSec', 100, 'ops/s');
    figures.record('core.x.floor.opsPerSec', 4000, 'ops/s');
    const vsRef = figures.ratio('core.x.vsRelaynetCore', 'core.x.opsPerSec', 'core.x.relaynetCore.opsPerSec', {
      label: 'relaynet-core',
      target: { min: 10 },
    });
    const vsFloor = figures.ratio('core.x.vsFloor', 'core.x.opsPerSec', 'core.x.floor.opsPerSec', {
      label: 'floor',
      target: { min: 0.5 },
    });
    expect(vsRef).toMatchObject({ value: 15, unit: 'x', met: true });
    expect(vsFloor).toMatchObject({ value: 0.375, met: false });
    expect(figures.ratiosOf('core.x.opsPerSec').map((r) => r.name)).toEqual([
      'core.x.vsRelaynetCore',
      'core.x.vsFloor',
    ]);
  });

  test('a ratio with a missing or zero baseline is skipped with a note', () => {
    const figures = new FigureRegistry();
    figures.record('g.a', 1, 'B');
    figures.record('g.zero', 0, 'B');
    expect(figures.ratio('g.r1', 'g.a', 'g.missing', { label: 'x' })).toBeUndefined();
    expect(figures.ratio('g.r2', 'g.a', 'g.zero', { label: 'x' })).toBeUndefined();
    expect(figures.get('g.r1')).toBeUndefined();
    expect(figures.allNotes).toEqual([
      'g.r1 not computed: g.missing was not measured',
      'g.r2 not computed: g.a / g.zero is not finite',
    ]);
  });

  test('the JSON report is {figures: {NAME: {value, unit}}}, ratios included', () => {
    const figures = new FigureRegistry();
    figures.record('core.rss.bytes', 300, 'B');
    figures.record('core.size.bytes', 100, 'B');
    figures.ratio('core.rssToSize', 'core.rss.bytes', 'core.size.bytes', { label: 'size', target: { max: 4 } });
    const report = JSON.parse(JSON.stringify(figures.toReport({ node: 'v20' })));
    expect(report.figures).toEqual({
      'core.rss.bytes': { value: 300, unit: 'B' },
      'core.size.bytes': { value: 100, unit: 'B' },
      'core.rssToSize': { value: 3, unit: 'x' },
    });
    for (const figure of Object.values(report.figures) as { value: unknown; unit: unknown }[]) {
      expect(Object.keys(figure).sort()).toEqual(['unit', 'value']);
    }
    expect(report.ratios['core.rssToSize']).toEqual({
      numerator: 'core.rss.bytes',
      denominator: 'core.size.bytes',
      label: 'size',
      target: { max: 4 },
      met: true,
    });
    expect(report.meta).toEqual({ node: 'v20' });
  });
});

describe('ratio helpers', () => {
  test('computeRatio', () => {
    expect(computeRatio(10, 4)).toBe(2.5);
    expect(computeRatio(1, 0)).toBeNull();
    expect(computeRatio(Number.POSITIVE_INFINITY, 1)).toBeNull();
  });

  test('targets', () => {
    expect(meetsTarget(10, { min: 10 })).toBe(true);
    expect(meetsTarget(9.99, { min: 10 })).toBe(false);
    expect(meetsTarget(4.01, { max: 4 })).toBe(false);
    expect(meetsTarget(3, { min: 1, max: 4 })).toBe(true);
    expect(describeTarget({ min: 0.5, max: 4 })).toBe('≥0.5 ≤4');
  });

  test('formatNumber keeps three significant digits and separates thousands', () => {
    expect(formatNumber(1234567.4)).toBe('1,234,567');
    expect(formatNumber(123.456)).toBe('123');
    expect(formatNumber(12.345)).toBe('12.3');
    expect(formatNumber(0.012345)).toBe('0.0123');
    expect(formatNumber(0)).toBe('0');
  });
});

describe('table', () => {
  test('one row per measured figure, ratios inline, a heading per group, notes last', () => {
    const figures = new FigureRegistry();
    figures.record('core.p.opsPerSec', 1500, 'ops/s');
    figures.record('core.p.relaynetCore.opsPerSec', 100, 'ops/s');
    figures.ratio('core.p.vsRelaynetCore', 'core.p.opsPerSec', 'core.p.relaynetCore.opsPerSec', {
      label: 'relaynet-core',
      target: { min: 10 },
    });
    figures.record('pipeline.q.ms', 2.5, 'ms');
    figures.note('something was skipped');
    expect(renderTable(figures)).toBe(
      [
        'figure                         value  unit   compared with baselines of the same run',
        '-----------------------------  -----  -----  ' + '-'.repeat('compared with baselines of the same run'.length),
        '[core]',
        'core.p.opsPerSec               1,500  ops/s  15.0× relaynet-core (target ≥10: ok)',
        'core.p.relaynetCore.opsPerSec    100  ops/s',
        '[pipeline]',
        'pipeline.q.ms                   2.50  ms',
        '',
        'note: something was skipped',
        '',
      ].join('\n'),
    );
  });
});

describe('group registry', () => {
  const groups = [group('core'), group('pipeline'), group('relay')];

  test('selects all by default, or the named ones in registry order', () => {
    expect(selectGroups(groups).map((g) => g.name)).toEqual(['core', 'pipeline', 'relay']);
    expect(selectGroups(groups, ['relay', 'core']).map((g) => g.name)).toEqual(['core', 'relay']);
  });

  test('refuses unknown and duplicate names', () => {
    expect(() => selectGroups(groups, ['nope'])).toThrow(/Unknown benchmark group\(s\): nope/);
    expect(() => selectGroups([group('a'), group('a')])).toThrow(/Duplicate/);
  });
});

describe('renderMarkdown', () => {
  test('one table per group, ratios beside their figure, misses in bold, notes after', () => {
    const registry = new FigureRegistry();
    registry.record('a.x', 1500, 'ops/s');
    registry.record('a.base', 100, 'ops/s');
    registry.ratio('a.vsBase', 'a.x', 'a.base', { label: 'base', target: { min: 20 } });
    registry.record('b.y', 2, 'ms');
    registry.note('something was not measured');
    const markdown = renderMarkdown(registry);
    expect(markdown.split('\n')).toEqual([
      '### a',
      '',
      '| figure | value | unit | compared with baselines of the same run |',
      '| --- | ---: | --- | --- |',
      '| `a.x` | 1,500 | ops/s | 15.0× base (target ≥20: **MISSED**) |',
      '| `a.base` | 100 | ops/s |  |',
      '',
      '### b',
      '',
      '| figure | value | unit | compared with baselines of the same run |',
      '| --- | ---: | --- | --- |',
      '| `b.y` | 2.00 | ms |  |',
      '',
      '- note: something was not measured',
      '',
    ]);
  });
});

test('parseSizeList: positive integers, else the fallback; anything else is an error naming the flag', () => {
  expect(parseSizeList('--x', '1000, 10000,', [1])).toEqual([1000, 10000]);
  expect(parseSizeList('--x', undefined, [7])).toEqual([7]);
  for (const bad of ['', '0', '1.5', 'ten', '-3']) expect(() => parseSizeList('--x', bad, [1])).toThrow('--x');
});

test('describeTarget rounds to three significant digits', () => {
  expect(describeTarget({ min: 1 / 3 })).toBe('≥0.333');
});
