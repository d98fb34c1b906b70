/*  pl_dice_test - the selftest of pl_dice: the grammar and its bounds, the
 *  refusals and their positions, rolls against a scripted generator
 *  (faces, kept faces, totals, rejection of the biased words), and the
 *  kernel's generator in range and near uniform.
 */
#include "pl_dice.h"
#include "pl_corpus.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A scripted generator: the words in order. */
typedef struct {
    const uint32_t *words;
    int n, next;
} s_script_t;

static uint32_t
s_scripted (void *arg)
{
    s_script_t *s = arg;
    assert (s->next < s->n);
    return s->words[s->next++];
}

/* text parses, to canonical form want */
static void
s_ok (const char *text, const char *want)
{
    char why[128];
    pl_dice_t *d = pl_dice_parse (text, strlen (text), why, sizeof why);
    if (!d || strcmp (pl_dice_text (d), want) != 0)
        fprintf (stderr, "pl_dice: \"%s\" -> %s (%s)\n", text, d ? pl_dice_text (d) : "NULL", why);
    assert (d && strcmp (pl_dice_text (d), want) == 0);
    pl_dice_destroy (&d);
    assert (d == NULL);
}

/* len bytes of text are refused with a reason that contains want */
static void
s_no (const char *text, size_t len, const char *want)
{
    char why[128];
    pl_dice_t *d = pl_dice_parse (text, len, why, sizeof why);
    if (d || !strstr (why, want))
        fprintf (stderr, "pl_dice: \"%.*s\" -> \"%s\", want \"%s\"\n", (int) len, text, why, want);
    assert (!d && strstr (why, want));
}

static void
s_grammar (void)
{
    s_ok ("d20", "1d20");
    s_ok ("4d6kh3", "4d6kh3");
    s_ok ("2d20kl1", "2d20kl1");
    s_ok ("d%", "1d100");
    s_ok (" 3d8 + 2 - 1d4 ", "3d8+2-1d4");
    s_ok ("-1d4+10", "-1d4+10");
    s_ok ("2D6KH1", "2d6kh1");
    s_ok ("100d1000", "100d1000");
    s_ok ("50d6+50d6", "50d6+50d6");

    s_no ("", 0, "empty");
    s_no ("5", 1, "at 1: a roll needs at least one die");
    s_no ("d0", 2, "at 3: a die needs at least one side");
    s_no ("0d6", 3, "at 1: a roll needs at least one die");
    s_no ("d1001", 5, "the number of sides is more than 1000");
    s_no ("101d6", 5, "more than 100 dice");
    s_no ("60d6+41d6", 9, "more than 100 dice");
    s_no ("4d6kh5", 6, "can keep 1 to 4 of 4 dice");
    s_no ("4d6kh0", 6, "can keep 1 to 4 of 4 dice");
    s_no ("4d6kx", 5, "at 5: expected kh or kl");
    s_no ("2d6 3", 5, "at 5: expected + or - between terms");
    s_no ("2d6+", 4, "expected a term after the sign");
    s_no ("2d6+x", 5, "at 5: expected a die (NdM) or a number");
    s_no ("d", 1, "expected the number of sides");
    s_no ("1d6+1000001", 11, "a number is more than 1000000");
    /* a NUL is a character: refused where it stands, never a cut */
    s_no ("1d6\0+2", 6, "at 4: expected + or - between terms");
    char many[128] = "1d2";
    for (int i = 0; i < 20; i++)
        strcat (many, "+1");
    s_no (many, strlen (many), "more than 20 terms");
    char long_text[PL_DICE_TEXT_MAX + 2];
    memset (long_text, ' ', sizeof long_text);
    memcpy (long_text, "d6", 2);
    s_no (long_text, sizeof long_text, "longer than 200");
}

