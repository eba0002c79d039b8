// The timeline: one row per lineage entry, newest first, paged backwards through the API's
// `after`/`limit` window, filtered by kind. A filter scans older entries in bounded chunks.

import { api, objectPath } from './api.js';
import { clear, h, json, shortDigest, when } from './dom.js';

export const PAGE = 10;
const CHUNK = 100;
const MAX_SCAN = 500; // entries one page of a filtered view reads at most

export const FILTERS = {
  all: ['All entries', () => true],
  command: ['Commands', (e) => e.kind === 'command'],
  cycle: ['Cycles', (e) => e.kind === 'cycle'],
  denied: ['Denials', (e) => e.kind === 'denied' || (e.denied || []).length > 0],
  errors: ['Errors', (e) => (e.errors || []).length > 0],
  policy: ['Policy (created, amended)', (e) => e.kind === 'created' || e.kind === 'policy'],
  transition: ['Workflow transitions', (e) => e.kind === 'transition'],
  transfer: ['Export and import', (e) => e.kind === 'export' || e.kind === 'import'],
};

/** Entries with seq < `before`, newest first, that pass `filter`: {entries, next, scanned}. */
export async function collect(id, { before, filter }) {
  const keep = (FILTERS[filter] || FILTERS.all)[1];
  const entries = [];
  let upper = before; // exclusive
  let scanned = 0;
  while (upper > 1 && entries.length < PAGE && scanned < MAX_SCAN) {
    const want = filter === 'all' ? PAGE - entries.length : CHUNK;
    const after = Math.max(0, upper - 1 - want);
    const page = await api(`${objectPath(id)}/lineage?after=${after}&limit=${upper - 1 - after}`);
    const chunk = page.entries.slice().reverse();
    for (const entry of chunk) {
      scanned += 1;
      if (keep(entry)) entries.push(entry);
      if (entries.length === PAGE) return { entries, next: entry.seq, scanned };
    }
    upper = after + 1;
  }
  return { entries, next: upper, scanned };
}

function who(entry) {
  const w = entry.who || {};
  if (w.sub || w.iss) return `${w.sub ?? '?'} · ${w.iss ?? '?'}`;
  if (w.reminder) return `reminder ${w.reminder}`;
  const keys = Object.keys(w);
  return keys.length ? json(w) : '—';
}

function diff(changes) {
  return h('pre', { class: 'diff', 'aria-label': 'Changes to the data' }, changes.map((c) => (c.op === 'unset'
    ? h('span', { class: 'del' }, `- ${c.path}\n`)
    : h('span', { class: 'add' }, `+ ${c.path} = ${json(c.value)}\n`))));
}

function section(title, items, render) {
  if (!items || !items.length) return null;
  return h('div', { class: 'entry-part' }, h('h4', {}, title), h('ul', {}, items.map((item) => h('li', {}, render(item)))));
}

function denial(d) {
  const where = d.rule ? `rule ${d.rule}` : d.command ? `command ${d.command}` : d.transition ? `transition ${d.transition}` : null;
  const rest = Object.entries(d).filter(([k]) => !['reason', 'rule', 'command', 'transition'].includes(k));
  return [where ? h('strong', {}, `${where}: `) : null, h('span', { class: 'reason' }, String(d.reason ?? 'denied')),
    rest.length ? h('span', { class: 'muted' }, ` (${rest.map(([k, v]) => `${k} ${typeof v === 'string' ? v : json(v)}`).join(', ')})`) : null];
}

function effect(e) {
  const target = e.topic ? `${e.pubsub ?? 'pubsub'}/${e.topic}` : e.name ? `${e.name} ${e.operation ?? ''}` : e.app_id ? `${e.app_id}/${e.method}` : '';
  return [h('strong', {}, `${e.kind} `), h('code', {}, target), e.data !== undefined ? h('span', { class: 'muted' }, ` ${json(e.data)}`) : null];
}

function error(e) {
  const where = e.rule ? `rule ${e.rule}` : e.command ? `command ${e.command}` : '';
  return [where ? h('strong', {}, `${where}: `) : null, String(e.error ?? json(e)), e.expression ? h('code', { class: 'muted' }, ` ${e.expression}`) : null];
}

