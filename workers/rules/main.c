/*  parley-rules - the rules worker process: server-side dice (dice.c) and
 *  the campaigns' declarative rules (rule.c).
 *  A new handler is one row here and its file (rules.h declares them). */
#include "rules.h"
#include "pl_log.h"
#include "pl_rule.h"

static const pl_handler_t s_handlers[] = {
    { PL_EV_ROLL, pl_rules_roll },                  /* dice.c */
    { PL_EV_RULE_CREATE, pl_rules_rule_create },    /* rule.c */
    { PL_EV_RULE_LIST, pl_rules_rule_list },
    { PL_EV_RULE_DELETE, pl_rules_rule_delete },
    { PL_EV_RULE_TEST, pl_rules_rule_test },
};

/* The rules watch what changes in campaigns and sessions (rule.c) */
static const char *const s_subscribe[] = { "campaign:", "session:", NULL };

int
main (void)
{
    pl_worker_extra_t extra = { .subscribe = s_subscribe, .on_bus = pl_rules_heard };
    int code = pl_worker_main_opts ("rules", s_handlers, sizeof s_handlers / sizeof s_handlers[0],
                                    &extra);
    pl_rule_stats_t stats = pl_rule_stats ();
    pl_info ("rules: %llu versions evaluated, %llu rules applied, %llu stopped by the depth "
             "bound, %llu skipped (creator no longer a GM)", (unsigned long long) stats.runs,
             (unsigned long long) stats.applied, (unsigned long long) stats.depth_stops,
             (unsigned long long) stats.not_gm);
    return code;
}
