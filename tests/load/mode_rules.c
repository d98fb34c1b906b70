/*  mode_rules - rule runs/s of one parley-rules: its bus, its Redis, and
 *  nothing else (no broker, no gateway, no actors worker).
 *
 *  The tool is the event proxy: it binds --events-in (an XSUB: the
 *  worker's PUB, PARLEY_EVENTS_XSUB) and --events-out (an XPUB: the
 *  worker's SUB, PARLEY_EVENTS_XPUB), and it plays the actors worker: it
 *  writes to --redis a campaign with a GM and --rules rules watching
 *  actors, and --users actors of it, then announces each actor
 *  (actor:updated {id, campaignId}, as the actors worker would) on the
 *  XPUB. For every announcement the runner reads the actor, its record
 *  and the campaign's rules again, evaluates every rule, and exactly one
 *  fires: rule 0 ("hp <= 0") or rule 1 ("hp > 0"), whose then sets hp to
 *  what it is - a write through the whole entity path (the role, the
 *  write-back decision, one compare-and-set commit of the record) that
 *  changes nothing, so the actor's version is the tool's. The other rules
 *  (`level >= 100 and conditions contains "rK"`) never fire, but are read,
 *  parsed and evaluated. The worker answers with state_invalidated on the
 *  XSUB; the tool then flips the actor's hp at the next version (SET) and
 *  announces it again. So a "run" is one whole round of the runner over
 *  --rules rules, and rule evaluations/s = runs/s x --rules.
 *
 *  Start the tool first (it binds), then the worker with
 *  PARLEY_EVENTS_XSUB/XPUB set to the two endpoints, PARLEY_REDIS_URL to
 *  --redis, and PARLEY_BROKER_BACKEND anywhere (no broker is needed: the
 *  bus works without one). The measurement starts once every actor has
 *  been answered once (so a slow joiner loses nothing measured); an actor
 *  whose answer is lost is announced again at a new version after 2 s
 *  (counted: "rekicks").
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_keys.h"
#include "pl_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_REKICK_NS 2000000000LL

typedef struct {
    pl_loadrun_t run;
    const pl_loadopt_t *o;
    void *zctx, *in, *out;          /* XSUB (the worker publishes), XPUB    */
    pl_redis_t *redis;
    char campaign[48], gm[48];
    uint32_t actors;
    uint64_t *version;              /* per actor                            */
    int64_t *sent_at;               /* ns of its last announcement          */
    bool *answered;                 /* warm-up: answered once               */
    uint32_t warm;                  /* how many are                         */
    bool measuring, running;
    int64_t start, end;
    uint64_t runs, in_window, rekicks, others, lost_writes;
    pl_loadhist_t *latency;
    uint32_t *due;                  /* actors answered in this wake-up ...  */
    uint32_t ndue;                  /* ... to write and announce together   */
} s_rules_t;

/* The actor's JSON at version v: hp 0 at even versions, 5 at odd ones;
 * with b, only added to the batch. */
