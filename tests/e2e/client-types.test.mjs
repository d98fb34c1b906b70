// The generated client types and API documents (issue 14, section 1):
// clients/js/parley-events.d.ts type-checks a client of every event with
// `tsc --noEmit --strict` and refuses a wrong payload; docs/asyncapi.yaml
// and docs/openapi.yaml pass real validators from npm. No system needed:
// ctests types_doc_fresh / asyncapi_doc_fresh / openapi_doc_fresh keep the
// three files in step with proto's tables. The library's own types
// (clients/js/index.d.ts, session.d.ts, store.d.ts) are checked the same
// way with types/lib-ok.ts and lib-bad.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Parser, fromFile } from '@asyncapi/parser';
import SwaggerParser from '@apidevtools/swagger-parser';

const tests = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(tests, '..');
const dts = path.join(root, 'clients/js/parley-events.d.ts');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function runTsc(project) {
  return spawnSync(process.execPath, [tsc, '-p', path.join(tests, 'types', project)],
    { cwd: tests, encoding: 'utf8', timeout: 120_000 });
}

// The names of an interface's members in the .d.ts: `"name": ...` lines.
function members(iface) {
  const text = readFileSync(dts, 'utf8');
  const start = text.indexOf(`export interface ${iface} {`);
  assert.notEqual(start, -1, `${iface} in ${dts}`);
  const body = text.slice(start, text.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}"([^"]+)":/gm)].map((m) => m[1]);
}

test('tsc --noEmit --strict accepts a client of every event', () => {
  const r = runTsc('tsconfig.json');
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('the sample names every client event and every server push', () => {
  const sample = readFileSync(path.join(tests, 'types/sample-ok.ts'), 'utf8');
  const emits = members('ClientToServerEvents');
  const pushes = members('ServerToClientEvents');
  assert.ok(emits.length >= 40 && pushes.length >= 20, `${emits.length} events, ${pushes.length} pushes`);
  for (const name of emits)
    assert.ok(sample.includes(`socket.emit('${name}'`), `sample-ok.ts emits ${name}`);
  for (const name of pushes)
    assert.ok(sample.includes(`socket.on('${name}'`), `sample-ok.ts listens to ${name}`);
});

// tsc on project refuses file with exactly one error: line 7's number
// given where a string is due.
function refusesNumberForString(project, file) {
  const r = runTsc(project);
  assert.notEqual(r.status, 0, `${file} must not type-check`);
  const re = new RegExp(`${file.replace('.', '\\.')}\\(7,\\d+\\): error TS2322: Type 'number' is not assignable to type 'string'\\.`);
  assert.match(r.stdout, re, `diagnostic:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout.trim().split('\n').length, 1, `exactly one error:\n${r.stdout}`);
}

test('tsc refuses a wrong payload, with the expected diagnostic', () => {
  refusesNumberForString('tsconfig.bad.json', 'sample-bad.ts');
});

test('the library\'s types (clients/js/index.d.ts): connectParley returns the typed socket, a wrong payload through it is refused', () => {
  // lib-ok.ts (in tsconfig.json, checked above) uses every export of
  // @parley/client; lib-bad.ts emits a number as chat:send's text
  refusesNumberForString('tsconfig.lib-bad.json', 'lib-bad.ts');
  const pkg = JSON.parse(readFileSync(path.join(root, 'clients/js/package.json'), 'utf8'));
  assert.equal(pkg.types, './index.d.ts');
  for (const [sub, entry] of Object.entries(pkg.exports)) {
    assert.ok(entry.types && pkg.files.includes(entry.types.slice(2)), `exports ${sub}: types, in files`);
    assert.equal(Object.keys(entry)[0], 'types', `exports ${sub}: the types condition first`);
  }
  assert.ok(pkg.files.includes('parley-events.d.ts'), 'the .d.ts files import parley-events.d.ts');
});

test('docs/asyncapi.yaml is a valid AsyncAPI 3.0 document of every event', async () => {
  const { document, diagnostics } = await fromFile(new Parser(), path.join(root, 'docs/asyncapi.yaml')).parse();
  const bad = diagnostics.filter((d) => d.severity <= 1);  // 0 error, 1 warning
  assert.deepEqual(bad.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), []);
  assert.ok(document, 'parsed');
  assert.equal(document.version(), '3.0.0');
  const names = new Set(document.messages().all().map((m) => m.name()));
  for (const name of [...members('ClientToServerEvents'), ...members('ServerToClientEvents')])
    assert.ok(names.has(name), `a message ${name}`);
  for (const name of members('ClientToServerEvents'))
    assert.ok(names.has(`${name} ack`), `an ack message for ${name}`);
  const channels = document.channels().all().map((c) => c.id()).sort();
  assert.deepEqual(channels, ['campaign', 'campaignGm', 'connection', 'room', 'session', 'user']);
});

test('docs/openapi.yaml is a valid OpenAPI 3.1 document with error responses', async () => {
  const api = await SwaggerParser.validate(path.join(root, 'docs/openapi.yaml'));
  assert.equal(api.openapi, '3.1.0');
  const ops = Object.values(api.paths).flatMap((item) => Object.values(item));
  assert.ok(ops.length >= 30, `${ops.length} operations`);
  for (const op of ops) {
    for (const status of ['400', '401', '403', '404', '409', '429', '500', '503', '504'])
      assert.ok(op.responses[status]?.content?.['application/json'], `${op.operationId} answers ${status}`);
    assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${op.operationId} has a success`);
  }
});
