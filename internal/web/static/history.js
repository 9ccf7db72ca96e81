// An issue's history: a small hand-drawn SVG chart over event time of
// each party's position. Numbers (the army cap) are step lines on a
// shared scale; every stance is a band of its colour, labelled in words,
// in the party's lane; each report is a point to hover or focus.

import { el, svg, fmtTime, fmtValue, parseTime, dayKey, dayStart, fmtDay } from './dom.js';

const DAY = 86400000;
const LANE = 24;
const LANE_GAP = 8;
const NUM_H = 150;

let tip = null;

function tooltip() {
  if (!tip) tip = el('div', { class: 'tip', role: 'status' });
  return tip;
}

function hideTip() {
  if (tip) tip.remove();
}

function showTip(root, target, e, v) {
  const t = tooltip();
  t.replaceChildren(
    el('p', { class: 'muted small' }, fmtTime(e.occurred_at)),
    el('p', {}, el('strong', {}, v.partyName(e.party)), ': ',
      el('span', { class: ['pill', `st-${e.stance}`] }, v.stanceLabel(e.stance)),
      e.value !== undefined ? ` ${fmtValue(e.value)}` : '',
      e.changed ? '' : el('span', { class: 'muted' }, ' (restated)')),
    e.disputed ? el('p', { class: 'mark disputed' }, '⚑ Disputed: another source of the same moment says otherwise') : null,
    el('p', {}, e.title || e.event),
    e.quote ? el('blockquote', {}, `“${e.quote}”`) : null,
    el('p', { class: 'muted small' }, (e.sources || []).map((s) => s.outlet).join(' · ')));
  root.append(t);
  const r = target.getBoundingClientRect();
  const w = Math.min(320, window.innerWidth - 16);
  t.style.width = `${w}px`;
  t.style.left = `${Math.max(8, Math.min(r.left - w / 2, window.innerWidth - w - 8))}px`;
  const h = t.offsetHeight;
  t.style.top = `${r.top - h - 8 > 0 ? r.top - h - 8 : r.bottom + 8}px`;
}

function niceMax(max) {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (m * p >= max * 1.08) return m * p;
  }
  return 10 * p;
}

