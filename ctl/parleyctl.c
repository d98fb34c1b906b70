/*  parleyctl - Parley's command-line tool for operators and developers.
 *
 *  parleyctl [--url URL] [--timeout SECONDS] COMMAND [ARGS]
 *    token --sub ID [--name NAME] [--ttl SECONDS]   mint a token
 *    call EVENT [JSON] [--as ID | --token TOKEN]    send one event, print its ack
 *    tail ROOM [--as ID | --token TOKEN]            print a room's live events
 *    health                                         GET /healthz
 *    services                                       workers and queue depth per service
 *    metrics                                        GET /metrics
 *
 *  The gateway is PARLEY_URL (or --url), else http://127.0.0.1:$PARLEY_PORT;
 *  the Engine.IO path is PARLEY_PATH; tokens are signed with
 *  PARLEY_JWT_SECRET, as by parley-token (pl_jwt_mint). The exit codes are
 *  pl_ctlc's results (ctl/pl_ctlc.h), listed in s_usage and README.md.
 */
#include "pl_config.h"
#include "pl_ctlc.h"
#include "pl_jwt.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TTL_MAX  (10L * 366 * 24 * 3600)   /* --ttl: ten years at most     */
#define S_TIMEOUT_MAX 3600                    /* --timeout: an hour at most   */
#define S_DEFAULT_AS "parleyctl"              /* the user of call and tail    */

/* What a command takes: a bit per option, and how many arguments. */
enum {
    O_SUB = 1, O_NAME = 2, O_TTL = 4, O_AS = 8, O_TOKEN = 16, O_NET = 32
};

typedef struct {
    const char *name;
    unsigned options;           /* the O_ bits it accepts         */
    int min_args, max_args;     /* positional arguments           */
    const char *usage;          /* its --help                     */
} s_command_t;

static const s_command_t s_commands[] = {
    { "token", O_SUB | O_NAME | O_TTL, 0, 0,
      "usage: parleyctl token --sub ID [--name NAME] [--ttl SECONDS]\n"
      "  Print a client token (HS256 JWT) for user ID, signed with\n"
      "  PARLEY_JWT_SECRET (the public dev secret when unset, as the gateway).\n"
      "  --ttl: lifetime in seconds (default 3600; 0: never expires).\n" },
    { "call", O_AS | O_TOKEN | O_NET, 1, 2,
      "usage: parleyctl call EVENT [JSON] [--as ID | --token TOKEN] [--url URL] [--timeout S]\n"
      "  Connect as ID (default " S_DEFAULT_AS ", with a token minted from\n"
      "  PARLEY_JWT_SECRET) or with TOKEN, send EVENT with the JSON argument\n"
      "  (none when absent) and print the ack as one line of JSON.\n"
      "  Exit 0 when the ack says success, 1 when it carries an error.\n" },
    { "tail", O_AS | O_TOKEN | O_NET, 1, 1,
      "usage: parleyctl tail ROOM [--as ID | --token TOKEN] [--url URL] [--timeout S]\n"
      "  Subscribe to ROOM (e.g. campaign:<id>) and print every event pushed\n"
      "  to the connection as one line {\"event\":..,\"data\":..} (and \"offset\"\n"
      "  when the server sends one), until Ctrl-C or SIGTERM (exit 0) or the\n"
      "  connection ends (exit 4). A refused subscribe exits 1.\n" },
    { "health", O_NET, 0, 0,
      "usage: parleyctl health [--url URL] [--timeout S]\n"
      "  Print the gateway's GET /healthz. Exit 0 only when it is healthy (200).\n" },
    { "services", O_NET, 0, 0,
      "usage: parleyctl services [--url URL] [--timeout S]\n"
      "  Print live workers and queued requests per service, from /healthz.\n" },
    { "metrics", O_NET, 0, 0,
      "usage: parleyctl metrics [--url URL] [--timeout S]\n"
      "  Print the gateway's GET /metrics (Prometheus text) as it is.\n" },
    { NULL, 0, 0, 0, NULL }
};

