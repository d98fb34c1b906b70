/*  The generated client types and API documents of parley-proto-doc:
 *  clients/js/parley-events.d.ts (--dts), docs/asyncapi.yaml (--asyncapi)
 *  and docs/openapi.yaml (--openapi), from proto/events.def, types.def,
 *  routes.def and errors.def. script/gen-docs writes them; ctests fail when
 *  a committed copy is stale.
 *
 *  The YAML documents write every schema and every string in JSON syntax
 *  (JSON is YAML flow style), so prose needs no YAML quoting rules.
 */
#include "proto_api.h"
#include "pl_proto.h"
#include "pl_ptype.h"
#include "pl_routes.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;       /* PL_TYPE name                               */
    const char *type;       /* its type text                              */
} s_named_t;

static const s_named_t s_named[] = {
#define PL_TYPE(name, type) { #name, type },
#include "types.def"
};
#define S_NAMED_COUNT (sizeof s_named / sizeof s_named[0])

typedef struct {
    const char *kind;       /* room kind, the AsyncAPI channel            */
    const char *address;    /* e.g. "campaign:{campaignId}"               */
    const char *doc;        /* who is in it                               */
} s_room_t;

static const s_room_t s_rooms[] = {
#define PL_ROOM(kind, address, doc) { #kind, address, doc },
#include "types.def"
};
#define S_ROOM_COUNT (sizeof s_rooms / sizeof s_rooms[0])

/* The type texts by event / push id; NULL when types.def has no row. */
static const char *s_ev_arg[PL_EV_COUNT], *s_ev_data[PL_EV_COUNT];
static const char *s_push_rooms[PL_PUSH_COUNT], *s_push_payload[PL_PUSH_COUNT];

static const char *const s_ref_async = "#/components/schemas/";

static int s_errors;        /* problems found in types.def                */

static void
s_load (void)
{
#define PL_EVENT_TYPE(id, arg, data) s_ev_arg[PL_EV_##id] = arg; s_ev_data[PL_EV_##id] = data;
#define PL_PUSH_TYPE(id, rooms, payload) s_push_rooms[PL_PUSH_##id] = rooms; s_push_payload[PL_PUSH_##id] = payload;
#include "types.def"
}

/* pl_ptype_each_ref's callback: runs inside that call, in no event loop
 * (parley-proto-doc is a build tool). arg names the row, for the message. */
static void
s_check_ref (const char *name, void *arg)
{
    size_t i = 0;
    while (i < S_NAMED_COUNT && strcmp (s_named[i].name, name) != 0)
        i++;
    if (i == S_NAMED_COUNT) {
        fprintf (stderr, "types.def: %s names %s, which is no PL_TYPE\n", (const char *) arg, name);
        s_errors++;
    }
}

/* Parses text (an optional leading `?` or `!` skipped); NULL, counted as
 * an error, when it does not parse or names an unknown type. */
static pl_ptype_t *
s_parse (const char *text, const char *what)
{
    if (*text == '?' || *text == '!')
        text++;
    pl_ptype_t *type = pl_ptype_new (text, what);
    if (!type)
        s_errors++;
    else
        pl_ptype_each_ref (type, s_check_ref, (void *) what);
    return type;
}

static bool
s_public (int ev)
{
    return !(pl_proto_event ((pl_event_id_t) ev)->flags & PL_INTERNAL);
}

