/**
 * Small SVG charts (no dependency). A line chart: series of (x, y) points on a logarithmic x axis (queue
 * sizes span decades) and a linear y axis from zero, with ticks, labels and a legend. A stacked bar chart:
 * horizontal bars split into named segments (the stages of a trip).
 */

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [x: number, y: number])[];
}

/** What every chart is titled and labelled with. */
export interface ChartLabels {
  readonly title: string;
  readonly xLabel: string;
}

export interface LineChart extends ChartLabels {
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 200, bottom: 56, left: 80 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1000 → "1k", 100000 → "100k", 1500000 → "1.5M". */
export function shortNumber(value: number): string {
  if (value >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (value >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

/** Round numbers for a linear axis from 0 to at least `max`: 0, step, 2·step… */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let tick = 0; tick < max + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** The opening of a chart: the <svg> element, a white background and the title (centred over the plot). */
function svgStart(height: number, rightMargin: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2 - rightMargin / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
}

/** The plot's frame and the x axis's label under it. */
function plotFrame(
  margin: { top: number; left: number },
  plotWidth: number,
  plotHeight: number,
  height: number,
  xLabel: string,
): string[] {
  return [
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
  ];
}

export function renderLineChart(chart: LineChart): string {
  const points = chart.series.flatMap((series) => series.points).filter(([x, y]) => x > 0 && Number.isFinite(y));
  if (points.length === 0) throw new Error('Nothing to chart');
  const xs = points.map(([x]) => x);
  const logMin = Math.floor(Math.log10(Math.min(...xs)));
  const logMax = Math.max(logMin + 1, Math.ceil(Math.log10(Math.max(...xs))));
  const yTicks = niceTicks(Math.max(...points.map(([, y]) => y)));
  const yMax = yTicks[yTicks.length - 1];
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + ((Math.log10(x) - logMin) / (logMax - logMin)) * plotWidth;
  const py = (y: number) => MARGIN.top + plotHeight - (y / yMax) * plotHeight;
  const f = (n: number) => n.toFixed(1);

  const out = svgStart(HEIGHT, MARGIN.right, chart.title);
  for (const tick of yTicks) {
    const y = f(py(tick));
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotWidth}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${shortNumber(tick)}</text>`,
    );
  }
  for (let power = logMin; power <= logMax; power++) {
    const x = f(px(10 ** power));
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotHeight}" stroke="#ddd"/>`);
    out.push(
      `<text x="${x}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${shortNumber(10 ** power)}</text>`,
    );
  }
  out.push(
    ...plotFrame(MARGIN, plotWidth, plotHeight, HEIGHT, chart.xLabel),
    `<text x="18" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 18 ${MARGIN.top + plotHeight / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const shown = series.points.filter(([x, y]) => x > 0 && Number.isFinite(y));
    if (shown.length > 0) {
      const path = shown.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${f(px(x))},${f(py(y))}`).join(' ');
      out.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      for (const [x, y] of shown) {
        out.push(
          `<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3.5" fill="${colour}"><title>${escapeXml(`${series.name}: ${shortNumber(x)} → ${shortNumber(y)}`)}</title></circle>`,
        );
      }
    }
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + plotWidth + 16;
    out.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 20}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${legendX + 26}" y="${legendY}" dominant-baseline="middle">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface BarSegment {
  readonly name: string;
  readonly value: number;
}

export interface StackedBar {
  readonly label: string;
  readonly segments: readonly BarSegment[];
  /** Written after the bar (e.g. its total); default the total. */
  readonly note?: string;
}

export interface StackedBarChart extends ChartLabels {
  readonly bars: readonly StackedBar[];
}

const BAR_HEIGHT = 26;
const BAR_GAP = 14;
const BAR_MARGIN = { top: 48, right: 240, bottom: 56, left: 110 };

/**
 * Horizontal bars, each split into segments laid end to end (the stages of a trip), on a linear x axis from
 * zero. A segment name keeps its colour across bars; the legend lists the names in the order first met.
 */
export function renderStackedBarChart(chart: StackedBarChart): string {
  const bars = chart.bars.map((bar) => ({
    ...bar,
    segments: bar.segments.filter((segment) => Number.isFinite(segment.value) && segment.value > 0),
  }));
  const totals = bars.map((bar) => bar.segments.reduce((sum, segment) => sum + segment.value, 0));
  if (!totals.some((total) => total > 0)) throw new Error('Nothing to chart');
  const names = [...new Set(bars.flatMap((bar) => bar.segments.map((segment) => segment.name)))];
  const colourOf = (name: string) => COLOURS[names.indexOf(name) % COLOURS.length];
  const xTicks = niceTicks(Math.max(...totals));
  const xMax = xTicks[xTicks.length - 1];
  const plotHeight = Math.max(bars.length * (BAR_HEIGHT + BAR_GAP) + BAR_GAP, names.length * 20 + 20);
  const height = BAR_MARGIN.top + plotHeight + BAR_MARGIN.bottom;
  const plotWidth = WIDTH - BAR_MARGIN.left - BAR_MARGIN.right;
  const px = (x: number) => BAR_MARGIN.left + (x / xMax) * plotWidth;
  const f = (n: number) => n.toFixed(1);

  const out = svgStart(height, BAR_MARGIN.right, chart.title);
  for (const tick of xTicks) {
    const x = f(px(tick));
    out.push(
      `<line x1="${x}" y1="${BAR_MARGIN.top}" x2="${x}" y2="${BAR_MARGIN.top + plotHeight}" stroke="#ddd"/>`,
      `<text x="${x}" y="${BAR_MARGIN.top + plotHeight + 18}" text-anchor="middle">${shortNumber(tick)}</text>`,
    );
  }
  out.push(...plotFrame(BAR_MARGIN, plotWidth, plotHeight, height, chart.xLabel));
  bars.forEach((bar, index) => {
    const y = BAR_MARGIN.top + BAR_GAP + index * (BAR_HEIGHT + BAR_GAP);
    out.push(
      `<text x="${BAR_MARGIN.left - 6}" y="${f(y + BAR_HEIGHT / 2)}" text-anchor="end" dominant-baseline="middle">${escapeXml(bar.label)}</text>`,
    );
    let start = 0;
    for (const segment of bar.segments) {
      out.push(
        `<rect x="${f(px(start))}" y="${y}" width="${f(px(start + segment.value) - px(start))}" height="${BAR_HEIGHT}" fill="${colourOf(segment.name)}" stroke="white"><title>${escapeXml(`${bar.label}, ${segment.name}: ${shortNumber(segment.value)}`)}</title></rect>`,
      );
      start += segment.value;
    }
    out.push(
      `<text x="${f(px(start) + 4)}" y="${f(y + BAR_HEIGHT / 2)}" dominant-baseline="middle">${escapeXml(bar.note ?? shortNumber(start))}</text>`,
    );
  });
  names.forEach((name, index) => {
    const legendY = BAR_MARGIN.top + 10 + index * 20;
    const legendX = BAR_MARGIN.left + plotWidth + 16;
    out.push(
      `<rect x="${legendX}" y="${legendY - 6}" width="14" height="12" fill="${colourOf(name)}"/>`,
      `<text x="${legendX + 20}" y="${legendY}" dominant-baseline="middle">${escapeXml(name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
