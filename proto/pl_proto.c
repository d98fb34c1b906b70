/*  pl_proto - tables and envelope helpers generated from proto/events.def and errors.def. */
#include "pl_proto.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pl_event_info_t s_events[PL_EV_COUNT] = {
#define PL_EVENT(id, name, service, ack, arg, data, doc) \
    [PL_EV_##id] = { name, service, ack, arg, data, doc },
#include "events.def"
};

static const pl_push_info_t s_pushes[PL_PUSH_COUNT] = {
#define PL_PUSH(id, name, room, payload, doc) \
    [PL_PUSH_##id] = { name, room, payload, doc },
#include "events.def"
};

typedef struct {
    const char *code;
    int http;
    const char *doc;
} s_error_info_t;

static const s_error_info_t s_errors[PL_ERR_COUNT] = {
    [PL_ERR_NONE] = { "OK", 200, "Success." },
#define PL_ERROR(id, code, http, doc) [PL_ERR_##id] = { code, http, doc },
#include "errors.def"
};

const pl_event_info_t *
pl_proto_event (pl_event_id_t id)
{
    assert ((int) id >= 0 && id < PL_EV_COUNT);
    return &s_events[id];
}

const pl_push_info_t *
pl_proto_push (pl_push_id_t id)
{
    assert ((int) id >= 0 && id < PL_PUSH_COUNT);
    return &s_pushes[id];
}

const char *
pl_proto_push_name (pl_push_id_t id)
{
    return pl_proto_push (id)->name;
}

/* A linear scan: the table is tens of rows and this runs once per client
 * request, next to a JSON parse that costs far more. */
int
pl_proto_event_lookup (const char *name, size_t len)
{
    int found = -1;
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (strlen (s_events[i].name) == len
        &&  memcmp (s_events[i].name, name, len) == 0) {
            found = i;
            break;
        }
    }
    return found;
}

int
pl_proto_push_lookup (const char *name, size_t len)
{
    int found = -1;
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        if (strlen (s_pushes[i].name) == len
        &&  memcmp (s_pushes[i].name, name, len) == 0) {
            found = i;
            break;
        }
    }
    return found;
}

size_t
pl_proto_services (const char *const **list)
{
    static const char *services[PL_EV_COUNT + 1];
    static size_t count = 0;
    if (count == 0) {
        for (int i = 0; i < PL_EV_COUNT; i++) {
            bool seen = false;
            for (size_t j = 0; j < count; j++)
                if (strcmp (services[j], s_events[i].service) == 0)
                    seen = true;
            if (!seen)
                services[count++] = s_events[i].service;
        }
    }
    *list = services;
    return count;
}

const char *
pl_proto_err_code (pl_err_t err)
{
    assert ((int) err >= 0 && err < PL_ERR_COUNT);
    return s_errors[err].code;
}

int
pl_proto_err_http (pl_err_t err)
{
    assert ((int) err >= 0 && err < PL_ERR_COUNT);
    return s_errors[err].http;
}

const char *
pl_proto_err_doc (pl_err_t err)
{
    assert ((int) err >= 0 && err < PL_ERR_COUNT);
    return s_errors[err].doc;
}

pl_err_t
pl_proto_err_parse (const char *code)
{
    pl_err_t found = PL_ERR_INTERNAL;
    for (int i = 1; code && i < PL_ERR_COUNT; i++) {
        if (strcmp (s_errors[i].code, code) == 0) {
            found = (pl_err_t) i;
            break;
        }
    }
    return found;
}

char *
pl_proto_reply_ok (cJSON *data)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    if (!root) {
        cJSON_Delete (data);
        goto cleanup;
    }
    cJSON_AddBoolToObject (root, "success", 1);
    if (data)
        cJSON_AddItemToObject (root, "data", data);
    text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    return text;
}

char *
pl_proto_reply_err (pl_err_t err, const char *message)
{
    return pl_proto_reply_err_with (err, message, NULL);
}

char *
pl_proto_reply_err_rid (pl_err_t err, const char *message, const char *rid)
{
    cJSON *fields = NULL;
    if (rid && (fields = cJSON_CreateObject ()))
        cJSON_AddStringToObject (fields, "requestId", rid);
    return pl_proto_reply_err_with (err, message, fields);
}

