/*  pl_config - environment configuration. */
#include "pl_config.h"
#include "pl_log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PL_CFG_OPT: a string whose empty value, set in the environment, is kept
 * (it turns something off) instead of giving the default. */
typedef enum { PL_CFG_STR, PL_CFG_INT, PL_CFG_SECRET, PL_CFG_OPT } s_type_t;

/* PARLEY_HUD_DIR's default: where cmake --install puts the HUD
 * (clients/hud/CMakeLists.txt), from the configure-time prefix. */
#ifndef PL_HUD_DIR_DEFAULT
#   define PL_HUD_DIR_DEFAULT "/usr/local/share/parley/hud"
#endif

typedef struct {
    const char *var;        /* environment variable                       */
    const char *def;        /* default, may hold ${PARLEY_DATA_DIR/RUN_DIR} */
    s_type_t type;          /* how to parse and log it                    */
    const char *doc;        /* one-line description                       */
} s_spec_t;

static const s_spec_t s_specs[PL_CFG_COUNT] = {
#define PL_CFG(id, var, def, type, doc) [PL_CFG_##id] = { var, def, type, doc },
#include "config.def"
};

/* sun_path is 108 bytes including the NUL */
#define S_IPC_PATH_MAX 107

struct _pl_config_t {
    char *value[PL_CFG_COUNT];  /* effective value of each key           */
    long number[PL_CFG_COUNT];  /* parsed value of PL_CFG_INT keys        */
    bool set[PL_CFG_COUNT];     /* came from the environment              */
};

/* Replace ${VAR} (only DATA_DIR and RUN_DIR) in a default with the value
 * already resolved for that key. Returns a new string. */
static char *
s_expand (pl_config_t *self, const char *def)
{
    char out[4096] = "";
    const char *p = def;
    size_t n = 0;
    while (*p && n < sizeof out - 1) {
        const char *var = NULL;
        size_t skip = 0;
        if (strncmp (p, "${PARLEY_DATA_DIR}", 18) == 0) {
            var = self->value[PL_CFG_DATA_DIR];
            skip = 18;
        }
        else
        if (strncmp (p, "${PARLEY_RUN_DIR}", 17) == 0) {
            var = self->value[PL_CFG_RUN_DIR];
            skip = 17;
        }
        if (var) {
            n += (size_t) snprintf (out + n, sizeof out - n, "%s", var);
            p += skip;
        }
        else
            out[n++] = *p++;
    }
    out[n < sizeof out ? n : sizeof out - 1] = 0;
    return strdup (out);
}

/* Make a directory path absolute against the working directory, so that
 * ipc:// endpoints mean the same file to every process whatever its cwd. */
static char *
s_absolute (const char *path)
{
    char cwd[PATH_MAX];
    char *result = NULL;
    if (path[0] == '/' || !getcwd (cwd, sizeof cwd))
        result = strdup (path);
    else {
        const char *rel = strncmp (path, "./", 2) == 0 ? path + 2 : path;
        size_t len = strlen (cwd) + strlen (rel) + 2;
        result = malloc (len);
        if (result)
            snprintf (result, len, "%s/%s", cwd, rel);
    }
    return result;
}

bool
pl_config_path_valid (const char *path)
{
    size_t len = strlen (path);
    if (len < 3 || len > PL_CONFIG_PATH_MAX || path[0] != '/' || path[len - 1] != '/')
        return false;
    /* the gateway's own HTTP paths are matched first: an Engine.IO path
     * there would never be reached */
    if (strncmp (path, "/api/", 5) == 0 || strcmp (path, "/healthz/") == 0
    ||  strcmp (path, "/metrics/") == 0)
        return false;
    size_t seg = 1;                     /* where the current segment starts */
    for (size_t i = 1; i < len; i++) {
        char c = path[i];
        if (c == '/') {
            size_t n = i - seg;
            if (n == 0 || (n == 1 && path[seg] == '.')
            ||  (n == 2 && path[seg] == '.' && path[seg + 1] == '.'))
                return false;
            seg = i + 1;
        }
        else
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        ||    c == '.' || c == '_' || c == '~' || c == '-'))
            return false;
    }
    return true;
}

