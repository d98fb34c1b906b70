/*  pl_loadopt - command line of parley-load; see pl_loadopt.h. */
#include "pl_loadopt.h"
#include "pl_config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_CONNECT (1u << PL_LMODE_CONNECT)
#define M_FANOUT  (1u << PL_LMODE_FANOUT)
#define M_RPC     (1u << PL_LMODE_RPC)
#define M_BROKER  (1u << PL_LMODE_BROKER)
#define M_WORKER  (1u << PL_LMODE_WORKER)
#define M_STATE   (1u << PL_LMODE_STATE)
#define M_ROLL    (1u << PL_LMODE_ROLL)
#define M_RULES   (1u << PL_LMODE_RULES)
#define M_WS      (M_CONNECT | M_FANOUT | M_RPC | M_STATE)
#define M_ZMQ     (M_BROKER | M_WORKER | M_ROLL | M_RULES)
#define M_ALL     (M_WS | M_ZMQ)

static const char *s_modes[PL_LMODE_COUNT] = { "connect", "fanout", "rpc", "broker", "worker",
                                                "state", "roll", "rules" };

typedef enum { T_STR, T_U32, T_INT, T_DBL } s_type_t;

typedef struct {
    const char *name;               /* without the leading -- */
    s_type_t type;
    size_t offset;                  /* into pl_loadopt_t */
    unsigned modes;                 /* where it means something */
    double min, max;                /* numeric range */
} s_opt_t;

#define O(field) offsetof (pl_loadopt_t, field)
static const s_opt_t s_opts[] = {
    { "host",         T_STR, O (host),         M_WS,     0, 0 },
    { "port",         T_INT, O (port),         M_WS,     1, 65535 },
    { "path",         T_STR, O (path),         M_WS,     0, 0 },
    { "secret",       T_STR, O (secret),       M_WS,     0, 0 },
    { "conns",        T_U32, O (conns),        M_CONNECT | M_FANOUT, 1, PL_LOADOPT_CONNS_MAX },
    { "users",        T_U32, O (users),        M_CONNECT | M_WORKER | M_ROLL | M_RULES, 1, PL_LOADOPT_CONNS_MAX },
    { "rooms",        T_U32, O (rooms),        M_FANOUT, 1, 100000 },
    { "clients",      T_U32, O (clients),      M_RPC | M_BROKER, 1, 100000 },
    { "window",       T_U32, O (window),       M_FANOUT | M_RPC | M_BROKER, 1, PL_LOADOPT_WINDOW_MAX },
    { "workers",      T_U32, O (workers),      M_BROKER, 1, PL_LOADOPT_WORKERS_MAX },
    { "credit",       T_U32, O (credit),       M_BROKER, 1, 10000 },
    { "sessions",     T_U32, O (sessions),     M_STATE,  1, 100000 },
    { "receivers",    T_U32, O (receivers),    M_STATE,  0, 1000 },
    { "updates",      T_U32, O (updates),      M_STATE,  0, 100000000 },
    { "threads",      T_U32, O (threads),      M_WS,     1, PL_LOADOPT_THREADS_MAX },
    { "concurrency",  T_U32, O (concurrency),  M_WS,     1, 100000 },
    { "rate",         T_DBL, O (rate),         M_CONNECT | M_FANOUT | M_RPC, 0, 10e6 },
    { "duration",     T_DBL, O (duration),     M_FANOUT | M_RPC | M_ZMQ | M_STATE, 0.001,
                                                PL_LOADOPT_DURATION_MAX },
    { "hold",         T_DBL, O (hold),         M_CONNECT, 0, PL_LOADOPT_DURATION_MAX },
    { "timeout",      T_DBL, O (timeout),      M_ALL,    0.001, 120 },
    { "drain",        T_DBL, O (drain),        M_FANOUT | M_RPC | M_ZMQ | M_STATE, 0, 60 },
    { "progress",     T_DBL, O (progress),     M_ALL,    0, 60 },
    { "gateway-pid",  T_INT, O (gateway_pid),  M_WS,     1, 4194304 },
    { "heartbeat-ms", T_INT, O (heartbeat_ms), M_ZMQ,    10, 3600000 },
    { "frontend",     T_STR, O (frontend),     M_BROKER, 0, 0 },
    { "backend",      T_STR, O (backend),      M_BROKER, 0, 0 },
    { "bind",         T_STR, O (bind),         M_WORKER | M_ROLL, 0, 0 },
    { "reads",        T_U32, O (reads),        M_WORKER, 0, 100 },
    { "writes",       T_U32, O (writes),       M_WORKER, 0, 100 },
    { "expression",   T_STR, O (expression),   M_ROLL,   0, 0 },
    { "events-in",    T_STR, O (events_in),    M_RULES,  0, 0 },
    { "events-out",   T_STR, O (events_out),   M_RULES,  0, 0 },
    { "redis",        T_STR, O (redis),        M_RULES,  0, 0 },
    { "rules",        T_U32, O (rules),        M_RULES,  2, 100 },
};
#undef O