static const char s_usage[] =
    "usage: parleyctl [--url URL] [--timeout SECONDS] COMMAND [ARGS] [--help]\n"
    "\n"
    "commands:\n"
    "  token --sub ID [--name NAME] [--ttl SECONDS]  mint a client token\n"
    "  call EVENT [JSON] [--as ID | --token TOKEN]   send one event, print its ack\n"
    "  tail ROOM [--as ID | --token TOKEN]           print a room's live events\n"
    "  health                                        GET /healthz\n"
    "  services                                      workers and queue depth per service\n"
    "  metrics                                       GET /metrics\n"
    "\n"
    "  --url URL        the gateway (default PARLEY_URL, else\n"
    "                   http://127.0.0.1:$PARLEY_PORT; Engine.IO path PARLEY_PATH)\n"
    "  --timeout S      seconds for each phase as a whole: a GET, the connect,\n"
    "                   a call and its ack (default 10; tail: no limit on events)\n"
    "  parleyctl COMMAND --help  for a command's usage\n"
    "\n"
    "exit codes: 0 ok; 1 the server answered an error (error ack, refused\n"
    "connect, unhealthy, HTTP error); 2 usage (bad option, bad JSON);\n"
    "3 cannot connect or no answer in time; 4 the connection ended or the\n"
    "server broke the protocol; 5 interrupted (call, health, ...).\n";

typedef struct {
    const s_command_t *cmd;     /* the command                    */
    const char *args[2];        /* its positional arguments       */
    int nargs;
    const char *sub, *name, *as, *token, *url;
    long ttl, timeout_s;
    bool help;
} s_opts_t;

static volatile sig_atomic_t s_stop;
static pl_ctlc_t *s_client;         /* for the signal handler's wake-up */

/* SIGINT, SIGTERM (signal context): stop the blocked call. */
static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
    pl_ctlc_wake (s_client);
}

static int
s_usage_error (const char *what, const char *arg)
{
    fprintf (stderr, "parleyctl: %s%s%s\n(parleyctl --help for usage)\n", what,
             arg ? ": " : "", arg ? arg : "");
    return PL_CTLC_USAGE;
}

/* A whole decimal number in 0..max. */
static int
s_number (const char *text, long max, long *out)
{
    int rc = -1;
    char *end = NULL;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (*text < '0' || *text > '9' || errno || *end || v > max)
        goto cleanup;
    *out = v;
    rc = 0;
cleanup:
    return rc;
}

/* Options may come anywhere; each is checked against the command. */
static int
s_parse (int argc, char **argv, s_opts_t *o)
{
    int rc = PL_CTLC_USAGE;
    static const struct { const char *name; unsigned bit; } takes_value[] = {
        { "--sub", O_SUB }, { "--name", O_NAME }, { "--ttl", O_TTL }, { "--as", O_AS },
        { "--token", O_TOKEN }, { "--url", O_NET }, { "--timeout", O_NET }, { NULL, 0 }
    };
    unsigned seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
            o->help = true;
            continue;
        }
        int k = 0;
        while (takes_value[k].name && strcmp (a, takes_value[k].name) != 0)
            k++;
        if (takes_value[k].name) {
            if (i + 1 >= argc) {
                rc = s_usage_error ("option needs a value", a);
                goto cleanup;
            }
            const char *v = argv[++i];
            seen |= takes_value[k].bit;
            if (strcmp (a, "--sub") == 0) o->sub = v;
            if (strcmp (a, "--name") == 0) o->name = v;
            if (strcmp (a, "--as") == 0) o->as = v;
            if (strcmp (a, "--token") == 0) o->token = v;
            if (strcmp (a, "--url") == 0) o->url = v;
            if (strcmp (a, "--ttl") == 0 && s_number (v, S_TTL_MAX, &o->ttl) != 0) {
                rc = s_usage_error ("--ttl takes seconds, 0 to 316224000", v);
                goto cleanup;
            }
            if (strcmp (a, "--timeout") == 0
            &&  (s_number (v, S_TIMEOUT_MAX, &o->timeout_s) != 0 || o->timeout_s == 0)) {
                rc = s_usage_error ("--timeout takes seconds, 1 to 3600", v);
                goto cleanup;
            }
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            rc = s_usage_error ("unknown option", a);
            goto cleanup;
        }
        if (!o->cmd) {
            for (int c = 0; s_commands[c].name; c++)
                if (strcmp (a, s_commands[c].name) == 0)
                    o->cmd = &s_commands[c];
            if (!o->cmd) {
                rc = s_usage_error ("unknown command", a);
                goto cleanup;
            }
            continue;
        }
        if (o->nargs == o->cmd->max_args) {
            rc = s_usage_error ("too many arguments", a);
            goto cleanup;
        }
        o->args[o->nargs++] = a;
    }
    if (o->help) {
        rc = PL_CTLC_OK;
        goto cleanup;
    }
    if (!o->cmd) {
        rc = s_usage_error ("no command", NULL);
        goto cleanup;
    }
    if (seen & ~o->cmd->options) {
        rc = s_usage_error ("an option this command does not take", o->cmd->name);
        goto cleanup;
    }
    if (o->nargs < o->cmd->min_args) {
        rc = s_usage_error ("missing argument", o->cmd->usage);
        goto cleanup;
    }
    if (o->as && o->token) {
        rc = s_usage_error ("--as and --token exclude each other", NULL);
        goto cleanup;
    }
    rc = PL_CTLC_OK;
