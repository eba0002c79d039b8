// The workflow as an SVG diagram: states in layers by distance from the initial state, one
// arrow per transition (labelled with its event or timeout), the current state highlighted.

import { h, svg } from './dom.js';

const BOX_W = 150;
const BOX_H = 40;
const GAP_X = 140; // room for a transition's label between two columns
const GAP_Y = 44;

function layers(workflow) {
  const depth = new Map([[workflow.initial, 0]]);
  const queue = [workflow.initial];
  while (queue.length) {
    const name = queue.shift();
    for (const t of workflow.states[name]?.transitions || []) {
      if (!depth.has(t.to) && workflow.states[t.to]) {
        depth.set(t.to, depth.get(name) + 1);
        queue.push(t.to);
      }
    }
  }
  let last = Math.max(0, ...depth.values());
  for (const name of Object.keys(workflow.states)) if (!depth.has(name)) depth.set(name, ++last);
  const columns = [];
  for (const [name, d] of depth) (columns[d] ||= []).push(name);
  return columns.filter(Boolean);
}

function label(t) {
  if (t.on) return t.on;
  if (t.after) return `after ${t.after}`;
  return 'when';
}

export function workflowDiagram(workflow, current) {
  const columns = layers(workflow);
  const rows = Math.max(...columns.map((c) => c.length));
  const width = columns.length * (BOX_W + GAP_X) - GAP_X + 20;
  const height = rows * (BOX_H + GAP_Y) - GAP_Y + 20;
  const at = new Map();
  columns.forEach((names, x) => names.forEach((name, y) => {
    at.set(name, { x: 10 + x * (BOX_W + GAP_X), y: 10 + y * (BOX_H + GAP_Y) });
  }));
  const edges = [];
  for (const [name, state] of Object.entries(workflow.states)) {
    for (const t of state.transitions) {
      const a = at.get(name);
      const b = at.get(t.to);
      if (!a || !b) continue;
      const forward = b.x > a.x;
      const x1 = forward ? a.x + BOX_W : a.x + BOX_W / 2;
      const y1 = forward ? a.y + BOX_H / 2 : a.y + BOX_H;
      const x2 = forward ? b.x : b.x + BOX_W / 2;
      const y2 = forward ? b.y + BOX_H / 2 : b.y + BOX_H;
      const bend = forward ? (x1 + x2) / 2 : Math.max(y1, y2) + GAP_Y / 1.5;
      const d = forward
        ? `M${x1},${y1} C${bend},${y1} ${bend},${y2} ${x2},${y2}`
        : `M${x1},${y1} C${x1},${bend} ${x2},${bend} ${x2},${y2}`;
      edges.push(svg('g', { class: 'edge' },
        svg('path', { d, 'marker-end': 'url(#arrow)' }),
        svg('text', { x: (x1 + x2) / 2, y: forward ? (y1 + y2) / 2 - 6 : bend - 4, 'text-anchor': 'middle' }, label(t))));
    }
  }
  const nodes = [...at].map(([name, p]) => {
    const state = workflow.states[name];
    const classes = ['state', name === current ? 'current' : '', state.terminal ? 'terminal' : '',
      name === workflow.initial ? 'initial' : ''].filter(Boolean).join(' ');
    return svg('g', { class: classes, 'data-state': name },
      svg('title', {}, `${name}${name === current ? ' (current state)' : ''}${state.terminal ? ', terminal' : ''}`),
      svg('rect', { x: p.x, y: p.y, width: BOX_W, height: BOX_H, rx: 8 }),
      svg('text', { x: p.x + BOX_W / 2, y: p.y + BOX_H / 2 + 5, 'text-anchor': 'middle' }, name));
  });
  const figure = svg('svg', {
    viewBox: `0 0 ${width} ${height + 20}`, width, class: 'diagram', role: 'img',
    'aria-label': `Workflow with ${Object.keys(workflow.states).length} states; current state: ${current ?? 'none'}`,
  },
  svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z' }))),
  ...edges, ...nodes);
  return h('div', { class: 'diagram-wrap' }, figure,
    h('p', { class: 'hint' }, 'Current state: ', h('strong', { class: 'current-state' }, current ?? 'none')));
}
