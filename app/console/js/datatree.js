// Object data as a collapsible tree: objects and arrays are <details> (keyboard-operable by
// default), scalars are typed, coloured text.

import { h } from './dom.js';

function scalar(value) {
  if (value === null) return h('span', { class: 'v-null' }, 'null');
  if (typeof value === 'string') return h('span', { class: 'v-string' }, JSON.stringify(value));
  if (typeof value === 'number') return h('span', { class: 'v-number' }, String(value));
  if (typeof value === 'boolean') return h('span', { class: 'v-bool' }, String(value));
  return h('span', {}, JSON.stringify(value));
}

function node(key, value, depth) {
  const label = key === null ? null : h('span', { class: 'k' }, `${key}: `);
  if (value === null || typeof value !== 'object') {
    return h('li', {}, label, scalar(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return h('li', {},
    h('details', { open: depth < 2 },
      h('summary', {}, label, h('span', { class: 'muted' }, summary)),
      h('ul', { class: 'tree' }, entries.map(([k, v]) => node(k, v, depth + 1)))));
}

export function dataTree(data) {
  return h('ul', { class: 'tree root' }, Object.entries(data || {}).map(([k, v]) => node(k, v, 0)));
}