cleanup:
    return rc;
}

/* A user id for a token, as the gateway checks it. */
static int
s_check_sub (const char *sub)
{
    return pl_wire_user_id_valid (sub) ? PL_CTLC_OK
         : s_usage_error ("not a user id (1 to 128 bytes of A-Z a-z 0-9 _ . - | @ +)", sub);
}

static int
s_token (const s_opts_t *o, pl_config_t *config)
{
    int rc = PL_CTLC_USAGE;
    char *token = NULL;
    if (!o->sub) {
        rc = s_usage_error ("token: --sub is required", NULL);
        goto cleanup;
    }
    if ((rc = s_check_sub (o->sub)) != PL_CTLC_OK)
        goto cleanup;
    token = pl_jwt_mint (pl_config_str (config, PL_CFG_JWT_SECRET), o->sub, o->name, o->ttl);
    if (!token) {
        fprintf (stderr, "parleyctl: cannot sign the token\n");
        rc = PL_CTLC_ERROR;
        goto cleanup;
    }
    /* a token the gateway would refuse unread is no token */
    if (strlen (token) > PL_JWT_MAX) {
        rc = s_usage_error ("the token would be longer than the gateway accepts (8192 bytes)",
                            "shorten --name");
        goto cleanup;
    }
    printf ("%s\n", token);
    rc = PL_CTLC_OK;
cleanup:
    free (token);
    return rc;
}

