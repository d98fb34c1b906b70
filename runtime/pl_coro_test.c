/*  pl_coro selftest: order of switches, the pool bound, stack reuse, the
 *  floating-point state, deep recursion hitting the guard page (in a
 *  child), and - verbose - the cost of a switch. */
#include "pl_coro.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int id;
    int steps;
    char *trace;                /* shared: each step appends a char */
} s_task_t;

static void
s_stepper (void *arg)
{
    s_task_t *t = arg;
    for (int i = 0; i < t->steps; i++) {
        size_t n = strlen (t->trace);
        t->trace[n] = (char) ('a' + t->id);
        t->trace[n + 1] = 0;
        assert (pl_coro_current ());
        pl_coro_yield ();
    }
}

static void
s_fp (void *arg)
{
    double *x = arg;
    double acc = 1.0;
    for (int i = 1; i <= 10; i++) {
        acc = acc * 1.5 + sqrt ((double) i);
        pl_coro_yield ();
    }
    *x = acc;
}

static volatile int s_sink;

static int
s_recurse (int depth)
{
    volatile char pad[1024];
    pad[0] = (char) depth;
    if (depth == 0)
        return pad[0];
    return s_recurse (depth - 1) + pad[0];
}

static void
s_deep (void *arg)
{
    s_sink = s_recurse (*(int *) arg);
}

static void
s_nop (void *arg)
{
    volatile bool *stop = arg;
    while (!*stop)
        pl_coro_yield ();
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
pl_coro_test (bool verbose)
{
    printf (" * pl_coro: ");
    if (verbose)
        printf ("\n");
    pl_coro_pool_t *pool = pl_coro_pool_new (64 * 1024, 3);
    assert (pool);
    assert (pl_coro_pool_stack_size (pool) >= 64 * 1024);
    assert (!pl_coro_current ());

    /* round robin: three coroutines, two steps each */
    char trace[64] = "";
    s_task_t t[3] = { { 0, 2, trace }, { 1, 2, trace }, { 2, 2, trace } };
    pl_coro_t *co[3];
    for (int i = 0; i < 3; i++)
        assert ((co[i] = pl_coro_start (pool, s_stepper, &t[i])));
    assert (!pl_coro_start (pool, s_stepper, &t[0]));     /* the bound */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3; i++) {
            bool ended = pl_coro_resume (co[i]);
            assert (ended == (round == 2));
        }
    assert (strcmp (trace, "abcabc") == 0);
    assert (!pl_coro_current ());

    /* the stacks are reused, floating point survives the switches */
    double x = 0, y = 0;
    pl_coro_t *a = pl_coro_start (pool, s_fp, &x);
    pl_coro_t *b = pl_coro_start (pool, s_fp, &y);
    assert (a && b);
    bool a_done = false, b_done = false;
    while (!a_done || !b_done) {
        if (!a_done)
            a_done = pl_coro_resume (a);
        if (!b_done)
            b_done = pl_coro_resume (b);
    }
    double want = 1.0;
    for (int i = 1; i <= 10; i++)
        want = want * 1.5 + sqrt ((double) i);
    assert (x == want && y == want);

    /* a recursion that fits: 40 x ~1 KB */
    int depth = 40;
    pl_coro_t *d = pl_coro_start (pool, s_deep, &depth);
    assert (d && pl_coro_resume (d));
    size_t hw = pl_coro_pool_high_water (pool);
    assert (hw >= 40 * 1024 && hw <= pl_coro_pool_stack_size (pool));

    /* one that does not: the child dies on the guard page, loudly */
    fflush (stderr);
    int out[2];
    assert (pipe (out) == 0);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        dup2 (out[1], 2);
        close (out[0]);
        int too_deep = 1000;
        pl_coro_t *e = pl_coro_start (pool, s_deep, &too_deep);
        pl_coro_resume (e);
        _exit (0);                          /* not reached */
    }
    close (out[1]);
    char said[4096] = "";
    size_t got = 0;
    ssize_t n;
    while ((n = read (out[0], said + got, sizeof said - 1 - got)) > 0)
        got += (size_t) n;      /* the start is what we look for; ASan's trace is long */
    said[got] = 0;
    while (read (out[0], (char [256]) { 0 }, 256) > 0)
        ;
    close (out[0]);
    int status = 0;
    assert (waitpid (pid, &status, 0) == pid);
    assert (!(WIFEXITED (status) && WEXITSTATUS (status) == 0));
    /* ours, and under ASan its own report too */
    assert (strstr (said, "pl_coro: coroutine stack overflow"));
    if (verbose)
        printf ("  a recursion past the stack: the child died (%s %d), saying \"%.60s\"\n",
                WIFSIGNALED (status) ? "signal" : "exit",
                WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status), said);

    if (verbose) {
        volatile bool stop = false;
        pl_coro_t *n = pl_coro_start (pool, s_nop, (void *) &stop);
        int loops = 1000000;
        double t0 = s_now ();
        for (int i = 0; i < loops; i++)
            assert (!pl_coro_resume (n));
        double dt = s_now () - t0;
        stop = true;
        assert (pl_coro_resume (n));
        printf ("  pl_coro: %.1f ns per resume+yield; high water %zu bytes\n",
                dt / loops * 1e9, hw);
    }
    pl_coro_pool_destroy (&pool);
    pl_coro_pool_destroy (&pool);
    assert (!pool);
    printf ("OK\n");
}