int
proto_api_check (void)
{
    s_load ();
    s_errors = 0;
    for (size_t i = 0; i < S_NAMED_COUNT; i++) {
        pl_ptype_t *type = s_parse (s_named[i].type, s_named[i].name);
        pl_ptype_destroy (&type);
    }
    for (int i = 0; i < PL_EV_COUNT; i++) {
        const char *name = pl_proto_event ((pl_event_id_t) i)->name;
        if (!s_public (i))
            continue;
        if (!s_ev_arg[i]) {
            fprintf (stderr, "types.def: no PL_EVENT_TYPE for %s\n", name);
            s_errors++;
            continue;
        }
        if (*s_ev_arg[i] && *s_ev_arg[i] != '!') {
            pl_ptype_t *type = s_parse (s_ev_arg[i], name);
            pl_ptype_destroy (&type);
        }
        if (*s_ev_data[i]) {
            pl_ptype_t *type = s_parse (s_ev_data[i], name);
            pl_ptype_destroy (&type);
        }
    }
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        const char *name = pl_proto_push ((pl_push_id_t) i)->name;
        if (!s_push_payload[i]) {
            fprintf (stderr, "types.def: no PL_PUSH_TYPE for %s\n", name);
            s_errors++;
            continue;
        }
        pl_ptype_t *type = s_parse (s_push_payload[i], name);
        pl_ptype_destroy (&type);
        char rooms[128];
        snprintf (rooms, sizeof rooms, "%s", s_push_rooms[i]);
        for (char *save, *r = strtok_r (rooms, " ", &save); r; r = strtok_r (NULL, " ", &save)) {
            size_t k = 0;
            while (k < S_ROOM_COUNT && strcmp (s_rooms[k].kind, r) != 0)
                k++;
            if (k == S_ROOM_COUNT) {
                fprintf (stderr, "types.def: %s: no PL_ROOM %s\n", name, r);
                s_errors++;
            }
        }
    }
    return s_errors ? -1 : 0;
}

/* A JSON string literal (also a YAML double-quoted scalar). */
static void
s_quote (const char *text, FILE *out)
{
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf (out, "\\u%04x", *p);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

/* Prints text (already checked) as TypeScript or as a schema. */
static void
s_ts (const char *text, FILE *out)
{
    pl_ptype_t *type = pl_ptype_new (text, "ts");
    assert (type);
    pl_ptype_print_ts (type, out);
    pl_ptype_destroy (&type);
}

static void
s_schema (const char *text, const char *optional, FILE *out)
{
    pl_ptype_t *type = pl_ptype_new (text, "schema");
    assert (type);
    pl_ptype_print_schema_opt (type, s_ref_async, optional, out);
    pl_ptype_destroy (&type);
}

/* ---- clients/js/parley-events.d.ts ---------------------------------- */

/* The ack type of event i, in TypeScript. */
static void
s_ts_ack (int i, FILE *out)
{
    const char *data = s_ev_data[i];
    if (!*data)
        fputs ("AckEmpty", out);
    else if (*data == '!') {
        fputs ("AckWith<", out);
        s_ts (data + 1, out);
        fputc ('>', out);
    }
    else {
        fputs ("Ack<", out);
        s_ts (data, out);
        fputc ('>', out);
    }
}

void
proto_api_dts (FILE *out)
{
    fputs ("// clients/js/parley-events.d.ts - GENERATED by `parley-proto-doc --dts` from\n"
           "// proto/events.def, proto/types.def and proto/errors.def. Do not edit: change the\n"
           "// tables and run script/gen-docs (ctest types_doc_fresh fails when this is stale).\n"
           "//\n"
           "//   import { io, Socket } from 'socket.io-client';\n"
           "//   import type { ServerToClientEvents, ClientToServerEvents } from './parley-events';\n"
           "//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token } });\n\n", out);
    fputs ("/** The error codes of proto/errors.def. */\nexport type ParleyErrorCode =\n", out);
    for (int i = 1; i < PL_ERR_COUNT; i++)
        fprintf (out, "  | \"%s\"%s\n", pl_proto_err_code ((pl_err_t) i), i + 1 < PL_ERR_COUNT ? "" : ";");
    fputs ("\n/** A failed ack's error: VERSION_CONFLICT carries currentVersion, a bad\n"
           " * operation index, TIMEOUT and INTERNAL requestId. */\n"
           "export interface ParleyError {\n  code: ParleyErrorCode;\n  message: string;\n"
           "  currentVersion?: string;\n  index?: number;\n  requestId?: string;\n"
           "  [key: string]: unknown;\n}\n"
           "export type AckError = { success: false; error: ParleyError };\n"
           "/** The ack of an event whose answer has data. */\n"
           "export type Ack<T> = { success: true; data: T } | AckError;\n"
           "/** The ack of an event that answers no data. */\n"
           "export type AckEmpty = { success: true } | AckError;\n"
           "/** The ack of an event whose answer's fields sit in the ack itself. */\n"
           "export type AckWith<T> = ({ success: true } & T) | AckError;\n\n", out);
    for (size_t i = 0; i < S_NAMED_COUNT; i++) {
        fprintf (out, "export type %s = ", s_named[i].name);
        s_ts (s_named[i].type, out);
        fputs (";\n", out);
    }
    fputs ("\n/** The argument of every client event (void: none). */\nexport interface ParleyEventArgs {\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        fprintf (out, "  \"%s\": ", pl_proto_event ((pl_event_id_t) i)->name);
        const char *arg = s_ev_arg[i];
        if (!*arg)
            fputs ("void", out);
        else {
            s_ts (*arg == '?' ? arg + 1 : arg, out);
            if (*arg == '?')
                fputs (" | void", out);
        }
        fputs (";\n", out);
    }
    fputs ("}\n\n/** The ack of every client event. */\nexport interface ParleyEventAcks {\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        fprintf (out, "  \"%s\": ", pl_proto_event ((pl_event_id_t) i)->name);
        s_ts_ack (i, out);
        fputs (";\n", out);
    }
    fputs ("}\n\n/** The payload of every server push. */\nexport interface ParleyPushPayloads {\n", out);
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        fprintf (out, "  \"%s\": ", pl_proto_push ((pl_push_id_t) i)->name);
        s_ts (s_push_payload[i], out);
        fputs (";\n", out);
    }
    fputs ("}\n\n/** The events a client emits, with their acks. */\nexport interface ClientToServerEvents {\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) i);
        const char *arg = s_ev_arg[i];
        fprintf (out, "  /** %s */\n  \"%s\": ", ev->doc, ev->name);
        char ack[128] = "";
        if (ev->flags & PL_ACK)
            snprintf (ack, sizeof ack, "ack: (res: ParleyEventAcks[\"%s\"]) => void", ev->name);
        if (!*arg)
            fprintf (out, "(%s) => void;\n", ack);
        else if (*arg == '?') {         /* without, or with the argument */
            fprintf (out, "(...args: [%s] | [arg: ", ack);
            s_ts (arg + 1, out);
            fprintf (out, "%s%s]) => void;\n", *ack ? ", " : "", ack);
        }
        else
            fprintf (out, "(arg: ParleyEventArgs[\"%s\"]%s%s) => void;\n", ev->name, *ack ? ", " : "", ack);
    }
    fputs ("}\n\n/** The events the server pushes to the rooms a client is in. */\n"
           "export interface ServerToClientEvents {\n", out);
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        const pl_push_info_t *push = pl_proto_push ((pl_push_id_t) i);
        fprintf (out, "  /** To %s: %s */\n  \"%s\": (payload: ParleyPushPayloads[\"%s\"]) => void;\n",
                 push->room, push->doc, push->name, push->name);
    }
    fputs ("}\n", out);
}

