/*  pl_cors - CORS answer headers (pl_cors.h says which and why). */
#include "pl_cors.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct _pl_cors_t {
    bool any;                       /* "*"                                     */
    size_t count;                   /* listed origins (0 and !any: off)        */
    char origin[PL_CORS_ORIGINS_MAX][PL_CORS_ORIGIN_MAX + 1];
};

/* Is s (len bytes) one origin, "scheme://host[:port]"? */
static bool
s_origin_valid (const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    if (p == end || !isalpha ((unsigned char) *p))
        return false;
    while (p < end && (isalnum ((unsigned char) *p) || *p == '+' || *p == '-' || *p == '.'))
        p++;
    if (end - p < 3 || memcmp (p, "://", 3) != 0)
        return false;
    p += 3;
    const char *host = p;
    if (p < end && *p == '[') {             /* an IPv6 literal */
        p++;
        while (p < end && (isxdigit ((unsigned char) *p) || *p == ':' || *p == '.'))
            p++;
        if (p == end || *p != ']' || p == host + 1)
            return false;
        p++;
    }
    else {
        while (p < end && (isalnum ((unsigned char) *p) || *p == '.' || *p == '-'
                           || *p == '_' || *p == '~'))
            p++;
        if (p == host)
            return false;
    }
    if (p < end && *p == ':') {
        const char *digits = ++p;
        long port = 0;
        while (p < end && isdigit ((unsigned char) *p) && p - digits < 5)
            port = port * 10 + (*p++ - '0');
        if (p == digits || port < 1 || port > 65535)
            return false;
    }
    return p == end;
}

pl_cors_t *
pl_cors_new (const char *setting, const char **why)
{
    bool ok = false;
    pl_cors_t *self = calloc (1, sizeof *self);
    *why = "out of memory";
    if (!self)
        goto cleanup;
    const char *p = setting;
    while (*p == ' ')
        p++;
    ok = true;
    if (*p == '\0' || strcmp (p, "none") == 0)
        goto cleanup;                       /* off */
    if (strcmp (p, "*") == 0 || (p[0] == '*' && strspn (p + 1, " ") == strlen (p + 1))) {
        self->any = true;
        goto cleanup;
    }
    for (;;) {
        const char *comma = strchr (p, ',');
        const char *end = comma ? comma : p + strlen (p);
        const char *last = end;
        while (*p == ' ')
            p++;
        while (last > p && last[-1] == ' ')
            last--;
        size_t len = (size_t) (last - p);
        if (len == 1 && *p == '*') {
            *why = "\"*\" must stand alone (any origin), not in a list";
            ok = false;
            goto cleanup;
        }
        if (len == 0) {
            *why = "an empty entry (two commas, or one at an end)";
            ok = false;
            goto cleanup;
        }
        if (len > PL_CORS_ORIGIN_MAX) {
            *why = "an origin over 256 bytes";
            ok = false;
            goto cleanup;
        }
        if (len == 4 && strncasecmp (p, "null", 4) == 0) {
            *why = "\"null\" is the origin of sandboxed and file: pages of any site: "
                   "use \"*\" if that is meant";
            ok = false;
            goto cleanup;
        }
        if (!s_origin_valid (p, len)) {
            *why = "an entry that is no origin: each must be scheme://host[:port] "
                   "(no path, no trailing slash), e.g. https://app.example.com or "
                   "http://localhost:5173";
            ok = false;
            goto cleanup;
        }
        if (self->count == PL_CORS_ORIGINS_MAX) {
            *why = "more than 32 origins";
            ok = false;
            goto cleanup;
        }
        memcpy (self->origin[self->count], p, len);
        self->origin[self->count++][len] = '\0';
        if (!comma)
            break;
        p = comma + 1;
    }
cleanup:
    if (!ok)
        pl_cors_destroy (&self);
    return self;
}

