/*  parley-conformance sio|eio - the gateway's core behind the reference
 *  test servers' application (pl_conformance.h), for the official
 *  Engine.IO v4 / Socket.IO v5 suites. script/conformance-server sets the
 *  environment (port, path, ping times, maxPayload). */
#include "pl_config.h"
#include "pl_conformance.h"
#include "pl_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    int rc = 1;
    pl_config_t *config = NULL;
    pl_conformance_t *server = NULL;
    if (argc != 2 || (strcmp (argv[1], "sio") != 0 && strcmp (argv[1], "eio") != 0)) {
        fprintf (stderr, "usage: parley-conformance sio|eio\n");
        rc = 2;
        goto cleanup;
    }
    pl_log_init ("conformance", getenv ("PARLEY_LOG_LEVEL"), getenv ("PARLEY_LOG_FORMAT"));
    config = pl_config_new ();
    if (!config)
        goto cleanup;
    pl_log_init ("conformance", pl_config_str (config, PL_CFG_LOG_LEVEL),
                 pl_config_str (config, PL_CFG_LOG_FORMAT));
    signal (SIGPIPE, SIG_IGN);
    server = pl_conformance_new (config, strcmp (argv[1], "eio") == 0 ? PL_CONFORMANCE_EIO
                                                                       : PL_CONFORMANCE_SIO);
    if (!server)
        goto cleanup;
    rc = pl_conformance_run (server) == 0 ? 0 : 1;
cleanup:
    pl_conformance_destroy (&server);
    pl_config_destroy (&config);
    return rc;
}
