/*  pl_hud - the HUD's static files, read once into memory (pl_hud.h).
 *  Loaded before the gateway loop runs; answered on the gateway loop.
 */
#include "pl_hud.h"
#include "pl_csp.h"
#include "pl_log.h"

#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DEPTH_MAX   16            /* directory levels below the root        */
#define S_ENTRIES_MAX 8192          /* directory entries looked at, in all    */
#define S_SKIPS_LOGGED 32           /* skipped files logged one by one        */

/* A skipped file's warning: the first S_SKIPS_LOGGED, then only counted
 * (pl_hud_new logs how many more). */
#define S_SKIP(self, ...) do {                                              \
        if ((self)->skipped++ < S_SKIPS_LOGGED)                             \
            pl_warn (__VA_ARGS__);                                          \
    } while (0)

/* Every other file's: an .svg (or anything a browser might render) opened
 * directly runs no script and loads nothing but images and style sheets
 * of its own origin. */
#define S_CSP_OTHER "Content-Security-Policy: default-src 'none'; style-src 'self'; " \
                    "img-src 'self' data:\r\n"

#define S_CSP_REST "; connect-src 'self'; img-src 'self' data:; style-src 'self'; " \
                   "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/* One stored file. */
typedef struct {
    pl_h1_body_t *body;             /* its bytes: one reference, the store's    */
    const char *type;               /* Content-Type (static)                    */
    char *headers;                  /* ETag, nosniff, Referrer-Policy, CSP lines */
    char etag[36];                  /* "\"<32 hex>\"": a strong validator       */
} s_file_t;

struct _pl_hud_t {
    zhashx_t *files;                /* "/path" -> s_file_t                      */
    size_t total;                   /* bytes stored                             */
    size_t entries;                 /* directory entries looked at              */
    size_t skipped;                 /* files and directories skipped            */
};

/* The content types served; any other extension is skipped. */
static const struct {
    const char *ext;
    const char *type;
} s_types[] = {
    { "html",  "text/html; charset=utf-8" },
    { "js",    "text/javascript; charset=utf-8" },
    { "mjs",   "text/javascript; charset=utf-8" },
    { "css",   "text/css; charset=utf-8" },
    { "map",   "application/json" },
    { "json",  "application/json" },
    { "svg",   "image/svg+xml" },
    { "png",   "image/png" },
    { "ico",   "image/x-icon" },
    { "txt",   "text/plain; charset=utf-8" },
    { "woff2", "font/woff2" },
};

