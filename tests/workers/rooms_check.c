/*  parley-rooms-check - two real parley-rooms workers against a private
 *  redis-server, with this program playing broker and event proxy
 *  (tests/workers/wcheck.h).
 *
 *      parley-rooms-check /path/to/parley-rooms [-v]
 *
 *  Checks subscribe's authorization (outsiders, non-session-members, the
 *  GM room, reserved kinds), its join directives, presence with several
 *  connections of one user across gateways and workers (one joined, one
 *  left), presence:drop, a gateway whose liveness expires (swept), a
 *  gateway that restarts (new boot id), and the publish budget's outbox.
 */
#include "wcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wcheck_who_t s_gm_a   = { "gw-a", "1", "gm1", "Gm One" };
static const wcheck_who_t s_gm_b   = { "gw-b", "5", "gm1", "Gm One" };
static const wcheck_who_t s_p1_a   = { "gw-a", "2", "p1", NULL };
static const wcheck_who_t s_p1_b   = { "gw-b", "7", "p1", NULL };
static const wcheck_who_t s_p2     = { "gw-a", "3", "p2", "Two" };

static void s_alive (int w, const char *gw, const char *boot, int ttl);

/* Expect success with exactly these directives (JSON text, or NULL). */
static void
s_ok_dir (int w, const wcheck_who_t *who, const char *event, const char *body, const char *dirs)
{
    cJSON *directives = NULL;
    cJSON *reply = wcheck_call_as (w, who, event, body, &directives);
    if (strcmp (wcheck_code (reply), "") != 0)
        fprintf (stderr, "%s %s -> %s\n", event, body, cJSON_PrintUnformatted (reply));
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    cJSON *room = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "data"), "room");
    cJSON *arg = cJSON_Parse (body);
    CHECK (cJSON_IsString (room)
           && strcmp (room->valuestring, cJSON_GetObjectItem (arg, "room")->valuestring) == 0);
    if (dirs) {
        cJSON *want = cJSON_Parse (dirs);
        if (!cJSON_Compare (directives, want, true))
            fprintf (stderr, "directives %s, want %s\n",
                     directives ? cJSON_PrintUnformatted (directives) : "none", dirs);
        CHECK (cJSON_Compare (directives, want, true));
        cJSON_Delete (want);
    }
    else
        CHECK (directives == NULL);
    cJSON_Delete (arg);
    cJSON_Delete (directives);
    cJSON_Delete (reply);
}

/* Expect presence:list of room, as who, to be want (JSON text). */
static void
s_list_is (int w, const wcheck_who_t *who, const char *room, const char *want)
{
    char body[200];
    snprintf (body, sizeof body, "{\"room\":\"%s\"}", room);
    cJSON *list = wcheck_ok_as (w, who, "presence:list", body);
    cJSON *expected = cJSON_Parse (want);
    if (!cJSON_Compare (list, expected, true))
        fprintf (stderr, "presence:list %s = %s, want %s\n", room, cJSON_PrintUnformatted (list), want);
    CHECK (cJSON_Compare (list, expected, true));
    cJSON_Delete (expected);
    cJSON_Delete (list);
}

static void
s_seed (void)
{
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c1:members gm1 gm p1 player p2 player"));
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c2:members o1 gm"));
    freeReplyObject (wcheck_redis ("HSET pl:session:s1 campaignId c1"));
    freeReplyObject (wcheck_redis ("HSET pl:session:s2 campaignId c2"));
    freeReplyObject (wcheck_redis ("HSET pl:campaign:probe:members probe gm"));
    for (int i = 0; i < 20; i++) {
        freeReplyObject (wcheck_redis ("HSET pl:campaign:m%d:members p3 player", i));
    }
}

/* A PUB sends nothing until it has our subscription: subscribe (and drop)
 * the probe user from new gateways until an event is heard from each
 * worker. */
