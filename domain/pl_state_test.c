/*  pl_state_test - the selftest of pl_state (pl_state.h), kept apart so
 *  the engine stays short enough to read in one sitting.
 *
 *  Every pl_state_apply call goes through s_try, which also checks that the
 *  input state came back byte-identical and that out and failed_index
 *  match the return code. Expected failures also name the rule that should
 *  fire (a needle in why), so a check refusing for the wrong reason fails.
 */
#include "pl_state.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Container nesting of item, counted as pl_state.h does. */
static int
s_test_depth (const cJSON *item)
{
    int deepest = 0;
    if (!cJSON_IsArray (item) && !cJSON_IsObject (item))
        return 0;
    for (const cJSON *c = item->child; c; c = c->next) {
        int d = s_test_depth (c);
        if (d > deepest)
            deepest = d;
    }
    return deepest + 1;
}

/* Apply the operations in ops_text (JSON) to state. Returns the new state
 * (caller owns) or NULL; *index and why as pl_state_apply sets them. */
static cJSON *
s_try (const cJSON *state, const char *ops_text, int *index, char *why, size_t why_size)
{
    cJSON *ops = cJSON_Parse (ops_text);
    assert (ops);
    char *before = cJSON_PrintUnformatted (state);
    cJSON *out = (cJSON *) 1;                  /* must be overwritten */
    int failed = 12345;
    int rc = pl_state_apply (state, ops, &out, &failed, why, why_size);
    char *after = cJSON_PrintUnformatted (state);
    assert (strcmp (before, after) == 0);       /* input never touched */
    if (rc == 0)
        assert (out && out != state && failed == -1 && cJSON_IsObject (out));
    else
        assert (rc == -1 && out == NULL && strlen (why) > 0);
    if (rc == 0)
        assert (s_test_depth (out) <= PL_STATE_MAX_STATE_DEPTH);
    *index = failed;
    free (before);
    free (after);
    cJSON_Delete (ops);
    return out;
}

/* Expect success; returns the new state and frees old (so tests chain). */
static cJSON *
s_ok (cJSON *state, const char *ops_text)
{
    int index;
    char why[512] = "";
    cJSON *out = s_try (state, ops_text, &index, why, sizeof why);
    if (!out)
        fprintf (stderr, "pl_state: unexpected failure of %s: %s\n", ops_text, why);
    assert (out);
    cJSON_Delete (state);
    return out;
}

/* Expect failure at index with a message containing needle. */
static void
s_bad (const cJSON *state, const char *ops_text, int index, const char *needle)
{
    int got;
    char why[512] = "";
    cJSON *out = s_try (state, ops_text, &got, why, sizeof why);
    if (out || got != index || !strstr (why, needle))
        fprintf (stderr, "pl_state: %s: expected failure %d '%s', got %d '%s'\n",
                 ops_text, index, needle, got, why);
    assert (!out && got == index && strstr (why, needle));
}

/* A JSON value nested depth deep: [[[...1...]]], or 1 when depth is 0. */
static char *
s_nested (int depth)
{
    char *text = malloc ((size_t) depth * 2 + 2);
    assert (text);
    memset (text, '[', (size_t) depth);
    text[depth] = '1';
    memset (text + depth + 1, ']', (size_t) depth);
    text[depth * 2 + 1] = 0;
    return text;
}

/* The value at path in state (the test's own walker, not s_apply_one's). */
static const cJSON *
s_at (const cJSON *state, const char *path)
{
    char copy[PL_STATE_MAX_PATH + 1];
    snprintf (copy, sizeof copy, "%s", path);
    const cJSON *node = state;
    for (char *save = NULL, *seg = strtok_r (copy, ".", &save); seg && node;
         seg = strtok_r (NULL, ".", &save))
        node = cJSON_IsArray (node) ? cJSON_GetArrayItem (node, atoi (seg))
                                    : cJSON_GetObjectItemCaseSensitive (node, seg);
    return node;
}

static bool
s_is (const cJSON *state, const char *path, const char *json)
{
    cJSON *want = cJSON_Parse (json);
    assert (want);
    bool same = cJSON_Compare (s_at (state, path), want, true);
    if (!same) {
        char *got = s_at (state, path) ? cJSON_PrintUnformatted (s_at (state, path)) : NULL;
        fprintf (stderr, "pl_state: at %s expected %s, got %s\n", path, json, got ? got : "nothing");
        free (got);
    }
    cJSON_Delete (want);
    return same;
}

