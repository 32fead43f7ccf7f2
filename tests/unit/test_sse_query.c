/*
 * Unit tests for sse_query: percent-decoding, keys from the query string
 * and PATH_INFO, the last event id, and every reason for a 400.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_key.h"
#include "sse_query.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1    /* a literal as pointer and length */

#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  /* 32 bytes of key */

#define BAD_CHAR "key contains a character outside [A-Za-z0-9-_.:@~+=]"

/* ------------------------------------------------------------------------
 * sse_query_decode
 * ------------------------------------------------------------------------ */

Test(sse_query, decode_turns_escapes_and_plus_into_bytes)
{
    static const struct {
        const char *name;
        const char *in;
        size_t n;
        const char *want;       /* NULL: malformed */
        long want_len;
    } rows[] = {
        { "empty",               S(""),        S("") },
        { "plain",               S("abc"),     S("abc") },
        { "plus is space",       S("a+b"),     S("a b") },
        { "escaped plus",        S("a%2Bb"),   S("a+b") },
        { "upper hex",           S("%4A"),     S("J") },
        { "lower hex",           S("%4a"),     S("J") },
        { "nul byte",            S("a%00b"),   S("a\0b") },
        { "high byte",           S("%ff%C3%A9"), S("\xff\xc3\xa9") },
        { "escaped percent",     S("%25"),     S("%") },
        { "escape at the end",   S("ab%2F"),   S("ab/") },
        { "lone percent",        S("%"),       NULL, -1 },
        { "percent at the end",  S("ab%"),     NULL, -1 },
        { "one hex digit",       S("%4"),      NULL, -1 },
        { "one digit at the end", S("ab%4"),   NULL, -1 },
        { "not hex",             S("%zz"),     NULL, -1 },
        { "second not hex",      S("%4g"),     NULL, -1 },
        { "first not hex",       S("%g4"),     NULL, -1 },
        { "double percent",      S("%%41"),    NULL, -1 },
        { "sign is not hex",     S("%+1"),     NULL, -1 },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct guarded g;
        const char *p;
        char out[32];
        long got;

        p = guard_copy(&g, rows[i].in, rows[i].n);
        cr_assert_not_null(p);
        got = sse_query_decode(p, rows[i].n, out);
        cr_expect_eq(got, rows[i].want_len, "row %s: length %ld", rows[i].name,
                     got);
        if (rows[i].want != NULL && got == rows[i].want_len && got > 0)
            cr_expect_arr_eq(out, rows[i].want, (size_t)got, "row %s: bytes",
                             rows[i].name);
        guard_free(&g);
    }
}

Test(sse_query, decode_reads_only_n_bytes)
{
    char out[8];

    cr_expect_eq(sse_query_decode("ab%41", 2, out), 2);
    cr_expect_eq(sse_query_decode("a%41", 3, out), -1);
}

/* ------------------------------------------------------------------------
 * sse_query_parse
 * ------------------------------------------------------------------------ */

struct parse_row {
    const char *name;
    const char *query;      /* QUERY_STRING, or NULL */
    const char *path;       /* PATH_INFO, or NULL */
    const char *header;     /* Last-Event-ID, or NULL */
    const char *keys;       /* wanted keys joined by spaces, or reason */
    const char *id;         /* wanted last event id, or NULL for none */
};

/* Copy s, with its NUL, just before a guard page (NULL stays NULL). */
static const char *
guarded_str(struct guarded *g, const char *s)
{
    g->map = NULL;
    if (s == NULL)
        return NULL;
    return guard_copy(g, s, strlen(s) + 1);
}

static void
guarded_release(struct guarded *g)
{
    if (g->map != NULL)
        guard_free(g);
}

/* Parse with every input just before a guard page. */
static int
parse_guarded(struct sse_query *q, const char *query, const char *path,
              const char *header, const char **reason)
{
    struct guarded gq, gp, gh;
    int rc;

    rc = sse_query_parse(q, guarded_str(&gq, query), guarded_str(&gp, path),
                         guarded_str(&gh, header), reason);
    guarded_release(&gq);
    guarded_release(&gp);
    guarded_release(&gh);
    return rc;
}

/* Join q's keys with spaces, which no key holds. */
static void
join_keys(const struct sse_query *q, char *out, size_t size)
{
    size_t i, at = 0;

    out[0] = '\0';
    for (i = 0; i < q->nkeys; i++) {
        at += (size_t)snprintf(out + at, size - at, "%s%s", i ? " " : "",
                               q->keys[i]);
        cr_assert_lt(at, size);
    }
}

