/*  parley-token - mint an HS256 JWT for Parley clients (dev and tests).
 *
 *  parley-token --sub ID [--name NAME] [--ttl SECONDS]
 *  Signs with PARLEY_JWT_SECRET, or the dev default when it is unset.
 */
#include "pl_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    const char *sub = NULL, *name = NULL;
    long ttl = 3600;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--sub") == 0 && i + 1 < argc)
            sub = argv[++i];
        else
        if (strcmp (argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else
        if (strcmp (argv[i], "--ttl") == 0 && i + 1 < argc)
            ttl = strtol (argv[++i], NULL, 10);
        else {
            fprintf (stderr, "usage: parley-token --sub ID [--name NAME] [--ttl SECONDS]\n");
            return 2;
        }
    }
    if (!sub || !*sub) {
        fprintf (stderr, "parley-token: --sub is required\n");
        return 2;
    }
    char *token = pl_jwt_mint (getenv ("PARLEY_JWT_SECRET"), sub, name, ttl);
    if (!token)
        return 1;
    printf ("%s\n", token);
    free (token);
    return 0;
}
