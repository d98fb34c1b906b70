/*  pl_rest - REST routing, arguments and status mapping (pure; any thread). */
#include "pl_rest.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Split the path copy in m->buf into segments (at most max). Returns the
 * count, or -1 when there are more, or an empty segment. */
static int
s_split (char *path, char **segs, int max)
{
    int n = 0;
    if (*path != '/')
        return -1;
    char *p = path + 1;
    while (*p) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *slash = strchr (p, '/');
        if (!slash)
            break;
        *slash = 0;
        p = slash + 1;
        if (!*p)
            break;                      /* one trailing slash is allowed */
    }
    for (int i = 0; i < n; i++)
        if (!*segs[i])
            return -1;
    return n;
}

/* Does the pattern match the segments? Fills m's captures when it does. */
static bool
s_pattern_match (const char *pattern, char *const *segs, int nsegs, pl_rest_match_t *m)
{
    int i = 0;
    m->nparams = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *end = strchr (p, '/');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (i == nsegs)
            return false;
        if (p[0] == '{') {
            assert (m->nparams < PL_REST_PARAMS && len > 2);
            m->names[m->nparams] = p + 1;
            m->name_lens[m->nparams] = len - 2;
            m->values[m->nparams++] = segs[i];
        }
        else
        if (strlen (segs[i]) != len || memcmp (segs[i], p, len) != 0)
            return false;
        i++;
        p += len + (end ? 1 : 0);
    }
    return i == nsegs;
}

int
pl_rest_match (const char *method, const char *path, pl_rest_match_t *m)
{
    char *segs[16];
    int rc = 404;
    m->allow[0] = 0;
    if (strlen (path) >= sizeof m->buf)
        goto cleanup;
    strcpy (m->buf, path);                  /* s_split cuts it up */
    int nsegs = s_split (m->buf, segs, 16);
    if (nsegs < 0)
        goto cleanup;
    /* a scan: twenty rows, once per REST call */
    for (int r = 0; r < PL_ROUTE_COUNT; r++) {
        const pl_route_info_t *route = pl_routes_get ((pl_route_id_t) r);
        if (!s_pattern_match (route->pattern, segs, nsegs, m))
            continue;
        if (strcmp (route->method, method) == 0) {
            m->route = (pl_route_id_t) r;
            rc = 0;
            goto cleanup;
        }
        size_t used = strlen (m->allow);
        if (!strstr (m->allow, route->method))
            snprintf (m->allow + used, sizeof m->allow - used, "%s%s",
                      used ? ", " : "", route->method);
        rc = 405;                           /* unless a later row has the method */
    }
cleanup:
    return rc;
}

/* Find "name=value" among the query arguments; returns the value or NULL. */
static const char *
s_query (const char *const *query, size_t nquery, const char *name, size_t name_len)
{
    for (size_t i = 0; i < nquery; i++)
        if (strncmp (query[i], name, name_len) == 0 && query[i][name_len] == '=')
            return query[i] + name_len + 1;
    return NULL;
}

/* Add the route's query parameters present in query to obj. */
static int
s_add_query (const pl_route_info_t *route, const char *const *query, size_t nquery,
             cJSON *obj, const char **why)
{
    int rc = -1;
    const char *p = route->query;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn (p, " ");
        const char *colon = memchr (p, ':', len);
        size_t name_len = colon ? (size_t) (colon - p) : len;
        char name[64];
        snprintf (name, sizeof name, "%.*s", (int) name_len, p);
        const char *value = s_query (query, nquery, p, name_len);
        if (value && colon) {                       /* name:int */
            char *end = NULL;
            long n = strtol (value, &end, 10);
            if (!*value || *end || n < -1000000000L || n > 1000000000L
            ||  !(isdigit ((unsigned char) value[0]) || value[0] == '-')) {
                /* per thread, so the message can name the parameter */
                static _Thread_local char message[128];
                snprintf (message, sizeof message, "query parameter %s must be an integer",
                          name);
                *why = message;
                goto cleanup;
            }
            cJSON_AddNumberToObject (obj, name, (double) n);
        }
        else
        if (value)
            cJSON_AddStringToObject (obj, name, value);
        p += len;
    }
    rc = 0;
