/*  pl_rule - a rule checked, stored, evaluated and applied (pl_rule.h).
 *  The runner is pl_rule_run.c.
 */
#include "pl_rule.h"
#include "pl_rule_expr.h"
#include "pl_state.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _pl_rule_t {
    int refs;                       /* holders: pl_rule_destroy drops one  */
    cJSON *json;                    /* the rule as stored (owned)          */
    pl_rule_on_t on;
    pl_rule_expr_t *when;           /* parsed                              */
    const cJSON *then;              /* in json                             */
};

static const char *s_on_names[PL_RULE_ON_COUNT] = { "actor", "item", "gameState" };
static const char *s_ops[] = { "set", "unset", "inc", "push", "pull" };
/* What an entity rule may not change: the server's fields, and what moves
 * the entity between audiences (pl_entity.h). */
static const char *s_entity_owned[] = {
    "id", "createdBy", "createdAt", "updatedAt", "version", "campaignId", "hidden"
};

const char *
pl_rule_on_name (pl_rule_on_t on)
{
    assert ((int) on >= 0 && on < PL_RULE_ON_COUNT);
    return s_on_names[on];
}

static void
s_why (char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size > 0) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (why, why_size, fmt, ap);
        va_end (ap);
    }
}

/* Check operation i of then for a rule watching on; returns a clean copy
 * {operation, path, value?}, or NULL with why. */
static cJSON *
s_op_check (const cJSON *op, int i, pl_rule_on_t on, char *why, size_t why_size)
{
    cJSON *clean = NULL;
    char *text = NULL;
    char reason[256];
    const cJSON *jop = cJSON_GetObjectItemCaseSensitive (op, "operation");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive (op, "path");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive (op, "value");
    size_t kind = 0;
    if (!cJSON_IsObject (op)) {
        s_why (why, why_size, "then.%d: not an object {operation, path, value?}", i);
        goto cleanup;
    }
    for (kind = 0; kind < sizeof s_ops / sizeof s_ops[0]; kind++)
        if (cJSON_IsString (jop) && strcmp (jop->valuestring, s_ops[kind]) == 0)
            break;
    if (kind == sizeof s_ops / sizeof s_ops[0]) {
        s_why (why, why_size, "then.%d: operation must be set, unset, inc, push or pull", i);
        goto cleanup;
    }
    if (!cJSON_IsString (path)) {
        s_why (why, why_size, "then.%d: path must be a string", i);
        goto cleanup;
    }
    int bad = on == PL_RULE_ON_STATE
            ? pl_state_path_check (path->valuestring, reason, sizeof reason)
            : pl_state_doc_path_check (path->valuestring, reason, sizeof reason);
    if (bad) {
        s_why (why, why_size, "then.%d: %s", i, reason);
        goto cleanup;
    }
    size_t first = strcspn (path->valuestring, ".");
    if (on == PL_RULE_ON_STATE
    &&  ((first == 6 && strncmp (path->valuestring, "actors", 6) == 0)
         || (first == 5 && strncmp (path->valuestring, "items", 5) == 0))) {
        /* their copies follow the stored entities (pl_session.h) */
        s_why (why, why_size, "then.%d: a game-state rule may not change the embedded actors "
               "or items: write an actor or item rule", i);
        goto cleanup;
    }
    if (on != PL_RULE_ON_STATE) {
        for (size_t k = 0; k < sizeof s_entity_owned / sizeof s_entity_owned[0]; k++)
            if (strlen (s_entity_owned[k]) == first
            &&  strncmp (path->valuestring, s_entity_owned[k], first) == 0) {
                s_why (why, why_size, "then.%d: a rule may not change %s of an %s", i,
                       s_entity_owned[k], pl_rule_on_name (on));
                goto cleanup;
            }
    }
    bool unset = strcmp (s_ops[kind], "unset") == 0;
    if (!unset) {
        if (!value) {
            s_why (why, why_size, "then.%d: %s needs a value", i, s_ops[kind]);
            goto cleanup;
        }
        if (pl_state_value_check (value, reason, sizeof reason)) {
            s_why (why, why_size, "then.%d: %s", i, reason);
            goto cleanup;
        }
        if (strcmp (s_ops[kind], "inc") == 0 && !cJSON_IsNumber (value)) {
            s_why (why, why_size, "then.%d: inc needs a finite number", i);
            goto cleanup;
        }
        text = cJSON_PrintUnformatted (value);
        if (!text) {
            s_why (why, why_size, "out of memory");
            goto cleanup;
        }
        if (strlen (text) > PL_RULE_VALUE_MAX) {
            s_why (why, why_size, "then.%d: value longer than %d bytes as JSON", i,
                   PL_RULE_VALUE_MAX);
            goto cleanup;
        }
    }
    clean = cJSON_CreateObject ();
    if (!clean
    ||  !cJSON_AddStringToObject (clean, "operation", s_ops[kind])
    ||  !cJSON_AddStringToObject (clean, "path", path->valuestring)
    ||  (!unset && !cJSON_AddItemToObject (clean, "value", cJSON_Duplicate (value, true)))) {
        cJSON_Delete (clean);
        clean = NULL;
        s_why (why, why_size, "out of memory");
    }
cleanup:
    free (text);
    return clean;
}