void
pl_cors_destroy (pl_cors_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

/* The Access-Control-Allow-Origin value for origin, or NULL. */
static const char *
s_allowed (pl_cors_t *self, const char *origin)
{
    if (self->any)
        return "*";
    if (!origin)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (strcasecmp (self->origin[i], origin) == 0)
            return origin;          /* equal to a checked one: safe to echo */
    return NULL;
}

/* Is h a list of header names (tokens, commas, spaces) we may echo? */
static bool
s_req_headers_ok (const char *h)
{
    static const char *token = "!#$%&'*+-.^_`|~0123456789"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t len = strlen (h);
    bool name = false;
    if (len == 0 || len > PL_CORS_REQ_HEADERS_MAX)
        return false;
    for (const char *p = h; *p; p++) {
        if (strchr (token, *p))
            name = true;
        else
        if (*p != ',' && *p != ' ' && *p != '\t')
            return false;
    }
    return name;
}

char *
pl_cors_headers (pl_cors_t *self, const char *origin, const char *methods,
                 const char *req_headers)
{
    char *out = NULL;
    if (!self || (!self->any && self->count == 0))
        goto cleanup;                       /* CORS is off */
    const char *allow = s_allowed (self, origin);
    const char *vary = self->any ? "" : "Vary: Origin\r\n";
    if (!allow) {
        out = strdup (vary);                /* a cache must tell origins apart */
        goto cleanup;
    }
    if (!methods) {
        if (asprintf (&out, "Access-Control-Allow-Origin: %s\r\n%s"
                      "Access-Control-Expose-Headers: Retry-After\r\n", allow, vary) < 0)
            out = NULL;
        goto cleanup;
    }
    const char *headers = req_headers && s_req_headers_ok (req_headers)
                        ? req_headers : PL_CORS_HEADERS_DEFAULT;
    if (asprintf (&out, "Access-Control-Allow-Origin: %s\r\n%s"
                  "Access-Control-Allow-Methods: %s\r\n"
                  "Access-Control-Allow-Headers: %s\r\n"
                  "Access-Control-Max-Age: %d\r\n", allow, vary, methods, headers,
                  PL_CORS_MAX_AGE) < 0)
        out = NULL;
cleanup:
    return out;
}

/* ---- selftest ----------------------------------------------------------- */

void
pl_cors_test (bool verbose)
{
    if (verbose)
        printf (" * pl_cors: ");
    const char *why = NULL;
    pl_cors_t *c;
    char *h;

    /* off: nothing, ever */
    const char *off[] = { "", "none", " none" };
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        c = pl_cors_new (off[i], &why);
        assert (c);
        assert (!pl_cors_headers (c, "https://a.example", NULL, NULL));
        assert (!pl_cors_headers (c, "https://a.example", "GET, POST", NULL));
        pl_cors_destroy (&c);
        assert (!c);
    }
    assert (!pl_cors_headers (NULL, "https://a.example", NULL, NULL));

    /* "*": any origin, and none; no Vary; never credentials */
    c = pl_cors_new (" * ", &why);
    assert (c);
    h = pl_cors_headers (c, NULL, NULL, NULL);
    assert (h && strcmp (h, "Access-Control-Allow-Origin: *\r\n"
                            "Access-Control-Expose-Headers: Retry-After\r\n") == 0);
    free (h);
    h = pl_cors_headers (c, "https://evil.example", "GET, POST", "x-a, X-B");
    assert (h && strstr (h, "Access-Control-Allow-Origin: *\r\n")
            && strstr (h, "Access-Control-Allow-Methods: GET, POST\r\n")
            && strstr (h, "Access-Control-Allow-Headers: x-a, X-B\r\n")
            && strstr (h, "Access-Control-Max-Age: 600\r\n") && !strstr (h, "Vary")
            && !strstr (h, "Credentials"));
    free (h);
    pl_cors_destroy (&c);

    /* a list */
    c = pl_cors_new ("http://localhost:5173, https://App.Example.com ,capacitor://localhost,"
                     "http://[::1]:8080", &why);
    assert (c);
    h = pl_cors_headers (c, "http://localhost:5173", NULL, NULL);
    assert (h && strcmp (h, "Access-Control-Allow-Origin: http://localhost:5173\r\n"
                            "Vary: Origin\r\nAccess-Control-Expose-Headers: Retry-After\r\n") == 0);
    free (h);
    h = pl_cors_headers (c, "https://app.example.com", NULL, NULL);  /* case-insensitive, echoed */
    assert (h && strstr (h, "Allow-Origin: https://app.example.com\r\n"));
    free (h);
    h = pl_cors_headers (c, "http://[::1]:8080", "GET", NULL);
    assert (h && strstr (h, "Allow-Origin: http://[::1]:8080\r\n")
            && strstr (h, "Access-Control-Allow-Headers: " PL_CORS_HEADERS_DEFAULT "\r\n"));
    free (h);
    /* near misses, none and hostile values: Vary only */
    const char *others[] = { NULL, "", "http://localhost:5174", "http://localhost:5173/",
                             "https://localhost:5173", "http://localhost", "null",
                             "https://app.example.com.evil.example", "*",
                             "http://localhost:5173\r\nX-Evil: 1" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        h = pl_cors_headers (c, others[i], i % 2 ? "GET" : NULL, NULL);
        assert (h && strcmp (h, "Vary: Origin\r\n") == 0);
        free (h);
    }
    /* Access-Control-Request-Headers: echoed only when well-formed and bounded */
    char big[PL_CORS_REQ_HEADERS_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *bad_req[] = { "", " , ", "x-a\r\nX-Evil: 1", "x-a;b", "x\"", big };
    for (size_t i = 0; i < sizeof bad_req / sizeof bad_req[0]; i++) {
        h = pl_cors_headers (c, "capacitor://localhost", "GET, POST", bad_req[i]);
        assert (h && strstr (h, "Access-Control-Allow-Headers: " PL_CORS_HEADERS_DEFAULT "\r\n"));
        free (h);
    }
    big[PL_CORS_REQ_HEADERS_MAX] = 0;       /* exactly the bound: echoed */
    h = pl_cors_headers (c, "capacitor://localhost", "GET, POST", big);
    assert (h && strstr (h, big));
    free (h);
    pl_cors_destroy (&c);

    /* 32 origins of 256 bytes are fine; 33, or 257 bytes, are not */
    char origin[PL_CORS_ORIGIN_MAX + 2];
    char list[PL_CORS_ORIGINS_MAX * (PL_CORS_ORIGIN_MAX + 1) + PL_CORS_ORIGIN_MAX + 2];
    list[0] = 0;
    for (int i = 0; i < PL_CORS_ORIGINS_MAX; i++) {
        snprintf (origin, sizeof origin, "https://%0*d.example", PL_CORS_ORIGIN_MAX - 16, i);
        assert (strlen (origin) == PL_CORS_ORIGIN_MAX);
        strcat (list, i ? "," : "");
        strcat (list, origin);
    }
    c = pl_cors_new (list, &why);
    assert (c);
    h = pl_cors_headers (c, origin, NULL, NULL);
    assert (h && strstr (h, origin));
    free (h);
    pl_cors_destroy (&c);
    strcat (list, ",https://one-more.example");
    assert (!pl_cors_new (list, &why) && strstr (why, "more than 32"));
    snprintf (origin, sizeof origin, "https://%0*d.example", PL_CORS_ORIGIN_MAX - 15, 0);
    assert (!pl_cors_new (origin, &why) && strstr (why, "over 256"));

    /* junk refused, saying why */
    const char *junk[] = { "*,https://a.example", "https://a.example,*", "https://a.example,",
                           ",https://a.example", "https://a.example,,https://b.example",
                           "null", "https://a.example/", "https://a.example/path", "a.example",
                           "https://", "https://:80", "https://a.example:0",
                           "https://a.example:65536", "https://a.example:123456",
                           "https://a.example:", "https://user@a.example", "https://a b",
                           "https://a.example?x", "http://[::1", "http://[]", "1http://a",
                           "https://a.example\t", "*x" };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        why = NULL;
        assert (!pl_cors_new (junk[i], &why));
        assert (why && *why);
    }
    c = pl_cors_new ("https://a.example:65535", &why);
    assert (c);
    pl_cors_destroy (&c);
    pl_cors_destroy (&c);                   /* twice is fine */
    if (verbose)
        printf ("OK\n");
}
