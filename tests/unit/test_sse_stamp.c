/*
 * Unit tests for sse_stamp: the payload's exact bytes and padding, what
 * decodes and what does not, and the verdict for each arrival order.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_stamp.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

Test(sse_stamp, encodes_to_exact_bytes)
{
    char buf[64];
    size_t n;

    n = sse_stamp_encode(buf, sizeof(buf), 1700000000123456ULL, 7, "k3", 2,
                         0);
    cr_assert_eq(n, strlen("1700000000123456 7 k3"));
    cr_expect_arr_eq(buf, "1700000000123456 7 k3", n);
    n = sse_stamp_encode(buf, sizeof(buf), 5, 1, "*", 1, 3);
    cr_expect_eq(n, 5, "a size below the bare stamp adds nothing");
}

Test(sse_stamp, pads_to_the_requested_size)
{
    char buf[64];
    size_t n = sse_stamp_encode(buf, sizeof(buf), 12, 3, "key", 3, 16);
    struct sse_stamp st;

    cr_assert_eq(n, 16);
    cr_expect_arr_eq(buf, "12 3 key xxxxxxx", 16);
    cr_assert_eq(sse_stamp_decode(buf, n, &st), 0);
    cr_expect_eq(st.t_us, 12);
    cr_expect_eq(st.seq, 3);
    cr_expect_eq(st.key_len, 3);
    cr_expect_arr_eq(st.key, "key", 3);
    n = sse_stamp_encode(buf, sizeof(buf), 12, 3, "key", 3, 9);
    cr_expect_eq(n, 9, "one byte over: just the space");
    cr_expect_arr_eq(buf, "12 3 key ", 9);
}

Test(sse_stamp, refuses_what_it_cannot_write)
{
    char buf[16], big[300];

    memset(big, 'a', sizeof(big));
    cr_expect_eq(sse_stamp_encode(buf, sizeof(buf), 1, 1, "", 0, 0), 0);
    cr_expect_eq(sse_stamp_encode(buf, sizeof(buf), 1, 1, "a b", 3, 0), 0);
    cr_expect_eq(sse_stamp_encode(big, sizeof(big), 1, 1, big,
                                  SSE_STAMP_KEY_MAX + 1, 0), 0);
    cr_expect_eq(sse_stamp_encode(buf, sizeof(buf), UINT64_MAX / 10, 1,
                                  "k", 1, 0), 0, "does not fit");
    cr_expect_eq(sse_stamp_encode(buf, sizeof(buf), 1, 1, "k", 1, 17), 0,
                 "padding does not fit");
}

Test(sse_stamp, decodes_stamps_and_rejects_everything_else)
{
    static const struct {
        const char *in;
        int         ok;
        uint64_t    t_us;
        uint32_t    seq;
        const char *key;
    } rows[] = {
        { "1 1 k",                        1, 1, 1, "k" },
        { "1700000000123456 42 user-7",   1, 1700000000123456ULL, 42,
                                             "user-7" },
        { "9 4294967295 *",               1, 9, 4294967295U, "*" },
        { "9 3 k xxxxxx",                 1, 9, 3, "k" },
        { "9 3 k x y z",                  1, 9, 3, "k" },
        { "9 3 k ",                       1, 9, 3, "k" },
        { "9223372036854775807 1 k",      1, 9223372036854775807ULL, 1,
                                             "k" },
        { "",                             0, 0, 0, NULL },
        { "ok",                           0, 0, 0, NULL },
        { "1 1",                          0, 0, 0, NULL },
        { "1 1 ",                         0, 0, 0, NULL },
        { "1  1 k",                       0, 0, 0, NULL },
        { "1 1  k",                       0, 0, 0, NULL },
        { " 1 1 k",                       0, 0, 0, NULL },
        { "1 0 k",                        0, 0, 0, NULL },
        { "1 4294967296 k",               0, 0, 0, NULL },
        { "1 12345678901 k",              0, 0, 0, NULL },
        { "12345678901234567890 1 k",     0, 0, 0, NULL },
        { "-1 1 k",                       0, 0, 0, NULL },
        { "1 +1 k",                       0, 0, 0, NULL },
        { "1x 1 k",                       0, 0, 0, NULL },
        { "1 1x k",                       0, 0, 0, NULL },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_stamp st;
        struct guarded g;
        size_t n = strlen(rows[i].in);
        const char *p = guard_copy(&g, rows[i].in, n);
        int rc = sse_stamp_decode(p, n, &st);

        cr_expect_eq(rc == 0, rows[i].ok, "row \"%s\": %d", rows[i].in, rc);
        if (rc == 0 && rows[i].ok) {
            cr_expect_eq(st.t_us, rows[i].t_us, "row \"%s\"", rows[i].in);
            cr_expect_eq(st.seq, rows[i].seq, "row \"%s\"", rows[i].in);
            cr_expect_eq(st.key_len, strlen(rows[i].key), "row \"%s\"",
                         rows[i].in);
            cr_expect_arr_eq(st.key, rows[i].key, st.key_len, "row \"%s\"",
                             rows[i].in);
        }
        guard_free(&g);
    }
}

Test(sse_stamp, a_key_over_the_limit_does_not_decode)
{
    char buf[SSE_STAMP_KEY_MAX + 16];
    struct sse_stamp st;

    memcpy(buf, "1 1 ", 4);
    memset(buf + 4, 'k', SSE_STAMP_KEY_MAX + 1);
    cr_expect_eq(sse_stamp_decode(buf, 4 + SSE_STAMP_KEY_MAX, &st), 0);
    cr_expect_eq(sse_stamp_decode(buf, 5 + SSE_STAMP_KEY_MAX, &st), -1);
}

/* ------------------------------------------------------------------------
 * Sequence accounting
 * ------------------------------------------------------------------------ */

