// Sign-in: paste a caller JWT, or (only when `resident dev` serves) take the dev token.

import { ApiProblem, session } from './api.js';
import { h } from './dom.js';

async function devSignInAvailable() {
  try {
    const response = await fetch('/console/config.json', { cache: 'no-store', credentials: 'omit' });
    return response.ok && (await response.json()).dev_signin === true;
  } catch {
    return false;
  }
}

async function checkToken() {
  // Any authenticated read proves the host accepts the token; the listing is the cheapest.
  const response = await fetch('/objects?limit=1', {
    headers: { authorization: `Bearer ${session.token()}` }, cache: 'no-store', credentials: 'omit',
  });
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new ApiProblem(response.status, body);
  }
}

export function renderSignIn(main, { reason, onSignedIn }) {
  const error = h('p', { class: 'error', id: 'signin-error', role: 'alert' });
  const field = h('textarea', {
    id: 'token', name: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off',
    'aria-describedby': 'token-help signin-error',
  });
  async function accept(token) {
    error.textContent = '';
    session.signIn(token);
    try {
      await checkToken();
    } catch (problem) {
      session.signOut();
      error.textContent = `The host refused this token: ${problem.message}`;
      field.focus();
      return;
    }
    onSignedIn();
  }
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title',
    onsubmit: (event) => { event.preventDefault(); if (field.value.trim()) accept(field.value); } },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    reason ? h('p', { class: 'error' }, `Signed out: ${reason}`) : null,
    h('label', { for: 'token' }, 'Caller token (JWT)'),
    field,
    h('p', { id: 'token-help', class: 'hint' },
      'Paste a token from an issuer this host trusts (for example from `resident token`). ',
      'It is kept in this tab only (sessionStorage) and sent to this host\'s API, nowhere else. ',
      'You see exactly what the token\'s caller may read.'),
    error,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Sign in')),
  );
  main.append(form);
  devSignInAvailable().then((available) => {
    if (!available) return;
    form.querySelector('.row').append(h('button', {
      type: 'button', class: 'secondary', id: 'dev-signin',
      onclick: async () => {
        const response = await fetch('/console/dev-token', { method: 'POST', cache: 'no-store' });
        if (!response.ok) { error.textContent = 'The dev sign-in answers only on loopback.'; return; }
        accept((await response.json()).token);
      },
    }, 'Dev sign-in (resident dev)'));
  });
  field.focus();
}
