/*  pl_rule_expr_test - the selftest of pl_rule_expr: precedence, every
 *  operator, type mismatches, missing paths, contains on arrays and
 *  strings, escapes, the bounds (length, nodes, depth, equality depth,
 *  steps), refusals with their 1-based positions, a NUL anywhere, and the
 *  paths an expression reads. Also the usage example.
 */
#include "pl_rule_expr.h"
#include "pl_corpus.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_doc_text =
    "{\"hp\":0,\"max\":10,\"name\":\"Bob\",\"conditions\":[\"prone\",{\"x\":1},[1,2]],"
    "\"system\":{\"attributes\":{\"hp\":{\"value\":7}}},"
    "\"tokens\":[{\"x\":3,\"y\":4},{\"x\":5}],\"byIndex\":{\"0\":\"zero\",\"01\":\"one\"},"
    "\"a\":[1,[2,{\"x\":3,\"y\":[]}]],\"b\":[1,[2,{\"y\":[],\"x\":3}]],\"c\":[[2,{\"x\":3}],1],"
    "\"o1\":{\"k\":1,\"l\":2},\"o2\":{\"l\":2,\"k\":1},\"dup1\":{\"a\":1,\"a\":1},\"dup2\":{\"a\":1,\"b\":2},"
    "\"flags\":{\"not\":true,\"_x9\":false},\"empty\":\"\",\"nil\":null,\"yes\":true,"
    "\"quote\":\"a\\\"b\",\"e\":\"\\u00e9\",\"smile\":\"\\ud83d\\ude00\"}";

static cJSON *s_doc;

/* expr parses and evaluates to want (1, 0 or -1) on doc */
static void
s_eval_on (const char *expr, const cJSON *doc, int want)
{
    char err[128];
    pl_rule_expr_t *e = pl_rule_expr_new (expr, strlen (expr), err, sizeof err);
    if (!e)
        fprintf (stderr, "pl_rule_expr: \"%s\" refused: %s\n", expr, err);
    assert (e);
    int got = pl_rule_expr_eval (e, doc);
    if (got != want)
        fprintf (stderr, "pl_rule_expr: \"%s\" -> %d, want %d\n", expr, got, want);
    assert (got == want);
    pl_rule_expr_destroy (&e);
    assert (e == NULL);
}

static void
s_yes (const char *expr)
{
    s_eval_on (expr, s_doc, 1);
}

static void
s_no_ (const char *expr)
{
    s_eval_on (expr, s_doc, 0);
}

/* len bytes of src are refused with a message that contains want */
static void
s_bad (const char *src, size_t len, const char *want)
{
    char err[128];
    pl_rule_expr_t *e = pl_rule_expr_new (src, len, err, sizeof err);
    if (e || !strstr (err, want))
        fprintf (stderr, "pl_rule_expr: \"%.*s\" -> \"%s\", want \"%s\"\n", (int) len, src,
                 e ? "(parsed)" : err, want);
    assert (!e && strstr (err, want));
}

static void
s_refuse (const char *src, const char *want)
{
    s_bad (src, strlen (src), want);
}

static void
s_precedence (void)
{
    s_yes ("1 + 2 * 3 == 7");
    s_yes ("(1 + 2) * 3 == 9");
    s_yes ("10 - 2 - 3 == 5");              /* left to right */
    s_yes ("12 / 3 / 2 == 2");
    s_yes ("2 * 3 % 4 == 2");               /* (2*3)%4, not 2*(3%4)=6 */
    s_yes ("-2 * 3 == -6");
    s_yes ("- -3 == 3");
    s_yes ("-(1 + 2) == -3");
    s_yes ("1 + 2 < 4");                    /* + before comparison */
    s_yes ("not 1 == 2");                   /* not (1 == 2) */
    s_yes ("not not true");
    s_yes ("true or false and false");      /* and before or */
    s_no_ ("(true or false) and false");
    s_yes ("not false and true");           /* (not false) and true */
    s_no_ ("not (false or true)");
    s_yes ("not false or false");
    s_yes ("1 + 1 == 2 and 2 * 2 == 4 or false");
    s_yes ("hp <= 0 and not (conditions contains \"unconscious\")");
}

