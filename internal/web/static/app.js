// Parley's page: wires the API, the replay slider, the filters, the matrix,
// the timeline, an issue's history and the live feed. The chosen time, the
// "as known at" switch, the filters and the open history live in the URL,
// so that a link reproduces the view.

import { el, dayKey, dayStart, fmtDay, parseTime } from './dom.js';
import * as api from './api.js';
import { buildStops, nowIndex, renderTicks, stopLabel } from './axis.js';
import { renderMatrix } from './matrix.js';
import { renderTimeline } from './timeline.js';
import { renderHistory } from './history.js';

const $ = (id) => document.getElementById(id);
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const PLAY_MS = 700;
const FRESH_MS = 4000;
const REFRESH_MS = 120;
// How long an opened feed must stay open before the page says it is live.
const OPEN_SETTLE_MS = 250;
const REFRESH_GAP_MS = 500;
// The timeline is read newest first: a first page to show something at
// once, then older pages when the reader asks for them. A reload asks for
// as many as were shown, up to the API's largest page.
const FIRST_PAGE = 200;
const OLDER_PAGE = 1000;
const MAX_PAGE = 10000;
// An issue's chart shows its latest positions, up to this many.
const HISTORY_PAGE = 1000;

const S = {
  vocab: null,
  terms: { party: new Map(), issue: new Map(), type: new Map(), stance: new Map() },
  partyOrder: new Map(),
  all: [], // the latest events, as many as are loaded, for the axis and for titles
  allCursor: '', // the cursor of the events before those in all; '' when all are loaded
  first: '', // the event time of the record's first event, loaded or not
  view: null, // a filtered or replayed timeline: { key, params, events, cursor, stale }
  historyMore: false, // the chart shows the latest positions only
  titles: new Map(),
  latest: null, // the state now: which rows and columns exist
  stops: [],
  idx: 0,
  known: false,
  knownOn: '', // in "as known" mode, the day of knowledge; '' for the day viewed
  filters: { party: '', issue: '', type: '' },
  historyIssue: '',
  historyOpener: null,
  lastHistory: null,
  fresh: new Set(),
  freshTimer: 0,
  arrived: [], // event views from the feed, not yet in all
  news: [], // titles from the feed, not yet announced
  amended: new Set(), // ids of events a correction or retraction changed
  reload: false, // read the whole record at the next refresh (set when the feed opens)
  playTimer: 0,
  gen: 0,
  controller: null,
};

const V = {
  partyShort: (id) => S.terms.party.get(id)?.short || id,
  partyName: (id) => S.terms.party.get(id)?.name || id,
  partyIndex: (id) => (S.partyOrder.has(id) ? S.partyOrder.get(id) : 999),
  issueLabel: (id) => S.terms.issue.get(id)?.label || id,
  issueDescription: (id) => S.terms.issue.get(id)?.description || '',
  stanceLabel: (id) => S.terms.stance.get(id)?.label || id,
  typeLabel: (id) => S.terms.type.get(id)?.label || id,
  eventTitle: (id) => S.titles.get(id),
};

function stop() {
  return S.stops[S.idx] || { day: dayKey(Date.now()), now: true };
}

// The query of the current view: at and known_at, empty for now. As
// known at the time, known_at is the day viewed; as known on a day, that
// day, whatever the day viewed (now included).
function when() {
  const s = stop();
  const at = s.now ? '' : s.day;
  return { at, known_at: S.known ? S.knownOn || at : '' };
}

// validDay is day when it is one (2025-02-30 is not), else ''.
function validDay(day) {
  return DAY_RE.test(day || '') && Number.isFinite(dayStart(day)) && dayKey(dayStart(day)) === day ? day : '';
}

// knownLabel says what the view counts: all that is recorded, what was
// recorded by the day viewed, or by a day of its own.
function knownLabel() {
  if (!S.known) return '';
  return S.knownOn ? `, as known on ${fmtDay(S.knownOn)} UTC` : ', as known then';
}

function readURL() {
  const q = new URLSearchParams(window.location.search);
  // A day that is not one (2025-02-30, a link cut short) is left out:
  // the view opens on now rather than on a broken axis.
  const at = validDay(q.get('at'));
  // known=1: as known at the time; known=DAY: as known on that day.
  const known = q.get('known') || '';
  S.knownOn = validDay(known);
  S.known = known === '1' || S.knownOn !== '';
  for (const k of ['party', 'issue', 'type']) {
    const val = q.get(k) || '';
    S.filters[k] = S.terms[k].has(val) ? val : '';
  }
  const h = q.get('history') || '';
  S.historyIssue = S.terms.issue.has(h) ? h : '';
  return at;
}

