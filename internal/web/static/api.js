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

// timeline reads every page of a timeline query.
export async function timeline(params, signal) {
  const out = [];
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const body = await getJSON('v1/timeline', { ...params, limit: 1000, cursor }, signal);
    out.push(...body.events);
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return out;
}

// history reads every page of an issue's history.
export async function history(issue, params, signal) {
  const out = [];
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const body = await getJSON(`v1/issues/${encodeURIComponent(issue)}/history`, { ...params, limit: 1000, cursor }, signal);
    out.push(...body.entries);
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return out;
}
