/*  pl_dice - dice expressions, parsed and rolled on the server. See
 *  pl_dice.h. A hand-written recursive-descent scanner over a bounded
 *  text: the grammar is four rules, and no Debian library parses dice.
 */
#include "pl_dice.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

typedef enum { S_KEEP_ALL, S_KEEP_HIGH, S_KEEP_LOW } s_keep_t;

typedef struct {
    int sign;                       /* +1 or -1                            */
    int count;                      /* dice; 0: a constant                 */
    int sides;                      /* faces per die                       */
    s_keep_t keep;                  /* which faces count                   */
    int kept;                       /* how many, with kh / kl              */
    long value;                     /* a constant's value                  */
} s_term_t;

struct _pl_dice_t {
    int nterms;
    s_term_t term[PL_DICE_TERMS_MAX];
    char text[PL_DICE_TEXT_MAX * 2 + 8];    /* canonical form              */
};

/* The scanner: text, where it is, and the first error. */
typedef struct {
    const char *p, *start, *end;
    char *why;
    size_t why_size;
    bool failed;
} s_scan_t;

static void
s_fail (s_scan_t *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    int n = snprintf (s->why, s->why_size, "at %d: ", (int) (s->p - s->start) + 1);
    va_list ap;
    va_start (ap, fmt);
    if (n >= 0 && (size_t) n < s->why_size)
        vsnprintf (s->why + n, s->why_size - (size_t) n, fmt, ap);
    va_end (ap);
}

