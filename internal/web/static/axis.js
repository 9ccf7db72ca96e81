// The replay axis: the days the slider stops at, from the first event to
// now, and a tick per event. Days on which nothing happened stay on the
// axis while the gap is short; a longer quiet stretch (the months between
// the last event and today, say) is folded into one step, marked as such,
// so that the days that matter are not squeezed into a corner. The page
// loads only the latest events of a long record: the axis still starts on
// the record's first day, and the stretch before the events loaded is a
// stop per day (which of its days had events is not known, so none is
// folded), spaced out when it is longer than UNLOADED_STOPS days.

import { el, dayKey, parseTime, addDays, daysBetween, fmtDay, fmtTime, plural } from './dom.js';

// FOLD is the longest run of empty days kept on the axis.
export const FOLD = 7;

// UNLOADED_STOPS is the most stops the stretch before the events loaded
// gets: a year by day; a longer one (an event of decades ago) by steps of
// as many days as it takes, so that the events loaded are not squeezed to
// a corner by thousands of days no one loaded.
export const UNLOADED_STOPS = 366;

// buildStops returns the slider's stops, oldest first. Each is {day} with
// skipped set on a stop that follows a folded gap; today's is "now": the
// state asked for without a date. Days after it (a deadline ahead) are
// stops of their own, asked for with their date: the state now leaves
// out what is dated later. In "as known at" mode the days on which events
// were recorded are stops too. from is the record's first day when older
// events than those given are not loaded ('' when they all are): the days
// from it to the first event given are stops, marked unloaded.
export function buildStops(events, { known, extra, today, from }) {
  const days = new Set([today]);
  const loadedFrom = events.length ? dayKey(parseTime(events[0].occurred_at)) : today;
  const reach = from && from < loadedFrom ? from : '';
  if (reach) days.add(reach);
  for (const e of events) {
    days.add(dayKey(parseTime(e.occurred_at)));
    if (known && e.recorded_at) days.add(dayKey(Date.parse(e.recorded_at)));
  }
  for (const d of extra || []) if (d) days.add(d);
  const sorted = [...days].sort();
  const step = reach ? Math.max(1, Math.ceil(daysBetween(sorted[0], loadedFrom) / UNLOADED_STOPS)) : 1;
  const stops = [];
  sorted.forEach((d, i) => {
    if (i > 0) {
      const prev = sorted[i - 1];
      const gap = daysBetween(prev, d) - 1;
      if (reach && d <= loadedFrom) {
        // Not loaded: every day (or every step-th) may hold events.
        for (let k = step; k <= gap; k += step) stops.push({ day: addDays(prev, k), unloaded: true });
      } else if (gap > FOLD) {
        stops.push({ day: d, skipped: gap });
        return;
      } else {
        for (let k = 1; k <= gap; k++) stops.push({ day: addDays(prev, k) });
      }
    }
    stops.push(reach && d < loadedFrom ? { day: d, unloaded: true } : { day: d });
  });
  stops.find((s) => s.day === today).now = true;
  return stops;
}

// nowIndex is the index of the "now" stop.
export function nowIndex(stops) {
  return stops.findIndex((s) => s.now);
}

// stopLabel is what the slider says of a stop. The days are UTC days, as
// in the API, and it says so: a reader elsewhere would otherwise take
// them for their own (today's date, past 16:00 in California, is
// tomorrow's), beside event times shown with their offset.
export function stopLabel(stop) {
  return stop.now ? `Now (${fmtDay(stop.day)} UTC)` : `${fmtDay(stop.day)}, end of day UTC`;
}

function pct(i, n) {
  return n <= 1 ? 50 : (i / (n - 1)) * 100;
}

// renderTicks draws a tick per event under the slider (and, in "as known
// at" mode, a hollow one per recording), the folded gaps and the ends.
export function renderTicks(box, stops, events, known) {
  const index = new Map(stops.map((s, i) => [s.day, i]));
  const perDay = new Map();
  const ticks = [];
  const place = (day, ev, cls) => {
    const i = index.get(day);
    if (i === undefined) return;
    const k = `${cls}/${day}`;
    const group = perDay.get(k) || [];
    group.push(ticks.length);
    perDay.set(k, group);
    ticks.push({ i, ev, cls });
  };
  for (const e of events) {
    place(dayKey(parseTime(e.occurred_at)), e, 'tick');
    if (known && e.recorded_at) place(dayKey(Date.parse(e.recorded_at)), e, 'tick rec');
  }
  const n = stops.length;
  // Events of one day share its slot, side by side in event-time order.
  const slot = n > 1 ? 100 / (n - 1) : 100;
  const nodes = [];
  for (const group of perDay.values()) {
    group.forEach((t, k) => {
      const tk = ticks[t];
      const off = group.length === 1 ? 0 : ((k + 0.5) / group.length - 0.5) * Math.min(0.7, group.length * 0.12);
      const node = el('span', {
        class: [tk.cls, `type-${tk.ev.type}`, tk.ev.retracted && 'retracted'],
        title: `${fmtTime(tk.ev.occurred_at)}: ${tk.ev.title}`,
      });
      node.style.left = `${Math.max(0, Math.min(100, pct(tk.i, n) + off * slot))}%`;
      nodes.push(node);
    });
  }
  // The stretch whose events are not loaded: a band, without ticks.
  const unloaded = stops.filter((s) => s.unloaded).length;
  if (unloaded) {
    const band = el('span', { class: 'unloaded', title: `Events before ${fmtDay(stops[unloaded].day)} are not loaded: the timeline reads them for the day chosen` });
    band.style.left = '0%';
    band.style.width = `${pct(unloaded, n)}%`;
    nodes.push(band);
  }
  stops.forEach((s, i) => {
    if (!s.skipped) return;
    const node = el('span', { class: 'fold', title: `${plural(s.skipped, 'day')} without events folded` }, '≈');
    node.style.left = `${pct(i - 0.5, n)}%`;
    nodes.push(node);
  });
  const first = el('span', { class: 'end start' }, fmtDay(stops[0].day, true));
  // The axis ends now, or on the last day ahead (a deadline): that end
  // is not "Now".
  const end = stops[stops.length - 1];
  const last = el('span', { class: 'end stop' }, end.now ? 'Now' : fmtDay(end.day, true));
  box.replaceChildren(...nodes, first, last);
}
