/*  pl_id - random ids and clocks. */
#include "pl_id.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

int
pl_id_uuid4 (char buf[PL_ID_UUID_SIZE])
{
    int rc = -1;
    unsigned char b[16];
    buf[0] = 0;
    if (RAND_bytes (b, sizeof b) != 1)
        goto cleanup;
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);     /* version 4     */
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
    snprintf (buf, PL_ID_UUID_SIZE,
              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
              b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    rc = 0;
cleanup:
    return rc;
}

bool
pl_id_is_uuid (const char *text)
{
    bool ok = text && strlen (text) == PL_ID_UUID_SIZE - 1;
    for (int i = 0; ok && i < PL_ID_UUID_SIZE - 1; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ok = text[i] == '-';
        else
            ok = isxdigit ((unsigned char) text[i]) && !isupper ((unsigned char) text[i]);
    }
    return ok;
}

static int64_t
s_clock_ms (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pl_id_wall_ms (void)
{
    return s_clock_ms (CLOCK_REALTIME);
}

int64_t
pl_id_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
pl_id_mono_ms (void)
{
    return s_clock_ms (CLOCK_MONOTONIC);
}

double
pl_id_mono_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
pl_id_test (bool verbose)
{
    if (verbose)
        printf (" * pl_id: ");
    char a[PL_ID_UUID_SIZE], b[PL_ID_UUID_SIZE];
    assert (pl_id_uuid4 (a) == 0);
    assert (pl_id_uuid4 (b) == 0);
    assert (strlen (a) == 36);
    assert (pl_id_is_uuid (a) && pl_id_is_uuid (b));
    assert (strcmp (a, b) != 0);
    assert (a[14] == '4');                              /* version nibble */
    assert (strchr ("89ab", a[19]));                    /* variant bits   */
    /* the version and variant bits hold over many draws, and no id repeats
     * among them (a broken RNG that returns a constant fails here) */
    char seen[64][PL_ID_UUID_SIZE];
    for (int i = 0; i < 64; i++) {
        assert (pl_id_uuid4 (seen[i]) == 0);
        assert (seen[i][14] == '4' && strchr ("89ab", seen[i][19]));
        for (int j = 0; j < i; j++)
            assert (strcmp (seen[i], seen[j]) != 0);
    }
    const char *bad[] = { NULL, "", "not-a-uuid", "0123456789abcdef0123456789abcdef0123",
                          "01234567-89ab-4def-8123-456789ABCDEF",
                          "01234567-89ab-4def-8123-456789abcdef0",
                          "01234567x89ab-4def-8123-456789abcdef" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert (!pl_id_is_uuid (bad[i]));
    assert (pl_id_is_uuid ("01234567-89ab-4def-8123-456789abcdef"));

    /* wall clock is after 2020, monotonic clock does not go back */
    assert (pl_id_wall_ms () > 1577836800000LL);
    assert (pl_id_wall_us () / 1000 >= pl_id_wall_ms () - 1000);
    int64_t m1 = pl_id_mono_ms ();
    int64_t m2 = pl_id_mono_ms ();
    assert (m2 >= m1);
    if (verbose)
        printf ("OK\n");
}