static const char *
s_type_of (const char *name)
{
    const char *dot = strrchr (name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
            if (strcmp (dot + 1, s_types[i].ext) == 0)
                return s_types[i].type;
    return NULL;
}

/* zhashx destructor (no loop: the store's own). */
static void
s_file_destroy (void **item_p)
{
    s_file_t *file = (s_file_t *) *item_p;
    if (file) {
        pl_h1_body_unref (&file->body);
        free (file->headers);
        free (file);
        *item_p = NULL;
    }
}

/* Is name one segment we store: A-Z a-z 0-9 . _ -, not starting with a
 * dot (dotfiles, . and ..)? */
static bool
s_name_ok (const char *name)
{
    return *name && *name != '.'
        && strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
           == strlen (name);
}

/* The Content-Security-Policy line of an html file: script-src 'self'
 * and the hash of each inline <script> (pl_csp; at most
 * PL_HUD_SCRIPTS_MAX). NULL when out of memory. */
static char *
s_csp (const char *path, const char *html, size_t len)
{
    char *line = NULL;
    int found = 0;
    char *hashes = pl_csp_hashes (html, len, PL_HUD_SCRIPTS_MAX, &found);
    if (!hashes)
        goto cleanup;
    if (found > PL_HUD_SCRIPTS_MAX)
        pl_warn ("hud: %s has %d inline scripts: the CSP allows the first %d only",
                 path, found, PL_HUD_SCRIPTS_MAX);
    line = zsys_sprintf ("Content-Security-Policy: default-src 'self'; script-src 'self'%s"
                         S_CSP_REST "\r\n", hashes);
cleanup:
    free (hashes);
    return line;
}

/* The ETag and the header lines of a file whose bytes are data. */
static int
s_file_headers (s_file_t *file, const char *path, const char *data, size_t len, bool html)
{
    int rc = -1;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char *csp = NULL;
    if (EVP_Digest (data, len, digest, &dlen, EVP_sha256 (), NULL) != 1 || dlen < 16)
        goto cleanup;
    char *e = file->etag;
    *e++ = '"';
    for (int i = 0; i < 16; i++, e += 2)
        snprintf (e, 3, "%02x", digest[i]);
    snprintf (e, 2, "\"");
    if (html && !(csp = s_csp (path, data, len)))
        goto cleanup;
    file->headers = zsys_sprintf ("ETag: %s\r\nX-Content-Type-Options: nosniff\r\n"
                                  "Referrer-Policy: no-referrer\r\n%s",
                                  file->etag, csp ? csp : S_CSP_OTHER);
    rc = file->headers ? 0 : -1;
cleanup:
    zstr_free (&csp);
    return rc;
}

/* Read fd (a regular file of size bytes) whole. NULL on a short read. */
static char *
s_read_all (int fd, size_t size)
{
    char *data = malloc (size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t n = read (fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free (data);
            data = NULL;
            break;
        }
        got += (size_t) n;
    }
    return data;
}

/* Store the regular file name of dirfd as path. Returns -1 only when
 * memory ran out; a file skipped for a bound is logged. */
static int
s_load_file (pl_hud_t *self, int dirfd, const char *name, const char *path)
{
    int rc = 0, fd = -1;
    struct stat st;
    char *data = NULL;
    s_file_t *file = NULL;
    const char *why = NULL;
    const char *type = s_type_of (name);
    if (!type) {
        why = "its extension is not in the content-type table";
        goto cleanup;
    }
    if (zhashx_size (self->files) >= PL_HUD_FILES_MAX) {
        why = "more than 512 files";
        goto cleanup;
    }
    /* O_NONBLOCK: a FIFO swapped in since the lstat must not block */
    fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        why = "not a regular file that can be read";
        goto cleanup;
    }
    if (st.st_size > PL_HUD_FILE_MAX) {
        why = "over 4 MB";
        goto cleanup;
    }
    if (self->total + (size_t) st.st_size > (size_t) PL_HUD_TOTAL_MAX) {
        why = "the files would be over 32 MB in all";
        goto cleanup;
    }
    if (!(data = s_read_all (fd, (size_t) st.st_size))) {
        why = "could not read it whole";
        goto cleanup;
    }
    rc = -1;                                /* from here, a failure is memory's */
    if (!(file = calloc (1, sizeof *file)))
        goto cleanup;
    file->type = type;
    if (s_file_headers (file, path, data, (size_t) st.st_size, strcmp (type, s_types[0].type) == 0) != 0)
        goto cleanup;
    if (!(file->body = pl_h1_body_new (data, (size_t) st.st_size))) {
        data = NULL;                        /* freed by pl_h1_body_new */
        goto cleanup;
    }
    data = NULL;
    rc = 0;
    if (zhashx_insert (self->files, path, file) != 0) {
        why = "listed twice (the directory changed while it was read)";
        goto cleanup;                       /* freed below, not counted */
    }
    file = NULL;
    self->total += (size_t) st.st_size;
cleanup:
    if (why)
        S_SKIP (self, "hud: %s skipped: %s", path, why);
    if (fd >= 0)
        close (fd);
    free (data);
    s_file_destroy ((void **) &file);
    return rc;
}

/* Store what is under dirfd (owned: closed here), whose URL path is
 * prefix ("" at the root). Returns -1 only when memory ran out. */
