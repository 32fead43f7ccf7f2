/*
 * Unit tests for sse_key: the key character set and exact ZeroMQ topics.
 */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_key.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1    /* a literal as pointer and length */

#define BAD_CHAR "key contains a character outside [A-Za-z0-9-_.:@~+=]"

static char long_key[SSE_KEY_MAX + 1];

static void
fill_long(void)
{
    memset(long_key, 'k', sizeof(long_key));
}

Test(sse_key, check_accepts_the_charset_and_refuses_the_rest)
{
    const struct {
        const char *name;
        const char *s;
        size_t n;
        const char *want;
    } rows[] = {
        { "letters and digits", S("User42"),              NULL },
        { "every punctuation",  S("-_.:@~+="),            NULL },
        { "email-like",         S("alice@example.org"),   NULL },
        { "one byte",           S("a"),                   NULL },
        { "at the maximum",     long_key, SSE_KEY_MAX,    NULL },
        { "empty",              S(""),                    "key is empty" },
        { "one past max",       long_key, SSE_KEY_MAX + 1,
                                "key is longer than 128 bytes" },
        { "space",              S("a b"),                 BAD_CHAR },
        { "slash",              S("a/b"),                 BAD_CHAR },
        { "star",               S("*"),                   BAD_CHAR },
        { "percent",            S("a%41"),                BAD_CHAR },
        { "nul inside",         S("a\0b"),                BAD_CHAR },
        { "nul at the end",     S("ab\0"),                BAD_CHAR },
        { "lf",                 S("a\n"),                 BAD_CHAR },
        { "utf-8",              S("caf\xc3\xa9"),         BAD_CHAR },
        { "ampersand",          S("a&b"),                 BAD_CHAR },
    };
    size_t i;

    fill_long();
    for (i = 0; i < NROWS(rows); i++) {
        struct guarded g;
        const char *p, *got;

        got = sse_key_check(rows[i].s, rows[i].n);
        if (rows[i].want == NULL)
            cr_expect_null(got, "row %s: refused with \"%s\"", rows[i].name,
                           got ? got : "");
        else
            cr_expect(got != NULL && strcmp(got, rows[i].want) == 0,
                      "row %s: reason \"%s\"", rows[i].name,
                      got ? got : "(null)");
        p = guard_copy(&g, rows[i].s, rows[i].n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_key_check(p, rows[i].n), got,
                     "row %s (guarded)", rows[i].name);
        guard_free(&g);
    }
}

