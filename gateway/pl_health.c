/*  pl_health - broker status and the /healthz verdict (lws loop only). */
#include "pl_health.h"
#include "pl_proto.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_REQUIRED 64

struct _pl_health_t {
    char *names[S_MAX_REQUIRED];    /* required services                    */
    size_t count;
    cJSON *services;                /* last STATUS "services" object        */
    int64_t status_at;              /* ms when it arrived                   */
    long heartbeat;                 /* ms                                   */
};

pl_health_t *
pl_health_new (const char *required, long heartbeat_ms)
{
    pl_health_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->heartbeat = heartbeat_ms;
    if (required && *required) {
        const char *p = required;
        while (*p && self->count < S_MAX_REQUIRED) {
            size_t n = strcspn (p, ",");
            if (n)
                self->names[self->count++] = strndup (p, n);
            p += n + (p[n] == ',');
        }
    }
    else {
        const char *const *names;
        size_t count = pl_proto_services (&names);
        for (size_t i = 0; i < count && i < S_MAX_REQUIRED; i++)
            self->names[self->count++] = strdup (names[i]);
    }
    for (size_t i = 0; i < self->count; i++)
        if (!self->names[i])
            pl_health_destroy (&self);
cleanup:
    return self;
}

void
pl_health_destroy (pl_health_t **self_p)
{
    assert (self_p);
    pl_health_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            free (self->names[i]);
        cJSON_Delete (self->services);
        free (self);
        *self_p = NULL;
    }
}

void
pl_health_update (pl_health_t *self, const char *json, size_t len, int64_t now)
{
    cJSON *root = pl_proto_json_parse (json, len);
    cJSON *services = cJSON_DetachItemFromObjectCaseSensitive (root, "services");
    if (cJSON_IsObject (services)) {
        cJSON_Delete (self->services);
        self->services = services;
        self->status_at = now;
    }
    else
        cJSON_Delete (services);
    cJSON_Delete (root);
}

cJSON *
pl_health_report (pl_health_t *self, int64_t now, int *status)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON *services = cJSON_AddObjectToObject (root, "services");
    bool broker = self->services && now - self->status_at <= 3 * self->heartbeat;
    bool ok = broker;
    for (size_t i = 0; i < self->count; i++) {
        const cJSON *svc = broker
            ? cJSON_GetObjectItemCaseSensitive (self->services, self->names[i]) : NULL;
        const cJSON *workers = cJSON_GetObjectItemCaseSensitive (svc, "workers");
        int n = cJSON_IsNumber (workers) ? workers->valueint : 0;
        cJSON *entry = cJSON_AddObjectToObject (services, self->names[i]);
        cJSON_AddNumberToObject (entry, "workers", n);
        /* the broker's queue depth for it (parleyctl services), 0 when
         * unknown: nothing can be queued at a broker that does not answer */
        const cJSON *queued = cJSON_GetObjectItemCaseSensitive (svc, "queued");
        double q = cJSON_IsNumber (queued) && queued->valuedouble >= 0
                 ? queued->valuedouble : 0;
        cJSON_AddNumberToObject (entry, "queued", q);
        if (n <= 0)
            ok = false;
    }
    cJSON_AddStringToObject (root, "status", ok ? "ok" : "unavailable");
    cJSON_AddBoolToObject (root, "broker", broker);
    *status = ok ? 200 : 503;
    return root;
}

/* selftest helper: the report as text */
static char *
s_render (pl_health_t *self, int64_t now, int *status)
{
    cJSON *root = pl_health_report (self, now, status);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

void
pl_health_test (bool verbose)
{
    if (verbose)
        printf (" * pl_health: ");
    int status = 0;
    pl_health_t *h = pl_health_new ("", 1000);          /* every table service */
    assert (h);
    char *body = s_render (h, 0, &status);
    assert (status == 503 && strstr (body, "\"broker\":false"));
    assert (strstr (body, "\"actors\":{\"workers\":0,\"queued\":0}"));
    assert (strstr (body, "\"rooms\":{\"workers\":0,\"queued\":0}"));
    free (body);
    pl_health_destroy (&h);
    h = pl_health_new ("actors", 1000);                 /* the rest: one service */
    assert (h);
    const char *st = "{\"services\":{\"actors\":{\"workers\":2,\"queued\":7}}}";
    pl_health_update (h, st, strlen (st), 10000);
    body = s_render (h, 12000, &status);
    assert (status == 200 && strstr (body, "\"actors\":{\"workers\":2,\"queued\":7}"));
    assert (strstr (body, "\"status\":\"ok\""));
    free (body);
    /* a stale answer means the broker is gone */
    body = s_render (h, 13001, &status);
    assert (status == 503 && strstr (body, "\"broker\":false"));
    free (body);
    /* garbage does not replace the last good answer */
    pl_health_update (h, "{\"services\":5}", 14, 13500);
    pl_health_update (h, "nope", 4, 13500);
    body = s_render (h, 12500, &status);
    assert (status == 200);
    free (body);
    /* zero workers is unavailable */
    st = "{\"services\":{\"actors\":{\"workers\":0}}}";
    pl_health_update (h, st, strlen (st), 20000);
    body = s_render (h, 20000, &status);
    assert (status == 503 && strstr (body, "\"broker\":true"));
    free (body);
    pl_health_destroy (&h);

    /* an explicit list: a service the broker has never seen keeps it 503 */
    h = pl_health_new ("actors,,items", 1000);
    st = "{\"services\":{\"actors\":{\"workers\":1}}}";
    pl_health_update (h, st, strlen (st), 0);
    body = s_render (h, 0, &status);
    assert (status == 503 && strstr (body, "\"items\":{\"workers\":0,\"queued\":0}"));
    free (body);
    pl_health_destroy (&h);
    pl_health_destroy (&h);
    assert (h == NULL);
    if (verbose)
        printf ("OK\n");
}