static int
s_walk (pl_hud_t *self, int dirfd, const char *prefix, int depth)
{
    int rc = 0;
    DIR *dir = fdopendir (dirfd);
    struct dirent *entry;
    char path[PL_HUD_PATH_MAX + 2];
    if (!dir) {
        close (dirfd);
        S_SKIP (self, "hud: %s/ skipped: cannot list it (%s)", prefix, strerror (errno));
        goto cleanup;
    }
    while (rc == 0 && (entry = readdir (dir)) != NULL) {
        const char *name = entry->d_name;
        struct stat st;
        if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
            continue;
        if (++self->entries > S_ENTRIES_MAX) {
            if (self->entries == S_ENTRIES_MAX + 1)
                pl_warn ("hud: more than %d directory entries: the rest is skipped",
                         S_ENTRIES_MAX);
            break;
        }
        if (!s_name_ok (name)) {
            S_SKIP (self, "hud: a name in %s/ skipped: not of A-Z a-z 0-9 . _ -, or a dotfile",
                     prefix);
            continue;
        }
        if (snprintf (path, sizeof path, "%s/%s", prefix, name) > PL_HUD_PATH_MAX) {
            S_SKIP (self, "hud: a name in %s/ skipped: its path is over %d bytes", prefix,
                     PL_HUD_PATH_MAX);
            continue;
        }
        if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            S_SKIP (self, "hud: %s skipped: %s", path, strerror (errno));
        else
        if (S_ISDIR (st.st_mode)) {
            int sub = depth < S_DEPTH_MAX
                    ? openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : -1;
            if (sub < 0)
                S_SKIP (self, "hud: %s/ skipped: too deep, or it cannot be opened", path);
            else
                rc = s_walk (self, sub, path, depth + 1);
        }
        else
        if (S_ISREG (st.st_mode))
            rc = s_load_file (self, dirfd, name, path);
        else
            S_SKIP (self, "hud: %s skipped: not a regular file (symlinks are not followed)", path);
    }
cleanup:
    if (dir)
        closedir (dir);                     /* closes dirfd */
    return rc;
}

pl_hud_t *
pl_hud_new (const char *dir)
{
    assert (dir && *dir);
    pl_hud_t *self = calloc (1, sizeof *self);
    if (!self || !(self->files = zhashx_new ()))
        goto fail;
    zhashx_set_destructor (self->files, s_file_destroy);
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        pl_warn ("hud: PARLEY_HUD_DIR=%s: %s: no HUD at / (run script/build, or set "
                 "PARLEY_HUD_DIR; empty turns it off)", dir, strerror (errno));
        goto cleanup;
    }
    if (s_walk (self, fd, "", 0) != 0)
        goto fail;
    if (self->skipped > S_SKIPS_LOGGED)
        pl_warn ("hud: %zu more skipped (the first %d are logged above)",
                 self->skipped - S_SKIPS_LOGGED, S_SKIPS_LOGGED);
    pl_info ("hud: %zu files, %zu bytes from %s, served at /%s", zhashx_size (self->files),
             self->total, dir, zhashx_lookup (self->files, "/index.html") ? "" : " (no index.html)");
    goto cleanup;
fail:
    pl_error ("hud: out of memory");
    pl_hud_destroy (&self);
cleanup:
    return self;
}

void
pl_hud_destroy (pl_hud_t **self_p)
{
    assert (self_p);
    pl_hud_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->files);
        free (self);
        *self_p = NULL;
    }
}

size_t
pl_hud_count (pl_hud_t *self)
{
    return zhashx_size (self->files);
}

/* Does If-None-Match (a list of entity tags, or "*" alone: the whole
 * value) match etag? The weak comparison (RFC 9110 §13.1.2): a W/ prefix
 * is ignored (a W/ star is no tag: it matches nothing). */