export function entryRow(entry, { policy, versions, firstBad }) {
  const current = entry.policy === policy.digest;
  const known = (versions || []).find((v) => v.digest === entry.policy);
  const bad = firstBad !== null && firstBad !== undefined && entry.seq === firstBad;
  const extra = entry.extra ? Object.entries(entry.extra) : [];
  if (entry.inputs?.params && Object.keys(entry.inputs.params).length) extra.push(['params', entry.inputs.params]);
  return h('li', { class: `entry kind-${entry.kind}${bad ? ' first-bad' : ''}`, id: `entry-${entry.seq}`, dataset: { seq: entry.seq, kind: entry.kind } },
    h('div', { class: 'entry-head' },
      h('span', { class: 'seq' }, `#${entry.seq}`),
      h('span', { class: `kind badge-${entry.kind}` }, entry.kind),
      bad ? h('strong', { class: 'bad-flag' }, 'first bad entry') : null,
      h('span', { class: 'who' }, who(entry)),
      h('time', { datetime: entry.time }, when(entry.time)),
      h('span', { class: 'policy-ref', title: entry.policy }, current ? `policy v${policy.version}` : known ? `policy v${known.version} (earlier)` : `policy ${shortDigest(entry.policy)}`)),
    extra.length ? h('p', { class: 'extra' }, extra.map(([k, v]) => h('span', { class: 'chip' }, `${k}: ${typeof v === 'string' ? v : json(v)}`))) : null,
    entry.changes?.length ? diff(entry.changes) : null,
    section('Effects', entry.effects, effect),
    section('Denied', entry.denied, denial),
    section('Errors', entry.errors, error));
}

/** The timeline section; `update(length)` re-reads page one when the lineage grew. */
export function timeline(id, { getPolicy, getVersions, getFirstBad }) {
  const state = { filter: 'all', before: null, newer: [], length: 0 };
  const select = h('select', { id: 'timeline-filter', name: 'filter' },
    Object.entries(FILTERS).map(([key, [label]]) => h('option', { value: key }, label)));
  const listing = h('ol', { class: 'timeline', reversed: true, 'aria-live': 'polite', 'aria-busy': 'false' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of the timeline' });
  const info = h('p', { class: 'hint' });
  let generation = 0;

  async function load() {
    const mine = ++generation;
    listing.setAttribute('aria-busy', 'true');
    const before = state.before ?? state.length + 1;
    let page;
    try {
      page = await collect(id, { before, filter: state.filter });
    } catch (problem) {
      if (mine !== generation) return;
      clear(listing).append(h('li', { class: 'error', role: 'alert' }, `Could not read the lineage: ${problem.message}`));
      listing.setAttribute('aria-busy', 'false');
      return;
    }
    if (mine !== generation) return;
    clear(listing);
    listing.setAttribute('aria-busy', 'false');
    const context = { policy: getPolicy(), versions: getVersions(), firstBad: getFirstBad() };
    for (const entry of page.entries) listing.append(entryRow(entry, context));
    if (!page.entries.length) listing.append(h('li', { class: 'empty' }, 'No entry matches on this page.'));
    info.textContent = `${state.length} entries in all; showing ${page.entries.length}` +
      (state.filter === 'all' ? '' : ` (${page.scanned} read)`) + '.';
    clear(pager);
    if (state.newer.length) {
      pager.append(h('button', { type: 'button', class: 'secondary', id: 'timeline-newer', onclick: () => {
        state.before = state.newer.pop();
        load();
      } }, '← Newer'));
    }
    if (page.next > 1) {
      pager.append(h('button', { type: 'button', class: 'secondary', id: 'timeline-older', onclick: () => {
        state.newer.push(state.before);
        state.before = page.next;
        load();
      } }, 'Older →'));
    }
  }

  select.addEventListener('change', () => {
    state.filter = select.value;
    state.before = null;
    state.newer = [];
    load();
  });

  const element = h('section', { class: 'card timeline-card', 'aria-labelledby': 'timeline-title' },
    h('div', { class: 'section-head' },
      h('h2', { id: 'timeline-title' }, 'Timeline'),
      h('div', { class: 'filter' }, h('label', { for: 'timeline-filter' }, 'Show'), select)),
    info, listing, pager);

  return {
    element,
    /** The lineage now has `length` entries: re-read when showing the newest page. */
    update(length, { force = false } = {}) {
      const grew = length !== state.length;
      state.length = length;
      if (force || (grew && state.before === null)) return load();
      return Promise.resolve();
    },
    /** Show the page that starts at entry `seq` (verification's first bad entry). */
    jumpTo(seq) {
      state.filter = 'all';
      select.value = 'all';
      state.newer = state.before === null ? [null] : [...state.newer, state.before];
      state.before = Math.min(seq + 1, state.length + 1);
      return load().then(() => document.getElementById(`entry-${seq}`)?.scrollIntoView({ block: 'center' }));
    },
    reload: () => load(),
  };
}