static void
s_operators (void)
{
    /* numbers */
    s_yes ("3 == 3.0");
    s_yes ("1e3 == 1000");
    s_yes ("2.5E-1 == 0.25");
    s_yes ("0.5 * 4 == 2");
    s_yes ("7 % 3 == 1");
    s_yes ("-7 % 3 == -1");                 /* fmod: the sign of the dividend */
    s_yes ("7.5 % 2 == 1.5");
    s_yes ("1 / 4 == 0.25");
    s_yes ("3 != 4");
    s_no_ ("3 != 3");
    s_yes ("3 < 4");  s_no_ ("4 < 4");
    s_yes ("4 <= 4"); s_no_ ("5 <= 4");
    s_yes ("5 > 4");  s_no_ ("4 > 4");
    s_yes ("4 >= 4"); s_no_ ("3 >= 4");
    /* strings: bytewise */
    s_yes ("\"abc\" == \"abc\"");
    s_yes ("\"abc\" != \"abd\"");
    s_yes ("\"B\" < \"a\"");
    s_yes ("\"ab\" < \"abc\"");
    s_yes ("\"abc\" >= \"ab\"");
    s_yes ("\"\\u00e9\" > \"z\"");          /* 0xC3 > 'z' */
    s_yes ("name == \"Bob\"");
    s_yes ("name >= \"Bob\" and name <= \"Bob\"");
    /* booleans and null */
    s_yes ("true == true");
    s_yes ("true != false");
    s_yes ("null == null");
    s_yes ("yes");
    s_yes ("yes == true");
    s_no_ ("true < true");                  /* no order but numbers and strings */
    /* paths */
    s_yes ("system.attributes.hp.value == 7");
    s_yes ("system.attributes.hp.value + hp * 2 == 7");
    s_yes ("tokens.0.x == 3 and tokens.1.x == 5 and tokens.0.y == 4");
    s_yes ("byIndex.0 == \"zero\"");        /* a digit key of an object */
    s_yes ("byIndex.01 == \"one\"");
    s_yes ("flags.not == true");            /* a keyword after a dot is a key */
    s_yes ("flags._x9 == false");
    s_yes ("max - hp == 10");
    /* deep equality */
    s_yes ("a == b");                       /* members in any order */
    s_no_ ("a == c");                       /* elements in order */
    s_yes ("o1 == o2");
    s_no_ ("o1 != o2");
    s_no_ ("dup1 == dup2");                 /* one way alone would say equal */
    s_no_ ("dup2 == dup1");
    s_yes ("a != c");
    s_no_ ("a == o1");
    s_yes ("conditions == conditions");
    /* contains: arrays (deep), strings (substring) */
    s_yes ("conditions contains \"prone\"");
    s_no_ ("conditions contains \"unconscious\"");
    s_yes ("conditions contains tokens.0.x - 2 + 0 * 0 or conditions contains \"prone\"");
    s_yes ("a contains 1");
    s_yes ("c contains 1 and not (c contains 2)");
    s_yes ("b contains a.1");               /* an array element that is an array */
    s_yes ("conditions contains conditions.1");
    s_yes ("name contains \"o\"");
    s_yes ("name contains \"Bob\"");
    s_yes ("name contains \"\"");
    s_no_ ("name contains \"bob\"");        /* case-sensitive */
    s_no_ ("name contains \"Bobby\"");
    s_no_ ("empty contains \"x\"");
    s_yes ("empty contains \"\"");
    s_no_ ("name contains 1");
    s_no_ ("5 contains 5");
    s_no_ ("o1 contains 1");                /* an object contains nothing */
    s_no_ ("nothing contains null");
    /* escapes */
    s_yes ("quote == \"a\\\"b\"");
    s_yes ("e == \"\\u00E9\"");
    s_yes ("e == \"\xC3\xA9\"");            /* raw UTF-8 in a string */
    s_yes ("smile == \"\\uD83D\\uDE00\"");
    s_yes ("\"\\\\\\/\\b\\f\\n\\r\\t\" == \"\\\\/\\u0008\\u000c\\u000A\\u000d\\u0009\"");
    /* whitespace, keywords are case-sensitive */
    s_yes ("\thp\r\n==\n0 ");
    s_yes ("TRUE == null");                 /* a path, not the keyword */
    s_yes ("android == null and orange == null and notes == null");
}

