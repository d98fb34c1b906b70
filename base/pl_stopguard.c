/*  pl_stopguard - SIGTERM and SIGINT stop the process even when its loop
 *  is stuck. Why and how: pl_stopguard.h.
 *
 *  Three contexts touch the guard: the caller's thread (new, destroy), the
 *  signal handler (any thread that takes SIGTERM or SIGINT) and the
 *  watchdog thread. They agree through one atomic state:
 *
 *      RUNNING --first signal--> STOPPING --grace_ms--> EXPIRED (_exit)
 *         |                          |
 *         +--------destroy-----------+------> DONE
 *
 *  A signal in any state but RUNNING exits at once. Whichever of destroy
 *  and the deadline moves the state out of STOPPING first wins, so once
 *  destroy has set DONE the deadline cannot fire.
 */
#include "pl_stopguard.h"
#include "pl_log.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the handler may only use atomics that need no lock */
_Static_assert (ATOMIC_INT_LOCK_FREE == 2, "a signal handler needs lock-free atomic int");

enum { S_RUNNING, S_STOPPING, S_EXPIRED, S_DONE };

struct _pl_stopguard_t {
    pthread_t thread;               /* the watchdog                        */
    bool thread_started;            /* thread is joinable                  */
    sem_t done;                     /* posted by destroy: the loop returned */
    bool done_init;                 /* done was sem_init'ed                */
    bool start_init;                /* s_start was sem_init'ed             */
    struct sigaction old_term;      /* SIGTERM's disposition before new    */
    bool term_set;                  /* ours is installed for SIGTERM       */
    struct sigaction old_int;       /* SIGINT's disposition before new     */
    bool int_set;                   /* ours is installed for SIGINT        */
};

/* What the handler reads. Static, not in the guard: a handler takes no
 * argument, and one already running on another thread may still read
 * these while destroy frees the guard. Set by new before the handlers are
 * installed (sigaction orders the writes before any handler runs). */
static atomic_int s_state = S_DONE;             /* see the diagram above  */
static atomic_bool s_installed;                 /* a guard exists         */
static atomic_int s_busy;                       /* handlers running now   */
static atomic_int s_signum;                     /* the first signal       */
static struct timespec s_signal_at;             /* when (monotonic); read
                                                   after s_start's post   */
static sem_t s_start;                           /* posted by the first
                                                   signal: wakes the watchdog */
static pl_stopguard_fn *s_notify;               /* tells the loop         */
static void *s_arg;                             /* ... with this          */
static char s_process[32];                      /* names the stderr line  */
static int s_grace_ms;                          /* after the first signal */

/* ---- async-signal-safe output ------------------------------------------ */

/* Append text to the line in buf (size bytes, NUL-terminated). No stdio:
 * this runs in a signal handler, or beside a thread that may hold any
 * lock. */
static void
s_append (char *buf, size_t size, const char *text)
{
    size_t len = strlen (buf);
    while (*text && len + 1 < size)
        buf[len++] = *text++;
    buf[len] = '\0';
}

static void
s_append_int (char *buf, size_t size, long value)
{
    char digits[24];
    size_t n = sizeof digits;
    digits[--n] = '\0';
    do {
        digits[--n] = (char) ('0' + value % 10);
        value /= 10;
    } while (value > 0 && n > 0);
    s_append (buf, size, digits + n);
}

static const char *
s_signame (int signum)
{
    return signum == SIGTERM ? "SIGTERM" : signum == SIGINT ? "SIGINT" : "a signal";
}

/* End the process now: one line to stderr (one write, so it is not
 * interleaved with a log line), then _exit, which runs no atexit handler
 * and takes no lock. Handler or watchdog context. */
static void
s_exit (int signum, const char *why)
{
    char line[512] = "";
    if (pl_log_is_json ())
        pl_log_signal_line (line, sizeof line, PL_LOG_ERROR, why);  /* PARLEY_LOG_FORMAT=json */
    else {
        s_append (line, sizeof line, s_process);
        s_append (line, sizeof line, ": ");
        s_append (line, sizeof line, why);
        s_append (line, sizeof line, "\n");
    }
    ssize_t n = write (STDERR_FILENO, line, strlen (line));
    (void) n;                       /* nothing to do if stderr is gone */
    _exit (128 + signum);
}

/* ---- the handler and the watchdog -------------------------------------- */

/* sigaction handler for SIGTERM and SIGINT; runs on whichever thread took
 * the signal, with every signal blocked (sa_mask). Async-signal-safe: only
 * lock-free atomics, clock_gettime, sem_post, write and _exit, and the
 * caller's notify, which must be too. */