pl_config_t *
pl_config_new (void)
{
    pl_config_t *self = calloc (1, sizeof *self);
    bool ok = self != NULL;
    for (int i = 0; ok && i < PL_CFG_COUNT; i++) {
        const char *env = getenv (s_specs[i].var);
        self->set[i] = env != NULL && (*env || s_specs[i].type == PL_CFG_OPT);
        self->value[i] = self->set[i] ? strdup (env) : s_expand (self, s_specs[i].def);
        if ((i == PL_CFG_DATA_DIR || i == PL_CFG_RUN_DIR) && self->value[i]) {
            char *abs = s_absolute (self->value[i]);
            free (self->value[i]);
            self->value[i] = abs;
        }
        if (!self->value[i]) {
            ok = false;
            break;
        }
        if (s_specs[i].type == PL_CFG_INT) {
            char *end = NULL;
            errno = 0;
            long v = strtol (self->value[i], &end, 10);
            if (errno || end == self->value[i] || *end || v < 0) {
                pl_error ("config: %s=\"%s\" is not a non-negative integer",
                          s_specs[i].var, self->value[i]);
                ok = false;
            }
            self->number[i] = v;
        }
        if (strncmp (self->value[i], "ipc://", 6) == 0
        &&  strlen (self->value[i] + 6) > S_IPC_PATH_MAX) {
            pl_error ("config: %s=\"%s\": an ipc path must be at most %d bytes; "
                      "set a shorter PARLEY_RUN_DIR", s_specs[i].var,
                      self->value[i], S_IPC_PATH_MAX);
            ok = false;
        }
    }
    if (ok && self->number[PL_CFG_PORT] > 65535) {
        pl_error ("config: PARLEY_PORT=%ld is out of range", self->number[PL_CFG_PORT]);
        ok = false;
    }
    if (ok && self->number[PL_CFG_METRICS_PUSH_MS] > PL_CONFIG_METRICS_PUSH_MAX) {
        /* a deadline now + this must not overflow; an hour is plenty */
        pl_error ("config: PARLEY_METRICS_PUSH_MS=%ld is out of range (0 to %d)",
                  self->number[PL_CFG_METRICS_PUSH_MS], PL_CONFIG_METRICS_PUSH_MAX);
        ok = false;
    }
    if (ok && !pl_config_path_valid (self->value[PL_CFG_PATH])) {
        pl_error ("config: PARLEY_PATH=\"%s\" is not a valid Engine.IO path: it must start "
                  "and end with /, be 3 to %d bytes of A-Z a-z 0-9 . _ ~ - and /, and have "
                  "no empty, . or .. segment, and not be under /api/ nor /healthz/ nor /metrics/ (e.g. /socket.io/)",
                  self->value[PL_CFG_PATH], PL_CONFIG_PATH_MAX);
        ok = false;
    }
    if (ok && !pl_log_format_valid (self->value[PL_CFG_LOG_FORMAT])) {
        pl_error ("config: PARLEY_LOG_FORMAT=\"%s\" is not a log format: text or json",
                  self->value[PL_CFG_LOG_FORMAT]);
        ok = false;
    }
    if (!ok)
        pl_config_destroy (&self);
    return self;
}

void
pl_config_destroy (pl_config_t **self_p)
{
    assert (self_p);
    pl_config_t *self = *self_p;
    if (self) {
        for (int i = 0; i < PL_CFG_COUNT; i++)
            free (self->value[i]);
        free (self);
        *self_p = NULL;
    }
}

const char *
pl_config_str (pl_config_t *self, pl_cfg_key_t key)
{
    assert (self && (int) key >= 0 && key < PL_CFG_COUNT);
    return self->value[key];
}

