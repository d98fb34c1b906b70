// tests/load/peer/server.mjs - the reference server ("the peer") for script/bench.
//
// The same client API as Parley's actors service (README.md, "Client API:
// actors"), written the way a competent Node developer would write it with
// Socket.IO 4.8: one process (no cluster, like Parley's default deployment of
// one gateway), the `ws` engine, JWT auth in an io.use() middleware, state in
// Redis through ioredis. It is the baseline Parley is measured against, so it
// is meant to be fair: stock settings, plus the two tips from Socket.IO's own
// performance and memory guides that need no code in the handlers
// (bufferutil, and dropping the handshake's HTTP request).
//
// Environment:
//   PEER_PORT        listen port (default 8090), on PEER_BIND (default 127.0.0.1)
//   PEER_REDIS_URL   redis://host:port/db or unix:///path/to.sock
//                    (default redis://127.0.0.1:6379/0)
//   PEER_JWT_SECRET  HS256 secret for the clients' JWTs (required)
//
// Storage is Parley's: pl:actor:<id> holds the actor's JSON, and
// pl:user:<uid>:actors is a sorted set of the user's actor ids scored by
// createdAt. The ack goes only after Redis confirmed the write. Redis is
// expected to run with AOF on (appendfsync everysec), as Parley's does.
//
// Prints "peer: listening on http://HOST:PORT" when ready; SIGTERM/SIGINT
// close everything and exit 0.

import crypto from 'node:crypto';
import http from 'node:http';
import { Server } from 'socket.io';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';

const PORT = Number(process.env.PEER_PORT || 8090);
const BIND = process.env.PEER_BIND || '127.0.0.1';
const REDIS_URL = process.env.PEER_REDIS_URL || 'redis://127.0.0.1:6379/0';
const SECRET = process.env.PEER_JWT_SECRET;
const UPDATE_ATTEMPTS = 32;          // compare-and-set retries against other writers

if (!SECRET) {
  console.error('peer: PEER_JWT_SECRET is required');
  process.exit(2);
}
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error(`peer: bad PEER_PORT ${process.env.PEER_PORT}`);
  process.exit(2);
}

// ---- Redis ------------------------------------------------------------------

// Parley's URL forms: unix:///path.sock (optionally ?db=N) or redis://...
function redisOptions(url) {
  if (url.startsWith('unix://')) {
    const u = new URL(url);
    return { path: u.pathname, db: Number(u.searchParams.get('db') || 0) };
  }
  return url;
}

const redis = new Redis(redisOptions(REDIS_URL), { maxRetriesPerRequest: 3 });
redis.on('error', (err) => console.error(`peer: redis: ${err.message}`));

// Compare-and-set: write the new JSON only if the key still holds what we
// read. All requests share one connection, so WATCH (which is per connection)
// cannot be used; this is the usual ioredis way of an optimistic update. It
// keeps the read-merge-write correct against other processes; within this
// one, writes to an actor are queued (withActor) so they never conflict.
redis.defineCommand('casSet', {
  numberOfKeys: 1,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('SET', KEYS[1], ARGV[2])
          return 1
        end
        return 0`,
});
redis.defineCommand('casDel', {
  numberOfKeys: 2,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
          redis.call('ZREM', KEYS[2], ARGV[2])
          return 1
        end
        return 0`,
});

const actorKey = (id) => `pl:actor:${id}`;
const userKey = (uid) => `pl:user:${uid}:actors`;

// ---- the actors API -----------------------------------------------------------

const SERVER_FIELDS = new Set(['id', 'createdBy', 'createdAt', 'updatedAt', 'version']);

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function clientFields(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (!SERVER_FIELDS.has(k)) out[k] = v;
  return out;
}

function checkActor(actor, event) {
  if (typeof actor.name !== 'string' || actor.name.length === 0) {
    throw new ApiError('VALIDATION_ERROR', `${event}: name must be a non-empty string`);
  }
  if (typeof actor.type !== 'string') {
    throw new ApiError('VALIDATION_ERROR', `${event}: type must be a string`);
  }
}

function checkId(id, event) {
  if (typeof id !== 'string' || id.length === 0) {
    throw new ApiError('VALIDATION_ERROR', `${event} expects an actor id (a non-empty string)`);
  }
  return id;
}

// Run fn after every earlier write to the same actor in this process has
// finished. Without it, N updates of one actor pipelined on the shared
// connection all read the same version and N-1 of them retry, round after
// round. The map holds one entry per actor with writes pending, removed when
// its queue drains; a queue is as long as the clients' requests in flight.
const actorQueues = new Map();
function withActor(id, fn) {
  const run = (actorQueues.get(id) || Promise.resolve()).then(fn);
  const tail = run.then(() => {}, () => {});
  actorQueues.set(id, tail);
  tail.then(() => {
    if (actorQueues.get(id) === tail) actorQueues.delete(id);
  });
  return run;
}