/* ---- docs/asyncapi.yaml --------------------------------------------- */

/* A map key for name: AsyncAPI keys are [A-Za-z0-9._-]; ':' becomes '.'. */
static const char *
s_key (const char *name, char *out, size_t size)
{
    snprintf (out, size, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == ':')
            *p = '.';
    return out;
}

/* The errors schemas shared by both documents (under components/schemas). */
static void
s_error_schemas (FILE *out)
{
    fputs ("    ErrorCode:\n      description: The error codes of proto/errors.def.\n      enum: [", out);
    for (int i = 1; i < PL_ERR_COUNT; i++)
        fprintf (out, "%s\"%s\"", i > 1 ? ", " : "", pl_proto_err_code ((pl_err_t) i));
    fputs ("]\n    Error: {\"type\": \"object\", \"properties\": {\"code\": {\"$ref\": \"#/components/schemas/ErrorCode\"}, "
           "\"message\": {\"type\": \"string\"}, \"currentVersion\": {\"type\": \"string\"}, "
           "\"index\": {\"type\": \"integer\"}, \"requestId\": {\"type\": \"string\"}}, "
           "\"required\": [\"code\", \"message\"]}\n", out);
    for (size_t i = 0; i < S_NAMED_COUNT; i++) {
        fprintf (out, "    %s: ", s_named[i].name);
        s_schema (s_named[i].type, NULL, out);
        fputc ('\n', out);
    }
}

/* The `{name}`s of a pattern, space-separated. */
static void
s_path_names (const char *pattern, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (const char *p = pattern; (p = strchr (p, '{')); p++) {
        const char *end = strchr (p, '}');
        used += (size_t) snprintf (out + used, size - used, "%s%.*s", used ? " " : "",
                                   (int) (end - p - 1), p + 1);
        assert (used < size);
    }
}

