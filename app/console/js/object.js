// One object: summary, data, policy, workflow, actions, timeline and verification, kept
// fresh by polling the object with its ETag (a 304 costs nothing) while the tab is visible.

import { api, objectPath } from './api.js';
import { actionsCard } from './actions.js';
import { announce, clear, h, when } from './dom.js';
import { dataTree } from './datatree.js';
import { workflowDiagram } from './diagram.js';
import { policyPanel } from './policy.js';
import { timeline } from './timeline.js';
import { verifyLineage } from './verify.js';

const POLL_MS = 2000;

function summaryFacts(object) {
  return h('dl', { class: 'facts summary' },
    h('dt', {}, 'Status'), h('dd', {}, h('span', { class: `status status-${object.status}`, id: 'object-status' }, object.status)),
    h('dt', {}, 'Policy'), h('dd', {}, `${object.policy.id} v${object.policy.version}`),
    h('dt', {}, 'Cycles'), h('dd', {}, String(object.cycles)),
    h('dt', {}, 'Last cycle'), h('dd', {}, when(object.last_cycle_at)),
    h('dt', {}, 'Lineage'), h('dd', { id: 'lineage-length' }, `${object.lineage.length} entries`),
    h('dt', {}, 'Outbox'), h('dd', {}, String(object.outbox)));
}

function part(name, report) {
  if (!report) return null;
  const bad = report.first_bad;
  const extra = report.unknown_signers?.length ? ` · unknown signers: ${report.unknown_signers.join(', ')}` : '';
  const replay = report.replayable === false ? ' · not replayable' : '';
  return h('li', { class: report.ok ? 'ok' : 'bad' }, h('strong', {}, `${name}: `),
    report.ok ? 'ok' : 'FAILS', report.length !== undefined ? ` · ${report.length} entries` : '',
    bad ? ` · first bad entry #${bad}` : '', report.reason ? ` · ${report.reason}` : '', extra, replay);
}

function firstBadOf(report) {
  if (!report) return null;
  const seqs = [report.chain, report.signatures, report.replay].map((r) => r?.first_bad).filter((s) => typeof s === 'number');
  return seqs.length ? Math.min(...seqs) : null;
}

export function renderObject(main, id, params) {
  let live = true;
  let timer = null;
  let policyView = null;
  let verified = null;
  const heading = h('h1', {}, h('span', { class: 'muted' }, 'Object '), h('code', {}, id));
  const back = h('a', { href: '#/objects', class: 'back' }, '← All objects');
  const summary = h('div', { class: 'summary-slot' });
  const dataCard = h('section', { class: 'card', 'aria-labelledby': 'data-title' }, h('h2', { id: 'data-title' }, 'Data'), h('div', { class: 'data-slot' }));
  const workflowCard = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'workflow-title' }, h('h2', { id: 'workflow-title' }, 'Workflow'), h('div', { class: 'workflow-slot' }));
  const policyCard = h('section', { class: 'card', 'aria-labelledby': 'policy-title' }, h('h2', { id: 'policy-title' }, 'Policy'), h('div', { class: 'policy-slot' }, h('p', { class: 'muted' }, 'Loading…')));
  const actionsSlot = h('div', { class: 'actions-slot' });
  const verifyOut = h('div', { class: 'verify-out', id: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const liveNote = h('span', { class: 'live', id: 'live' }, 'live');
  const line = timeline(id, { getPolicy: () => policyView?.policy ?? { digest: '' }, getVersions: () => policyView?.versions ?? [], getFirstBad: () => firstBadOf(verified) });

  async function verify() {
    verifyOut.textContent = 'Verifying…';
    try {
      const report = await verifyLineage(id);
      if (report === null) {
        clear(verifyOut).append(h('p', { class: 'muted' }, 'This host has no lineage verification endpoint.'));
        return;
      }
      verified = report;
      const bad = firstBadOf(report);
      clear(verifyOut).append(h('div', { class: report.ok ? 'result verified' : 'result failed' },
        h('h3', {}, report.ok ? '✓ Lineage verifies' : '✗ Lineage does not verify'),
        h('ul', {}, part('Chain', report.chain), part('Signatures', report.signatures), part('Replay', report.replay)),
        bad ? h('button', { type: 'button', class: 'secondary', onclick: () => line.jumpTo(bad) }, `Show entry #${bad}`) : null));
      announce(report.ok ? 'Lineage verifies' : `Lineage does not verify; first bad entry ${bad ?? 'unknown'}`);
      if (bad) await line.jumpTo(bad);
      else await line.reload();
    } catch (problem) {
      clear(verifyOut).append(h('p', { class: 'error', role: 'alert' }, `Verification refused: ${problem.message}`));
    }
  }

  const toolbar = h('div', { class: 'row toolbar' },
    h('button', { type: 'button', id: 'verify', onclick: verify }, 'Verify lineage'), liveNote);

  main.append(back, heading, toolbar, verifyOut, summary,
    h('div', { class: 'grid' },
      h('div', { class: 'col' }, dataCard, workflowCard, policyCard),
      h('div', { class: 'col' }, actionsSlot, line.element)));

  let lastSeen = null;
  let queue = Promise.resolve();
  // One refresh at a time: a poll and an action's follow-up never render over each other.
  function refresh(options) {
    queue = queue.then(() => reread(options));
    return queue;
  }

  async function reread({ force = false } = {}) {
    let object;
    let changed;
    try {
      ({ body: object, changed } = await api(objectPath(id), { conditional: true }));
    } catch (problem) {
      if (!live) return;
      clear(summary).append(h('p', { class: 'error', role: 'alert' }, problem.status === 404
        ? `No object ${id} here.`
        : `Cannot read this object: ${problem.message}`));
      liveNote.textContent = 'stopped';
      return 'stop';
    }
    if (!live || (!changed && !force && lastSeen)) return;
    const grew = lastSeen && object.lineage.length !== lastSeen.lineage.length;
    lastSeen = object;
    clear(summary).append(summaryFacts(object));
    clear(dataCard.querySelector('.data-slot')).append(dataTree(object.data));
    if (!policyView || policyView.policy.digest !== object.policy.digest) {
      policyView = (await api(`${objectPath(id)}/policy`, { conditional: true })).body;
      clear(policyCard.querySelector('.policy-slot')).append(policyPanel(policyView));
      clear(actionsSlot).append(actionsCard(id, policyView, () => refresh()));
    }
    if (policyView.workflow && object.workflow) {
      workflowCard.hidden = false;
      clear(workflowCard.querySelector('.workflow-slot')).append(workflowDiagram(policyView.workflow, object.workflow.state));
    } else {
      workflowCard.hidden = true;
    }
    await line.update(object.lineage.length, { force });
    if (grew) announce(`New lineage entries: ${object.lineage.length} in all`);
  }

  // One timer at a time, re-armed after each answer: never a busy loop, never two loops.
  let stopped = false;
  async function poll() {
    timer = null;
    if (!live || document.hidden) return; // resumed by visibilitychange
    const outcome = await refresh();
    if (outcome === 'stop') stopped = true;
    else if (live && timer === null) timer = setTimeout(poll, POLL_MS);
  }

  function onVisible() {
    if (!document.hidden && live && !stopped && timer === null) {
      timer = setTimeout(poll, 0);
    }
  }
  document.addEventListener('visibilitychange', onVisible);
  refresh({ force: true }).then((outcome) => {
    if (outcome === 'stop') stopped = true;
    else if (live) timer = setTimeout(poll, POLL_MS);
  });
  return () => {
    live = false;
    if (timer) clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