static int
s_write_actor (s_rules_t *r, uint32_t i, uint64_t v, pl_redis_batch_t *b)
{
    char id[64], text[512];
    snprintf (id, sizeof id, "ba-%s-%u", r->run.nonce, i);
    snprintf (text, sizeof text,
              "{\"id\":\"%s\",\"campaignId\":\"%s\",\"name\":\"Bench %u\",\"type\":\"npc\","
              "\"hidden\":false,\"createdBy\":\"%s\",\"createdAt\":1,\"updatedAt\":1,"
              "\"version\":%llu,\"hp\":%d,\"level\":1,\"conditions\":[]}",
              id, r->campaign, i, r->gm, (unsigned long long) v, v % 2 ? 5 : 0);
    if (b) {
        pl_redis_batch_add (b, "SET " PL_KEY_ENTITY " %s", "actor", id, text);
        return 0;
    }
    redisReply *reply = pl_redis_command (r->redis, "SET " PL_KEY_ENTITY " %s", "actor", id, text);
    int rc = reply && reply->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* actor:updated {id, campaignId, version} to campaign:<c>, as the actors
 * worker publishes it. */
static void
s_announce (s_rules_t *r, uint32_t i, int64_t now)
{
    char topic[80], packet[256];
    snprintf (topic, sizeof topic, "campaign:%s", r->campaign);
    snprintf (packet, sizeof packet,
              "[\"actor:updated\",{\"id\":\"ba-%s-%u\",\"campaignId\":\"%s\",\"version\":%llu}]",
              r->run.nonce, i, r->campaign, (unsigned long long) r->version[i]);
    zmq_send (r->out, topic, strlen (topic) + 1, ZMQ_SNDMORE);
    zmq_send (r->out, "PL01", 4, ZMQ_SNDMORE);
    zmq_send (r->out, "EV", 2, ZMQ_SNDMORE);
    zmq_send (r->out, "", 0, ZMQ_SNDMORE);
    zmq_send (r->out, packet, strlen (packet), 0);
    r->sent_at[i] = now;
}

/* The next version of actor i (hp flipped), written and announced. */
static void
s_next (s_rules_t *r, uint32_t i, int64_t now)
{
    r->version[i]++;
    if (s_write_actor (r, i, r->version[i], NULL) != 0)
        r->lost_writes++;
    s_announce (r, i, now);
}

/* The actors answered in this wake-up: their next versions written in
 * pipelined batches, then announced. */
static void
s_flush (s_rules_t *r, int64_t now)
{
    for (uint32_t k = 0; k < r->ndue; k += PL_REDIS_BATCH_MAX) {
        uint32_t n = r->ndue - k < PL_REDIS_BATCH_MAX ? r->ndue - k : PL_REDIS_BATCH_MAX;
        pl_redis_batch_t b = { 0 };
        for (uint32_t j = 0; j < n; j++) {
            uint32_t i = r->due[k + j];
            r->version[i]++;
            s_write_actor (r, i, r->version[i], &b);
        }
        if (pl_redis_batch_run (r->redis, &b) != 0)
            r->lost_writes += n;
        pl_redis_batch_clear (&b);
        for (uint32_t j = 0; j < n; j++)
            s_announce (r, r->due[k + j], now);
    }
    r->ndue = 0;
}

/* The campaign, its GM, the rules and the actors. */
static int
s_setup (s_rules_t *r)
{
    snprintf (r->campaign, sizeof r->campaign, "bc-%s", r->run.nonce);
    snprintf (r->gm, sizeof r->gm, "bgm-%s", r->run.nonce);
    redisReply *reply = pl_redis_command (r->redis, "HSET " PL_KEY_CAMPAIGN_MEMBERS " %s gm",
                                          r->campaign, r->gm);
    if (!reply)
        return -1;
    freeReplyObject (reply);
    for (uint32_t k = 0; k < r->o->rules; k++) {
        char id[64], rule[768];
        snprintf (id, sizeof id, "br-%s-%02u", r->run.nonce, k);
        if (k < 2)
            snprintf (rule, sizeof rule,
                      "{\"id\":\"%s\",\"campaignId\":\"%s\",\"name\":\"hp %s\",\"on\":\"actor\","
                      "\"when\":\"hp %s\",\"then\":[{\"operation\":\"set\",\"path\":\"hp\","
                      "\"value\":%d}],\"createdBy\":\"%s\",\"createdAt\":%u}",
                      id, r->campaign, k ? "up" : "down", k ? "> 0" : "<= 0", k ? 5 : 0,
                      r->gm, k);
        else
            snprintf (rule, sizeof rule,
                      "{\"id\":\"%s\",\"campaignId\":\"%s\",\"name\":\"never %u\",\"on\":\"actor\","
                      "\"when\":\"level >= 100 and conditions contains \\\"r%u\\\"\","
                      "\"then\":[{\"operation\":\"push\",\"path\":\"conditions\",\"value\":\"r%u\"}],"
                      "\"createdBy\":\"%s\",\"createdAt\":%u}",
                      id, r->campaign, k, k, k, r->gm, k);
        reply = pl_redis_command (r->redis, "HSET " PL_KEY_CAMPAIGN_RULES " %s %s",
                                  r->campaign, id, rule);
        if (!reply)
            return -1;
        freeReplyObject (reply);
    }
    for (uint32_t i = 0; i < r->actors; i++) {
        r->version[i] = 1;
        if (s_write_actor (r, i, 1, NULL) != 0)
            return -1;
    }
    return 0;
}

/* One message the worker published: a state_invalidated of one of ours
 * answers that actor. */
static void
s_on_in (s_rules_t *r, int64_t now)
{
    zmq_msg_t part[6];
    int n = 0;
    int more = 1;
    while (more && n < 6) {
        zmq_msg_init (&part[n]);
        if (zmq_msg_recv (&part[n], r->in, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part[n]);
            break;
        }
        more = zmq_msg_more (&part[n]);
        n++;
    }
    cJSON *packet = n >= 5 ? cJSON_ParseWithLength (zmq_msg_data (&part[4]), zmq_msg_size (&part[4]))
                           : NULL;
    const cJSON *name = cJSON_GetArrayItem (packet, 0);
    const cJSON *id = cJSON_GetObjectItem (cJSON_GetArrayItem (packet, 1), "id");
    char prefix[32];
    snprintf (prefix, sizeof prefix, "ba-%s-", r->run.nonce);
    if (!cJSON_IsString (name) || strcmp (name->valuestring, "state_invalidated") != 0
    ||  !cJSON_IsString (id) || strncmp (id->valuestring, prefix, strlen (prefix)) != 0) {
        r->others++;
        goto cleanup;
    }
    uint32_t i = (uint32_t) strtoul (id->valuestring + strlen (prefix), NULL, 10);
    if (i >= r->actors)
        goto cleanup;
    r->runs++;
    if (!r->answered[i]) {
        r->answered[i] = true;
        r->warm++;
    }
    if (r->measuring && r->sent_at[i] >= r->start) {
        pl_loadhist_record (r->latency, (uint64_t) (now - r->sent_at[i]));
        if (now <= r->end)
            r->in_window++;
    }
    if (r->running)
        r->due[r->ndue++] = i;              /* s_flush */
    else
        r->sent_at[i] = 0;                  /* draining: answered */
cleanup:
    cJSON_Delete (packet);
    for (int k = 0; k < n; k++)
        zmq_msg_close (&part[k]);
    while (more) {                          /* more frames than a bus message has */
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        if (zmq_msg_recv (&extra, r->in, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&extra);
            break;
        }
        more = zmq_msg_more (&extra);
        zmq_msg_close (&extra);
    }
}

/* Wait up to `until` (ns) for something, and handle it. */
static void
s_poll (s_rules_t *r, int64_t until)
{
    zmq_pollitem_t items[3] = {
        { r->in, 0, ZMQ_POLLIN, 0 }, { r->out, 0, ZMQ_POLLIN, 0 },
        { NULL, r->run.signal_fd, ZMQ_POLLIN, 0 },
    };
    int64_t now = pl_loadnet_now ();
    long ms = until > now ? (long) ((until - now + 999999) / 1000000) : 0;
    if (ms > 100)
        ms = 100;                           /* rekicks */
    if (zmq_poll (items, 3, ms) < 0)
        return;
    now = pl_loadnet_now ();
    for (int k = 0; k < 256 && (items[0].revents & ZMQ_POLLIN); k++) {
        int events = 0;
        size_t size = sizeof events;
        zmq_getsockopt (r->in, ZMQ_EVENTS, &events, &size);
        if (!(events & ZMQ_POLLIN))
            break;
        s_on_in (r, now);
    }
    s_flush (r, now);
    if (items[1].revents & ZMQ_POLLIN) {
        char buf[300];
        while (zmq_recv (r->out, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
            ;                               /* the worker's subscriptions */
    }
    if (items[2].revents & ZMQ_POLLIN) {
        char buf[128];
        if (read (r->run.signal_fd, buf, sizeof buf) > 0)
            pl_loadrun_interrupt (&r->run);
    }
    for (uint32_t i = 0; r->running && i < r->actors; i++)
        if (r->sent_at[i] && now - r->sent_at[i] > S_REKICK_NS) {
            r->rekicks++;
            s_next (r, i, now);
        }
}

int
pl_load_rules (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    s_rules_t r = { .o = o, .actors = o->users };
    cJSON *sum = NULL;
    const char *error = "setup failed (see stderr)";
    if (pl_loadrun_init (&r.run, o, 64) != 0)
        goto cleanup;
    r.zctx = zmq_ctx_new ();
    r.latency = pl_loadhist_new ();
    r.version = calloc (r.actors, sizeof *r.version);
    r.sent_at = calloc (r.actors, sizeof *r.sent_at);
    r.answered = calloc (r.actors, sizeof *r.answered);
    r.due = calloc (r.actors, sizeof *r.due);
    r.redis = pl_redis_new (o->redis);
    if (!r.zctx || !r.latency || !r.version || !r.sent_at || !r.answered || !r.due || !r.redis)
        goto cleanup;
    int linger = 0, hwm = 100000;
    r.in = zmq_socket (r.zctx, ZMQ_XSUB);
    r.out = zmq_socket (r.zctx, ZMQ_XPUB);
    if (!r.in || !r.out
    ||  zmq_setsockopt (r.in, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (r.out, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (r.in, ZMQ_RCVHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (r.out, ZMQ_SNDHWM, &hwm, sizeof hwm)
    ||  zmq_bind (r.in, o->events_in) || zmq_bind (r.out, o->events_out)
    ||  zmq_send (r.in, "\x01", 1, 0) != 1) {
        fprintf (stderr, "parley-load rules: cannot bind %s / %s: %s\n", o->events_in,
                 o->events_out, zmq_strerror (zmq_errno ()));
        goto cleanup;
    }
    if (s_setup (&r) != 0) {
        error = "cannot write the campaign, rules and actors to Redis";
        goto cleanup;
    }
    /* the worker's subscription (campaign:) reaching the XPUB */
    int64_t until = pl_loadnet_now () + (int64_t) (o->timeout * 1e9);
    bool subscribed = false;
    while (!subscribed && pl_loadnet_now () < until && !pl_loadrun_interrupted (&r.run)) {
        zmq_pollitem_t items[2] = { { r.out, 0, ZMQ_POLLIN, 0 }, { r.in, 0, ZMQ_POLLIN, 0 } };
        zmq_poll (items, 2, 50);
        char buf[300];
        int got;
        while ((got = zmq_recv (r.out, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0)
            subscribed |= got > 9 && buf[0] == 1 && memcmp (buf + 1, "campaign:", 9) == 0;
    }
    if (!subscribed) {
        error = "no parley-rules subscribed to the bus";
        goto cleanup;
    }
    fprintf (stderr, "parley-load rules: a worker listens; %u actors, %u rules\n", r.actors,
             o->rules);
    /* warm-up: every actor answered once */
    r.running = true;
    int64_t now = pl_loadnet_now ();
    for (uint32_t i = 0; i < r.actors; i++)
        s_announce (&r, i, now);
    until = now + (int64_t) (o->timeout * 1e9);
    while (r.warm < r.actors && pl_loadnet_now () < until && !pl_loadrun_interrupted (&r.run))
        s_poll (&r, until);
    if (r.warm < r.actors) {
        error = "the worker did not answer every actor within --timeout";
        goto cleanup;
    }
    r.start = pl_loadnet_now ();
    r.end = r.start + (int64_t) (o->duration * 1e9);
    r.measuring = true;
    int64_t next_progress = r.start + (int64_t) (o->progress * 1e9);
    uint64_t runs0 = r.runs;
    while (!pl_loadrun_interrupted (&r.run)) {
        now = pl_loadnet_now ();
        if (now >= r.end)
            break;
        if (o->progress > 0 && now >= next_progress) {
            pl_loadrun_progress (&r.run, "runs %llu, rekicks %llu",
                                 (unsigned long long) (r.runs - runs0),
                                 (unsigned long long) r.rekicks);
            next_progress = now + (int64_t) (o->progress * 1e9);
        }
        s_poll (&r, o->progress > 0 && next_progress < r.end ? next_progress : r.end);
    }
    if (now < r.end)
        r.end = now;
    /* drain: the runs in flight end */
    r.running = false;
    until = pl_loadnet_now () + (int64_t) (o->drain * 1e9);
    uint32_t inflight = r.actors;
    while (inflight && pl_loadnet_now () < until && !pl_loadrun_interrupted (&r.run)) {
        s_poll (&r, until);
        inflight = 0;
        for (uint32_t i = 0; i < r.actors; i++)
            inflight += r.sent_at[i] != 0;
    }
    double secs = (double) (r.end - r.start) / 1e9;
    sum = pl_loadrun_summary (&r.run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddNumberToObject (sum, "actors", r.actors);
    cJSON_AddNumberToObject (sum, "rules", o->rules);
    cJSON_AddNumberToObject (sum, "runs", (double) r.in_window);
    cJSON_AddNumberToObject (sum, "runs_total", (double) r.runs);     /* warm-up, drain too */
    cJSON_AddNumberToObject (sum, "acked", (double) r.in_window);
    cJSON_AddNumberToObject (sum, "failed", 0);
    cJSON_AddObjectToObject (sum, "errors");
    cJSON_AddNumberToObject (sum, "unanswered", inflight);
    cJSON_AddNumberToObject (sum, "rekicks", (double) r.rekicks);
    cJSON_AddNumberToObject (sum, "lost_writes", (double) r.lost_writes);
    cJSON_AddNumberToObject (sum, "ignored", (double) r.others);
    double rate = pl_loadrun_add_rate (sum, (double) r.in_window, secs, "rule runs/s");
    cJSON_AddNumberToObject (sum, "rule_evaluations_per_s", pl_loadrun_round (rate * o->rules, 1));
    pl_loadrun_add_latency (sum, r.latency, "");
    bool ok = r.in_window > 0 && r.lost_writes == 0;
    rc = pl_loadrun_print_ok (&sum, ok);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, error);
    if (r.in)
        zmq_close (r.in);
    if (r.out)
        zmq_close (r.out);
    if (r.zctx)
        zmq_ctx_term (r.zctx);
    pl_redis_destroy (&r.redis);
    free (r.version);
    free (r.sent_at);
    free (r.answered);
    free (r.due);
    pl_loadhist_destroy (&r.latency);
    pl_loadrun_fini (&r.run);
    return rc;
}
