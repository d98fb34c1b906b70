// MUST NOT type-check: tests/e2e/client-types.test.mjs asserts that tsc
// refuses it with this diagnostic: connectParley's socket is typed, and
// chat:send's text must be a string.
import { connectParley } from '../../clients/js/index.js';

const socket = connectParley('http://127.0.0.1:8080', { token: 'jwt' });
socket.emit('chat:send', { room: 'campaign:c1', text: 5 }, () => {});
