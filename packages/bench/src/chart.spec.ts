import { escapeXml, niceTicks, renderLineChart, shortNumber } from './chart';

describe('niceTicks', () => {
  test('round steps from zero up to at least the maximum', () => {
    expect(niceTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(873)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
  });

  test('a maximum of zero still gives an axis', () => {
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

test('shortNumber and escapeXml', () => {
  expect([1, 999, 1000, 10_000, 100_000, 1_500_000].map(shortNumber)).toEqual([
    '1',
    '999',
    '1k',
    '10k',
    '100k',
    '1.5M',
  ]);
  expect(escapeXml('a < b & "c" > d')).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
});

describe('renderLineChart', () => {
  const chart = {
    title: 'T <1>',
    xLabel: 'queued',
    yLabel: 'per second',
    series: [
      {
        name: 'one',
        points: [
          [1000, 200],
          [10_000, 190],
          [100_000, 180],
        ] as [number, number][],
      },
      { name: 'two', points: [[1000, 50]] as [number, number][] },
    ],
  };

  test('one point per measurement, one path per series, decades on the x axis, escaped text', () => {
    const svg = renderLineChart(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg.match(/<path /g)).toHaveLength(2);
    for (const decade of ['1k', '10k', '100k']) expect(svg).toContain(`>${decade}</text>`);
    expect(svg).toContain('T &lt;1&gt;');
  });

  test('larger y is drawn higher (smaller SVG y)', () => {
    const svg = renderLineChart(chart);
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((match) => Number(match[1]));
    expect(ys[0]).toBeLessThan(ys[1]);
    expect(ys[1]).toBeLessThan(ys[2]);
    expect(ys[3]).toBeGreaterThan(ys[2]);
  });

  test('nothing to draw is an error', () => {
    expect(() => renderLineChart({ ...chart, series: [{ name: 'none', points: [] }] })).toThrow('Nothing to chart');
  });
});
