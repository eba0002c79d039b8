// What the caller may do to the object: commands (a form per command from its declared
// params), workflow events, evaluate now, export a bundle, dry-run a candidate policy.
// Operations the policy denies this caller are not offered (the host decides again anyway).

import { api, objectPath } from './api.js';
import { clear, h, json } from './dom.js';
import { hostHas } from './verify.js';

const INPUT = { number: 'number', integer: 'number', string: 'text' };

function paramField(command, name, type) {
  const id = `cmd-${command}-${name}`;
  if (type === 'boolean') {
    return h('div', { class: 'field check' }, h('input', { id, name, type: 'checkbox', dataset: { type } }),
      h('label', { for: id }, name, h('span', { class: 'muted' }, ' (boolean)')));
  }
  const input = type in INPUT
    ? h('input', { id, name, type: INPUT[type], step: type === 'integer' ? '1' : type === 'number' ? 'any' : null, required: true, dataset: { type } })
    : h('textarea', { id, name, rows: 2, required: true, spellcheck: 'false', placeholder: type === 'array' ? '[ ]' : '{ }', dataset: { type } });
  return h('div', { class: 'field' }, h('label', { for: id }, name, h('span', { class: 'muted' }, ` (${type})`)), input);
}

/** The form's values as the declared JSON types; throws with a message naming the field. */
function readParams(form) {
  const params = {};
  for (const input of form.querySelectorAll('[data-type]')) {
    const type = input.dataset.type;
    if (type === 'boolean') params[input.name] = input.checked;
    else if (type === 'number' || type === 'integer') params[input.name] = Number(input.value);
    else if (type === 'string') params[input.name] = input.value;
    else {
      try {
        params[input.name] = JSON.parse(input.value);
      } catch {
        throw new Error(`${input.name} must be JSON (${type})`);
      }
    }
  }
  return params;
}

function outcome(output, title, body, failed = false) {
  clear(output).append(h('div', { class: failed ? 'result failed' : 'result' },
    h('h4', {}, title), body));
  output.focus();
}

function decisionView(result) {
  const parts = [];
  if ('applied' in result) parts.push(h('p', {}, result.applied ? 'Applied' : 'Not applied', result.seq ? ` · lineage entry #${result.seq}` : ''));
  if (result.result !== undefined && result.result !== null) parts.push(h('p', {}, 'Result: ', h('code', {}, json(result.result))));
  for (const d of result.denied || []) parts.push(h('p', { class: 'bad denial' }, 'Denied: ', String(d.reason ?? json(d))));
  for (const e of result.errors || []) parts.push(h('p', { class: 'bad' }, 'Error: ', String(e.error ?? json(e))));
  for (const c of result.changes || []) parts.push(h('p', {}, c.op === 'unset' ? `- ${c.path}` : `+ ${c.path} = ${json(c.value)}`));
  for (const e of result.effects || []) parts.push(h('p', {}, `effect: ${e.kind} ${e.topic ?? e.name ?? e.app_id ?? ''}`));
  if (result.skipped) parts.push(h('p', {}, `Skipped: ${result.skipped}`));
  return parts.length ? parts : h('p', {}, 'Nothing changed.');
}

function commandForm(id, name, spec, output, after) {
  const fields = Object.entries(spec.params).map(([param, type]) => paramField(name, param, type));
  const form = h('form', { class: 'command', dataset: { command: name }, 'aria-label': `Command ${name}` },
    h('fieldset', {}, h('legend', {}, h('code', {}, name)), fields.length ? fields : h('p', { class: 'muted' }, 'No params.'),
      h('button', { type: 'submit' }, `Run ${name}`)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let params;
    try {
      params = readParams(form);
    } catch (problem) {
      outcome(output, `${name}: check the form`, h('p', {}, problem.message), true);
      return;
    }
    try {
      const result = await api(`${objectPath(id)}/commands/${encodeURIComponent(name)}`, { method: 'POST', json: params });
      outcome(output, `${name}: done`, decisionView(result), (result.denied || []).length > 0);
      after();
    } catch (problem) {
      outcome(output, `${name}: refused`, h('p', { class: 'bad denial' }, problem.message), true);
    }
  });
  return form;
}