static void
s_mismatches (void)
{
    /* different types are never equal, never ordered */
    s_no_ ("\"5\" == 5");
    s_yes ("\"5\" != 5");
    s_no_ ("true == 1");
    s_no_ ("null == 0");
    s_no_ ("\"a\" < 1");
    s_no_ ("\"a\" >= 1");
    s_no_ ("null < 1");
    s_no_ ("a < b");
    /* arithmetic on non-numbers, by zero, or overflowing: no value, so
     * every comparison with it is false, != too */
    s_no_ ("name + 1 > 0");
    s_no_ ("name + 1 < 0");
    s_no_ ("name + 1 == 0");
    s_no_ ("name + 1 != 0");
    s_no_ ("-name == 0");
    s_no_ ("-name != 0");
    s_no_ ("1 / 0 == 1 / 0");
    s_no_ ("1 / 0 != 0");
    s_no_ ("1 % 0 != 0");
    s_no_ ("0 / 0 != 1");
    s_no_ ("1e308 * 10 > 0");
    s_no_ ("1e308 * 10 != 0");
    s_no_ ("true + 1 == 2");
    s_no_ ("nothing + 1 == 1");
    s_no_ ("conditions contains name + 1");
    s_yes ("not (name + 1 == 0)");
    /* non-booleans count as false */
    s_no_ ("hp");
    s_no_ ("name");
    s_no_ ("1");
    s_no_ ("nil");
    s_no_ ("hp + 1");
    s_yes ("not hp");
    s_yes ("not nothing");
    s_no_ ("name and true");
    s_yes ("hp or true");
}

static void
s_missing (void)
{
    s_yes ("nothing == null");
    s_yes ("nothing.deep.path == null");
    s_yes ("hp.value == null");             /* through a number */
    s_yes ("name.0 == null");               /* through a string */
    s_yes ("tokens.2.x == null");           /* past the end */
    s_yes ("tokens.01.x == null");          /* not a canonical index */
    s_yes ("tokens.x == null");             /* a name on an array */
    s_yes ("tokens.99999999999999999999 == null");
    s_yes ("nil.x == null");
    s_no_ ("nothing == 0");
    s_no_ ("nothing > 0 or nothing < 0");
    /* no document: every path is null */
    s_eval_on ("x == null and not x", NULL, 1);
    s_eval_on ("x.y.0 == null", NULL, 1);
    /* the document need not be an object */
    cJSON *arr = cJSON_Parse ("[10, 20]");
    s_eval_on ("x == null", arr, 1);
    cJSON_Delete (arr);
}

static void
s_refusals (void)
{
    s_bad ("", 0, "position 1: the expression is empty");
    s_bad (NULL, 0, "position 1: the expression is empty");
    s_refuse ("  \t", "position 4: the expression is empty");
    s_refuse ("hp <=", "position 6: expected a value, found the end");
    s_refuse ("hp = 0", "position 4: a single '=' is not an operator");
    s_refuse ("!hp", "position 1: '!' is not an operator");
    s_refuse ("hp == 0 and", "position 12: expected a value, found the end");
    s_refuse ("hp == 0 and and", "position 13: expected a value");
    s_refuse ("(hp == 0", "position 9: expected ')' to close the '(' at position 1");
    s_refuse ("((hp == 0) or x", "position 16: expected ')' to close the '(' at position 1");
    s_refuse ("hp == 0)", "position 8: ')' without a matching '('");
    s_refuse ("()", "position 2: expected a value");
    s_refuse ("1 < 2 < 3", "position 7: comparisons do not chain");
    s_refuse ("1 == 1 contains 1", "position 8: comparisons do not chain");
    s_refuse ("hp @ 3", "position 4: unexpected character '@'");
    s_refuse ("hp == 0 \xFF", "position 9: unexpected byte 0xFF");
    s_refuse ("hp == 0\x01", "position 8: unexpected byte 0x01");
    s_refuse ("a. b", "position 3: expected a field name or an index after '.'");
    s_refuse ("a.", "position 3: expected a field name or an index after '.'");
    s_refuse ("a..b", "position 3: expected a field name");
    s_refuse ("a.-1", "position 3: expected a field name");
    s_refuse (".a", "position 1: unexpected character '.'");
    s_refuse ("0.x == 1", "position 3: expected a digit after the decimal point");
    s_refuse ("1. == 1", "position 3: expected a digit after the decimal point");
    s_refuse ("1e+ == 1", "position 4: expected a digit in the exponent");
    s_refuse ("1e999 > 0", "position 1: the number is out of range");
    s_refuse ("hp 3", "position 4: expected an operator or the end");
    s_refuse ("hp == 0 AND x", "position 9: expected an operator or the end");
    s_refuse ("3abc", "position 2: expected an operator or the end");
    s_refuse ("true.x", "position 5: unexpected character '.'");
    s_refuse ("x == \"abc", "position 6: unterminated string");
    s_refuse ("x == \"abc\\", "position 6: unterminated string");
    s_refuse ("x == \"a\\qb\"", "position 8: unknown escape '\\q'");
    s_refuse ("x == \"a\\\x01\"", "position 8: unknown escape (byte 0x01");
    s_refuse ("x == \"\\u12\"", "position 7: \\u needs four hex digits");
    s_refuse ("x == \"\\u12g4\"", "position 7: \\u needs four hex digits");
    s_refuse ("x == \"\\ud800\"", "position 7: a high surrogate");
    s_refuse ("x == \"\\ud800\\u0041\"", "position 7: a high surrogate");
    s_refuse ("x == \"\\udc00\"", "position 7: a lone low surrogate");
    s_refuse ("x == \"\\u0000\"", "position 7: a NUL (\\u0000) is not allowed");
    s_refuse ("x == \"a\tb\"", "position 8: a control character in a string");
    s_refuse ("x == \"a\nb\"", "position 8: a control character in a string");
    s_refuse ("not", "position 4: expected a value, found the end");
    s_refuse ("-", "position 2: expected a value, found the end");
    s_refuse ("contains", "position 1: expected a value");
    s_refuse ("x ==== y", "position 5: expected a value");
    s_refuse ("x === y", "position 5: a single '='");
    s_refuse ("hp <> 0", "position 5: expected a value");
    s_refuse ("x => 1", "position 3: a single '='");
    s_refuse ("x ! = 1", "position 3: '!' is not an operator");
}

