/*  pl_rule_test - selftest of a rule's checks, storage form, evaluation
 *  and application (pl_rule.c). The runner is tested end to end
 *  (tests/e2e/rules.test.mjs): it needs Redis, the bus and the workers
 *  whose writes it makes.
 */
#include "pl_rule.h"
#include "pl_state.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pl_rule_new on JSON text; NULL when refused, why then says why. */
static pl_rule_t *
s_new (const char *text, char *why, size_t why_size)
{
    cJSON *def = cJSON_Parse (text);
    assert (def);
    pl_rule_t *rule = pl_rule_new (def, why, why_size);
    cJSON_Delete (def);
    return rule;
}

/* Refused, and why holds needle. */
static void
s_refused (const char *text, const char *needle)
{
    char why[256] = "";
    pl_rule_t *rule = s_new (text, why, sizeof why);
    if (rule || !strstr (why, needle)) {
        fprintf (stderr, "rule %s: expected a refusal with \"%s\", got \"%s\"\n",
                 text, needle, why);
        assert (false);
    }
}

void
pl_rule_test (bool verbose)
{
    if (verbose)
        printf (" * pl_rule: ");
    char why[256];

    /* the example of the issue: checked, stamped, stored and loaded */
    const char *unconscious =
        "{\"name\":\"Down\",\"on\":\"actor\","
        "\"when\":\"hp <= 0 and not (conditions contains \\\"unconscious\\\")\","
        "\"then\":[{\"operation\":\"push\",\"path\":\"conditions\",\"value\":\"unconscious\","
        "\"extra\":1}],\"id\":\"ignored\"}";
    pl_rule_t *rule = s_new (unconscious, why, sizeof why);
    assert (rule && pl_rule_on (rule) == PL_RULE_ON_ACTOR);
    assert (strcmp (pl_rule_id (rule), "") == 0);
    assert (pl_rule_stamp (rule, "r1", "c1", "gm1", 1000));
    char *text = cJSON_PrintUnformatted (pl_rule_json (rule));
    assert (strcmp (text, "{\"id\":\"r1\",\"campaignId\":\"c1\",\"name\":\"Down\",\"on\":\"actor\","
                          "\"when\":\"hp <= 0 and not (conditions contains \\\"unconscious\\\")\","
                          "\"then\":[{\"operation\":\"push\",\"path\":\"conditions\","
                          "\"value\":\"unconscious\"}],\"createdBy\":\"gm1\",\"createdAt\":1000}")
            == 0);
    pl_rule_t *loaded = pl_rule_load (text, strlen (text));
    assert (loaded);
    char *again = cJSON_PrintUnformatted (pl_rule_json (loaded));
    assert (strcmp (text, again) == 0);
    assert (strcmp (pl_rule_id (loaded), "r1") == 0 && strcmp (pl_rule_creator (loaded), "gm1") == 0);
    free (again);
    free (text);
    assert (pl_rule_load ("{\"name\":\"x\"}", 12) == NULL);       /* no server fields */
    assert (pl_rule_load ("nope", 4) == NULL);
    /* a NUL would cut the when short ("true", firing always): refused */
    const char *nul = "{\"id\":\"r2\",\"campaignId\":\"c1\",\"name\":\"n\",\"on\":\"actor\","
                      "\"when\":\"true\\u0000 and false\",\"then\":[{\"operation\":\"unset\","
                      "\"path\":\"a\"}],\"createdBy\":\"gm1\",\"createdAt\":1}";
    assert (pl_rule_load (nul, strlen (nul)) == NULL);
    const char *raw = "{\"id\":\"r2\",\"campaignId\":\"c1\",\"name\":\"n\",\"on\":\"actor\","
                      "\"when\":\"true\0 and false\",\"then\":[{\"operation\":\"unset\","
                      "\"path\":\"a\"}],\"createdBy\":\"gm1\",\"createdAt\":1}";
    assert (pl_rule_load (raw, strlen (raw) + 1 + strlen (raw + strlen (raw) + 1)) == NULL);

    /* the cache of parsed rules: the same text is the same rule, and the
     * cache holds at most 2 MB of text however many large rules pass */
    text = cJSON_PrintUnformatted (pl_rule_json (loaded));
    pl_rule_t *a = pl_rule_load_shared (text, strlen (text));
    pl_rule_t *b = pl_rule_load_shared (text, strlen (text));
    assert (a && a == b);
    pl_rule_destroy (&a);
    pl_rule_destroy (&b);
    free (text);
    size_t size = PL_RULE_TEXT_MAX + 1000;
    char *large = malloc (size);
    for (int i = 0; i < 400; i++) {
        int at = snprintf (large, size, "{\"id\":\"L%d\",\"campaignId\":\"c1\",\"name\":\"n%d\","
                           "\"on\":\"actor\",\"when\":\"true\",\"then\":[", i, i);
        for (int k = 0; k < 2; k++) {
            at += snprintf (large + at, size - (size_t) at, "%s{\"operation\":\"set\","
                            "\"path\":\"a\",\"value\":\"", k ? "," : "");
            memset (large + at, 'x', PL_RULE_VALUE_MAX - 200);
            at += PL_RULE_VALUE_MAX - 200;
            at += snprintf (large + at, size - (size_t) at, "\"}");
        }
        snprintf (large + at, size - (size_t) at, "],\"createdBy\":\"gm1\",\"createdAt\":1}");
        pl_rule_t *big = pl_rule_load_shared (large, strlen (large));
        assert (big && strcmp (pl_rule_creator (big), "gm1") == 0);
        pl_rule_destroy (&big);
        assert (pl_rule_cache_bytes () <= 2u << 20);
    }
    free (large);

    /* evaluation and application */
    cJSON *actor = cJSON_Parse ("{\"id\":\"a\",\"hp\":0,\"conditions\":[]}");
    assert (pl_rule_when (rule, actor) == 1);
    cJSON *after = pl_rule_apply (rule, actor, why, sizeof why);
    assert (after);
    assert (pl_rule_when (rule, after) == 0);                   /* once: now it holds */
    text = cJSON_PrintUnformatted (after);
    assert (strcmp (text, "{\"id\":\"a\",\"hp\":0,\"conditions\":[\"unconscious\"]}") == 0);
    free (text);
    cJSON_Delete (after);
    cJSON_ReplaceItemInObjectCaseSensitive (actor, "conditions", cJSON_CreateString ("x"));
    assert (pl_rule_apply (rule, actor, why, sizeof why) == NULL);   /* push on a string */
    assert (strstr (why, "operation 0: push at conditions"));
    cJSON_Delete (actor);
    assert (pl_rule_cmp (rule, loaded) == 0);
    pl_rule_destroy (&loaded);
    pl_rule_destroy (&rule);
    pl_rule_destroy (&rule);

    /* a game-state rule: the state's rules */
    rule = s_new ("{\"name\":\"Round\",\"on\":\"gameState\",\"when\":\"pluginData.round >= 3\","
                  "\"then\":[{\"operation\":\"set\",\"path\":\"pluginData.phase\",\"value\":\"late\"},"
                  "{\"operation\":\"unset\",\"path\":\"pluginData.x\",\"value\":1}]}", why, sizeof why);
    assert (rule && pl_rule_on (rule) == PL_RULE_ON_STATE);
    cJSON *state = pl_state_new (1);
    cJSON_AddNumberToObject (cJSON_GetObjectItem (state, "pluginData"), "round", 3);
    assert (pl_rule_when (rule, state) == 1);
    after = pl_rule_apply (rule, state, why, sizeof why);
    assert (after && strcmp (cJSON_GetObjectItem (cJSON_GetObjectItem (after, "pluginData"),
                                                  "phase")->valuestring, "late") == 0);
    cJSON_Delete (after);
    cJSON_Delete (state);
    /* unset keeps no value */
    assert (cJSON_GetArraySize (cJSON_GetArrayItem (pl_rule_then (rule), 1)) == 2);
    pl_rule_destroy (&rule);

    /* refusals name the problem */
    s_refused ("[]", "an object");
    s_refused ("{\"on\":\"actor\",\"when\":\"true\",\"then\":[{\"operation\":\"unset\",\"path\":\"a\"}]}",
               "name must be");
    s_refused ("{\"name\":\"\",\"on\":\"actor\",\"when\":\"true\",\"then\":[]}", "name must be");
    char longname[300];
    memset (longname, 'n', 201);
    longname[201] = 0;
    char def[600];
    snprintf (def, sizeof def, "{\"name\":\"%s\",\"on\":\"actor\",\"when\":\"true\","
              "\"then\":[{\"operation\":\"unset\",\"path\":\"a\"}]}", longname);
    s_refused (def, "name must be");
    s_refused ("{\"name\":\"n\",\"on\":\"scene\",\"when\":\"true\",\"then\":[]}", "on must be");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":1,\"then\":[]}", "when must be a string");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"hp <=\","
               "\"then\":[{\"operation\":\"unset\",\"path\":\"a\"}]}", "when: position");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\",\"then\":[]}", "1 to 16");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\",\"then\":{}}", "1 to 16");
    char many[2000] = "{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\",\"then\":[";
    for (int i = 0; i < 17; i++)
        strcat (many, i ? ",{\"operation\":\"unset\",\"path\":\"a\"}"
                        : "{\"operation\":\"unset\",\"path\":\"a\"}");
    strcat (many, "]}");
    s_refused (many, "1 to 16");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\",\"then\":[1]}", "then.0: not an object");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"drop\",\"path\":\"a\"}]}", "then.0: operation must be");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"a..b\",\"value\":1}]}", "then.0: path segment 1 is empty");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"__proto__\",\"value\":1}]}", "then.0:");
    s_refused ("{\"name\":\"n\",\"on\":\"item\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"hidden\",\"value\":true}]}", "may not change hidden");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"inc\",\"path\":\"version\",\"value\":1}]}", "may not change version");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"inc\",\"path\":\"hp\",\"value\":\"1\"}]}", "finite number");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"hp\"}]}", "needs a value");
    s_refused ("{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"hp\",\"value\":{\"a\":1,\"a\":2}}]}", "repeats the key");
    s_refused ("{\"name\":\"n\",\"on\":\"gameState\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"hp\",\"value\":1}]}", "unknown top-level key");
    s_refused ("{\"name\":\"n\",\"on\":\"gameState\",\"when\":\"true\","
               "\"then\":[{\"operation\":\"set\",\"path\":\"actors.0.hp\",\"value\":1}]}", "embedded actors");
    char *big = malloc (PL_RULE_VALUE_MAX + 200);
    snprintf (big, 100, "{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\","
              "\"then\":[{\"operation\":\"set\",\"path\":\"a\",\"value\":\"");
    size_t at = strlen (big);
    memset (big + at, 'x', PL_RULE_VALUE_MAX);
    strcpy (big + at + PL_RULE_VALUE_MAX, "\"}]}");
    s_refused (big, "longer than");
    free (big);
    /* each value within its bound, the whole rule not */
    big = malloc (PL_RULE_THEN_MAX * (PL_RULE_VALUE_MAX + 100) + 200);
    strcpy (big, "{\"name\":\"n\",\"on\":\"actor\",\"when\":\"true\",\"then\":[");
    for (int i = 0; i < 3; i++) {
        at = strlen (big);
        sprintf (big + at, "%s{\"operation\":\"set\",\"path\":\"a\",\"value\":\"", i ? "," : "");
        at = strlen (big);
        memset (big + at, 'x', PL_RULE_VALUE_MAX - 10);
        strcpy (big + at + PL_RULE_VALUE_MAX - 10, "\"}");
    }
    strcat (big, "]}");
    s_refused (big, "bytes as JSON, more than 16384");
    free (big);
    if (verbose)
        printf ("OK\n");
}
