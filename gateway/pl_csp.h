/*  pl_csp - the script-src hash sources of an HTML file's inline scripts,
 *  for its Content-Security-Policy (pl_hud). Pure (no I/O); called while
 *  pl_hud loads, before the gateway loop runs.
 *
 *  The file is scanned as a browser's HTML tokenizer would, as far as it
 *  decides where an inline script's text is: comments (<!-- ... -->,
 *  ending at --> or --!>, or at once for <!--> and <!--->) and other
 *  markup declarations (<!x ...>, <?...>) are skipped; a tag's attribute
 *  values may be quoted ('>' inside quotes does not end the tag); the
 *  text of style, textarea, title, noscript (scripting on), xmp, iframe,
 *  noembed and noframes is skipped up to their end tag; plaintext ends
 *  the scan. A script's text ends at "</script" (any case) followed by
 *  TAB, LF, FF, CR, space, '/' or '>'. A script with a src attribute, an
 *  empty one, or one with no end tag (never run) is not hashed. The text
 *  hashed is what the parser gives the browser: CR LF and CR are LF, a
 *  NUL is U+FFFD (EF BF BD). The script data escaped states are followed:
 *  after a "<!--" in a script, a "<script" starts a part where "</script"
 *  does not end the script (it ends the part), and "-->" ends the escape.
 *  Not followed: scripts in foreign content (<svg><script>), and
 *  character encodings other than UTF-8.
 */
#ifndef PL_CSP_H
#define PL_CSP_H

#include <stdbool.h>
#include <stddef.h>

/* " 'sha256-<base64>'" for each of the first max inline scripts of html
 * (len bytes, NULs included), in order; *found the number of inline
 * scripts seen (may be over max). NULL when memory runs out. Free it. */
char *pl_csp_hashes (const char *html, size_t len, int max, int *found);

void pl_csp_test (bool verbose);

#endif