function writeURL() {
  const q = new URLSearchParams();
  const { at } = when();
  if (at) q.set('at', at);
  if (S.known) q.set('known', S.knownOn || '1');
  for (const k of ['party', 'issue', 'type']) if (S.filters[k]) q.set(k, S.filters[k]);
  if (S.historyIssue) q.set('history', S.historyIssue);
  const s = q.toString();
  window.history.replaceState(null, '', (s ? `?${s}` : window.location.pathname) + window.location.hash);
  document.title = at ? `Parley — as of ${fmtDay(at)}` : 'Parley — positions in the negotiation';
}

async function loadBase(signal) {
  const n = Math.min(MAX_PAGE, Math.max(FIRST_PAGE, S.all.length));
  // The first event too, in the same round trip: the replay axis starts
  // on its day, loaded or not.
  const [page, latest, first] = await Promise.all([
    api.latest({}, n, signal), api.getJSON('v1/state', {}, signal), api.first(signal),
  ]);
  S.all = page.events;
  S.allCursor = page.cursor;
  S.first = first ? first.occurred_at : '';
  S.latest = latest;
  S.titles = new Map(S.all.map((e) => [e.id, e.title]));
}

// before orders two events as the timeline does: event time, then the
// sequence each was recorded at.
function before(a, b) {
  const t = parseTime(a.occurred_at), u = parseTime(b.occurred_at);
  if (t !== u) return t - u;
  const tn = subMilli(a.occurred_at), un = subMilli(b.occurred_at);
  return tn !== un ? tn - un : a.seq - b.seq;
}

// merge puts a page of older events before those loaded, in the
// timeline's order. An event already there is as new as the page's or
// newer (the feed brought it), and is kept.
function merge(older, loaded) {
  const have = new Set(loaded.map((e) => e.id));
  return older.filter((e) => !have.has(e.id)).concat(loaded).sort(before);
}

// whole says whether the view is the present, unfiltered: the timeline
// the page keeps in S.all and brings up to date from the feed.
function whole() {
  const { at, known_at } = when();
  return !at && !known_at && !S.filters.party && !S.filters.issue && !S.filters.type;
}

// viewEvents reads the latest events of a filtered or replayed view, or
// keeps those read for it while nothing new was recorded; after a live
// refresh it reads again as many as were shown.
async function viewEvents(params, signal) {
  const key = JSON.stringify(params);
  const v = S.view && S.view.key === key ? S.view : null;
  if (v && !v.stale) return v;
  const n = Math.min(MAX_PAGE, Math.max(FIRST_PAGE, v ? v.events.length : 0));
  const page = await api.latest(params, n, signal);
  return { key, params, events: page.events, cursor: page.cursor, stale: false };
}

// inTurn runs fn after the reads of the list that began before it: a
// reload (the feed opened) and a page of older events each set what the
// other reads, the events and their cursor, and run side by side the
// later to finish undid the other (the older page dropped, or merged onto
// a list that moved). A reload after a page of older events reads as many
// as there are then; a page after a reload, those before its events.
let turn = Promise.resolve();

function inTurn(fn) {
  const run = turn.then(fn);
  turn = run.catch(() => {});
  return run;
}

const OLDER_LABEL = 'Load older events';

// loadOlder reads the page of events before those shown, on the reader's
// request, once a reload under way has ended.
async function loadOlder() {
  const btn = $('timeline-older');
  btn.disabled = true;
  btn.textContent = 'Loading older events…';
  try {
    await inTurn(readOlder);
  } finally {
    btn.disabled = false;
    btn.textContent = OLDER_LABEL;
  }
}

async function readOlder() {
  try {
    if (whole()) {
      if (!S.allCursor) return;
      const page = await api.older({}, S.allCursor, OLDER_PAGE);
      S.all = merge(page.events, S.all);
      S.allCursor = page.cursor;
      for (const e of page.events) if (!S.titles.has(e.id)) S.titles.set(e.id, e.title);
      // The days now loaded show their ticks, and quiet ones fold.
      rebuildStops();
    } else {
      const v = S.view;
      if (!v || !v.cursor) return;
      const page = await api.older(v.params, v.cursor, OLDER_PAGE);
      v.events = merge(page.events, v.events);
      v.cursor = page.cursor;
    }
    await show();
  } catch (err) {
    showError(err);
  }
}

// upsert puts an event as it is known now into S.all, in the timeline's
// order (event time, then the sequence it was recorded at), in place of
// the view of it there was. New events are mostly the latest, so the
// place is looked for from the end.
function upsert(ev) {
  const i = S.all.findIndex((e) => e.id === ev.id);
  if (i >= 0) S.all.splice(i, 1);
  let j = S.all.length;
  while (j > 0 && before(S.all[j - 1], ev) >= 0) j--;
  S.all.splice(j, 0, ev);
  S.titles.set(ev.id, ev.title);
}

