// The timeline: events in event-time order with their type, date at its
// precision, actors, title, summary, positions and sources; corrected and
// retracted events are marked in words, and corrections link to what they
// amend.

import { el, link, fmtTime, fmtValue } from './dom.js';

function sources(ev) {
  const items = [];
  (ev.sources || []).forEach((s, i) => {
    if (i > 0) items.push(' · ');
    items.push(link(s.url, s.outlet));
    if (s.published_at) items.push(el('span', { class: 'muted' }, ` (${fmtTime(s.published_at)})`));
  });
  return el('p', { class: 'sources' }, el('span', { class: 'label' }, 'Sources: '), items);
}

function positions(ev, v) {
  if (!ev.positions || !ev.positions.length) return null;
  return el('ul', { class: 'positions' }, ev.positions.map((p) => el('li', {},
    el('span', { class: 'who' }, v.partyShort(p.party)), ' · ', v.issueLabel(p.issue), ': ',
    el('span', { class: ['pill', `st-${p.stance}`] }, v.stanceLabel(p.stance)),
    p.value !== undefined && p.value !== null ? ` ${fmtValue(p.value)}` : '')));
}

function ref(id, v) {
  return el('a', { href: `#ev-${id}` }, v.eventTitle(id) || id);
}

// what changed between the event as first recorded and as now believed.
function changes(ev) {
  const o = ev.original;
  if (!o) return [];
  const out = [];
  if (o.occurred_at !== ev.occurred_at) out.push(`first dated ${fmtTime(o.occurred_at)}`);
  if (o.title !== ev.title) out.push(`first titled “${o.title}”`);
  if (JSON.stringify(o.people || []) !== JSON.stringify(ev.people || [])) out.push(`people first given as ${(o.people || []).join(', ') || 'none'}`);
  if (o.summary !== ev.summary && o.title === ev.title) out.push('summary amended');
  if (JSON.stringify(o.positions || []) !== JSON.stringify(ev.positions || [])) out.push('positions amended');
  return out;
}

function item(ev, v) {
  const marks = [];
  if (ev.retracted) marks.push(el('span', { class: 'mark retracted' }, '⊘ Retracted'));
  if (ev.corrected_by && ev.corrected_by.length) marks.push(el('span', { class: 'mark corrected' }, '✎ Corrected'));
  const meta = el('p', { class: 'meta' },
    el('span', { class: ['type', `type-${ev.type}`] }, v.typeLabel(ev.type)),
    el('time', { datetime: ev.occurred_at }, fmtTime(ev.occurred_at)),
    ev.actors && ev.actors.length ? el('span', { class: 'actors' }, ev.actors.map((a) => v.partyShort(a)).join(' · ')) : null,
    marks);
  const title = el('h3', { class: 'title' }, ev.retracted ? el('del', {}, ev.title) : ev.title);
  const notes = [];
  if (ev.corrects) {
    notes.push(el('p', { class: 'note' }, ev.type === 'retraction' ? 'Withdraws ' : 'Corrects ', ref(ev.corrects, v),
      ev.amend ? ` (${Object.keys(ev.amend).join(', ').replaceAll('_', ' ')})` : '', '.'));
  }
  if (ev.corrected_by && ev.corrected_by.length) {
    const parts = ['Corrected by '];
    ev.corrected_by.forEach((id, i) => parts.push(i ? ', ' : '', ref(id, v)));
    const ch = changes(ev);
    if (ch.length) parts.push(`: ${ch.join('; ')}`);
    if (ev.corrected_at) parts.push(`; on record from ${fmtTime(ev.corrected_at)}`);
    parts.push('.');
    notes.push(el('p', { class: 'note' }, parts));
  }
  if (ev.retracted) {
    notes.push(el('p', { class: 'note' }, 'Withdrawn by ', ev.retracted_by ? ref(ev.retracted_by, v) : 'a retraction',
      ': its positions no longer count.'));
  }
  const extra = [];
  if (ev.people && ev.people.length) extra.push(`People: ${ev.people.join(', ')}`);
  if (ev.location) extra.push(`Place: ${ev.location}`);
  // When the record learnt of it: what "as known at the time" counts, and
  // how late a report came in.
  if (ev.recorded_at) extra.push(`Recorded ${fmtTime(ev.recorded_at)}`);
  return el('li', {
    id: `ev-${ev.id}`, class: ['event', ev.retracted && 'is-retracted', v.fresh.has(ev.id) && 'fresh'],
    'data-id': ev.id, 'data-type': ev.type, tabindex: '-1',
  },
  meta, title,
  ev.summary ? el('p', { class: 'summary' }, ev.summary) : null,
  extra.length ? el('p', { class: 'muted small' }, extra.join(' · ')) : null,
  positions(ev, v), notes, sources(ev));
}

// renderTimeline draws the events into root.
export function renderTimeline(root, events, v) {
  if (!events.length) {
    root.replaceChildren(el('p', { class: 'muted' }, v.empty || 'No events.'));
    return;
  }
  root.replaceChildren(el('ol', { class: 'timeline' }, events.map((ev) => item(ev, v))));
}
