/*  pl_h1_body - the refcounted answer body that pl_h1_respond_shared sends
 *  to many connections without a copy (pl_h1.h). Internals of pl_h1
 *  (pl_h1_int.h).
 */
#include "pl_h1.h"
#include "pl_h1_int.h"

#include <stdlib.h>

pl_h1_body_t *
pl_h1_body_new (char *data, size_t len)
{
    pl_h1_body_t *self = malloc (sizeof *self);
    if (self)
        *self = (pl_h1_body_t) { 1, len, data };
    else
        free (data);
    return self;
}

void
pl_h1_body_unref (pl_h1_body_t **body_p)
{
    pl_h1_body_t *self = *body_p;
    if (self && --self->refs == 0) {
        free (self->data);
        free (self);
    }
    *body_p = NULL;
}

size_t
pl_h1_body_refs (const pl_h1_body_t *body)
{
    return body->refs;
}