static void
s_on_signal (int signum)
{
    int saved_errno = errno;
    atomic_fetch_add (&s_busy, 1);
    int expected = S_RUNNING;
    if (atomic_compare_exchange_strong (&s_state, &expected, S_STOPPING)) {
        clock_gettime (CLOCK_MONOTONIC, &s_signal_at);
        atomic_store (&s_signum, signum);
        if (s_notify)
            s_notify (s_arg, signum);
        sem_post (&s_start);        /* the grace period starts */
    }
    else {
        /* stopping already (someone insists), or the loop has returned
         * and destroy is putting the old disposition back */
        char why[96] = "";
        s_append (why, sizeof why, s_signame (signum));
        if (expected == S_DONE)
            s_append (why, sizeof why, " after the loop stopped");
        else {
            s_append (why, sizeof why, " while stopping on ");
            s_append (why, sizeof why, s_signame (atomic_load (&s_signum)));
        }
        s_append (why, sizeof why, "; exiting at once");
        s_exit (signum, why);
    }
    atomic_fetch_sub (&s_busy, 1);
    errno = saved_errno;
}

/* The watchdog thread, every signal blocked: waits for the first signal,
 * then for destroy at most grace_ms after it; past that, ends the process. */
static void *
s_watch (void *arg)
{
    pl_stopguard_t *self = (pl_stopguard_t *) arg;
    while (sem_wait (&s_start) == -1 && errno == EINTR)
        ;
    if (atomic_load (&s_state) != S_STOPPING)
        goto cleanup;               /* destroy woke us: no signal came */
    struct timespec deadline = s_signal_at;
    deadline.tv_sec += s_grace_ms / 1000;
    deadline.tv_nsec += (long) (s_grace_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc;
    while ((rc = sem_clockwait (&self->done, CLOCK_MONOTONIC, &deadline)) == -1
           && errno == EINTR)
        ;
    int expected = S_STOPPING;
    if (rc == -1 && atomic_compare_exchange_strong (&s_state, &expected, S_EXPIRED)) {
        int signum = atomic_load (&s_signum);
        char why[128] = "the loop did not stop within ";
        s_append_int (why, sizeof why, s_grace_ms);
        s_append (why, sizeof why, " ms of ");
        s_append (why, sizeof why, s_signame (signum));
        s_append (why, sizeof why, "; exiting");
        s_exit (signum, why);
    }
cleanup:
    return NULL;
}

/* ---- the guard ---------------------------------------------------------- */

pl_stopguard_t *
pl_stopguard_new (const char *process, int grace_ms, pl_stopguard_fn *notify, void *arg)
{
    assert (process && grace_ms > 0);
    bool installed = atomic_exchange (&s_installed, true);
    assert (!installed);            /* one guard at a time */
    (void) installed;
    /* a blocked signal runs no handler: the guard would guard nothing */
    sigset_t mask;
    pthread_sigmask (SIG_BLOCK, NULL, &mask);
    assert (!sigismember (&mask, SIGTERM) && !sigismember (&mask, SIGINT));

    pl_stopguard_t *self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    snprintf (s_process, sizeof s_process, "%s", process);
    s_grace_ms = grace_ms;
    s_notify = notify;
    s_arg = arg;
    atomic_store (&s_signum, 0);
    atomic_store (&s_state, S_RUNNING);
    if (sem_init (&s_start, 0, 0) != 0)
        goto fail;
    self->start_init = true;
    if (sem_init (&self->done, 0, 0) != 0)
        goto fail;
    self->done_init = true;

    /* the thread starts with every signal blocked, and keeps them so */
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    int rc = pthread_create (&self->thread, NULL, s_watch, self);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto fail;
    self->thread_started = true;

    /* as libev installs its own: SA_RESTART, so the loop's system calls
     * behave as they did, and nothing interrupts the handler */
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset (&sa.sa_mask);
    if (sigaction (SIGTERM, &sa, &self->old_term) != 0)
        goto fail;
    self->term_set = true;
    if (sigaction (SIGINT, &sa, &self->old_int) != 0)
        goto fail;
    self->int_set = true;
    goto cleanup;
fail:
    pl_stopguard_destroy (&self);
    atomic_store (&s_installed, false);     /* when calloc failed */
cleanup:
    return self;
}

void
pl_stopguard_destroy (pl_stopguard_t **self_p)
{
    assert (self_p);
    pl_stopguard_t *self = *self_p;
    if (self) {
        /* first: from here on the deadline cannot fire (a deadline that
         * already did has ended the process) */
        atomic_store (&s_state, S_DONE);
        if (self->term_set)
            sigaction (SIGTERM, &self->old_term, NULL);
        if (self->int_set)
            sigaction (SIGINT, &self->old_int, NULL);
        if (self->thread_started) {
            sem_post (&s_start);        /* wakes it if no signal came */
            sem_post (&self->done);     /* ... or while it waits out the grace */
            pthread_join (self->thread, NULL);
        }
        /* a handler that began on another thread before the old
         * dispositions were back may still be using s_start */
        while (atomic_load (&s_busy) > 0)
            sched_yield ();
        if (self->done_init)
            sem_destroy (&self->done);
        if (self->start_init)
            sem_destroy (&s_start);
        s_notify = NULL;
        s_arg = NULL;
        free (self);
        *self_p = NULL;
        atomic_store (&s_installed, false);
    }
}

/* ---- selftest ------------------------------------------------------------ */

#define S_TEST_GRACE_MS     300
/* how late past its deadline a child may die: generous, for two shared
 * cores and ASan; the lower bound (the grace itself) is exact */
#define S_TEST_MARGIN_MS    5000

static volatile sig_atomic_t s_test_signum;     /* what notify was given   */
static int s_test_tell = -1;                    /* child -> parent pipe    */

/* pl_stopguard_fn, in the test's signal handler: a loop would be woken
 * here; the test records the signal and tells the parent. */
static void
s_test_notify (void *arg, int signum)
{
    assert (arg == &s_test_signum);
    s_test_signum = signum;
    char c = 'n';
    ssize_t n = write (s_test_tell, &c, 1);
    (void) n;
}

static void
s_test_dummy (int signum)
{
    (void) signum;
}

static int64_t
s_test_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one byte from fd within timeout_ms; returns it, or -1. */
static int
s_test_read_byte (int fd, int timeout_ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char c;
    if (poll (&p, 1, timeout_ms) != 1 || read (fd, &c, 1) != 1)
        return -1;
    return c;
}

typedef enum {
    S_CHILD_STUCK,      /* never services its loop again: the lws spin    */
    S_CHILD_STOPS       /* its loop returns on notify, as a healthy one   */
} s_child_t;

typedef struct {
    int status;         /* waitpid status, or -1: killed by the test      */
    int64_t elapsed;    /* ms from the first signal to the child's end    */
    char err[512];      /* what the child wrote to stderr                 */
} s_outcome_t;

/* Fork a child that installs a guard of grace_ms and then behaves as kind;
 * send it first, then (when second is not 0) second once the first has
 * reached notify; wait at most limit_ms for it to end. */
static s_outcome_t
s_test_child (s_child_t kind, int grace_ms, int first, int second, int limit_ms)
{
    s_outcome_t out;
    memset (&out, 0, sizeof out);
    int tell[2], err[2];
    assert (pipe (tell) == 0 && pipe (err) == 0);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        close (tell[0]);
        close (err[0]);
        dup2 (err[1], STDERR_FILENO);
        s_test_tell = tell[1];
        s_test_signum = 0;          /* the fork copied the parent's */
        pl_stopguard_t *guard = pl_stopguard_new ("child", grace_ms, s_test_notify,
                                                  (void *) &s_test_signum);
        if (!guard)
            _exit (99);
        char c = 'r';
        if (write (tell[1], &c, 1) != 1)
            _exit (98);
        volatile uint64_t spins = 0;
        if (kind == S_CHILD_STUCK)
            for (;;)
                spins++;            /* never looks at s_test_signum */
        while (!s_test_signum)
            spins++;
        pl_stopguard_destroy (&guard);
        /* the deadline must not fire once destroyed: outlive it twice */
        struct timespec nap = { (grace_ms * 3) / 1000, ((grace_ms * 3) % 1000) * 1000000L };
        while (nanosleep (&nap, &nap) == -1 && errno == EINTR)
            ;
        _exit (s_test_signum == first ? 0 : 97);
    }
    close (tell[1]);
    close (err[1]);
    assert (s_test_read_byte (tell[0], S_TEST_MARGIN_MS) == 'r');
    int64_t start = s_test_now_ms ();
    assert (kill (pid, first) == 0);
    if (second) {
        assert (s_test_read_byte (tell[0], S_TEST_MARGIN_MS) == 'n');
        assert (kill (pid, second) == 0);
    }
    out.status = -1;
    while (s_test_now_ms () - start < limit_ms) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            out.status = status;
            break;
        }
        struct timespec nap = { 0, 5 * 1000000L };
        nanosleep (&nap, NULL);
    }
    out.elapsed = s_test_now_ms () - start;
    if (out.status == -1) {         /* still running: the guard failed */
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
    }
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof out.err
       &&  (n = read (err[0], out.err + len, sizeof out.err - 1 - len)) > 0)
        len += (size_t) n;
    out.err[len] = '\0';
    close (tell[0]);
    close (err[0]);
    return out;
}