// The caller's actor, with the stored text (for compare-and-set), or NOT_FOUND.
async function load(uid, id) {
  const text = await redis.get(actorKey(id));
  const actor = text === null ? null : JSON.parse(text);
  if (!actor || actor.createdBy !== uid) throw new ApiError('NOT_FOUND', `no actor ${id}`);
  return { actor, text };
}

const handlers = {
  async 'actor:create'(socket, uid, arg) {
    if (!isObject(arg)) {
      throw new ApiError('VALIDATION_ERROR', 'actor:create expects an object with a name and a type');
    }
    const now = Date.now();
    const actor = {
      id: crypto.randomUUID(),
      createdBy: uid,
      ...clientFields(arg),
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    checkActor(actor, 'actor:create');
    await redis.multi()
      .set(actorKey(actor.id), JSON.stringify(actor))
      .zadd(userKey(uid), now, actor.id)
      .exec();
    return { data: actor, broadcast: ['actor:created', actor] };
  },

  async 'actor:get'(socket, uid, arg) {
    const { actor } = await load(uid, checkId(arg, 'actor:get'));
    return { data: actor };
  },

  async 'actor:update'(socket, uid, arg) {
    if (!isObject(arg)) throw new ApiError('VALIDATION_ERROR', 'actor:update expects {id, ...fields}');
    const id = checkId(arg.id, 'actor:update');
    return withActor(id, async () => {
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const { actor, text } = await load(uid, id);
        const next = { ...actor, ...clientFields(arg) };
        checkActor(next, 'actor:update');
        next.version = actor.version + 1;
        next.updatedAt = Math.max(Date.now(), actor.updatedAt);
        if (await redis.casSet(actorKey(id), text, JSON.stringify(next))) {
          return { data: next, broadcast: ['actor:updated', next] };
        }
      }
      throw new ApiError('INTERNAL', 'too many concurrent changes; try again');
    });
  },

  async 'actor:list'(socket, uid) {
    const ids = await redis.zrange(userKey(uid), 0, -1);
    if (ids.length === 0) return { data: [] };
    const texts = await redis.mget(ids.map(actorKey));
    return { data: texts.filter((t) => t !== null).map((t) => JSON.parse(t)) };
  },

  async 'actor:delete'(socket, uid, arg) {
    const id = checkId(arg, 'actor:delete');
    return withActor(id, async () => {
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const { text } = await load(uid, id);
        if (await redis.casDel(actorKey(id), userKey(uid), text, id)) {
          return { data: undefined, broadcast: ['actor:deleted', id] };
        }
      }
      throw new ApiError('INTERNAL', 'too many concurrent changes; try again');
    });
  },
};

// ---- Socket.IO ------------------------------------------------------------

const httpServer = http.createServer();
const io = new Server(httpServer, {
  // polling too: script/bench's polling-connect (tests/load/polling.mjs)
  // measures polling-only clients against it; WebSocket clients are
  // unaffected (they open with transport=websocket)
  transports: ['polling', 'websocket'],
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
  serveClient: false,
});

// Socket.IO's memory-usage guide: the handshake's IncomingMessage is kept
// for the life of the connection unless dropped; nothing here needs it.
io.engine.on('connection', (rawSocket) => {
  rawSocket.request = null;
});

io.use((socket, next) => {
  const token = socket.handshake.auth?.token;
  try {
    if (typeof token !== 'string') throw new Error('no token');
    const claims = jwt.verify(token, SECRET, { algorithms: ['HS256'] });
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw new Error('no sub');
    socket.data.uid = claims.sub;
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

io.on('connection', (socket) => {
  const uid = socket.data.uid;
  const room = `user:${uid}`;
  socket.join(room);

  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, async (...args) => {
      const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
      try {
        const { data, broadcast } = await handler(socket, uid, args[0]);
        ack?.({ success: true, data });
        // The creator's other connections; the sender has its ack.
        if (broadcast) socket.to(room).emit(...broadcast);
      } catch (err) {
        const error = err instanceof ApiError
          ? { code: err.code, message: err.message }
          : { code: 'INTERNAL', message: 'internal error' };
        if (!(err instanceof ApiError)) console.error(`peer: ${event}: ${err.stack || err}`);
        ack?.({ success: false, error });
      }
    });
  }
});

// ---- start / stop -------------------------------------------------------------

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`peer: ${signal}, closing`);
  // Bounded: 10k sockets close quickly, but never hang on one.
  setTimeout(() => process.exit(0), 5000).unref();
  io.close(() => {
    redis.quit().finally(() => process.exit(0));
  });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

httpServer.on('error', (err) => {
  console.error(`peer: cannot listen on ${BIND}:${PORT}: ${err.message}`);
  process.exit(1);
});
await redis.ping();
httpServer.listen(PORT, BIND, () => {
  console.log(`peer: listening on http://${BIND}:${PORT} (pid ${process.pid}, node ${process.version})`);
});
