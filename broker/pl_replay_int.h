/*  pl_replay_int - what the recovery log (pl_replay.c) and the handling of
 *  its messages (pl_replay_msg.c) share: the log entry, the session, the
 *  waiting claim and the object itself, and the calls the messages make
 *  into the log and the session table. Private to those two files.
 */
#ifndef PL_REPLAY_INT_H
#define PL_REPLAY_INT_H

#include "pl_replay.h"
#include "pl_zmsg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pl_replay__entry {
    struct pl_replay__entry *next;               /* younger, or NULL                        */
    int64_t at;                         /* when logged, ms                         */
    uint64_t seq;                       /* its offset's sequence                   */
    bool control;                       /* CTL, else EV                            */
    size_t size;                        /* bytes it counts for                     */
    size_t topic_len, origin_len, packet_len, except_len;  /* except_len 0: none  */
    char *topic, *origin, *packet, *except;                /* into data, NUL-ended */
    char data[];
} pl_replay__entry_t;

typedef enum { S_OPEN, S_SAVED, S_CLAIMED } pl_replay__state_t;

/* A gateway (a frontend identity) with sessions open: when last heard. */
typedef struct {
    int64_t heard;                      /* ms                                      */
    size_t nopen;                       /* its sessions still open                 */
    char key[512];                      /* its identity in hex                     */
} pl_replay__gw_t;

/* Who claimed a session. */
typedef struct {
    size_t client_len;                  /* its frontend identity                   */
    byte client[256];
    char nonce[PL_REPLAY_NONCE_MAX + 1];
} pl_replay__claimant_t;

/* A session: small while open (one per connected client), its rooms sized
 * to what it holds once saved. */
typedef struct {
    pl_replay__state_t state;
    char pid[PL_REPLAY_PID_MAX + 1];
    char sub[PL_WIRE_ID_MAX + 1];
    char *origin;                       /* saved: the connection's own events      */
    char (*rooms)[PL_WIRE_ROOM_MAX + 1];    /* saved: nrooms of them               */
    size_t nrooms;
    uint64_t open_seq;                  /* next sequence when it opened            */
    uint64_t from;                      /* claimed: replay after this sequence     */
    int64_t expires;                    /* saved, claimed: forgotten then (ms)     */
    bool seen;                          /* claimed: the XPUB read its nonce        */
    bool asked;                         /* claimed: its REPLAY arrived             */
    pl_replay__claimant_t *by;                   /* claimed: who asked                      */
    pl_replay__gw_t *gw;                         /* open: the gateway it is open on         */
} pl_replay__session_t;

/* A RECOVER for a session still open, waiting for its save. */
typedef struct pl_replay__waiter {
    struct pl_replay__waiter *next;
    int64_t deadline;
    size_t client_len;
    byte client[256];
    char nonce[PL_REPLAY_NONCE_MAX + 1];
    char pid[PL_REPLAY_PID_MAX + 1];
    char sub[PL_WIRE_ID_MAX + 1];
    char offset[PL_REPLAY_OFFSET_LEN + 1];  /* "" for none */
} pl_replay__waiter_t;

struct _pl_replay_t {
    pl_replay_opts_t opts;
    pl_replay__entry_t *head, *tail;             /* the log, oldest first                   */
    size_t count, bytes;
    uint64_t next_seq;                  /* the next message's sequence (from 1)    */
    uint64_t first_seq;                 /* the oldest sequence still logged, or
                                           next_seq when the log is empty         */
    zhashx_t *by_pid;                   /* pid -> session (owned)                  */
    zhashx_t *by_nonce;                 /* nonce -> claimed session (owned)        */
    zhashx_t *gateways;                 /* identity (hex) -> pl_replay__gw_t (owned), those
                                           with open sessions                     */
    pl_replay__waiter_t *waiters;                /* claims waiting for a save               */
    size_t nwaiters;
    size_t timed;                       /* saved or claimed sessions, as of the
                                           last expiry (or more since)            */
    zloop_t *loop;                      /* attached to, or NULL                    */
    int timer;                          /* its expiry timer, or -1                 */
};

/* Something that can expire was added: make sure the timer runs. */
void
    pl_replay__arm (pl_replay_t *self);

/* The gateway of msg's frontend identity was heard from now; returns its
 * entry, made when make (NULL: not known, or out of memory). */
pl_replay__gw_t *
    pl_replay__heard (pl_replay_t *self, pl_zmsg_t *msg, int64_t now, bool make);

/* Answer command for (client, nonce) with {"ok":false,"reason":reason}. */
void
    pl_replay__refuse (pl_replay_t *self, const char *command, const byte *client,
                       size_t client_len, const char *nonce, const char *reason);

/* Claim saved session s for (client, nonce) from offset ("" none), and
 * answer the RECOVER. */
void
    pl_replay__claim (pl_replay_t *self, pl_replay__session_t *s, const byte *client,
                      size_t client_len, const char *nonce, const char *offset, int64_t now);

/* Both the REPLAY and the nonce's subscription are in: replay, then H. */
void
    pl_replay__replay (pl_replay_t *self, pl_replay__session_t *s);

#endif