// subMilli is the nanoseconds of an event time past its millisecond, which
// a Date drops and the server orders by.
function subMilli(s) {
  const m = /T[^.]*\.\d{3}(\d{1,6})/.exec(s || '');
  return m ? Number(m[1].padEnd(6, '0')) : 0;
}

// catchUp brings S.all and S.latest up to date with what the feed said:
// the events it carried, each event a correction or retraction changed
// (asked for again), and the present state. The whole record is read only
// on the first refresh and after a failure: a page open through a news
// burst asks for one state (made once per new event for all pages) and
// the few events it must, not for the whole timeline again.
async function catchUp() {
  const reload = S.reload;
  // Cleared before the wait, so that a feed reopened meanwhile asks again.
  S.reload = false;
  const arrived = S.arrived.splice(0);
  const amended = [...S.amended];
  S.amended.clear();
  try {
    if (reload) {
      await loadBase();
      return;
    }
    const [latest, views] = await Promise.all([
      api.getJSON('v1/state'),
      Promise.all(amended.map((id) => eventOrNone(id))),
    ]);
    for (const ev of arrived) upsert(ev);
    for (const ev of views) if (ev) upsert(ev);
    S.latest = latest;
  } catch (err) {
    S.reload = true;
    throw err;
  }
}

// eventOrNone is an event as known now, or null for one the record does
// not have: a correction may name an event never recorded.
async function eventOrNone(id) {
  try {
    return await api.getJSON(`v1/events/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

// rebuildStops recomputes the axis, keeping the chosen day (or now).
function rebuildStops(keep) {
  const cur = S.stops[S.idx];
  const day = keep !== undefined ? keep : cur && !cur.now ? cur.day : '';
  // The axis spans the record, from its first day, whether or not the
  // events before those loaded are.
  const from = S.allCursor && S.first ? dayKey(parseTime(S.first)) : '';
  S.stops = buildStops(S.all, { known: S.known, extra: day ? [day] : [], today: dayKey(Date.now()), from });
  const i = day ? S.stops.findIndex((s) => s.day === day) : -1;
  S.idx = i >= 0 ? i : nowIndex(S.stops);
  const slider = $('slider');
  slider.max = String(S.stops.length - 1);
  slider.value = String(S.idx);
  renderTicks($('ticks'), S.stops, S.all, S.known);
}

function labels() {
  const s = stop();
  const label = stopLabel(s);
  $('asof').textContent = label;
  $('slider').setAttribute('aria-valuetext', label + knownLabel());
  // A disabled button drops the focus to the page's top: the keyboard
  // that pressed "Back to now" goes on from the slider, which now says it.
  if (s.now && document.activeElement === $('now')) $('slider').focus();
  $('now').disabled = !!s.now;
}

// Rows and columns: the issues and parties with a position now or at the
// chosen time, in the vocabulary's order, narrowed by the filters. They
// come from the present too so that columns do not jump while replaying.
function shape(state) {
  const issues = new Set();
  const parties = new Set();
  for (const st of [S.latest, state]) {
    for (const is of (st && st.issues) || []) {
      const ps = Object.keys(is.positions || {});
      if (ps.length) issues.add(is.issue);
      ps.forEach((p) => parties.add(p));
    }
  }
  let rows = S.vocab.issues.map((t) => t.id).filter((id) => issues.has(id));
  let columns = S.vocab.parties.map((t) => t.id).filter((id) => parties.has(id));
  if (S.filters.issue) rows = [S.filters.issue];
  if (S.filters.party) columns = [S.filters.party];
  return { rows, columns };
}

// focusKey and refocus keep the keyboard where it was across a redraw
// (a live refresh redraws twice a second during a burst): a cell or an
// issue, a point of the chart, an event or one of its links. A link of a
// cell's details, which a redraw closes, gives the place back to its cell.
function focusKey() {
  const a = document.activeElement;
  if (!a || !a.dataset) return null;
  const pop = a.closest('#cell-pop');
  const cell = pop && pop.parentNode && pop.parentNode.querySelector('button.cell');
  const d = (cell || a).dataset;
  if (d.party && d.issue) return { sel: `[data-issue="${CSS.escape(d.issue)}"][data-party="${CSS.escape(d.party)}"]` };
  if (a.dataset.issue && a.classList.contains('issue')) return { sel: `button.issue[data-issue="${CSS.escape(a.dataset.issue)}"]` };
  if (a.dataset.event && a.closest('#chart')) {
    const sel = `#chart circle.pt[data-party="${CSS.escape(a.dataset.party)}"][data-event="${CSS.escape(a.dataset.event)}"]`;
    return { sel, nth: [...document.querySelectorAll(sel)].indexOf(a) };
  }
  if (a.dataset.id) return { sel: `#${CSS.escape(a.id)}` };
  const li = a.closest('li.event');
  if (li) {
    const sel = `#${CSS.escape(li.id)} a`;
    return { sel, nth: [...document.querySelectorAll(sel)].indexOf(a) };
  }
  return null;
}

function refocus(key) {
  if (!key) return;
  const all = document.querySelectorAll(key.sel);
  const n = all[key.nth || 0] || all[0];
  if (n && n !== document.activeElement && typeof n.focus === 'function') n.focus({ preventScroll: true });
}

function showError(err) {
  const e = $('error');
  e.textContent = err ? `Could not load: ${err.message}` : '';
  e.hidden = !err;
}

// passes reports whether a read failed for a reason that passes (the
// server down, starting, or busy), as against a refused query (4xx).
function passes(err) {
  return !err.status || err.status >= 500 || err.status === 429;
}

// retryLater asks for a refresh after a growing pause when a read failed
// for a reason that passes: nothing else would ask again until the next
// development, and a dashboard has no one to reload it.
let retryTimer = 0;
let retryDelay = 1000;

function retryLater(err) {
  if (!passes(err) || retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = 0;
    scheduleRefresh();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30000);
}

// support finds the run of reports that state a cell's stance and value,
// newest first, as known in the current view: the cell itself carries
// only the latest of them.
async function support(issue, party, cell) {
  const params = { party, known_at: when().known_at };
  const same = (e) => e.stance === cell.stance && JSON.stringify(e.value ?? null) === JSON.stringify(cell.value ?? null);
  const out = [];
  let found = false;
  let cursor = '';
  // Newest first: the cell's own report, then back while they agree.
  for (let page = 0; page < 50; page++) {
    const body = await api.historyPage(issue, params, HISTORY_PAGE, cursor);
    for (const e of body.entries) {
      if (!found && e.event !== cell.event) continue;
      found = true;
      if (!same(e)) return out;
      out.push(e);
    }
    if (!(cursor = body.cursor)) break;
  }
  return out;
}

// show draws the view for the chosen time and filters.
async function show() {
  const gen = ++S.gen;
  if (S.controller) S.controller.abort();
  const ctl = new AbortController();
  S.controller = ctl;
  const t0 = performance.now();
  labels();
  const { at, known_at } = when();
  try {
    // The present, unfiltered, is the whole record the page keeps.
    const all = whole();
    const [state, view, hist] = await Promise.all([
      api.getJSON('v1/state', { at, known_at }, ctl.signal),
      all ? null : viewEvents({ ...S.filters, to: at, known_at }, ctl.signal),
      S.historyIssue ? api.history(S.historyIssue, { party: S.filters.party, known_at }, HISTORY_PAGE, ctl.signal) : null,
    ]);
    if (gen !== S.gen) return;
    if (view) S.view = view;
    const events = all ? S.all : view.events;
    const more = all ? S.allCursor !== '' : view.cursor !== '';
    const key = focusKey();
    const { rows, columns } = shape(state);
    // An empty view says why: nothing recorded at all, the filters, or the
    // date.
    const filtered = S.filters.party || S.filters.issue || S.filters.type;
    const why = filtered ? ' for these filters' : at ? ' as of this date' : '';
    const none = S.all.length ? '' : 'Nothing recorded yet: events appear here as they are added.';
    renderMatrix($('matrix'), state, {
      ...V, rows, columns, history: S.historyIssue, fresh: S.fresh,
      asOf: at ? `as of ${fmtDay(at)}` : 'now', onHistory: openHistory, support,
      empty: none || `No position stated${why}.`,
    });
    renderTimeline($('timeline'), events, { ...V, fresh: S.fresh, empty: none || `No events${why}.` });
    // Said only once the day's answers are drawn: after a failed read the
    // positions shown are still those of the day before.
    $('matrix-asof').textContent = (at ? `as of ${fmtDay(at)} UTC` : 'now') + (known_at ? knownLabel() : '');
    notice(state, known_at);
    const counted = `${events.length} event${events.length === 1 ? '' : 's'}`;
    $('timeline-count').textContent = `${more ? 'the latest ' : ''}${counted}${at ? ` to ${fmtDay(at)}` : ''}`;
    // Said when the record goes back further than what is shown: the
    // reader asks for the older events, or picks an earlier day on the
    // axis, which reaches the record's first.
    $('timeline-more').hidden = !more;
    if (more) $('timeline-more-text').textContent = `Showing the latest ${counted}; older ones are not loaded.`;
    S.lastHistory = hist && hist.entries;
    S.historyMore = !!(hist && hist.more);
    drawHistory();
    refocus(key);
    showError(null);
    retryDelay = 1000;
  } catch (err) {
    if (err.name === 'AbortError' || gen !== S.gen) return;
    showError(err);
    retryLater(err);
  }
  const root = document.documentElement;
  root.dataset.redrawMs = (performance.now() - t0).toFixed(1);
  root.dataset.at = at || 'now';
  root.dataset.ready = '1';
}

// notice explains an empty view in "as known at" mode: nothing had been
// recorded by the day of knowledge, and when the record starts.
function notice(state, knownAt) {
  const n = $('notice');
  const empty = !state.issues.some((is) => Object.keys(is.positions || {}).length);
  const first = S.all.reduce((m, e) => (e.recorded_at && (!m || e.recorded_at < m) ? e.recorded_at : m), '');
  n.hidden = !(knownAt && empty && first);
  // The first recorded of the events loaded starts the record only when
  // none is left to load.
  if (!n.hidden) n.textContent = S.allCursor ? `Nothing had been recorded by ${fmtDay(knownAt)}.`
    : `Nothing had been recorded by ${fmtDay(knownAt)}: the record starts on ${fmtDay(dayKey(Date.parse(first)))}.`;
}

function drawHistory() {
  const box = $('history');
  if (!S.historyIssue || !S.lastHistory) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('history-h').textContent = `History: ${V.issueLabel(S.historyIssue)}`;
  if (S.historyMore) $('history-h').append(el('span', { class: 'muted' }, ` (the latest ${S.lastHistory.length.toLocaleString('en')} positions)`));
  renderHistory($('chart'), S.lastHistory, {
    ...V, issue: S.historyIssue, at: when().at, onPoint: goToEvent,
  });
}

async function openHistory(issue, opener) {
  S.historyIssue = issue;
  S.historyOpener = opener || null;
  writeURL();
  await show();
  const h = $('history-h');
  h.focus({ preventScroll: true });
  $('history').scrollIntoView({ block: 'nearest', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
}

function closeHistory() {
  S.historyIssue = '';
  S.lastHistory = null;
  $('history').hidden = true;
  writeURL();
  const opener = S.historyOpener;
  S.historyOpener = null;
  show().then(() => {
    const k = opener && opener.dataset.issue ? `[data-issue="${CSS.escape(opener.dataset.issue)}"]${opener.dataset.party ? `[data-party="${CSS.escape(opener.dataset.party)}"]` : '.issue'}` : null;
    refocus(k && { sel: k });
  });
}

// goToEvent shows an event of the timeline. The chart and the details
// name events the timeline may leave out: dated after the chosen day,
// hidden by the filters, or older than the events loaded (the chart shows
// an issue's positions back to the record's start). The event is read by
// id if the page does not have it; the filters are cleared if they hide
// it, and the replay moves to its day if the view does not reach it,
// rather than the click doing nothing.
async function goToEvent(id) {
  const shown = () => document.getElementById(`ev-${id}`);
  if (!shown()) {
    let ev = S.all.find((e) => e.id === id);
    if (!ev) {
      try {
        ev = await eventOrNone(id);
      } catch (err) {
        showError(err);
        return;
      }
    }
    if (!ev) return;
    let day = dayKey(parseTime(ev.occurred_at));
    // As known at the time, the event is there from the day it was
    // recorded.
    if (S.known && !S.knownOn && ev.recorded_at) {
      const rec = dayKey(Date.parse(ev.recorded_at));
      if (rec > day) day = rec;
    }
    const moveTo = async () => {
      stopPlay();
      rebuildStops(day);
      writeURL();
      await show();
    };
    const { at } = when();
    const loaded = S.all.some((e) => e.id === id);
    // Later than the day chosen, or now and older than the events loaded.
    if (at ? day > at : !loaded) await moveTo();
    if (!shown() && (S.filters.party || S.filters.issue || S.filters.type)) {
      clearFilters();
      await show();
    }
    // Still older than the latest events of the day chosen.
    if (!shown() && when().at !== day && (when().at || !loaded)) await moveTo();
    // More events on its day than a page: older pages, a few at most.
    for (let page = 0; page < 5 && !shown() && (whole() ? S.allCursor : S.view && S.view.cursor); page++) {
      await loadOlder();
    }
  }
  const li = document.getElementById(`ev-${id}`);
  if (!li) return;
  li.scrollIntoView({ block: 'center' });
  li.focus({ preventScroll: true });
  li.classList.remove('fresh');
  void li.offsetWidth; // restart the highlight
  li.classList.add('fresh');
}

function setStop(i) {
  S.idx = Math.max(0, Math.min(S.stops.length - 1, i));
  $('slider').value = String(S.idx);
  writeURL();
  return show();
}

function stopPlay() {
  clearInterval(S.playTimer);
  S.playTimer = 0;
  $('play').textContent = 'Play';
}

function play() {
  if (S.playTimer) {
    stopPlay();
    return;
  }
  if (S.idx >= S.stops.length - 1) setStop(0);
  $('play').textContent = 'Pause';
  S.playTimer = setInterval(() => {
    if (S.idx >= S.stops.length - 1) {
      stopPlay();
      return;
    }
    setStop(S.idx + 1);
  }, PLAY_MS);
}

// The live feed. EventSource reconnects by itself and sends Last-Event-ID,
// so the server resumes where the page left off. If the browser gives up
// (the server answered with an error, say too many clients), the page
// opens a new one after a growing pause, resuming from the last id it saw
// with ?last_event_id=, unless the server refuses that id (its record is
// shorter now): then it starts again from the live tail. Each time the
// feed opens without an id to resume from, the page reloads
// its data once: what was recorded between the first load and the
// subscription would otherwise be missing.
let feed = null;
let backoff = 1000;
let refreshTimer = 0;
let lastId = '';

// setLive says the feed's state; the same words again would be read out
// again (the element is a status), so they are left alone.
function setLive(state, text) {
  const n = $('live');
  if (n.dataset.state === state && n.textContent === text) return;
  n.dataset.state = state;
  n.textContent = text;
}

function connectFeed() {
  // One feed at a time: a retry still waiting when the page was left and
  // shown again finds the feed already open.
  if (feed && feed.readyState !== EventSource.CLOSED) return;
  feed = new EventSource(lastId ? `v1/feed?last_event_id=${encodeURIComponent(lastId)}` : 'v1/feed');
  const es = feed;
  // A server that cannot serve the stream now (starting, stopping, or as
  // many readers as it serves) answers with one that says why and ends;
  // EventSource opens it again when the server asks. Its reason comes
  // right after the open, so the page waits a moment before it says it
  // is live, and reloads only then: readers turned away neither see
  // "Live" nor read the state again each time they are.
  let turnedAway = '';
  es.addEventListener('open', () => {
    turnedAway = '';
    setTimeout(() => {
      if (turnedAway || es.readyState !== EventSource.OPEN || feed !== es) return;
      setLive('live', 'Live');
      backoff = 1000;
      if (!lastId) S.reload = true;
      // The server is back: what failed to load meanwhile is read now,
      // not after the retry's pause.
      if (!lastId || !$('error').hidden) scheduleRefresh();
    }, OPEN_SETTLE_MS);
  });
  es.addEventListener('parley:unavailable', (m) => {
    let why = 'the server is busy';
    try {
      why = JSON.parse(m.data).error || why;
    } catch (_) {}
    turnedAway = `Live updates paused (${why}); retrying`;
    setLive('off', turnedAway);
  });
  es.addEventListener('error', async () => {
    if (es.readyState !== EventSource.CLOSED) {
      if (!turnedAway) setLive('reconnecting', 'Reconnecting…');
      return;
    }
    es.close();
    if (lastId && (await resumeRefused(lastId))) {
      // The record no longer reaches the last id this page saw (a store
      // restored from an older backup): what the page shows past it is
      // gone. Start again from the live tail, which reloads everything.
      lastId = '';
      setLive('reconnecting', 'The record changed on the server; reloading');
      setTimeout(connectFeed, 0);
      return;
    }
    setLive('off', 'Live updates paused; retrying');
    setTimeout(connectFeed, backoff);
    backoff = Math.min(backoff * 2, 30000);
  });
  const onMessage = (m) => {
    if (m.lastEventId) lastId = m.lastEventId;
    onFeed(m);
  };
  es.addEventListener('message', onMessage);
  for (const t of S.vocab.types) es.addEventListener(t.id, onMessage);
}

// A page the browser keeps to come back to (its back-forward cache) would
// hold its feed open, and a browser opens at most six connections to a
// host: a few pages of the site behind, and the page in front could read
// nothing more. The feed is closed when the page is left and opened again,
// resuming after the last id seen, if the page is shown again.
let feedLeft = false;
window.addEventListener('pagehide', () => {
  if (!feed) return;
  feed.close();
  feed = null;
  feedLeft = true;
});
window.addEventListener('pageshow', () => {
  if (!feedLeft) return;
  feedLeft = false;
  connectFeed();
});

// resumeRefused asks whether the feed refuses to resume after id (400 on
// last_event_id): EventSource does not say why it gave up, a plain
// request does. Anything else (the server down, too many clients) is a
// reason to retry as before.
async function resumeRefused(id) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const r = await fetch(`v1/feed?last_event_id=${encodeURIComponent(id)}`, { method: 'HEAD', signal: ctl.signal });
    return r.status === 400;
  } catch (_) {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function onFeed(m) {
  let data;
  try {
    data = JSON.parse(m.data);
  } catch (_) {
    return;
  }
  const ev = data && data.event;
  const dev = data && data.development;
  if (ev && ev.id) S.arrived.push(ev);
  if (dev && dev.corrects) S.amended.add(dev.corrects);
  if (ev && ev.id) S.fresh.add(ev.id);
  if (dev && dev.event) S.fresh.add(dev.event);
  if (dev && dev.corrects) S.fresh.add(dev.corrects);
  for (const c of (dev && dev.changes) || []) {
    // A position scheduled for later (talks set for next week) is not a
    // change of the present: its cell is not marked, and the page looks
    // again when its time comes, if that is before the next midnight
    // (atMidnight sees to later days).
    const at = c.as_of ? parseTime(c.as_of) : 0;
    if (at > Date.now()) {
      atTime(at);
      continue;
    }
    S.fresh.add(`${c.issue}/${c.party}`);
  }
  if (ev && ev.title) S.news.push(ev.title);
  scheduleRefresh();
}

// scheduleRefresh redraws REFRESH_MS after the first event of a burst,
// then at most once every REFRESH_GAP_MS while events keep coming, with one
// refresh waiting and one running at most. It never postpones a waiting
// refresh: a debounce that did would show nothing for as long as events
// kept coming faster than it, which is when a newsroom is looking. The gap
// keeps a burst from making every open page ask the server for the state
// many times a second, all at once.
let refreshing = false;
let dirty = false;
let lastRefresh = -Infinity;

function scheduleRefresh() {
  dirty = true;
  if (refreshTimer || refreshing) return;
  const wait = Math.max(REFRESH_MS, lastRefresh + REFRESH_GAP_MS - performance.now());
  refreshTimer = setTimeout(async () => {
    refreshTimer = 0;
    refreshing = true;
    dirty = false;
    lastRefresh = performance.now();
    try {
      await refresh();
    } finally {
      refreshing = false;
      if (dirty) scheduleRefresh();
    }
  }, wait);
}

let refreshes = 0;

// The page's root carries how many refreshes began, how many read what
// they had to, and how many ended: tests wait on them.
async function refresh() {
  const root = document.documentElement;
  const n = ++refreshes;
  root.dataset.refreshes = String(n);
  await inTurn(() => readAgain(n));
  root.dataset.refreshed = String(n);
}

// readAgain is a refresh's reads and redraw, the nth refresh's.
async function readAgain(n) {
  const root = document.documentElement;
  api.forget();
  if (S.view) S.view.stale = true;
  try {
    await catchUp();
  } catch (err) {
    showError(err);
    retryLater(err);
    return;
  }
  root.dataset.caughtUp = String(n);
  rebuildStops();
  await show();
  announce();
  clearTimeout(S.freshTimer);
  S.freshTimer = setTimeout(() => {
    S.fresh.clear();
    document.querySelectorAll('.fresh').forEach((n) => n.classList.remove('fresh'));
  }, FRESH_MS);
}

// announce tells a screen reader what a refresh drew, once: a burst of
// sixty events is one sentence, not sixty read one after another.
function announce() {
  const n = S.news.length;
  if (!n) return;
  const last = S.news[n - 1];
  S.news = [];
  $('announce').textContent = n === 1 ? `New: ${last}` : `${n} new developments; the latest: ${last}`;
}

function fillSelect(sel, terms, label) {
  sel.replaceChildren(el('option', { value: '' }, label), ...terms.map((t) => el('option', { value: t.id }, t.label || t.short || t.name)));
}

function legend() {
  const items = S.vocab.stances.map((s) => el('span', { class: ['pill', `st-${s.id}`] }, s.label));
  $('legend').replaceChildren(el('span', { class: 'sr' }, 'Stances: '), ...items,
    el('span', { class: 'mark disputed' }, '⚑ Disputed'), el('span', { class: 'muted' }, ' reports disagree '),
    el('span', { class: 'mark corrected' }, '✎ Corrected'), el('span', { class: 'muted' }, ' amended later'));
}

function clearFilters() {
  S.filters = { party: '', issue: '', type: '' };
  for (const k of ['party', 'issue', 'type']) $(`f-${k}`).value = '';
  writeURL();
}

function wire() {
  const slider = $('slider');
  slider.addEventListener('input', () => {
    if (S.playTimer) stopPlay();
    S.idx = Number(slider.value);
    writeURL();
    show();
  });
  $('play').addEventListener('click', play);
  $('now').addEventListener('click', () => { stopPlay(); setStop(nowIndex(S.stops)); });
  $('known').addEventListener('change', (e) => {
    S.known = e.target.checked;
    if (!S.known) {
      S.knownOn = '';
      $('known-on').value = '';
    }
    $('known-on-box').hidden = !S.known;
    rebuildStops();
    writeURL();
    show();
  });
  $('known-on').addEventListener('change', (e) => {
    S.knownOn = validDay(e.target.value);
    writeURL();
    show();
  });
  for (const k of ['party', 'issue', 'type']) {
    $(`f-${k}`).addEventListener('change', (e) => {
      S.filters[k] = e.target.value;
      writeURL();
      show();
    });
  }
  $('clear').addEventListener('click', () => {
    clearFilters();
    show();
  });
  // A link to an event the timeline does not show goes where it is shown.
  document.addEventListener('click', (e) => {
    const a = e.target instanceof Element && e.target.closest('a[href^="#ev-"]');
    if (!a || document.getElementById(a.getAttribute('href').slice(1))) return;
    e.preventDefault();
    goToEvent(a.getAttribute('href').slice(4));
  });
  $('history-close').addEventListener('click', closeHistory);
  $('timeline-older').addEventListener('click', loadOlder);
  $('history').addEventListener('keydown', (e) => { if (e.key === 'Escape') closeHistory(); });
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      const key = focusKey();
      drawHistory();
      refocus(key);
    });
  }).observe($('chart'));
}

