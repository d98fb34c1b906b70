/*  pl_h1 internals: the pure syntax pieces of pl_h1_syntax.c, which pl_h1.c
 *  reads and answers with and its selftest (pl_h1_test.c) checks; and the
 *  shared refcounted body of pl_h1_body.c, which pl_h1.c writes out. */
#ifndef PL_H1_INT_H
#define PL_H1_INT_H

#include <stdbool.h>
#include <stddef.h>

/* A shared answer body (pl_h1_body_new): data, len, and its references. */
struct _pl_h1_body_t {
    size_t refs;
    size_t len;
    char *data;
};

/* Percent-decode src[0..len) into dst ('+' as a space when plus is set);
 * the length, or -1 for a bad escape or an encoded NUL. */
long pl_h1__decode (const char *src, size_t len, char *dst, bool plus);
/* The methods pl_h1 reads (an http-parser enum http_method). */
bool pl_h1__method_allowed (unsigned method);
/* The reason phrase of a status. */
const char *pl_h1__reason (int status);

#endif