static void
s_space (s_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

static bool
s_is_digit (s_scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static bool
s_is (s_scan_t *s, char c)
{
    return s->p < s->end && (*s->p == c || *s->p == c - 32);    /* either case */
}

/* A decimal number up to max; -1 (and failed) past it or when none. */
static long
s_number (s_scan_t *s, long max, const char *what)
{
    long n = -1;
    if (!s_is_digit (s)) {
        s_fail (s, "expected %s", what);
        goto cleanup;
    }
    n = 0;
    while (s_is_digit (s)) {
        n = n * 10 + (*s->p - '0');
        if (n > max) {
            s_fail (s, "%s is more than %ld", what, max);
            n = -1;
            goto cleanup;
        }
        s->p++;
    }
cleanup:
    return n;
}

/* term := dice | integer */
static void
s_term (s_scan_t *s, s_term_t *t, int *dice)
{
    long count = 1;
    if (s_is_digit (s)) {
        const char *at = s->p;
        count = s_number (s, PL_DICE_CONST_MAX, "a number");
        if (s->failed || !s_is (s, 'd')) {
            t->value = count;               /* a constant */
            goto cleanup;
        }
        if (count < 1) {
            s->p = at;
            s_fail (s, "a roll needs at least one die");
            goto cleanup;
        }
    }
    if (!s_is (s, 'd')) {
        s_fail (s, "expected a die (NdM) or a number");
        goto cleanup;
    }
    s->p++;
    long sides = 100;
    if (s->p < s->end && *s->p == '%')
        s->p++;
    else {
        sides = s_number (s, PL_DICE_SIDES_MAX, "the number of sides");
        if (s->failed)
            goto cleanup;
        if (sides < 1) {
            s_fail (s, "a die needs at least one side");
            goto cleanup;
        }
    }
    if (count > PL_DICE_DICE_MAX || *dice + count > PL_DICE_DICE_MAX) {
        s_fail (s, "more than %d dice in one roll", PL_DICE_DICE_MAX);
        goto cleanup;
    }
    *dice += (int) count;
    t->count = (int) count;
    t->sides = (int) sides;
    t->keep = S_KEEP_ALL;
    if (s_is (s, 'k')) {
        s->p++;
        if (s_is (s, 'h'))
            t->keep = S_KEEP_HIGH;
        else
        if (s_is (s, 'l'))
            t->keep = S_KEEP_LOW;
        else {
            s_fail (s, "expected kh or kl");
            goto cleanup;
        }
        s->p++;
        long keep = s_number (s, PL_DICE_DICE_MAX, "how many dice to keep");
        if (s->failed)
            goto cleanup;
        if (keep < 1 || keep > count) {
            s_fail (s, "can keep 1 to %ld of %ld dice", count, count);
            goto cleanup;
        }
        t->kept = (int) keep;
    }
cleanup:
    return;
}

/* The canonical text of term t ("-4d6kh3", "+2"); first: no "+". */
static int
s_print (char *buf, size_t size, const s_term_t *t, bool first)
{
    const char *sign = t->sign < 0 ? "-" : first ? "" : "+";
    if (!t->count)
        return snprintf (buf, size, "%s%ld", sign, t->value);
    return snprintf (buf, size, "%s%dd%d%s%.0d", sign, t->count, t->sides,
                     t->keep == S_KEEP_HIGH ? "kh" : t->keep == S_KEEP_LOW ? "kl" : "",
                     t->keep == S_KEEP_ALL ? 0 : t->kept);
}

pl_dice_t *
pl_dice_parse (const char *text, size_t len, char *why, size_t why_size)
{
    assert (why && why_size > 0);
    pl_dice_t *self = NULL;
    s_scan_t s = { text, text, text + len, why, why_size, false };
    why[0] = 0;
    if (!text || len == 0) {
        snprintf (why, why_size, "the expression is empty");
        goto cleanup;
    }
    if (len > PL_DICE_TEXT_MAX) {
        snprintf (why, why_size, "the expression is longer than %d characters", PL_DICE_TEXT_MAX);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (why, why_size, "out of memory");
        goto cleanup;
    }
    int dice = 0, sign = 1;
    s_space (&s);
    if (s.p < s.end && (*s.p == '+' || *s.p == '-')) {
        sign = *s.p == '-' ? -1 : 1;
        s.p++;
        s_space (&s);
    }
    while (!s.failed) {
        if (self->nterms == PL_DICE_TERMS_MAX) {
            s_fail (&s, "more than %d terms", PL_DICE_TERMS_MAX);
            break;
        }
        s_term_t *t = &self->term[self->nterms++];
        t->sign = sign;
        s_term (&s, t, &dice);
        s_space (&s);
        if (s.failed || s.p == s.end)
            break;
        if (*s.p != '+' && *s.p != '-') {
            s_fail (&s, "expected + or - between terms");
            break;
        }
        sign = *s.p == '-' ? -1 : 1;
        s.p++;
        s_space (&s);
        if (s.p == s.end)
            s_fail (&s, "expected a term after the sign");
    }
    if (!s.failed && dice == 0) {
        s.p = s.start;
        s_fail (&s, "a roll needs at least one die");
    }
    if (s.failed) {
        pl_dice_destroy (&self);
        goto cleanup;
    }
    size_t n = 0;
    for (int i = 0; i < self->nterms && n < sizeof self->text; i++) {
        int w = s_print (self->text + n, sizeof self->text - n, &self->term[i], i == 0);
        n += w > 0 ? (size_t) w : 0;
    }
cleanup:
    return self;
}

void
pl_dice_destroy (pl_dice_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

const char *
pl_dice_text (const pl_dice_t *self)
{
    assert (self);
    return self->text;
}

/* The kernel's words, drawn S_POOL_WORDS at a time: one getrandom call
 * per 64 faces instead of one per face (a system call cost about 2.3 us
 * per die, docs/BENCHMARKS.md "Dice"). 256 bytes is getrandom's largest
 * request that a signal never cuts short. Every word is used once and
 * wiped as it is taken; per thread, so no lock; emptied in a forked child
 * (pthread_atfork), so parent and child never share a draw. The words are
 * the kernel's CSPRNG output, uniform and independent as before: the
 * rejection sampling in pl_dice_face stays exact. */
#define S_POOL_WORDS 64
static _Thread_local struct {
    uint32_t word[S_POOL_WORDS];
    int left;                               /* unused words, from the top */
} s_pool;
static pthread_once_t s_pool_once = PTHREAD_ONCE_INIT;

/* pthread_atfork's child handler: runs in the child, in the thread that
 * forked (the child's only one). */
static void
s_pool_forget (void)
{
    memset (&s_pool, 0, sizeof s_pool);
}

/* pthread_once's routine: runs once per process, on the thread of the
 * first kernel draw (a handler: the worker loop). */
static void
s_pool_register (void)
{
    pthread_atfork (NULL, NULL, s_pool_forget);
}

/* A word from the kernel's generator, through the pool. False when the
 * generator failed. */
static bool
s_kernel_word (uint32_t *word)
{
    bool ok = false;
    pthread_once (&s_pool_once, s_pool_register);
    if (s_pool.left == 0) {
        ssize_t got;
        do
            got = getrandom (s_pool.word, sizeof s_pool.word, 0);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t) sizeof s_pool.word)
            goto cleanup;
        s_pool.left = S_POOL_WORDS;
    }
    *word = s_pool.word[--s_pool.left];
    s_pool.word[s_pool.left] = 0;
    ok = true;
cleanup:
    return ok;
}

int
pl_dice_face (int sides, pl_dice_rng_fn *rng, void *arg)
{
    assert (sides >= 1 && sides <= PL_DICE_SIDES_MAX);
    /* the largest multiple of sides that fits in 2^32: a word at or past
     * it would favour the low faces, so it is drawn again */
    uint64_t limit = (UINT64_C (1) << 32) - ((UINT64_C (1) << 32) % (uint64_t) sides);
    int face = 0;
    for (int tries = 0; tries < 64 && !face; tries++) {
        uint32_t word = 0;
        if (rng)
            word = rng (arg);
        else
        if (!s_kernel_word (&word))
            break;
        if ((uint64_t) word < limit)
            face = (int) (word % (uint32_t) sides) + 1;
    }
    return face;                            /* 0: no face after 64 draws */
}

/* n faces (each 1..PL_DICE_SIDES_MAX) as a JSON array in a cJSON raw item,
 * printed as it is. cJSON 1.7.15 prints every number with "%1.15g" and
 * reads it back with sscanf to check it (0.33 us a number on the 2-vCPU
 * box), and a public roll's faces are printed three times (the ack,
 * roll:result, the history entry), twice each (results, kept): that, not
 * the random draws, was most of a many-dice roll's cost
 * (docs/BENCHMARKS.md). NULL when out of memory. */
static cJSON *
s_faces_raw (const int *faces, int n)
{
    char text[PL_DICE_DICE_MAX * 5 + 3];    /* "1000," a face, "[]", NUL */
    size_t len = 0;
    assert (n >= 0 && n <= PL_DICE_DICE_MAX);
    text[len++] = '[';
    for (int i = 0; i < n; i++) {
        assert (faces[i] >= 1 && faces[i] <= PL_DICE_SIDES_MAX);
        if (i > 0)
            text[len++] = ',';
        char digits[4];
        int nd = 0;
        for (int v = faces[i]; v > 0; v /= 10)
            digits[nd++] = (char) ('0' + v % 10);
        while (nd > 0)
            text[len++] = digits[--nd];
    }
    text[len++] = ']';
    text[len] = '\0';
    assert (len < sizeof text);
    return cJSON_CreateRaw (text);
}

/* qsort's comparator: faces in descending order. Runs inside qsort, on
 * the caller's thread (a handler: the worker loop). */
static int
s_desc (const void *a, const void *b)
{
    return *(const int *) b - *(const int *) a;
}

cJSON *
pl_dice_roll (const pl_dice_t *self, pl_dice_rng_fn *rng, void *arg)
{
    assert (self);
    cJSON *out = cJSON_CreateObject ();
    cJSON *rolls = out ? cJSON_AddArrayToObject (out, "rolls") : NULL;
    long modifier = 0, total = 0;
    bool ok = rolls != NULL;
    for (int i = 0; ok && i < self->nterms; i++) {
        const s_term_t *t = &self->term[i];
        if (!t->count) {
            modifier += t->sign * t->value;
            continue;
        }
        int faces[PL_DICE_DICE_MAX], sorted[PL_DICE_DICE_MAX];
        for (int k = 0; ok && k < t->count; k++)
            ok = (faces[k] = pl_dice_face (t->sides, rng, arg)) > 0;
        if (!ok)
            break;
        memcpy (sorted, faces, (size_t) t->count * sizeof *faces);
        qsort (sorted, (size_t) t->count, sizeof *sorted, s_desc);
        int first = t->keep == S_KEEP_LOW ? t->count - t->kept : 0;
        int nkept = t->keep == S_KEEP_ALL ? t->count : t->kept;
        char die[48];
        s_print (die, sizeof die, t, t->sign > 0);
        cJSON *roll = cJSON_CreateObject ();
        cJSON *results = s_faces_raw (faces, t->count);
        cJSON *kept = t->keep == S_KEEP_ALL ? s_faces_raw (faces, t->count)
                                            : s_faces_raw (sorted + first, nkept);
        ok = roll && results && kept && cJSON_AddItemToArray (rolls, roll);
        if (!ok) {
            cJSON_Delete (roll);
            cJSON_Delete (results);
            cJSON_Delete (kept);
            break;
        }
        cJSON_AddStringToObject (roll, "die", die);
        cJSON_AddItemToObject (roll, "results", results);
        cJSON_AddItemToObject (roll, "kept", kept);
        for (int k = 0; k < nkept; k++)
            total += t->sign * (t->keep == S_KEEP_ALL ? faces[k] : sorted[first + k]);
    }
    if (ok) {
        total += modifier;
        ok = cJSON_AddNumberToObject (out, "modifier", (double) modifier)
          && cJSON_AddNumberToObject (out, "total", (double) total);
    }
    if (!ok) {
        cJSON_Delete (out);
        out = NULL;
    }
    return out;
}
