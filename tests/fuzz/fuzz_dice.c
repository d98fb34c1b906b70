/*  fuzz_dice - libFuzzer target for domain/pl_dice (script/fuzz).
 *
 *  The input is a dice expression. Whatever it is, parsing must not crash,
 *  leak or read past it, and a refusal must name a 1-based position inside
 *  the text (or one past its end). An accepted expression must:
 *   - have a canonical form that parses again to itself (unless that form
 *     is longer than the 200-byte bound: "d%" prints as "1d100");
 *   - roll, with a generator seeded from the input (deterministic, so a
 *     crash reproduces), into a result whose every face is within its die,
 *     whose kept faces are the right number of them, and whose total is
 *     the signed sum of the kept faces plus the modifier.
 */
#include "pl_dice.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* xorshift32 from the input's FNV-1a hash: not random, reproducible. */
static uint32_t
s_next (void *arg)
{
    uint32_t *x = arg;
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* A refusal's "at N: ..." has 1 <= N <= len + 1 (or the length rule). */
static void
s_check_why (const char *why, size_t len)
{
    assert (why[0]);
    if (strncmp (why, "at ", 3) == 0) {
        long at = strtol (why + 3, NULL, 10);
        assert (at >= 1 && (size_t) at <= len + 1);
    }
    else
        assert (strstr (why, "empty") || strstr (why, "longer than") || strstr (why, "memory"));
}

/* Check one roll of term die text: faces within 1..sides, kept from the
 * faces; returns the signed sum of the kept faces. results and kept are
 * raw items (the JSON array text, pl_dice.h): they must parse. */
static long
s_check_roll (const cJSON *roll)
{
    const char *die = cJSON_GetStringValue (cJSON_GetObjectItem (roll, "die"));
    const cJSON *raw_results = cJSON_GetObjectItem (roll, "results");
    const cJSON *raw_kept = cJSON_GetObjectItem (roll, "kept");
    assert (die && cJSON_IsRaw (raw_results) && cJSON_IsRaw (raw_kept));
    cJSON *results = cJSON_Parse (raw_results->valuestring);
    cJSON *kept = cJSON_Parse (raw_kept->valuestring);
    assert (cJSON_IsArray (results) && cJSON_IsArray (kept));
    int sign = die[0] == '-' ? -1 : 1;
    const char *d = strchr (die, 'd');
    assert (d);
    long count = strtol (die + (sign < 0), NULL, 10);
    long sides = strtol (d + 1, NULL, 10);
    const char *k = strchr (d, 'k');
    long keep = k ? strtol (k + 2, NULL, 10) : count;
    assert (count >= 1 && count <= PL_DICE_DICE_MAX && sides >= 1 && sides <= PL_DICE_SIDES_MAX);
    assert (cJSON_GetArraySize (results) == count && cJSON_GetArraySize (kept) == keep);
    int seen[PL_DICE_SIDES_MAX + 1] = { 0 };
    const cJSON *f;
    cJSON_ArrayForEach (f, results) {
        assert (cJSON_IsNumber (f) && f->valueint >= 1 && f->valueint <= sides);
        seen[f->valueint]++;
    }
    long sum = 0;
    int last = 0;
    cJSON_ArrayForEach (f, kept) {
        assert (cJSON_IsNumber (f) && f->valueint >= 1 && f->valueint <= sides);
        assert (seen[f->valueint]-- > 0);       /* kept faces are rolled faces */
        if (k) {
            /* kept highest or lowest, in descending order */
            assert (!last || f->valueint <= last);
            last = f->valueint;
        }
        sum += f->valueint;
    }
    if (k) {
        /* every face left out is on the other side of the kept ones */
        const cJSON *first = cJSON_GetArrayItem (kept, 0);
        for (int v = 1; v <= sides; v++)
            if (seen[v] > 0)
                assert (k[1] == 'h' ? v <= last : v >= first->valueint);
    }
    cJSON_Delete (results);
    cJSON_Delete (kept);
    return sign * sum;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char why[128];
    const char *text = (const char *) data;
    pl_dice_t *dice = pl_dice_parse (text, size, why, sizeof why);
    if (!dice) {
        s_check_why (why, size);
        return 0;
    }
    /* the canonical form parses to itself */
    const char *canon = pl_dice_text (dice);
    assert (canon[0]);
    pl_dice_t *again = pl_dice_parse (canon, strlen (canon), why, sizeof why);
    if (again)
        assert (strcmp (pl_dice_text (again), canon) == 0);
    else
        assert (strlen (canon) > PL_DICE_TEXT_MAX);
    pl_dice_destroy (&again);

    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;                              /* xorshift never leaves 0 */
    cJSON *r = pl_dice_roll (dice, s_next, &seed);
    assert (r);
    const cJSON *rolls = cJSON_GetObjectItem (r, "rolls");
    const cJSON *modifier = cJSON_GetObjectItem (r, "modifier");
    const cJSON *total = cJSON_GetObjectItem (r, "total");
    assert (cJSON_IsArray (rolls) && cJSON_GetArraySize (rolls) >= 1);
    assert (cJSON_IsNumber (modifier) && cJSON_IsNumber (total));
    long sum = (long) modifier->valuedouble;
    const cJSON *roll;
    cJSON_ArrayForEach (roll, rolls)
        sum += s_check_roll (roll);
    assert ((double) sum == total->valuedouble);
    cJSON_Delete (r);
    pl_dice_destroy (&dice);
    assert (dice == NULL);
    return 0;
}
