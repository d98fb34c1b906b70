/*  pl_pending - ring of requests awaiting replies (lws loop only). */
#include "pl_pending.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t reqid;                 /* request id this slot holds       */
    int64_t deadline;               /* ms                               */
    pl_pending_entry_t entry;       /* who to answer                    */
    bool active;                    /* still awaiting its reply         */
} s_slot_t;

struct _pl_pending_t {
    s_slot_t *ring;                 /* size slots                       */
    uint32_t mask;                  /* slots - 1                        */
    uint64_t next;                  /* next id to hand out              */
    uint64_t oldest;                /* oldest id possibly still live    */
};

pl_pending_t *
pl_pending_new (uint32_t slots)
{
    assert (slots && (slots & (slots - 1)) == 0);
    pl_pending_t *self = calloc (1, sizeof *self);
    if (self) {
        self->ring = calloc (slots, sizeof *self->ring);
        if (!self->ring) {
            free (self);
            self = NULL;
        }
        else
            self->mask = slots - 1;
    }
    return self;
}

void
pl_pending_destroy (pl_pending_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->ring);
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
pl_pending_next_id (const pl_pending_t *self)
{
    return self->next;
}

size_t
pl_pending_id_text (const char *gateway_id, uint64_t reqid, char out[PL_PENDING_ID_SIZE])
{
    int n = snprintf (out, PL_PENDING_ID_SIZE, "%s-%llx", gateway_id, (unsigned long long) reqid);
    assert (n > 0 && n < PL_PENDING_ID_SIZE);      /* gateway ids are under 16 bytes */
    return (size_t) n;
}

bool
pl_pending_id_parse (const char *gateway_id, const void *bytes, size_t len, uint64_t *reqid)
{
    bool ours = false;
    const char *text = bytes;
    size_t prefix = strlen (gateway_id);
    uint64_t value = 0;
    if (len < prefix + 2 || len > prefix + 17 || memcmp (text, gateway_id, prefix) != 0
    ||  text[prefix] != '-')
        goto cleanup;
    for (size_t i = prefix + 1; i < len; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9')
            value = value << 4 | (uint64_t) (c - '0');
        else
        if (c >= 'a' && c <= 'f')
            value = value << 4 | (uint64_t) (c - 'a' + 10);
        else
            goto cleanup;
    }
    /* one text per id: "gw-01" is not "gw-1" */
    char canonical[PL_PENDING_ID_SIZE];
    if (pl_pending_id_text (gateway_id, value, canonical) != len
    ||  memcmp (canonical, text, len) != 0)
        goto cleanup;
    *reqid = value;
    ours = true;
cleanup:
    return ours;
}

/* Move `oldest` past answered entries. */
static void
s_retire (pl_pending_t *self)
{
    while (self->oldest != self->next && !self->ring[self->oldest & self->mask].active)
        self->oldest++;
}

bool
pl_pending_has_room (pl_pending_t *self)
{
    if (self->next - self->oldest > self->mask)
        s_retire (self);
    return self->next - self->oldest <= self->mask;
}

int
pl_pending_add (pl_pending_t *self, int64_t deadline, const pl_pending_entry_t *entry)
{
    int rc = -1;
    if (!pl_pending_has_room (self))
        goto cleanup;
    s_slot_t *slot = &self->ring[self->next & self->mask];
    slot->reqid = self->next++;
    slot->deadline = deadline;
    slot->entry = *entry;
    slot->active = true;
    rc = 0;
cleanup:
    return rc;
}

bool
pl_pending_take (pl_pending_t *self, uint64_t reqid, pl_pending_entry_t *entry)
{
    s_slot_t *slot = &self->ring[reqid & self->mask];
    if (!slot->active || slot->reqid != reqid)
        return false;
    slot->active = false;
    *entry = slot->entry;
    return true;
}

int64_t
pl_pending_expire (pl_pending_t *self, int64_t now, pl_pending_expired_fn *fn, void *arg)
{
    int64_t next = -1;
    while (self->oldest != self->next) {
        s_slot_t *slot = &self->ring[self->oldest & self->mask];
        if (slot->active) {
            if (slot->deadline > now) {
                next = slot->deadline;
                break;
            }
            slot->active = false;
            fn (arg, slot->reqid, &slot->entry);
        }
        self->oldest++;
    }
    return next;
}

/* ---- selftest -------------------------------------------------------- */

static int s_expired;
static uint64_t s_last_conn;
static int s_last_kind;

