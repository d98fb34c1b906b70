/*  pl_keys - the Redis key layout. See pl_keys.h; it is all macros, and
 *  this file is their selftest.
 */
#include "pl_keys.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The printf format a PL_LUA_KEY_ form spells: its quoted pieces as they
 * are, and "%s" for every Lua expression between them ("'a:' .. x .. ':b'"
 * is "a:%s:b"). */
static void
s_lua_format (const char *lua, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    while (*lua) {
        const char *end = strstr (lua, " .. ");
        size_t len = end ? (size_t) (end - lua) : strlen (lua);
        if (len >= 2 && lua[0] == '\'' && lua[len - 1] == '\'')
            n += (size_t) snprintf (out + n, size - n, "%.*s", (int) len - 2, lua + 1);
        else
            n += (size_t) snprintf (out + n, size - n, "%%s");
        assert (n < size);
        lua += len + (end ? 4 : 0);
    }
}

static void
s_check (const char *format, const char *lua)
{
    char spelled[128];
    s_lua_format (lua, spelled, sizeof spelled);
    assert (strcmp (spelled, format) == 0);
}

void
pl_keys_test (bool verbose)
{
    if (verbose)
        printf (" * pl_keys: ");
    char buf[128];
    s_lua_format ("'a:' .. x .. ':b' .. ARGV[1]", buf, sizeof buf);
    assert (strcmp (buf, "a:%s:b%s") == 0);

    /* every Lua form spells its key */
    s_check (PL_KEY_CAMPAIGN, PL_LUA_KEY_CAMPAIGN ("id"));
    s_check (PL_KEY_CAMPAIGN_MEMBERS, PL_LUA_KEY_CAMPAIGN_MEMBERS ("id"));
    s_check (PL_KEY_SCHED_CAMPAIGN, PL_LUA_KEY_SCHED_CAMPAIGN ("cid"));
    s_check (PL_KEY_SCHED_WORLD, PL_LUA_KEY_SCHED_WORLD ("cid"));
    s_check (PL_KEY_TIMER, PL_LUA_KEY_TIMER ("sid"));
    s_check (PL_KEY_SESSION, PL_LUA_KEY_SESSION ("sid"));
    s_check (PL_KEY_TIME, PL_LUA_KEY_TIME ("cid"));
    s_check (PL_KEY_PRESENCE_CONN, PL_LUA_KEY_PRESENCE_CONN ("gw", "conn"));
    s_check (PL_KEY_PRESENCE_CONNS, PL_LUA_KEY_PRESENCE_CONNS ("room", "user"));
    s_check (PL_KEY_PRESENCE_USERS, PL_LUA_KEY_PRESENCE_USERS ("room"));
    s_check (PL_KEY_PRESENCE_GW, PL_LUA_KEY_PRESENCE_GW ("gw"));
    s_check (PL_KEY_PRESENCE_GATEWAYS, PL_LUA_KEY_PRESENCE_GATEWAYS);
    s_check (PL_KEY_PRESENCE_ALIVE, PL_LUA_KEY_PRESENCE_ALIVE ("gw"));
    s_check (PL_KEY_PRESENCE_BOOT, PL_LUA_KEY_PRESENCE_BOOT ("gw"));
    s_check (PL_KEY_PRESENCE_HEARD, PL_LUA_KEY_PRESENCE_HEARD);
    s_check (PL_KEY_PRESENCE_HEARD_LAST, PL_LUA_KEY_PRESENCE_HEARD_LAST);
    s_check (PL_KEY_PRESENCE_DUE, PL_LUA_KEY_PRESENCE_DUE);
    s_check (PL_KEY_PRESENCE_OUTBOX, PL_LUA_KEY_PRESENCE_OUTBOX);

    /* the chat of a campaign's and a session's rooms is their room's chat */
    snprintf (buf, sizeof buf, PL_KEY_CHAT, "campaign:%s");
    assert (strcmp (buf, PL_KEY_CHAT_CAMPAIGN) == 0);
    snprintf (buf, sizeof buf, PL_KEY_CHAT, "session:%s");
    assert (strcmp (buf, PL_KEY_CHAT_SESSION) == 0);

    /* what the kinds' keys come to (pl_entity.h, pl_session.h) */
    snprintf (buf, sizeof buf, PL_KEY_HELD, "actor", "a1", "item");
    assert (strcmp (buf, "pl:actor:a1:items") == 0);
    snprintf (buf, sizeof buf, PL_KEY_USER_CAMPAIGN_ENTITIES, "u1", "actor");
    assert (strcmp (buf, "pl:user:u1:campaign-actors") == 0);
    snprintf (buf, sizeof buf, PL_KEY_ENTITY_SESSIONS, "item", "i1");
    assert (strcmp (buf, "pl:item:i1:sessions") == 0);
    if (verbose)
        printf ("OK\n");
}
