// The objects listing: search by id prefix, paged with the API's cursor, one row per object
// the caller may read, and a chain check per row (the host's lineage verification).

import { api, objectPath } from './api.js';
import { clear, h, when } from './dom.js';
import { verifyLineage } from './verify.js';

const PAGE = 20;
const MAX_PAGE = 100; // the API's own cap on one listing

function chainCell(id) {
  const cell = h('td', { class: 'chain', dataset: { object: id } }, h('span', { class: 'muted' }, 'checking…'));
  verifyLineage(id).then((report) => {
    clear(cell);
    if (report === null) cell.append(h('span', { class: 'muted', title: 'This host has no lineage verification endpoint' }, 'n/a'));
    else if (report.ok) cell.append(h('span', { class: 'ok' }, '✓ verifies'));
    else {
      const bad = report.chain?.first_bad ?? report.signatures?.first_bad ?? report.replay?.first_bad;
      cell.append(h('span', { class: 'bad' }, bad ? `✗ broken at #${bad}` : '✗ fails'));
    }
  }).catch((problem) => {
    clear(cell).append(h('span', { class: 'muted', title: problem.message }, 'unknown'));
  });
  return cell;
}

function row(object) {
  const href = `#${objectPath(object.id)}`;
  return h('tr', {},
    h('th', { scope: 'row' }, h('a', { href, class: 'object-link' }, object.id)),
    h('td', {}, h('span', { class: `status status-${object.status}` }, object.status)),
    h('td', {}, `${object.policy.id} v${object.policy.version}`),
    h('td', {}, when(object.last_cycle_at)),
    h('td', { class: 'num' }, String(object.lineage.length)),
    chainCell(object.id),
  );
}

export function renderObjects(main, params) {
  const prefix = params.get('prefix') || '';
  const after = params.get('after') || '';
  const trail = (params.get('trail') || '').split(',').filter(Boolean); // earlier cursors, for Previous
  const size = Math.min(MAX_PAGE, Math.max(1, Number.parseInt(params.get('limit') || '', 10) || PAGE));
  const search = h('input', { id: 'prefix', name: 'prefix', type: 'search', value: prefix, autocomplete: 'off', 'aria-describedby': 'prefix-help' });
  const list = h('div', { class: 'listing', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(
    h('h1', {}, 'Objects'),
    h('form', { class: 'search', role: 'search', onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#/objects?prefix=${encodeURIComponent(search.value.trim())}`;
    } },
    h('label', { for: 'prefix' }, 'Object id prefix'),
    search,
    h('button', { type: 'submit' }, 'Search'),
    h('p', { id: 'prefix-help', class: 'hint' }, 'Only objects whose policy lets you read them are listed.')),
    list,
  );
  let live = true;
  const query = new URLSearchParams({ limit: String(size) });
  if (prefix) query.set('prefix', prefix);
  if (after) query.set('after', after);
  api(`/objects?${query}`).then((page) => {
    if (!live) return;
    clear(list).setAttribute('aria-busy', 'false');
    if (!page.objects.length) {
      list.append(h('p', { class: 'empty' }, prefix ? `No object you may read starts with “${prefix}”.` : 'No object you may read on this page.'));
    } else {
      list.append(h('div', { class: 'table-wrap' }, h('table', { class: 'objects' },
        h('caption', { class: 'visually-hidden' }, 'Objects you may read'),
        h('thead', {}, h('tr', {},
          ['Id', 'Status', 'Policy', 'Last cycle', 'Lineage', 'Chain'].map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', {}, page.objects.map(row)))));
    }
    const nav = h('nav', { class: 'pager', 'aria-label': 'Pages of objects' });
    const base = `#/objects?prefix=${encodeURIComponent(prefix)}${size === PAGE ? '' : `&limit=${size}`}`;
    if (after) {
      const previous = trail.slice(0, -1);
      const back = trail.length ? trail[trail.length - 1] : '';
      nav.append(h('a', { class: 'button secondary', href: `${base}&after=${encodeURIComponent(back === '-' ? '' : back)}&trail=${encodeURIComponent(previous.join(','))}` }, '← Previous'));
    }
    if (page.next) {
      const next = [...trail, after || '-'].join(',');
      nav.append(h('a', { class: 'button secondary', href: `${base}&after=${encodeURIComponent(page.next)}&trail=${encodeURIComponent(next)}` }, 'Next →'));
    }
    list.append(nav);
  }).catch((problem) => {
    if (!live) return;
    clear(list).append(h('p', { class: 'error', role: 'alert' }, `Could not list objects: ${problem.message}`));
  });
  search.focus();
  return () => { live = false; };
}
