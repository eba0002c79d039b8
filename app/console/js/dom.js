// Building DOM nodes from data. Everything the API returns is hostile text: it only ever
// reaches the page through textContent and attribute setters, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

/** A short, readable moment: "2026-12-02 12:01:07Z" (the API's times are UTC). */
export function when(text) {
  if (!text) return '—';
  return String(text).replace('T', ' ').replace(/\.\d+/, '');
}

export function shortDigest(digest) {
  const text = String(digest || '');
  return text.startsWith('sha256:') ? text.slice(7, 19) : text.slice(0, 12);
}

export function json(value) {
  return JSON.stringify(value);
}

/** Say `text` to screen readers through the page's polite status region. */
export function announce(text) {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = '';
  setTimeout(() => {
    status.textContent = text;
  }, 50);
}
