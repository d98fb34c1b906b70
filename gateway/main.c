/*  parley-gateway - Socket.IO gateway process. */
#include "pl_config.h"
#include "pl_gateway.h"
#include "pl_log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static pl_gateway_t *s_gateway;

int
main (void)
{
    int rc = 1;
    pl_log_init ("gateway", getenv ("PARLEY_LOG_LEVEL"), getenv ("PARLEY_LOG_FORMAT"));
    pl_config_t *config = pl_config_new ();
    if (!config)
        goto cleanup;
    pl_log_init ("gateway", pl_config_str (config, PL_CFG_LOG_LEVEL),
                 pl_config_str (config, PL_CFG_LOG_FORMAT));
    pl_config_log (config);
    if (!*pl_config_str (config, PL_CFG_JWT_SECRET))
        pl_warn ("*** PARLEY_JWT_SECRET is not set: using the PUBLIC dev secret. "
                 "Anyone can mint tokens. Set it before exposing this gateway. ***");
    signal (SIGPIPE, SIG_IGN);
    s_gateway = pl_gateway_new (config);
    if (!s_gateway)
        goto cleanup;
    /* SIGINT and SIGTERM are watched on the gateway's loop, and end the
     * process even if that loop is stuck (pl_stopguard, in the run) */
    rc = pl_gateway_run (s_gateway) == 0 ? 0 : 1;
cleanup:
    pl_gateway_destroy (&s_gateway);
    pl_config_destroy (&config);
    return rc;
}