pl_rule_t *
pl_rule_new (const cJSON *def, char *why, size_t why_size)
{
    pl_rule_t *self = NULL;
    char err[160];
    s_why (why, why_size, "%s", "");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (def, "name");
    const cJSON *on = cJSON_GetObjectItemCaseSensitive (def, "on");
    const cJSON *when = cJSON_GetObjectItemCaseSensitive (def, "when");
    const cJSON *then = cJSON_GetObjectItemCaseSensitive (def, "then");
    if (!cJSON_IsObject (def)) {
        s_why (why, why_size, "a rule is an object {name, on, when, then}");
        goto cleanup;
    }
    size_t chars = cJSON_IsString (name) ? pl_wire_code_points (name->valuestring) : 0;
    if (chars < 1 || chars > PL_RULE_NAME_MAX) {
        s_why (why, why_size, "name must be a string of 1 to %d characters", PL_RULE_NAME_MAX);
        goto cleanup;
    }
    int kind;
    for (kind = 0; kind < PL_RULE_ON_COUNT; kind++)
        if (cJSON_IsString (on) && strcmp (on->valuestring, s_on_names[kind]) == 0)
            break;
    if (kind == PL_RULE_ON_COUNT) {
        s_why (why, why_size, "on must be \"actor\", \"item\" or \"gameState\"");
        goto cleanup;
    }
    if (!cJSON_IsString (when)) {
        s_why (why, why_size, "when must be a string (an expression)");
        goto cleanup;
    }
    int count = cJSON_IsArray (then) ? cJSON_GetArraySize (then) : 0;
    if (count < 1 || count > PL_RULE_THEN_MAX) {
        s_why (why, why_size, "then must be an array of 1 to %d operations", PL_RULE_THEN_MAX);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    if (!self) {
        s_why (why, why_size, "out of memory");
        goto cleanup;
    }
    self->refs = 1;
    self->on = (pl_rule_on_t) kind;
    self->when = pl_rule_expr_new (when->valuestring, strlen (when->valuestring), err,
                                   sizeof err);
    if (!self->when) {
        s_why (why, why_size, "when: %s", err);
        goto fail;
    }
    self->json = cJSON_CreateObject ();
    cJSON *ops = cJSON_CreateArray ();
    if (!self->json || !ops
    ||  !cJSON_AddStringToObject (self->json, "name", name->valuestring)
    ||  !cJSON_AddStringToObject (self->json, "on", s_on_names[kind])
    ||  !cJSON_AddStringToObject (self->json, "when", when->valuestring)) {
        cJSON_Delete (ops);
        s_why (why, why_size, "out of memory");
        goto fail;
    }
    cJSON_AddItemToObject (self->json, "then", ops);
    self->then = ops;
    int i = 0;
    for (const cJSON *op = then->child; op; op = op->next, i++) {
        cJSON *clean = s_op_check (op, i, self->on, why, why_size);
        if (!clean)
            goto fail;
        cJSON_AddItemToArray (ops, clean);
    }
    char *text = cJSON_PrintUnformatted (self->json);
    size_t len = text ? strlen (text) : 0;
    free (text);
    if (!text) {
        s_why (why, why_size, "out of memory");
        goto fail;
    }
    if (len > PL_RULE_TEXT_MAX) {
        s_why (why, why_size, "the rule is %zu bytes as JSON, more than %d", len,
               PL_RULE_TEXT_MAX);
        goto fail;
    }
    goto cleanup;
fail:
    pl_rule_destroy (&self);
cleanup:
    return self;
}

void
pl_rule_destroy (pl_rule_t **self_p)
{
    assert (self_p);
    pl_rule_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (--self->refs > 0)
        return;                             /* the cache (or a list) holds it */
    pl_rule_expr_destroy (&self->when);
    cJSON_Delete (self->json);
    free (self);
}

bool
pl_rule_stamp (pl_rule_t *self, const char *id, const char *campaign_id,
               const char *created_by, int64_t created_at)
{
    assert (self && id && campaign_id && created_by);
    bool ok = false;
    cJSON *json = cJSON_CreateObject ();
    if (!json
    ||  !cJSON_AddStringToObject (json, "id", id)
    ||  !cJSON_AddStringToObject (json, "campaignId", campaign_id)) {
        cJSON_Delete (json);
        goto cleanup;
    }
    /* id, campaignId, then the client's fields, then createdBy, createdAt */
    while (self->json->child) {
        cJSON *item = self->json->child;
        char *key = item->string;
        item = cJSON_DetachItemViaPointer (self->json, item);
        cJSON_AddItemToObject (json, key, item);
    }
    cJSON_Delete (self->json);
    self->json = json;
    self->then = cJSON_GetObjectItemCaseSensitive (json, "then");
    ok = cJSON_AddStringToObject (json, "createdBy", created_by)
      && cJSON_AddNumberToObject (json, "createdAt", (double) created_at);
cleanup:
    return ok;
}

pl_rule_t *
pl_rule_load (const char *text, size_t len)
{
    pl_rule_t *self = NULL;
    char why[256];
    /* cJSON keeps no string's length: a \\u0000 would cut a when or a name
     * short where strlen is taken (pl_rule_new); requests never hold one
     * (the runtime refuses them), and neither may what Redis gives back */
    cJSON *stored = pl_proto_json_has_nul (text, len) ? NULL : pl_proto_json_parse (text, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (stored, "id");
    const cJSON *campaign = cJSON_GetObjectItemCaseSensitive (stored, "campaignId");
    const cJSON *creator = cJSON_GetObjectItemCaseSensitive (stored, "createdBy");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive (stored, "createdAt");
    if (!cJSON_IsString (id) || !cJSON_IsString (campaign) || !cJSON_IsString (creator)
    ||  !cJSON_IsNumber (at))
        goto cleanup;
    self = pl_rule_new (stored, why, sizeof why);
    if (self && !pl_rule_stamp (self, id->valuestring, campaign->valuestring,
                                creator->valuestring, (int64_t) at->valuedouble))
        pl_rule_destroy (&self);
cleanup:
    cJSON_Delete (stored);
    return self;
}

const cJSON *
pl_rule_json (const pl_rule_t *self)
{
    assert (self);
    return self->json;
}

static const char *
s_str (const pl_rule_t *self, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (self->json, key);
    return cJSON_IsString (item) ? item->valuestring : "";
}

const char *
pl_rule_id (const pl_rule_t *self)
{
    assert (self);
    return s_str (self, "id");
}

const char *
pl_rule_creator (const pl_rule_t *self)
{
    assert (self);
    return s_str (self, "createdBy");
}

pl_rule_on_t
pl_rule_on (const pl_rule_t *self)
{
    assert (self);
    return self->on;
}

const cJSON *
pl_rule_then (const pl_rule_t *self)
{
    assert (self);
    return self->then;
}

int
pl_rule_cmp (const pl_rule_t *a, const pl_rule_t *b)
{
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive (a->json, "createdAt");
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive (b->json, "createdAt");
    double x = cJSON_IsNumber (ta) ? ta->valuedouble : 0;
    double y = cJSON_IsNumber (tb) ? tb->valuedouble : 0;
    return x != y ? (x < y ? -1 : 1) : strcmp (pl_rule_id (a), pl_rule_id (b));
}

int
pl_rule_when (const pl_rule_t *self, const cJSON *doc)
{
    assert (self);
    return pl_rule_expr_eval (self->when, doc);
}

cJSON *
pl_rule_apply (const pl_rule_t *self, const cJSON *doc, char *why, size_t why_size)
{
    assert (self);
    cJSON *out = NULL;
    int index = -1;
    if (!cJSON_IsObject (doc))
        s_why (why, why_size, "the %s is not an object", pl_rule_on_name (self->on));
    else
    if (self->on == PL_RULE_ON_STATE)
        pl_state_apply (doc, self->then, &out, &index, why, why_size);
    else
        pl_state_doc_apply (doc, self->then, &out, &index, why, why_size);
    return out;
}

/* ---- storage ---------------------------------------------------------- */

/* The rules parsed so far, by their stored text: a rule never changes once
 * stored (there is no rule:update), so the same text is the same rule, and
 * the runner, which reads a campaign's rules on every change it hears,
 * parses each (its JSON, its when) once instead of once per change.
 * Direct-mapped, S_CACHE_SIZE entries; a collision replaces the entry.
 * Bounded by bytes too: the entries hold at most S_CACHE_BYTES of stored
 * text (a rule's parsed form is a small multiple of its text, at worst
 * some 40x for a value of tiny array elements: 80 bytes a cJSON node
 * for 2 bytes of text), and a rule that would
 * go past is handed out uncached (parsed again next time).
 * An entry is immutable and shared (refs), so a list handed out survives
 * an eviction. Only the worker's thread touches it, and never across a
 * Redis call (no entry is looked up half-way). */
#define S_CACHE_SIZE 1024
#define S_CACHE_BYTES (2u << 20)
static size_t s_cache_bytes;        /* stored text the entries hold        */
static struct {
    uint64_t hash;
    size_t len;
    char *text;                     /* the stored text (owned)             */
    pl_rule_t *rule;                /* one ref                             */
} s_cache[S_CACHE_SIZE];

static uint64_t
s_hash (const char *text, size_t len)
{
    uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) text[i]) * 1099511628211ULL;
    return h;
}