function eventForm(id, events, output, after) {
  const select = h('select', { id: 'event-name', name: 'event' }, events.map((e) => h('option', { value: e }, e)));
  const params = h('textarea', { id: 'event-params', name: 'params', rows: 2, spellcheck: 'false' }, '{}');
  const form = h('form', { class: 'command', 'aria-label': 'Workflow event' },
    h('fieldset', {}, h('legend', {}, 'Workflow event'),
      h('div', { class: 'field' }, h('label', { for: 'event-name' }, 'Event'), select),
      h('div', { class: 'field' }, h('label', { for: 'event-params' }, 'Params (JSON object)'), params),
      h('button', { type: 'submit' }, 'Send event')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse(params.value || '{}');
    } catch {
      outcome(output, 'Event: check the form', h('p', {}, 'Params must be a JSON object'), true);
      return;
    }
    try {
      const result = await api(`${objectPath(id)}/commands/${encodeURIComponent(select.value)}`, { method: 'POST', json: body });
      outcome(output, `${select.value}: sent`, decisionView(result));
      after();
    } catch (problem) {
      outcome(output, `${select.value}: refused`, h('p', { class: 'bad denial' }, problem.message), true);
    }
  });
  return form;
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const link = h('a', { href: url, download: name, class: 'visually-hidden' }, name);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function dryRunForm(id, commands, output) {
  if (!(await hostHas('/objects/{object_id}/dry-run'))) return null;
  const file = h('input', { id: 'dry-run-file', name: 'policy', type: 'file', accept: '.yaml,.yml,.json,.jws,.txt', required: true });
  const command = h('select', { id: 'dry-run-command', name: 'command' }, h('option', { value: '' }, '(no command: one cycle)'),
    Object.keys(commands).map((c) => h('option', { value: c }, c)));
  const params = h('textarea', { id: 'dry-run-params', name: 'params', rows: 2, spellcheck: 'false' }, '{}');
  const form = h('form', { class: 'command', 'aria-label': 'Dry-run a policy' },
    h('fieldset', {}, h('legend', {}, 'Dry-run a candidate policy'),
      h('div', { class: 'field' }, h('label', { for: 'dry-run-file' }, 'Policy file (signed JWS, or YAML/JSON)'), file),
      h('div', { class: 'field' }, h('label', { for: 'dry-run-command' }, 'Command'), command),
      h('div', { class: 'field' }, h('label', { for: 'dry-run-params' }, 'Params (JSON object)'), params),
      h('p', { class: 'hint' }, 'Nothing is saved: the host shows what the policy would do to this object now.'),
      h('button', { type: 'submit' }, 'Dry-run')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    if (chosen.size > 1024 * 1024) {
      outcome(output, 'Dry-run: file too large', h('p', {}, 'A policy file larger than 1 MiB is refused.'), true);
      return;
    }
    const body = { policy: await chosen.text() };
    if (command.value) {
      try {
        body.command = { name: command.value, params: JSON.parse(params.value || '{}') };
      } catch {
        outcome(output, 'Dry-run: check the form', h('p', {}, 'Params must be a JSON object'), true);
        return;
      }
    }
    try {
      const result = await api(`${objectPath(id)}/dry-run`, { method: 'POST', json: body });
      const successor = result.successor || {};
      outcome(output, `Dry-run of ${result.policy.id} v${result.policy.version} (${result.ran}): what would happen`, [
        decisionView(result),
        h('p', { class: successor.admitted ? 'ok' : 'bad' }, successor.admitted
          ? 'Installing it (signed) would be admitted for you.'
          : `Installing it would be refused: ${successor.reason}`),
        h('details', {}, h('summary', {}, 'Data afterwards'), h('pre', {}, JSON.stringify(result.data, null, 2))),
      ]);
    } catch (problem) {
      outcome(output, 'Dry-run: refused', h('p', { class: 'bad' }, problem.message), true);
    }
  });
  return form;
}

/** The actions card; `after()` is called when the object may have changed. */
export function actionsCard(id, view, after) {
  const output = h('div', { class: 'output', id: 'action-output', tabindex: -1, role: 'status', 'aria-live': 'polite' });
  const buttons = h('div', { class: 'row' });
  if (view.allowed.evaluate) {
    buttons.append(h('button', { type: 'button', id: 'evaluate', onclick: async () => {
      try {
        const result = await api(`${objectPath(id)}/evaluate`, { method: 'POST' });
        outcome(output, 'Evaluated', decisionView(result));
        after();
      } catch (problem) {
        outcome(output, 'Evaluate: refused', h('p', { class: 'bad' }, problem.message), true);
      }
    } }, 'Evaluate now'));
  }
  if (view.allowed.export) {
    buttons.append(h('button', { type: 'button', id: 'export', class: 'secondary', onclick: async () => {
      try {
        const bundle = await api(`${objectPath(id)}/export`);
        download(`${id}.bundle.json`, JSON.stringify(bundle, null, 2));
        outcome(output, 'Exported', h('p', {}, `Bundle of ${bundle.lineage.length} entries downloaded as ${id}.bundle.json (verify it with \`resident verify\`).`));
        after();
      } catch (problem) {
        outcome(output, 'Export: refused', h('p', { class: 'bad' }, problem.message), true);
      }
    } }, 'Export bundle'));
  }
  const card = h('section', { class: 'card actions', 'aria-labelledby': 'actions-title' },
    h('h2', { id: 'actions-title' }, 'Actions'), buttons,
    Object.entries(view.commands).map(([name, spec]) => commandForm(id, name, spec, output, after)),
    view.events.length && view.allowed.event ? eventForm(id, view.events, output, after) : null,
    output);
  if (view.allowed.amend) { // the host's dry-run needs the current policy's `amend`
    dryRunForm(id, view.commands, output).then((form) => form && output.before(form));
  }
  return card;
}
