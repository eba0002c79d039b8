// The policy panel: who signed it, which version, its digest, what it may do (capabilities),
// how this host narrows that, and the document itself as YAML.

import { h } from './dom.js';

function list(items) {
  if (items === null || items === undefined) return h('span', { class: 'muted' }, 'no host restriction');
  if (!items.length) return h('span', { class: 'muted' }, 'none');
  return items.map((item, i) => [i ? ', ' : '', h('code', {}, String(item))]);
}

function withheld(policyItems, effectiveItems) {
  const kept = new Set(effectiveItems);
  const lost = policyItems.filter((item) => !kept.has(item));
  return lost.length ? h('span', { class: 'bad' }, 'withheld by host: ', list(lost)) : h('span', { class: 'muted' }, '—');
}

export function policyPanel(view) {
  const p = view.policy;
  const caps = view.capabilities;
  const eff = view.effective;
  const limits = view.host_limits;
  const expires = p.claims?.exp ? new Date(p.claims.exp * 1000).toISOString() : 'never';
  const rows = [
    ['write', caps.write, eff.write, null],
    ['publish', caps.publish, eff.publish, limits.publish],
    ['bindings', caps.bindings, eff.bindings, limits.bindings],
    ['services', caps.services, eff.services, limits.services],
  ];
  return h('div', { class: 'policy' },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Policy'), h('dd', {}, h('code', {}, p.id), ` version ${p.version}`),
      h('dt', {}, 'Issuer'), h('dd', {}, h('code', {}, p.issuer)),
      h('dt', {}, 'Digest'), h('dd', { class: 'digest' }, h('code', {}, p.digest)),
      h('dt', {}, 'Expires'), h('dd', {}, expires),
      h('dt', {}, 'Period'), h('dd', {}, `${eff.period_s}s`, limits.min_period_s ? h('span', { class: 'muted' }, ` (host minimum ${limits.min_period_s}s)`) : null),
      h('dt', {}, 'Max actions'), h('dd', {}, String(eff.max_actions), limits.max_actions !== null ? h('span', { class: 'muted' }, ` (host cap ${limits.max_actions})`) : null)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'caps' },
      h('caption', {}, 'Capabilities: the policy\'s, the host\'s limits, and what takes effect'),
      h('thead', {}, h('tr', {}, ['Kind', 'Policy', 'Host allows', 'Withheld'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map(([kind, policyItems, effective, hostItems]) => h('tr', {},
        h('th', { scope: 'row' }, kind),
        h('td', {}, list(policyItems)),
        h('td', {}, kind === 'write' ? h('span', { class: 'muted' }, 'n/a') : list(hostItems)),
        h('td', {}, withheld(policyItems, effective))))))),
    h('details', { class: 'yaml' },
      h('summary', {}, 'Policy document (YAML)'),
      h('pre', { tabindex: 0, 'aria-label': 'Policy document as YAML' }, h('code', {}, p.yaml))));
}