static bool
s_none_match (const char *header, const char *etag)
{
    size_t elen = strlen (etag);
    const char *p = header + strspn (header, " \t");
    bool match = strspn (p, "*") == 1 && p[1 + strspn (p + 1, " \t")] == '\0';
    while (!match && *p) {
        p += strspn (p, " \t,");
        size_t n = strcspn (p, ",");
        size_t trim = n;
        while (trim && (p[trim - 1] == ' ' || p[trim - 1] == '\t'))
            trim--;
        const char *tag = p;
        if (trim >= 2 && strncmp (tag, "W/", 2) == 0)
            tag += 2, trim -= 2;
        match = trim == elen && memcmp (tag, etag, elen) == 0;
        p += n;
    }
    return match;
}

bool
pl_hud_answer (pl_hud_t *self, const char *method, const char *path,
               const char *if_none_match, pl_hud_answer_t *answer)
{
    assert (self && method && path && answer);
    s_file_t *file = zhashx_lookup (self->files, strcmp (path, "/") == 0 ? "/index.html" : path);
    if (!file)
        goto cleanup;
    *answer = (pl_hud_answer_t) { 200, NULL, file->type, file->headers, NULL };
    if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0) {
        answer->status = 405;
        answer->headers = NULL;
        answer->allow = "GET, HEAD";
    }
    else
    if (if_none_match && s_none_match (if_none_match, file->etag))
        answer->status = 304;
    else
        answer->body = file->body;
cleanup:
    return file != NULL;
}

/* ---- selftest ----------------------------------------------------------- */

static void
s_put (const char *dir, const char *name, const char *text)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    assert (f);
    assert (fwrite (text, 1, strlen (text), f) == strlen (text));
    fclose (f);
    zstr_free (&path);
}

