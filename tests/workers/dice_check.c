/*  parley-dice-check - a real parley-rules worker's roll against a private
 *  redis-server, with this program playing broker and event proxy
 *  (tests/workers/wcheck.h).
 *
 *      parley-dice-check /path/to/parley-rules [-v]
 *
 *  Checks the roll and where it goes on the bus: a public roll to its room
 *  (the roller's connection included) and into the room's chat history as
 *  kind "roll", bounded like chat; a secret roll to campaign:<id>:gm only
 *  (for a campaign room and a session room), stored nowhere; the refusals
 *  (who may roll, secret by a player, secret in a user room, bad bodies)
 *  send and store nothing.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wcheck_who_t s_gm  = { "gw-a", "1", "gm1", "The GM" };
static const wcheck_who_t s_p1  = { "gw-a", "2", "p1", "Player One" };
static const wcheck_who_t s_out = { "gw-a", "4", "o1", NULL };

static long long
s_llen (const char *key)
{
    redisReply *r = wcheck_redis ("LLEN %s", key);
    long long n = r->integer;
    freeReplyObject (r);
    return n;
}

static void
s_public (void)
{
    int64_t before = pl_id_wall_ms ();
    cJSON *r = wcheck_ok_as (0, &s_p1, "roll",
                             "{\"room\":\"campaign:c1\",\"expression\":\" 4d6KH3 + 2 \","
                             "\"label\":\"Strength\"}");
    CHECK (cJSON_GetArraySize (r) == 11);
    CHECK (pl_id_is_uuid (wcheck_str (r, "id")));
    CHECK (strcmp (wcheck_str (r, "room"), "campaign:c1") == 0);
    CHECK (strcmp (wcheck_str (r, "userId"), "p1") == 0);
    CHECK (strcmp (wcheck_str (r, "name"), "Player One") == 0);
    CHECK (strcmp (wcheck_str (r, "expression"), "4d6kh3+2") == 0);
    CHECK (strcmp (wcheck_str (r, "label"), "Strength") == 0);
    CHECK (cJSON_IsFalse (cJSON_GetObjectItem (r, "secret")));
    CHECK (wcheck_num (r, "modifier") == 2);
    const cJSON *rolls = cJSON_GetObjectItem (r, "rolls");
    CHECK (cJSON_IsArray (rolls) && cJSON_GetArraySize (rolls) == 1);
    const cJSON *d = cJSON_GetArrayItem (rolls, 0);
    CHECK (strcmp (wcheck_str (d, "die"), "4d6kh3") == 0);
    const cJSON *results = cJSON_GetObjectItem (d, "results"), *kept = cJSON_GetObjectItem (d, "kept");
    CHECK (cJSON_GetArraySize (results) == 4 && cJSON_GetArraySize (kept) == 3);
    /* kept = the three highest: their sum is the sum of all minus the lowest */
    double all = 0, low = 7, sum = 0;
    const cJSON *f;
    cJSON_ArrayForEach (f, results) {
        CHECK (f->valuedouble >= 1 && f->valuedouble <= 6 && f->valuedouble == floor (f->valuedouble));
        all += f->valuedouble;
        low = f->valuedouble < low ? f->valuedouble : low;
    }
    cJSON_ArrayForEach (f, kept)
        sum += f->valuedouble;
    CHECK (sum == all - low);
    CHECK (wcheck_num (r, "total") == sum + 2);
    double ts = wcheck_num (r, "ts");
    CHECK (ts >= (double) before && ts <= (double) pl_id_wall_ms ());
    /* to the whole room, the roller's connection included (origin "") */
    wcheck_event ("campaign:c1", "roll:result", "", r, NULL);
    /* the history: the roll, kind "roll", and a text */
    redisReply *h = wcheck_redis ("LRANGE pl:chat:campaign:c1 0 -1");
    CHECK (h->type == REDIS_REPLY_ARRAY && h->elements == 1);
    cJSON *entry = cJSON_Parse (h->element[0]->str);
    freeReplyObject (h);
    CHECK (entry && strcmp (wcheck_str (entry, "kind"), "roll") == 0);
    char text[64];
    snprintf (text, sizeof text, "Strength: 4d6kh3+2 = %.0f", wcheck_num (r, "total"));
    CHECK (strcmp (wcheck_str (entry, "text"), text) == 0);
    cJSON_DeleteItemFromObject (entry, "kind");
    cJSON_DeleteItemFromObject (entry, "text");
    CHECK (cJSON_Compare (entry, r, true));
    cJSON_Delete (entry);
    cJSON_Delete (r);
    /* no label: null, and the text starts at the expression */
    r = wcheck_ok_as (0, &s_gm, "roll", "{\"room\":\"session:s1\",\"expression\":\"d%\",\"label\":null}");
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (r, "label")));
    CHECK (strcmp (wcheck_str (r, "name"), "The GM") == 0);
    wcheck_event ("session:s1", "roll:result", "", r, NULL);
    h = wcheck_redis ("LINDEX pl:chat:session:s1 -1");
    entry = cJSON_Parse (h->str);
    freeReplyObject (h);
    snprintf (text, sizeof text, "1d100 = %.0f", wcheck_num (r, "total"));
    CHECK (entry && strcmp (wcheck_str (entry, "text"), text) == 0);
    cJSON_Delete (entry);
    cJSON_Delete (r);
    /* one's own user room; no name in the token: the user id */
    r = wcheck_ok_as (0, &s_out, "roll", "{\"room\":\"user:o1\",\"expression\":\"1d20\"}");
    CHECK (strcmp (wcheck_str (r, "name"), "o1") == 0);
    wcheck_event ("user:o1", "roll:result", "", r, NULL);
    cJSON_Delete (r);
}