void
pl_state_test (bool verbose)
{
    if (verbose)
        printf (" * pl_state: ");
    char why[512];
    char ops[4096];
    int index;

    /* A fresh state has the shape and stamps. */
    cJSON *state = pl_state_new (1700000000123LL);
    assert (state);
    assert (s_is (state, "characters", "[]") && s_is (state, "actors", "[]")
            && s_is (state, "items", "[]") && s_is (state, "currentEncounter", "null")
            && s_is (state, "pluginData", "{}") && s_is (state, "stateVersion", "\"0\"")
            && s_is (state, "lastUpdated", "1700000000123"));
    assert (cJSON_GetArraySize (state) == 7);

    /* set: push then set members, replace, create, array index, null */
    state = s_ok (state, "[{\"path\":\"characters\",\"operation\":\"push\","
                  "\"value\":{\"name\":\"Ana\",\"hp\":10,\"pluginData\":{}}},"
                  "{\"path\":\"characters\",\"operation\":\"push\",\"value\":{\"name\":\"Bo\",\"hp\":7}}]");
    assert (s_is (state, "characters.0.name", "\"Ana\"") && s_is (state, "characters.1.hp", "7"));
    state = s_ok (state, "[{\"path\":\"characters.0.pluginData.hitPoints\",\"operation\":\"set\",\"value\":12},"
                  "{\"path\":\"characters.0.name\",\"operation\":\"set\",\"value\":\"Ana B.\"},"
                  "{\"path\":\"characters.1\",\"operation\":\"set\",\"value\":{\"name\":\"Cy\"}},"
                  "{\"path\":\"pluginData.7\",\"operation\":\"set\",\"value\":[true,null]},"
                  "{\"path\":\"currentEncounter\",\"operation\":\"set\","
                  "\"value\":{\"encounter\":{\"id\":\"e1\"},\"map\":null,\"tokens\":[]}}]");
    assert (s_is (state, "characters.0.pluginData.hitPoints", "12"));
    assert (s_is (state, "characters.0.name", "\"Ana B.\""));
    assert (s_is (state, "characters.1", "{\"name\":\"Cy\"}"));
    assert (s_is (state, "pluginData.7", "[true,null]"));       /* digits on an object: a key */
    assert (s_is (state, "currentEncounter.tokens", "[]"));
    assert (cJSON_GetArraySize (s_at (state, "characters")) == 2);
    /* set failures */
    s_bad (state, "[{\"path\":\"characters.0.nope.x\",\"operation\":\"set\",\"value\":1}]", 0, "no 'nope'");
    s_bad (state, "[{\"path\":\"characters.0.name.x\",\"operation\":\"set\",\"value\":1}]", 0, "not an object or array");
    s_bad (state, "[{\"path\":\"characters.0.hp.x.y\",\"operation\":\"set\",\"value\":1}]", 0, "scalar");
    s_bad (state, "[{\"path\":\"characters.2\",\"operation\":\"set\",\"value\":1}]", 0, "out of range");
    s_bad (state, "[{\"path\":\"characters.x\",\"operation\":\"set\",\"value\":1}]", 0, "not an array index");
    s_bad (state, "[{\"path\":\"characters\",\"operation\":\"set\",\"value\":{}}]", 0, "must be an array");
    s_bad (state, "[{\"path\":\"pluginData\",\"operation\":\"set\",\"value\":null}]", 0, "must be an object");
    s_bad (state, "[{\"path\":\"currentEncounter\",\"operation\":\"set\",\"value\":3}]", 0, "object or null");
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\"}]", 0, "value is missing");
    state = s_ok (state, "[{\"path\":\"currentEncounter\",\"operation\":\"set\",\"value\":null},"
                  "{\"path\":\"characters\",\"operation\":\"set\",\"value\":[{\"name\":\"Ana\",\"hp\":10}]}]");
    assert (s_is (state, "currentEncounter", "null") && cJSON_GetArraySize (s_at (state, "characters")) == 1);
    s_bad (state, "[{\"path\":\"currentEncounter.tokens\",\"operation\":\"push\",\"value\":1}]", 0, "null");

    /* unset: member, missing member (no-op), array element, failures */
    state = s_ok (state, "[{\"path\":\"items\",\"operation\":\"push\",\"value\":\"a\"},"
                  "{\"path\":\"items\",\"operation\":\"push\",\"value\":\"b\"},"
                  "{\"path\":\"items\",\"operation\":\"push\",\"value\":\"c\"},"
                  "{\"path\":\"items.1\",\"operation\":\"unset\"},"
                  "{\"path\":\"characters.0.hp\",\"operation\":\"unset\",\"value\":null},"
                  "{\"path\":\"pluginData.absent\",\"operation\":\"unset\"}]");
    assert (s_is (state, "items", "[\"a\",\"c\"]"));
    assert (s_is (state, "characters.0", "{\"name\":\"Ana\"}"));
    s_bad (state, "[{\"path\":\"pluginData.absent.x\",\"operation\":\"unset\"}]", 0, "no 'absent'");
    s_bad (state, "[{\"path\":\"items.2\",\"operation\":\"unset\"}]", 0, "out of range");
    s_bad (state, "[{\"path\":\"items\",\"operation\":\"unset\"}]", 0, "cannot be removed");

    /* inc */
    state = s_ok (state, "[{\"path\":\"pluginData.n\",\"operation\":\"set\",\"value\":1.5},"
                  "{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":2},"
                  "{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":-0.5}]");
    assert (s_at (state, "pluginData.n")->valuedouble == 3.0);
    s_bad (state, "[{\"path\":\"items.0\",\"operation\":\"inc\",\"value\":1}]", 0, "not a number");
    s_bad (state, "[{\"path\":\"pluginData.none\",\"operation\":\"inc\",\"value\":1}]", 0, "no such target");
    s_bad (state, "[{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":\"1\"}]", 0, "value is not a number");
    s_bad (state, "[{\"path\":\"pluginData.n\",\"operation\":\"inc\"}]", 0, "value is missing");
    state = s_ok (state, "[{\"path\":\"pluginData.big\",\"operation\":\"set\",\"value\":1.7e308}]");
    s_bad (state, "[{\"path\":\"pluginData.big\",\"operation\":\"inc\",\"value\":1.7e308}]", 0, "not finite");
    s_bad (state, "[{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":1e999}]", 0, "non-finite");
    {   /* NaN cannot come from JSON text; build it */
        cJSON *nan_ops = cJSON_Parse ("[{\"path\":\"pluginData.n\",\"operation\":\"inc\"}]");
        cJSON_AddItemToObject (cJSON_GetArrayItem (nan_ops, 0), "value", cJSON_CreateNumber (NAN));
        cJSON *out;
        assert (pl_state_apply (state, nan_ops, &out, &index, why, sizeof why) == -1);
        assert (!out && index == 0 && strstr (why, "non-finite"));
        cJSON_Delete (nan_ops);
    }

    /* push and pull, with deep equality on objects */
    state = s_ok (state, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"a\":1,\"b\":[1,2]}},"
                  "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"a\":1,\"b\":[2,1]}},"
                  "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"A\":1,\"b\":[1,2]}},"
                  "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"b\":[1,2],\"a\":1}},"
                  "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"a\":1,\"b\":[1,2],\"c\":0}},"
                  "{\"path\":\"actors\",\"operation\":\"push\",\"value\":7}]");
    assert (cJSON_GetArraySize (s_at (state, "actors")) == 6);
    state = s_ok (state, "[{\"path\":\"actors\",\"operation\":\"pull\",\"value\":{\"a\":1,\"b\":[1,2]}},"
                  "{\"path\":\"actors\",\"operation\":\"pull\",\"value\":\"absent\"}]");
    assert (s_is (state, "actors", "[{\"a\":1,\"b\":[2,1]},{\"A\":1,\"b\":[1,2]},"
                  "{\"a\":1,\"b\":[1,2],\"c\":0},7]"));
    state = s_ok (state, "[{\"path\":\"actors\",\"operation\":\"pull\",\"value\":7}]");
    assert (cJSON_GetArraySize (s_at (state, "actors")) == 3);
    s_bad (state, "[{\"path\":\"pluginData\",\"operation\":\"push\",\"value\":1}]", 0, "not an array");
    s_bad (state, "[{\"path\":\"pluginData.none\",\"operation\":\"push\",\"value\":1}]", 0, "no such target");
    s_bad (state, "[{\"path\":\"actors\",\"operation\":\"push\"}]", 0, "value is missing");
    s_bad (state, "[{\"path\":\"pluginData.n\",\"operation\":\"pull\",\"value\":3}]", 0, "not an array");
    s_bad (state, "[{\"path\":\"actors\",\"operation\":\"pull\"}]", 0, "value is missing");

    /* all or none: ops 0 and 1 are fine, op 2 is not */
    s_bad (state, "[{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":100},"
           "{\"path\":\"items\",\"operation\":\"push\",\"value\":\"z\"},"
           "{\"path\":\"items.0\",\"operation\":\"inc\",\"value\":1}]", 2, "operation 2: inc at items.0");
    assert (s_at (state, "pluginData.n")->valuedouble == 3.0);
    assert (s_is (state, "items", "[\"a\",\"c\"]"));

    /* malformed operations and entries */
    s_bad (state, "{}", -1, "not an array");
    s_bad (state, "[]", -1, "empty");
    s_bad (state, "[1]", 0, "operation 0: not an object");
    s_bad (state, "[{\"path\":\"items\",\"operation\":\"push\",\"value\":1},\"set\"]", 1, "not an object");
    s_bad (state, "[{\"path\":\"items\",\"operation\":\"push\",\"value\":1},[]]", 1, "not an object");
    s_bad (state, "[{\"operation\":\"set\",\"value\":1}]", 0, "path is missing");
    s_bad (state, "[{\"path\":3,\"operation\":\"set\",\"value\":1}]", 0, "path is missing or not a string");
    s_bad (state, "[{\"path\":\"items\",\"value\":1}]", 0, "operation is missing");
    s_bad (state, "[{\"path\":\"items\",\"operation\":\"merge\",\"value\":1}]", 0, "unknown operation");
    s_bad (state, "[{\"path\":\"items\",\"operation\":\"SET\",\"value\":[]}]", 0, "unknown operation");
    {
        cJSON *out = (cJSON *) 1;
        assert (pl_state_apply (state, NULL, &out, &index, why, sizeof why) == -1);
        assert (!out && index == -1);
        /* why may be omitted */
        cJSON *ops1 = cJSON_Parse ("[1]");
        assert (pl_state_apply (state, ops1, &out, &index, NULL, 0) == -1 && index == 0);
        cJSON_Delete (ops1);
    }
    /* 64 operations pass, 65 do not */
    for (int n = 64; n <= 65; n++) {
        strcpy (ops, "[");
        for (int i = 0; i < n; i++)
            strcat (ops, i ? ",{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":1}"
                           : "{\"path\":\"pluginData.n\",\"operation\":\"inc\",\"value\":1}");
        strcat (ops, "]");
        assert (strlen (ops) < sizeof ops - 1);
        if (n == 64) {
            state = s_ok (state, ops);
            assert (s_at (state, "pluginData.n")->valuedouble == 67.0);
        }
        else
            s_bad (state, ops, -1, "more than 64 operations");
    }

    /* hostile paths, through pl_state_path_check and through apply */
    struct { const char *path; const char *needle; } hostile[] = {
        { "", "empty path" },
        { "__proto__", "reserved" },
        { "constructor", "reserved" },
        { "pluginData.prototype", "reserved" },
        { "pluginData.__proto__.x", "'__proto__'" },
        { "a.__proto__.x", "'__proto__'" },
        { "a..b", "segment 1 is empty" },
        { ".a", "segment 0 is empty" },
        { "a.", "segment 1 is empty" },
        { "stateVersion", "server-owned" },
        { "lastUpdated", "server-owned" },
        { "a", "unknown top-level key" },
        { "pluginData.a\tb", "control character" },
        { "pluginData.a\x01", "control character" },
        { "pluginData.\x7f", "control character" },
        { "pluginData.\n", "control character" },
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        why[0] = 0;
        assert (pl_state_path_check (hostile[i].path, why, sizeof why) == -1);
        if (!strstr (why, hostile[i].needle))
            fprintf (stderr, "pl_state: path #%zu: '%s'\n", i, why);
        assert (strstr (why, hostile[i].needle));
        cJSON *op = cJSON_CreateArray ();
        cJSON *entry = cJSON_CreateObject ();
        cJSON_AddStringToObject (entry, "path", hostile[i].path);
        cJSON_AddStringToObject (entry, "operation", "set");
        cJSON_AddNumberToObject (entry, "value", 1);
        cJSON_AddItemToArray (op, entry);
        char *text = cJSON_PrintUnformatted (op);
        s_bad (state, text, 0, hostile[i].needle);
        free (text);
        cJSON_Delete (op);
    }
    assert (pl_state_path_check (NULL, why, sizeof why) == -1);
    assert (pl_state_path_check ("characters.0.pluginData.hitPoints", why, sizeof why) == 0);
    assert (pl_state_path_check ("pluginData.01", why, sizeof why) == 0);  /* a key on objects */
    /* array indexes: sign, leading zero, out of range, too long */
    s_bad (state, "[{\"path\":\"actors.-1\",\"operation\":\"set\",\"value\":1}]", 0, "not an array index");
    s_bad (state, "[{\"path\":\"actors.+1\",\"operation\":\"set\",\"value\":1}]", 0, "not an array index");
    s_bad (state, "[{\"path\":\"actors.01\",\"operation\":\"set\",\"value\":1}]", 0, "leading zero");
    s_bad (state, "[{\"path\":\"actors.99\",\"operation\":\"set\",\"value\":1}]", 0, "out of range");
    s_bad (state, "[{\"path\":\"actors.99999999999\",\"operation\":\"set\",\"value\":1}]", 0, "not an array index");
    s_bad (state, "[{\"path\":\"actors.0x1\",\"operation\":\"set\",\"value\":1}]", 0, "not an array index");
    state = s_ok (state, "[{\"path\":\"actors.0\",\"operation\":\"set\",\"value\":1}]");
    assert (s_is (state, "actors.0", "1"));
    /* a 600-byte path; 512 passes the length rule; 40 segments; long segment */
    char path[700];
    memset (path, 'a', 600);
    memcpy (path, "pluginData.", 11);
    path[600] = 0;
    assert (pl_state_path_check (path, why, sizeof why) == -1 && strstr (why, "longer than 512"));
    strcpy (path, "pluginData");
    for (int i = 1; i < 40; i++)
        strcat (path, ".a");
    assert (pl_state_path_check (path, why, sizeof why) == -1 && strstr (why, "more than 32 segments"));
    strcpy (path, "pluginData");
    for (int i = 1; i < 32; i++)
        strcat (path, ".a");
    assert (pl_state_path_check (path, why, sizeof why) == 0);             /* exactly 32 */
    strcpy (path, "pluginData.");
    memset (path + 11, 'b', 129);
    path[140] = 0;
    assert (pl_state_path_check (path, why, sizeof why) == -1 && strstr (why, "longer than 128"));
    path[139] = 0;                                                          /* 128 bytes */
    assert (pl_state_path_check (path, why, sizeof why) == 0);

    /* value rules: keys, duplicates, depth */
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":{\"__proto__\":{\"admin\":true}}}]",
           0, "reserved");
    s_bad (state, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":[{\"ok\":{\"constructor\":1}}]}]",
           0, "reserved");
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":{\"a\":1,\"b\":2,\"a\":3}}]",
           0, "repeats the key 'a'");
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":{\"a.b\":1}}]", 0, "'.'");
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":{\"\":1}}]", 0, "is empty");
    s_bad (state, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":{\"a\\u0001\":1}}]", 0,
           "control character");
    char *deep = s_nested (33);
    snprintf (ops, sizeof ops, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":%s}]", deep);
    s_bad (state, ops, 0, "nested deeper than 32");
    free (deep);
    deep = s_nested (32);
    snprintf (ops, sizeof ops, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":%s}]", deep);
    state = s_ok (state, ops);
    assert (s_test_depth (s_at (state, "pluginData.x")) == 32);
    free (deep);

    /* State depth: build an array at a 32-segment path, state depth 33
     * there: pluginData.a = {a:{a:...{arr:[]}}} (value depth 31). */
    strcpy (ops, "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":");
    for (int i = 0; i < 30; i++)
        strcat (ops, i < 29 ? "{\"a\":" : "{\"arr\":[]");
    for (int i = 0; i < 30; i++)
        strcat (ops, "}");
    strcat (ops, "}]");
    state = s_ok (state, ops);
    strcpy (path, "pluginData.a");
    for (int i = 0; i < 29; i++)
        strcat (path, ".a");
    strcat (path, ".arr");
    assert (cJSON_IsArray (s_at (state, path)));
    /* push of a 32-deep value there: 32 + 1 + 32 = 65, refused */
    deep = s_nested (32);
    snprintf (ops, sizeof ops, "[{\"path\":\"%s\",\"operation\":\"push\",\"value\":%s}]", path, deep);
    s_bad (state, ops, 0, "state would be nested deeper than 64");
    /* set of the same at the same path: 32 + 32 = 64, allowed */
    snprintf (ops, sizeof ops, "[{\"path\":\"%s\",\"operation\":\"set\",\"value\":%s}]", path, deep);
    cJSON *deepest = s_ok (cJSON_Duplicate (state, true), ops);
    assert (s_test_depth (deepest) == 64);
    cJSON_Delete (deepest);
    free (deep);
    /* push of a 31-deep value: 64, allowed */
    deep = s_nested (31);
    snprintf (ops, sizeof ops, "[{\"path\":\"%s\",\"operation\":\"push\",\"value\":%s}]", path, deep);
    state = s_ok (state, ops);
    assert (s_test_depth (state) == 64);
    free (deep);
    /* a scalar pushed at the deepest array is fine */
    snprintf (ops, sizeof ops, "[{\"path\":\"%s\",\"operation\":\"push\",\"value\":\"x\"}]", path);
    state = s_ok (state, ops);

    /* bump */
    assert (pl_state_bump (state, 42) == 0);
    assert (s_is (state, "stateVersion", "\"1\"") && s_is (state, "lastUpdated", "42"));
    for (int i = 0; i < 9; i++)
        assert (pl_state_bump (state, 43) == 0);
    assert (s_is (state, "stateVersion", "\"10\""));
    const char *bad_versions[] = { "", "01", "abc", "-1", "1.5", "18446744073709551615",
                                   "99999999999999999999", "123456789012345678901" };
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        cJSON_ReplaceItemInObjectCaseSensitive (state, "stateVersion",
                                                cJSON_CreateString (bad_versions[i]));
        assert (pl_state_bump (state, 44) == -1);
        assert (s_is (state, "lastUpdated", "43"));                 /* untouched */
    }
    cJSON_ReplaceItemInObjectCaseSensitive (state, "stateVersion",
                                            cJSON_CreateString ("18446744073709551614"));
    assert (pl_state_bump (state, 45) == 0 && s_is (state, "stateVersion", "\"18446744073709551615\""));
    cJSON_ReplaceItemInObjectCaseSensitive (state, "stateVersion", cJSON_CreateNumber (3));
    assert (pl_state_bump (state, 46) == -1);

    cJSON_Delete (state);

    /* any object (an entity): the same operations and limits, no
     * top-level rules */
    {
        char why[256];
        int index;
        cJSON *out = NULL;
        cJSON *doc = cJSON_Parse ("{\"hp\":3,\"conditions\":[],\"stateVersion\":1}");
        cJSON *ops = cJSON_Parse ("[{\"operation\":\"inc\",\"path\":\"hp\",\"value\":-3},"
                                  "{\"operation\":\"push\",\"path\":\"conditions\",\"value\":\"down\"},"
                                  "{\"operation\":\"unset\",\"path\":\"stateVersion\"},"
                                  "{\"operation\":\"set\",\"path\":\"a\",\"value\":{\"b\":1}}]");
        assert (pl_state_apply (doc, ops, &out, &index, why, sizeof why) == -1 && index == 0);
        assert (pl_state_doc_apply (doc, ops, &out, &index, why, sizeof why) == 0);
        char *text = cJSON_PrintUnformatted (out);
        assert (strcmp (text, "{\"hp\":0,\"conditions\":[\"down\"],\"a\":{\"b\":1}}") == 0);
        free (text);
        cJSON_Delete (out);
        cJSON_Delete (ops);
        ops = cJSON_Parse ("[{\"operation\":\"set\",\"path\":\"__proto__.x\",\"value\":1}]");
        assert (pl_state_doc_apply (doc, ops, &out, &index, why, sizeof why) == -1 && !out);
        cJSON_Delete (ops);
        assert (pl_state_doc_path_check ("system.hp.value", why, sizeof why) == 0);
        assert (pl_state_path_check ("system.hp.value", why, sizeof why) == -1);
        assert (pl_state_doc_path_check ("a..b", why, sizeof why) == -1);
        cJSON_Delete (doc);
    }
    if (verbose)
        printf ("OK\n");
}
