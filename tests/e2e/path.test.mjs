// PARLEY_PATH: the Engine.IO path. The gateway here serves /game/rt/ (the
// harness hands it to socket.io-client's `path` and to wsUrl()), and no
// longer /socket.io/. A bad value refuses to start with a clear message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { useSystem, emitAck, expectOk, BIN } from './lib/system.mjs';
import { RawClient } from './lib/raw.mjs';

const PATH = '/game/rt/';
const h = useSystem({ workers: 1, env: { PARLEY_PATH: PATH } });

h.test('socket.io-client with path /game/rt/ connects and its requests are answered', async (t, sys) => {
  assert.equal(sys.eioPath, PATH);
  const s = await sys.user('pathuser');
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), []);
  s.disconnect();
});

for (const p of ['/game/rt/', '/game/rt']) {
  h.test(`a raw WebSocket on ${p} upgrades and connects`, async (t, sys) => {
    const url = `${sys.url().replace('http', 'ws')}${p}?EIO=4&transport=websocket`;
    const [c] = await RawClient.connected(url, sys.token({ sub: 'raw' }));
    c.autoPong = true;
    c.send('421["actor:list"]');
    assert.match(await c.nextNonPing(), /^431\[/);
    c.close();
  });
}

for (const p of ['/socket.io/', '/game/', '/game/rt/x/', '/game/rtx/', '/GAME/RT/']) {
  h.test(`${p} is not the Engine.IO path: no upgrade, 404`, async (t, sys) => {
    const url = `${sys.url().replace('http', 'ws')}${p}?EIO=4&transport=websocket`;
    await assert.rejects(RawClient.open(url), /HTTP 404 instead of an upgrade/);
    const res = await fetch(`${sys.url()}${p}?EIO=4&transport=polling`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });
}

h.test('polling on the configured path opens a session; an unknown transport gets "Transport unknown" 400', async (t, sys) => {
  const res = await fetch(`${sys.url()}${PATH}?EIO=4&transport=polling`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /^0\{"sid":/);
  const bad = await fetch(`${sys.url()}${PATH}?EIO=4&transport=carrier-pigeon`, { signal: AbortSignal.timeout(2000) });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /Transport unknown/);
});

// The gateway checks its configuration before it touches the network.
for (const bad of ['socket.io/', '/socket.io', '/', '/a//b/', '/a/../b/', '/a b/', '/a?x=1/', '/api/v1/', '/healthz/', '/metrics/', `/${'p'.repeat(127)}/`]) {
  h.test(`PARLEY_PATH=${JSON.stringify(bad.length > 40 ? `${bad.slice(0, 12)}…(${bad.length} bytes)` : bad)} refuses to start with a clear message`, async (t, sys) => {
    const r = spawnSync(BIN.gateway, [], {
      env: { ...sys.env, PARLEY_PATH: bad, PARLEY_PORT: '1' },
      encoding: 'utf8',
      timeout: 10000,
    });
    assert.equal(r.signal, null, 'the gateway did not exit by itself');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /PARLEY_PATH=.* is not a valid Engine\.IO path: it must start and end with \//);
  });
}
