/*  parley-chat-check - a real parley-chat worker against a private
 *  redis-server, with this program playing broker and event proxy
 *  (tests/workers/wcheck.h).
 *
 *      parley-chat-check /path/to/parley-chat [-v]
 *
 *  Checks who may chat where, the message and its push (the sender not left
 *  out), the text limit in code points, and the history: 100 kept, oldest
 *  first, limit.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wcheck_who_t s_p1  = { "gw-a", "2", "p1", "Player One" };
static const wcheck_who_t s_p2  = { "gw-a", "3", "p2", NULL };
static const wcheck_who_t s_out = { "gw-a", "4", "o1", NULL };

/* A chat:send body of count copies of the UTF-8 character ch. */
static char *
s_text_body (const char *room, const char *ch, int count)
{
    size_t clen = strlen (ch);
    char *body = malloc (clen * (size_t) count + 128);
    char *p = body + sprintf (body, "{\"room\":\"%s\",\"text\":\"", room);
    for (int i = 0; i < count; i++, p += clen)
        memcpy (p, ch, clen);
    strcpy (p, "\"}");
    return body;
}

static void
s_send (void)
{
    int64_t before = pl_id_wall_ms ();
    cJSON *m = wcheck_ok_as (0, &s_p1, "chat:send", "{\"room\":\"campaign:c1\",\"text\":\"héllo\"}");
    CHECK (cJSON_GetArraySize (m) == 6);
    CHECK (pl_id_is_uuid (cJSON_GetObjectItem (m, "id")->valuestring));
    CHECK (strcmp (cJSON_GetObjectItem (m, "room")->valuestring, "campaign:c1") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (m, "userId")->valuestring, "p1") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (m, "name")->valuestring, "Player One") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (m, "text")->valuestring, "héllo") == 0);
    double ts = cJSON_GetObjectItem (m, "ts")->valuedouble;
    CHECK (ts >= (double) before && ts <= (double) pl_id_wall_ms ());
    /* to the whole room, the sender's connection included (origin "") */
    wcheck_event ("campaign:c1", "chat:message", "", m, NULL);
    cJSON_Delete (m);
    /* no name in the token: the user id */
    m = wcheck_ok_as (0, &s_p2, "chat:send", "{\"room\":\"session:s1\",\"text\":\"x\"}");
    CHECK (strcmp (cJSON_GetObjectItem (m, "name")->valuestring, "p2") == 0);
    wcheck_event ("session:s1", "chat:message", "", m, NULL);
    cJSON_Delete (m);
    /* one's own user room works too */
    m = wcheck_ok_as (0, &s_out, "chat:send", "{\"room\":\"user:o1\",\"text\":\"note to self\"}");
    wcheck_event ("user:o1", "chat:message", "", m, NULL);
    cJSON_Delete (m);

    /* refusals: not a member, internal, reserved, someone else's room */
    const char *forbidden[][2] = {
        { "o1", "campaign:c1" }, { "o1", "session:s1" }, { "p1", "campaign:c1:gm" },
        { "p1", "actor:a1" }, { "p1", "user:p2" }, { "p1", "session:none" },
    };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        wcheck_who_t who = { "gw-a", "9", forbidden[i][0], NULL };
        char body[128];
        snprintf (body, sizeof body, "{\"room\":\"%s\",\"text\":\"hi\"}", forbidden[i][1]);
        wcheck_err_as (0, &who, "chat:send", body, "FORBIDDEN");
        snprintf (body, sizeof body, "{\"room\":\"%s\"}", forbidden[i][1]);
        wcheck_err_as (0, &who, "chat:history", body, "FORBIDDEN");
    }
    const char *invalid[] = {
        NULL, "\"hi\"", "{\"room\":\"campaign:c1\"}", "{\"room\":\"campaign:c1\",\"text\":\"\"}",
        "{\"room\":\"campaign:c1\",\"text\":7}", "{\"room\":\"campaign:c1\",\"text\":null}",
        "{\"text\":\"hi\"}", "{\"room\":\"lobby\",\"text\":\"hi\"}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        wcheck_err_as (0, &s_p1, "chat:send", invalid[i], "VALIDATION_ERROR");
    wcheck_quiet (150);                      /* refused: nothing sent */
}