function fmtShort(n) {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

// fit cuts text to about the width it may take.
function fit(text, px) {
  const n = Math.floor(px / 6.6);
  if (n < 3) return '';
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

// renderHistory draws entries (an issue's history, event-time order) into
// root. v gives the vocabulary lookups, the party order, the selected day
// (or "" for now) and onPoint, called with an event id.
export function renderHistory(root, entries, v) {
  hideTip();
  if (!entries.length) {
    root.replaceChildren(el('p', { class: 'muted' }, 'No position stated on this issue yet.'));
    return;
  }
  const byParty = new Map();
  for (const e of entries) {
    e.t = parseTime(e.occurred_at);
    if (!byParty.has(e.party)) byParty.set(e.party, []);
    byParty.get(e.party).push(e);
  }
  const parties = [...byParty.keys()].sort((a, b) => v.partyIndex(a) - v.partyIndex(b));
  const times = entries.map((e) => e.t);
  let t0 = dayStart(dayKey(Math.min(...times)));
  let lastDay = dayKey(Math.max(...times));
  if (v.at && v.at > lastDay) lastDay = v.at;
  if (v.at && dayStart(v.at) < t0) t0 = dayStart(v.at);
  const t1 = dayStart(lastDay) + 2 * DAY;

  const W = Math.max(300, root.clientWidth || 600);
  const narrow = W < 520;
  const numeric = parties.filter((p) => byParty.get(p).some((e) => typeof e.value === 'number'));
  // Margins as wide as the longest lane label and end label need (a
  // vocabulary's short names may be long), within a third of the chart.
  const textW = (n) => Math.ceil(n * 6.6) + 14;
  const widest = (xs) => Math.max(0, ...xs.map((t) => t.length));
  const ml = Math.min(Math.max(narrow ? 58 : 84, textW(widest(parties.map((p) => v.partyShort(p))))), Math.floor(W / 3));
  // Each numeric line's end label: the party and its last value.
  const ends = new Map(numeric.map((p) => {
    const last = [...byParty.get(p)].reverse().find((e) => typeof e.value === 'number');
    return [p, `${v.partyShort(p)} ${fmtShort(last.value)}`];
  }));
  const mr = Math.min(Math.max(narrow ? 64 : 96, textW(widest([...ends.values()]))), Math.floor(W / 3));
  const hasNum = numeric.length > 0;
  const top = 8;
  const numTop = top;
  const numBottom = hasNum ? numTop + NUM_H : numTop;
  const lanesTop = numBottom + (hasNum ? 26 : 0);
  const lanesBottom = lanesTop + parties.length * (LANE + LANE_GAP);
  const H = lanesBottom + 28;
  const x = (t) => ml + ((t - t0) / (t1 - t0)) * (W - ml - mr);
  const xEnd = W - mr;

  const g = [];
  // Day grid and axis labels, a label every few days so that they fit.
  const days = Math.round((t1 - t0) / DAY);
  const multiYear = new Date(t0).getUTCFullYear() !== new Date(t1 - DAY).getUTCFullYear();
  const every = Math.max(1, Math.ceil((multiYear ? 84 : 56) / ((W - ml - mr) / days)));
  for (let d = 0; d <= days; d++) {
    const t = t0 + d * DAY;
    const xx = x(t);
    g.push(svg('line', { class: 'grid', x1: xx, x2: xx, y1: top, y2: lanesBottom }));
    if (d % every === 0 && d < days) {
      // A history that spans years says which: "6 Dec" alone is ambiguous.
      const label = fmtDay(dayKey(t), true) + (multiYear ? ` ${new Date(t).getUTCFullYear()}` : '');
      g.push(svg('text', { class: 'axis', x: xx + 3, y: lanesBottom + 16 }, label));
    }
  }

  const points = [];
  const point = (e, cx, cy, cls) => {
    const c = svg('circle', {
      class: ['pt', cls, `st-${e.stance}`, !e.changed && 'restated', e.disputed && 'disputed'], cx, cy, r: e.changed ? 5.5 : 4,
      tabindex: '0', role: 'button', 'data-party': e.party, 'data-event': e.event,
      'aria-label': `${fmtTime(e.occurred_at)}, ${v.partyShort(e.party)}: ${v.stanceLabel(e.stance)}${e.value !== undefined ? ' ' + fmtValue(e.value) : ''}${e.disputed ? ' (disputed)' : ''}; ${e.title || e.event}`,
    });
    c.addEventListener('mouseenter', () => showTip(root, c, e, v));
    c.addEventListener('focus', () => showTip(root, c, e, v));
    c.addEventListener('mouseleave', hideTip);
    c.addEventListener('blur', hideTip);
    c.addEventListener('click', () => v.onPoint(e.event));
    c.addEventListener('keydown', (k) => {
      if (k.key !== 'Enter' && k.key !== ' ') return;
      k.preventDefault(); // Space would scroll the page
      v.onPoint(e.event);
    });
    points.push(c);
  };

  // The numeric panel: one step line per party on a scale that holds
  // zero and every value, negative ones too.
  if (hasNum) {
    const nums = entries.filter((e) => typeof e.value === 'number').map((e) => e.value);
    const hi = Math.max(...nums);
    const lo = Math.min(...nums);
    // From zero to a round maximum in four steps; with negative values,
    // in round steps on both sides of zero.
    let ymin = 0;
    let ymax = niceMax(hi);
    let step = ymax / 4;
    if (lo < 0) {
      step = niceMax((Math.max(hi, 0) - lo) / 4 / 1.08);
      ymin = Math.floor(lo / step) * step;
      ymax = Math.max(Math.ceil(hi / step), 0) * step;
      if (ymax === ymin) ymax = ymin + step;
    }
    const y = (n) => numBottom - ((n - ymin) / (ymax - ymin)) * (numBottom - numTop);
    const ticks = Math.round((ymax - ymin) / step);
    for (let k = 0; k <= ticks; k++) {
      const n = ymin + k * step;
      g.push(svg('line', { class: 'hgrid', x1: ml, x2: xEnd, y1: y(n), y2: y(n) }));
      g.push(svg('text', { class: 'axis num', x: ml - 6, y: y(n) + 4, 'text-anchor': 'end' }, fmtShort(n)));
    }
    if (ymin < 0 && ymax > 0) {
      g.push(svg('line', { class: 'hgrid zero', x1: ml, x2: xEnd, y1: y(0), y2: y(0) }));
    }
    const labels = [];
    for (const p of numeric) {
      const es = byParty.get(p);
      let d = '';
      let open = false;
      let lastY = 0;
      for (const e of es) {
        const xx = x(e.t);
        if (typeof e.value === 'number') {
          d += open ? ` H${xx} V${y(e.value)}` : ` M${xx} ${y(e.value)}`;
          open = true;
          lastY = y(e.value);
          point(e, xx, y(e.value), `num-pt p-${v.partyIndex(p) % 12}`);
        } else if (open) {
          d += ` H${xx}`;
          open = false;
        }
      }
      if (open) {
        d += ` H${xEnd}`;
        labels.push({ y: lastY, p, text: ends.get(p) });
      }
      g.push(svg('path', { class: ['step', `p-${v.partyIndex(p) % 12}`], d: d.trim(), 'data-party': p }));
    }
    // End labels, pushed apart when two lines end close together.
    labels.sort((a, b) => a.y - b.y);
    for (let i = 1; i < labels.length; i++) {
      if (labels[i].y - labels[i - 1].y < 14) labels[i].y = labels[i - 1].y + 14;
    }
    for (const l of labels) {
      g.push(svg('text', { class: ['end-label', `p-${v.partyIndex(l.p) % 12}`], x: xEnd + 6, y: l.y + 4 }, l.text));
    }
    g.push(svg('text', { class: 'panel-label', x: ml, y: numBottom + 18 }, 'Stance by party'));
  }

  // The lanes: a band per stated position, from its event to the next.
  parties.forEach((p, i) => {
    const es = byParty.get(p);
    const yy = lanesTop + i * (LANE + LANE_GAP);
    g.push(svg('text', { class: 'lane-label', x: ml - 6, y: yy + LANE / 2 + 4, 'text-anchor': 'end' }, v.partyShort(p)));
    es.forEach((e, k) => {
      const xa = x(e.t);
      const xb = k + 1 < es.length ? x(es[k + 1].t) : xEnd;
      if (xb - xa > 0.5) {
        g.push(svg('rect', { class: ['band', `st-${e.stance}`], x: xa, y: yy, width: xb - xa, height: LANE, rx: 3, 'data-party': p }));
        const words = v.stanceLabel(e.stance) + (typeof e.value === 'string' ? `: ${e.value}` : typeof e.value === 'number' ? ` ${fmtShort(e.value)}` : '');
        const txt = fit(words, xb - xa - 12);
        if (txt) g.push(svg('text', { class: 'band-label', x: xa + 8, y: yy + LANE / 2 + 4 }, txt));
      }
    });
    es.forEach((e) => point(e, x(e.t), yy + LANE / 2, 'lane-pt'));
  });

  // The selected day of the replay, as a rule across the chart.
  if (v.at) {
    const xa = x(dayStart(v.at) + DAY);
    g.push(svg('line', { class: 'cursor', x1: xa, x2: xa, y1: top - 4, y2: lanesBottom + 4 }));
    g.push(svg('text', { class: 'cursor-label', x: xa - 4, y: top + 8, 'text-anchor': 'end' }, `as of ${fmtDay(v.at, true)}`));
  }

  const chart = svg('svg', {
    class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'group',
    'aria-label': `History of ${v.issueLabel(v.issue)}: ${parties.map((p) => v.partyShort(p)).join(', ')}`,
  }, g, points);

  const list = el('details', { class: 'history-list' }, el('summary', {}, 'The same as a list'),
    el('ol', {}, entries.map((e) => el('li', {},
      el('time', { datetime: e.occurred_at }, fmtTime(e.occurred_at)), ' — ',
      el('strong', {}, v.partyShort(e.party)), ' ', v.stanceLabel(e.stance),
      e.value !== undefined ? ` ${fmtValue(e.value)}` : '',
      e.disputed ? el('span', { class: 'mark disputed' }, ' ⚑ disputed') : '', ' — ',
      el('a', { href: `#ev-${e.event}` }, e.title || e.event)))));
  root.replaceChildren(chart, list);
}
