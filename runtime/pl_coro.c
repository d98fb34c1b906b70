/*  pl_coro - stackful coroutines over makecontext / swapcontext (pl_coro.h).
 *  The selftest is in pl_coro_test.c.
 */
#include "pl_coro.h"
#include "pl_log.h"

#include <assert.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#   define S_ASAN 1
#elif defined(__has_feature)
#   if __has_feature(address_sanitizer)
#       define S_ASAN 1
#   endif
#endif
#ifdef S_ASAN
#   include <sanitizer/asan_interface.h>
#   include <sanitizer/common_interface_defs.h>
#endif

struct _pl_coro_t {
    pl_coro_pool_t *pool;           /* where it goes back                  */
    pl_coro_t *next_free;           /* the pool's free list                */
    char *map;                      /* guard page + stack, or NULL (not yet) */
    char *stack;                    /* usable stack: [stack, stack + size) */
    ucontext_t uc;                  /* its context                         */
    ucontext_t caller_uc;           /* the resumer's                       */
    pl_coro_fn *fn;                 /* what it runs ...                    */
    void *arg;                      /* ... with this                       */
    bool done;                      /* fn has returned                     */
    bool alive;                     /* started, not yet back in the pool   */
    void *fake_stack;               /* ASan: its fake stack while away     */
    const void *caller_bottom;      /* ASan: the resumer's stack ...       */
    size_t caller_size;             /* ... and its size                    */
};

struct _pl_coro_pool_t {
    size_t stack_size;              /* usable bytes per stack (pages)      */
    size_t page;                    /* the guard page's size               */
    size_t max;                     /* coroutines in all                   */
    pl_coro_t *coros;               /* max of them                         */
    pl_coro_t *free;                /* not alive                           */
    size_t alive;                   /* started and not ended               */
    pl_coro_pool_t *next;           /* s_pools, for the SIGSEGV handler    */
};

static __thread pl_coro_t *s_current;   /* running now, or NULL            */
static pl_coro_pool_t *s_pools;         /* every pool (the SEGV handler
                                           reads it; one thread)           */
static struct sigaction s_old_segv;     /* restored after our message      */
static bool s_segv_installed;           /* s_install_segv has run          */

/* ---- AddressSanitizer ------------------------------------------------ */

static inline void
s_asan_start (void **fake_save, const void *bottom, size_t size)
{
#ifdef S_ASAN
    __sanitizer_start_switch_fiber (fake_save, bottom, size);
#else
    (void) fake_save; (void) bottom; (void) size;
#endif
}

static inline void
s_asan_finish (void *fake, const void **bottom_old, size_t *size_old)
{
#ifdef S_ASAN
    __sanitizer_finish_switch_fiber (fake, bottom_old, size_old);
#else
    (void) fake; (void) bottom_old; (void) size_old;
#endif
}

/* ---- the coroutine's first frame -------------------------------------- */

/* Runs inside the coroutine, first thing after its first resume.
 * makecontext passes ints: the pointer comes in two halves. */
static void
s_entry (unsigned hi, unsigned lo)
{
    pl_coro_t *co = (pl_coro_t *) (((uintptr_t) hi << 32) | (uintptr_t) lo);
    s_asan_finish (NULL, &co->caller_bottom, &co->caller_size);
    co->fn (co->arg);
    co->done = true;
    /* NULL: this fiber is ending, ASan may drop its fake stack */
    s_asan_start (NULL, co->caller_bottom, co->caller_size);
    swapcontext (&co->uc, &co->caller_uc);
    abort ();                               /* an ended coroutine is never resumed */
}

/* A fresh context that enters s_entry (co) on co's stack. Its own
 * function: getcontext returns twice, and no caller's variable may be
 * live across it. Returns 0 or -1. */
static int __attribute__ ((noinline))
s_prepare (pl_coro_t *co)
{
    int rc = -1;
    if (getcontext (&co->uc) != 0)
        goto cleanup;
    co->uc.uc_stack.ss_sp = co->stack;
    co->uc.uc_stack.ss_size = co->pool->stack_size;
    co->uc.uc_link = NULL;
    uintptr_t p = (uintptr_t) co;
    makecontext (&co->uc, (void (*) (void)) s_entry, 2,
                 (unsigned) (p >> 32), (unsigned) (p & 0xffffffffu));
    rc = 0;
cleanup:
    return rc;
}

/* ---- stack overflow -------------------------------------------------- */

/* SIGSEGV, on the alternate stack (runs in no loop: a signal handler): a
 * fault in a guard page is a coroutine that ran off its stack. Say so,
 * then put the old action back and return, so the fault repeats and kills
 * us the usual way (a core, or ASan's report). Async-signal-safe:
 * write(2) and sigaction only. */
static void
s_on_segv (int sig, siginfo_t *info, void *uctx)
{
    (void) uctx;
    char *addr = info->si_addr;
    for (pl_coro_pool_t *p = s_pools; p; p = p->next)
        for (size_t i = 0; i < p->max; i++) {
            char *map = p->coros[i].map;
            if (map && addr >= map && addr < map + p->page) {
                static const char msg[] = "pl_coro: coroutine stack overflow (a handler "
                                          "recursed past its stack); aborting\n";
                ssize_t n = write (2, msg, sizeof msg - 1);
                (void) n;
            }
        }
    sigaction (sig, &s_old_segv, NULL);
}