static void
s_secret (void)
{
    long long c1 = s_llen ("pl:chat:campaign:c1"), s1 = s_llen ("pl:chat:session:s1");
    cJSON *r = wcheck_ok_as (0, &s_gm, "roll",
                             "{\"room\":\"campaign:c1\",\"expression\":\"2d20kl1\",\"secret\":true}");
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (r, "secret")));
    CHECK (strcmp (wcheck_str (r, "room"), "campaign:c1") == 0);
    wcheck_event ("campaign:c1:gm", "roll:result", "", r, NULL);
    cJSON_Delete (r);
    /* a session's room: its campaign's GMs */
    r = wcheck_ok_as (0, &s_gm, "roll",
                      "{\"room\":\"session:s1\",\"expression\":\"1d20\",\"secret\":true}");
    wcheck_event ("campaign:c1:gm", "roll:result", "", r, NULL);
    cJSON_Delete (r);
    wcheck_quiet (100);
    CHECK (s_llen ("pl:chat:campaign:c1") == c1 && s_llen ("pl:chat:session:s1") == s1);
    /* secret: false is public */
    r = wcheck_ok_as (0, &s_p1, "roll",
                      "{\"room\":\"campaign:c1\",\"expression\":\"1d6\",\"secret\":false}");
    wcheck_event ("campaign:c1", "roll:result", "", r, NULL);
    cJSON_Delete (r);
    CHECK (s_llen ("pl:chat:campaign:c1") == c1 + 1);
    /* a player may not; a room of no campaign cannot */
    wcheck_err_as (0, &s_p1, "roll",
                   "{\"room\":\"campaign:c1\",\"expression\":\"1d6\",\"secret\":true}", "FORBIDDEN");
    wcheck_err_as (0, &s_p1, "roll",
                   "{\"room\":\"session:s1\",\"expression\":\"1d6\",\"secret\":true}", "FORBIDDEN");
    wcheck_err_as (0, &s_gm, "roll",
                   "{\"room\":\"user:gm1\",\"expression\":\"1d6\",\"secret\":true}", "VALIDATION_ERROR");
    wcheck_err_as (0, &s_out, "roll",
                   "{\"room\":\"campaign:c1\",\"expression\":\"1d6\",\"secret\":true}", "FORBIDDEN");
    wcheck_quiet (100);
}

static void
s_refusals (void)
{
    long long c1 = s_llen ("pl:chat:campaign:c1");
    const char *forbidden[][2] = {
        { "o1", "campaign:c1" }, { "o1", "session:s1" }, { "p1", "campaign:c1:gm" },
        { "p1", "actor:a1" }, { "p1", "user:p2" }, { "p1", "session:none" },
    };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        wcheck_who_t who = { "gw-a", "9", forbidden[i][0], NULL };
        char body[128];
        snprintf (body, sizeof body, "{\"room\":\"%s\",\"expression\":\"1d6\"}", forbidden[i][1]);
        wcheck_err_as (0, &who, "roll", body, "FORBIDDEN");
    }
    const char *invalid[] = {
        NULL, "\"1d6\"", "[]", "{\"room\":\"campaign:c1\"}",
        "{\"room\":\"campaign:c1\",\"expression\":6}", "{\"expression\":\"1d6\"}",
        "{\"room\":\"lobby\",\"expression\":\"1d6\"}",
        "{\"room\":\"campaign:c1\",\"expression\":\"101d6\"}",
        "{\"room\":\"campaign:c1\",\"expression\":\"1d1001\"}",
        "{\"room\":\"campaign:c1\",\"expression\":\"d6 d6\"}",
        "{\"room\":\"campaign:c1\",\"expression\":\"\"}",
        "{\"room\":\"campaign:c1\",\"expression\":\"1d6\",\"label\":5}",
        "{\"room\":\"campaign:c1\",\"expression\":\"1d6\",\"secret\":1}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        wcheck_err_as (0, &s_p1, "roll", invalid[i], "VALIDATION_ERROR");
    /* the message names the problem and where */
    cJSON *e = wcheck_error (0, "p1", "roll", "{\"room\":\"campaign:c1\",\"expression\":\"2d6+x\"}",
                             "VALIDATION_ERROR");
    CHECK (strstr (wcheck_str (e, "message"), "expression: at 5: expected a die"));
    cJSON_Delete (e);
    wcheck_quiet (150);                      /* refused: nothing sent */
    CHECK (s_llen ("pl:chat:campaign:c1") == c1);  /* nor kept */
}

/* Rolls and chat share the room's bound of 100. */
static void
s_bound (void)
{
    for (int i = 0; i < 105; i++)
        wcheck_send_as (0, &s_p1, "roll", "{\"room\":\"campaign:c3\",\"expression\":\"1d20\"}");
    wcheck_replies_ok (105);
    wcheck_drain (200);
    CHECK (s_llen ("pl:chat:campaign:c3") == 100);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-dice-check /path/to/parley-rules [-v]\n");
        return 2;
    }
    wcheck_init ("dice_check", strcmp (argv[argc - 1], "-v") == 0);
    wcheck_worker (0, argv[1], "rules", NULL);
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c1:members gm1 gm p1 player"));
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c3:members p1 player"));
    freeReplyObject (wcheck_redis ("HSET pl:session:s1 campaignId c1"));
    wcheck_who_t probe = { "gw-p", "1", "probe", NULL };
    wcheck_probe_as (0, &probe, "roll", "{\"room\":\"user:probe\",\"expression\":\"d4\"}");
    printf ("dice_check: public\n");
    s_public ();
    printf ("dice_check: secret\n");
    s_secret ();
    printf ("dice_check: refusals\n");
    s_refusals ();
    printf ("dice_check: bound\n");
    s_bound ();
    wcheck_done ();
    return 0;
}
