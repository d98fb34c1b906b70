/*  pl_sched_int - what pl_sched.c and its scripts (pl_sched_lua.c) share.
 *  Each script's keys, arguments and answer are described above it in
 *  pl_sched_lua.c. Private to those two files.
 */
#ifndef PL_SCHED_INT_H
#define PL_SCHED_INT_H

#include "pl_sched.h"
#include "pl_redis.h"

extern pl_redis_script_t pl_sched__time_lua;
extern pl_redis_script_t pl_sched__create_lua;
extern pl_redis_script_t pl_sched__list_lua;
extern pl_redis_script_t pl_sched__cancel_lua;
extern pl_redis_script_t pl_sched__timer_start_lua;
extern pl_redis_script_t pl_sched__timer_cancel_lua;
extern pl_redis_script_t pl_sched__clear_lua;
extern pl_redis_script_t pl_sched__ack_lua;
extern pl_redis_script_t pl_sched__claim_lua;

#endif
