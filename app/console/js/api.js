// The one way the console talks to the host: its public HTTP API, with the signed-in
// caller's bearer token. The token lives in sessionStorage only (gone with the tab).

const KEY = 'resident.token';

export const session = {
  token() {
    return sessionStorage.getItem(KEY);
  },
  signIn(token) {
    sessionStorage.setItem(KEY, token.trim());
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
  /** The token's claims, decoded for display only: the host is what verifies them. */
  claims() {
    const token = this.token();
    if (!token) return null;
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const text = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
      const claims = JSON.parse(text);
      return claims && typeof claims === 'object' ? claims : null;
    } catch {
      return null;
    }
  },
};

/** A refusal from the host (problem+json): `code` and `detail` as the API sent them. */
export class ApiProblem extends Error {
  constructor(status, body) {
    const code = (body && body.code) || `http_${status}`;
    const detail = (body && (body.detail || body.message)) || `the host answered ${status}`;
    super(`${code}: ${detail}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body;
  }
}

export function objectPath(id) {
  return `/objects/${encodeURIComponent(id)}`;
}

const validators = new Map(); // path -> {etag, body}: conditional GETs for polling

async function problemOf(response) {
  try {
    return new ApiProblem(response.status, await response.json());
  } catch {
    return new ApiProblem(response.status, null);
  }
}

/**
 * Call the API. `conditional: true` sends If-None-Match with the last ETag of this path and
 * answers {body, changed}; otherwise the parsed JSON body. Refusals throw ApiProblem; a 401
 * also tells the app (event `resident:unauthenticated`) so it can ask for a token again.
 */
export async function api(path, { method = 'GET', json, body, headers = {}, conditional = false } = {}) {
  const token = session.token();
  const sent = { ...headers };
  if (token) sent.authorization = `Bearer ${token}`;
  if (json !== undefined) {
    sent['content-type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const cached = conditional ? validators.get(path) : undefined;
  if (cached) sent['if-none-match'] = cached.etag;
  const response = await fetch(path, { method, headers: sent, body, cache: 'no-store', credentials: 'omit' });
  if (response.status === 304 && cached) return { body: cached.body, changed: false };
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401) window.dispatchEvent(new CustomEvent('resident:unauthenticated', { detail: problem }));
    throw problem;
  }
  const parsed = response.status === 204 ? null : await response.json();
  if (!conditional) return parsed;
  const etag = response.headers.get('etag');
  if (etag) validators.set(path, { etag, body: parsed });
  return { body: parsed, changed: true };
}

export function forget() {
  validators.clear();
}
