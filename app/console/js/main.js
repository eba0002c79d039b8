// The console's shell: sign-in, the header, and a hash router between the two views.

import { forget, session } from './api.js';
import { append, clear, h } from './dom.js';
import { renderObjects } from './objects.js';
import { renderObject } from './object.js';
import { renderSignIn } from './signin.js';

const main = document.getElementById('main');
let teardown = null; // the current view's clean-up (stops its polling)

function renderSession() {
  const nav = clear(document.getElementById('session'));
  const claims = session.claims();
  if (!session.token()) return;
  const who = claims ? `${claims.sub ?? '?'} · ${claims.iss ?? '?'}` : 'signed in';
  append(nav, [
    h('span', { class: 'who', title: 'The token\'s subject and issuer (the host verifies them)' }, who),
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'),
  ]);
}

function signOut() {
  session.signOut();
  forget();
  location.hash = '#/signin';
  route();
}

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/objects';
  const [path, query = ''] = hash.split('?');
  return { path, params: new URLSearchParams(query) };
}

export function route() {
  if (teardown) teardown();
  teardown = null;
  renderSession();
  clear(main);
  if (!session.token()) {
    renderSignIn(main, { onSignedIn: () => {
      if (location.hash.startsWith('#/signin') || !location.hash) location.hash = '#/objects';
      route();
    } });
    return;
  }
  const { path, params } = parseHash();
  const object = path.match(/^\/objects\/(.+)$/);
  if (object) {
    teardown = renderObject(main, decodeURIComponent(object[1]), params);
  } else {
    teardown = renderObjects(main, params);
  }
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
window.addEventListener('resident:unauthenticated', (event) => {
  // An expired or refused token: ask for another, saying why.
  session.signOut();
  forget();
  if (teardown) teardown();
  teardown = null;
  renderSession();
  clear(main);
  renderSignIn(main, { reason: event.detail?.detail, onSignedIn: route });
});
route();
