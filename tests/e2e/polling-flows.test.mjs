// The rooms, presence and game-state suites again, every socket.io-client
// with transports: ["polling"] (HTTP long-polling only, never upgraded):
// everything above the transport must behave the same. The suites are the
// same files; PARLEY_E2E_TRANSPORTS (tests/e2e/lib/system.mjs connect) picks
// the transport. Run one alone with
//   PARLEY_E2E_TRANSPORTS=polling node --test e2e/rooms.test.mjs
import { describe } from 'node:test';

process.env.PARLEY_E2E_TRANSPORTS = 'polling';

describe('over polling: rooms', async () => { await import('./rooms.test.mjs'); });
describe('over polling: presence', async () => { await import('./presence.test.mjs'); });
describe('over polling: gamestate', async () => { await import('./gamestate.test.mjs'); });
