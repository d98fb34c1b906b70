/*  pl_bus_dispatch - a received broker message, checked for its shape and
 *  handed to the gateway's handler (or dropped with a warning). Internals
 *  of pl_bus (pl_bus_int.h); runs on the lws loop.
 */
#include "pl_bus_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <string.h>

void
pl_bus__dispatch (pl_bus__sock_t *sock, pl_zmsg_t *msg)
{
    pl_bus_t *self = sock->bus;
    int n = msg->count;
    size_t len[PL_ZMSG_FRAMES];
    const char *f[PL_ZMSG_FRAMES];
    for (int i = 0; i < n; i++)
        f[i] = pl_zmsg_data (msg, i, &len[i]);
    if (sock->is_sub) {
        /* topic\0 · PL01 · EV|CTL · origin · packet, then for an EV
         * [except] or except (empty: none) · ts (a worker's), and stamped
         * by the proxy for recovery: an EV with except · ts · offset (8),
         * a CTL with except (empty) · offset (7). proto/README.md */
        bool ev = pl_zmsg_is (msg, 2, PL_CMD_EVENT);
        const char *offset = NULL;
        size_t offset_len = 0;
        int64_t published_us = -1;
        if (n == (ev ? 8 : 7)) {
            offset = f[n - 1];
            offset_len = len[n - 1];
            bool ok = offset_len > 0 && offset_len <= PL_BUS_OFFSET_MAX && (ev || len[5] == 0);
            for (size_t i = 0; ok && i < offset_len; i++)
                ok = (offset[i] >= '0' && offset[i] <= '9') || (offset[i] >= 'a' && offset[i] <= 'f')
                  || offset[i] == '-';
            if (!ok) {
                pl_warn ("bus: dropped an event with a malformed offset");
                return;
            }
            n--;
            if (!ev)
                n = 5;                  /* a CTL's except is empty */
        }
        if (ev && n == 7) {
            /* the publish time only times the delivery: a bad one (empty
             * from the proxy for a worker that sent none, malformed, an
             * hour off) leaves the event untimed, never undelivered */
            published_us = pl_proto_ts_parse (f[6], len[6], pl_id_wall_us ());
            n = 6;                      /* the rest as before publish times */
        }
        if (ev && n == 6 && len[5] == 0)
            n = 5;                      /* an empty except is none */
        if ((n != 5 && !(n == 6 && ev)) || len[0] < 2 || f[0][len[0] - 1] != 0
        ||  memchr (f[0], 0, len[0] - 1) || !pl_zmsg_is (msg, 1, PL_PROTO_VERSION)
        ||  (!pl_zmsg_is (msg, 2, PL_CMD_EVENT) && !pl_zmsg_is (msg, 2, PL_CMD_CONTROL))) {
            pl_warn ("bus: dropped a malformed event (%d frames)", n);
            return;
        }
        /* The frames parsed for room names (a CTL's packet, an EV's except)
         * come from workers, which take no NUL from a client; one here is
         * a bug, and cJSON would cut the room it is in short, so the message
         * is dropped like any malformed one (pl_proto_json_has_nul). An
         * EV's packet is only forwarded, never parsed: it is not scanned. */
        if ((!ev && pl_proto_json_has_nul (f[4], len[4]))
        ||  (n == 6 && pl_proto_json_has_nul (f[5], len[5]))) {
            pl_warn ("bus: dropped an event for a room with a NUL in its rooms");
            return;
        }
        if (pl_zmsg_is (msg, 2, PL_CMD_CONTROL))
            self->handlers.on_control (self->arg, f[0], f[4], len[4], offset, offset_len);
        else
            self->handlers.on_event (self->arg, f[0], f[3], len[3], f[4], len[4],
                                     n == 6 ? f[5] : NULL, n == 6 ? len[5] : 0,
                                     offset, offset_len, published_us);
        return;
    }
    /* DEALER, recovery: PL01 · RECOVER|REPLAY · nonce · json, or
     * PL01 · REPLAY · nonce · EV|CTL · topic · packet · offset */
    bool replay = pl_zmsg_is (msg, 1, PL_CMD_REPLAY);
    if (pl_zmsg_is (msg, 0, PL_PROTO_VERSION) && (replay || pl_zmsg_is (msg, 1, PL_CMD_RECOVER))) {
        bool control = pl_zmsg_is (msg, 3, PL_CMD_CONTROL);
        if (n == 4 && self->handlers.on_recovery && !pl_proto_json_has_nul (f[3], len[3]))
            self->handlers.on_recovery (self->arg, replay, f[2], len[2], f[3], len[3]);
        else
        if (n == 7 && replay && self->handlers.on_replay && len[4] > 0 && len[4] <= 256
        &&  !memchr (f[4], 0, len[4]) && len[6] <= PL_BUS_OFFSET_MAX
        &&  (control || pl_zmsg_is (msg, 3, PL_CMD_EVENT))
        &&  !(control && pl_proto_json_has_nul (f[5], len[5])))
            self->handlers.on_replay (self->arg, f[2], len[2], control, f[4], len[4],
                                      f[5], len[5], f[6], len[6]);
        else
            pl_warn ("bus: dropped a malformed recovery message (%d frames)", n);
        return;
    }
    /* DEALER: PL01 · REP · reqid · reply · [directives]
     *     or  PL01 · STATUS · json */
    if (pl_zmsg_is (msg, 0, PL_PROTO_VERSION)) {
        /* directives name rooms: one with a NUL would be cut (see above) */
        if (n == 5 && pl_zmsg_is (msg, 1, PL_CMD_REP) && pl_proto_json_has_nul (f[4], len[4])) {
            pl_warn ("bus: dropped a reply whose directives hold a NUL");
            return;
        }
        if ((n == 4 || n == 5) && pl_zmsg_is (msg, 1, PL_CMD_REP)) {
            self->handlers.on_reply (self->arg, f[2], len[2], f[3], len[3],
                                     n == 5 ? f[4] : NULL, n == 5 ? len[4] : 0);
            return;
        }
        if (n == 3 && pl_zmsg_is (msg, 1, PL_CMD_STATUS)) {
            self->handlers.on_status (self->arg, f[2], len[2]);
            return;
        }
        /* PL01 · FWD · peer · fwdid · op · sid · body
         * PL01 · FWDREP · peer · fwdid · status · body */
        if (n == 7 && pl_zmsg_is (msg, 1, PL_CMD_FORWARD) && self->handlers.on_forward) {
            self->handlers.on_forward (self->arg, f[2], len[2], f[3], len[3], f[4], len[4],
                                       f[5], len[5], f[6], len[6]);
            return;
        }
        if (n == 6 && pl_zmsg_is (msg, 1, PL_CMD_FORWARD_REPLY)
        &&  self->handlers.on_forward_reply) {
            self->handlers.on_forward_reply (self->arg, f[2], len[2], f[3], len[3], f[4], len[4],
                                             f[5], len[5]);
            return;
        }
    }
    pl_warn ("bus: dropped a malformed broker message (%d frames)", n);
}