long
pl_config_int (pl_config_t *self, pl_cfg_key_t key)
{
    assert (self && (int) key >= 0 && key < PL_CFG_COUNT);
    assert (s_specs[key].type == PL_CFG_INT);
    return self->number[key];
}

bool
pl_config_is_set (pl_config_t *self, pl_cfg_key_t key)
{
    assert (self && (int) key >= 0 && key < PL_CFG_COUNT);
    return self->set[key];
}

void
pl_config_log (pl_config_t *self)
{
    for (int i = 0; i < PL_CFG_COUNT; i++) {
        const char *shown = self->value[i];
        if (s_specs[i].type == PL_CFG_SECRET)
            shown = *shown ? "(set, hidden)" : "(empty: dev default)";
        pl_info ("config %s=%s%s", s_specs[i].var, shown,
                 self->set[i] ? (*shown ? "" : " (empty: off)") : " (default)");
    }
}

int
pl_config_ensure_ipc_dir (const char *endpoint)
{
    int rc = 0;
    char path[PATH_MAX];
    if (strncmp (endpoint, "ipc://", 6) != 0)
        goto cleanup;
    snprintf (path, sizeof path, "%s", endpoint + 6);
    char *slash = strrchr (path, '/');
    if (!slash || slash == path)
        goto cleanup;
    *slash = 0;
    for (char *p = path + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir (path, 0700) == -1 && errno != EEXIST) {
                pl_error ("mkdir %s: %s", path, strerror (errno));
                rc = -1;
                goto cleanup;
            }
            *p = saved;
            if (saved == 0)
                break;
        }
    }
cleanup:
    return rc;
}

