// MUST NOT type-check: tests/e2e/client-types.test.mjs asserts that tsc
// refuses it, with this diagnostic: chat:send's text must be a string.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../clients/js/parley-events.js';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://127.0.0.1:8080');
socket.emit('chat:send', { room: 'campaign:c1', text: 42 }, () => {});
