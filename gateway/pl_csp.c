/*  pl_csp - the hash sources of an HTML file's inline scripts (pl_csp.h).
 *  Pure; called while pl_hud loads.
 */
#include "pl_csp.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SOURCE_MAX 64             /* " 'sha256-<44 base64>'" and its NUL      */

/* The elements whose text the tokenizer does not read as markup (RAWTEXT
 * and RCDATA); plaintext is handled apart (it never ends). */
static const char *s_raw[] = {
    "style", "textarea", "title", "noscript", "xmp", "iframe", "noembed", "noframes",
};

static bool
s_ws (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Is [p, end) exactly word (lower case), ignoring ASCII case? */
static bool
s_is (const char *p, const char *end, const char *word)
{
    size_t n = strlen (word);
    bool same = (size_t) (end - p) == n;
    for (size_t i = 0; same && i < n; i++)
        same = (p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]) == word[i];
    return same;
}

/* Does [p, end) start with "<name" (close: "</name"), any case, followed
 * by whitespace, '/' or '>'? */
static bool
s_tag_at (const char *p, const char *end, const char *name, bool close)
{
    size_t skip = close ? 2 : 1, n = strlen (name);
    const char *after = p + skip + n;
    return after < end && p[0] == '<' && (!close || p[1] == '/')
        && s_is (p + skip, after, name) && (s_ws (*after) || *after == '/' || *after == '>');
}

/* Where in [p, end) the end tag of the raw text element name begins, or
 * end when there is none. */
static const char *
s_raw_end (const char *p, const char *end, const char *name)
{
    const char *found = end;
    for (const char *lt; found == end && (lt = memchr (p, '<', (size_t) (end - p))) != NULL;
         p = lt + 1)
        if (s_tag_at (lt, end, name, true))
            found = lt;
    return found;
}

/* Where in [p, end) a script's end tag begins (or end), through the
 * tokenizer's script data states: after "<!--" (escaped) a "<script"
 * starts a part (double escaped) where "</script" does not end it but
 * goes back to escaped; "-->" goes back to plain script data. */
static const char *
s_script_end (const char *p, const char *end)
{
    enum { S_DATA, S_ESCAPED, S_DOUBLE } state = S_DATA;
    int dashes = 0;                         /* '-' in a row, escaped states */
    const char *found = end;
    for (; found == end && p < end; p++) {
        if (*p == '-') {
            dashes++;
            continue;
        }
        if (*p == '>' && dashes >= 2)
            state = S_DATA;
        dashes = 0;
        if (*p != '<')
            continue;
        if (state != S_DOUBLE && s_tag_at (p, end, "script", true))
            found = p;
        else
        if (state == S_DATA && end - p >= 4 && memcmp (p, "<!--", 4) == 0) {
            state = S_ESCAPED;
            dashes = 2;                     /* "<!-->" goes back at once */
            p += 3;
        }
        else
        if (state == S_ESCAPED && s_tag_at (p, end, "script", false)) {
            state = S_DOUBLE;
            p += 7;                         /* past its whitespace, '/' or '>' */
        }
        else
        if (state == S_DOUBLE && s_tag_at (p, end, "script", true)) {
            state = S_ESCAPED;
            p += 8;
        }
    }
    return found;
}

/* The end of a comment whose "<!" is at p - 1: after its --> or --!>
 * (<!--> and <!---> end at once), or end. */
static const char *
s_comment_end (const char *p, const char *end)
{
    const char *q = p + 3;                  /* the first '>' that can end it */
    const char *found = end;
    for (; found == end && q < end; q++)
        if (*q == '>' && ((q[-1] == '-' && q[-2] == '-')
                      ||  (q - 3 >= p + 3 && q[-1] == '!' && q[-2] == '-' && q[-3] == '-')))
            found = q + 1;
    return found;
}

/* A tag's attributes from p up to its '>': the position after it (or
 * end). Quoted values are skipped whole; *src: a src attribute seen. */
static const char *
s_attrs (const char *p, const char *end, bool *src)
{
    const char *found = end;
    *src = false;
    while (found == end && p < end) {
        while (p < end && (s_ws (*p) || *p == '/'))
            p++;
        if (p < end && *p == '>') {
            found = p + 1;
            break;
        }
        const char *name = p;
        if (p < end)
            p++;                            /* a first '=' is part of the name */
        while (p < end && !s_ws (*p) && *p != '/' && *p != '>' && *p != '=')
            p++;
        if (s_is (name, p, "src"))
            *src = true;
        const char *q = p;
        while (q < end && s_ws (*q))
            q++;
        if (q < end && *q == '=') {
            for (p = q + 1; p < end && s_ws (*p); p++)
                ;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *close = memchr (p + 1, *p, (size_t) (end - p - 1));
                p = close ? close + 1 : end;
            }
            else
                while (p < end && !s_ws (*p) && *p != '>')
                    p++;
        }
        else
            p = q;
    }
    return found;
}

