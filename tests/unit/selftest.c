/*  parley-selftest [module ...] - run module selftests (all when none are
 *  named). Each selftest asserts; a failure aborts with the assertion. */
#include <stdio.h>
#include <string.h>
#include "selftests.h"

int
main (int argc, char **argv)
{
    int ran = 0;
    for (const pl_selftest_t *t = s_selftests; t->name; t++) {
        bool wanted = argc < 2;
        for (int i = 1; i < argc; i++)
            if (strcmp (argv[i], t->name) == 0)
                wanted = true;
        if (wanted) {
            t->run (true);
            ran++;
        }
    }
    if (ran == 0 || (argc >= 2 && ran != argc - 1)) {
        fprintf (stderr, "parley-selftest: unknown module in arguments\n");
        return 1;
    }
    return 0;
}
