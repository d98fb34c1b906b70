// The harness itself must be able to fail: stand-in "binaries" (bash
// scripts) that exit non-zero on SIGTERM, print a sanitizer report or die on
// their own must make System.stop() throw; clean ones must not. Also checks
// makeToken against a published HS256 vector.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, before, after } from 'node:test';
import { System, makeToken } from './lib/system.mjs';

let dir;
const bins = {};
const scripts = {
  // The trap is set before `up` is printed, which the test waits for.
  // `sleep & wait` lets the trap run at once; the trap also ends the sleep.
  clean: 'trap \'kill $! 2>/dev/null; exit 0\' TERM; echo up; sleep 60 & wait',
  dirty: 'trap \'kill $! 2>/dev/null; exit 3\' TERM; echo up; sleep 60 & wait',
  asan: 'trap \'kill $! 2>/dev/null; exit 0\' TERM; echo "==42==ERROR: AddressSanitizer: heap-use-after-free on address 0x1" >&2; echo up; sleep 60 & wait',
  ubsan: 'trap \'kill $! 2>/dev/null; exit 0\' TERM; echo "x.c:12:5: runtime error: signed integer overflow" >&2; echo up; sleep 60 & wait',
  crash: 'echo up; echo dying >&2; exit 1',
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-h-'));
  for (const [name, body] of Object.entries(scripts)) {
    bins[name] = path.join(dir, name);
    fs.writeFileSync(bins[name], `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function runWith(broker, during = async () => {}) {
  const sys = new System({ workers: 0, wait: false, bins: { broker, actors: bins.clean, gateway: bins.clean } });
  await sys.init();
  await sys.start('broker');
  await sys.proc('broker').waitOutput(/up/, 5000).catch(() => {});
  try {
    await during(sys);
    return await sys.stop();
  } finally {
    // stop() keeps the dir of a failed system; these failures are the point.
    fs.rmSync(sys.dir, { recursive: true, force: true });
  }
}

test('clean exits on SIGTERM: stop() resolves and removes the temp dir', async () => {
  const sys = new System({ workers: 0, wait: false, bins: { broker: bins.clean, actors: bins.clean, gateway: bins.clean } });
  await sys.init();
  await sys.start('broker');
  await sys.proc('broker').waitOutput(/up/, 5000);
  await sys.stop();
  assert.equal(fs.existsSync(sys.dir), false);
});

test('exit code 3 after SIGTERM fails stop()', async () => {
  await assert.rejects(runWith(bins.dirty), /broker \(run 1\) exited with code 3 after SIGTERM/);
});

test('an AddressSanitizer report fails stop() even with exit 0', async () => {
  await assert.rejects(runWith(bins.asan), /sanitizer report: .*AddressSanitizer: heap-use-after-free/);
});

test('a UBSan runtime error fails stop()', async () => {
  await assert.rejects(runWith(bins.ubsan), /sanitizer report: .*runtime error: signed integer overflow/);
});

test('a process that dies on its own fails stop()', async () => {
  await assert.rejects(runWith(bins.crash, async (sys) => { await sys.proc('broker').exited; }),
    /broker \(run 1\) exited on its own with code 1/);
});

test('a process the test SIGKILLs on purpose is fine', async () => {
  await runWith(bins.clean, async (sys) => { await sys.kill('broker', 'SIGKILL'); });
});

test('makeToken matches the well-known HS256 example token', () => {
  const tok = makeToken({ sub: '1234567890', name: 'John Doe', iat: 1516239022 }, { secret: 'your-256-bit-secret' });
  assert.equal(tok, 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c');
  assert.match(makeToken({ sub: 'a' }, { alg: 'none' }), /^[\w-]+\.[\w-]+\.$/);
});