static void
s_on_expired (void *arg, uint64_t reqid, const pl_pending_entry_t *entry)
{
    (void) reqid;
    assert (arg == &s_expired);
    s_expired++;
    s_last_conn = entry->conn;
    s_last_kind = entry->kind;
}

void
pl_pending_test (bool verbose)
{
    if (verbose)
        printf (" * pl_pending: ");
    pl_pending_t *p = pl_pending_new (4);
    assert (p);
    pl_pending_entry_t e = { 7, 1, true, PL_PENDING_SOCKET, 3, 42 }, got;
    uint64_t first = pl_pending_next_id (p);
    assert (pl_pending_add (p, 100, &e) == 0);
    e.conn = 8;
    e.kind = PL_PENDING_HTTP;
    assert (pl_pending_add (p, 110, &e) == 0);
    e.kind = PL_PENDING_SOCKET;
    /* a reply matches once; a repeat or a wrong id does not */
    assert (pl_pending_take (p, first, &got) && got.conn == 7 && got.ack_id == 1
            && got.kind == PL_PENDING_SOCKET && got.event == 3 && got.start_us == 42);
    /* the metrics fields fit what was padding: an entry is still 24 bytes */
    assert (sizeof (pl_pending_entry_t) == 24);
    assert (!pl_pending_take (p, first, &got));
    assert (!pl_pending_take (p, first + 4, &got));        /* same slot, other id */
    /* expiry: nothing before the deadline, then exactly the live one */
    assert (pl_pending_expire (p, 50, s_on_expired, &s_expired) == 110);
    assert (s_expired == 0);
    assert (pl_pending_expire (p, 110, s_on_expired, &s_expired) == -1);
    assert (s_expired == 1 && s_last_conn == 8 && s_last_kind == PL_PENDING_HTTP);
    assert (!pl_pending_take (p, first + 1, &got));        /* late reply dropped */

    /* bounded: 4 live requests fill it; an answer makes room again */
    uint64_t ids[5];
    for (int i = 0; i < 4; i++) {
        ids[i] = pl_pending_next_id (p);
        assert (pl_pending_add (p, 200 + i, &e) == 0);
    }
    assert (!pl_pending_has_room (p));
    assert (pl_pending_add (p, 300, &e) == -1);
    assert (pl_pending_take (p, ids[0], &got));
    assert (pl_pending_has_room (p));
    ids[4] = pl_pending_next_id (p);
    assert (pl_pending_add (p, 300, &e) == 0);
    /* the oldest live one is the next to expire, wrap-around included */
    assert (pl_pending_expire (p, 0, s_on_expired, &s_expired) == 201);
    assert (pl_pending_expire (p, 1000, s_on_expired, &s_expired) == -1);
    assert (s_expired == 5);
    assert (!pl_pending_take (p, ids[4], &got));
    pl_pending_destroy (&p);
    pl_pending_destroy (&p);
    assert (p == NULL);

    /* request id text: printable, one form per id, and only ours parses */
    char text[PL_PENDING_ID_SIZE];
    uint64_t id = 0;
    assert (pl_pending_id_text ("gw-1", 0x2a, text) == 7 && strcmp (text, "gw-1-2a") == 0);
    assert (pl_pending_id_parse ("gw-1", text, 7, &id) && id == 0x2a);
    assert (pl_pending_id_text ("abcdefghijklmno", UINT64_MAX, text) == 32);
    assert (pl_pending_id_parse ("abcdefghijklmno", text, 32, &id) && id == UINT64_MAX);
    assert (pl_pending_id_text ("gw-1", 0, text) == 6);
    assert (pl_pending_id_parse ("gw-1", "gw-1-0", 6, &id) && id == 0);
    const char *not_ours[] = {
        "gw-1-", "gw-1-02a", "gw-1-2A", "gw-2-2a", "gw-1x2a", "gw-1-2a ", "gw-1-g",
        "gw-1-10000000000000000", "gw-", "", "gw-11-2a",
    };
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
        assert (!pl_pending_id_parse ("gw-1", not_ours[i], strlen (not_ours[i]), &id));
    assert (!pl_pending_id_parse ("gw-1", "gw-1-2\0a", 8, &id));     /* a NUL inside */
    uint64_t raw = 0x2a;                /* the old binary form is not ours */
    assert (!pl_pending_id_parse ("gw-1", &raw, sizeof raw, &id));
    if (verbose)
        printf ("OK\n");
}
