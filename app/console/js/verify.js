// Lineage verification by the host (`GET /objects/{id}/lineage/verify`: chain, entry
// signatures, replay). Hosts without that route answer null, so views say "n/a".

import { api, objectPath } from './api.js';

let routes = null; // the API's paths, read once from its OpenAPI document

async function hostRoutes() {
  if (!routes) {
    routes = fetch('/openapi.json', { cache: 'no-store', credentials: 'omit' })
      .then((response) => (response.ok ? response.json() : { paths: {} }))
      .then((spec) => new Set(Object.keys(spec.paths || {})))
      .catch(() => new Set());
  }
  return routes;
}

export async function hostHas(path) {
  return (await hostRoutes()).has(path);
}

const queue = [];
let running = 0;
const CONCURRENT = 3; // a listing page checks its rows a few at a time, not all at once

function drain() {
  while (running < CONCURRENT && queue.length) {
    const { id, resolve, reject } = queue.shift();
    running += 1;
    api(`${objectPath(id)}/lineage/verify`).then(resolve, reject).finally(() => {
      running -= 1;
      drain();
    });
  }
}

/** The host's verification report for the object, or null when the host cannot verify. */
export async function verifyLineage(id) {
  if (!(await hostHas('/objects/{object_id}/lineage/verify'))) return null;
  return new Promise((resolve, reject) => {
    queue.push({ id, resolve, reject });
    drain();
  });
}