char *
pl_proto_reply_add_rid (const char *reply, size_t len, const char *rid)
{
    char *text = NULL;
    cJSON *root = rid ? pl_proto_json_parse (reply, len) : NULL;
    cJSON *error = cJSON_GetObjectItemCaseSensitive (root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive (error, "code");
    if (!cJSON_IsObject (error) || !cJSON_IsString (code)
    ||  cJSON_GetObjectItemCaseSensitive (error, "requestId"))
        goto cleanup;
    pl_err_t err = pl_proto_err_parse (code->valuestring);
    if ((err != PL_ERR_INTERNAL && err != PL_ERR_TIMEOUT)
    ||  strcmp (code->valuestring, pl_proto_err_code (err)) != 0)
        goto cleanup;
    if (cJSON_AddStringToObject (error, "requestId", rid))
        text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    return text;
}

char *
pl_proto_reply_err_with (pl_err_t err, const char *message, cJSON *fields)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    cJSON *error = cJSON_CreateObject ();
    if (!root || !error) {
        cJSON_Delete (error);
        goto cleanup;
    }
    cJSON_AddBoolToObject (root, "success", 0);
    cJSON_AddStringToObject (error, "code", pl_proto_err_code (err));
    cJSON_AddStringToObject (error, "message",
                             message ? message : pl_proto_err_doc (err));
    cJSON *field = fields ? fields->child : NULL;
    while (field) {
        cJSON *next = field->next;
        if (field->string && strcmp (field->string, "code") && strcmp (field->string, "message"))
            cJSON_AddItemToObject (error, field->string, cJSON_DetachItemViaPointer (fields, field));
        field = next;
    }
    cJSON_AddItemToObject (root, "error", error);
    text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    cJSON_Delete (fields);
    return text;
}

size_t
pl_proto_json_depth (const char *text, size_t len)
{
    size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;                        /* the escaped byte is no quote */
            else
            if (c == '"')
                in_string = false;
        }
        else
        if (c == '"')
            in_string = true;
        else
        if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
        }
        else
        if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return deepest;
}

cJSON *
pl_proto_json_parse (const char *text, size_t len)
{
    return pl_proto_json_parse_depth (text, len, PL_PROTO_JSON_DEPTH_MAX);
}

cJSON *
pl_proto_json_parse_depth (const char *text, size_t len, size_t max_depth)
{
    const char *end = NULL;
    cJSON *root = NULL;
    if (pl_proto_json_depth (text, len) > max_depth)
        goto cleanup;                       /* before cJSON recurses into it */
    root = cJSON_ParseWithLengthOpts (text, len, &end, 0);
    while (root && end < text + len) {
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            cJSON_Delete (root);
            root = NULL;
        }
        end++;
    }
cleanup:
    return root;
}

/* A scan, not a parse: it runs before the parse, on text the parser will
 * judge anyway. Outside a string a backslash is no valid JSON, so where
 * the strings are need not be tracked: every backslash starts an escape,
 * and stepping over the escaped byte keeps "\\u0000" (a backslash escaped,
 * then plain text) from being read as one. */
bool
pl_proto_json_has_nul (const char *text, size_t len)
{
    bool found = false;
    size_t i = 0;
    while (!found && i < len) {
        if (text[i] == 0)
            found = true;
        else
        if (text[i] == '\\' && i + 1 < len && text[i + 1] != 0) {
            /* \u0000 is the only escape that decodes to 0: the digits
             * are all zeros, so their case does not matter */
            if (text[i + 1] == 'u' && i + 6 <= len && memcmp (text + i + 2, "0000", 4) == 0)
                found = true;
            i += 2;
        }
        else
            i++;
    }
    return found;
}

char *
pl_proto_ctx_encode (const char *gateway, const char *conn,
                     const char *user, const char *name)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    if (!root)
        goto cleanup;
    cJSON_AddNumberToObject (root, "v", 1);
    cJSON_AddStringToObject (root, "gw", gateway ? gateway : "");
    cJSON_AddStringToObject (root, "conn", conn ? conn : "");
    cJSON_AddStringToObject (root, "uid", user ? user : "");
    if (name)
        cJSON_AddStringToObject (root, "name", name);
    text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    return text;
}

static char *
s_dup_field (const cJSON *obj, const char *key, bool required, bool *ok)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    char *value = NULL;
    if (cJSON_IsString (item))
        value = strdup (item->valuestring);
    else
    if (required || item)
        *ok = false;
    return value;
}

