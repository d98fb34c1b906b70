/*  pl_loadrun - shared runtime of parley-load's modes; see pl_loadrun.h. */
#include "pl_loadrun.h"
#include "pl_loadws.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
pl_loadrun_init (pl_loadrun_t *run, const pl_loadopt_t *opts, uint64_t fds_needed)
{
    int rc = -1;
    memset (run, 0, sizeof *run);
    run->opts = opts;
    run->signal_fd = -1;
    run->started = pl_loadnet_now ();
    atomic_init (&run->phase, 0);
    atomic_init (&run->interrupted, false);
    for (int p = 0; p < PL_LOADRUN_PHASES; p++)
        atomic_init (&run->arrived[p], 0);
    uint32_t r = 0;
    if (getrandom (&r, sizeof r, 0) != sizeof r)
        r = (uint32_t) getpid () ^ (uint32_t) run->started;
    snprintf (run->nonce, sizeof run->nonce, "%08x", r);

    /* Signals go to a signalfd on the first loop; blocked before any
     * thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL) != 0)
        goto cleanup;
    run->signal_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (run->signal_fd < 0) {
        fprintf (stderr, "parley-load: signalfd: %s\n", strerror (errno));
        goto cleanup;
    }
    signal (SIGPIPE, SIG_IGN);

    /* Connections are fds: take all the kernel allows us. */
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
                fprintf (stderr, "parley-load: cannot raise RLIMIT_NOFILE: %s\n", strerror (errno));
            getrlimit (RLIMIT_NOFILE, &rl);
        }
        run->nofile = rl.rlim_cur;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < fds_needed)
            fprintf (stderr, "parley-load: WARNING: RLIMIT_NOFILE is %llu (hard limit %llu) but "
                     "this run needs about %llu fds; connections past it will fail as "
                     "\"socket\" (raise it with ulimit -Hn / LimitNOFILE)\n",
                     (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max,
                     (unsigned long long) fds_needed);
    }
    rc = 0;
cleanup:
    return rc;
}

void
pl_loadrun_fini (pl_loadrun_t *run)
{
    if (run->signal_fd >= 0)
        close (run->signal_fd);
    run->signal_fd = -1;
}

void
pl_loadrun_set_loops (pl_loadrun_t *run, pl_loadnet_t **nets, uint32_t loops)
{
    run->nets = nets;
    run->loops = loops;
}

static void
s_wake_all (pl_loadrun_t *run)
{
    for (uint32_t i = 0; i < run->loops; i++)
        if (run->nets[i])
            pl_loadnet_wake (run->nets[i]);
}

void
pl_loadrun_arrive (pl_loadrun_t *run, int phase)
{
    assert (phase >= 0 && phase + 1 < PL_LOADRUN_PHASES);
    if (atomic_fetch_add (&run->arrived[phase], 1) + 1 == run->loops) {
        /* the last loop to arrive: start the next phase for everyone; the
         * atomic store publishes phase_at to the loads in other loops */
        run->phase_at[phase + 1] = pl_loadnet_now ();
        atomic_store (&run->phase, phase + 1);
        s_wake_all (run);
    }
}

int
pl_loadrun_phase (pl_loadrun_t *run)
{
    return atomic_load (&run->phase);
}

void
pl_loadrun_interrupt (pl_loadrun_t *run)
{
    if (!atomic_exchange (&run->interrupted, true))
        fprintf (stderr, "parley-load: interrupted; finishing the run early\n");
    s_wake_all (run);
}

bool
pl_loadrun_interrupted (pl_loadrun_t *run)
{
    return atomic_load (&run->interrupted);
}

int
pl_loadrun_threads (uint32_t n, void *(*fn) (void *), void **args)
{
    int rc = 0;
    pthread_t *tids = calloc (n, sizeof *tids);
    uint32_t started = 0;
    if (!tids)
        return -1;
    for (; started < n; started++)
        if (pthread_create (&tids[started], NULL, fn, args[started]) != 0) {
            fprintf (stderr, "parley-load: cannot start a thread\n");
            rc = -1;
            break;
        }
    for (uint32_t i = 0; i < started; i++)
        pthread_join (tids[i], NULL);
    free (tids);
    return rc;
}

