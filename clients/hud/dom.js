// dom.js - the HUD's few DOM helpers. Everything from the network is shown
// as text (textContent, text nodes): never innerHTML.

/** The element with this id (throws when the page lacks it: a bug). */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  return el;
}

/**
 * h('li', {class: 'x', dataset: {testid: 'actor'}}, 'text', child...):
 * a new element. Attributes are set with setAttribute (never `style` or
 * `on*`: the CSP forbids them); strings become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace el's children with nodes. */
export function fill(el, nodes) {
  el.replaceChildren(...nodes);
}

/** Show elements matching selector when on, hide them otherwise. */
export function showAll(selector, on) {
  for (const el of document.querySelectorAll(selector)) el.hidden = !on;
}

/** The error bar: "CODE: message" from an ack's error, or any Error. */
export function showError(err, what = '') {
  const code = err?.code || err?.ack?.code;
  let msg = err?.ack?.message || err?.message || String(err);
  if (code && msg.startsWith(`${code}: `)) msg = msg.slice(code.length + 2);
  $('error-text').textContent = `${what ? `${what}: ` : ''}${code ? `${code}: ` : ''}${msg}`;
  $('error').hidden = false;
}

export function clearError() {
  $('error').hidden = true;
  $('error-text').textContent = '';
}

/** Append li to a log list, keeping at most max entries, scrolled down. */
export function appendLog(list, li, max = 200) {
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(li);
  while (list.children.length > max) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** Whole seconds of world time as "Day N, hh:mm:ss" (day 1 at 0). */
export function formatWorldTime(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  const day = Math.floor(s / 86400) + 1;
  const two = (n) => String(n).padStart(2, '0');
  return `Day ${day}, ${two(Math.floor((s % 86400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** The claims of a JWT, for display only (the server checks the token). */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return {};
  }
}