void
pl_loadopt_usage (void)
{
    fputs (
"usage: parley-load MODE [options]      (targets must be on this host)\n"
"\n"
"modes (one JSON summary line on stdout; progress on stderr):\n"
"  connect  open --conns authenticated Socket.IO connections at --rate/s\n"
"           (0 = flat out), hold them --hold s; connects/s, failures, and\n"
"           the gateway's RSS per connection with --gateway-pid\n"
"  fanout   --conns receivers over --rooms users (receiver i is fan-<i%rooms>)\n"
"           plus one publisher per room; actor:update at --rate events/s for\n"
"           --duration s; deliveries/s, end-to-end latency, losses\n"
"  rpc      --clients users alternating actor:create / actor:get with\n"
"           --window in flight each, at --rate req/s (open loop) or flat out\n"
"  broker   ZeroMQ straight to parley-broker: --workers echo workers on\n"
"           --backend, --clients DEALERs on --frontend, --window each\n"
"  worker   bind a ROUTER at --bind, wait for a worker's READY, send it\n"
"           actor:create within its credit; that tier's ceiling. --reads P:\n"
"           P% of the requests are reads instead (actor:get and actor:list,\n"
"           alternating, of readers that own 5 actors each)\n"
"  roll     as worker, for a parley-rules: roll {room: user:<own id>,\n"
"           expression: --expression} within its credit; rolls/s on one worker\n"
"  rules    one parley-rules on a bus of its own (binds --events-in, the\n"
"           XSUB it publishes to, and --events-out, the XPUB it listens on;\n"
"           writes --users actors and --rules rules to --redis), each actor\n"
"           changed and announced again once its rule has fired: rule runs/s\n"
"  state    --sessions game sessions, each a GM sending gameState:update back\n"
"           to back (--updates in all, within --duration s) and --receivers\n"
"           more members; acks/s, latency, deliveries, every version checked\n"
"\n"
"options (defaults in brackets):\n"
"  --host H [127.0.0.1]  --port P [8080]  --path [/socket.io/?EIO=4&transport=websocket]\n"
"  --secret S [the dev secret]            --threads N [1] loops, one thread each\n"
"  --conns N [100]  --users U [conns | 100]  --rooms R [10]  --clients M [10 | 1]\n"
"  --window W [rpc, broker 1; fanout 32]  --rate R [connect, rpc 0; fanout 100]\n"
"  --duration S [10, max 300]  --hold S [5]  --timeout S [10] handshake / READY\n"
"  --drain S [5] wait for late acks and deliveries  --concurrency C [200]\n"
"  --progress S [1, 0 = off]  --heartbeat-ms MS [1000]\n"
"  --gateway-pid PID  the server's pid: its CPU time (and for connect its RSS)\n"
"  --workers K [1]  --credit C [32]  --frontend EP  --backend EP  --bind EP\n"
"  --reads P [0] worker: percent of reads; --writes W [0]: of actor:update\n"
"  --sessions S [10]  --receivers R [0]  --updates N [0 = until --duration]\n"
"  --expression E [4d6kh3+1d20+2] roll: the dice of every roll\n"
"  --events-in EP  --events-out EP  --redis URL  --rules R [10]: rules\n"
"exit status: 0 run done (however slow), 1 run failed (nothing connected...),\n"
"2 bad usage\n", stderr);
}