Test(sse_query, parse_collects_keys_in_first_seen_order)
{
    static const struct parse_row rows[] = {
        { "one key",              "key=a",            NULL, NULL, "a", NULL },
        { "two keys",             "key=a&key=b",      NULL, NULL, "a b", NULL },
        { "duplicates dropped",   "key=b&key=a&key=b", NULL, NULL, "b a",
                                                               NULL },
        { "path only",            NULL,               "/a", NULL, "a", NULL },
        { "path key comes first", "key=b&key=a",      "/a", NULL, "a b", NULL },
        { "path of slash",        "key=a",            "/",  NULL, "a", NULL },
        { "empty path",           "key=a",            "",   NULL, "a", NULL },
        { "empty query",          "",                 "/a", NULL, "a", NULL },
        { "encoded name",         "k%65y=a",          NULL, NULL, "a", NULL },
        { "encoded plus in key",  "key=a%2Bb",        NULL, NULL, "a+b", NULL },
        { "encoded colon",        "key=user%3A1",     NULL, NULL, "user:1",
                                                                  NULL },
        { "equals in value",      "key=a=b",          NULL, NULL, "a=b", NULL },
        { "unknown params",       "_=123&key=a&foo=%20", NULL, NULL, "a",
                                                                    NULL },
        { "empty params",         "&&key=a&&",        NULL, NULL, "a", NULL },
        { "param without value",  "nocache&key=a",    NULL, NULL, "a", NULL },
        { "similar names",        "keys=x&Key=y&key=a&akey=z", NULL, NULL,
                                                            "a", NULL },
        { "many duplicates",      "key=a&key=a&key=a&key=a", NULL, NULL, "a",
                                                                     NULL },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_query q;
        const char *reason = NULL;
        char keys[256];

        cr_expect_eq(parse_guarded(&q, rows[i].query, rows[i].path,
                                   rows[i].header, &reason), 0,
                     "row %s: refused: %s", rows[i].name,
                     reason ? reason : "");
        join_keys(&q, keys, sizeof(keys));
        cr_expect_str_eq(keys, rows[i].keys, "row %s: keys \"%s\"",
                         rows[i].name, keys);
        cr_expect_null(q.last_event_id, "row %s: id", rows[i].name);
        sse_query_free(&q);
    }
}

Test(sse_query, parse_keeps_key_lengths_and_terminators)
{
    struct sse_query q;
    const char *reason;
    size_t i;

    cr_assert_eq(sse_query_parse(&q, "key=ab&key=cde", "/f", NULL, &reason),
                 0);
    cr_assert_eq(q.nkeys, 3);
    for (i = 0; i < q.nkeys; i++) {
        cr_expect_eq(q.key_lens[i], strlen(q.keys[i]), "key %zu", i);
        cr_expect_null(sse_key_check(q.keys[i], q.key_lens[i]), "key %zu", i);
    }
    sse_query_free(&q);
}

