// board.js - the session's grid: tokens of state.currentEncounter.tokens
// ({id, actorId, name?, x, y} in whole cells), placed by percentage so the
// board scales with the window. A token the user may move is dragged with
// pointer events; on drop, onMove(token, x, y) is called (the app sends
// token:move, shows the move at once and rolls it back on error).
import { h } from './dom.js';

export const COLS = 16;
export const ROWS = 10;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/**
 * board(el, {canMove(token), label(token), onMove(token, x, y)})
 * Returns {render(tokens, overrides)}: overrides is a Map tokenId -> {x, y}
 * of moves not yet confirmed.
 */
export function board(el, { canMove, label, onMove }) {
  let dragging = null;   // {id, pointerId} while a drag runs (render skips that token's position)

  function place(node, x, y) {
    node.style.left = `${(x * 100) / COLS}%`;   // CSSOM, allowed by the CSP
    node.style.top = `${(y * 100) / ROWS}%`;
  }

  function cellAt(ev) {
    const r = el.getBoundingClientRect();
    return {
      x: clamp(Math.floor(((ev.clientX - r.left) / r.width) * COLS), 0, COLS - 1),
      y: clamp(Math.floor(((ev.clientY - r.top) / r.height) * ROWS), 0, ROWS - 1),
    };
  }

  // Pointer events (the browser's event loop).
  function startDrag(ev, node, token) {
    if (ev.button !== 0 || dragging) return;
    ev.preventDefault();
    node.setPointerCapture(ev.pointerId);
    dragging = { id: token.id, pointerId: ev.pointerId };
    node.classList.add('dragging');
    const r = el.getBoundingClientRect();
    const move = (e) => {
      const fx = ((e.clientX - r.left) / r.width) * COLS - 0.5;
      const fy = ((e.clientY - r.top) / r.height) * ROWS - 0.5;
      place(node, clamp(fx, 0, COLS - 1), clamp(fy, 0, ROWS - 1));
    };
    const end = (e) => {
      node.removeEventListener('pointermove', move);
      node.removeEventListener('pointerup', end);
      node.removeEventListener('pointercancel', end);
      node.classList.remove('dragging');
      dragging = null;
      const to = cellAt(e);
      if (e.type === 'pointerup' && (to.x !== token.x || to.y !== token.y)) onMove(token, to.x, to.y);
      else place(node, token.x, token.y);
    };
    node.addEventListener('pointermove', move);
    node.addEventListener('pointerup', end);
    node.addEventListener('pointercancel', end);
  }

  function render(tokens, overrides = new Map()) {
    const seen = new Set();
    for (const t of Array.isArray(tokens) ? tokens : []) {
      if (!t || typeof t.id !== 'string') continue;
      const o = overrides.get(t.id);
      const tok = { ...t, x: Number(o?.x ?? t.x) || 0, y: Number(o?.y ?? t.y) || 0 };
      tok.x = clamp(Math.round(tok.x), 0, COLS - 1);
      tok.y = clamp(Math.round(tok.y), 0, ROWS - 1);
      seen.add(t.id);
      let node = el.querySelector(`[data-token-id="${CSS.escape(t.id)}"]`);
      if (!node) {
        node = h('div', { class: 'token', dataset: { testid: 'token', tokenId: t.id } }, h('span'));
        node.addEventListener('pointerdown', (ev) => {
          const cur = node._token;
          if (cur && canMove(cur)) startDrag(ev, node, cur);
        });
        el.append(node);
      }
      node._token = tok;
      node.dataset.x = String(tok.x);
      node.dataset.y = String(tok.y);
      node.dataset.actorId = typeof t.actorId === 'string' ? t.actorId : '';
      const name = label(tok);
      node.title = `${name} (${tok.x}, ${tok.y})`;
      node.firstElementChild.textContent = name.slice(0, 12);
      node.classList.toggle('movable', canMove(tok));
      node.classList.toggle('pending', overrides.has(t.id));
      if (dragging?.id !== t.id) place(node, tok.x, tok.y);
    }
    for (const node of [...el.querySelectorAll('.token')]) {
      if (!seen.has(node.dataset.tokenId)) node.remove();
    }
  }

  return { render };
}
