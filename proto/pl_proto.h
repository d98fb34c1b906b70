/*  pl_proto - the internal envelope and the event table, in C.
 *
 *  The wire format is specified in proto/README.md; this header gives it
 *  names. Everything here is derived from proto/events.def and
 *  proto/errors.def: nothing else in Parley spells an event name or an
 *  error code.
 */
#ifndef PL_PROTO_H
#define PL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* Envelope version. Frame 0 of every internal message (except the PUB/SUB
 * topic frame, which comes first on the event bus). Bump it on any
 * incompatible change; peers drop messages of another version. */
#define PL_PROTO_VERSION      "PL01"

/* Commands (frame 1). See proto/README.md for each message's frames. */
#define PL_CMD_REQ            "REQ"     /* request: client->broker->worker */
#define PL_CMD_REP            "REP"     /* reply:   worker->broker->client */
#define PL_CMD_READY          "READY"   /* worker registers a service      */
#define PL_CMD_HEARTBEAT      "HB"      /* liveness, both ways on backend  */
#define PL_CMD_DISCONNECT     "BYE"     /* orderly goodbye, both ways      */
#define PL_CMD_STATUS         "STATUS"  /* client asks broker for services */
#define PL_CMD_EVENT          "EV"      /* event-bus message kind: event   */
#define PL_CMD_CONTROL        "CTL"     /* event-bus message kind: rooms   */
/* Connection-state recovery, gateway<->broker frontend (proto/README.md,
 * "Recovery"): a session's state, claiming it, replaying what it missed. */
#define PL_CMD_SESSION        "SESS"    /* gateway->broker: open/saved/end */
#define PL_CMD_RECOVER        "RECOVER" /* claim a saved session, and answer */
#define PL_CMD_REPLAY         "REPLAY"  /* replay after the nonce, and each event */
#define PL_CMD_FORWARD        "FWD"     /* gateway->broker->gateway: an HTTP
                                           polling request for a session the
                                           other gateway holds              */
#define PL_CMD_FORWARD_REPLY  "FWDREP"  /* its answer, back the same way    */
/* Metrics (proto/README.md, "Metrics"): a worker's HB may carry its
 * process name and snapshot; a gateway asks the broker for them all. */
#define PL_CMD_METRICS        "METRICS" /* gateway->broker, and the answer */

/* Client events (proto/events.def). */
typedef enum {
#define PL_EVENT(id, name, service, ack, arg, data, doc) PL_EV_##id,
#include "events.def"
    PL_EV_COUNT
} pl_event_id_t;

/* Server pushes (proto/events.def). */
typedef enum {
#define PL_PUSH(id, name, room, payload, doc) PL_PUSH_##id,
#include "events.def"
    PL_PUSH_COUNT
} pl_push_id_t;

/* Wire error codes (proto/errors.def). PL_ERR_NONE is success. */
typedef enum {
    PL_ERR_NONE = 0,
#define PL_ERROR(id, code, http, doc) PL_ERR_##id,
#include "errors.def"
    PL_ERR_COUNT
} pl_err_t;

/* Event flags (the ack column of events.def), or-ed together. */
#define PL_NOACK    0u      /* fire and forget: nothing is answered          */
#define PL_ACK      1u      /* a request that is answered                    */
#define PL_INTERNAL 2u      /* sent by gateways only: a client sending it
                               gets UNKNOWN_EVENT, and the docs leave it out */
#define PL_RATED    4u      /* counts against the per-connection rate limit
                               (PARLEY_RATE_PER_SEC / PARLEY_RATE_BURST)      */

typedef struct {
    const char *name;       /* wire name, e.g. "actor:create"            */
    const char *service;    /* broker service that handles it            */
    unsigned flags;         /* PL_ACK | PL_INTERNAL | PL_RATED           */
    const char *arg;        /* docs: the argument                        */
    const char *data;       /* docs: the ack data                        */
    const char *doc;        /* docs: one-line description                */
} pl_event_info_t;

typedef struct {
    const char *name;       /* wire name, e.g. "actor:created"           */
    const char *room;       /* docs: which room receives it              */
    const char *payload;    /* docs: the payload                         */
    const char *doc;        /* docs: one-line description                */
} pl_push_info_t;

/* Table rows by id. id must be < PL_EV_COUNT / PL_PUSH_COUNT (asserted). */
const pl_event_info_t *pl_proto_event (pl_event_id_t id);
const pl_push_info_t *pl_proto_push (pl_push_id_t id);
/* Name of a push event, for publishing. */
const char *pl_proto_push_name (pl_push_id_t id);

/* Look an event up by its wire name (not NUL-terminated). Returns the id,
 * or -1 when the table does not know it. */
int pl_proto_event_lookup (const char *name, size_t len);
/* The same for a push (what a worker hears on the event bus): the id, or
 * -1 when the table does not know it. */
int pl_proto_push_lookup (const char *name, size_t len);

/* The distinct services named in the table, in table order. Returns the
 * count; *list is a static array. */
size_t pl_proto_services (const char *const **list);

/* Error code helpers. */
const char *pl_proto_err_code (pl_err_t err);     /* "NOT_FOUND"            */
int pl_proto_err_http (pl_err_t err);              /* 404                    */
const char *pl_proto_err_doc (pl_err_t err);
pl_err_t pl_proto_err_parse (const char *code);   /* PL_ERR_INTERNAL if unknown */

/* Ack bodies. Both return a new JSON text the caller frees (free()).
 * pl_proto_reply_ok takes ownership of data (may be NULL: no data key). */