int
pl_proto_ctx_decode (const char *text, size_t len, pl_caller_t *caller)
{
    int rc = -1;
    bool ok = true;
    pl_caller_t tmp = { 0 };
    /* the gateway encodes it from a checked JWT, so a NUL here is a bug
     * or a forgery; refused rather than cut (a uid "bob\u0000x" is not bob) */
    cJSON *root = pl_proto_json_has_nul (text, len) ? NULL : pl_proto_json_parse (text, len);
    if (!cJSON_IsObject (root))
        goto cleanup;
    tmp.gateway = s_dup_field (root, "gw", true, &ok);
    tmp.conn = s_dup_field (root, "conn", true, &ok);
    tmp.user = s_dup_field (root, "uid", true, &ok);
    tmp.name = s_dup_field (root, "name", false, &ok);
    if (!ok) {
        pl_proto_ctx_clear (&tmp);
        goto cleanup;
    }
    *caller = tmp;
    rc = 0;
cleanup:
    cJSON_Delete (root);
    return rc;
}

void
pl_proto_ctx_clear (pl_caller_t *caller)
{
    free (caller->gateway);
    free (caller->conn);
    free (caller->user);
    free (caller->name);
    memset (caller, 0, sizeof *caller);
}

int
pl_proto_origin (char *buf, size_t size, const char *gateway, const char *conn)
{
    if (!gateway || !conn || !*gateway)
        return snprintf (buf, size, "%s", "");
    return snprintf (buf, size, "%s/%s", gateway, conn);
}

int
pl_proto_ts_format (char *buf, size_t size, int64_t wall_us)
{
    if (wall_us < 0)
        wall_us = 0;        /* a clock before 1970: 0, which no reader takes */
    return snprintf (buf, size, "%lld.%03lld", (long long) (wall_us / 1000),
                     (long long) (wall_us % 1000));
}

int64_t
pl_proto_ts_parse (const char *text, size_t len, int64_t now_us)
{
    int64_t us = -1, ms = 0, frac = 0;
    size_t i = 0, digits = 0, fdigits = 0;
    if (!text || len == 0 || len > PL_PROTO_TS_MAX)
        goto cleanup;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++)
        ms = ms * 10 + (text[i] - '0');         /* at most 15 digits: no overflow */
    if (digits == 0 || digits > 15)
        goto cleanup;
    if (i < len) {
        if (text[i++] != '.')
            goto cleanup;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, fdigits++)
            frac = frac * 10 + (text[i] - '0');
        if (i < len || fdigits == 0 || fdigits > 3)
            goto cleanup;
        for (size_t k = fdigits; k < 3; k++)
            frac *= 10;
    }
    int64_t value = ms * 1000 + frac;
    if (value > now_us + PL_PROTO_TS_SKEW_US || value < now_us - PL_PROTO_TS_SKEW_US)
        goto cleanup;
    us = value;
cleanup:
    return us;
}

