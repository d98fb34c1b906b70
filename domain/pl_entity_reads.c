/*  pl_entity_reads - what a write's decision read, so that its commit can
 *  check it (pl_entity_int.h, pl_entity__reads_*).
 *
 *  A write reads, decides in C, and commits with one pl_txn whose
 *  expectations are everything the decision read (pl_txn.h). Rather than
 *  have every rule helper (the caller's role, the holder's view, the
 *  creator's membership...) return what it read, they all read through
 *  one of these: a GET or HGET goes through it once, its answer is kept,
 *  and pl_entity__reads_expect turns every answer kept into an
 *  expectation. So a rule added later cannot forget its expectation, and
 *  a key read twice (the caller's role in the entity's campaign and in its
 *  holder's) is read once.
 *
 *  Reads whose keys are known together are wanted first and sent as one
 *  pl_call_batch (one round trip); a read not wanted before is sent on
 *  its own when it is asked for.
 *
 *  Every function runs on the worker loop inside a handler.
 */
#include "pl_entity_int.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;                      /* the key read (owned)                 */
    char *field;                    /* HGET's field (owned), NULL: GET      */
    char *value;                    /* what it held (owned), NULL: nothing  */
    size_t len;                     /* value's length                       */
    bool fetched;                   /* false: wanted, not read yet          */
} s_read_t;

/* Most reads one decision makes. An update reads the entity, its holder
 * and three roles; a holder's delete, the roles of its hidden entities'
 * creators too, a few per campaign member. Past it: INTERNAL. */
#define S_READS_MAX 1024

struct _pl_entity__reads_t {
    bool failed;                    /* out of memory, or past S_READS_MAX   */
    size_t count, cap;
    s_read_t *v;                    /* count of them                        */
};

pl_entity__reads_t *
pl_entity__reads_new (void)
{
    return calloc (1, sizeof (pl_entity__reads_t));
}

void
pl_entity__reads_destroy (pl_entity__reads_t **self_p)
{
    assert (self_p);
    pl_entity__reads_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free (self->v[i].key);
        free (self->v[i].field);
        free (self->v[i].value);
    }
    free (self->v);
    free (self);
    *self_p = NULL;
}

static s_read_t *
s_find (pl_entity__reads_t *self, const char *key, const char *field)
{
    for (size_t i = 0; i < self->count; i++) {
        s_read_t *read = &self->v[i];
        if (strcmp (read->key, key) == 0
        &&  (field ? read->field && strcmp (read->field, field) == 0 : !read->field))
            return read;
    }
    return NULL;
}

/* The entry of key (and field), added when new; NULL when out of room or
 * memory (failed). */
static s_read_t *
s_entry (pl_entity__reads_t *self, const char *key, const char *field)
{
    s_read_t *read = s_find (self, key, field);
    if (read || self->failed)
        return read;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_read_t *v = cap <= S_READS_MAX ? realloc (self->v, cap * sizeof *v) : NULL;
        if (!v) {
            self->failed = true;
            return NULL;
        }
        self->v = v;
        self->cap = cap;
    }
    read = &self->v[self->count];
    memset (read, 0, sizeof *read);
    read->key = strdup (key);
    read->field = field ? strdup (field) : NULL;
    if (!read->key || (field && !read->field)) {
        free (read->key);
        free (read->field);
        self->failed = true;
        return NULL;
    }
    self->count++;
    return read;
}

/* Keep reply (a GET or HGET's) as read's answer. false: out of memory. */
static bool
s_keep (s_read_t *read, const redisReply *reply)
{
    read->fetched = true;
    read->value = NULL;
    read->len = 0;
    if (reply->type != REDIS_REPLY_STRING)
        return true;
    if (!(read->value = malloc (reply->len + 1)))
        return false;
    memcpy (read->value, reply->str, reply->len);
    read->value[reply->len] = 0;
    read->len = reply->len;
    return true;
}

void
pl_entity__reads_want (pl_entity__reads_t *self, const char *field, const char *keyfmt, ...)
{
    assert (self && keyfmt);
    va_list ap;
    va_start (ap, keyfmt);
    char *key = pl_entity__vfmt (keyfmt, ap);
    va_end (ap);
    if (!key)
        self->failed = true;
    else
        s_entry (self, key, field);
    free (key);
}

int
pl_entity__reads_run (pl_entity__reads_t *self, pl_call_t *call)
{
    assert (self && call);
    int rc = -1;
    pl_redis_batch_t b = { 0 };
    size_t index[PL_REDIS_BATCH_MAX];
    int n = 0;
    if (self->failed)
        goto oom;
    for (size_t i = 0; i < self->count; i++) {
        s_read_t *read = &self->v[i];
        if (read->fetched || n == PL_REDIS_BATCH_MAX)
            continue;                       /* past a batch: read when asked for */
        if (read->field)
            pl_redis_batch_add (&b, "HGET %s %s", read->key, read->field);
        else
            pl_redis_batch_add (&b, "GET %s", read->key);
        index[n++] = i;
    }
    if (n > 0 && !pl_call_batch (call, &b))
        goto cleanup;                       /* answered */
    for (int i = 0; i < n; i++)
        if (!s_keep (&self->v[index[i]], b.reply[i]))
            goto oom;
    rc = 0;
    goto cleanup;
oom:
    pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
cleanup:
    pl_redis_batch_clear (&b);
    return rc;
}

int
pl_entity__reads_get (pl_entity__reads_t *self, pl_call_t *call, const char *field,
                      const char **value, size_t *len, const char *keyfmt, ...)
{
    assert (self && call && value && keyfmt);
    int rc = -1;
    redisReply *reply = NULL;
    va_list ap;
    va_start (ap, keyfmt);
    char *key = pl_entity__vfmt (keyfmt, ap);
    va_end (ap);
    s_read_t *read = key ? s_entry (self, key, field) : NULL;
    if (!read)
        goto oom;
    if (!read->fetched) {
        reply = field ? pl_call_command (call, "HGET %s %s", key, field)
                      : pl_call_command (call, "GET %s", key);
        if (!reply)
            goto cleanup;
        if (!s_keep (read, reply))
            goto oom;
    }
    *value = read->value;
    if (len)
        *len = read->len;
    rc = 0;
    goto cleanup;
oom:
    pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (key);
    return rc;
}

bool
pl_entity__reads_note (pl_entity__reads_t *self, const char *key, const redisReply *reply)
{
    assert (self && key && reply);
    s_read_t *read = s_entry (self, key, NULL);
    return read && s_keep (read, reply);
}

int
pl_entity__role (pl_call_t *call, pl_entity__reads_t *reads, const char *campaign,
                 const char *user, pl_role_t *role)
{
    const char *value = NULL;
    *role = PL_ROLE_NONE;
    if (!reads)
        return pl_authz_role (call, campaign, user, role);
    if (pl_entity__reads_get (reads, call, user, &value, NULL, PL_KEY_CAMPAIGN_MEMBERS, campaign))
        return -1;
    if (value)
        *role = pl_authz_role_parse (value);
    return 0;
}

void
pl_entity__reads_expect (const pl_entity__reads_t *self, pl_txn_t *txn)
{
    assert (self && txn);
    for (size_t i = 0; i < self->count; i++) {
        const s_read_t *read = &self->v[i];
        if (!read->fetched)
            continue;                       /* wanted, never read: not decided on */
        if (read->field)
            pl_txn_expect_field (txn, read->field, read->value, "%s", read->key);
        else
            pl_txn_expect_value (txn, read->value, read->len, "%s", read->key);
    }
}