static void
s_probe (void)
{
    for (int w = 0; w < 2; w++) {
        bool heard = false;
        for (int i = 0; i < 50 && !heard; i++) {
            char gw[32];
            snprintf (gw, sizeof gw, "gw-probe%d-%d", w, i);
            wcheck_who_t who = { gw, "1", "probe", NULL };
            cJSON *d = wcheck_ok_as (w, &who, "subscribe", "{\"room\":\"campaign:probe\"}");
            cJSON_Delete (d);
            d = wcheck_ok_as (w, &who, "presence:drop", NULL);
            cJSON_Delete (d);
            wcheck_bus_t bus;
            heard = wcheck_bus_next (&bus, 50);
            if (heard)
                wcheck_bus_clear (&bus);
        }
        CHECK (heard);
    }
    wcheck_drain (100);
}

static void
s_authorization (void)
{
    const char *forbidden[][2] = {
        { "o1", "{\"room\":\"campaign:c1\"}" },        /* outsider */
        { "o1", "{\"room\":\"session:s1\"}" },         /* not of the session's campaign */
        { "gm1", "{\"room\":\"session:s2\"}" },
        { "gm1", "{\"room\":\"session:nope\"}" },      /* no such session */
        { "gm1", "{\"room\":\"campaign:c1:gm\"}" },    /* internal */
        { "gm1", "{\"room\":\"actor:a1\"}" },          /* reserved kinds */
        { "gm1", "{\"room\":\"item:i1\"}" },
        { "gm1", "{\"room\":\"scene:x\"}" },
        { "gm1", "{\"room\":\"user:p1\"}" },           /* someone else's */
        { "gm1", "{\"room\":\"campaign:nope\"}" },
    };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        wcheck_who_t who = { "gw-a", "9", forbidden[i][0], NULL };
        wcheck_err_as (0, &who, "subscribe", forbidden[i][1], "FORBIDDEN");
        wcheck_err_as (1, &who, "presence:list", forbidden[i][1], "FORBIDDEN");
    }
    const char *invalid[] = { NULL, "\"campaign:c1\"", "{}", "{\"room\":7}", "{\"room\":\"lobby\"}",
                              "{\"room\":\"campaign:\"}", "{\"room\":\"campaign:a b\"}" };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        wcheck_err_as (0, &s_gm_a, "subscribe", invalid[i], "VALIDATION_ERROR");
        wcheck_err_as (0, &s_gm_a, "unsubscribe", invalid[i], "VALIDATION_ERROR");
    }
    /* refused subscribes recorded nothing and told nobody */
    wcheck_quiet (200);
    redisReply *r = wcheck_redis ("KEYS pl:presence:conn:gw-a/9");
    CHECK (r->elements == 0);
    freeReplyObject (r);
    /* one's own user room: a no-op success; leaving it is refused */
    s_ok_dir (0, &s_gm_a, "subscribe", "{\"room\":\"user:gm1\"}", NULL);
    wcheck_err_as (0, &s_gm_a, "unsubscribe", "{\"room\":\"user:gm1\"}", "VALIDATION_ERROR");
    wcheck_err_as (0, &s_gm_a, "unsubscribe", "{\"room\":\"campaign:c1:gm\"}", "VALIDATION_ERROR");
    s_list_is (0, &s_gm_a, "user:gm1", "[]");
    wcheck_quiet (100);
}

