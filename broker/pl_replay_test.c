/*  pl_replay selftest: the log, sessions, claims and replays through the
 *  public API only (pl_replay.h), with a send callback that records what
 *  the broker would send to gateways.
 */
#include "pl_replay.h"
#include "pl_proto.h"

#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static struct {
    int count;
    char last[8][512];                  /* frames of the last message, as text */
    int frames;
    char replayed[32][1200];            /* packets of REPLAY events, in order  */
    int nreplayed;
} s_out;

/* pl_replay_send_fn of the test; runs on the test's thread */
static void
s_test_send (void *arg, const pl_zmsg_part_t *parts, int count)
{
    (void) arg;
    s_out.count++;
    s_out.frames = count;
    for (int i = 0; i < count && i < 8; i++)
        snprintf (s_out.last[i], sizeof s_out.last[i], "%.*s", (int) parts[i].size,
                  (const char *) parts[i].data);
    if (count == 8 && s_out.nreplayed < 32)
        snprintf (s_out.replayed[s_out.nreplayed++], 1200, "%s %s %.*s", s_out.last[4],
                  s_out.last[5], (int) parts[6].size, (const char *) parts[6].data);
}

static void
s_test_msg (pl_replay_t *r, int64_t now, int n, const char **frames)
{
    pl_zmsg_t msg;
    memset (&msg, 0, sizeof msg);
    for (int i = 0; i < n; i++) {
        zmq_msg_init_size (&msg.frame[i], strlen (frames[i]));
        memcpy (zmq_msg_data (&msg.frame[i]), frames[i], strlen (frames[i]));
    }
    msg.count = n;
    pl_replay_message (r, &msg, now);
    pl_zmsg_close (&msg);
}

static void
s_test_rec (pl_replay_t *r, int64_t now, bool control, const char *topic, const char *origin,
            const char *packet, const char *except, char *offset)
{
    pl_replay_record (r, now, control, topic, strlen (topic), origin, strlen (origin),
                      packet, strlen (packet), except, except ? strlen (except) : 0, offset);
}

/* zloop timer of the test; runs on the test's loop: ends it. */
static int
s_test_stop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

static void
s_test_sub (pl_replay_t *r, const char *nonce)
{
    char buf[256];
    buf[0] = 1;
    strcpy (buf + 1, nonce);
    pl_replay_subscription (r, buf, strlen (nonce) + 2);
}

