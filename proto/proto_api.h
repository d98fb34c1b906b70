/*  proto_api - the generated client types and API documents of
 *  parley-proto-doc (proto/proto_api.c): a part of that tool, not of the
 *  proto library.
 */
#ifndef PROTO_API_H
#define PROTO_API_H

#include <stdio.h>

/* Checks proto/types.def against events.def: a row for every public event
 * and push, every type parses, every name is a PL_TYPE, every room kind a
 * PL_ROOM. Returns 0, or -1 with the problems on stderr. Call it first. */
int proto_api_check (void);

void proto_api_dts (FILE *out);         /* clients/js/parley-events.d.ts */
void proto_api_asyncapi (FILE *out);    /* docs/asyncapi.yaml            */
void proto_api_openapi (FILE *out);     /* docs/openapi.yaml             */

#endif
