/*  parley-load - load generator for Parley (and for the Node reference
 *  server, which speaks the same protocol). See tests/load/README.md.
 *
 *  Usage: parley-load MODE [options]; one JSON summary line on stdout.
 */
#include "pl_loadmodes.h"
#include "pl_loadopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

int
main (int argc, char **argv)
{
    pl_loadopt_t opts;
    bool help = false;
    char err[256];
    if (pl_loadopt_parse (&opts, argc, argv, &help, err, sizeof err) != 0) {
        fprintf (stderr, "parley-load: %s\n", err);
        pl_loadopt_usage ();
        /* still one summary line, so a script reading stdout sees why */
        cJSON *obj = cJSON_CreateObject ();
        char *text = NULL;
        if (obj && cJSON_AddBoolToObject (obj, "ok", false)
        &&  cJSON_AddStringToObject (obj, "error", err))
            text = cJSON_PrintUnformatted (obj);
        printf ("%s\n", text ? text : "{\"ok\":false}");
        free (text);
        cJSON_Delete (obj);
        return 2;
    }
    if (help) {
        pl_loadopt_usage ();
        return 0;
    }
    switch (opts.mode) {
        case PL_LMODE_CONNECT: return pl_load_connect (&opts);
        case PL_LMODE_FANOUT:  return pl_load_fanout (&opts);
        case PL_LMODE_RPC:     return pl_load_rpc (&opts);
        case PL_LMODE_BROKER:  return pl_load_broker (&opts);
        case PL_LMODE_WORKER:  return pl_load_worker (&opts);
        case PL_LMODE_STATE:   return pl_load_state (&opts);
        case PL_LMODE_ROLL:    return pl_load_worker (&opts);   /* mode_worker.c */
        case PL_LMODE_RULES:   return pl_load_rules (&opts);
        default:               return 2;
    }
}