static void
s_presence (void)
{
    /* a GM joins the GM room with the campaign room; joined once */
    s_ok_dir (0, &s_gm_a, "subscribe", "{\"room\":\"campaign:c1\"}",
              "{\"join\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-a/1",
                          "{\"room\":\"campaign:c1\",\"userId\":\"gm1\",\"name\":\"Gm One\"}", NULL);
    /* the same connection again: idempotent, no second event */
    s_ok_dir (1, &s_gm_a, "subscribe", "{\"room\":\"campaign:c1\"}",
              "{\"join\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_quiet (150);
    /* a player: no GM room; name falls back to the user id */
    s_ok_dir (0, &s_p1_a, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-a/2",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p1\",\"name\":\"p1\"}", NULL);
    /* the player's second tab, on another gateway, through the other worker */
    s_ok_dir (1, &s_p1_b, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_quiet (200);
    /* a member who did not subscribe may list; sorted by user id */
    s_list_is (1, &s_p2, "campaign:c1",
               "[{\"userId\":\"gm1\",\"name\":\"Gm One\"},{\"userId\":\"p1\",\"name\":\"p1\"}]");
    /* one tab leaves: still present, no event */
    s_ok_dir (0, &s_p1_a, "unsubscribe", "{\"room\":\"campaign:c1\"}",
              "{\"leave\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_quiet (200);
    s_list_is (0, &s_p2, "campaign:c1",
               "[{\"userId\":\"gm1\",\"name\":\"Gm One\"},{\"userId\":\"p1\",\"name\":\"p1\"}]");
    /* leaving again, or a room one was never in, succeeds */
    s_ok_dir (1, &s_p1_a, "unsubscribe", "{\"room\":\"campaign:c1\"}",
              "{\"leave\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    s_ok_dir (1, &s_p1_a, "unsubscribe", "{\"room\":\"user:gm1\"}", NULL);
    s_ok_dir (1, &s_p1_a, "unsubscribe", "{\"room\":\"actor:a1\"}", NULL);
    wcheck_quiet (150);
    /* the last tab closes: left, once */
    cJSON *d = wcheck_ok_as (1, &s_p1_b, "presence:drop", NULL);
    cJSON_Delete (d);
    wcheck_event_text ("campaign:c1", "presence:left", "",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p1\",\"name\":\"p1\"}", NULL);
    d = wcheck_ok_as (0, &s_p1_b, "presence:drop", NULL);       /* a second drop: nothing */
    cJSON_Delete (d);
    wcheck_quiet (150);
    s_list_is (0, &s_p2, "campaign:c1", "[{\"userId\":\"gm1\",\"name\":\"Gm One\"}]");

    /* the GM's two tabs; the last unsubscribe is a left (origin left out) */
    s_ok_dir (0, &s_gm_b, "subscribe", "{\"room\":\"campaign:c1\"}",
              "{\"join\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_quiet (150);
    s_ok_dir (0, &s_gm_a, "unsubscribe", "{\"room\":\"campaign:c1\"}",
              "{\"leave\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_quiet (150);
    s_ok_dir (1, &s_gm_b, "unsubscribe", "{\"room\":\"campaign:c1\"}",
              "{\"leave\":[\"campaign:c1\",\"campaign:c1:gm\"]}");
    wcheck_event_text ("campaign:c1", "presence:left", "gw-b/5",
                          "{\"room\":\"campaign:c1\",\"userId\":\"gm1\",\"name\":\"Gm One\"}", NULL);
    s_list_is (0, &s_p2, "campaign:c1", "[]");

    /* a session room: members of the session's campaign */
    s_ok_dir (0, &s_p2, "subscribe", "{\"room\":\"session:s1\"}", "{\"join\":[\"session:s1\"]}");
    wcheck_event_text ("session:s1", "presence:joined", "gw-a/3",
                          "{\"room\":\"session:s1\",\"userId\":\"p2\",\"name\":\"Two\"}", NULL);
    s_ok_dir (0, &s_p2, "unsubscribe", "{\"room\":\"session:s1\"}", "{\"leave\":[\"session:s1\"]}");
    wcheck_event_text ("session:s1", "presence:left", "gw-a/3",
                          "{\"room\":\"session:s1\",\"userId\":\"p2\",\"name\":\"Two\"}", NULL);
    /* the records are all gone */
    redisReply *r = wcheck_redis ("KEYS pl:presence:c*");
    CHECK (r->elements == 0);
    freeReplyObject (r);
}

static void
s_alive (int w, const char *gw, const char *boot, int ttl)
{
    char body[128];
    wcheck_who_t who = { gw, "0", "-", NULL };
    snprintf (body, sizeof body, "{\"boot\":\"%s\",\"ttlMs\":%d}", boot, ttl);
    cJSON *d = wcheck_ok_as (w, &who, "presence:alive", body);
    cJSON_Delete (d);
}

static void
s_gateways (void)
{
    wcheck_who_t gw_a = { "gw-a", "0", "-", NULL };
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"\",\"ttlMs\":1000}", "VALIDATION_ERROR");
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"b\",\"ttlMs\":1.5}", "VALIDATION_ERROR");
    /* past long's range (1e999 parses as inf): no cast may see them */
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"b\",\"ttlMs\":1e300}", "VALIDATION_ERROR");
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"b\",\"ttlMs\":-1e300}", "VALIDATION_ERROR");
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"b\",\"ttlMs\":1e999}", "VALIDATION_ERROR");
    wcheck_err_as (0, &gw_a, "presence:alive", "{\"boot\":\"b\"}", "VALIDATION_ERROR");

    /* a gateway that stops saying it is alive is swept, within ttl + 1 s */
    s_alive (0, "gw-s", "b1", 400);
    wcheck_who_t p2s = { "gw-s", "1", "p2", "Two" };
    s_ok_dir (0, &p2s, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-s/1",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p2\",\"name\":\"Two\"}", NULL);
    /* kept alive for a while: not swept */
    for (int i = 0; i < 4; i++) {
        wcheck_pause (200);
        s_alive (1, "gw-s", "b1", 400);
    }
    wcheck_quiet (10);
    s_list_is (0, &s_gm_a, "campaign:c1", "[{\"userId\":\"p2\",\"name\":\"Two\"}]");
    /* silent past its due while another gateway is heard: swept */
    wcheck_quiet (450);
    s_alive (0, "gw-a", "a1", 60000);
    wcheck_event_text ("campaign:c1", "presence:left", "",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p2\",\"name\":\"Two\"}", NULL);
    s_list_is (0, &s_gm_a, "campaign:c1", "[]");
    redisReply *r = wcheck_redis ("SISMEMBER pl:presence:gateways gw-s");
    CHECK (r->integer == 0);
    freeReplyObject (r);

    /* a restarted gateway (new boot id) loses its old records at once */
    s_alive (1, "gw-c", "x1", 10000);
    wcheck_who_t p1c = { "gw-c", "1", "p1", NULL };
    s_ok_dir (1, &p1c, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-c/1",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p1\",\"name\":\"p1\"}", NULL);
    s_alive (0, "gw-c", "x1", 10000);           /* same boot: nothing */
    wcheck_quiet (200);
    s_alive (0, "gw-c", "x2", 10000);
    wcheck_event_text ("campaign:c1", "presence:left", "",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p1\",\"name\":\"p1\"}", NULL);
    s_list_is (1, &s_gm_a, "campaign:c1", "[]");

    /* a connection that never got an alive from its gateway is swept
     * after the grace (PARLEY_PRESENCE_TTL_MS, 600 ms here) */
    wcheck_who_t p1g = { "gw-ghost", "1", "p1", NULL };
    s_ok_dir (1, &p1g, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-ghost/1", NULL, NULL);
    wcheck_bus_t bus;
    CHECK (wcheck_bus_next (&bus, 2500));
    CHECK (strcmp (bus.room, "campaign:c1") == 0
           && strcmp (cJSON_GetArrayItem (bus.packet, 0)->valuestring, "presence:left") == 0);
    wcheck_bus_clear (&bus);
}

/* A connection in 20 rooms drops: 16 lefts at once (the publish budget),
 * the other 4 from the outbox at the next sweep; each exactly once. */
static void
s_outbox (void)
{
    wcheck_who_t p3 = { "gw-a", "30", "p3", NULL };
    for (int i = 0; i < 20; i++) {
        char body[64];
        snprintf (body, sizeof body, "{\"room\":\"campaign:m%d\"}", i);
        cJSON *d = wcheck_ok_as (i % 2, &p3, "subscribe", body);
        cJSON_Delete (d);
    }
    wcheck_drain (200);
    cJSON *d = wcheck_ok_as (0, &p3, "presence:drop", NULL);
    cJSON_Delete (d);
    bool seen[20] = { false };
    int count = 0;
    wcheck_bus_t bus;
    while (count < 20 && wcheck_bus_next (&bus, 2500)) {
        CHECK (strcmp (cJSON_GetArrayItem (bus.packet, 0)->valuestring, "presence:left") == 0);
        int m = atoi (bus.room + strlen ("campaign:m"));
        CHECK (m >= 0 && m < 20 && !seen[m]);
        seen[m] = true;
        count++;
        wcheck_bus_clear (&bus);
    }
    CHECK (count == 20);
    wcheck_quiet (1200);                     /* and no more, after a sweep */
    redisReply *r = wcheck_redis ("EXISTS pl:presence:outbox");
    CHECK (r->integer == 0);
    freeReplyObject (r);
}

/* An outage of the path (no alive from any gateway gets through, as when
 * the broker is down) sweeps nobody: a connection whose gateway's alive
 * lapsed meanwhile stays present. Once a gateway is heard again, the
 * silent one is swept, but only after a ttl (600 ms here) of hearing. */
static void
s_outage (void)
{
    redisReply *r = wcheck_redis ("DEL pl:presence:heard");     /* nobody heard */
    freeReplyObject (r);
    wcheck_who_t p2d = { "gw-dead", "1", "p2", "Two" };
    s_ok_dir (0, &p2d, "subscribe", "{\"room\":\"campaign:c1\"}", "{\"join\":[\"campaign:c1\"]}");
    wcheck_event_text ("campaign:c1", "presence:joined", "gw-dead/1",
                          "{\"room\":\"campaign:c1\",\"userId\":\"p2\",\"name\":\"Two\"}", NULL);
    wcheck_quiet (2000);                        /* its grace lapsed: no sweep */
    s_list_is (0, &s_gm_a, "campaign:c1", "[{\"userId\":\"p2\",\"name\":\"Two\"}]");
    s_alive (1, "gw-r", "r1", 5000);            /* the path is back */
    wcheck_quiet (400);
    s_list_is (0, &s_gm_a, "campaign:c1", "[{\"userId\":\"p2\",\"name\":\"Two\"}]");
    wcheck_bus_t bus;
    CHECK (wcheck_bus_next (&bus, 2500));
    CHECK (strcmp (bus.room, "campaign:c1") == 0
           && strcmp (cJSON_GetArrayItem (bus.packet, 0)->valuestring, "presence:left") == 0);
    wcheck_bus_clear (&bus);
    s_list_is (1, &s_gm_a, "campaign:c1", "[]");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-rooms-check /path/to/parley-rooms [-v]\n");
        return 2;
    }
    wcheck_init ("rooms_check", strcmp (argv[argc - 1], "-v") == 0);
    const char *env[] = { "PARLEY_PRESENCE_TTL_MS=600", NULL };
    wcheck_worker (0, argv[1], "rooms", env);
    wcheck_worker (1, argv[1], "rooms", env);
    s_seed ();
    s_probe ();
    /* the test's steady gateways; their records must outlive the grace */
    s_alive (0, "gw-a", "a1", 60000);
    s_alive (1, "gw-b", "b1", 60000);
    printf ("rooms_check: authorization\n");
    s_authorization ();
    printf ("rooms_check: presence\n");
    s_presence ();
    printf ("rooms_check: gateways (sweep, boot, grace)\n");
    s_gateways ();
    printf ("rooms_check: outbox\n");
    s_outbox ();
    printf ("rooms_check: outage (no gateway heard: no sweep)\n");
    s_outage ();
    wcheck_done ();
    return 0;
}