/* Append " 'sha256-<base64>'" of a script's text (CR LF and CR as LF, NUL
 * as U+FFFD, as the parser gives it) at out (S_SOURCE_MAX bytes free). */
static int
s_hash (const char *text, size_t len, char *out)
{
    int rc = -1;
    unsigned char digest[EVP_MAX_MD_SIZE], b64[48];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    if (!ctx || EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1)
        goto cleanup;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\r' && *q != '\0')
            q++;
        if (EVP_DigestUpdate (ctx, p, (size_t) (q - p)) != 1)
            goto cleanup;
        if (q == end)
            break;
        if (*q == '\0' ? EVP_DigestUpdate (ctx, "\xef\xbf\xbd", 3) != 1
                       : EVP_DigestUpdate (ctx, "\n", 1) != 1)
            goto cleanup;
        p = *q == '\r' && q + 1 < end && q[1] == '\n' ? q + 2 : q + 1;
    }
    if (EVP_DigestFinal_ex (ctx, digest, &dlen) != 1 || dlen != 32)
        goto cleanup;
    EVP_EncodeBlock (b64, digest, (int) dlen);
    snprintf (out, S_SOURCE_MAX, " 'sha256-%s'", b64);
    rc = 0;
cleanup:
    EVP_MD_CTX_free (ctx);
    return rc;
}

char *
pl_csp_hashes (const char *html, size_t len, int max, int *found)
{
    assert (html && max >= 0 && found);
    char *out = calloc ((size_t) max + 1, S_SOURCE_MAX), *result = NULL;
    size_t used = 0;
    const char *p = html, *end = html + len, *lt;
    *found = 0;
    if (!out)
        goto cleanup;
    while ((lt = memchr (p, '<', (size_t) (end - p))) != NULL) {
        p = lt + 1;
        if (p < end && (*p == '!' || *p == '?')) {
            if (end - p >= 3 && p[1] == '-' && p[2] == '-' && *p == '!')
                p = s_comment_end (p, end);
            else {                          /* <!DOCTYPE ...>, a bogus comment */
                const char *gt = memchr (p, '>', (size_t) (end - p));
                p = gt ? gt + 1 : end;
            }
            continue;
        }
        bool closing = p < end && *p == '/', src;
        if (closing)
            p++;
        if (!(p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))))
            continue;                       /* text (or "</>": nothing) */
        const char *name = p;
        while (p < end && !s_ws (*p) && *p != '/' && *p != '>')
            p++;
        const char *name_end = p;
        p = s_attrs (p, end, &src);
        if (closing)
            continue;
        if (s_is (name, name_end, "plaintext"))
            break;
        if (s_is (name, name_end, "script")) {
            const char *close = s_script_end (p, end);
            if (close < end && close > p && !src && (*found)++ < max) {
                if (s_hash (p, (size_t) (close - p), out + used) != 0)
                    goto cleanup;
                used += strlen (out + used);
            }
            p = close;
            continue;
        }
        for (size_t i = 0; i < sizeof s_raw / sizeof s_raw[0]; i++)
            if (s_is (name, name_end, s_raw[i]))
                p = s_raw_end (p, end, s_raw[i]);
    }
    result = out;
    out = NULL;
cleanup:
    free (out);
    return result;
}

/* ---- selftest ----------------------------------------------------------- */