pl_rule_t *
pl_rule_load_shared (const char *text, size_t len)
{
    uint64_t hash = s_hash (text, len);
    size_t at = (size_t) (hash % S_CACHE_SIZE);
    pl_rule_t *rule = NULL;
    if (s_cache[at].rule && s_cache[at].hash == hash && s_cache[at].len == len
    &&  memcmp (s_cache[at].text, text, len) == 0) {
        rule = s_cache[at].rule;
        rule->refs++;
        goto cleanup;
    }
    rule = pl_rule_load (text, len);
    size_t others = s_cache_bytes - (s_cache[at].rule ? s_cache[at].len : 0);
    char *copy = rule && others + len <= S_CACHE_BYTES ? malloc (len ? len : 1) : NULL;
    if (copy) {
        s_cache_bytes = others + len;
        memcpy (copy, text, len);
        pl_rule_destroy (&s_cache[at].rule);
        free (s_cache[at].text);
        s_cache[at].hash = hash;
        s_cache[at].len = len;
        s_cache[at].text = copy;
        s_cache[at].rule = rule;
        rule->refs++;
    }
cleanup:
    return rule;
}

size_t
pl_rule_cache_bytes (void)
{
    return s_cache_bytes;
}

/* qsort's comparator of pl_rule_list: runs on the worker loop, inside
 * the call that lists (no Redis call in between). */
