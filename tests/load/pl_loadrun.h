/*  pl_loadrun - what every parley-load mode shares: the run (options,
 *  nonce, signals), phases across loops, threads, the process limits, the
 *  gateway's RSS and the one-line JSON summary.
 *
 *  Phases. A WebSocket mode runs one loop per thread, each over its own
 *  share of the connections. So that a measurement starts at the same
 *  moment everywhere (e.g. nobody publishes before every receiver is
 *  connected), each loop "arrives" at the end of a phase; when the last one
 *  arrives, the next phase starts with a shared start time and every loop
 *  is woken (eventfd). Loops keep serving their connections (pings) while
 *  they wait.
 */
#ifndef PL_LOADRUN_H
#define PL_LOADRUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_loadopt.h"
#include "pl_loadnet.h"
#include "pl_loadhist.h"

#define PL_LOADRUN_PHASES 8

/* Counters one loop owns and another reads for progress lines: the owner
 * stores with a relaxed atomic (a plain store on x86), readers load so. */
#define PL_LOADRUN_INC(x)  __atomic_store_n (&(x), (x) + 1, __ATOMIC_RELAXED)
#define PL_LOADRUN_ADD(x, n) __atomic_store_n (&(x), (x) + (n), __ATOMIC_RELAXED)
#define PL_LOADRUN_GET(x)  __atomic_load_n (&(x), __ATOMIC_RELAXED)

typedef struct {
    const pl_loadopt_t *opts;       /* parsed command line                  */
    char nonce[9];                  /* 8 hex chars, unique per run          */
    int signal_fd;                  /* SIGINT/SIGTERM, or -1                */
    int64_t started;                /* CLOCK_MONOTONIC ns at start          */
    uint32_t loops;                 /* loops (threads) taking part          */
    pl_loadnet_t **nets;            /* one per loop, to wake them           */
    atomic_uint arrived[PL_LOADRUN_PHASES];
    atomic_int phase;               /* current phase, from 0                */
    atomic_bool interrupted;        /* SIGINT/SIGTERM seen                  */
    int64_t phase_at[PL_LOADRUN_PHASES];    /* start of each phase, ns      */
    uint64_t nofile;                /* RLIMIT_NOFILE after raising it       */
} pl_loadrun_t;

/* Set up a run: nonce, signals blocked (a signalfd instead), RLIMIT_NOFILE
 * raised to the hard limit and compared with `fds_needed` (a warning on
 * stderr if too low). Returns 0 or -1. */
int pl_loadrun_init (pl_loadrun_t *run, const pl_loadopt_t *opts, uint64_t fds_needed);
void pl_loadrun_fini (pl_loadrun_t *run);

/* Phases (see above). nets: the loops to wake, loops of them. */
void pl_loadrun_set_loops (pl_loadrun_t *run, pl_loadnet_t **nets, uint32_t loops);
/* This loop is done with `phase`. Idempotence is the caller's job. */
void pl_loadrun_arrive (pl_loadrun_t *run, int phase);
int pl_loadrun_phase (pl_loadrun_t *run);
/* SIGINT/SIGTERM: flag it and wake every loop. */
void pl_loadrun_interrupt (pl_loadrun_t *run);
bool pl_loadrun_interrupted (pl_loadrun_t *run);

/* Run fn(args[i]) on n threads and join them. Returns 0 or -1. */
int pl_loadrun_threads (uint32_t n, void *(*fn) (void *), void **args);
/* Run every loop in nets on its own thread until each stops. 0 or -1. */
int pl_loadrun_loops (pl_loadnet_t **nets, uint32_t n);

/* The shards of a WebSocket mode: one per loop (--threads), each owning
 * its loop and its share of the work. A mode's shard struct starts with
 * its pl_loadrun_t pointer (pl_loadrun_on_interrupt relies on it). */
typedef struct {
    size_t size;                    /* bytes of one shard                   */
    /* Set up shard k of loops (zeroed; the array of all of them is at
     * shard - k * size): its loop, or NULL on failure. */
    pl_loadnet_t *(*init) (void *shard, pl_loadrun_t *run, uint32_t k, uint32_t loops);
    /* Free what init made, the loop included; also after a failed init. */
    void (*fini) (void *shard);
} pl_loadrun_shard_ops_t;

/* Make run->opts->threads shards, then run every loop until it stops.
 * *shards_p and *nets_p (one per loop) are set even on failure, for
 * pl_loadrun_shards_free. Returns 0 or -1. */
int pl_loadrun_shards (pl_loadrun_t *run, const pl_loadrun_shard_ops_t *ops, void **shards_p,
                       pl_loadnet_t ***nets_p);
