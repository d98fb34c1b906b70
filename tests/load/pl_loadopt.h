/*  pl_loadopt - parley-load's command line: modes, options, defaults,
 *  limits, and the loopback-only rule for targets. Pure (no I/O besides
 *  the usage text), so the selftest covers every refusal.
 */
#ifndef PL_LOADOPT_H
#define PL_LOADOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum {
    PL_LMODE_CONNECT, PL_LMODE_FANOUT, PL_LMODE_RPC, PL_LMODE_BROKER, PL_LMODE_WORKER,
    PL_LMODE_STATE, PL_LMODE_ROLL, PL_LMODE_RULES,
    PL_LMODE_COUNT
} pl_lmode_t;

/* Hard bounds: a load run must end, and must not be a fork bomb. */
#define PL_LOADOPT_DURATION_MAX 300.0   /* s, --duration and --hold        */
#define PL_LOADOPT_CONNS_MAX    1000000
#define PL_LOADOPT_THREADS_MAX  64
#define PL_LOADOPT_WINDOW_MAX   1024
#define PL_LOADOPT_WORKERS_MAX  256

typedef struct {
    pl_lmode_t mode;
    const char *mode_name;          /* "connect", ...                          */
    /* target (WebSocket modes) */
    const char *host;               /* --host, loopback only (127.0.0.1)       */
    int port;                       /* --port (8080)                           */
    const char *path;               /* --path (/socket.io/?EIO=4&transport=websocket) */
    const char *secret;             /* --secret (the dev secret)               */
    struct sockaddr_storage addr;   /* host:port, resolved by the parser       */
    socklen_t addr_len;
    /* sizes and pacing */
    uint32_t conns;                 /* --conns: connect/fanout (100)           */
    uint32_t users;                 /* --users: connect/worker, distinct users */
    uint32_t rooms;                 /* --rooms: fanout (10)                    */
    uint32_t clients;               /* --clients: rpc (10), broker (1)         */
    uint32_t window;                /* --window: rpc/broker 1, fanout 32       */
    uint32_t workers;               /* --workers: broker echo workers (1)      */
    uint32_t credit;                /* --credit: broker echo workers' (32)     */
    uint32_t sessions;              /* --sessions: state, game sessions (10)   */
    uint32_t receivers;             /* --receivers: state, more members each (0) */
    uint32_t updates;               /* --updates: state, in all (0 = no limit) */
    uint32_t threads;               /* --threads (1)                           */
    uint32_t concurrency;           /* --concurrency: handshakes in flight (200) */
    double rate;                    /* --rate: connects/s, events/s, requests/s */
    double duration;                /* --duration s (10)                       */
    double hold;                    /* --hold s: connect (5)                   */
    double timeout;                 /* --timeout s: handshake / READY wait (10) */
    double drain;                   /* --drain s: after the run (5)            */
    double progress;                /* --progress s: stderr lines (1; 0 = off) */
    int gateway_pid;                /* --gateway-pid: CPU (and RSS) from /proc */
    int heartbeat_ms;               /* --heartbeat-ms: broker/worker (1000)    */
    /* ZeroMQ modes */
    const char *frontend;           /* --frontend: broker                      */
    const char *backend;            /* --backend: broker                       */
    const char *bind;               /* --bind: worker                          */
    uint32_t reads;                 /* --reads: worker, percent of reads (0)   */
    uint32_t writes;                /* --writes: worker, percent of updates (0) */
    const char *expression;         /* --expression: roll's dice (4d6kh3+1d20+2) */
    const char *events_in;          /* --events-in: rules, the bus XSUB to bind */
    const char *events_out;         /* --events-out: rules, the bus XPUB to bind */
    const char *redis;              /* --redis: rules, the worker's Redis URL  */
    uint32_t rules;                 /* --rules: rules, rules in the campaign (10) */
} pl_loadopt_t;

/* Parse argv (argv[1] is the mode). Returns 0, or -1 with a message in
 * err. --help sets *help and returns 0. */
int pl_loadopt_parse (pl_loadopt_t *opts, int argc, char **argv, bool *help,
                      char *err, size_t err_size);
void pl_loadopt_usage (void);

/* host must be loopback: a 127.0.0.0/8 or ::1 literal, or "localhost"
 * (taken as 127.0.0.1; no resolver, so /etc/hosts cannot point it away).
 * Fills addr. Returns 0 or -1. */
int pl_loadopt_loopback (const char *host, int port, struct sockaddr_storage *addr,
                         socklen_t *addr_len);
/* A ZeroMQ endpoint that stays on this host: ipc://, or tcp:// on a
 * loopback address (as above). */
bool pl_loadopt_local_endpoint (const char *endpoint);

void pl_loadopt_test (bool verbose);

#endif
