/*  parley-metrics-check - read Prometheus text (0.0.4) on stdin and check
 *  it with pl_metrics_check_text, the strict checker of base/pl_metrics.
 *  Exit 0 when it passes, 1 with the reason on stderr when it does not, 2
 *  when stdin cannot be read. The e2e suite runs it on what a gateway's
 *  GET /metrics serves (tests/e2e/metrics.test.mjs). */
#include "pl_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX (64 * 1024 * 1024)    /* bytes read at most */

int
main (void)
{
    int rc = 2;
    size_t len = 0, cap = 65536;
    char *text = malloc (cap);
    while (text) {
        size_t n = fread (text + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *grown = cap < S_MAX ? realloc (text, cap * 2) : NULL;
            if (!grown)
                goto cleanup;
            text = grown;
            cap *= 2;
        }
    }
    if (!text || ferror (stdin))
        goto cleanup;
    text[len] = 0;
    const char *why = NULL;
    if (memchr (text, 0, len)) {
        fprintf (stderr, "parley-metrics-check: a NUL byte in the text\n");
        rc = 1;
    }
    else
    if (pl_metrics_check_text (text, &why) != 0) {
        fprintf (stderr, "parley-metrics-check: %s\n", why ? why : "refused");
        rc = 1;
    }
    else
        rc = 0;
cleanup:
    free (text);
    return rc;
}
