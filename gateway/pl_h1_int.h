/*  pl_h1 internals: the pure syntax pieces of pl_h1_syntax.c, which pl_h1.c
 *  reads and answers with and its selftest (pl_h1_test.c) checks. */
#ifndef PL_H1_INT_H
#define PL_H1_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-decode src[0..len) into dst ('+' as a space when plus is set);
 * the length, or -1 for a bad escape or an encoded NUL. */
long pl_h1__decode (const char *src, size_t len, char *dst, bool plus);
/* The methods pl_h1 reads (an http-parser enum http_method). */
bool pl_h1__method_allowed (unsigned method);
/* The reason phrase of a status. */
const char *pl_h1__reason (int status);

#endif