static int
s_cmp (const void *a, const void *b)
{
    return pl_rule_cmp (*(pl_rule_t *const *) a, *(pl_rule_t *const *) b);
}

int
pl_rule_list (pl_call_t *call, const char *campaign_id, pl_rule_on_t on,
              pl_rule_t ***rules, size_t *count)
{
    assert (call && campaign_id && rules && count);
    int rc = -1;
    *rules = NULL;
    *count = 0;
    redisReply *reply = pl_call_command (call, "HVALS " PL_KEY_CAMPAIGN_RULES, campaign_id);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY) {
        pl_error ("rules of campaign %s: not a hash", campaign_id);
        rc = 0;
        goto cleanup;
    }
    if (reply->elements) {
        *rules = calloc (reply->elements, sizeof **rules);
        if (!*rules) {
            pl_error ("rules of campaign %s: out of memory", campaign_id);
            if (!pl_call_answered (call))   /* as the header says */
                pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        pl_rule_t *rule = e->type == REDIS_REPLY_STRING ? pl_rule_load_shared (e->str, e->len)
                                                        : NULL;
        if (!rule) {
            pl_warn ("rules of campaign %s: a corrupt entry skipped", campaign_id);
            continue;
        }
        if (on != PL_RULE_ON_COUNT && rule->on != on) {
            pl_rule_destroy (&rule);
            continue;
        }
        (*rules)[(*count)++] = rule;
    }
    if (*count > 1)
        qsort (*rules, *count, sizeof **rules, s_cmp);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    if (rc)
        pl_rule_list_free (rules, count);
    return rc;
}

void
pl_rule_list_free (pl_rule_t ***rules, size_t *count)
{
    assert (rules && count);
    for (size_t i = 0; *rules && i < *count; i++)
        pl_rule_destroy (&(*rules)[i]);
    free (*rules);
    *rules = NULL;
    *count = 0;
}