void
pl_config_test (bool verbose)
{
    if (verbose)
        printf (" * pl_config: ");
    setenv ("PARLEY_PORT", "9123", 1);
    setenv ("PARLEY_DATA_DIR", "/tmp/pl-cfg-test", 1);
    unsetenv ("PARLEY_RUN_DIR");
    unsetenv ("PARLEY_BROKER_FRONTEND");
    pl_config_t *cfg = pl_config_new ();
    assert (cfg);
    assert (pl_config_int (cfg, PL_CFG_PORT) == 9123);
    assert (pl_config_is_set (cfg, PL_CFG_PORT));
    assert (!pl_config_is_set (cfg, PL_CFG_RUN_DIR));
    assert (strcmp (pl_config_str (cfg, PL_CFG_RUN_DIR), "/tmp/pl-cfg-test/run") == 0);
    assert (strcmp (pl_config_str (cfg, PL_CFG_BROKER_FRONTEND),
                    "ipc:///tmp/pl-cfg-test/run/broker-frontend.ipc") == 0);
    assert (pl_config_int (cfg, PL_CFG_REQUEST_TIMEOUT_MS) == 5000);
    pl_config_destroy (&cfg);
    pl_config_destroy (&cfg);
    assert (cfg == NULL);

    /* a relative data dir becomes absolute */
    setenv ("PARLEY_DATA_DIR", "./rel", 1);
    cfg = pl_config_new ();
    assert (cfg);
    assert (pl_config_str (cfg, PL_CFG_DATA_DIR)[0] == '/');
    assert (strstr (pl_config_str (cfg, PL_CFG_DATA_DIR), "/rel"));
    pl_config_destroy (&cfg);

    /* invalid values are refused */
    const char *bad_ports[] = { "80x", "-1", "70000", "" };
    for (int i = 0; i < 3; i++) {
        setenv ("PARLEY_PORT", bad_ports[i], 1);
        cfg = pl_config_new ();
        assert (cfg == NULL);
    }
    setenv ("PARLEY_PORT", "8080", 1);
    setenv ("PARLEY_METRICS_PUSH_MS", "3600001", 1);
    cfg = pl_config_new ();
    assert (cfg == NULL);
    setenv ("PARLEY_METRICS_PUSH_MS", "3600000", 1);
    cfg = pl_config_new ();
    assert (cfg && pl_config_int (cfg, PL_CFG_METRICS_PUSH_MS) == 3600000);
    pl_config_destroy (&cfg);
    unsetenv ("PARLEY_METRICS_PUSH_MS");
    char longdir[200];
    memset (longdir, 'a', sizeof longdir);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = 0;
    setenv ("PARLEY_DATA_DIR", longdir, 1);
    cfg = pl_config_new ();
    assert (cfg == NULL);               /* ipc path would exceed sun_path */
    unsetenv ("PARLEY_DATA_DIR");

    /* PARLEY_PATH: the default, a valid one, and every kind of bad one */
    cfg = pl_config_new ();
    assert (cfg && strcmp (pl_config_str (cfg, PL_CFG_PATH), "/socket.io/") == 0);
    pl_config_destroy (&cfg);
    setenv ("PARLEY_PATH", "/game/rt.v2_~-x/", 1);
    cfg = pl_config_new ();
    assert (cfg && strcmp (pl_config_str (cfg, PL_CFG_PATH), "/game/rt.v2_~-x/") == 0);
    pl_config_destroy (&cfg);
    char longpath[PL_CONFIG_PATH_MAX + 2];
    memset (longpath, 'p', sizeof longpath);
    longpath[0] = '/';
    longpath[PL_CONFIG_PATH_MAX - 1] = '/';
    longpath[PL_CONFIG_PATH_MAX] = 0;
    assert (pl_config_path_valid (longpath));           /* 128 bytes */
    longpath[PL_CONFIG_PATH_MAX - 1] = 'p';
    longpath[PL_CONFIG_PATH_MAX] = '/';
    longpath[PL_CONFIG_PATH_MAX + 1] = 0;
    assert (!pl_config_path_valid (longpath));          /* 129 bytes */
    const char *bad_paths[] = {
        "/", "//", "socket.io/", "/socket.io", "/a//b/", "/./", "/../", "/a/../b/",
        "/a b/", "/a?b/", "/a%2f/", "/a#/", "/\xc3\xa9/", "/a\\b/", "/a,b/", longpath,
        "/api/", "/api/v1/", "/healthz/", "/metrics/", NULL
    };
    for (int i = 0; bad_paths[i]; i++) {
        assert (!pl_config_path_valid (bad_paths[i]));
        setenv ("PARLEY_PATH", bad_paths[i], 1);
        cfg = pl_config_new ();
        assert (cfg == NULL);
    }
    assert (pl_config_path_valid ("/a/") && pl_config_path_valid ("/.a/")
            && pl_config_path_valid ("/.../") && pl_config_path_valid ("/apis/")
            && pl_config_path_valid ("/healthz/x/") && pl_config_path_valid ("/metrics/x/"));
    unsetenv ("PARLEY_PATH");
    /* PARLEY_LOG_FORMAT: text (the default) or json; anything else refuses */
    cfg = pl_config_new ();
    assert (cfg && strcmp (pl_config_str (cfg, PL_CFG_LOG_FORMAT), "text") == 0);
    pl_config_destroy (&cfg);
    setenv ("PARLEY_LOG_FORMAT", "json", 1);
    cfg = pl_config_new ();
    assert (cfg && strcmp (pl_config_str (cfg, PL_CFG_LOG_FORMAT), "json") == 0);
    pl_config_destroy (&cfg);
    const char *bad_formats[] = { "xml", "JSON", "json ", "text\n" };
    for (size_t i = 0; i < sizeof bad_formats / sizeof bad_formats[0]; i++) {
        setenv ("PARLEY_LOG_FORMAT", bad_formats[i], 1);
        cfg = pl_config_new ();
        assert (cfg == NULL);
    }
    unsetenv ("PARLEY_LOG_FORMAT");
    unsetenv ("PARLEY_PORT");
    if (verbose)
        printf ("OK\n");
}
