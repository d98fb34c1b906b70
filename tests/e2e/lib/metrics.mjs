// GET /metrics for the e2e suite: scrape a gateway, check the text
// strictly (parley-metrics-check, i.e. base/pl_metrics's checker, and
// promtool when it is on the PATH), and read samples out of it.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildDir, httpOnce } from './system.mjs';

export const METRICS_CHECK = path.join(buildDir, 'tests/parley-metrics-check');
// a stand-in broker that answers METRICS (tests/unit/metrics_broker_stub.c)
export const METRICS_BROKER_STUB = path.join(buildDir, 'tests/parley-metrics-broker-stub');
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const promtool = (() => {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : null;
})();
export const hasPromtool = promtool !== null;

/** Check text strictly; throws with the checker's reason. */
export function checkText(text) {
  const r = spawnSync(METRICS_CHECK, [], { input: text, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `parley-metrics-check refused the scrape: ${r.stderr}${r.error ?? ''}`);
  if (promtool) {
    // a parse error or any of its lint findings (names, units, HELP) fails
    const p = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
    assert.equal(p.status, 0, `promtool check metrics: ${p.stdout}${p.stderr}`);
  }
}

// One label value in the text format: \\, \" and \n escaped.
function unescape(v) {
  return v.replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
}

/**
 * Parse text into Map("name{a="x",b="y"}" -> number), label keys in the
 * order written; also samples(name, labels) filters. Only what
 * pl_metrics_render writes (the checker ran first).
 */
export function parse(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = unescape(l[2]);
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    samples.set(key(m[1], labels), { name: m[1], labels, value });
  }
  return {
    text,
    samples,
    /** The value of one series (labels exactly), or undefined. */
    get(name, labels = {}) { return samples.get(key(name, labels))?.value; },
    /** The value, 0 when the series does not exist (a counter never bumped). */
    count(name, labels = {}) { return samples.get(key(name, labels))?.value ?? 0; },
    /** Every sample of name whose labels include these. */
    all(name, labels = {}) {
      return [...samples.values()].filter((s) => s.name === name
        && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    },
  };
}

function key(name, labels) {
  const parts = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

/**
 * GET /metrics of a gateway (scope 'local' for ?scope=local): asserts 200
 * and the content type, checks the text, returns parse(text) plus
 * {status, headers, ms}.
 */
export async function scrape(sys, { gateway = 'gateway', scope, timeoutMs = 5000 } = {}) {
  const t0 = Date.now();
  const res = await httpOnce(`${sys.url(gateway)}/metrics${scope ? `?scope=${scope}` : ''}`, { timeoutMs });
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.text}`);
  assert.equal(res.headers['content-type'], CONTENT_TYPE);
  checkText(res.text);
  return { ...parse(res.text), status: res.status, headers: res.headers, ms: Date.now() - t0 };
}
