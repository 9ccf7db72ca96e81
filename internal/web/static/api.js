// Reading the API. Answers are kept in a small cache by URL so that moving
// the slider back and forth asks each date once; the live feed empties it.

const cache = new Map();
const MAX_CACHED = 200;

// url builds a path with the non-empty parameters.
export function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// getJSON fetches a JSON answer, from the cache when it is there.
export async function getJSON(path, params, signal) {
  const u = url(path, params);
  if (cache.has(u)) return cache.get(u);
  const resp = await fetch(u, { signal, headers: { Accept: 'application/json' } });
  if (!resp.ok) {
    let msg = `${resp.status} ${resp.statusText}`;
    try {
      const body = await resp.json();
      if (body && body.error) msg = body.error;
    } catch (_) { /* not JSON */ }
    const err = new Error(`${u}: ${msg}`);
    err.status = resp.status;
    throw err;
  }
  const body = await resp.json();
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value);
  cache.set(u, body);
  return body;
}

// forget empties the cache: something new was recorded.
export function forget() {
  cache.clear();
}

// latest reads the newest events of a timeline query in one request, up
// to limit of them, newest first as the API walks them, and gives them
// back in event-time order with the cursor of the older ones ('' when
// there are none). A long record is not read whole before anything is
// shown: the older pages are asked for when the reader wants them.
export function latest(params, limit, signal) {
  return older(params, '', limit, signal);
}

// first reads the record's first event in event time, or null when there
// is none: one event, so that the replay axis can start where the record
// does without the older events being read.
export async function first(signal) {
  const body = await getJSON('v1/timeline', { limit: 1 }, signal);
  return body.events[0] || null;
}

// older reads the page of a timeline query before cursor ('' for the
// latest), as latest does.
export async function older(params, cursor, limit, signal) {
  const body = await getJSON('v1/timeline', { ...params, order: 'desc', limit, cursor }, signal);
  return { events: body.events.slice().reverse(), cursor: body.next_cursor || '' };
}

// historyPage reads one page of an issue's history newest first: entries
// newest first, and the cursor of the older ones.
export async function historyPage(issue, params, limit, cursor, signal) {
  const body = await getJSON(`v1/issues/${encodeURIComponent(issue)}/history`, { ...params, order: 'desc', limit, cursor }, signal);
  return { entries: body.entries, cursor: body.next_cursor || '' };
}

// history reads the latest positions of an issue's history, up to limit,
// in event-time order, and whether there are older ones.
export async function history(issue, params, limit, signal) {
  const { entries, cursor } = await historyPage(issue, params, limit, '', signal);
  return { entries: entries.slice().reverse(), more: cursor !== '' };
}
