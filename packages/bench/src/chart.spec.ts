import { escapeXml, niceTicks, renderLineChart, renderStackedBarChart, shortNumber } from './chart';

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

describe('renderStackedBarChart', () => {
  const chart = {
    title: 'Stages <N>',
    xLabel: 'ms per parcel',
    bars: [
      {
        label: 'tweets, 1k',
        segments: [
          { name: 'a', value: 1 },
          { name: 'b', value: 3 },
        ],
      },
      {
        label: 'timeline, 1k',
        segments: [
          { name: 'b', value: 2 },
          { name: 'c', value: 0.5 },
          { name: 'skipped', value: 0 },
        ],
        note: '2.5 ms',
      },
    ],
  };
  const rects = (svg: string) =>
    [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="26" fill="([^"]+)"/g)].map(
      ([, x, y, width, fill]) => ({ x: Number(x), y: Number(y), width: Number(width), fill }),
    );

  test('one rectangle per segment, laid end to end and as wide as its value; a colour per name', () => {
    const svg = renderStackedBarChart(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const [a, b1, b2, c] = rects(svg);
    expect(rects(svg)).toHaveLength(4); // the zero-length segment is left out
    expect(b1.x).toBeCloseTo(a.x + a.width, 0);
    expect(b1.width / a.width).toBeCloseTo(3, 1);
    expect(b2.width / a.width).toBeCloseTo(2, 1);
    expect(c.x).toBeCloseTo(b2.x + b2.width, 0);
    expect(b2.y).toBeGreaterThan(a.y); // the second bar is below the first
    expect(b1.fill).toBe(b2.fill);
    expect(new Set([a.fill, b1.fill, c.fill]).size).toBe(3);
  });

  test('labels, notes (the total by default), a legend entry per name, escaped text', () => {
    const svg = renderStackedBarChart(chart);
    for (const text of ['tweets, 1k', 'timeline, 1k', '>4<', '2.5 ms', '>a<', '>b<', '>c<'])
      expect(svg).toContain(text);
    expect(svg).not.toContain('skipped');
    expect(svg).toContain('Stages &lt;N&gt;');
  });

  test('nothing to draw is an error', () => {
    expect(() => renderStackedBarChart({ ...chart, bars: [{ label: 'none', segments: [] }] })).toThrow(
      'Nothing to chart',
    );
  });
});