/* Thread body: one loop. */
static void *
s_loop_thread (void *arg)
{
    pl_loadnet_run ((pl_loadnet_t *) arg);
    return NULL;
}

int
pl_loadrun_loops (pl_loadnet_t **nets, uint32_t n)
{
    if (n == 1)
        return pl_loadnet_run (nets[0]);    /* no thread for a single loop */
    return pl_loadrun_threads (n, s_loop_thread, (void **) nets);
}

int
pl_loadrun_shards (pl_loadrun_t *run, const pl_loadrun_shard_ops_t *ops, void **shards_p,
                   pl_loadnet_t ***nets_p)
{
    int rc = -1;
    uint32_t loops = run->opts->threads;
    char *shards = calloc (loops, ops->size);
    pl_loadnet_t **nets = calloc (loops, sizeof *nets);
    *shards_p = shards;
    *nets_p = nets;
    if (!shards || !nets)
        goto cleanup;
    for (uint32_t k = 0; k < loops; k++)
        if (!(nets[k] = ops->init (shards + k * ops->size, run, k, loops)))
            goto cleanup;
    pl_loadrun_set_loops (run, nets, loops);
    rc = pl_loadrun_loops (nets, loops);
cleanup:
    return rc;
}

void
pl_loadrun_shards_free (pl_loadrun_t *run, const pl_loadrun_shard_ops_t *ops, void **shards_p,
                        pl_loadnet_t ***nets_p)
{
    char *shards = *shards_p;
    for (uint32_t k = 0; shards && k < run->opts->threads; k++)
        ops->fini (shards + k * ops->size);
    free (shards);
    free (*nets_p);
    *shards_p = NULL;
    *nets_p = NULL;
}

void
pl_loadrun_on_interrupt (void *shard)
{
    pl_loadrun_interrupt (*(pl_loadrun_t **) shard);
}

pl_loadnet_opts_t
pl_loadrun_net_opts (pl_loadrun_t *run, uint32_t index, uint32_t conns)
{
    const pl_loadopt_t *o = run->opts;
    pl_loadnet_opts_t n = {
        .addr = o->addr, .addr_len = o->addr_len,
        .host = o->host, .port = o->port, .path = o->path, .secret = o->secret,
        .conns = conns,
        .handshake_timeout_ns = (int64_t) (o->timeout * 1e9),
        .max_message = 1u << 20,
        .signal_fd = index == 0 ? run->signal_fd : -1,
        .seed = ((uint64_t) run->started << 8) ^ (index + 1) * 0x9E3779B97F4A7C15ULL,
    };
    return n;
}

long
pl_loadrun_rss_kb (int pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    while (fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0) {
            kb = strtol (line + 6, NULL, 10);
            break;
        }
    fclose (f);
    return kb;
}

double
pl_loadrun_cpu_s (int pid)
{
    char path[64], buf[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    /* fields after "(comm)", which may hold spaces: state is field 3,
     * utime 14, stime 15 (proc(5)) */
    char *p = strrchr (buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                      &utime, &stime) != 2)
        return -1;
    long hz = sysconf (_SC_CLK_TCK);
    return hz > 0 ? (double) (utime + stime) / (double) hz : -1;
}

void
pl_loadrun_add_cpu (cJSON *obj, double before, double after, double secs)
{
    if (before < 0 || after < 0 || secs <= 0)
        return;
    cJSON_AddNumberToObject (obj, "gateway_cpu_s", pl_loadrun_round (after - before, 2));
    cJSON_AddNumberToObject (obj, "gateway_cpu_pct",
                             pl_loadrun_round ((after - before) * 100.0 / secs, 1));
}

/* ---- summary ----------------------------------------------------------- */

