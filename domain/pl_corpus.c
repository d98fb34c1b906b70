/*  pl_corpus - the selftests' walk over a directory of fuzz seeds
 *  (pl_corpus.h).
 */
#include "pl_corpus.h"

#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

int
pl_corpus_check (const char *name, const char *who, pl_corpus_parse_fn *parse, int at_least)
{
    char dir[512];
    snprintf (dir, sizeof dir, "%s/tests/corpus/%s", PL_SOURCE_DIR, name);
    DIR *d = opendir (dir);
    assert (d);                 /* the corpus is part of the repository */
    struct dirent *entry;
    int files = 0;
    while ((entry = readdir (d)) != NULL) {
        if (!strstr (entry->d_name, ".txt"))
            continue;
        char path[800], why[128];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        FILE *f = fopen (path, "rb");
        assert (f);
        static char data[PL_CORPUS_FILE_MAX];
        size_t len = fread (data, 1, sizeof data, f);
        fclose (f);
        bool bad = strncmp (entry->d_name, "bad-", 4) == 0;
        bool parsed = parse (data, len, why, sizeof why);
        if (parsed == bad)
            fprintf (stderr, "\n%s: corpus %s: %s\n", who, entry->d_name, parsed ? "parsed" : why);
        assert (parsed != bad);
        files++;
    }
    closedir (d);
    assert (files >= at_least);
    return files;
}
