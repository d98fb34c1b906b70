/*  pl_ctlc_int.h - what pl_ctlc's files share (pl_ctlc.c, the session;
 *  pl_ctlc_addr.c, the address). Not for users of pl_ctlc.h.
 */
#ifndef PL_CTLC_INT_H
#define PL_CTLC_INT_H

#include <stddef.h>

typedef struct {
    char host[256];                 /* from the url, without brackets         */
    int port;                       /* from the url (80 when absent)          */
    char url[PL_CTLC_URL_MAX + 16]; /* http://host:port, for messages         */
} pl_ctlc__addr_t;

/* Parse url (pl_ctlc_new's rules) into *addr. 0, or -1 with *why (static). */
int pl_ctlc__parse_url (pl_ctlc__addr_t *addr, const char *url, const char **why);

/* Why a connect to addr fails, as the system says it, into out ("" when
 * it does not fail or says nothing); waits at most timeout_ms. */
void pl_ctlc__connect_errno (const pl_ctlc__addr_t *addr, long timeout_ms, char *out,
                             size_t size);

#endif