cJSON *
pl_loadrun_summary (pl_loadrun_t *run)
{
    cJSON *obj = cJSON_CreateObject ();
    if (!obj)
        return NULL;
    cJSON_AddStringToObject (obj, "mode", run->opts->mode_name);
    cJSON_AddBoolToObject (obj, "ok", false);       /* the mode replaces it */
    cJSON_AddStringToObject (obj, "nonce", run->nonce);
    if (run->opts->mode <= PL_LMODE_RPC) {
        char target[96];
        bool v6 = strchr (run->opts->host, ':') != NULL;
        snprintf (target, sizeof target, "%s%s%s:%d", v6 ? "[" : "", run->opts->host,
                  v6 ? "]" : "", run->opts->port);
        cJSON_AddStringToObject (obj, "target", target);
        cJSON_AddNumberToObject (obj, "threads", run->opts->threads);
    }
    cJSON_AddBoolToObject (obj, "interrupted", pl_loadrun_interrupted (run));
    cJSON_AddNumberToObject (obj, "nofile_limit", (double) run->nofile);
    return obj;
}

static double
s_ms (uint64_t ns)
{
    /* three decimals: microsecond resolution is plenty for a summary */
    return (double) (int64_t) (ns / 1000) / 1000.0;
}

void
pl_loadrun_add_latency (cJSON *obj, const pl_loadhist_t *h, const char *prefix)
{
    static const struct { const char *key; double p; } s_ps[] = {
        { "p50_ms", 50 }, { "p95_ms", 95 }, { "p99_ms", 99 }, { "p999_ms", 99.9 }
    };
    char key[64];
    for (size_t i = 0; i < sizeof s_ps / sizeof s_ps[0]; i++) {
        snprintf (key, sizeof key, "%s%s", prefix, s_ps[i].key);
        cJSON_AddNumberToObject (obj, key, s_ms (pl_loadhist_percentile (h, s_ps[i].p)));
    }
    snprintf (key, sizeof key, "%smax_ms", prefix);
    cJSON_AddNumberToObject (obj, key, s_ms (pl_loadhist_max (h)));
    snprintf (key, sizeof key, "%smean_ms", prefix);
    cJSON_AddNumberToObject (obj, key, s_ms ((uint64_t) pl_loadhist_mean (h)));
}

void
pl_loadrun_add_failures (cJSON *obj, const uint64_t failures[PL_LFAIL_COUNT])
{
    cJSON *f = cJSON_AddObjectToObject (obj, "failures");
    for (int k = 0; f && k < PL_LFAIL_COUNT; k++)
        cJSON_AddNumberToObject (f, pl_loadnet_fail_name ((pl_lfail_t) k), (double) failures[k]);
}

void
pl_loadrun_add_nets (cJSON *obj, pl_loadnet_t **nets, uint32_t n)
{
    uint64_t failures[PL_LFAIL_COUNT] = { 0 };
    uint64_t pings = 0;
    pl_loadhist_t *hs = pl_loadhist_new ();
    for (uint32_t i = 0; i < n; i++) {
        pl_loadnet_stats_t st;
        pl_loadnet_stats (nets[i], &st);
        for (int k = 0; k < PL_LFAIL_COUNT; k++)
            failures[k] += st.failures[k];
        pings += st.pings;
        if (hs)
            pl_loadhist_merge (hs, st.handshake);
    }
    pl_loadrun_add_failures (obj, failures);
    cJSON_AddNumberToObject (obj, "pings", (double) pings);
    if (hs)
        pl_loadrun_add_latency (obj, hs, "handshake_");
    pl_loadhist_destroy (&hs);
}

void
pl_loadrun_print (cJSON **obj_p)
{
    char *text = *obj_p ? cJSON_PrintUnformatted (*obj_p) : NULL;
    if (text)
        printf ("%s\n", text);
    else
        printf ("{\"ok\":false,\"error\":\"out of memory\"}\n");
    fflush (stdout);
    free (text);
    cJSON_Delete (*obj_p);
    *obj_p = NULL;
}

int
pl_loadrun_print_ok (cJSON **obj_p, bool ok)
{
    cJSON_ReplaceItemInObject (*obj_p, "ok", cJSON_CreateBool (ok));
    pl_loadrun_print (obj_p);
    return ok ? 0 : 1;
}