Test(sse_key, check_knows_every_single_byte)
{
    static const char allowed[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        "-_.:@~+=";
    unsigned c;

    for (c = 0; c < 256; c++) {
        char s[1] = { (char)c };
        int want = c != 0 && strchr(allowed, (int)c) != NULL;

        cr_expect_eq(sse_key_check(s, 1) == NULL, want, "byte 0x%02x", c);
    }
}

Test(sse_key, topic_is_type_byte_key_and_nul)
{
    char out[SSE_TOPIC_MAX];

    cr_assert_eq(sse_key_topic(S("user1"), out), 7);
    cr_expect_arr_eq(out, "kuser1\0", 7);
    cr_assert_eq(sse_key_topic_all(out), 2);
    cr_expect_arr_eq(out, "*\0", 2);
}

Test(sse_key, longest_topic_fits_exactly_in_topic_max)
{
    struct guarded g;
    char zero[SSE_TOPIC_MAX] = { 0 };
    char *out;

    fill_long();
    /* out ends at the guard page, so a longer write would crash. */
    out = guard_copy(&g, zero, SSE_TOPIC_MAX);
    cr_assert_not_null(out);
    cr_expect_eq(sse_key_topic(long_key, SSE_KEY_MAX, out), SSE_TOPIC_MAX);
    cr_expect_eq(out[0], 'k');
    cr_expect_arr_eq(out + 1, long_key, SSE_KEY_MAX);
    cr_expect_eq(out[SSE_TOPIC_MAX - 1], '\0');
    guard_free(&g);
}

/* ZeroMQ subscriptions match by prefix: no key's topic may be a prefix of
 * another's, nor of the broadcast topic. */
Test(sse_key, topic_of_one_key_is_never_a_prefix_of_another)
{
    static const char *keys[] = { "user1", "user10", "user", "u", "user1:x",
                                  "k", "kk" };
    char a[SSE_TOPIC_MAX], b[SSE_TOPIC_MAX];
    size_t i, j, na, nb;

    for (i = 0; i < NROWS(keys); i++) {
        na = sse_key_topic(keys[i], strlen(keys[i]), a);
        for (j = 0; j < NROWS(keys); j++) {
            if (i == j)
                continue;
            nb = sse_key_topic(keys[j], strlen(keys[j]), b);
            cr_expect(!(na <= nb && memcmp(a, b, na) == 0),
                      "topic of %s is a prefix of topic of %s", keys[i],
                      keys[j]);
        }
        nb = sse_key_topic_all(b);
        cr_expect(!(na <= nb && memcmp(a, b, na) == 0) &&
                  !(nb <= na && memcmp(a, b, nb) == 0),
                  "topic of %s and the broadcast topic overlap", keys[i]);
    }
}

Test(sse_key, user1_topic_does_not_match_user10)
{
    char a[SSE_TOPIC_MAX], b[SSE_TOPIC_MAX];
    size_t na = sse_key_topic(S("user1"), a);
    size_t nb = sse_key_topic(S("user10"), b);

    cr_expect(!(na <= nb && memcmp(a, b, na) == 0),
              "topic of user1 is a prefix of topic of user10");
    cr_expect(!(nb <= na && memcmp(b, a, nb) == 0),
              "topic of user10 is a prefix of topic of user1");
}

Test(sse_key, from_topic_gives_back_the_key)
{
    static const char *keys[] = { "a", "user1", "user10", "x-_.:@~+=y" };
    char out[SSE_TOPIC_MAX];
    size_t i, n, keylen;
    const char *key;

    fill_long();
    for (i = 0; i <= NROWS(keys); i++) {
        const char *k = i < NROWS(keys) ? keys[i] : long_key;
        size_t klen = i < NROWS(keys) ? strlen(k) : SSE_KEY_MAX;
        struct guarded g;
        const char *p;

        n = sse_key_topic(k, klen, out);
        p = guard_copy(&g, out, n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_key_from_topic(p, n, &key, &keylen), 1,
                     "row %zu", i);
        cr_expect_eq(keylen, klen, "row %zu: length", i);
        cr_expect_eq(key, p + 1, "row %zu: points into the topic", i);
        guard_free(&g);
    }
}

Test(sse_key, from_topic_knows_the_broadcast_topic)
{
    char out[SSE_TOPIC_MAX];
    const char *key;
    size_t n, keylen;

    n = sse_key_topic_all(out);
    cr_expect_eq(sse_key_from_topic(out, n, &key, &keylen), 0);
}

Test(sse_key, from_topic_refuses_anything_malformed)
{
    static char long_topic[SSE_KEY_MAX + 3];
    const struct {
        const char *name;
        const char *s;
        size_t n;
    } rows[] = {
        { "empty",                S("") },
        { "lone nul",             S("\0") },
        { "type byte only",       S("k") },
        { "empty key",            S("k\0") },
        { "no terminator",        S("kuser1") },
        { "bytes after nul",      S("kuser1\0x") },
        { "two nuls",             S("kuser1\0\0") },
        { "nul inside the key",   S("kus\0er1\0") },
        { "unknown type",         S("xuser1\0") },
        { "upper-case type",      S("Kuser1\0") },
        { "bad key character",    S("kuser 1\0") },
        { "broadcast, no nul",    S("*") },
        { "broadcast with key",   S("*a\0") },
        { "broadcast, two nuls",  S("*\0\0") },
        { "key too long",         long_topic, sizeof(long_topic) },
    };
    size_t i;

    long_topic[0] = 'k';
    memset(long_topic + 1, 'a', SSE_KEY_MAX + 1);
    long_topic[SSE_KEY_MAX + 2] = '\0';
    for (i = 0; i < NROWS(rows); i++) {
        struct guarded g;
        const char *p, *key;
        size_t keylen;

        cr_expect_eq(sse_key_from_topic(rows[i].s, rows[i].n, &key, &keylen),
                     -1, "row %s", rows[i].name);
        p = guard_copy(&g, rows[i].s, rows[i].n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_key_from_topic(p, rows[i].n, &key, &keylen), -1,
                     "row %s (guarded)", rows[i].name);
        guard_free(&g);
    }
}