void
pl_stopguard_test (bool verbose)
{
    if (verbose)
        printf (" * pl_stopguard: ");
    struct sigaction saved_term, saved_int, sa, now;
    sigaction (SIGTERM, NULL, &saved_term);
    sigaction (SIGINT, NULL, &saved_int);

    /* destroy puts back what new found */
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction (SIGTERM, &sa, NULL);
    sa.sa_handler = s_test_dummy;
    sigaction (SIGINT, &sa, NULL);
    pl_stopguard_t *guard = pl_stopguard_new ("selftest", S_TEST_GRACE_MS, NULL, NULL);
    assert (guard);
    sigaction (SIGTERM, NULL, &now);
    assert (now.sa_handler == s_on_signal);
    sigaction (SIGINT, NULL, &now);
    assert (now.sa_handler == s_on_signal);
    pl_stopguard_destroy (&guard);
    assert (guard == NULL);
    pl_stopguard_destroy (&guard);
    sigaction (SIGTERM, NULL, &now);
    assert (now.sa_handler == SIG_IGN);
    sigaction (SIGINT, NULL, &now);
    assert (now.sa_handler == s_test_dummy);

    /* in this process: a signal reaches notify, and a deadline armed by it
     * does not fire once destroyed (if it did, this process would _exit
     * 143 with "selftest: the loop did not stop ..." and fail the test) */
    int tell[2];
    assert (pipe (tell) == 0);
    s_test_tell = tell[1];
    s_test_signum = 0;
    guard = pl_stopguard_new ("selftest", S_TEST_GRACE_MS, s_test_notify,
                              (void *) &s_test_signum);
    assert (guard);
    assert (raise (SIGTERM) == 0);      /* handled before raise returns */
    assert (s_test_signum == SIGTERM);
    assert (s_test_read_byte (tell[0], 0) == 'n');
    pl_stopguard_destroy (&guard);
    struct timespec nap = { 0, 2 * S_TEST_GRACE_MS * 1000000L };
    while (nanosleep (&nap, &nap) == -1 && errno == EINTR)
        ;
    close (tell[0]);
    close (tell[1]);
    s_test_tell = -1;
    sigaction (SIGTERM, &saved_term, NULL);
    sigaction (SIGINT, &saved_int, NULL);

    /* a stuck loop: SIGTERM still ends the process, grace_ms after it */
    s_outcome_t out = s_test_child (S_CHILD_STUCK, S_TEST_GRACE_MS, SIGTERM, 0,
                                    S_TEST_GRACE_MS + S_TEST_MARGIN_MS);
    if (verbose)
        printf ("stuck: status %#x after %lld ms; ", out.status, (long long) out.elapsed);
    assert (out.status != -1);                  /* it did die */
    assert (WIFEXITED (out.status) && WEXITSTATUS (out.status) == 128 + SIGTERM);
    assert (out.elapsed >= S_TEST_GRACE_MS);
    assert (strcmp (out.err, "child: the loop did not stop within 300 ms of SIGTERM; "
                             "exiting\n") == 0);

    /* a loop that stops in time: a clean exit, never cut short, even long
     * after the deadline would have been */
    out = s_test_child (S_CHILD_STOPS, S_TEST_GRACE_MS, SIGTERM, 0,
                        3 * S_TEST_GRACE_MS + S_TEST_MARGIN_MS);
    if (verbose)
        printf ("stops: status %#x after %lld ms; ", out.status, (long long) out.elapsed);
    assert (out.status != -1 && WIFEXITED (out.status) && WEXITSTATUS (out.status) == 0);
    assert (out.elapsed >= 3 * S_TEST_GRACE_MS);
    assert (out.err[0] == '\0');

    /* a second signal while stopping ends a stuck process at once, long
     * before its (here one minute) grace */
    out = s_test_child (S_CHILD_STUCK, 60000, SIGTERM, SIGINT, S_TEST_MARGIN_MS);
    if (verbose)
        printf ("second: status %#x after %lld ms; ", out.status, (long long) out.elapsed);
    assert (out.status != -1);
    assert (WIFEXITED (out.status) && WEXITSTATUS (out.status) == 128 + SIGINT);
    assert (strcmp (out.err, "child: SIGINT while stopping on SIGTERM; exiting at once\n") == 0);

    if (verbose)
        printf ("OK\n");
}
