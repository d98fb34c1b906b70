/*  pl_session_test - the selftest of pl_session: the pure parts here, the
 *  commit against a private redis-server in pl_session_txn_test.c. */
#include "pl_session_int.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_state.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- selftest -------------------------------------------------------- */

void
pl_session_test (bool verbose)
{
    if (verbose)
        printf (" * pl_session: ");
    uint64_t v;
    assert (pl_session_version_parse ("0", &v) && v == 0);
    assert (pl_session_version_parse ("17", &v) && v == 17);
    assert (pl_session_version_parse ("18446744073709551615", &v) && v == UINT64_MAX);
    assert (!pl_session_version_parse ("18446744073709551616", &v));
    assert (!pl_session_version_parse ("", &v));
    assert (!pl_session_version_parse (NULL, &v));
    assert (!pl_session_version_parse ("07", &v));
    assert (!pl_session_version_parse ("-1", &v));
    assert (!pl_session_version_parse ("+1", &v));
    assert (!pl_session_version_parse ("1.0", &v));
    assert (!pl_session_version_parse (" 1", &v));

    char out[PL_SESSION_VERSION_SIZE];
    struct { const char *json; const char *want; } args[] = {
        { "\"5\"", "5" }, { "5", "5" }, { "0", "0" }, { "9007199254740991", "9007199254740991" },
        { "\"18446744073709551615\"", "18446744073709551615" },
        { "9007199254740992", NULL }, { "-1", NULL }, { "1.5", NULL }, { "\"05\"", NULL },
        { "null", NULL }, { "true", NULL }, { "[1]", NULL }, { "1e400", NULL },
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        cJSON *item = cJSON_Parse (args[i].json);
        assert (item);
        bool ok = pl_session_version_arg (item, out);
        assert (ok == (args[i].want != NULL));
        if (ok)
            assert (strcmp (out, args[i].want) == 0);
        cJSON_Delete (item);
    }

    char long_id[PL_SESSION_UPDATE_ID_MAX + 2];
    memset (long_id, 'u', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    cJSON *id = cJSON_CreateString (long_id);
    assert (!pl_session_update_id_valid (id));                 /* 129 bytes */
    cJSON_Delete (id);
    long_id[PL_SESSION_UPDATE_ID_MAX] = 0;
    id = cJSON_CreateString (long_id);
    assert (pl_session_update_id_valid (id));                  /* 128 bytes */
    cJSON_Delete (id);
    const char *bad_ids[] = { "\"\"", "\"a\\nb\"", "7", "null", "{}" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        id = cJSON_Parse (bad_ids[i]);
        assert (!pl_session_update_id_valid (id));
        cJSON_Delete (id);
    }
    id = cJSON_CreateString ("upd 1: any printable text");
    assert (pl_session_update_id_valid (id));
    cJSON_Delete (id);

    /* entity ids: valid ones only, sorted, once each; odd entries skipped */
    cJSON *state = cJSON_Parse (
        "{\"actors\":[{\"id\":\"b\"},{\"id\":\"a\"},{\"id\":\"b\",\"hp\":1},7,null,"
        "{\"id\":5},{\"id\":\"bad id\"},{\"id\":\"\"},{\"name\":\"x\"},[\"c\"]],"
        "\"items\":{\"id\":\"x\"}}");
    assert (state);
    cJSON *ids = pl_session_entity_ids (state, "actors");
    cJSON *want = cJSON_Parse ("[\"a\",\"b\"]");
    assert (cJSON_Compare (ids, want, true));
    cJSON_Delete (ids);
    cJSON_Delete (want);
    ids = pl_session_entity_ids (state, "items");              /* not an array */
    assert (cJSON_IsArray (ids) && cJSON_GetArraySize (ids) == 0);
    cJSON_Delete (ids);
    ids = pl_session_entity_ids (state, "characters");         /* missing */
    assert (cJSON_IsArray (ids) && cJSON_GetArraySize (ids) == 0);
    cJSON_Delete (ids);

    /* the replace builder: only differing copies, each by its index */
    cJSON *entity = cJSON_Parse ("{\"id\":\"b\",\"hp\":1}");
    pl_session__replace_t replace = { "actors", entity, "b" };
    char why[64] = "";
    cJSON *ops = pl_session__replace_ops (state, &replace, why, sizeof why);
    want = cJSON_Parse ("[{\"path\":\"actors.0\",\"operation\":\"set\","
                        "\"value\":{\"id\":\"b\",\"hp\":1}}]");
    assert (cJSON_Compare (ops, want, true));
    cJSON_Delete (ops);
    cJSON_Delete (want);
    replace.id = "zzz";
    ops = pl_session__replace_ops (state, &replace, why, sizeof why);
    assert (cJSON_IsArray (ops) && cJSON_GetArraySize (ops) == 0);
    cJSON_Delete (ops);
    /* removal: every copy, the highest index first */
    replace = (pl_session__replace_t) { "actors", NULL, "b" };
    ops = pl_session__replace_ops (state, &replace, why, sizeof why);
    want = cJSON_Parse ("[{\"path\":\"actors.2\",\"operation\":\"unset\"},"
                        "{\"path\":\"actors.0\",\"operation\":\"unset\"}]");
    assert (cJSON_Compare (ops, want, true));
    cJSON *next = NULL;
    int index = -1;
    assert (pl_state_apply (state, ops, &next, &index, why, sizeof why) == 0);
    ids = pl_session_entity_ids (next, "actors");
    cJSON_Delete (want);
    want = cJSON_Parse ("[\"a\"]");
    assert (cJSON_Compare (ids, want, true));
    cJSON_Delete (ids);
    cJSON_Delete (want);
    cJSON_Delete (ops);
    cJSON_Delete (next);
    cJSON_Delete (entity);
    cJSON_Delete (state);

    /* changes: copies (one per id) that no copy of the same id before
     * deep-equals; new ones too; removed or odd entries are no change */
    cJSON *before = cJSON_Parse (
        "{\"actors\":[{\"id\":\"a\",\"hp\":1},{\"id\":\"b\",\"hp\":2},{\"id\":\"c\"},"
        "{\"id\":\"d\",\"x\":1},{\"id\":\"d\",\"x\":2}]}");
    cJSON *after = cJSON_Parse (
        "{\"actors\":[{\"id\":\"b\",\"hp\":3},{\"id\":\"a\",\"hp\":1},{\"id\":\"e\"},"
        "{\"id\":\"d\",\"x\":2},{\"id\":\"d\",\"x\":1},{\"hp\":9},7,{\"id\":\"bad id\"},"
        "{\"id\":\"f\",\"n\":1},{\"id\":\"f\",\"n\":2}]}");
    cJSON *changes = pl_session_entity_changes (before, after, "actors");
    want = cJSON_Parse ("[{\"id\":\"b\",\"hp\":3},{\"id\":\"e\"},{\"id\":\"f\",\"n\":1}]");
    cJSON *f = cJSON_GetArrayItem (changes, 2);         /* either copy of f */
    assert (cJSON_GetArraySize (changes) == 3 && f);
    if (cJSON_GetObjectItem (f, "n")->valueint == 2)
        cJSON_ReplaceItemInArray (want, 2, cJSON_Parse ("{\"id\":\"f\",\"n\":2}"));
    assert (cJSON_Compare (changes, want, true));
    cJSON_Delete (changes);
    cJSON_Delete (want);
    changes = pl_session_entity_changes (after, before, "items");     /* none */
    assert (cJSON_IsArray (changes) && cJSON_GetArraySize (changes) == 0);
    cJSON_Delete (changes);
    cJSON_Delete (before);
    cJSON_Delete (after);

    /* what every member may read of an item: actorId only while its actor
     * is not hidden (and exists) */
    cJSON *item = cJSON_Parse ("{\"id\":\"i\",\"actorId\":\"a\",\"n\":1}");
    cJSON *shown = cJSON_Parse ("{\"id\":\"a\",\"hidden\":false}");
    cJSON *hidden = cJSON_Parse ("{\"id\":\"a\",\"hidden\":true}");
    cJSON *legacy = cJSON_Parse ("{\"id\":\"a\"}");
    assert (!pl_session_entity_view (item, "actorId", shown));
    assert (!pl_session_entity_view (item, "actorId", legacy));
    assert (!pl_session_entity_view (item, NULL, hidden));          /* a kind nothing holds */
    assert (cJSON_IsString (cJSON_GetObjectItem (item, "actorId")));
    assert (pl_session_entity_view (item, "actorId", hidden));
    assert (cJSON_IsNull (cJSON_GetObjectItem (item, "actorId")));
    assert (cJSON_GetObjectItem (item, "n")->valueint == 1);
    assert (!pl_session_entity_view (item, "actorId", hidden));     /* held by nobody now */
    cJSON_ReplaceItemInObject (item, "actorId", cJSON_CreateString ("a"));
    assert (pl_session_entity_view (item, "actorId", NULL));        /* the actor is gone */
    assert (cJSON_IsNull (cJSON_GetObjectItem (item, "actorId")));
    cJSON_Delete (item);
    cJSON_Delete (shown);
    cJSON_Delete (hidden);
    cJSON_Delete (legacy);
    pl_session__test_live (verbose);
    if (verbose)
        printf ("OK\n");
}
