/*  rules - the rules service's handlers (proto/events.def, "rules"), one
 *  file per concern: dice.c (roll), rule.c (rule:*, and the bus handler
 *  that runs the rules). main.c puts them in the table it hands
 *  to the worker runtime; a test may link them directly.
 *
 *  Handlers run on the worker loop (pl_worker.h).
 */
#ifndef PL_WORKER_RULES_H
#define PL_WORKER_RULES_H

#include "pl_worker.h"

/* dice.c */
pl_handler_fn pl_rules_roll;

/* rule.c: the declarative rules, and the bus handler that runs them */
pl_handler_fn pl_rules_rule_create;
pl_handler_fn pl_rules_rule_list;
pl_handler_fn pl_rules_rule_delete;
pl_handler_fn pl_rules_rule_test;
pl_bus_fn pl_rules_heard;

#endif
