// Inline SVG charts: no library. The SVG scales with its container (viewBox); a text summary is its label.
import { h, s } from './lib.js';

const PAD = { l: 56, r: 12, t: 12, b: 26 };

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * A line chart of points [{x: Date|number, y: number, partial?: boolean}].
 * opts: label (accessible summary), yFormat, xFormat, height, step (draw as steps: sizes that hold until the next),
 * integer (whole-number gridlines, for counts), half (drawn in a half-width panel on wide screens).
 * A last point marked `partial` (a day still running) is drawn dashed and hollow and named "so far", so it does
 * not read as a dip.
 */
export function lineChart(points, { label, yFormat = String, xFormat, height = 220, step = false, integer = false, half = false } = {}) {
  // Drawn at about its displayed width, so its text stays legible on a phone.
  const avail = (window.innerWidth || 1280) > 760 && half ? ((window.innerWidth || 1280) - 320) / 2 : (window.innerWidth || 800) - 80;
  const W = Math.round(Math.max(320, Math.min(720, avail)));
  const H = W < 500 ? Math.round(height * 0.9) : height;
  const fmtX = xFormat || ((x) => new Date(x).toLocaleDateString(undefined, { day: 'numeric', month: 'short' }));
  const wrap = h('figure', { class: 'chart' });
  if (!points.length) {
    wrap.append(h('p', { class: 'muted', text: 'No data for this period yet.' }));
    return wrap;
  }
  const xs = points.map((p) => +p.x);
  const ys = points.map((p) => Number(p.y) || 0);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) {
    x0 -= 86_400_000;
    x1 += 86_400_000;
  }
  // Counts get whole-number gridlines: at least 4, so the four steps are integers.
  const yMax = integer ? Math.max(4, Math.ceil(niceMax(Math.max(...ys)) / 4) * 4) : niceMax(Math.max(...ys));
  const X = (x) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const Y = (y) => H - PAD.b - (y / yMax) * (H - PAD.t - PAD.b);
  const partial = points.length > 1 && points[points.length - 1].partial;
  const whole = partial ? points.slice(0, -1) : points;
  let d = '';
  whole.forEach((p, i) => {
    const x = X(+p.x);
    const y = Y(Number(p.y) || 0);
    if (i === 0) d += `M${x.toFixed(1)},${y.toFixed(1)}`;
    else if (step) d += `H${x.toFixed(1)}V${y.toFixed(1)}`;
    else d += `L${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const area = `${d}V${Y(0).toFixed(1)}H${X(+points[0].x).toFixed(1)}Z`;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label || 'Chart' });
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const y = Y(v);
    svg.append(s('line', { class: i ? 'grid-line' : 'axis', x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }));
    svg.append(s('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end' }, yFormat(v)));
  }
  const ticks = Math.min(W < 500 ? 3 : 6, points.length);
  for (let i = 0; i < ticks; i++) {
    const x = x0 + ((x1 - x0) * i) / Math.max(1, ticks - 1);
    svg.append(s('text', { x: X(x), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks - 1 ? 'end' : 'middle' }, fmtX(x)));
  }
  svg.append(s('path', { class: 'area', d: area }));
  svg.append(s('path', { class: 'line', d }));
  const last = points[points.length - 1];
  if (partial) {
    const prev = points[points.length - 2];
    const seg = `M${X(+prev.x).toFixed(1)},${Y(Number(prev.y) || 0).toFixed(1)}L${X(+last.x).toFixed(1)},${Y(Number(last.y) || 0).toFixed(1)}`;
    svg.append(s('path', { class: 'line partial', d: seg, 'stroke-dasharray': '4 4' }));
  }
  if (points.length <= 60) {
    for (const p of points) {
      const so = p === last && partial;
      svg.append(
        s(
          'circle',
          { class: so ? 'dot partial' : 'dot', cx: X(+p.x), cy: Y(Number(p.y) || 0), r: so ? 3.5 : 2.5, 'data-partial': so ? 'true' : null },
          s('title', {}, `${fmtX(+p.x)}${so ? ' (so far)' : ''}: ${yFormat(Number(p.y) || 0)}`),
        ),
      );
    }
  }
  wrap.append(svg);
  const note = partial ? ` The last day (${fmtX(+last.x)}) is still running: dashed, so far.` : '';
  if (label || note) wrap.append(h('figcaption', { class: 'muted small', text: `${label || ''}${note}` }));
  return wrap;
}
