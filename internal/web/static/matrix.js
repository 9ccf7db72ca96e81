// The state matrix: issues as rows, parties as columns. A cell says the
// stance in words on a background of its colour, the value where there is
// one, and marks disputed and corrected positions in words too. Hovering
// or focusing a cell shows its quote and sources; clicking opens the
// issue's history. A finger has no hover: its first tap on a cell shows
// the details, which end with a button to the history, and a second tap
// opens it.

import { el, link, fmtTime, fmtValue, plural } from './dom.js';

let pop = null; // the one popover, moved into the cell it describes
let hideTimer = 0;
let tapped = null; // the cell whose details a tap showed

function popover() {
  if (!pop) {
    pop = el('div', { class: 'pop', id: 'cell-pop', role: 'region', 'aria-label': 'Position details' });
    pop.addEventListener('mouseenter', () => clearTimeout(hideTimer));
    // Any scroll (the page, or the matrix sideways) moves the cell: the
    // popover follows the cell that has the keyboard, and leaves a cell
    // that only had the mouse.
    document.addEventListener('scroll', (e) => {
      if (!pop.parentNode || e.target === pop) return;
      if (pop.parentNode.contains(document.activeElement)) place(pop, pop.parentNode);
      else hidePop();
    }, { capture: true, passive: true });
  }
  return pop;
}

export function hidePop() {
  clearTimeout(hideTimer);
  tapped = null;
  if (pop && pop.parentNode) pop.remove();
}

function sourceList(sources) {
  return el('ul', { class: 'sources' }, (sources || []).map((s) => el('li', {},
    link(s.url, s.outlet),
    s.published_at ? el('span', { class: 'muted' }, ` (${fmtTime(s.published_at)})`) : null)));
}

// uniqueSources joins the sources of several reports, each outlet and
// address once, newest report first.
function uniqueSources(reports) {
  const seen = new Set();
  const out = [];
  for (const r of reports) {
    for (const s of r.sources || []) {
      const k = `${s.outlet}\n${s.url || ''}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push(s);
      }
    }
  }
  return out;
}

// popContent describes a cell. support, once loaded, is the run of
// reports (newest first) that state the same stance and value: the quote
// may come from an earlier one, and the sources are all of theirs.
function popContent(v, cell, party, issue, support) {
  const reports = support && support.length ? support : [cell];
  const quoted = reports.find((r) => r.quote);
  const parts = [
    el('p', { class: 'pop-head' }, el('strong', {}, v.partyName(party)), ` on ${v.issueLabel(issue)}`),
    el('p', {}, el('span', { class: ['pill', `st-${cell.stance}`] }, v.stanceLabel(cell.stance)), cell.value !== undefined ? ` ${fmtValue(cell.value)}` : ''),
  ];
  if (quoted) {
    parts.push(el('blockquote', {}, `“${quoted.quote}”`));
    if (quoted.event !== cell.event) {
      parts.push(el('p', { class: 'muted small' }, 'Quoted in ', el('a', { href: `#ev-${quoted.event}` }, quoted.title || quoted.event), ` (${fmtTime(quoted.occurred_at)})`));
    }
  }
  parts.push(el('p', { class: 'pop-event' },
    `Latest: ${fmtTime(cell.occurred_at)} · ${v.typeLabel(cell.type)}: `,
    el('a', { href: `#ev-${cell.event}`, class: 'to-event' }, cell.title || cell.event)));
  if (reports.length > 1) parts.push(el('p', { class: 'muted small' }, `Stated in ${plural(reports.length, 'report')} since ${fmtTime(reports[reports.length - 1].occurred_at)}.`));
  if (cell.corrected_by) parts.push(el('p', { class: 'note' }, 'Corrected by ', el('a', { href: `#ev-${cell.corrected_by}` }, v.eventTitle(cell.corrected_by) || cell.corrected_by), '.'));
  if (cell.disputed && cell.claims) {
    parts.push(el('p', { class: 'note' }, el('strong', {}, 'Disputed: '), 'reports of the same time disagree.'));
    parts.push(el('ul', { class: 'claims' }, cell.claims.map((c) => el('li', {},
      `${v.stanceLabel(c.stance)}${c.value !== undefined ? ' ' + fmtValue(c.value) : ''} — `,
      el('a', { href: `#ev-${c.event}` }, c.title || c.event),
      ` (${(c.sources || []).map((s) => s.outlet).join(', ')})`))));
  }
  const sources = uniqueSources(reports);
  const outlets = new Set(sources.map((x) => x.outlet)).size;
  parts.push(el('p', { class: 'pop-sources-head' }, `Sources (${plural(outlets, 'outlet')}):`));
  parts.push(sourceList(sources));
  const history = el('button', { type: 'button', class: ['btn', 'ghost', 'pop-history'] }, `History of ${v.issueLabel(issue)}`);
  history.addEventListener('click', () => {
    const opener = pop && pop.parentNode && pop.parentNode.querySelector('button.cell');
    hidePop();
    v.onHistory(issue, opener);
  });
  parts.push(history);
  return parts;
}