// atMidnight refreshes the page when the UTC day changes. No development
// says so, but "now" is then another day, and what was dated ahead (a
// deadline's positions) starts to hold: a dashboard left open overnight
// would show yesterday's present until the next event.
function atMidnight() {
  const now = Date.now();
  const next = dayStart(dayKey(now)) + 86400000;
  setTimeout(() => {
    scheduleRefresh();
    atMidnight();
  }, next - now + 500);
}

// atTime refreshes the page once at ms, a time later today (UTC): a
// position scheduled for it starts to hold then, and no development says so.
function atTime(ms) {
  const wait = ms - Date.now();
  if (wait <= 0 || wait > dayStart(dayKey(Date.now())) + 86400000 - Date.now()) return;
  setTimeout(scheduleRefresh, wait + 500);
}

// PALETTE colours the stances the style sheet does not name (another
// negotiation's), [stripe, tint] each, distinct from the named six.
const PALETTE = [
  ['#be185d', '#fce7f3'], ['#4d7c0f', '#ecfccb'], ['#0369a1', '#e0f2fe'], ['#a16207', '#fef9c3'],
  ['#6d28d9', '#ede9fe'], ['#c2410c', '#ffedd5'], ['#047857', '#d1fae5'], ['#9f1239', '#ffe4e6'],
];