/* fini every shard and free both arrays; nulls the pointers. */
void pl_loadrun_shards_free (pl_loadrun_t *run, const pl_loadrun_shard_ops_t *ops, void **shards_p,
                             pl_loadnet_t ***nets_p);
/* pl_loadnet's interrupt callback (loop 0: SIGINT/SIGTERM) for any mode whose
 * shard starts with its pl_loadrun_t pointer: every WebSocket mode. */
void pl_loadrun_on_interrupt (void *shard);

/* Options for loop `index` of a WebSocket mode with `conns` slots. */
pl_loadnet_opts_t pl_loadrun_net_opts (pl_loadrun_t *run, uint32_t index, uint32_t conns);

/* VmRSS of pid in kB, or -1. */
long pl_loadrun_rss_kb (int pid);
/* CPU time (user + system) pid has used, in seconds, or -1. */
double pl_loadrun_cpu_s (int pid);
/* "gateway_cpu_s" and "gateway_cpu_pct" (of one core) over secs, when both
 * readings exist. */
void pl_loadrun_add_cpu (cJSON *obj, double before, double after, double secs);

/* The summary: an object with mode, ok and the common keys filled in.
 * Add keys, then pl_loadrun_print (prints one line on stdout, frees). */
cJSON *pl_loadrun_summary (pl_loadrun_t *run);
/* p50_ms, p95_ms, p99_ms, p999_ms, max_ms, mean_ms of h (ns). */
void pl_loadrun_add_latency (cJSON *obj, const pl_loadhist_t *h, const char *prefix);
/* "failures": {socket, connect, ... } from summed counters. */
void pl_loadrun_add_failures (cJSON *obj, const uint64_t failures[PL_LFAIL_COUNT]);
/* Merged loop stats: failures and handshake histogram into the summary. */
void pl_loadrun_add_nets (cJSON *obj, pl_loadnet_t **nets, uint32_t n);
void pl_loadrun_print (cJSON **obj_p);
/* Set the summary's "ok", print it as pl_loadrun_print does, and return
 * the run's exit code: 0 when ok, else 1. */
int pl_loadrun_print_ok (cJSON **obj_p, bool ok);
/* "rate": count / secs (0 when secs is not above 0), rounded to 0.1, and
 * "rate_unit": unit. Returns the rate, unrounded. */
double pl_loadrun_add_rate (cJSON *obj, double count, double secs, const char *unit);
/* v rounded to `decimals` places, for summary numbers a human reads. */
double pl_loadrun_round (double v, int decimals);
/* The summary of a run that could not happen: {"mode","ok":false,"error"}. */
void pl_loadrun_print_error (const pl_loadopt_t *opts, const char *error);

/* Error codes counted per run: a tiny fixed map from code text to count.
 * Codes past PL_LOADRUN_CODES are counted under "OTHER". */
#define PL_LOADRUN_CODES 16
typedef struct {
    char code[PL_LOADRUN_CODES][40];
    uint64_t count[PL_LOADRUN_CODES];
    uint32_t used;
    uint64_t other;
} pl_loadrun_codes_t;
void pl_loadrun_code_add (pl_loadrun_codes_t *codes, const char *code, uint64_t n);
void pl_loadrun_codes_merge (pl_loadrun_codes_t *into, const pl_loadrun_codes_t *from);
uint64_t pl_loadrun_codes_total (const pl_loadrun_codes_t *codes);
/* "errors": {code: n, ...} */
void pl_loadrun_add_codes (cJSON *obj, const pl_loadrun_codes_t *codes);
/* Count the error code of a failed ack's data (or "UNPARSED"). */
void pl_loadrun_code_from_ack (pl_loadrun_codes_t *codes, const char *data, size_t len);

/* Send the Socket.IO text packet of plen bytes at buf + PL_LOADWS_HDR_MAX
 * on slot of net, as one WebSocket text frame whose header goes into the
 * headroom just before it (buf holds PL_LOADWS_HDR_MAX + plen bytes).
 * Returns what pl_loadnet_send does. Loop thread of net. */
int pl_loadrun_send_text (pl_loadnet_t *net, uint32_t slot, uint8_t *buf, size_t plen);

/* A mode's tick, loop `index`: is a progress line due now? Only loop 0
 * prints them, every --progress s, and not at its first tick. Keeps
 * *next_progress, and lowers *next (the tick's next deadline) to it. */
bool pl_loadrun_progress_due (pl_loadrun_t *run, uint32_t index, int64_t *next_progress,
                              int64_t now, int64_t *next);

/* A progress line on stderr, prefixed with the mode and elapsed time. */
void pl_loadrun_progress (pl_loadrun_t *run, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