/* A NUL is a byte like any other: refused where it stands, never a cut. */
static void
s_nul (void)
{
    s_bad ("hp == 0\0 and x", 14, "position 8: a NUL byte is not allowed");
    s_bad ("\0", 1, "position 1: a NUL byte is not allowed");
    s_bad ("x == \"a\0b\"", 10, "position 8: a NUL byte is not allowed");
    s_bad ("x == \"a\\\0b\"", 11, "position 9: a NUL byte is not allowed");
    s_bad ("x == 1 \0", 8, "position 8: a NUL byte is not allowed");
    s_bad ("hp\0", 3, "position 3: a NUL byte is not allowed");
    /* text after the length is not read */
    char err[64];
    pl_rule_expr_t *e = pl_rule_expr_new ("hp == 0 garbage", 7, err, sizeof err);
    assert (e && pl_rule_expr_eval (e, s_doc) == 1);
    pl_rule_expr_destroy (&e);
}

/* A balanced tree of leaves (`x`, or p0, p1, ... when distinct), joined
 * by '*': 2 * leaves - 1 nodes. */
static int s_leaf;

static void
s_balanced (char *buf, int leaves, bool top, bool distinct)
{
    if (leaves == 1) {
        if (distinct)
            sprintf (buf + strlen (buf), "p%d", s_leaf++);
        else
            strcat (buf, "x");
        return;
    }
    if (!top)
        strcat (buf, "(");
    s_balanced (buf, leaves / 2, false, distinct);
    strcat (buf, "*");
    s_balanced (buf, leaves - leaves / 2, false, distinct);
    if (!top)
        strcat (buf, ")");
}