static const char *
verdict_name(enum sse_stamp_verdict v)
{
    static const char *const names[] = { "in order", "gap", "late",
                                         "duplicate", "invalid" };

    return names[v];
}

Test(sse_stamp, verdicts_for_each_arrival_order)
{
    static const struct {
        const char *name;
        uint32_t    seqs[8];    /* ends at 0 */
        const char *verdicts;   /* one letter each: o g l d i */
        uint32_t    distinct;
    } rows[] = {
        { "in order",          { 1, 2, 3, 4 },          "oooo", 4 },
        { "duplicate of last", { 1, 2, 2, 3 },          "oodo", 3 },
        { "old duplicate",     { 1, 2, 3, 1 },          "oood", 3 },
        { "gap then late",     { 1, 3, 2, 4 },          "oglo", 4 },
        { "gap at start",      { 2, 1, 3 },             "glo",  3 },
        { "late duplicate",    { 1, 3, 2, 2, 3 },       "ogldd", 3 },
        { "gap never filled",  { 1, 4, 5, 2 },          "ogol", 4 },
        { "reverse",           { 5, 4, 3, 2, 1 },       "gllll", 5 },
        { "zero and over limit", { 0, 11, 1 },          "iio",  1 },
        { "limit itself",      { 10, 10 },              "gd",   1 },
    };
    size_t i, k;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_stamp_seq s;

        memset(&s, 0, sizeof(s));
        for (k = 0; rows[i].seqs[k] != 0 || k < strlen(rows[i].verdicts);
             k++) {
            enum sse_stamp_verdict v = sse_stamp_seq_add(&s, rows[i].seqs[k],
                                                         10);
            char want = rows[i].verdicts[k];

            cr_expect_eq("ogldi"[v], want, "row %s, arrival %zu (seq %u): "
                         "%s", rows[i].name, k, rows[i].seqs[k],
                         verdict_name(v));
        }
        cr_expect_eq(s.distinct, rows[i].distinct, "row %s: distinct %u",
                     rows[i].name, s.distinct);
        sse_stamp_seq_free(&s);
    }
}

Test(sse_stamp, the_bitmap_exists_only_while_a_gap_is_open)
{
    struct sse_stamp_seq s;
    uint32_t i;

    memset(&s, 0, sizeof(s));
    for (i = 1; i <= 1000; i++)
        sse_stamp_seq_add(&s, i, 100000);
    cr_expect_null(s.seen, "in order: no bitmap");
    cr_expect_eq(sse_stamp_seq_add(&s, 1002, 100000), SSE_STAMP_GAP);
    cr_expect_not_null(s.seen);
    cr_expect_eq(sse_stamp_seq_add(&s, 500, 100000), SSE_STAMP_DUPLICATE,
                 "seqs before the gap are remembered");
    cr_expect_eq(sse_stamp_seq_add(&s, 1001, 100000), SSE_STAMP_LATE);
    cr_expect_null(s.seen, "the gap is filled: bitmap gone");
    cr_expect_eq(s.distinct, 1002);
    cr_expect_eq(sse_stamp_seq_add(&s, 1002, 100000), SSE_STAMP_DUPLICATE);
    cr_expect_eq(sse_stamp_seq_add(&s, 100000, 100000), SSE_STAMP_GAP);
    cr_expect_leq(s.nbits, 100008, "the bitmap stays within the limit");
    sse_stamp_seq_free(&s);
    cr_expect_null(s.seen);
    cr_expect_eq(s.distinct, 0);
}