cleanup:
    return rc;
}

int
pl_rest_build_arg (const pl_rest_match_t *m, const char *const *query, size_t nquery,
                   const char *body, size_t body_len, char **arg, const char **why)
{
    int rc = -1;
    cJSON *root = NULL;
    const pl_route_info_t *route = pl_routes_get (m->route);
    *arg = NULL;
    switch (route->arg) {
        case PL_RARG_NONE:
            break;
        case PL_RARG_ID:
            assert (m->nparams == 1);
            root = cJSON_CreateString (m->values[0]);
            break;
        case PL_RARG_BODY:
        case PL_RARG_BODY_PARAMS:
            if (body_len == 0) {
                *why = "a JSON object body is required";
                goto cleanup;
            }
            /* before the parse: cJSON would cut the string at the NUL and
             * the service would act on the shorter one (pl_proto.h) */
            if (pl_proto_json_has_nul (body, body_len)) {
                *why = PL_PROTO_NUL_MESSAGE;
                goto cleanup;
            }
            if (pl_proto_json_depth (body, body_len) > PL_PROTO_JSON_DEPTH_MAX) {
                *why = PL_PROTO_DEPTH_MESSAGE;
                goto cleanup;
            }
            root = pl_proto_json_parse (body, body_len);
            if (!root) {
                *why = "the body is not valid JSON";
                goto cleanup;
            }
            if (!cJSON_IsObject (root)) {
                *why = "the body must be a JSON object";
                goto cleanup;
            }
            /* captures win over body fields */
            __attribute__ ((fallthrough));
        case PL_RARG_PARAMS:
            if (!root)
                root = cJSON_CreateObject ();
            if (!root)
                goto cleanup;
            for (int i = 0; i < m->nparams; i++) {
                char name[64];
                snprintf (name, sizeof name, "%.*s", (int) m->name_lens[i], m->names[i]);
                cJSON_DeleteItemFromObjectCaseSensitive (root, name);
                cJSON_AddStringToObject (root, name, m->values[i]);
            }
            if (s_add_query (route, query, nquery, root, why) != 0)
                goto cleanup;
            if (route->arg == PL_RARG_PARAMS && !root->child) {
                cJSON_Delete (root);            /* nothing given: no argument */
                root = NULL;
            }
            break;
    }
    if (root && !(*arg = cJSON_PrintUnformatted (root))) {
        *why = "out of memory";
        goto cleanup;
    }
    rc = 0;
cleanup:
    cJSON_Delete (root);
    return rc;
}

char *
pl_rest_error_body (pl_err_t err, const char *message)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    cJSON *error = cJSON_AddObjectToObject (root, "error");
    if (error) {
        cJSON_AddStringToObject (error, "code", pl_proto_err_code (err));
        cJSON_AddStringToObject (error, "message", message);
        text = cJSON_PrintUnformatted (root);
    }
    cJSON_Delete (root);
    return text;
}