double
pl_loadrun_add_rate (cJSON *obj, double count, double secs, const char *unit)
{
    double rate = secs > 0 ? count / secs : 0;
    cJSON_AddNumberToObject (obj, "rate", pl_loadrun_round (rate, 1));
    cJSON_AddStringToObject (obj, "rate_unit", unit);
    return rate;
}

double
pl_loadrun_round (double v, int decimals)
{
    double scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    return round (v * scale) / scale;
}

void
pl_loadrun_print_error (const pl_loadopt_t *opts, const char *error)
{
    cJSON *obj = cJSON_CreateObject ();
    if (obj) {
        cJSON_AddStringToObject (obj, "mode", opts->mode_name);
        cJSON_AddBoolToObject (obj, "ok", false);
        cJSON_AddStringToObject (obj, "error", error);
    }
    pl_loadrun_print (&obj);
}

/* ---- error codes --------------------------------------------------------- */

void
pl_loadrun_code_add (pl_loadrun_codes_t *codes, const char *code, uint64_t n)
{
    for (uint32_t i = 0; i < codes->used; i++)
        if (strcmp (codes->code[i], code) == 0) {
            codes->count[i] += n;
            return;
        }
    if (codes->used < PL_LOADRUN_CODES && strlen (code) < sizeof codes->code[0]) {
        strcpy (codes->code[codes->used], code);
        codes->count[codes->used++] = n;
        return;
    }
    codes->other += n;
}

void
pl_loadrun_codes_merge (pl_loadrun_codes_t *into, const pl_loadrun_codes_t *from)
{
    for (uint32_t i = 0; i < from->used; i++)
        pl_loadrun_code_add (into, from->code[i], from->count[i]);
    into->other += from->other;
}

uint64_t
pl_loadrun_codes_total (const pl_loadrun_codes_t *codes)
{
    uint64_t total = codes->other;
    for (uint32_t i = 0; i < codes->used; i++)
        total += codes->count[i];
    return total;
}

void
pl_loadrun_add_codes (cJSON *obj, const pl_loadrun_codes_t *codes)
{
    cJSON *e = cJSON_AddObjectToObject (obj, "errors");
    for (uint32_t i = 0; e && i < codes->used; i++)
        cJSON_AddNumberToObject (e, codes->code[i], (double) codes->count[i]);
    if (e && codes->other)
        cJSON_AddNumberToObject (e, "OTHER", (double) codes->other);
}

void
pl_loadrun_code_from_ack (pl_loadrun_codes_t *codes, const char *data, size_t len)
{
    char code[40];
    if (pl_loadws_json_str (data, len, "code", code, sizeof code) < 0)
        strcpy (code, "UNPARSED");
    pl_loadrun_code_add (codes, code, 1);
}

int
pl_loadrun_send_text (pl_loadnet_t *net, uint32_t slot, uint8_t *buf, size_t plen)
{
    uint8_t hdr[PL_LOADWS_HDR_MAX];
    size_t hlen = pl_loadws_header (hdr, PL_LOADWS_TEXT, plen);
    uint8_t *start = buf + PL_LOADWS_HDR_MAX - hlen;
    memcpy (start, hdr, hlen);
    return pl_loadnet_send (net, slot, start, hlen + plen);
}

bool
pl_loadrun_progress_due (pl_loadrun_t *run, uint32_t index, int64_t *next_progress,
                         int64_t now, int64_t *next)
{
    bool due = false;
    double every = run->opts->progress;
    if (index != 0 || every <= 0)
        return false;
    if (now >= *next_progress) {
        due = *next_progress != 0;
        *next_progress = now + (int64_t) (every * 1e9);
    }
    if (*next_progress < *next)
        *next = *next_progress;
    return due;
}

void
pl_loadrun_progress (pl_loadrun_t *run, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    fprintf (stderr, "parley-load %s %6.1fs: %s\n", run->opts->mode_name,
             (double) (pl_loadnet_now () - run->started) / 1e9, line);
}
