// DOM helpers. Every value that comes from an event reaches the page as a
// text node or an attribute set through the DOM: nothing here parses HTML,
// so a title such as <script>…</script> is shown as the text it is.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// el creates an HTML element: el('p', {class: 'x'}, 'text', child).
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// svg creates an SVG element the same way.
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

// link is an outside link when url is http(s), else plain text: an event's
// URL is checked at ingest, and once more here before it becomes an href.
export function link(url, text, attrs) {
  if (typeof url === 'string' && /^https?:\/\//i.test(url)) {
    return el('a', { href: url, rel: 'noopener noreferrer', target: '_blank', ...attrs }, text);
  }
  return el('span', attrs, text);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

// parseTime reads an event time (a date, a minute or a second, with its
// offset) as milliseconds since the epoch; a date is its start in UTC.
export function parseTime(s) {
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

// fmtTime shows an event time at the precision it was given: a day as a
// day, a time with the offset it was given in.
export function fmtTime(s) {
  const m = TIME_RE.exec(s || '');
  if (!m) return s || '';
  const day = `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
  if (!m[4]) return day;
  const zone = m[7] === 'Z' || m[7] === '+00:00' ? 'UTC' : 'UTC' + m[7];
  return `${day}, ${m[4]}:${m[5]}${m[6] ? ':' + m[6] : ''} ${zone}`;
}

const DAY_MS = 86400000;

// dayKey is the UTC day of a moment, as 2025-11-21.
export function dayKey(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// dayStart is the first moment of a UTC day; dayEnd its last.
export function dayStart(key) {
  return Date.parse(key + 'T00:00:00Z');
}
export function dayEnd(key) {
  return dayStart(key) + DAY_MS - 1;
}

export function addDays(key, n) {
  return dayKey(dayStart(key) + n * DAY_MS);
}

export function daysBetween(a, b) {
  return Math.round((dayStart(b) - dayStart(a)) / DAY_MS);
}

// fmtDay shows a day key as "Fri 21 Nov 2025"; short drops the weekday
// and the year.
export function fmtDay(key, short) {
  const d = new Date(dayStart(key));
  const s = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
  return short ? s : `${DAYS[d.getUTCDay()]} ${s} ${d.getUTCFullYear()}`;
}

// fmtValue shows a position's value: numbers with thousands separators.
export function fmtValue(v) {
  if (typeof v === 'number') return v.toLocaleString('en-GB');
  return v === undefined || v === null ? '' : String(v);
}

// plural: plural(2, 'source') is "2 sources".
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