void
pl_replay_test (bool verbose)
{
    if (verbose)
        printf (" * pl_replay: ");
    pl_replay_opts_t opts = { .max_ms = 1000, .max_bytes = 4096, .wait_ms = 500,
                              .boot_ms = 0x123456789aLL, .send = s_test_send };
    pl_replay_t *r = pl_replay_new (&opts);
    assert (r);
    char off[8][PL_REPLAY_OFFSET_LEN + 1];
    s_test_rec (r, 0, false, "user:bob", "", "[\"a\",1]", NULL, off[0]);
    assert (strcmp (off[0], "00123456789a-000000000001") == 0);
    assert (pl_replay_messages (r) == 1);

    /* open, then saved with rooms */
    const char *open[] = { "gw1", "PL01", "SESS", "pid1", "{\"state\":\"open\",\"sub\":\"bob\"}" };
    s_test_msg (r, 0, 5, open);
    const char *nul[] = { "gw1", "PL01", "SESS", "pid9", "{\"state\":\"open\",\"sub\":\"b\\u0000x\"}" };
    s_test_msg (r, 0, 5, nul);                          /* refused: NUL */
    assert (pl_replay_sessions (r) == 1);
    s_test_rec (r, 1, false, "campaign:c1", "", "[\"b\",2]", NULL, off[1]);
    /* a RECOVER before the save waits for it */
    const char *rec[] = { "gw2", "PL01", "RECOVER", "~recover/n1",
                          "{\"pid\":\"pid1\",\"sub\":\"bob\",\"offset\":\"00123456789a-000000000002\"}" };
    s_test_msg (r, 2, 5, rec);
    assert (s_out.count == 0);
    const char *save[] = { "gw1", "PL01", "SESS", "pid1",
        "{\"state\":\"saved\",\"sub\":\"bob\",\"origin\":\"gw1/7\",\"rooms\":[\"user:bob\",\"campaign:c1\"]}" };
    /* missed while away: an event, its own event, an except that leaves it
     * out, a grant, an event in the granted room, an eviction */
    s_test_rec (r, 3, false, "campaign:c1", "", "[\"c\",3]", NULL, off[2]);
    s_test_rec (r, 3, false, "campaign:c1", "gw1/7", "[\"own\",4]", NULL, off[3]);
    s_test_rec (r, 3, false, "campaign:c1", "", "[\"hidden\",5]", "[\"user:bob\"]", off[4]);
    s_test_rec (r, 3, true, "user:bob", "", "{\"join\":[\"campaign:c1:gm\"],\"within\":\"campaign:c1\"}", NULL, off[5]);
    s_test_rec (r, 3, false, "campaign:c1:gm", "", "[\"gm\",6]", NULL, off[6]);
    s_test_rec (r, 3, false, "campaign:c2", "", "[\"other\",7]", NULL, off[7]);
    s_test_msg (r, 4, 5, save);
    assert (s_out.count == 1 && s_out.frames == 5);
    assert (strcmp (s_out.last[2], "RECOVER") == 0 && strcmp (s_out.last[3], "~recover/n1") == 0);
    cJSON *ans = cJSON_Parse (s_out.last[4]);
    assert (cJSON_IsTrue (cJSON_GetObjectItem (ans, "ok")));
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (ans, "rooms")) == 3);
    cJSON_Delete (ans);
    /* a pid recovers once */
    const char *rec2[] = { "gw2", "PL01", "RECOVER", "~recover/n2",
                           "{\"pid\":\"pid1\",\"sub\":\"bob\"}" };
    s_test_msg (r, 4, 5, rec2);
    assert (s_out.count == 2 && strstr (s_out.last[4], "unknown session"));
    /* REPLAY before the nonce subscription waits; then all of it, in order */
    const char *rep[] = { "gw2", "PL01", "REPLAY", "~recover/n1" };
    s_test_msg (r, 5, 4, rep);
    assert (s_out.count == 2);
    s_test_sub (r, "~recover/other");
    assert (s_out.count == 2);
    s_test_sub (r, "~recover/n1");
    assert (s_out.nreplayed == 3);
    assert (strcmp (s_out.replayed[0], "EV campaign:c1 [\"c\",3]") == 0);
    assert (strncmp (s_out.replayed[1], "CTL user:bob ", 13) == 0);
    assert (strcmp (s_out.replayed[2], "EV campaign:c1:gm [\"gm\",6]") == 0);
    assert (strcmp (s_out.last[2], "REPLAY") == 0 && strstr (s_out.last[4], off[7]));
    assert (pl_replay_sessions (r) == 0);

    /* eviction while away: the room is not given back; wrong sub refused */
    s_out.nreplayed = 0;
    const char *open2[] = { "gw1", "PL01", "SESS", "pid2", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *save2[] = { "gw1", "PL01", "SESS", "pid2",
        "{\"state\":\"saved\",\"sub\":\"al\",\"origin\":\"gw1/8\",\"rooms\":[\"user:al\",\"campaign:c1\"]}" };
    s_test_msg (r, 10, 5, open2);
    s_test_msg (r, 10, 5, save2);
    char o[PL_REPLAY_OFFSET_LEN + 1];
    s_test_rec (r, 11, true, "user:al", "", "{\"leave\":[\"campaign:c1\"]}", NULL, o);
    s_test_rec (r, 11, false, "campaign:c1", "", "[\"after\",1]", NULL, o);
    const char *bad[] = { "gw2", "PL01", "RECOVER", "~recover/n3", "{\"pid\":\"pid2\",\"sub\":\"eve\"}" };
    s_test_msg (r, 12, 5, bad);
    assert (strstr (s_out.last[4], "another user"));
    const char *rec3[] = { "gw2", "PL01", "RECOVER", "~recover/n4", "{\"pid\":\"pid2\",\"sub\":\"al\"}" };
    s_test_msg (r, 12, 5, rec3);
    ans = cJSON_Parse (s_out.last[4]);
    assert (cJSON_IsTrue (cJSON_GetObjectItem (ans, "ok")));
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (ans, "rooms")) == 1);
    cJSON_Delete (ans);
    s_test_sub (r, "~recover/n4");
    const char *rep4[] = { "gw2", "PL01", "REPLAY", "~recover/n4" };
    s_test_msg (r, 12, 4, rep4);
    assert (s_out.nreplayed == 1 && strncmp (s_out.replayed[0], "CTL user:al", 11) == 0);

    /* expiry: old messages and sessions go; an older offset is refused */
    const char *open3[] = { "gw1", "PL01", "SESS", "pid3", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *save3[] = { "gw1", "PL01", "SESS", "pid3",
        "{\"state\":\"saved\",\"sub\":\"al\",\"origin\":\"gw1/9\",\"rooms\":[\"user:al\"]}" };
    s_test_msg (r, 13, 5, open3);
    s_test_msg (r, 13, 5, save3);
    pl_replay_expire (r, 1005);
    assert (pl_replay_messages (r) == 2);               /* those of t=11 */
    char rec5json[200];
    snprintf (rec5json, sizeof rec5json, "{\"pid\":\"pid3\",\"sub\":\"al\",\"offset\":\"%s\"}", off[0]);
    const char *rec5[] = { "gw2", "PL01", "RECOVER", "~recover/n5", rec5json };
    s_test_msg (r, 1005, 5, rec5);
    assert (strstr (s_out.last[4], "older than"));
    pl_replay_expire (r, 2000);
    assert (pl_replay_messages (r) == 0 && pl_replay_sessions (r) == 0);
    /* the byte bound */
    char big[1024];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 10; i++)
        s_test_rec (r, 2000, false, "user:al", "", big, NULL, o);
    assert (pl_replay_bytes (r) <= 4096 && pl_replay_messages (r) == 3);
    /* a waiter for a session never saved gets an answer at its deadline */
    const char *open4[] = { "gw1", "PL01", "SESS", "pid4", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *rec6[] = { "gw2", "PL01", "RECOVER", "~recover/n6", "{\"pid\":\"pid4\",\"sub\":\"al\"}" };
    s_test_msg (r, 2000, 5, open4);
    int before = s_out.count;
    s_test_msg (r, 2000, 5, rec6);
    assert (s_out.count == before);
    pl_replay_expire (r, 2600);
    assert (s_out.count == before + 1 && strstr (s_out.last[4], "never saved"));
    const char *end4[] = { "gw1", "PL01", "SESS", "pid4", "{\"state\":\"end\"}" };
    s_test_msg (r, 2600, 5, end4);
    assert (pl_replay_sessions (r) == 0);
    /* a claim waiting for a session that then ends (the client left on
     * purpose and reconnected at once) is answered at the end, not at its
     * deadline; another pid's waiter keeps waiting */
    const char *open5[] = { "gw1", "PL01", "SESS", "pid5", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *open6[] = { "gw1", "PL01", "SESS", "pid6", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *rec7[] = { "gw2", "PL01", "RECOVER", "~recover/n7", "{\"pid\":\"pid5\",\"sub\":\"al\"}" };
    const char *rec8[] = { "gw2", "PL01", "RECOVER", "~recover/n8", "{\"pid\":\"pid6\",\"sub\":\"al\"}" };
    const char *end5[] = { "gw1", "PL01", "SESS", "pid5", "{\"state\":\"end\"}" };
    s_test_msg (r, 2700, 5, open5);
    s_test_msg (r, 2700, 5, open6);
    before = s_out.count;
    s_test_msg (r, 2700, 5, rec7);
    s_test_msg (r, 2700, 5, rec8);
    assert (s_out.count == before);
    s_test_msg (r, 2710, 5, end5);
    assert (s_out.count == before + 1);
    assert (strcmp (s_out.last[3], "~recover/n7") == 0 && strstr (s_out.last[4], "ended"));
    pl_replay_expire (r, 3300);                         /* pid6's waiter: its deadline */
    assert (s_out.count == before + 2 && strcmp (s_out.last[3], "~recover/n8") == 0);
    pl_replay_destroy (&r);
    pl_replay_destroy (&r);

    /* a gateway gone silent (SIGKILLed: it saves nothing): its open
     * sessions are dropped after stale_ms; another gateway's that keeps
     * sending STATUS stay, and a saved one keeps its own clock */
    opts.stale_ms = 3000;
    r = pl_replay_new (&opts);
    assert (r);
    const char *oa[] = { "gwA", "PL01", "SESS", "pa1", "{\"state\":\"open\",\"sub\":\"bob\"}" };
    const char *oa2[] = { "gwA", "PL01", "SESS", "pa2", "{\"state\":\"open\",\"sub\":\"bob\"}" };
    const char *ob[] = { "gwB", "PL01", "SESS", "pb1", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *sb[] = { "gwB", "PL01", "SESS", "pb1",
                         "{\"state\":\"saved\",\"sub\":\"al\",\"origin\":\"gwB/1\",\"rooms\":[]}" };
    const char *ob2[] = { "gwB", "PL01", "SESS", "pb2", "{\"state\":\"open\",\"sub\":\"al\"}" };
    const char *stb[] = { "gwB", "PL01", "STATUS" };
    s_test_msg (r, 10000, 5, oa);
    s_test_msg (r, 10000, 5, oa2);
    s_test_msg (r, 10000, 5, ob);
    s_test_msg (r, 10000, 5, ob2);
    assert (pl_replay_sessions (r) == 4);
    s_test_msg (r, 12000, 3, stb);                      /* gwB alive, gwA silent */
    s_test_msg (r, 12500, 5, sb);                       /* pb1 saved: until 13500 */
    pl_replay_expire (r, 12999);
    assert (pl_replay_sessions (r) == 4);
    pl_replay_expire (r, 13000);                        /* gwA: 3000 ms unheard */
    assert (pl_replay_sessions (r) == 2);               /* pb1 saved, pb2 open */
    s_test_msg (r, 14500, 3, stb);
    pl_replay_expire (r, 14500);
    assert (pl_replay_sessions (r) == 1);               /* pb1 expired as saved */
    pl_replay_expire (r, 17500);
    assert (pl_replay_sessions (r) == 0);               /* gwB silent since 14500 */
    s_test_msg (r, 17500, 3, stb);                      /* alive, nothing open: fine */
    pl_replay_destroy (&r);

    /* attached to a loop, the log ages out on its own */
    opts.max_ms = 300;
    r = pl_replay_new (&opts);
    zloop_t *loop = zloop_new ();
    assert (r && loop);
    assert (pl_replay_attach (r, loop) == 0);
    s_test_rec (r, zclock_mono (), false, "user:al", "", "[\"x\",1]", NULL, o);
    assert (pl_replay_messages (r) == 1);
    int rc = zloop_timer (loop, 1500, 1, s_test_stop, NULL);
    assert (rc != -1);
    zloop_start (loop);
    assert (pl_replay_messages (r) == 0);
    pl_replay_destroy (&r);
    zloop_destroy (&loop);
    if (verbose)
        printf ("OK\n");
}