static void
s_bounds (void)
{
    char err[128];
    static char buf[4 * PL_RULE_EXPR_MAX_LEN];

    /* length: 1000 bytes parse, 1001 do not */
    memset (buf, ' ', PL_RULE_EXPR_MAX_LEN + 1);
    memcpy (buf, "1 == 1", 6);
    pl_rule_expr_t *e = pl_rule_expr_new (buf, PL_RULE_EXPR_MAX_LEN, err, sizeof err);
    assert (e && pl_rule_expr_eval (e, NULL) == 1);
    pl_rule_expr_destroy (&e);
    s_bad (buf, PL_RULE_EXPR_MAX_LEN + 1, "position 1001: the expression is longer than 1000 bytes");

    /* nodes: 128 leaves make 255 nodes, 129 make 257 */
    buf[0] = 0;
    s_balanced (buf, 128, true, false);
    strcat (buf, " == null");               /* 257 nodes: one too many */
    s_bad (buf, strlen (buf), "more than 256 nodes");
    buf[strlen (buf) - 8] = 0;
    assert (strlen (buf) <= PL_RULE_EXPR_MAX_LEN);
    e = pl_rule_expr_new (buf, strlen (buf), err, sizeof err);
    assert (e && pl_rule_expr_eval (e, s_doc) == 0);
    pl_rule_expr_destroy (&e);
    buf[0] = 0;
    s_balanced (buf, 129, true, false);
    s_bad (buf, strlen (buf), "more than 256 nodes");
    /* the same with distinct paths */
    buf[0] = 0;
    s_leaf = 0;
    s_balanced (buf, 128, true, true);
    e = pl_rule_expr_new (buf, strlen (buf), err, sizeof err);
    assert (e && pl_rule_expr_path (e, 127) && !pl_rule_expr_path (e, 128));
    assert (strcmp (pl_rule_expr_path (e, 127), "p127") == 0);
    pl_rule_expr_destroy (&e);
    buf[0] = 0;
    s_leaf = 0;
    s_balanced (buf, 129, true, true);
    s_bad (buf, strlen (buf), "more than 256 nodes");

    /* tree depth: a chain of 32 operands is 32 levels, 33 are too many */
    buf[0] = 0;
    for (int i = 0; i < 32; i++)
        strcat (buf, i ? "+1" : "1");
    strcat (buf, " > 0");                   /* the comparison: level 33 */
    s_bad (buf, strlen (buf), "position 65: the expression is more than 32 levels deep");
    buf[strlen (buf) - 4] = 0;
    e = pl_rule_expr_new (buf, strlen (buf), err, sizeof err);
    assert (e && pl_rule_expr_eval (e, NULL) == 0);     /* a number: false */
    pl_rule_expr_destroy (&e);
    /* parenthesised halves balance a long chain */
    buf[0] = 0;
    strcat (buf, "(");
    for (int i = 0; i < 30; i++)
        strcat (buf, i ? " and true" : "true");
    strcat (buf, ") and (");
    for (int i = 0; i < 30; i++)
        strcat (buf, i ? " and true" : "true");
    strcat (buf, ")");
    e = pl_rule_expr_new (buf, strlen (buf), err, sizeof err);
    assert (e && pl_rule_expr_eval (e, NULL) == 1);
    pl_rule_expr_destroy (&e);

    /* nesting: 32 parentheses parse, 33 do not (at the 33rd) */
    memset (buf, '(', 32);
    strcpy (buf + 32, "true");
    memset (buf + 36, ')', 32);
    e = pl_rule_expr_new (buf, 68, err, sizeof err);
    assert (e && pl_rule_expr_eval (e, NULL) == 1);
    pl_rule_expr_destroy (&e);
    memset (buf, '(', 33);
    strcpy (buf + 33, "true");
    memset (buf + 37, ')', 33);
    s_bad (buf, 70, "position 33: the expression is nested more than 32 levels deep");
    /* not and unary minus nest too; each is also a level of the tree */
    buf[0] = 0;
    for (int i = 0; i < 31; i++)
        strcat (buf, "not ");
    strcat (buf, "false");
    e = pl_rule_expr_new (buf, strlen (buf), err, sizeof err);
    assert (e && pl_rule_expr_eval (e, NULL) == 1);
    pl_rule_expr_destroy (&e);
    buf[0] = 0;
    for (int i = 0; i < 40; i++)
        strcat (buf, "not ");
    strcat (buf, "false");
    s_bad (buf, strlen (buf), "levels deep");
    memset (buf, '-', 300);
    strcpy (buf + 300, "1");
    s_bad (buf, 301, "position 33: the expression is nested more than 32 levels deep");
    memset (buf, '(', 900);
    s_bad (buf, 900, "position 33: the expression is nested more than 32 levels deep");

    /* deep equality: 64 levels compare, 65 are a runtime error */
    cJSON *doc = cJSON_CreateObject ();
    cJSON *u = cJSON_AddArrayToObject (doc, "u");
    cJSON *v = cJSON_AddArrayToObject (doc, "v");
    for (int i = 1; i < 64; i++) {
        cJSON *inner = cJSON_CreateArray ();
        cJSON_AddItemToArray (u, inner);
        u = inner;
        inner = cJSON_CreateArray ();
        cJSON_AddItemToArray (v, inner);
        v = inner;
    }
    s_eval_on ("u == v", doc, 1);
    cJSON_AddItemToArray (u, cJSON_CreateArray ());
    cJSON_AddItemToArray (v, cJSON_CreateArray ());
    s_eval_on ("u == v", doc, -1);
    s_eval_on ("u != v", doc, -1);
    s_eval_on ("false and u == v", doc, 0);    /* short-circuit: never compared */
    s_eval_on ("true or u == v", doc, 1);
    s_eval_on ("u == 1", doc, 0);                /* types differ: no walk */
    cJSON_Delete (doc);

    /* steps: two objects of 2,000 members cost millions of lookups */
    doc = cJSON_CreateObject ();
    cJSON *big1 = cJSON_AddObjectToObject (doc, "big1");
    cJSON *big2 = cJSON_AddObjectToObject (doc, "big2");
    cJSON *list = cJSON_AddArrayToObject (doc, "list");
    for (int i = 0; i < 2000; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        cJSON_AddNumberToObject (big1, key, i);
        snprintf (key, sizeof key, "k%d", 1999 - i);
        cJSON_AddNumberToObject (big2, key, 1999 - i);
        cJSON_AddItemToArray (list, cJSON_CreateNumber (i));
    }
    s_eval_on ("big1 == big2", doc, -1);
    s_eval_on ("big1.k1999 == 1999 and big2.k0 == 0", doc, 1);
    s_eval_on ("list contains 1999 and list.1999 == 1999", doc, 1);
    s_eval_on ("list contains 2000", doc, 0);
    cJSON_Delete (doc);
}