/* PL01 · METRICS · (name · snapshot)...: msg's frames, then ntail more.
 * Names are checked here (the snapshots by pl_metrics_merge_json); a
 * malformed answer is dropped whole. */
void
pl_bus__dispatch_metrics (pl_bus_t *self, pl_zmsg_t *msg, int ntail)
{
    const char *f[2 + 2 * PL_BUS_METRICS_MAX];
    size_t len[2 + 2 * PL_BUS_METRICS_MAX];
    int n = msg->count + ntail;
    for (int i = 0; i < n; i++) {
        if (i < msg->count)
            f[i] = pl_zmsg_data (msg, i, &len[i]);
        else {
            f[i] = zmq_msg_data (&self->tail[i - msg->count]);
            len[i] = zmq_msg_size (&self->tail[i - msg->count]);
        }
    }
    bool ok = n >= 4 && n % 2 == 0;
    for (int i = 2; ok && i < n; i += 2)
        ok = len[i] > 0 && len[i] <= PL_BUS_METRICS_NAME_MAX && !memchr (f[i], 0, len[i]);
    if (!ok) {
        pl_warn ("bus: dropped a malformed METRICS answer (%d frames)", n);
        return;
    }
    const char *names[PL_BUS_METRICS_MAX], *jsons[PL_BUS_METRICS_MAX];
    size_t name_lens[PL_BUS_METRICS_MAX], json_lens[PL_BUS_METRICS_MAX];
    size_t pairs = 0;
    for (int i = 2; i < n; i += 2, pairs++) {
        names[pairs] = f[i];
        name_lens[pairs] = len[i];
        jsons[pairs] = f[i + 1];
        json_lens[pairs] = len[i + 1];
    }
    self->handlers.on_metrics (self->arg, names, name_lens, jsons, json_lens, pairs);
}