void
pl_proto_test (bool verbose)
{
    if (verbose)
        printf (" * pl_proto: ");
    /* every event resolves to itself, every service is non-empty */
    for (int i = 0; i < PL_EV_COUNT; i++) {
        const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) i);
        assert (pl_proto_event_lookup (ev->name, strlen (ev->name)) == i);
        assert (ev->service && *ev->service);
    }
    assert (pl_proto_event_lookup ("actor:create", 12) == PL_EV_ACTOR_CREATE);
    assert (pl_proto_event_lookup ("actor:create", 11) == -1);
    assert (pl_proto_event_lookup ("actor:nope", 10) == -1);
    assert (strcmp (pl_proto_push_name (PL_PUSH_ACTOR_DELETED), "actor:deleted") == 0);
    assert (pl_proto_push_lookup ("actor:updated", 13) == PL_PUSH_ACTOR_UPDATED);
    assert (pl_proto_push_lookup ("actor:updated", 12) == -1);
    assert (pl_proto_push_lookup ("actor:update", 12) == -1);

    const char *const *services;
    size_t count = pl_proto_services (&services);
    assert (count >= 1);
    assert (strcmp (services[0], "campaigns") == 0);
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            assert (strcmp (services[i], services[j]) != 0);

    /* error codes round-trip */
    for (int i = 1; i < PL_ERR_COUNT; i++)
        assert ((int) pl_proto_err_parse (pl_proto_err_code ((pl_err_t) i)) == i);
    assert (pl_proto_err_parse ("WHATEVER") == PL_ERR_INTERNAL);
    assert (pl_proto_err_http (PL_ERR_NOT_FOUND) == 404);

    char *text = pl_proto_reply_err (PL_ERR_NOT_FOUND, "no \"such\" actor");
    assert (strcmp (text, "{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\","
                          "\"message\":\"no \\\"such\\\" actor\"}}") == 0);
    free (text);
    cJSON *extra = cJSON_CreateObject ();
    cJSON_AddStringToObject (extra, "currentVersion", "7");
    cJSON_AddStringToObject (extra, "code", "HIJACK");
    text = pl_proto_reply_err_with (PL_ERR_VERSION_CONFLICT, "stale", extra);
    assert (strcmp (text, "{\"success\":false,\"error\":{\"code\":\"VERSION_CONFLICT\","
                          "\"message\":\"stale\",\"currentVersion\":\"7\"}}") == 0);
    free (text);
    text = pl_proto_reply_err_rid (PL_ERR_TIMEOUT, "late", "gw-1-2a");
    assert (strcmp (text, "{\"success\":false,\"error\":{\"code\":\"TIMEOUT\","
                          "\"message\":\"late\",\"requestId\":\"gw-1-2a\"}}") == 0);
    free (text);
    /* a worker's or broker's INTERNAL gets one added, once; other errors,
     * successes and garbage stand as they are */
    const char *internal = "{\"success\":false,\"error\":{\"code\":\"INTERNAL\","
                           "\"message\":\"storage unavailable\"}}";
    text = pl_proto_reply_add_rid (internal, strlen (internal), "gw-1-2b");
    assert (text && strcmp (text, "{\"success\":false,\"error\":{\"code\":\"INTERNAL\","
                  "\"message\":\"storage unavailable\",\"requestId\":\"gw-1-2b\"}}") == 0);
    assert (pl_proto_reply_add_rid (text, strlen (text), "gw-1-2c") == NULL);
    free (text);
    const char *stands[] = {
        "{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"x\"}}",
        "{\"success\":false,\"error\":{\"code\":\"NO_SUCH_CODE\",\"message\":\"x\"}}",
        "{\"success\":true,\"data\":{\"error\":{\"code\":\"INTERNAL\"}}}", "{", "",
    };
    for (size_t i = 0; i < sizeof stands / sizeof stands[0]; i++)
        assert (pl_proto_reply_add_rid (stands[i], strlen (stands[i]), "r") == NULL);
    assert (pl_proto_reply_add_rid (internal, strlen (internal), NULL) == NULL);
    text = pl_proto_reply_ok (cJSON_CreateString ("x"));
    assert (strcmp (text, "{\"success\":true,\"data\":\"x\"}") == 0);
    free (text);
    text = pl_proto_reply_ok (NULL);
    assert (strcmp (text, "{\"success\":true}") == 0);
    free (text);

    /* caller context round-trip, with and without a name */
    text = pl_proto_ctx_encode ("gw-1", "7", "alice", "Alice \xc3\xa9");
    pl_caller_t caller = { 0 };
    assert (pl_proto_ctx_decode (text, strlen (text), &caller) == 0);
    assert (strcmp (caller.gateway, "gw-1") == 0);
    assert (strcmp (caller.conn, "7") == 0);
    assert (strcmp (caller.user, "alice") == 0);
    assert (strcmp (caller.name, "Alice \xc3\xa9") == 0);
    pl_proto_ctx_clear (&caller);
    pl_proto_ctx_clear (&caller);           /* safe twice */
    free (text);
    text = pl_proto_ctx_encode ("gw-1", "8", "bob", NULL);
    assert (pl_proto_ctx_decode (text, strlen (text), &caller) == 0);
    assert (caller.name == NULL);
    pl_proto_ctx_clear (&caller);
    free (text);
    /* hostile contexts are refused, not crashed on */
    const char *bad[] = { "", "[]", "{", "{\"gw\":1,\"conn\":\"1\",\"uid\":\"u\"}",
                          "{\"gw\":\"g\",\"conn\":\"1\"}",
                          "{\"gw\":\"g\",\"conn\":\"1\",\"uid\":\"u\",\"name\":5}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert (pl_proto_ctx_decode (bad[i], strlen (bad[i]), &caller) == -1);
    /* length is honoured: a truncated buffer does not parse */
    assert (pl_proto_ctx_decode ("{\"gw\":\"g\"}xxxx", 5, &caller) == -1);

    cJSON *j = pl_proto_json_parse ("[1] x", 5);
    assert (j == NULL);
    j = pl_proto_json_parse ("[1] \n", 5);
    assert (cJSON_IsArray (j));
    cJSON_Delete (j);
    assert (pl_proto_json_parse ("[1,2]", 3) == NULL);

    /* NUL in JSON text: the escape in a value or a key, or a raw byte
     * anywhere; an escaped backslash before u0000 is no NUL */
#define S_NUL_CASE(lit, nul) { (lit), sizeof (lit) - 1, (nul) }
    struct { const char *text; size_t len; bool nul; } nuls[] = {
        S_NUL_CASE ("{\"name\":\"Eve\"}", false),
        S_NUL_CASE ("{\"name\":\"Eve\\u0000x\"}", true),
        S_NUL_CASE ("{\"name\\u0000x\":\"Eve\"}", true),
        S_NUL_CASE ("[\"actor:create\\u0000junk\",{}]", true),
        S_NUL_CASE ("\"\\u0000\"", true),
        S_NUL_CASE ("\"\\\\u0000\"", false),            /* "\\u0000"     */
        S_NUL_CASE ("\"\\\\\\u0000\"", true),           /* "\\\u0000"    */
        S_NUL_CASE ("\"\\\\\\\\u0000\"", false),        /* "\\\\u0000"   */
        S_NUL_CASE ("\"\\u00000\"", true),
        S_NUL_CASE ("\"\\u0001\\u0100\\u1000\\u00001\"", true),
        S_NUL_CASE ("\"\\u0001\\u0100\\u1000\"", false),
        S_NUL_CASE ("\"\\ud800\\udc00\\u2028\\\"\\/\\n\"", false),
        S_NUL_CASE ("\"\\u000\"", false),               /* too short      */
        S_NUL_CASE ("\"\\u00", false),                  /* cut short      */
        S_NUL_CASE ("\"\\", false),
        S_NUL_CASE ("", false),
        S_NUL_CASE ("\"a\0b\"", true),                  /* raw, in a string */
        S_NUL_CASE ("[1,\0 2]", true),                  /* raw, as blank  */
        S_NUL_CASE ("\"\\\0\"", true),                  /* raw, escaped   */
        { "\"\\u0000\"", 6, false },                    /* len honoured   */
        { "\"ok\"\0", 4, false },                       /* NUL past len   */
    };
#undef S_NUL_CASE
    for (size_t i = 0; i < sizeof nuls / sizeof nuls[0]; i++) {
        if (pl_proto_json_has_nul (nuls[i].text, nuls[i].len) != nuls[i].nul)
            fprintf (stderr, "pl_proto_json_has_nul case %zu: want %d\n", i, nuls[i].nul);
        assert (pl_proto_json_has_nul (nuls[i].text, nuls[i].len) == nuls[i].nul);
    }
    /* a caller context with a NUL anywhere is refused, not cut */
    const char *ctx_nul = "{\"gw\":\"g\",\"conn\":\"1\",\"uid\":\"bob\\u0000x\"}";
    assert (pl_proto_ctx_decode (ctx_nul, strlen (ctx_nul), &caller) == -1);
    ctx_nul = "{\"gw\":\"g\",\"conn\":\"1\",\"uid\":\"bob\",\"name\":\"B\\u0000\"}";
    assert (pl_proto_ctx_decode (ctx_nul, strlen (ctx_nul), &caller) == -1);
    assert (pl_proto_ctx_decode ("{\"gw\":\"g\",\"conn\":\"1\",\"uid\":\"b\0x\"}", 33,
                                 &caller) == -1);
    assert (caller.user == NULL);
    /* ... and so is one with a NUL in a key (cJSON would read "uid") */
    ctx_nul = "{\"gw\":\"g\",\"conn\":\"1\",\"uid\\u0000x\":\"bob\"}";
    assert (pl_proto_ctx_decode (ctx_nul, strlen (ctx_nul), &caller) == -1);
    /* why the scan exists: cJSON does cut such strings */
    j = pl_proto_json_parse ("\"p1\\u0000x\"", 11);
    assert (cJSON_IsString (j) && strcmp (j->valuestring, "p1") == 0);
    cJSON_Delete (j);

    /* nesting: brackets in strings do not count, the limit is 64 */
    assert (pl_proto_json_depth ("1", 1) == 0);
    assert (pl_proto_json_depth ("[]", 2) == 1);
    assert (pl_proto_json_depth ("[{\"a\":[1]},[]]", 14) == 3);
    assert (pl_proto_json_depth ("[\"[[[\\\"[[\"]", 11) == 1);
    assert (pl_proto_json_depth ("[[[", 2) == 2);           /* len honoured */
    {
        char deep[2 * 1000 + 1];
        for (size_t d = 63; d <= 66; d++) {
            for (size_t k = 0; k < d; k++) {
                deep[k] = '[';
                deep[2 * d - 1 - k] = ']';
            }
            assert (pl_proto_json_depth (deep, 2 * d) == d);
            j = pl_proto_json_parse (deep, 2 * d);
            assert ((j != NULL) == (d <= PL_PROTO_JSON_DEPTH_MAX));
            cJSON_Delete (j);
            j = pl_proto_json_parse_depth (deep, 2 * d, PL_PROTO_JSON_DEPTH_MAX + 1);
            assert ((j != NULL) == (d <= PL_PROTO_JSON_DEPTH_MAX + 1));
            cJSON_Delete (j);
        }
    }

    char origin[64];
    pl_proto_origin (origin, sizeof origin, "gw-1", "9");
    assert (strcmp (origin, "gw-1/9") == 0);
    pl_proto_origin (origin, sizeof origin, NULL, "9");
    assert (strcmp (origin, "") == 0);

    /* publish times: the worker's form round-trips; hostile ones are -1 */
    int64_t now = 1733612345678123LL;
    char ts[PL_PROTO_TS_MAX + 1];
    assert (pl_proto_ts_format (ts, sizeof ts, now) == 17);
    assert (strcmp (ts, "1733612345678.123") == 0);
    assert (pl_proto_ts_parse (ts, strlen (ts), now) == now);
    pl_proto_ts_format (ts, sizeof ts, 1733612345678005LL);
    assert (strcmp (ts, "1733612345678.005") == 0);
    assert (pl_proto_ts_parse (ts, strlen (ts), now) == 1733612345678005LL);
    assert (pl_proto_ts_parse ("1733612345678", 13, now) == 1733612345678000LL);
    assert (pl_proto_ts_parse ("1733612345678.5", 15, now) == 1733612345678500LL);
    assert (pl_proto_ts_parse ("1733612345678.12x", 13, now) == 1733612345678000LL);
    int64_t hour = PL_PROTO_TS_SKEW_US;
    pl_proto_ts_format (ts, sizeof ts, now + hour);         /* at the bound */
    assert (pl_proto_ts_parse (ts, strlen (ts), now) == now + hour);
    pl_proto_ts_format (ts, sizeof ts, now + hour + 1);     /* in the future */
    assert (pl_proto_ts_parse (ts, strlen (ts), now) == -1);
    pl_proto_ts_format (ts, sizeof ts, now - hour - 1);     /* too old */
    assert (pl_proto_ts_parse (ts, strlen (ts), now) == -1);
    static const char *const bad_ts[] = {
        "", "-1733612345678", "+1733612345678", "1733612345678.", ".123",
        "1733612345678.1234", "1733612345678,123", " 1733612345678", "1733612345678 ",
        "0x1733612345678", "1e15", "999999999999999.999", "9999999999999999",
        "17336123456781733612345678", "abc",
    };
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++)
        assert (pl_proto_ts_parse (bad_ts[i], strlen (bad_ts[i]), now) == -1);
    assert (pl_proto_ts_parse ("1733612345678\0", 14, now) == -1);    /* a NUL */
    assert (pl_proto_ts_parse (NULL, 0, now) == -1);
    assert (pl_proto_ts_parse ("0", 1, now) == -1);                   /* 1970 */
    assert (pl_proto_ts_format (ts, sizeof ts, -5) == 5 && strcmp (ts, "0.000") == 0);
    if (verbose)
        printf ("OK\n");
}
