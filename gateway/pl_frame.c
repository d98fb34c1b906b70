/*  pl_frame - shared outbound frames and per-connection queues. */
#include "pl_frame.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pl_frame_t *
pl_frame_new (const void *a, size_t a_len, const void *b, size_t b_len)
{
    pl_frame_t *f = NULL;
    if (a_len + b_len > UINT32_MAX)
        goto cleanup;
    f = malloc (sizeof *f + LWS_PRE + a_len + b_len);
    if (!f)
        goto cleanup;
    f->refs = 1;
    f->len = (uint32_t) (a_len + b_len);
    f->binary = false;
    f->push = false;
    f->published_us = -1;
    if (a && a_len)
        memcpy (f->data + LWS_PRE, a, a_len);
    if (b && b_len)
        memcpy (f->data + LWS_PRE + a_len, b, b_len);
cleanup:
    return f;
}

void
pl_frame_unref (pl_frame_t **f_p)
{
    assert (f_p);
    pl_frame_t *f = *f_p;
    if (f) {
        assert (f->refs > 0);
        if (--f->refs == 0)
            free (f);
        *f_p = NULL;
    }
}

int
pl_outq_push (pl_outq_t *q, pl_frame_t *f, uint32_t max)
{
    int rc = -1;
    if (q->len >= max)
        goto cleanup;
    if (q->len == q->cap) {
        /* grow, unrolling the ring so head is 0 again */
        uint32_t cap = q->cap ? q->cap * 2 : 4;
        pl_frame_t **ring = malloc (cap * sizeof *ring);
        if (!ring)
            goto cleanup;
        for (uint32_t i = 0; i < q->len; i++)
            ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
        free (q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->len) & (q->cap - 1)] = pl_frame_ref (f);
    q->len++;
    rc = 0;
cleanup:
    return rc;
}

void
pl_outq_pop (pl_outq_t *q)
{
    assert (q->len > 0);
    pl_frame_unref (&q->ring[q->head]);
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    if (q->len == 0) {
        /* drained: give the ring back, so idle connections hold nothing
         * (a malloc per burst is cheap next to the writes it carries) */
        free (q->ring);
        q->ring = NULL;
        q->cap = 0;
        q->head = 0;
    }
}

void
pl_outq_clear (pl_outq_t *q)
{
    while (q->len)
        pl_outq_pop (q);
    free (q->ring);
    memset (q, 0, sizeof *q);
}

void
pl_frame_test (bool verbose)
{
    if (verbose)
        printf (" * pl_frame: ");
    pl_frame_t *f = pl_frame_new ("42", 2, "[\"x\"]", 5);
    assert (f && f->len == 7 && memcmp (pl_frame_payload (f), "42[\"x\"]", 7) == 0);
    pl_outq_t a = { 0 }, b = { 0 };
    /* one frame shared by two queues: three references */
    assert (pl_outq_push (&a, f, 8) == 0);
    assert (pl_outq_push (&b, f, 8) == 0);
    assert (f->refs == 3);
    pl_frame_t *mine = f;
    pl_frame_unref (&mine);
    assert (mine == NULL && f->refs == 2);
    assert (pl_outq_peek (&a) == f);
    pl_outq_pop (&a);
    assert (pl_outq_peek (&a) == NULL && f->refs == 1);
    pl_outq_clear (&b);                         /* frees f */

    /* FIFO order survives growth and wrap-around; the bound is enforced */
    pl_frame_t *fs[40];
    for (int i = 0; i < 40; i++)
        fs[i] = pl_frame_new (&i, sizeof i, NULL, 0);
    for (int i = 0; i < 3; i++)
        assert (pl_outq_push (&a, fs[i], 32) == 0);
    pl_outq_pop (&a);
    pl_outq_pop (&a);                           /* head is now mid-ring */
    for (int i = 3; i < 33; i++)
        assert (pl_outq_push (&a, fs[i], 32) == 0);
    assert (a.len == 31);
    assert (pl_outq_push (&a, fs[33], 32) == 0);
    assert (pl_outq_push (&a, fs[34], 32) == -1);       /* full at max */
    for (int i = 2; i < 34; i++) {
        int v;
        memcpy (&v, pl_frame_payload (pl_outq_peek (&a)), sizeof v);
        assert (v == i);
        pl_outq_pop (&a);
    }
    assert (a.len == 0 && a.ring == NULL);      /* freed once drained */
    for (int i = 0; i < 40; i++)
        pl_frame_unref (&fs[i]);
    pl_outq_clear (&a);
    if (verbose)
        printf ("OK\n");
}