/* A channel's parameters: the `{name}`s of its address. */
static void
s_parameters (const char *address, const char *indent, FILE *out)
{
    char names[128];
    s_path_names (address, names, sizeof names);
    if (names[0])
        fprintf (out, "%sparameters:\n", indent);
    for (char *save, *n = strtok_r (names, " ", &save); n; n = strtok_r (NULL, " ", &save))
        fprintf (out, "%s  %s: {}\n", indent, n);
}

void
proto_api_asyncapi (FILE *out)
{
    char key[96];
    fputs ("# docs/asyncapi.yaml - GENERATED by `parley-proto-doc --asyncapi` from proto/events.def,\n"
           "# proto/types.def and proto/errors.def. Do not edit: change the tables and run\n"
           "# script/gen-docs (ctest asyncapi_doc_fresh fails when this is stale).\n"
           "asyncapi: 3.0.0\n"
           "info:\n  title: Parley events\n  version: 1.0.0\n"
           "  description: \"The Socket.IO events of Parley (proto/README.md). A client emits the events of "
           "channel `connection` and gets each answer as the Socket.IO ack: {success: true, data} or "
           "{success: false, error: {code, message}}. The server pushes the others to the rooms the "
           "connection is in; each room kind is a channel.\"\n"
           "defaultContentType: application/json\n"
           "servers:\n  gateway:\n    host: \"127.0.0.1:8080\"\n    protocol: ws\n    pathname: /socket.io/\n"
           "    description: A Parley gateway (Socket.IO v4, Engine.IO 4); the JWT goes in the CONNECT auth {token}.\n"
           "channels:\n"
           "  connection:\n    address: null\n"
           "    description: The client's own Socket.IO connection, for the events it emits and their acks.\n"
           "    messages:\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        s_key (pl_proto_event ((pl_event_id_t) i)->name, key, sizeof key);
        fprintf (out, "      %s: {$ref: \"#/components/messages/%s\"}\n", key, key);
        if (pl_proto_event ((pl_event_id_t) i)->flags & PL_ACK)
            fprintf (out, "      %s.ack: {$ref: \"#/components/messages/%s.ack\"}\n", key, key);
    }
    for (size_t r = 0; r < S_ROOM_COUNT; r++) {
        fprintf (out, "  %s:\n    address: \"%s\"\n    description: ", s_rooms[r].kind, s_rooms[r].address);
        s_quote (s_rooms[r].doc, out);
        fputc ('\n', out);
        s_parameters (s_rooms[r].address, "    ", out);
        fputs ("    messages:\n", out);
        for (int i = 0; i < PL_PUSH_COUNT; i++) {
            char rooms[128];
            bool in = false;
            snprintf (rooms, sizeof rooms, "%s", s_push_rooms[i]);
            for (char *save, *t = strtok_r (rooms, " ", &save); t; t = strtok_r (NULL, " ", &save))
                in = in || strcmp (t, s_rooms[r].kind) == 0;
            if (!in)
                continue;               /* not published to this kind */
            s_key (pl_proto_push ((pl_push_id_t) i)->name, key, sizeof key);
            fprintf (out, "      %s: {$ref: \"#/components/messages/%s\"}\n", key, key);
        }
    }
    fputs ("operations:\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) i);
        s_key (ev->name, key, sizeof key);
        fprintf (out, "  %s:\n    action: send\n    channel: {$ref: \"#/channels/connection\"}\n    summary: ", key);
        s_quote (ev->doc, out);
        fprintf (out, "\n    messages: [{$ref: \"#/channels/connection/messages/%s\"}]\n", key);
        if (ev->flags & PL_ACK)
            fprintf (out, "    reply:\n      channel: {$ref: \"#/channels/connection\"}\n"
                          "      messages: [{$ref: \"#/channels/connection/messages/%s.ack\"}]\n", key);
    }
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        const pl_push_info_t *push = pl_proto_push ((pl_push_id_t) i);
        char rooms[128];
        snprintf (rooms, sizeof rooms, "%s", s_push_rooms[i]);
        s_key (push->name, key, sizeof key);
        for (char *save, *t = strtok_r (rooms, " ", &save); t; t = strtok_r (NULL, " ", &save)) {
            fprintf (out, "  %s.to.%s:\n    action: receive\n    channel: {$ref: \"#/channels/%s\"}\n"
                          "    summary: ", key, t, t);
            s_quote (push->doc, out);
            fprintf (out, "\n    messages: [{$ref: \"#/channels/%s/messages/%s\"}]\n", t, key);
        }
    }
    fputs ("components:\n  messages:\n", out);
    for (int i = 0; i < PL_EV_COUNT; i++) {
        if (!s_public (i))
            continue;
        const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) i);
        const char *arg = s_ev_arg[i], *data = s_ev_data[i];
        s_key (ev->name, key, sizeof key);
        fprintf (out, "    %s:\n      name: \"%s\"\n      summary: ", key, ev->name);
        s_quote (ev->doc, out);
        fputs ("\n      description: ", out);
        s_quote (*arg ? ev->arg : "No argument: the client emits the event with its ack only.", out);
        if (*arg) {
            fputs ("\n      payload: ", out);
            s_schema (*arg == '?' ? arg + 1 : arg, NULL, out);
        }
        fputc ('\n', out);
        if (!(ev->flags & PL_ACK))
            continue;
        fprintf (out, "    %s.ack:\n      name: \"%s ack\"\n      description: ", key, ev->name);
        s_quote (ev->data, out);
        fputs ("\n      payload: {\"anyOf\": [{\"type\": \"object\", \"properties\": {\"success\": {\"const\": true}", out);
        if (*data == '!') {
            fputs ("}, \"required\": [\"success\"], \"allOf\": [", out);
            s_schema (data + 1, NULL, out);
            fputs ("]}", out);
        }
        else if (*data) {
            fputs (", \"data\": ", out);
            s_schema (data, NULL, out);
            fputs ("}, \"required\": [\"success\", \"data\"]}", out);
        }
        else
            fputs ("}, \"required\": [\"success\"]}", out);
        fputs (", {\"type\": \"object\", \"properties\": {\"success\": {\"const\": false}, "
               "\"error\": {\"$ref\": \"#/components/schemas/Error\"}}, \"required\": [\"success\", \"error\"]}]}\n", out);
    }
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        const pl_push_info_t *push = pl_proto_push ((pl_push_id_t) i);
        s_key (push->name, key, sizeof key);
        fprintf (out, "    %s:\n      name: \"%s\"\n      summary: ", key, push->name);
        s_quote (push->doc, out);
        fputs ("\n      description: ", out);
        s_quote (push->payload, out);
        fputs ("\n      payload: ", out);
        s_schema (s_push_payload[i], NULL, out);
        fputc ('\n', out);
    }
    fputs ("  schemas:\n", out);
    s_error_schemas (out);
}

