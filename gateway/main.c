/*  parley-gateway - Socket.IO gateway process. */
#include "pl_config.h"
#include "pl_gateway.h"
#include "pl_log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static pl_gateway_t *s_gateway;

/* Signal context: only async-signal-safe work. */
static void
s_on_signal (int sig)
{
    (void) sig;
    if (s_gateway)
        pl_gateway_stop (s_gateway);
}

int
main (void)
{
    int rc = 1;
    pl_log_init ("gateway", getenv ("PARLEY_LOG_LEVEL"));
    pl_config_t *config = pl_config_new ();
    if (!config)
        goto cleanup;
    pl_log_init ("gateway", pl_config_str (config, PL_CFG_LOG_LEVEL));
    pl_config_log (config);
    if (!*pl_config_str (config, PL_CFG_JWT_SECRET))
        pl_warn ("*** PARLEY_JWT_SECRET is not set: using the PUBLIC dev secret. "
                 "Anyone can mint tokens. Set it before exposing this gateway. ***");
    signal (SIGPIPE, SIG_IGN);
    s_gateway = pl_gateway_new (config);
    if (!s_gateway)
        goto cleanup;
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    rc = pl_gateway_run (s_gateway) == 0 ? 0 : 1;
    pl_info ("gateway stopping");
cleanup:
    pl_gateway_destroy (&s_gateway);
    pl_config_destroy (&config);
    return rc;
}