/* Print an ack; say why on stderr when it is no success. */
static int
s_print_ack (const char *what, const cJSON *ack)
{
    int rc = PL_CTLC_ERROR;
    char *text = cJSON_PrintUnformatted (ack);
    if (text)
        printf ("%s\n", text);
    fflush (stdout);
    if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (ack, "success")))
        rc = PL_CTLC_OK;
    else {
        /* the server's words, shown safe for a terminal */
        const cJSON *err = cJSON_GetObjectItemCaseSensitive (ack, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive (err, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive (err, "message");
        const char *c = cJSON_IsString (code) ? code->valuestring : "no success in the ack";
        const char *m = cJSON_IsString (msg) ? msg->valuestring : "";
        char code_shown[65], msg_shown[PL_CTLC_PRINTABLE + 1];
        pl_ctlc_printable (code_shown, sizeof code_shown, c, strlen (c));
        pl_ctlc_printable (msg_shown, sizeof msg_shown, m, strlen (m));
        fprintf (stderr, "parleyctl: %s: %s: %s\n", what, code_shown, msg_shown);
    }
    free (text);
    return rc;
}

/* Connect for call and tail: the token is --token, or minted for --as. */
static int
s_session (const s_opts_t *o, pl_config_t *config)
{
    int rc = PL_CTLC_OK;
    char *token = NULL;
    const char *as = o->as ? o->as : S_DEFAULT_AS;
    if (!o->token && (rc = s_check_sub (as)) != PL_CTLC_OK)
        goto cleanup;
    if (o->token && strlen (o->token) > PL_JWT_MAX) {
        rc = s_usage_error ("--token is longer than any token the gateway accepts", NULL);
        goto cleanup;
    }
    token = o->token ? strdup (o->token)
          : pl_jwt_mint (pl_config_str (config, PL_CFG_JWT_SECRET), as, NULL, 3600);
    if (!token) {
        rc = PL_CTLC_ERROR;
        fprintf (stderr, "parleyctl: cannot make the token\n");
        goto cleanup;
    }
    rc = pl_ctlc_connect (s_client, pl_config_str (config, PL_CFG_PATH), token);
    if (rc != PL_CTLC_OK)
        fprintf (stderr, "parleyctl: %s\n", pl_ctlc_error (s_client));
cleanup:
    free (token);
    return rc;
}

static int
s_call (const s_opts_t *o, pl_config_t *config)
{
    int rc = PL_CTLC_OK;
    cJSON *arg = NULL, *ack = NULL;
    const char *event = o->args[0];
    if (o->nargs == 2) {
        const char *text = o->args[1];
        size_t len = strlen (text);
        arg = pl_proto_json_parse (text, len);
        if (!arg) {
            rc = s_usage_error ("the argument is not valid JSON", text);
            goto cleanup;
        }
        /* cJSON's strings end at a NUL: the event sent would not be the
         * one written (the gateway refuses NULs anyway) */
        if (pl_proto_json_has_nul (text, len)) {
            rc = s_usage_error ("the argument holds a NUL (\\u0000)", NULL);
            goto cleanup;
        }
    }
    if ((rc = s_session (o, config)) != PL_CTLC_OK)
        goto cleanup;
    rc = pl_ctlc_call (s_client, event, arg, &ack);
    if (rc != PL_CTLC_OK) {
        fprintf (stderr, "parleyctl: %s: %s\n", event, pl_ctlc_error (s_client));
        goto cleanup;
    }
    rc = s_print_ack (event, ack);
cleanup:
    cJSON_Delete (arg);
    cJSON_Delete (ack);
    return rc;
}

static int
s_tail (const s_opts_t *o, pl_config_t *config)
{
    int rc = PL_CTLC_OK;
    cJSON *arg = cJSON_CreateObject (), *ack = NULL, *args = NULL;
    char *event = NULL;
    if (!arg || !cJSON_AddStringToObject (arg, "room", o->args[0])) {
        rc = PL_CTLC_ERROR;
        goto cleanup;
    }
    if ((rc = s_session (o, config)) != PL_CTLC_OK)
        goto cleanup;
    rc = pl_ctlc_call (s_client, "subscribe", arg, &ack);
    if (rc != PL_CTLC_OK) {
        fprintf (stderr, "parleyctl: subscribe: %s\n", pl_ctlc_error (s_client));
        goto cleanup;
    }
    if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (ack, "success"))) {
        rc = s_print_ack ("subscribe", ack);
        goto cleanup;
    }
    fprintf (stderr, "parleyctl: tailing %.200s (Ctrl-C to stop)\n", o->args[0]);
    while ((rc = pl_ctlc_next (s_client, &event, &args)) == PL_CTLC_OK
       ||  rc == PL_CTLC_ERROR) {
        if (rc == PL_CTLC_ERROR) {
            /* an event refused (a NUL): said, skipped, the tail goes on */
            fprintf (stderr, "parleyctl: %s\n", pl_ctlc_error (s_client));
            continue;
        }
        cJSON *line = cJSON_CreateObject ();
        cJSON *data = cJSON_DetachItemFromArray (args, 0);
        cJSON *offset = cJSON_DetachItemFromArray (args, 0);
        if (!line || !cJSON_AddStringToObject (line, "event", event)) {
            cJSON_Delete (data);
            cJSON_Delete (offset);
            cJSON_Delete (line);
            rc = PL_CTLC_ERROR;
            break;
        }
        cJSON_AddItemToObject (line, "data", data ? data : cJSON_CreateNull ());
        if (cJSON_IsString (offset))
            cJSON_AddItemToObject (line, "offset", offset);
        else
            cJSON_Delete (offset);
        char *text = cJSON_PrintUnformatted (line);
        cJSON_Delete (line);
        bool written = text && printf ("%s\n", text) > 0 && fflush (stdout) == 0;
        free (text);
        free (event);
        event = NULL;
        cJSON_Delete (args);
        args = NULL;
        if (!written) {
            fprintf (stderr, "parleyctl: cannot write to stdout\n");
            rc = PL_CTLC_ERROR;
            break;
        }
    }
    if (rc == PL_CTLC_STOPPED)
        rc = PL_CTLC_OK;                /* Ctrl-C is how tail ends */
    else
    if (rc != PL_CTLC_OK && rc != PL_CTLC_ERROR)
        fprintf (stderr, "parleyctl: %s\n", pl_ctlc_error (s_client));
cleanup:
    free (event);
    cJSON_Delete (args);
    cJSON_Delete (arg);
    cJSON_Delete (ack);
    return rc;
}

/* GET path; PL_CTLC_OK with the body, or the failure said on stderr. */
static int
s_get (const s_opts_t *o, const char *path, int *status, char **body, size_t *len)
{
    int rc = pl_ctlc_get (s_client, path, status, body, len);
    if (rc != PL_CTLC_OK)
        fprintf (stderr, "parleyctl: %s: %s\n", o->cmd->name, pl_ctlc_error (s_client));
    return rc;
}

/* A page of the server's (bounded: PL_CTLC_BODY_MAX, 64 MB), made safe
 * for a terminal first: no escape sequence reaches the screen. */
static void
s_write_body (char *body, size_t len)
{
    pl_ctlc_sanitize (body, len);
    fwrite (body, 1, len, stdout);
    if (len && body[len - 1] != '\n')
        putchar ('\n');
    fflush (stdout);
}

