/*  pl_h1_syntax - the pure HTTP pieces pl_h1 reads and answers with:
 *  percent-decoding a request target, the methods it serves, the reason
 *  phrase of a status. Internals of pl_h1 (pl_h1_int.h), checked by its
 *  selftest (pl_h1_test.c).
 */
#include "pl_h1_int.h"

#include <http_parser.h>
#include <string.h>

static int
s_hex (char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decode src[0..len) into dst, '+' as a space when plus is set.
 * Returns the length, or -1 for a bad escape or an encoded NUL (which
 * would cut the string: refused, never truncated). */
long
pl_h1__decode (const char *src, size_t len, char *dst, bool plus)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = s_hex (src[i + 1]), lo = s_hex (src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            ch = (char) (hi << 4 | lo);
            i += 2;
        }
        else
        if (ch == '+' && plus)
            ch = ' ';
        dst[n++] = ch;
    }
    dst[n] = '\0';
    return (long) n;
}

bool
pl_h1__method_allowed (unsigned method)
{
    switch (method) {
        case HTTP_GET: case HTTP_HEAD: case HTTP_POST: case HTTP_PUT:
        case HTTP_PATCH: case HTTP_DELETE: case HTTP_OPTIONS:
            return true;
        default:
            return false;
    }
}

const char *
pl_h1__reason (int status)
{
    switch (status) {
        case 408: return "Request Timeout";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 422: return "Unprocessable Content";
        case 431: return "Request Header Fields Too Large";
        default: {
            const char *s = http_status_str ((enum http_status) status);
            return s && strcmp (s, "<unknown>") != 0 ? s : "Status";
        }
    }
}