/* 2,000 characters are fine whatever their UTF-8 length; 2,001 are not. */
static void
s_limits (void)
{
    const char *chars[] = { "a", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
                            "\xf0\x9f\x98\x80" /* 😀 */ };
    for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
        char *body = s_text_body ("campaign:c2", chars[i], 2000);
        cJSON *m = wcheck_ok_as (0, &s_p1, "chat:send", body);
        CHECK (strlen (cJSON_GetObjectItem (m, "text")->valuestring) == 2000 * strlen (chars[i]));
        wcheck_event ("campaign:c2", "chat:message", "", m, NULL);
        cJSON_Delete (m);
        free (body);
        body = s_text_body ("campaign:c2", chars[i], 2001);
        wcheck_err_as (0, &s_p1, "chat:send", body, "VALIDATION_ERROR");
        free (body);
    }
    /* an escaped character counts once, as what it decodes to */
    char *body = s_text_body ("campaign:c2", "\\u00e9", 2000);
    cJSON *m = wcheck_ok_as (0, &s_p1, "chat:send", body);
    cJSON_Delete (m);
    free (body);
    wcheck_drain (100);
    freeReplyObject (wcheck_redis ("DEL pl:chat:campaign:c2"));
}

static void
s_history (void)
{
    cJSON *list = wcheck_ok_as (0, &s_p1, "chat:history", "{\"room\":\"campaign:c3\"}");
    CHECK (cJSON_IsArray (list) && cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    for (int i = 0; i < 105; i++) {
        char body[96];
        snprintf (body, sizeof body, "{\"room\":\"campaign:c3\",\"text\":\"m%d\"}", i);
        wcheck_send_as (0, i % 2 ? &s_p1 : &s_p2, "chat:send", body);
    }
    wcheck_replies_ok (105);
    wcheck_drain (200);
    redisReply *r = wcheck_redis ("LLEN pl:chat:campaign:c3");
    CHECK (r->integer == 100);
    freeReplyObject (r);
    /* default: all 100 kept, oldest first: m5 .. m104 */
    list = wcheck_ok_as (0, &s_p2, "chat:history", "{\"room\":\"campaign:c3\"}");
    CHECK (cJSON_GetArraySize (list) == 100);
    for (int i = 0; i < 100; i++) {
        char want[16];
        snprintf (want, sizeof want, "m%d", i + 5);
        cJSON *msg = cJSON_GetArrayItem (list, i);
        CHECK (strcmp (cJSON_GetObjectItem (msg, "text")->valuestring, want) == 0);
        CHECK (strcmp (cJSON_GetObjectItem (msg, "userId")->valuestring, (i + 5) % 2 ? "p1" : "p2") == 0);
        CHECK (strcmp (cJSON_GetObjectItem (msg, "room")->valuestring, "campaign:c3") == 0);
    }
    cJSON_Delete (list);
    list = wcheck_ok_as (0, &s_p2, "chat:history", "{\"room\":\"campaign:c3\",\"limit\":3}");
    CHECK (cJSON_GetArraySize (list) == 3);
    CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 0), "text")->valuestring, "m102") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 2), "text")->valuestring, "m104") == 0);
    cJSON_Delete (list);
    list = wcheck_ok_as (0, &s_p2, "chat:history", "{\"room\":\"campaign:c3\",\"limit\":100}");
    CHECK (cJSON_GetArraySize (list) == 100);
    cJSON_Delete (list);
    list = wcheck_ok_as (0, &s_p2, "chat:history", "{\"room\":\"campaign:c3\",\"limit\":1}");
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    /* past long's range too (1e999 parses as inf): no cast may see them */
    const char *bad[] = { "0", "101", "1.5", "-1", "\"3\"", "true", "1e300", "-1e300", "1e999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[96];
        snprintf (body, sizeof body, "{\"room\":\"campaign:c3\",\"limit\":%s}", bad[i]);
        wcheck_err_as (0, &s_p2, "chat:history", body, "VALIDATION_ERROR");
    }
    wcheck_err_as (0, &s_p2, "chat:history", NULL, "VALIDATION_ERROR");
    wcheck_err_as (0, &s_p2, "chat:history", "{\"room\":\"lobby\"}", "VALIDATION_ERROR");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-chat-check /path/to/parley-chat [-v]\n");
        return 2;
    }
    wcheck_init ("chat_check", strcmp (argv[argc - 1], "-v") == 0);
    wcheck_worker (0, argv[1], "chat", NULL);
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c1:members gm1 gm p1 player p2 player"));
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c2:members p1 player"));
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c3:members p1 player p2 gm"));
    freeReplyObject (wcheck_redis ("HSET pl:session:s1 campaignId c1"));
    wcheck_who_t probe = { "gw-p", "1", "probe", NULL };
    wcheck_probe_as (0, &probe, "chat:send", "{\"room\":\"user:probe\",\"text\":\"p\"}");
    printf ("chat_check: send\n");
    s_send ();
    printf ("chat_check: limits\n");
    s_limits ();
    printf ("chat_check: history\n");
    s_history ();
    wcheck_done ();
    return 0;
}