static void
s_paths (void)
{
    char err[128];
    const char *src = "hp <= 0 and not (conditions contains \"x\") or hp > max and tokens.0.x == 1"
                      " and conditions != null";
    pl_rule_expr_t *e = pl_rule_expr_new (src, strlen (src), err, sizeof err);
    assert (e);
    const char *want[] = { "hp", "conditions", "max", "tokens.0.x" };
    for (int i = 0; i < 4; i++)
        assert (pl_rule_expr_path (e, i) && strcmp (pl_rule_expr_path (e, i), want[i]) == 0);
    assert (pl_rule_expr_path (e, 4) == NULL);
    assert (pl_rule_expr_path (e, -1) == NULL);
    pl_rule_expr_destroy (&e);
    pl_rule_expr_destroy (&e);              /* safe twice */
}

/* The example: the rule that marks a fallen character. */
static void
s_example (void)
{
    const char *when = "hp <= 0 and not (conditions contains \"unconscious\")";
    char err[128];
    pl_rule_expr_t *rule = pl_rule_expr_new (when, strlen (when), err, sizeof err);
    assert (rule);
    cJSON *actor = cJSON_Parse ("{\"hp\":3,\"conditions\":[]}");
    assert (pl_rule_expr_eval (rule, actor) == 0);
    cJSON_ReplaceItemInObject (actor, "hp", cJSON_CreateNumber (0));
    assert (pl_rule_expr_eval (rule, actor) == 1);
    cJSON_AddItemToArray (cJSON_GetObjectItem (actor, "conditions"), cJSON_CreateString ("unconscious"));
    assert (pl_rule_expr_eval (rule, actor) == 0);
    cJSON_Delete (actor);
    pl_rule_expr_destroy (&rule);
}

/* A rule seed (tests/corpus/rule): the condition, what comes before the
 * first "\n\x1e" (a document follows it), parses. Runs in the selftest's
 * thread (pl_corpus_check). */
static bool
s_corpus_parse (const char *data, size_t len, char *why, size_t why_size)
{
    const char *sep = memmem (data, len, "\n\x1e", 2);
    if (sep)
        len = (size_t) (sep - data);
    pl_rule_expr_t *e = pl_rule_expr_new (data, len, why, why_size);
    bool parsed = e != NULL;
    pl_rule_expr_destroy (&e);
    return parsed;
}

void
pl_rule_expr_test (bool verbose)
{
    if (verbose)
        printf (" * pl_rule_expr: ");
    s_doc = cJSON_Parse (s_doc_text);
    assert (s_doc);
    s_precedence ();
    s_operators ();
    s_mismatches ();
    s_missing ();
    s_refusals ();
    s_nul ();
    s_bounds ();
    s_paths ();
    s_example ();
    int files = pl_corpus_check ("rule", "pl_rule_expr", s_corpus_parse, 40);
    cJSON_Delete (s_doc);
    s_doc = NULL;
    if (verbose)
        printf ("OK (%d corpus files)\n", files);
}