int
pl_loadopt_loopback (const char *host, int port, struct sockaddr_storage *addr,
                     socklen_t *addr_len)
{
    memset (addr, 0, sizeof *addr);
    struct sockaddr_in *in4 = (struct sockaddr_in *) addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;
    if (strcmp (host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton (AF_INET, host, &in4->sin_addr) == 1) {
        if ((ntohl (in4->sin_addr.s_addr) >> 24) != 127)
            return -1;
        in4->sin_family = AF_INET;
        in4->sin_port = htons ((uint16_t) port);
        *addr_len = sizeof *in4;
        return 0;
    }
    if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr))
            return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        *addr_len = sizeof *in6;
        return 0;
    }
    return -1;
}

bool
pl_loadopt_local_endpoint (const char *ep)
{
    if (!ep)
        return false;
    if (strncmp (ep, "ipc://", 6) == 0)
        return ep[6] != 0;
    if (strncmp (ep, "tcp://", 6) != 0)
        return false;
    const char *h = ep + 6;
    const char *colon = strrchr (h, ':');
    if (!colon || colon == h || !colon[1])
        return false;
    char host[64];
    size_t hlen = (size_t) (colon - h);
    if (h[0] == '[') {                          /* [::1]:port */
        if (hlen < 3 || h[hlen - 1] != ']')
            return false;
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy (host, h, hlen);
    host[hlen] = 0;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return false;
    struct sockaddr_storage addr;
    socklen_t len;
    return pl_loadopt_loopback (host, (int) port, &addr, &len) == 0;
}

static void
s_defaults (pl_loadopt_t *o)
{
    memset (o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->path = "/socket.io/?EIO=4&transport=websocket";
    o->secret = PL_CONFIG_DEV_SECRET;
    o->conns = 100;
    o->rooms = 10;
    o->threads = 1;
    o->concurrency = 200;
    o->duration = 10;
    o->hold = 5;
    o->timeout = 10;
    o->drain = 5;
    o->progress = 1;
    o->workers = 1;
    o->credit = 32;
    o->sessions = 10;
    o->heartbeat_ms = 1000;
    o->rate = -1;                   /* per-mode default below */
    o->expression = "4d6kh3+1d20+2";
    o->rules = 10;
}

int
pl_loadopt_parse (pl_loadopt_t *o, int argc, char **argv, bool *help,
                  char *err, size_t err_size)
{
    int rc = -1;
    *help = false;
    s_defaults (o);
    if (argc < 2) {
        snprintf (err, err_size, "missing MODE (connect, fanout, rpc, broker, worker, state, roll, rules)");
        goto cleanup;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
        *help = true;
        rc = 0;
        goto cleanup;
    }
    int mode = -1;
    for (int m = 0; m < PL_LMODE_COUNT; m++)
        if (strcmp (argv[1], s_modes[m]) == 0)
            mode = m;
    if (mode < 0) {
        snprintf (err, err_size, "unknown mode '%s' (connect, fanout, rpc, broker, worker, "
                  "state, roll, rules)", argv[1]);
        goto cleanup;
    }
    o->mode = (pl_lmode_t) mode;
    o->mode_name = s_modes[mode];
    bool seen_window = false, seen_clients = false, seen_users = false;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            *help = true;
            rc = 0;
            goto cleanup;
        }
        if (strncmp (arg, "--", 2) != 0) {
            snprintf (err, err_size, "unexpected argument '%s'", arg);
            goto cleanup;
        }
        const char *name = arg + 2;
        const char *value = NULL;
        const char *eq = strchr (name, '=');
        size_t nlen = eq ? (size_t) (eq - name) : strlen (name);
        const s_opt_t *opt = NULL;
        for (size_t k = 0; k < sizeof s_opts / sizeof s_opts[0]; k++)
            if (strlen (s_opts[k].name) == nlen && strncmp (s_opts[k].name, name, nlen) == 0)
                opt = &s_opts[k];
        if (!opt) {
            snprintf (err, err_size, "unknown option '%s'", arg);
            goto cleanup;
        }
        if (!(opt->modes & (1u << mode))) {
            snprintf (err, err_size, "--%s does not apply to mode %s", opt->name, o->mode_name);
            goto cleanup;
        }
        if (eq)
            value = eq + 1;
        else
        if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf (err, err_size, "--%s needs a value", opt->name);
            goto cleanup;
        }
        void *field = (char *) o + opt->offset;
        if (opt->type == T_STR) {
            if (!*value) {
                snprintf (err, err_size, "--%s must not be empty", opt->name);
                goto cleanup;
            }
            *(const char **) field = value;
        }
        else {
            char *end = NULL;
            errno = 0;
            double v = strtod (value, &end);
            if (errno || end == value || *end || !isfinite (v) || v < opt->min || v > opt->max
            ||  (opt->type != T_DBL && v != floor (v))) {
                snprintf (err, err_size, "--%s: '%s' is not a%s number in [%g, %g]", opt->name,
                          value, opt->type == T_DBL ? "" : "n integer", opt->min, opt->max);
                goto cleanup;
            }
            if (opt->type == T_U32)
                *(uint32_t *) field = (uint32_t) v;
            else
            if (opt->type == T_INT)
                *(int *) field = (int) v;
            else
                *(double *) field = v;
        }
        seen_window |= strcmp (opt->name, "window") == 0;
        seen_clients |= strcmp (opt->name, "clients") == 0;
        seen_users |= strcmp (opt->name, "users") == 0;
    }
    /* per-mode defaults */
    if (!seen_window)
        o->window = o->mode == PL_LMODE_FANOUT ? 32 : 1;
    if (!seen_clients)
        o->clients = o->mode == PL_LMODE_BROKER ? 1 : 10;
    if (!seen_users)
        o->users = o->mode == PL_LMODE_WORKER || o->mode == PL_LMODE_ROLL
                 || o->mode == PL_LMODE_RULES ? 100 : o->conns;
    if (o->rate < 0)
        o->rate = o->mode == PL_LMODE_FANOUT ? 100 : 0;
    /* cross-checks */
    switch (o->mode) {
        case PL_LMODE_CONNECT: case PL_LMODE_FANOUT: case PL_LMODE_RPC: case PL_LMODE_STATE:
            if (pl_loadopt_loopback (o->host, o->port, &o->addr, &o->addr_len) != 0) {
                snprintf (err, err_size, "--host %s: only loopback targets (127.0.0.0/8, ::1, "
                          "localhost) are allowed", o->host);
                goto cleanup;
            }
            if (o->path[0] != '/') {
                snprintf (err, err_size, "--path must start with /");
                goto cleanup;
            }
            break;
        case PL_LMODE_BROKER:
            if (!o->frontend || !o->backend) {
                snprintf (err, err_size, "broker mode needs --frontend and --backend");
                goto cleanup;
            }
            if (!pl_loadopt_local_endpoint (o->frontend) || !pl_loadopt_local_endpoint (o->backend)) {
                snprintf (err, err_size, "--frontend/--backend must be ipc:// or tcp:// on a "
                          "loopback address");
                goto cleanup;
            }
            break;
        case PL_LMODE_WORKER: case PL_LMODE_ROLL:
            if (!o->bind) {
                snprintf (err, err_size, "%s mode needs --bind", o->mode_name);
                goto cleanup;
            }
            if (!pl_loadopt_local_endpoint (o->bind)) {
                snprintf (err, err_size, "--bind must be ipc:// or tcp:// on a loopback address");
                goto cleanup;
            }
            if (o->reads + o->writes > 100) {
                snprintf (err, err_size, "--reads + --writes is more than 100%%");
                goto cleanup;
            }
            break;
        case PL_LMODE_RULES:
            if (!o->events_in || !o->events_out || !o->redis) {
                snprintf (err, err_size, "rules mode needs --events-in, --events-out and --redis");
                goto cleanup;
            }
            if (!pl_loadopt_local_endpoint (o->events_in)
            ||  !pl_loadopt_local_endpoint (o->events_out)) {
                snprintf (err, err_size, "--events-in/--events-out must be ipc:// or tcp:// on a "
                          "loopback address");
                goto cleanup;
            }
            break;
        default:
            break;
    }
    if (o->mode == PL_LMODE_FANOUT) {
        if (o->rooms > o->conns) {
            snprintf (err, err_size, "--rooms %u is more than --conns %u: a room would have "
                      "no receiver", o->rooms, o->conns);
            goto cleanup;
        }
        if (o->rate <= 0) {
            snprintf (err, err_size, "fanout needs --rate > 0 (events per second)");
            goto cleanup;
        }
    }
    if (o->mode == PL_LMODE_STATE && o->updates && o->updates < o->sessions) {
        snprintf (err, err_size, "--updates %u is less than --sessions %u: a session would "
                  "send nothing", o->updates, o->sessions);
        goto cleanup;
    }
    /* One loop per thread needs something to do. */
    uint32_t units = o->mode == PL_LMODE_FANOUT ? o->rooms
                   : o->mode == PL_LMODE_RPC ? o->clients
                   : o->mode == PL_LMODE_STATE ? o->sessions : o->conns;
    if (o->threads > units)
        o->threads = units;
    rc = 0;
