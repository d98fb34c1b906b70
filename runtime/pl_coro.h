/*  pl_coro - stackful coroutines for the worker runtime.
 *
 *  The worker runs each request's handler (and its periodic task) in a
 *  coroutine of its own, so that a handler that issues a Redis command can
 *  be parked while the command rides in one pipeline with the commands of
 *  the other handlers running at the time (pl_worker_sched.c). Handlers
 *  stay plain synchronous C.
 *
 *  Switching is glibc's makecontext / swapcontext: a well-kept library
 *  rather than a hand-written switch (issue 10's experiment measured a
 *  hand-written x86-64 switch at 25 ns against 315 ns a pair, and the
 *  difference within the noise of a whole request:
 *  docs/experiments/i10-coro.md). swapcontext also saves and restores the
 *  signal mask (one rt_sigprocmask syscall per switch); nothing in a
 *  worker changes it while handlers run.
 *
 *  Stacks: each coroutine has a fixed stack (mmap, committed lazily, so
 *  only the pages a handler touches cost memory) with a PROT_NONE guard
 *  page below it. A handler that recurses past its stack faults on the
 *  guard page: the process dies with "coroutine stack overflow" on stderr
 *  instead of writing over a neighbour. Stacks are pooled: a pool holds at
 *  most `max` coroutines (the worker's credit, plus one for its periodic
 *  task), made on first use and reused. Under AddressSanitizer every
 *  switch is announced to it (__sanitizer_start_switch_fiber /
 *  __sanitizer_finish_switch_fiber), so it follows the stacks and reports
 *  an overflow itself.
 *
 *  One thread: a coroutine is resumed only from outside any coroutine
 *  (no nesting), and only on the thread that made its pool.
 */
#ifndef PL_CORO_H
#define PL_CORO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _pl_coro_t pl_coro_t;
typedef struct _pl_coro_pool_t pl_coro_pool_t;
/* What a coroutine runs. Runs inside the coroutine, on the thread (and
 * so the loop) that resumed it. */
typedef void (pl_coro_fn) (void *arg);

/* The stack size the worker uses: cJSON's recursion on a client's argument
 * is what decides it, and pl_proto_json_parse bounds that nesting (64), so
 * 256 KB is room to spare (handlers were measured at 19 KB at most over the
 * e2e suite). ASan's frames are several times larger. */
#if defined(__SANITIZE_ADDRESS__)
#   define PL_CORO_STACK_DEFAULT (512 * 1024)
#else
#   define PL_CORO_STACK_DEFAULT (256 * 1024)
#endif

/* A pool of at most max coroutines with stack_size bytes of stack each
 * (rounded up to pages; a guard page comes on top). NULL when out of
 * memory. */
pl_coro_pool_t *pl_coro_pool_new (size_t stack_size, size_t max);
/* Unmap every stack. Every coroutine must have ended. Safe on NULL, twice. */
void pl_coro_pool_destroy (pl_coro_pool_t **self_p);
/* The deepest any stack of the pool has been used, in bytes (scans the
 * stacks: for logs and tests, not for a hot path). */
size_t pl_coro_pool_high_water (pl_coro_pool_t *self);
/* The usable stack size of each coroutine. */
size_t pl_coro_pool_stack_size (pl_coro_pool_t *self);

/* A coroutine that will run fn (arg) when first resumed. NULL when the
 * pool has max coroutines alive already, or out of memory. */
pl_coro_t *pl_coro_start (pl_coro_pool_t *pool, pl_coro_fn *fn, void *arg);
/* Run co until it yields (false) or fn returns (true: co went back to
 * its pool, and the pointer is no longer valid). Called outside any
 * coroutine. */
bool pl_coro_resume (pl_coro_t *co);
/* Inside a coroutine: go back to whoever resumed it. */
void pl_coro_yield (void);
/* The coroutine running now, or NULL outside any. */
pl_coro_t *pl_coro_current (void);

void pl_coro_test (bool verbose);

#endif