char *pl_proto_reply_ok (cJSON *data);
char *pl_proto_reply_err (pl_err_t err, const char *message);
/* The same, with the members of fields (an object, owned, may be NULL)
 * added to the error object: e.g. currentVersion for VERSION_CONFLICT. */
char *pl_proto_reply_err_with (pl_err_t err, const char *message, cJSON *fields);
/* An error whose outcome the client cannot know (INTERNAL, TIMEOUT)
 * names the request, so its logs can be found: error.requestId (README,
 * Errors). pl_proto_reply_err_rid makes one (rid NULL: none added);
 * pl_proto_reply_add_rid returns reply (len bytes) with rid added when it
 * is such an error without one, else NULL (the reply stands as it is). */
char *pl_proto_reply_err_rid (pl_err_t err, const char *message, const char *rid);
char *pl_proto_reply_add_rid (const char *reply, size_t len, const char *rid);

/* Caller context (frame "ctx" of a REQ). */
typedef struct {
    char *gateway;          /* gateway id, e.g. "gw-1a2b3c4d"            */
    char *conn;             /* connection id, unique within the gateway  */
    char *user;             /* JWT sub                                   */
    char *name;             /* JWT name, or NULL                         */
} pl_caller_t;

/* Encode a caller context as JSON text (caller frees). */
char *pl_proto_ctx_encode (const char *gateway, const char *conn,
                           const char *user, const char *name);
/* Decode JSON text (len bytes, need not be NUL-terminated) into *caller.
 * Returns 0, or -1 on malformed input (caller untouched). Free the strings
 * with pl_proto_ctx_clear. */
int pl_proto_ctx_decode (const char *text, size_t len, pl_caller_t *caller);
void pl_proto_ctx_clear (pl_caller_t *caller);

/* Event-bus origin frame: "<gateway>/<conn>", or "" for none. Returns
 * snprintf-style length. */
int pl_proto_origin (char *buf, size_t size, const char *gateway, const char *conn);

/* Event-bus publish time (frame 6 of an EV, proto/README.md "Event bus"):
 * the worker's wall clock (CLOCK_REALTIME) when it sent the event, in ms
 * since the Unix epoch with three decimals (to the us), e.g.
 * "1733612345678.123". It times the delivery (parley_gateway_delivery_
 * seconds); nothing else depends on it. */
#define PL_PROTO_TS_MAX      19             /* bytes: 15 digits, '.', 3     */
#define PL_PROTO_TS_SKEW_US  3600000000LL   /* 1 h either side of now       */
/* Format wall_us (us since the epoch; a negative one as 0) into buf (at
 * least PL_PROTO_TS_MAX + 1 bytes). Returns snprintf-style length. */
int pl_proto_ts_format (char *buf, size_t size, int64_t wall_us);
/* Parse a publish time (len bytes, need not be NUL-terminated): 1 to 15
 * decimal digits, optionally '.' and 1 to 3 more. Returns it in us since
 * the epoch, or -1 when it is malformed (empty, a sign, anything else) or
 * more than PL_PROTO_TS_SKEW_US from now_us either way (a clock that far
 * off, or a hostile value): the event is then delivered but not timed. */
int64_t pl_proto_ts_parse (const char *text, size_t len, int64_t now_us);

/* The nesting limit for JSON that crosses the wire: arrays and objects
 * at most 64 deep (a request's argument; a socket.io packet adds one
 * level around it). cJSON's own limit is 1000, and its parse, duplicate
 * and print recurse once per level: a 1000-deep argument used about
 * 128 KB of a worker handler's coroutine stack (docs/experiments/
 * i10-coro.md). With the limit, the stack a handler needs is bounded by
 * code, not by what a client sends. No Parley message comes near it. */
#define PL_PROTO_JSON_DEPTH_MAX 64
#define PL_PROTO_DEPTH_MESSAGE "JSON nested deeper than 64 levels is refused"

/* Parse exactly len bytes of JSON text (need not be NUL-terminated).
 * Trailing garbage other than whitespace fails, unlike a bare
 * cJSON_ParseWithLength, and so does text nested deeper than
 * PL_PROTO_JSON_DEPTH_MAX. Returns NULL on any error. */
cJSON *pl_proto_json_parse (const char *text, size_t len);
/* The same with another nesting limit (at most cJSON's 1000): for the
 * gateway's socket.io packets, which it parses whole to answer an
 * argument too deep with an error ack (pl_proto_json_depth). */
cJSON *pl_proto_json_parse_depth (const char *text, size_t len, size_t max_depth);
/* How deep arrays and objects nest in JSON text (len bytes): 0 for a
 * scalar, 1 for [] or {}, ... A scan, not a parse (brackets inside
 * strings do not count; escapes are stepped over whole); never reads past
 * len. */
size_t pl_proto_json_depth (const char *text, size_t len);

/* Does JSON text (len bytes) hold a NUL: a raw 0x00 byte anywhere, or
 * the escape \u0000 in a string or a key? cJSON decodes \u0000 into a 0
 * byte inside valuestring (and raw control bytes pass through as they
 * are), and every reader of valuestring sees a C string: "p1\u0000x"
 * would be the user p1. So anything that crosses the wire refuses such
 * text before it is parsed for use: the gateway (event arguments, REST
 * bodies), the worker runtime (request bodies, caller contexts).
 * Escapes are stepped over whole, so "\\u0000" (an escaped backslash,
 * then the text u0000) is no NUL. Never reads past len. */
bool pl_proto_json_has_nul (const char *text, size_t len);

/* The message of the VALIDATION_ERROR for such text: one wording
 * wherever it is refused. */
#define PL_PROTO_NUL_MESSAGE "strings may not contain NUL (\\u0000)"

/* Selftest. */
void pl_proto_test (bool verbose);

#endif