/* Once per process: our SIGSEGV handler, on an alternate stack (the
 * faulting stack has no room left). ASan installs its own alternate stack;
 * then we use that one. */
static void
s_install_segv (void)
{
    if (s_segv_installed)
        goto cleanup;
    s_segv_installed = true;
    stack_t old;
    if (sigaltstack (NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        static char *alt;               /* lives as long as the process */
        size_t size = 64 * 1024;
        alt = alt ? alt : malloc (size);
        stack_t ss = { .ss_sp = alt, .ss_size = size, .ss_flags = 0 };
        if (!alt || sigaltstack (&ss, NULL) != 0)
            pl_warn ("pl_coro: no alternate signal stack: a stack overflow will not be named");
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_sigaction = s_on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGSEGV, &sa, &s_old_segv);
cleanup:
    return;
}

/* ---- the pool --------------------------------------------------------- */

pl_coro_pool_t *
pl_coro_pool_new (size_t stack_size, size_t max)
{
    assert (stack_size > 0 && max > 0);
    pl_coro_pool_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->page = (size_t) sysconf (_SC_PAGESIZE);
    self->stack_size = (stack_size + self->page - 1) / self->page * self->page;
    self->max = max;
    self->coros = calloc (max, sizeof *self->coros);
    if (!self->coros) {
        free (self);
        self = NULL;
        goto cleanup;
    }
    for (size_t i = max; i-- > 0; ) {
        self->coros[i].pool = self;
        self->coros[i].next_free = self->free;
        self->free = &self->coros[i];
    }
    s_install_segv ();
    self->next = s_pools;
    s_pools = self;
cleanup:
    return self;
}

void
pl_coro_pool_destroy (pl_coro_pool_t **self_p)
{
    assert (self_p);
    pl_coro_pool_t *self = *self_p;
    if (!self)
        goto cleanup;
    assert (self->alive == 0);
    for (pl_coro_pool_t **p = &s_pools; *p; p = &(*p)->next)
        if (*p == self) {
            *p = self->next;
            break;
        }
    for (size_t i = 0; i < self->max; i++)
        if (self->coros[i].map)
            munmap (self->coros[i].map, self->stack_size + self->page);
    free (self->coros);
    free (self);
    *self_p = NULL;
cleanup:
    return;
}

size_t
pl_coro_pool_stack_size (pl_coro_pool_t *self)
{
    assert (self);
    return self->stack_size;
}

size_t
pl_coro_pool_high_water (pl_coro_pool_t *self)
{
    assert (self);
    size_t deepest = 0;
    for (size_t i = 0; i < self->max; i++) {
        const char *stack = self->coros[i].stack;
        if (!stack)
            continue;
        /* fresh mmap pages are zero: the lowest byte ever written is the
         * deepest use (a frame of zeros would hide, hence "about") */
        size_t off = 0;
        while (off < self->stack_size && stack[off] == 0)
            off++;
        if (self->stack_size - off > deepest)
            deepest = self->stack_size - off;
    }
    return deepest;
}

pl_coro_t *
pl_coro_start (pl_coro_pool_t *pool, pl_coro_fn *fn, void *arg)
{
    assert (pool && fn);
    pl_coro_t *co = pool->free;
    if (!co)
        goto cleanup;                       /* max alive: the caller's bound */
    if (!co->map) {
        size_t size = pool->stack_size + pool->page;
        char *map = mmap (NULL, size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (map == MAP_FAILED) {
            co = NULL;
            goto cleanup;
        }
        if (mprotect (map, pool->page, PROT_NONE) != 0) {  /* the guard, below */
            munmap (map, size);
            co = NULL;
            goto cleanup;
        }
        co->map = map;
        co->stack = map + pool->page;
    }
#ifdef S_ASAN
    /* frames of the last user that never returned (s_entry's) */
    ASAN_UNPOISON_MEMORY_REGION (co->stack, pool->stack_size);
#endif
    if (s_prepare (co) != 0) {
        co = NULL;
        goto cleanup;
    }
    co->fn = fn;
    co->arg = arg;
    co->done = false;
    co->fake_stack = NULL;
    pool->free = co->next_free;
    co->next_free = NULL;
    co->alive = true;
    pool->alive++;
cleanup:
    return co;
}

bool
pl_coro_resume (pl_coro_t *co)
{
    assert (co && co->alive && !co->done);
    assert (!s_current);                    /* no nesting */
    void *fake = NULL;
    s_current = co;
    s_asan_start (&fake, co->stack, co->pool->stack_size);
    swapcontext (&co->caller_uc, &co->uc);
    s_asan_finish (fake, NULL, NULL);
    s_current = NULL;
    bool ended = co->done;
    if (ended) {
        pl_coro_pool_t *pool = co->pool;
        co->alive = false;
        co->next_free = pool->free;
        pool->free = co;
        pool->alive--;
    }
    return ended;
}

void
pl_coro_yield (void)
{
    pl_coro_t *co = s_current;
    assert (co);                            /* only inside a coroutine */
    s_asan_start (&co->fake_stack, co->caller_bottom, co->caller_size);
    swapcontext (&co->uc, &co->caller_uc);
    s_asan_finish (co->fake_stack, &co->caller_bottom, &co->caller_size);
}

pl_coro_t *
pl_coro_current (void)
{
    return s_current;
}