cleanup:
    return rc;
}

/* --------------------------------------------------------------------- */

static int
s_parse (pl_loadopt_t *o, const char *line)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    bool help;
    char err[256];
    snprintf (buf, sizeof buf, "parley-load %s", line);
    for (char *tok = strtok (buf, " "); tok && argc < 32; tok = strtok (NULL, " "))
        argv[argc++] = tok;
    int rc = pl_loadopt_parse (o, argc, argv, &help, err, sizeof err);
    /* strings point into buf: clear them, the tests only look at numbers */
    o->host = o->path = o->secret = o->frontend = o->backend = o->bind = NULL;
    return rc;
}

void
pl_loadopt_test (bool verbose)
{
    if (verbose)
        printf (" * pl_loadopt: ");
    struct sockaddr_storage addr;
    socklen_t len;
    assert (pl_loadopt_loopback ("127.0.0.1", 80, &addr, &len) == 0 && addr.ss_family == AF_INET);
    assert (pl_loadopt_loopback ("127.1.2.3", 80, &addr, &len) == 0);
    assert (pl_loadopt_loopback ("localhost", 80, &addr, &len) == 0);
    assert (pl_loadopt_loopback ("::1", 80, &addr, &len) == 0 && addr.ss_family == AF_INET6);
    assert (pl_loadopt_loopback ("10.0.0.1", 80, &addr, &len) == -1);
    assert (pl_loadopt_loopback ("0.0.0.0", 80, &addr, &len) == -1);
    assert (pl_loadopt_loopback ("128.0.0.1", 80, &addr, &len) == -1);
    assert (pl_loadopt_loopback ("example.com", 80, &addr, &len) == -1);
    assert (pl_loadopt_loopback ("::", 80, &addr, &len) == -1);
    assert (pl_loadopt_loopback ("::ffff:8.8.8.8", 80, &addr, &len) == -1);

    assert (pl_loadopt_local_endpoint ("ipc:///tmp/x.ipc"));
    assert (pl_loadopt_local_endpoint ("tcp://127.0.0.1:5555"));
    assert (pl_loadopt_local_endpoint ("tcp://localhost:5555"));
    assert (pl_loadopt_local_endpoint ("tcp://[::1]:5555"));
    assert (!pl_loadopt_local_endpoint ("tcp://*:5555"));
    assert (!pl_loadopt_local_endpoint ("tcp://0.0.0.0:5555"));
    assert (!pl_loadopt_local_endpoint ("tcp://10.1.1.1:5555"));
    assert (!pl_loadopt_local_endpoint ("tcp://127.0.0.1"));
    assert (!pl_loadopt_local_endpoint ("tcp://127.0.0.1:0"));
    assert (!pl_loadopt_local_endpoint ("tcp://127.0.0.1:x"));
    assert (!pl_loadopt_local_endpoint ("inproc://x"));
    assert (!pl_loadopt_local_endpoint ("ipc://"));
    assert (!pl_loadopt_local_endpoint ("pgm://eth0;239.1.1.1:5555"));

    pl_loadopt_t o;
    assert (s_parse (&o, "rpc") == 0);
    assert (o.mode == PL_LMODE_RPC && o.window == 1 && o.clients == 10 && o.rate == 0);
    assert (o.duration == 10 && o.port == 8080);
    assert (s_parse (&o, "fanout --conns 50 --rooms 5") == 0);
    assert (o.window == 32 && o.rate == 100 && o.rooms == 5);
    assert (s_parse (&o, "fanout --conns 5 --rooms 6") == -1);
    assert (s_parse (&o, "fanout --rate 0") == -1);
    assert (s_parse (&o, "connect --conns=7 --rate 2.5 --hold 0") == 0);
    assert (o.conns == 7 && o.rate == 2.5 && o.hold == 0 && o.users == 7);
    assert (s_parse (&o, "connect --threads 9 --conns 3") == 0 && o.threads == 3);
    assert (s_parse (&o, "rpc --duration 301") == -1);          /* the hard bound */
    assert (s_parse (&o, "rpc --duration 0") == -1);
    assert (s_parse (&o, "rpc --clients 1.5") == -1);
    assert (s_parse (&o, "rpc --clients -1") == -1);
    assert (s_parse (&o, "rpc --clients") == -1);
    assert (s_parse (&o, "rpc --window 2000") == -1);
    assert (s_parse (&o, "rpc --host 192.168.1.1") == -1);
    assert (s_parse (&o, "rpc --host ::1") == 0);
    assert (s_parse (&o, "rpc --hold 3") == -1);                 /* not an rpc option */
    assert (s_parse (&o, "rpc --bogus 3") == -1);
    assert (s_parse (&o, "rpc stray") == -1);
    assert (s_parse (&o, "teleport") == -1);
    assert (s_parse (&o, "") == -1);
    assert (s_parse (&o, "broker --frontend ipc:///a --backend ipc:///b") == 0);
    assert (o.clients == 1 && o.window == 1 && o.workers == 1);
    assert (s_parse (&o, "broker --frontend ipc:///a") == -1);
    assert (s_parse (&o, "broker --frontend tcp://10.0.0.1:1 --backend ipc:///b") == -1);
    assert (s_parse (&o, "worker --bind tcp://127.0.0.1:7000") == 0 && o.users == 100);
    assert (s_parse (&o, "worker --bind tcp://*:7000") == -1);
    assert (s_parse (&o, "worker") == -1);
    assert (s_parse (&o, "roll --bind ipc:///tmp/x.ipc") == 0);
    assert (o.mode == PL_LMODE_ROLL && o.users == 100 && strcmp (o.expression, "4d6kh3+1d20+2") == 0);
    assert (s_parse (&o, "roll --bind ipc:///tmp/x.ipc --expression 1d20 --users 3") == 0);
    assert (strcmp (o.expression, "1d20") == 0 && o.users == 3);
    assert (s_parse (&o, "roll") == -1);
    assert (s_parse (&o, "roll --bind ipc:///tmp/x.ipc --reads 5") == -1);
    assert (s_parse (&o, "worker --bind ipc:///tmp/x.ipc --expression 1d6") == -1);
    assert (s_parse (&o, "rules --events-in ipc:///tmp/i.ipc --events-out ipc:///tmp/o.ipc "
                         "--redis unix:///tmp/r.sock") == 0);
    assert (o.mode == PL_LMODE_RULES && o.users == 100 && o.rules == 10);
    assert (s_parse (&o, "rules --events-in ipc:///tmp/i.ipc --events-out ipc:///tmp/o.ipc") == -1);
    assert (s_parse (&o, "rules --events-in ipc:///tmp/i.ipc --events-out ipc:///tmp/o.ipc "
                         "--redis unix:///tmp/r.sock --rules 1") == -1);
    assert (s_parse (&o, "state") == 0);
    assert (o.mode == PL_LMODE_STATE && o.sessions == 10 && o.receivers == 0 && o.updates == 0);
    assert (s_parse (&o, "state --sessions 4 --receivers 2 --updates 400 --threads 8") == 0);
    assert (o.sessions == 4 && o.receivers == 2 && o.updates == 400 && o.threads == 4);
    assert (s_parse (&o, "state --sessions 4 --updates 3") == -1);    /* one would idle */
    assert (s_parse (&o, "state --rate 10") == -1);                   /* back to back only */
    assert (s_parse (&o, "state --window 2") == -1);
    assert (s_parse (&o, "state --host 10.0.0.1") == -1);
    assert (s_parse (&o, "rpc --sessions 2") == -1);
    if (verbose)
        printf ("OK\n");
}
