// hold.mjs URL TOKEN N SECONDS - open N authenticated socket.io-client
// connections, hold them idle for SECONDS, then close. For idle-CPU checks;
// the load tool proper (parley-load) is C.
import { io } from 'socket.io-client';
const [url, token, n, secs] = [process.argv[2], process.argv[3], +process.argv[4], +process.argv[5]];
const sockets = [];
let connected = 0;
for (let i = 0; i < n; i++) {
  const s = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  s.on('connect', () => { if (++connected === n) console.log(`held ${n} connections`); });
  s.on('connect_error', (e) => { console.error('connect_error', e.message); process.exitCode = 1; });
  sockets.push(s);
}
setTimeout(() => { console.log(`closing; ${connected} connected`); sockets.forEach((s) => s.close()); }, secs * 1000);