// stanceColours gives each stance the style sheet leaves grey the next
// colour of the palette, in the vocabulary's order. The rules go into the
// page's own style sheet through the CSSOM, which its CSP (style-src
// 'self') allows where it refuses a <style> element.
function stanceColours() {
  const sheet = [...document.styleSheets].find((s) => s.href && new URL(s.href).pathname.endsWith('/static/style.css'));
  if (!sheet) return;
  const probe = el('span', { class: 'pill', hidden: true });
  document.body.append(probe);
  let i = 0;
  for (const s of S.vocab.stances) {
    probe.className = `pill st-${s.id}`;
    if (getComputedStyle(probe).getPropertyValue('--st').trim()) continue;
    const [st, tint] = PALETTE[i++ % PALETTE.length];
    sheet.insertRule(`.st-${CSS.escape(s.id)} { --st: ${st}; --tint: ${tint}; }`, sheet.cssRules.length);
  }
  probe.remove();
}

// startDelay is the pause before main tries again to read what the page
// needs to start, growing while the server cannot answer.
let startDelay = 1000;

async function main() {
  try {
    const [vocab] = await Promise.all([api.getJSON('v1/vocabulary'), loadBase()]);
    S.vocab = vocab;
  } catch (err) {
    showError(err);
    if (!passes(err)) return;
    setTimeout(main, startDelay);
    startDelay = Math.min(startDelay * 2, 30000);
    return;
  }
  for (const k of ['party', 'issue', 'type', 'stance']) {
    S.terms[k] = new Map((S.vocab[`${k === 'party' ? 'parties' : k + 's'}`] || []).map((t) => [t.id, t]));
  }
  S.vocab.parties.forEach((p, i) => S.partyOrder.set(p.id, i));
  fillSelect($('f-party'), S.vocab.parties.map((p) => ({ id: p.id, label: p.name })), 'All parties');
  fillSelect($('f-issue'), S.vocab.issues, 'All issues');
  fillSelect($('f-type'), S.vocab.types, 'All types');
  const at = readURL();
  for (const k of ['party', 'issue', 'type']) $(`f-${k}`).value = S.filters[k];
  $('known').checked = S.known;
  $('known-on').value = S.knownOn;
  $('known-on-box').hidden = !S.known;
  stanceColours();
  legend();
  rebuildStops(at);
  wire();
  writeURL();
  await show();
  connectFeed();
  atMidnight();
}

main();