/* ---- docs/openapi.yaml ---------------------------------------------- */

static void
s_operation (const pl_route_info_t *route, FILE *out)
{
    const pl_event_info_t *ev = pl_proto_event (route->event);
    const char *arg = s_ev_arg[route->event], *data = s_ev_data[route->event];
    char names[128], method[16];
    snprintf (method, sizeof method, "%s", route->method);
    for (char *p = method; *p; p++)
        *p = (char) (*p - 'A' + 'a');
    fprintf (out, "    %s:\n      operationId: \"%s\"\n      summary: ", method, ev->name);
    s_quote (ev->doc, out);
    fprintf (out, "\n      description: \"Runs the socket event `%s`: same service, rules and broadcasts.\"\n",
             ev->name);
    s_path_names (route->pattern, names, sizeof names);
    bool params = names[0] || route->query[0];
    if (params)
        fputs ("      parameters:\n", out);
    char list[160];
    snprintf (list, sizeof list, "%s", names);
    for (char *save, *n = strtok_r (list, " ", &save); n; n = strtok_r (NULL, " ", &save))
        fprintf (out, "        - {name: \"%s\", in: path, required: true, schema: {\"type\": \"string\"}}\n", n);
    snprintf (list, sizeof list, "%s", route->query);
    for (char *save, *q = strtok_r (list, " ", &save); q; q = strtok_r (NULL, " ", &save)) {
        char *colon = strchr (q, ':');
        if (colon)
            *colon = 0;
        fprintf (out, "        - {name: \"%s\", in: query, required: false, schema: {\"type\": \"%s\"}}\n",
                 q, colon ? "integer" : "string");
    }
    if (route->arg == PL_RARG_BODY || route->arg == PL_RARG_BODY_PARAMS) {
        /* the path parameters are set in the body: it need not carry them;
         * a named type is expanded once so that this applies to it too */
        const char *text = *arg == '?' ? arg + 1 : arg;
        pl_ptype_t *type = pl_ptype_new (text, "body");
        assert (type);
        const char *ref = pl_ptype_ref (type);
        for (size_t i = 0; ref && route->arg == PL_RARG_BODY_PARAMS && i < S_NAMED_COUNT; i++)
            if (strcmp (s_named[i].name, ref) == 0)
                text = s_named[i].type;
        pl_ptype_destroy (&type);
        fputs ("      requestBody:\n        required: true\n        description: ", out);
        s_quote (ev->arg, out);
        fputs ("\n        content:\n          application/json:\n            schema: ", out);
        s_schema (text, route->arg == PL_RARG_BODY_PARAMS ? names : NULL, out);
        fputc ('\n', out);
    }
    fprintf (out, "      responses:\n        \"%d\":\n          description: ", route->status);
    s_quote (*data ? ev->data : "Done.", out);
    fputc ('\n', out);
    if (route->status != 204 && *data) {
        fputs ("          content:\n            application/json:\n              schema: ", out);
        s_schema (*data == '!' ? data + 1 : data, NULL, out);
        fputc ('\n', out);
    }
    int seen[600] = { 0 };
    for (int i = 1; i < PL_ERR_COUNT; i++) {
        int http = pl_proto_err_http ((pl_err_t) i);
        assert (http > 0 && http < 600);
        if (!seen[http]++)
            fprintf (out, "        \"%d\": {$ref: \"#/components/responses/E%d\"}\n", http, http);
    }
}

