/*  pl_hud - the HUD page's static files (clients/hud/, assembled by CMake
 *  into <build>/hud and installed to <datadir>/parley/hud), served by the
 *  gateway at / from memory. Gateway loop only.
 *
 *  Every regular file under the directory (PARLEY_HUD_DIR) is read once,
 *  when the gateway starts; a request never touches the filesystem, so no
 *  path can reach outside the store. Bounded: PL_HUD_FILES_MAX files of at
 *  most PL_HUD_FILE_MAX bytes, PL_HUD_TOTAL_MAX in all, paths of at most
 *  PL_HUD_PATH_MAX bytes whose segments are A-Z a-z 0-9 . _ - and start
 *  with no dot (no dotfiles, no . or ..). Symlinks are never followed
 *  (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), except the directory itself. A file
 *  over a bound, with another name or an extension not in the content-type
 *  table is skipped with one log line. A missing directory is a warning:
 *  the store is empty, and the gateway serves everything else.
 *
 *  Lookups are exact on pl_h1's path (already percent-decoded, NUL
 *  refused): nothing is normalised, so "/a/../b.js" or "/%2e%2e/x" never
 *  matches (no stored name has a dot segment). "/" is "/index.html".
 *
 *  Answers: GET and HEAD; any other method on a stored path is 405 (Allow:
 *  GET, HEAD). A strong ETag (SHA-256 of the bytes) and If-None-Match
 *  (304, no body); Cache-Control: no-cache (revalidate each time);
 *  X-Content-Type-Options: nosniff; Referrer-Policy: no-referrer (the page
 *  takes a token in its URL fragment); and for .html a
 *  Content-Security-Policy whose script-src allows 'self' and the SHA-256
 *  of each inline <script> of that file (pl_csp.h: found as a browser
 *  tokenizes the page), nothing else; every other file a
 *  Content-Security-Policy of default-src 'none'; style-src 'self';
 *  img-src 'self' data: (an .svg opened directly runs no script).
 */
#ifndef PL_HUD_H
#define PL_HUD_H

#include <stdbool.h>
#include <stddef.h>
#include "pl_h1.h"

#define PL_HUD_FILES_MAX   512                 /* files kept                  */
#define PL_HUD_FILE_MAX    (4L << 20)          /* bytes per file              */
#define PL_HUD_TOTAL_MAX   (32L << 20)         /* bytes in all                */
#define PL_HUD_PATH_MAX    255                 /* "/a/b.js", bytes            */
#define PL_HUD_SCRIPTS_MAX 32                  /* inline scripts hashed per html file */

typedef struct _pl_hud_t pl_hud_t;

/* The answer to a request for a stored path. */
typedef struct {
    int status;                     /* 200, 304 or 405                          */
    pl_h1_body_t *body;             /* 200: the file's bytes, borrowed (the
                                       store holds a reference)                 */
    const char *content_type;       /* its Content-Type                         */
    const char *headers;            /* 200 and 304: header lines ("Name: v\r\n")
                                       for pl_h1_add_headers                    */
    const char *allow;              /* 405: the Allow header                    */
} pl_hud_answer_t;

/* Reads every file under dir (non-empty) into a new store. NULL only when
 * memory runs out; a missing or unreadable dir gives an empty store, after
 * a warning. */
pl_hud_t *pl_hud_new (const char *dir);
void pl_hud_destroy (pl_hud_t **self_p);

/* Files in the store. */
size_t pl_hud_count (pl_hud_t *self);

/* The answer to method on path (pl_h1's path; the query is not part of
 * it), if_none_match the request's If-None-Match (or NULL). False when
 * path is not stored: not the HUD's. */
bool pl_hud_answer (pl_hud_t *self, const char *method, const char *path,
                    const char *if_none_match, pl_hud_answer_t *answer);

void pl_hud_test (bool verbose);

#endif