static void
s_rolls (void)
{
    char why[128];
    /* 4d6kh3 - 1d4 + 2: faces 1 6 3 4 (word = face - 1), then 3 */
    pl_dice_t *d = pl_dice_parse ("4d6kh3 - 1d4 + 2", 16, why, sizeof why);
    assert (d);
    uint32_t words[] = { 0, 5, 2, 3, 2 };
    s_script_t script = { words, 5, 0 };
    cJSON *r = pl_dice_roll (d, s_scripted, &script);
    assert (r && script.next == 5);
    char *text = cJSON_PrintUnformatted (r);
    const char *want = "{\"rolls\":[{\"die\":\"4d6kh3\",\"results\":[1,6,3,4],\"kept\":[6,4,3]},"
                       "{\"die\":\"-1d4\",\"results\":[3],\"kept\":[3]}],\"modifier\":2,\"total\":12}";
    if (strcmp (text, want) != 0)
        fprintf (stderr, "pl_dice: %s\n", text);
    assert (strcmp (text, want) == 0);
    cJSON_free (text);
    cJSON_Delete (r);
    pl_dice_destroy (&d);

    /* the widest faces text: 100 faces of 1000 ("1000," each), kh100 */
    d = pl_dice_parse ("100d1000kh100", 13, why, sizeof why);
    uint32_t tops[100];
    for (int i = 0; i < 100; i++)
        tops[i] = 999;
    script = (s_script_t) { tops, 100, 0 };
    r = pl_dice_roll (d, s_scripted, &script);
    text = cJSON_PrintUnformatted (r);
    char wide[1200] = "{\"rolls\":[{\"die\":\"100d1000kh100\",\"results\":[";
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 100; i++)
            strcat (wide, i ? ",1000" : "1000");
        strcat (wide, pass ? "]}],\"modifier\":0,\"total\":100000}" : "],\"kept\":[");
    }
    assert (text && strcmp (text, wide) == 0);
    cJSON *back = cJSON_Parse (text);           /* and it is JSON */
    assert (back && cJSON_GetArraySize (cJSON_GetObjectItem (cJSON_GetArrayItem (
                cJSON_GetObjectItem (back, "rolls"), 0), "kept")) == 100);
    cJSON_Delete (back);
    cJSON_free (text);
    cJSON_Delete (r);
    pl_dice_destroy (&d);

    /* keep lowest: 2d20kl1 with 17 and 4 keeps 4 */
    d = pl_dice_parse ("2d20kl1", 7, why, sizeof why);
    uint32_t low[] = { 16, 3 };
    script = (s_script_t) { low, 2, 0 };
    r = pl_dice_roll (d, s_scripted, &script);
    assert (cJSON_GetObjectItem (r, "total")->valueint == 4);
    cJSON_Delete (r);
    pl_dice_destroy (&d);

    /* rejection: 2^32 mod 6 = 4, so the words 2^32-4 .. 2^32-1 would make
     * faces 1-4 likelier; they are drawn again */
    uint32_t biased[] = { 0xFFFFFFFFu, 0xFFFFFFFCu, 0xFFFFFFFBu };
    script = (s_script_t) { biased, 3, 0 };
    assert (pl_dice_face (6, s_scripted, &script) == 0xFFFFFFFBu % 6 + 1);
    assert (script.next == 3);
    /* d1 is always 1; d1000 of word 999 is 1000 */
    uint32_t one[] = { 12345, 999 };
    script = (s_script_t) { one, 2, 0 };
    assert (pl_dice_face (1, s_scripted, &script) == 1);
    assert (pl_dice_face (1000, s_scripted, &script) == 1000);
}

/* The kernel's generator: 60,000 d6 faces, each face within 5% of 10,000
 * (about 5.5 standard deviations: a false failure is below 1 in 10^7). */
static void
s_kernel (void)
{
    int count[7] = { 0 };
    for (int i = 0; i < 60000; i++) {
        int face = pl_dice_face (6, NULL, NULL);
        assert (face >= 1 && face <= 6);
        count[face]++;
    }
    for (int f = 1; f <= 6; f++)
        assert (count[f] > 9500 && count[f] < 10500);
    char why[64];
    pl_dice_t *d = pl_dice_parse ("100d1000", 8, why, sizeof why);
    cJSON *r = pl_dice_roll (d, NULL, NULL);
    const cJSON *raw = cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (r, "rolls"), 0),
                                            "results");
    assert (cJSON_IsRaw (raw));             /* JSON text, printed as-is */
    cJSON *results = cJSON_Parse (raw->valuestring);
    assert (cJSON_GetArraySize (results) == 100);
    long sum = 0;
    const cJSON *face;
    cJSON_ArrayForEach (face, results) {
        assert (face->valueint >= 1 && face->valueint <= 1000);
        sum += face->valueint;
    }
    assert (cJSON_GetObjectItem (r, "total")->valueint == sum);
    cJSON_Delete (results);
    cJSON_Delete (r);
    pl_dice_destroy (&d);
}

/* A dice seed (tests/corpus/dice): parses as an expression. Runs in the
 * selftest's thread (pl_corpus_check). */
static bool
s_corpus_parse (const char *data, size_t len, char *why, size_t why_size)
{
    pl_dice_t *dice = pl_dice_parse (data, len, why, why_size);
    bool parsed = dice != NULL;
    pl_dice_destroy (&dice);
    return parsed;
}

/* The pool of kernel words is not shared across a fork: the child's
 * next faces are its own draws, not the parent's next ones (8 faces of
 * d1000: equal by chance once in 10^24; equal always if the child kept the
 * parent's pool). */
static void
s_fork (void)
{
    int fd[2];
    assert (pipe (fd) == 0);
    assert (pl_dice_face (1000, NULL, NULL) > 0);      /* the pool is filled */
    fflush (NULL);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        int faces[8];
        for (int i = 0; i < 8; i++)
            faces[i] = pl_dice_face (1000, NULL, NULL);
        ssize_t n = write (fd[1], faces, sizeof faces);
        _exit (n == (ssize_t) sizeof faces ? 0 : 1);
    }
    int mine[8], theirs[8];
    for (int i = 0; i < 8; i++)
        mine[i] = pl_dice_face (1000, NULL, NULL);
    int status = -1;
    assert (waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert (read (fd[0], theirs, sizeof theirs) == (ssize_t) sizeof theirs);
    close (fd[0]);
    close (fd[1]);
    assert (memcmp (mine, theirs, sizeof mine) != 0);
}

void
pl_dice_test (bool verbose)
{
    if (verbose)
        printf (" * pl_dice: ");
    s_grammar ();
    s_rolls ();
    s_kernel ();
    int files = pl_corpus_check ("dice", "pl_dice", s_corpus_parse, 20);
    s_fork ();
    if (verbose)
        printf ("OK (%d corpus files)\n", files);
}