void
proto_api_openapi (FILE *out)
{
    fputs ("# docs/openapi.yaml - GENERATED by `parley-proto-doc --openapi` from proto/routes.def,\n"
           "# proto/events.def, proto/types.def and proto/errors.def. Do not edit: change the tables\n"
           "# and run script/gen-docs (ctest openapi_doc_fresh fails when this is stale).\n"
           "openapi: 3.1.0\n"
           "info:\n  title: Parley REST API\n  version: 1.0.0\n"
           "  description: \"Every route is a socket event in another form (proto/README.md, REST): the "
           "same service, rules and broadcasts. A success answers the ack's data as the JSON body (204: "
           "none); a failure answers {error: {code, message}} with the code's HTTP status.\"\n"
           "servers:\n  - url: \"http://127.0.0.1:8080\"\n"
           "security:\n  - bearer: []\n"
           "paths:\n", out);
    for (int i = 0; i < PL_ROUTE_COUNT; i++) {
        const pl_route_info_t *route = pl_routes_get ((pl_route_id_t) i);
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = strcmp (pl_routes_get ((pl_route_id_t) j)->pattern, route->pattern) != 0;
        if (!first)
            continue;                   /* printed with the first of its path */
        fprintf (out, "  \"%s\":\n", route->pattern);
        for (int j = i; j < PL_ROUTE_COUNT; j++)
            if (strcmp (pl_routes_get ((pl_route_id_t) j)->pattern, route->pattern) == 0)
                s_operation (pl_routes_get ((pl_route_id_t) j), out);
    }
    fputs ("components:\n"
           "  securitySchemes:\n    bearer: {type: http, scheme: bearer, bearerFormat: JWT}\n"
           "  responses:\n", out);
    int seen[600] = { 0 };
    for (int i = 1; i < PL_ERR_COUNT; i++) {
        int http = pl_proto_err_http ((pl_err_t) i);
        if (seen[http]++)
            continue;
        fprintf (out, "    E%d:\n      description: \"", http);
        bool any = false;
        for (int j = i; j < PL_ERR_COUNT; j++)
            if (pl_proto_err_http ((pl_err_t) j) == http) {
                fprintf (out, "%s%s", any ? ", " : "", pl_proto_err_code ((pl_err_t) j));
                any = true;
            }
        fputs ("\"\n      content:\n        application/json:\n          schema: {\"type\": \"object\", "
               "\"properties\": {\"error\": {\"$ref\": \"#/components/schemas/Error\"}}, \"required\": [\"error\"]}\n",
               out);
    }
    fputs ("  schemas:\n", out);
    s_error_schemas (out);
}