char *
pl_rest_response (pl_route_id_t route, const char *reply, size_t reply_len, int *status)
{
    char *text = NULL;
    cJSON *out = NULL;
    cJSON *root = pl_proto_json_parse (reply, reply_len);
    const cJSON *success = cJSON_GetObjectItemCaseSensitive (root, "success");
    if (!cJSON_IsObject (root) || !cJSON_IsBool (success))
        goto bad;
    if (cJSON_IsTrue (success)) {
        *status = pl_routes_get (route)->status;
        if (*status == 204)
            goto cleanup;
        out = cJSON_DetachItemFromObjectCaseSensitive (root, "data");
        if (!out) {                         /* a whole ack body: its members */
            cJSON_DeleteItemFromObjectCaseSensitive (root, "success");
            out = root;
            root = NULL;
        }
        text = cJSON_PrintUnformatted (out);
        goto cleanup;
    }
    cJSON *error = cJSON_DetachItemFromObjectCaseSensitive (root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive (error, "code");
    if (!cJSON_IsObject (error) || !cJSON_IsString (code)) {
        cJSON_Delete (error);
        goto bad;
    }
    *status = pl_proto_err_http (pl_proto_err_parse (code->valuestring));
    out = cJSON_CreateObject ();
    cJSON_AddItemToObject (out, "error", error);
    text = cJSON_PrintUnformatted (out);
    goto cleanup;
bad:
    *status = 500;
    text = pl_rest_error_body (PL_ERR_INTERNAL, "malformed answer from the service");
cleanup:
    cJSON_Delete (out);
    cJSON_Delete (root);
    return text;
}

bool
pl_rest_is_json (const char *content_type)
{
    size_t n = strlen ("application/json");
    while (*content_type == ' ')
        content_type++;
    if (strncasecmp (content_type, "application/json", n) != 0)
        return false;
    const char *rest = content_type + n;
    while (*rest == ' ')
        rest++;
    return *rest == 0 || *rest == ';';
}

/* ---- selftest -------------------------------------------------------- */

static void
s_check_arg (const char *method, const char *path, const char *const *query, size_t nq,
             const char *body, const char *want)
{
    pl_rest_match_t m;
    char *arg = NULL;
    const char *why = NULL;
    assert (pl_rest_match (method, path, &m) == 0);
    int rc = pl_rest_build_arg (&m, query, nq, body, body ? strlen (body) : 0, &arg, &why);
    if (!want)
        assert (rc == -1 && why && !arg);
    else
    if (strcmp (want, "-") == 0)
        assert (rc == 0 && arg == NULL);
    else {
        if (rc != 0 || strcmp (arg, want) != 0)
            fprintf (stderr, "%s %s: got %s (%s), want %s\n", method, path,
                     arg ? arg : "NULL", why ? why : "", want);
        assert (rc == 0 && strcmp (arg, want) == 0);
    }
    free (arg);
}

static void
s_check_response (pl_route_id_t route, const char *reply, int want_status, const char *want)
{
    int status = 0;
    char *body = pl_rest_response (route, reply, strlen (reply), &status);
    if (status != want_status || (want ? !body || strcmp (body, want) != 0 : body != NULL))
        fprintf (stderr, "response %s: got %d %s\n", reply, status, body ? body : "NULL");
    assert (status == want_status);
    assert (want ? body && strcmp (body, want) == 0 : body == NULL);
    free (body);
}

void
pl_rest_test (bool verbose)
{
    if (verbose)
        printf (" * pl_rest: ");
    pl_rest_match_t m;
    /* routing: method and path pick the row; captures are whole segments */
    assert (pl_rest_match ("GET", "/api/v1/campaigns", &m) == 0);
    assert (m.route == PL_ROUTE_CAMPAIGN_LIST && m.nparams == 0);
    assert (pl_rest_match ("POST", "/api/v1/campaigns/", &m) == 0);
    assert (m.route == PL_ROUTE_CAMPAIGN_CREATE);
    assert (pl_rest_match ("DELETE", "/api/v1/campaigns/c1/members/bob", &m) == 0);
    assert (m.route == PL_ROUTE_CAMPAIGN_REMOVE_MEMBER && m.nparams == 2);
    assert (strcmp (m.values[0], "c1") == 0 && strcmp (m.values[1], "bob") == 0);
    assert (m.name_lens[1] == 6 && memcmp (m.names[1], "userId", 6) == 0);
    /* a decoded room name (campaign%3Ac1 on the wire) is one segment */
    assert (pl_rest_match ("GET", "/api/v1/rooms/campaign:c1/presence", &m) == 0);
    assert (m.route == PL_ROUTE_PRESENCE_LIST && strcmp (m.values[0], "campaign:c1") == 0);
    /* 404: unknown, too long, too deep, empty segment, prefix only */
    assert (pl_rest_match ("GET", "/api/v1/spells", &m) == 404);
    assert (pl_rest_match ("GET", "/api/v1/actors/a1/extra", &m) == 404);
    assert (pl_rest_match ("GET", "/api/v1//actors", &m) == 404);
    assert (pl_rest_match ("GET", "/api/v1", &m) == 404);
    assert (pl_rest_match ("GET", "api/v1/actors", &m) == 404);
    char longpath[PL_REST_PATH_MAX + 10];
    memset (longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = 0;
    assert (pl_rest_match ("GET", longpath, &m) == 404);
    assert (pl_rest_match ("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", &m) == 404);
    /* 405: the path exists for other methods, which Allow lists */
    assert (pl_rest_match ("PUT", "/api/v1/actors/a1", &m) == 405);
    assert (strcmp (m.allow, "GET, PATCH, DELETE") == 0);
    assert (pl_rest_match ("DELETE", "/api/v1/rooms/r/messages", &m) == 405);
    assert (strcmp (m.allow, "GET, POST") == 0);

    /* arguments */
    const char *none[] = { NULL };
    s_check_arg ("GET", "/api/v1/campaigns", none, 0, NULL, "-");
    s_check_arg ("GET", "/api/v1/actors/a\"1", none, 0, NULL, "\"a\\\"1\"");
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{\"name\":\"Bo\",\"type\":\"npc\"}",
                 "{\"name\":\"Bo\",\"type\":\"npc\"}");
    s_check_arg ("POST", "/api/v1/actors", none, 0, NULL, NULL);          /* no body */
    s_check_arg ("POST", "/api/v1/actors", none, 0, "[1]", NULL);         /* not object */
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{\"a\":", NULL);     /* bad JSON */
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{} x", NULL);        /* trailing */
    /* a NUL in a string or a key is refused, not cut; an escaped
     * backslash before u0000 is no NUL and is kept as it is */
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{\"name\":\"Eve\\u0000x\"}", NULL);
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{\"name\\u0000x\":\"Eve\"}", NULL);
    s_check_arg ("PATCH", "/api/v1/actors/a1", none, 0, "{\"s\":[\"\\u0000\"]}", NULL);
    s_check_arg ("POST", "/api/v1/actors", none, 0, "{\"name\":\"a\\\\u0000b\"}",
                 "{\"name\":\"a\\\\u0000b\"}");
    {
        pl_rest_match_t mr;
        char *arg = NULL;
        const char *why = NULL;
        const char raw[] = "{\"name\":\"Eve\0x\"}";
        assert (pl_rest_match ("POST", "/api/v1/actors", &mr) == 0);
        assert (pl_rest_build_arg (&mr, none, 0, raw, sizeof raw - 1, &arg, &why) == -1);
        assert (arg == NULL && strcmp (why, PL_PROTO_NUL_MESSAGE) == 0);
    }
    /* the path's id wins over the body's */
    s_check_arg ("PATCH", "/api/v1/actors/a1", none, 0, "{\"id\":\"zz\",\"hp\":3}",
                 "{\"hp\":3,\"id\":\"a1\"}");
    s_check_arg ("POST", "/api/v1/campaigns/c1/members", none, 0,
                 "{\"userId\":\"bob\",\"role\":\"player\"}",
                 "{\"userId\":\"bob\",\"role\":\"player\",\"campaignId\":\"c1\"}");
    s_check_arg ("DELETE", "/api/v1/campaigns/c1/members/bob", none, 0, NULL,
                 "{\"campaignId\":\"c1\",\"userId\":\"bob\"}");
    /* query: declared names only; none given is no argument at all */
    const char *q1[] = { "campaignId=c1", "junk=1" };
    s_check_arg ("GET", "/api/v1/actors", q1, 2, NULL, "{\"campaignId\":\"c1\"}");
    s_check_arg ("GET", "/api/v1/actors", none, 0, NULL, "-");
    const char *q2[] = { "actorId=a 1", "campaignId=c1" };
    s_check_arg ("GET", "/api/v1/items", q2, 2, NULL,
                 "{\"campaignId\":\"c1\",\"actorId\":\"a 1\"}");
    const char *q3[] = { "limit=5" }, *q4[] = { "limit=5x" }, *q5[] = { "limit=" };
    s_check_arg ("GET", "/api/v1/rooms/campaign:c1/messages", q3, 1, NULL,
                 "{\"room\":\"campaign:c1\",\"limit\":5}");
    s_check_arg ("GET", "/api/v1/rooms/campaign:c1/messages", q4, 1, NULL, NULL);
    s_check_arg ("GET", "/api/v1/rooms/campaign:c1/messages", q5, 1, NULL, NULL);
    s_check_arg ("GET", "/api/v1/rooms/campaign:c1/messages", none, 0, NULL,
                 "{\"room\":\"campaign:c1\"}");
    s_check_arg ("POST", "/api/v1/rooms/campaign:c1/messages", none, 0, "{\"text\":\"hi\"}",
                 "{\"text\":\"hi\",\"room\":\"campaign:c1\"}");

    /* status mapping */
    s_check_response (PL_ROUTE_ACTOR_GET, "{\"success\":true,\"data\":{\"id\":\"a1\"}}",
                      200, "{\"id\":\"a1\"}");
    s_check_response (PL_ROUTE_ACTOR_CREATE, "{\"success\":true,\"data\":{\"id\":\"a1\"}}",
                      201, "{\"id\":\"a1\"}");
    s_check_response (PL_ROUTE_ACTOR_DELETE, "{\"success\":true}", 204, NULL);
    s_check_response (PL_ROUTE_ACTOR_LIST, "{\"success\":true,\"data\":[]}", 200, "[]");
    s_check_response (PL_ROUTE_ACTOR_GET, "{\"success\":true,\"newVersion\":\"3\"}", 200,
                      "{\"newVersion\":\"3\"}");
    s_check_response (PL_ROUTE_ACTOR_GET,
                      "{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"}}",
                      404, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"}}");
    s_check_response (PL_ROUTE_ACTOR_UPDATE,
                      "{\"success\":false,\"error\":{\"code\":\"VERSION_CONFLICT\","
                      "\"message\":\"old\",\"currentVersion\":\"4\"}}", 409,
                      "{\"error\":{\"code\":\"VERSION_CONFLICT\",\"message\":\"old\","
                      "\"currentVersion\":\"4\"}}");
    const struct { const char *code; int status; } codes[] = {
        { "VALIDATION_ERROR", 400 }, { "FORBIDDEN", 403 }, { "CONFLICT", 409 },
        { "RATE_LIMITED", 429 }, { "SERVICE_UNAVAILABLE", 503 }, { "TIMEOUT", 504 },
        { "UNAUTHORIZED", 401 }, { "INTERNAL", 500 }, { "SOMETHING_NEW", 500 },
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char reply[160];
        int status = 0;
        snprintf (reply, sizeof reply,
                  "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"m\"}}",
                  codes[i].code);
        char *body = pl_rest_response (PL_ROUTE_ACTOR_GET, reply, strlen (reply), &status);
        assert (body && status == codes[i].status);
        free (body);
    }
    /* a malformed ack is the gateway's 500, not a crash */
    const char *bad[] = { "", "nope", "[]", "{}", "{\"success\":1}",
                          "{\"success\":false}", "{\"success\":false,\"error\":{}}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_check_response (PL_ROUTE_ACTOR_GET, bad[i], 500,
                          "{\"error\":{\"code\":\"INTERNAL\","
                          "\"message\":\"malformed answer from the service\"}}");
    char *err = pl_rest_error_body (PL_ERR_UNAUTHORIZED, "missing token");
    assert (err && strcmp (err, "{\"error\":{\"code\":\"UNAUTHORIZED\","
                                "\"message\":\"missing token\"}}") == 0);
    free (err);

    /* content types */
    assert (pl_rest_is_json ("application/json"));
    assert (pl_rest_is_json ("Application/JSON; charset=utf-8"));
    assert (!pl_rest_is_json ("application/jsonp"));
    assert (!pl_rest_is_json ("text/plain"));
    assert (!pl_rest_is_json (""));
    if (verbose)
        printf ("OK\n");
}