/* health and metrics: print the page; what a status other than 200 means
 * (no page, for metrics) is the command's. */
static int
s_page (const s_opts_t *o, const char *path, bool print_any)
{
    int status;
    char *body = NULL;
    size_t len;
    int rc = s_get (o, path, &status, &body, &len);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    if (status == 200 || print_any)
        s_write_body (body, len);
    if (status == 200)
        goto cleanup;
    rc = PL_CTLC_ERROR;
    if (strcmp (path, "/healthz") == 0)
        fprintf (stderr, "parleyctl: health: the gateway is not healthy (HTTP %d)\n", status);
    else
    if (status == 404)
        fprintf (stderr, "parleyctl: %s: the gateway has no %s (HTTP 404): "
                         "it predates that page\n", o->cmd->name, path);
    else
        fprintf (stderr, "parleyctl: %s: %s answered HTTP %d\n", o->cmd->name, path, status);
cleanup:
    free (body);
    return rc;
}

/* Print a server-sent name only as what a service name can be. */
static bool
s_plain_name (const char *s)
{
    size_t n = strlen (s);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
          || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.';
    return ok;
}

static int
s_services (const s_opts_t *o)
{
    int status;
    char *body = NULL;
    size_t len;
    cJSON *root = NULL;
    int rc = s_get (o, "/healthz", &status, &body, &len);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    if (status != 200 && status != 503) {
        fprintf (stderr, "parleyctl: services: /healthz answered HTTP %d\n", status);
        rc = PL_CTLC_ERROR;
        goto cleanup;
    }
    root = pl_proto_json_parse (body, len);
    const cJSON *services = cJSON_GetObjectItemCaseSensitive (root, "services");
    if (!cJSON_IsObject (services)) {
        fprintf (stderr, "parleyctl: services: /healthz has no services table\n");
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    const cJSON *broker = cJSON_GetObjectItemCaseSensitive (root, "broker");
    printf ("%-16s %8s %8s\n", "SERVICE", "WORKERS", "QUEUED");
    for (const cJSON *s = services->child; s; s = s->next) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive (s, "workers");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive (s, "queued");
        if (!s_plain_name (s->string))
            continue;
        char workers[32] = "?", queued[32] = "?";
        if (cJSON_IsNumber (w))
            snprintf (workers, sizeof workers, "%.0f", w->valuedouble);
        if (cJSON_IsNumber (q))
            snprintf (queued, sizeof queued, "%.0f", q->valuedouble);
        printf ("%-16s %8s %8s\n", s->string, workers, queued);
    }
    if (cJSON_IsFalse (broker))
        printf ("(the gateway cannot reach the broker: the table is not current)\n");
    fflush (stdout);
cleanup:
    cJSON_Delete (root);
    free (body);
    return rc;
}

int
main (int argc, char **argv)
{
    s_opts_t o = { .ttl = 3600, .timeout_s = 10 };
    pl_config_t *config = NULL;
    int rc = s_parse (argc, argv, &o);
    if (rc != PL_CTLC_OK || o.help) {
        if (o.help)
            fputs (o.cmd ? o.cmd->usage : s_usage, stdout);
        goto cleanup;
    }
    config = pl_config_new ();
    if (!config) {
        rc = s_usage_error ("the environment holds an invalid PARLEY_ variable", NULL);
        goto cleanup;
    }
    if (strcmp (o.cmd->name, "token") == 0) {
        rc = s_token (&o, config);
        goto cleanup;
    }
    char url[64];
    const char *env_url = pl_config_str (config, PL_CFG_URL);
    snprintf (url, sizeof url, "http://127.0.0.1:%ld", pl_config_int (config, PL_CFG_PORT));
    if (!o.url)
        o.url = *env_url ? env_url : url;
    const char *why = NULL;
    s_client = pl_ctlc_new (o.url, o.timeout_s * 1000, &s_stop, &why);
    if (!s_client) {
        rc = s_usage_error (why, o.url);
        goto cleanup;
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;        /* no SA_RESTART: poll returns EINTR */
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    if (strcmp (o.cmd->name, "call") == 0)
        rc = s_call (&o, config);
    else
    if (strcmp (o.cmd->name, "tail") == 0)
        rc = s_tail (&o, config);
    else
    if (strcmp (o.cmd->name, "health") == 0)
        rc = s_page (&o, "/healthz", true);
    else
    if (strcmp (o.cmd->name, "services") == 0)
        rc = s_services (&o);
    else
        rc = s_page (&o, "/metrics", false);
cleanup:
    pl_ctlc_destroy (&s_client);
    pl_config_destroy (&config);
    return rc;
}