void
pl_hud_test (bool verbose)
{
    if (verbose)
        printf (" * pl_hud: ");
    char dir[] = "/tmp/pl-hudtest-XXXXXX";
    assert (mkdtemp (dir));
    char *sub = zsys_sprintf ("%s/sub", dir), *link = zsys_sprintf ("%s/passwd.txt", dir);
    assert (mkdir (sub, 0700) == 0);
    /* the browser hashes the script as parsed: CR LF is LF */
    s_put (dir, "index.html", "<!doctype html><script type=\"importmap\">{}</script>\n"
                              "<SCRIPT>alert(1)\r\n</script><script src=\"a.js\"></script>");
    s_put (dir, "a.js", "export {};\n");
    s_put (dir, ".hidden.js", "secret");
    s_put (dir, "x.exe", "MZ");
    s_put (sub, "s.css", "body{}");
    /* more skipped files than are logged one by one */
    for (int i = 0; i < S_SKIPS_LOGGED + 3; i++) {
        char name[16];
        snprintf (name, sizeof name, "x%d.exe", i);
        s_put (sub, name, "MZ");
    }
    /* more inline scripts than PL_HUD_SCRIPTS_MAX: the first ones hashed */
    char many[(PL_HUD_SCRIPTS_MAX + 1) * 32 + 1] = "";
    for (int i = 0; i <= PL_HUD_SCRIPTS_MAX; i++)
        snprintf (many + strlen (many), sizeof many - strlen (many), "<script>%d</script>", i);
    s_put (sub, "many.html", many);
    assert (symlink ("/etc/passwd", link) == 0);

    pl_hud_t *hud = pl_hud_new (dir);
    assert (hud);
    assert (pl_hud_count (hud) == 4);           /* index.html, a.js, sub/s.css, sub/many.html */
    /* .hidden.js, x.exe, passwd.txt, sub/x*.exe: counted, the first 32 logged */
    assert (hud->skipped == 3 + S_SKIPS_LOGGED + 3);
    /* a name listed twice (read while the directory changes): stored once,
     * its bytes counted once */
    size_t total = hud->total;
    int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert (dirfd >= 0 && s_load_file (hud, dirfd, "a.js", "/a.js") == 0);
    close (dirfd);
    assert (pl_hud_count (hud) == 4 && hud->total == total && hud->skipped == 3 + S_SKIPS_LOGGED + 4);
    pl_hud_answer_t a;
    assert (pl_hud_answer (hud, "GET", "/", NULL, &a));
    assert (a.status == 200 && a.body && strcmp (a.content_type, "text/html; charset=utf-8") == 0);
    /* echo -n '{}' | openssl dgst -sha256 -binary | base64, and "alert(1)\n" */
    assert (strstr (a.headers, "script-src 'self' "
                    "'sha256-RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=' "
                    "'sha256-MaeD7tQk/YNyd6Pm9J12ROmv0Z93QwNN4VH7v3gI+RI='; connect-src"));
    assert (strstr (a.headers, "ETag: \"") && strstr (a.headers, "nosniff"));
    char etag[40];
    snprintf (etag, sizeof etag, "%.34s", strstr (a.headers, "ETag: ") + 6);
    char *list = zsys_sprintf ("\"x\", W/%s", etag);
    assert (strstr (a.headers, "Content-Security-Policy: default-src 'self'; script-src"));
    assert (pl_hud_answer (hud, "HEAD", "/index.html", list, &a) && a.status == 304 && !a.body);
    assert (pl_hud_answer (hud, "GET", "/", "\"other\"", &a) && a.status == 200);
    assert (pl_hud_answer (hud, "GET", "/", " * ", &a) && a.status == 304);
    assert (pl_hud_answer (hud, "GET", "/", "W/*", &a) && a.status == 200);
    assert (pl_hud_answer (hud, "GET", "/", "\"x\", *", &a) && a.status == 200);
    assert (pl_hud_answer (hud, "GET", "/", "**", &a) && a.status == 200);
    assert (pl_hud_answer (hud, "POST", "/a.js", NULL, &a) && a.status == 405
            && strcmp (a.allow, "GET, HEAD") == 0);
    assert (pl_hud_answer (hud, "GET", "/a.js", NULL, &a)
            && strncmp (a.content_type, "text/javascript", 15) == 0
            && strstr (a.headers, "nosniff")
            && strstr (a.headers, "Content-Security-Policy: default-src 'none'; style-src 'self'; "
                                  "img-src 'self' data:\r\n"));
    assert (pl_hud_answer (hud, "GET", "/sub/s.css", NULL, &a) && a.status == 200);
    assert (pl_hud_answer (hud, "GET", "/sub/many.html", NULL, &a) && a.status == 200);
    size_t hashes = 0;
    for (const char *h = a.headers; (h = strstr (h, "'sha256-")) != NULL; h++)
        hashes++;
    assert (hashes == PL_HUD_SCRIPTS_MAX);
    const char *missing[] = { "/.hidden.js", "/x.exe", "/passwd.txt", "/sub", "/sub/",
                              "/./a.js", "/sub/../a.js", "//a.js", "a.js", "" };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        assert (!pl_hud_answer (hud, "GET", missing[i], NULL, &a));
    pl_hud_destroy (&hud);
    pl_hud_destroy (&hud);

    /* a missing directory: an empty store */
    hud = pl_hud_new ("/nonexistent/pl-hud");
    assert (hud && pl_hud_count (hud) == 0);
    assert (!pl_hud_answer (hud, "GET", "/", NULL, &a));
    pl_hud_destroy (&hud);

    char *rm = zsys_sprintf ("%s/sub/s.css", dir);
    unlink (rm), zstr_free (&rm);
    rm = zsys_sprintf ("%s/sub/many.html", dir);
    unlink (rm), zstr_free (&rm);
    for (int i = 0; i < S_SKIPS_LOGGED + 3; i++) {
        rm = zsys_sprintf ("%s/x%d.exe", sub, i);
        unlink (rm), zstr_free (&rm);
    }
    rmdir (sub);
    unlink (link);
    const char *names[] = { "index.html", "a.js", ".hidden.js", "x.exe" };
    for (size_t i = 0; i < 4; i++) {
        rm = zsys_sprintf ("%s/%s", dir, names[i]);
        unlink (rm), zstr_free (&rm);
    }
    assert (rmdir (dir) == 0);
    zstr_free (&sub);
    zstr_free (&link);
    zstr_free (&list);
    if (verbose)
        printf ("OK\n");
}