function place(p, td) {
  // Fixed, so that the matrix's scroll box does not clip it; below the
  // cell, or above it when there is more room there.
  const r = td.getBoundingClientRect();
  const w = Math.min(360, window.innerWidth - 16);
  p.style.width = `${w}px`;
  p.style.left = `${Math.max(8, Math.min(r.left, window.innerWidth - w - 8))}px`;
  const below = window.innerHeight - r.bottom - 12;
  const above = r.top - 12;
  const room = Math.max(below, above);
  p.style.maxHeight = `${Math.max(120, Math.min(440, room))}px`;
  const h = p.offsetHeight;
  p.style.top = `${h <= below || below >= above ? r.bottom + 4 : Math.max(8, r.top - h - 4)}px`;
}

function showPop(v, td, cell, party, issue) {
  clearTimeout(hideTimer);
  const p = popover();
  if (p.parentNode !== td) {
    p.replaceChildren(...popContent(v, cell, party, issue, null));
    td.append(p);
    if (v.support) {
      v.support(issue, party, cell).then((support) => {
        if (p.parentNode !== td || !support) return;
        p.replaceChildren(...popContent(v, cell, party, issue, support));
        place(p, td);
      }).catch(() => { /* the cell's own report stays shown */ });
    }
  }
  place(p, td);
}

// renderMatrix draws the matrix of state into root. v carries the
// vocabulary lookups, the rows and columns to show, the open history and
// the cells to highlight, and onHistory.
export function renderMatrix(root, state, v) {
  hidePop();
  const byIssue = new Map(state.issues.map((is) => [is.issue, is.positions || {}]));
  const head = el('tr', {}, el('th', { scope: 'col', class: 'corner' }, 'Issue'),
    v.columns.map((p) => el('th', { scope: 'col', title: v.partyName(p) }, v.partyShort(p))));
  const rows = v.rows.map((issue) => {
    const positions = byIssue.get(issue) || {};
    const th = el('th', { scope: 'row' },
      el('button', { type: 'button', class: 'issue', 'data-issue': issue, title: v.issueDescription(issue) },
        v.issueLabel(issue), el('span', { class: 'sr' }, ': show history')));
    th.firstChild.addEventListener('click', () => v.onHistory(issue, th.firstChild));
    const cells = v.columns.map((party) => {
      const cell = positions[party];
      if (!cell) {
        return el('td', { class: 'empty', 'data-issue': issue, 'data-party': party },
          el('span', { 'aria-hidden': 'true' }, '·'), el('span', { class: 'sr' }, `${v.partyShort(party)}: no stated position`));
      }
      const btn = el('button', {
        type: 'button', class: ['cell', `st-${cell.stance}`], 'data-issue': issue, 'data-party': party,
        'data-stance': cell.stance,
      },
      el('span', { class: 'sr' }, `${v.partyShort(party)} on ${v.issueLabel(issue)}: `),
      el('span', { class: 'stance' }, v.stanceLabel(cell.stance)),
      cell.value !== undefined ? el('span', { class: ['value', typeof cell.value === 'number' && 'num'] }, fmtValue(cell.value)) : null,
      (cell.disputed || cell.corrected_by) ? el('span', { class: 'marks' },
        cell.disputed ? el('span', { class: 'mark disputed' }, '⚑ Disputed') : null,
        cell.corrected_by ? el('span', { class: 'mark corrected' }, '✎ Corrected') : null) : null);
      const td = el('td', { class: ['pos', `st-${cell.stance}`, v.fresh.has(`${issue}/${party}`) && 'fresh'] }, btn);
      btn.addEventListener('click', (e) => {
        if (e.pointerType === 'touch' && tapped !== td) {
          showPop(v, td, cell, party, issue);
          tapped = td;
          return;
        }
        hidePop();
        v.onHistory(issue, btn);
      });
      // The cell's colour reaches below a short button: a click there is
      // the button's too.
      td.addEventListener('click', (e) => { if (e.target === td) btn.click(); });
      td.addEventListener('mouseenter', () => showPop(v, td, cell, party, issue));
      td.addEventListener('mouseleave', () => { hideTimer = setTimeout(hidePop, 250); });
      td.addEventListener('focusin', () => showPop(v, td, cell, party, issue));
      td.addEventListener('focusout', (e) => { if (!td.contains(e.relatedTarget)) hidePop(); });
      td.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' && pop && pop.parentNode === td) { hidePop(); btn.focus(); e.stopPropagation(); }
      });
      return td;
    });
    return el('tr', { class: v.history === issue && 'selected', 'data-issue': issue }, th, cells);
  });
  const table = el('table', { class: 'matrix' },
    el('caption', { class: 'sr' }, `Positions of the parties, ${v.asOf}`),
    el('thead', {}, head), el('tbody', {}, rows));
  root.replaceChildren(rows.length ? table : el('p', { class: 'muted' }, v.empty || 'No issue to show.'));
}