void
pl_csp_test (bool verbose)
{
    if (verbose)
        printf (" * pl_csp: ");
    /* each expected source: printf 'TEXT' | openssl dgst -sha256 -binary | base64 */
#define S_A "'sha256-qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4='"   /* a() */
#define S_B "'sha256-cf242PFc/kb7xD0Qzhsmd9vvRkc+cWFmbi+k+YvtdKc='"   /* b() */
#define S_C "'sha256-uv6BXxguRKhBqgeOtcyTvppA2Vttceh37dUo7xwS8Ug='"   /* c() */
#define S_D "'sha256-vZ4uxwQ1ezxWd2csyz0eP0vzKrLpz82ooi6npjua8OE='"   /* d("</scriptx>") */
#define S_E "'sha256-4Lckkve2ZMRYcE8NNaSbrWOmr8JA+SzSGlOMC2d4VmM='"   /* e("\xef\xbf\xbd") */
#define S_I "'sha256-qp+gAIF9xcAy8m+VMJNqhiqW6BW4E+4KowHZL76INDM='"   /* i() */
#define S_K "'sha256-jJehzYCHCqT3JxkB8j1L6rA1gk4YaOT2emIMLcLyZ7s='"   /* k()\n */
    /* script data escaped and double escaped: the text hashed, in turn */
#define S_X1 "'sha256-sCdeu8iP6mpH8Fs3SfdDTpfMIBkm0YoW4IiedaQcV40='"  /* the first case's text */
#define S_X2 "'sha256-06wl3ce6l3nAVW1UPkmU0Vjhalo1k0ehMh3SNvGvC2c='"  /* <!-- */
#define S_X3 "'sha256-YqWvCvUq2XVEEH1Xwa+1BC38A+XSedTpMSCxo6XF82k='"  /* <!--<script></script>--> */
#define S_X4 "'sha256-r1pa651I+f7V2YJIB74hRJdzRCLu4Lb8wlCH+VX0Sis='"  /* <!--<script>--> */
#define S_X5 "'sha256-s9lrY5sdR1nHZhzJP/K3V8y2/wZkd7TvmFz2lsBhZ78='"  /* <!--><script> */
#define S_X6 "'sha256-1C5qcimZg0lzGSTdmxWsVTCI8H1bE/y5H3nRJRkC5mI='"  /* <!--<SCRIPT/></script x> */
    static const struct {
        const char *html;
        size_t len;                 /* 0: strlen (html) */
        int found;
        const char *want;
    } cases[] = {
        /* a comment naming <script does not open one */
        { "<!-- the <script type=\"importmap\"> must come first --><script>a()</script>", 0, 1, " " S_A },
        { "<!--><script>a()</script>", 0, 1, " " S_A },                       /* ends at once */
        { "<!---><script>a()</script>", 0, 1, " " S_A },
        { "<!-- x --!><script>a()</script>", 0, 1, " " S_A },
        { "<!--!><script>x()</script> --><script>a()</script>", 0, 1, " " S_A },
        { "<!-- <script>x()</script>", 0, 0, "" },                            /* never ends */
        { "<!doctype html><?x <script>?><script>a()</script>", 0, 1, " " S_A },
        /* raw text and RCDATA: their <script is text */
        { "<style>/* <script> */</style ><textarea><script></textarea><title><script></title>"
          "<noscript><script>x()</script></noscript><xmp><script></xmp><iframe><script></iframe>"
          "<noembed><script></noembed><noframes><script></noframes><STYLE></styles><script></STYLE>"
          "<script>b()</script>", 0, 1, " " S_B },
        { "<plaintext></plaintext><script>x()</script>", 0, 0, "" },
        /* '>' in a quoted attribute value; an unquoted one; a quote in a name */
        { "<script data-x=\"a>b\" y = 'c>d' z=e\"f>c()</script>", 0, 1, " " S_C },
        { "<p title='<script>'><script\n>c()</script>", 0, 1, " " S_C },
        /* the end tag: "</script" then whitespace, '/' or '>' */
        { "<script>d(\"</scriptx>\")</SCRIPT\t>", 0, 1, " " S_D },
        { "<script>d(\"</scriptx>\")</script/>", 0, 1, " " S_D },
        { "<script>x()</script", 0, 0, "" },                                  /* no end tag */
        /* NUL is U+FFFD; CR LF and CR are LF */
        { "<script>e(\"\0\")</script>", 23, 1, " " S_E },
        { "<script>k()\r\n</script><script>k()\r</script>", 0, 2, " " S_K " " S_K },
        /* not inline, empty, or not a script element */
        { "<script src=\"x.js\">x()</script><script SRC></script><script></script>"
          "<scripts>i()</scripts><script>i()</script>", 0, 1, " " S_I },
        { "</script><script>i()</script>", 0, 1, " " S_I },
        /* "<!--" then "<script": "</script" goes back, "-->" ends the escape */
        { "<script>/*<!--<script>*/ r(\"x </script> y\"); /*-->*/</script>", 0, 1, " " S_X1 },
        { "<script><!--</script><script><!--<script></script>--></script>", 0, 2, " " S_X2 " " S_X3 },
        { "<script><!--<script>--></script><script><!--><script></script>", 0, 2, " " S_X4 " " S_X5 },
        { "<script><!--<SCRIPT/></script x></script>", 0, 1, " " S_X6 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int found = -1;
        size_t len = cases[i].len ? cases[i].len : strlen (cases[i].html);
        char *got = pl_csp_hashes (cases[i].html, len, 8, &found);
        if (!got || found != cases[i].found || strcmp (got, cases[i].want) != 0)
            printf ("\ncase %zu: found %d, got \"%s\"\n", i, found, got ? got : "(null)");
        assert (got && found == cases[i].found && strcmp (got, cases[i].want) == 0);
        free (got);
    }
    /* the first max only */
    int found = 0;
    char *got = pl_csp_hashes ("<script>a()</script><script>b()</script><script>c()</script>",
                               60, 2, &found);
    assert (got && found == 3 && strcmp (got, " " S_A " " S_B) == 0);
    free (got);
    if (verbose)
        printf ("OK\n");
}