Test(sse_query, parse_takes_the_last_event_id)
{
    static const struct parse_row rows[] = {
        { "parameter",            "key=a&lastEventId=42", NULL, NULL,
                                  "a", "42" },
        { "parameter first",      "lastEventId=42&key=a", NULL, NULL,
                                  "a", "42" },
        { "header",               "key=a",            NULL, "7", "a", "7" },
        { "header wins",          "key=a&lastEventId=42", NULL, "7",
                                  "a", "7" },
        { "empty header wins",    "key=a&lastEventId=42", NULL, "",
                                  "a", "" },
        { "later parameter wins", "key=a&lastEventId=1&lastEventId=2",
                                  NULL, NULL, "a", "2" },
        { "empty parameter",      "key=a&lastEventId=", NULL, NULL, "a", "" },
        { "bare parameter",       "key=a&lastEventId", NULL, NULL, "a", "" },
        { "decoded parameter",    "key=a&lastEventId=a+b%C3%A9", NULL, NULL,
                                  "a", "a b\xc3\xa9" },
        { "name is exact",        "key=a&lasteventid=9&last-event-id=8",
                                  NULL, NULL, "a", NULL },
        { "header with path key", NULL,               "/a", "x:1", "a",
                                  "x:1" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_query q;
        const char *reason = NULL;
        char keys[256];

        cr_expect_eq(parse_guarded(&q, rows[i].query, rows[i].path,
                                   rows[i].header, &reason), 0,
                     "row %s: refused: %s", rows[i].name,
                     reason ? reason : "");
        join_keys(&q, keys, sizeof(keys));
        cr_expect_str_eq(keys, rows[i].keys, "row %s: keys", rows[i].name);
        if (rows[i].id == NULL) {
            cr_expect_null(q.last_event_id, "row %s: id", rows[i].name);
        } else {
            cr_expect(q.last_event_id != NULL &&
                      strcmp(q.last_event_id, rows[i].id) == 0,
                      "row %s: id \"%s\"", rows[i].name,
                      q.last_event_id ? q.last_event_id : "(null)");
            cr_expect_eq(q.last_event_id_len, strlen(rows[i].id),
                         "row %s: id length", rows[i].name);
        }
        sse_query_free(&q);
    }
}

Test(sse_query, parse_refuses_bad_requests_with_a_reason)
{
    static const struct {
        const char *name;
        const char *query;      /* QUERY_STRING, or NULL */
        const char *path;       /* PATH_INFO, or NULL */
        const char *header;     /* Last-Event-ID, or NULL */
        const char *reason;
    } rows[] = {
        { "nothing at all",       NULL,       NULL, NULL, "no key given" },
        { "empty query",          "",         NULL, NULL, "no key given" },
        { "slash path",           "",         "/",  NULL, "no key given" },
        { "only other params",    "foo=bar&_=1", NULL, NULL, "no key given" },
        { "name is case-sensitive", "Key=a",  NULL, NULL, "no key given" },
        { "only an id",           "lastEventId=1", NULL, NULL,
                                  "no key given" },
        { "empty key",            "key=",     NULL, NULL, "empty key" },
        { "bare key",             "key",      NULL, NULL, "empty key" },
        { "empty key after good", "key=a&key=", NULL, NULL, "empty key" },
        { "plus is a space",      "key=a+b",  NULL, NULL, BAD_CHAR },
        { "encoded slash",        "key=a%2Fb", NULL, NULL, BAD_CHAR },
        { "encoded nul",          "key=a%00b", NULL, NULL, BAD_CHAR },
        { "encoded lf",           "key=a%0A", NULL, NULL, BAD_CHAR },
        { "utf-8 key",            "key=caf%C3%A9", NULL, NULL, BAD_CHAR },
        { "key too long",         "key=" A32 A32 A32 A32 "a",
                                  NULL, NULL, "key is longer than 128 bytes" },
        { "lone percent",         "key=%",    NULL, NULL,
                                  "malformed percent-encoding" },
        { "one hex digit",        "key=a%4",  NULL, NULL,
                                  "malformed percent-encoding" },
        { "bad escape in other",  "key=a&foo=%zz", NULL, NULL,
                                  "malformed percent-encoding" },
        { "bad escape in a name", "%4=a&key=b", NULL, NULL,
                                  "malformed percent-encoding" },
        { "bad escape, no value", "key=a&%", NULL, NULL,
                                  "malformed percent-encoding" },
        { "path with a slash",    "key=a",    "/a/b", NULL, BAD_CHAR },
        { "double slash",         NULL,       "//", NULL, BAD_CHAR },
        { "path not decoded",     NULL,       "/a%41", NULL, BAD_CHAR },
        { "path with a space",    NULL,       "/a b", NULL, BAD_CHAR },
        { "id with lf",           "key=a&lastEventId=1%0A", NULL, NULL,
                                  "id contains CR, LF or NUL" },
        { "id with nul",          "key=a&lastEventId=1%00", NULL, NULL,
                                  "id contains CR, LF or NUL" },
        { "id not utf-8",         "key=a&lastEventId=%FF", NULL, NULL,
                                  "id is not valid UTF-8" },
        { "bad earlier id",       "key=a&lastEventId=%0D&lastEventId=1",
                                  NULL, NULL, "id contains CR, LF or NUL" },
        { "header with cr",       "key=a&lastEventId=1", NULL, "1\r2",
                                  "id contains CR, LF or NUL" },
        { "header not utf-8",     "key=a", NULL, "\xc0\xaf",
                                  "id is not valid UTF-8" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_query q;
        const char *reason = NULL;

        cr_expect_eq(parse_guarded(&q, rows[i].query, rows[i].path,
                                   rows[i].header, &reason), -1,
                     "row %s: accepted", rows[i].name);
        cr_expect(reason != NULL && strcmp(reason, rows[i].reason) == 0,
                  "row %s: reason \"%s\"", rows[i].name,
                  reason ? reason : "(null)");
        sse_query_free(&q);
        cr_expect_eq(q.nkeys, 0, "row %s: freed", rows[i].name);
        cr_expect_null(q.last_event_id, "row %s: freed", rows[i].name);
    }
}

/* Build "key=k0&key=k1&..." with n distinct keys, plus dup repeats of k0. */
static void
many_keys(char *out, size_t size, size_t n, size_t dup)
{
    size_t i, at = 0;

    out[0] = '\0';
    for (i = 0; i < n + dup; i++) {
        at += (size_t)snprintf(out + at, size - at, "%skey=k%zu",
                               i ? "&" : "", i < n ? i : 0);
        cr_assert_lt(at, size);
    }
}

Test(sse_query, parse_allows_keys_up_to_the_maximum)
{
    static const struct {
        const char *name;
        size_t distinct;
        size_t dup;
        const char *path;
        int want;
    } rows[] = {
        { "at the maximum",               SSE_QUERY_KEYS_MAX,     0, NULL,  0 },
        { "at the maximum, repeats",      SSE_QUERY_KEYS_MAX,     5, NULL,  0 },
        { "one past the maximum",         SSE_QUERY_KEYS_MAX + 1, 0, NULL, -1 },
        { "path key makes one too many",  SSE_QUERY_KEYS_MAX,     0, "/p", -1 },
        { "path key repeated in query",   SSE_QUERY_KEYS_MAX,     0, "/k0", 0 },
    };
    char query[1024];
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_query q;
        const char *reason = NULL;

        many_keys(query, sizeof(query), rows[i].distinct, rows[i].dup);
        cr_expect_eq(sse_query_parse(&q, query, rows[i].path, NULL, &reason),
                     rows[i].want, "row %s", rows[i].name);
        if (rows[i].want == 0) {
            cr_expect_eq(q.nkeys, SSE_QUERY_KEYS_MAX, "row %s: keys",
                         rows[i].name);
        } else {
            cr_expect(reason != NULL && strcmp(reason, "too many keys") == 0,
                      "row %s: reason \"%s\"", rows[i].name,
                      reason ? reason : "(null)");
        }
        sse_query_free(&q);
    }
}

Test(sse_query, parse_refuses_a_query_longer_than_the_limit)
{
    static char query[SSE_QUERY_LEN_MAX + 2];
    struct sse_query q;
    struct guarded g;
    const char *reason = NULL;
    const char *p;

    /* "key=a&x=xxxx...": exactly at the limit is fine. */
    memset(query, 'x', SSE_QUERY_LEN_MAX);
    memcpy(query, "key=a&x=", 8);
    query[SSE_QUERY_LEN_MAX] = '\0';
    p = guard_copy(&g, query, SSE_QUERY_LEN_MAX + 1);
    cr_assert_not_null(p);
    cr_expect_eq(sse_query_parse(&q, p, NULL, NULL, &reason), 0,
                 "refused at the limit: %s", reason ? reason : "");
    sse_query_free(&q);
    guard_free(&g);

    query[SSE_QUERY_LEN_MAX] = 'x';
    query[SSE_QUERY_LEN_MAX + 1] = '\0';
    p = guard_copy(&g, query, SSE_QUERY_LEN_MAX + 2);
    cr_assert_not_null(p);
    cr_expect_eq(sse_query_parse(&q, p, NULL, NULL, &reason), -1);
    cr_expect(reason != NULL && strcmp(reason, "query string too long") == 0,
              "reason \"%s\"", reason ? reason : "(null)");
    sse_query_free(&q);
    guard_free(&g);
}

Test(sse_query, parse_empties_a_query_holding_garbage)
{
    struct sse_query q;
    const char *reason;

    /* q need not be initialised: a failed parse must still free cleanly. */
    memset(&q, 0xa5, sizeof(q));
    cr_expect_eq(sse_query_parse(&q, "foo=1", NULL, NULL, &reason), -1);
    sse_query_free(&q);
    memset(&q, 0xa5, sizeof(q));
    cr_expect_eq(sse_query_parse(&q, "key=a", NULL, NULL, &reason), 0);
    cr_expect_eq(q.nkeys, 1);
    cr_expect_null(q.last_event_id);
    sse_query_free(&q);
    sse_query_free(&q);
    cr_expect_eq(q.nkeys, 0);
}
