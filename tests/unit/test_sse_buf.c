/*
 * Unit tests for sse_buf: ceiling, storage release, compaction, growth.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sse_buf.h"

/* Fill p with a recognisable pattern that starts at seed. */
static void
pattern(char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (char)('a' + (seed + i) % 26);
}

Test(sse_buf, init_allocates_nothing)
{
    struct sse_buf b;

    sse_buf_init(&b, 100);
    cr_expect_null(b.data);
    cr_expect_eq(b.cap, 0);
    cr_expect_eq(sse_buf_len(&b), 0);
    cr_expect_null(sse_buf_head(&b));
    cr_expect_eq(b.max, 100);
}

Test(sse_buf, appended_bytes_come_back_in_order)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_append(&b, "hello ", 6), 0);
    cr_assert_eq(sse_buf_puts(&b, "world"), 0);
    cr_assert_eq(sse_buf_len(&b), 11);
    cr_expect_arr_eq(sse_buf_head(&b), "hello world", 11);
    sse_buf_free(&b);
}

Test(sse_buf, puts_appends_no_terminating_nul)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_puts(&b, "ab"), 0);
    cr_assert_eq(sse_buf_puts(&b, ""), 0);
    cr_assert_eq(sse_buf_puts(&b, "c"), 0);
    cr_expect_eq(sse_buf_len(&b), 3);
    cr_expect_arr_eq(sse_buf_head(&b), "abc", 3);
    sse_buf_free(&b);
}

Test(sse_buf, appending_nothing_allocates_nothing)
{
    struct sse_buf b;

    sse_buf_init(&b, 10);
    cr_expect_eq(sse_buf_append(&b, NULL, 0), 0);
    cr_expect_eq(sse_buf_puts(&b, ""), 0);
    cr_expect_null(b.data);
    cr_expect_eq(sse_buf_len(&b), 0);
}

Test(sse_buf, ceiling_refuses_appends_and_leaves_buffer_unchanged)
{
    static const struct {
        const char *name;
        size_t max;     /* ceiling */
        size_t before;  /* bytes appended first */
        size_t n;       /* bytes then appended */
        int want;       /* sse_buf_append result */
    } rows[] = {
        { "empty, exactly to the ceiling",   10,  0, 10,  0 },
        { "empty, one past the ceiling",     10,  0, 11, -1 },
        { "partly full, exactly to it",      10,  4,  6,  0 },
        { "partly full, one past it",        10,  4,  7, -1 },
        { "full, one more byte",             10, 10,  1, -1 },
        { "full, zero bytes",                10, 10,  0,  0 },
        { "n that would wrap size_t",        10,  4, SIZE_MAX, -1 },
        { "no ceiling, n that would wrap",    0,  4, SIZE_MAX, -1 },
        { "no ceiling, large append",         0,  4, 100000, 0 },
    };
    static char src[100000], before[16];
    size_t i;

    pattern(src, sizeof(src), 0);
    pattern(before, sizeof(before), 7);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sse_buf b;
        char *data;
        size_t len, cap;

        sse_buf_init(&b, rows[i].max);
        cr_assert_eq(sse_buf_append(&b, before, rows[i].before), 0,
                     "row %s: setup", rows[i].name);
        data = b.data;
        len = sse_buf_len(&b);
        cap = b.cap;
        /* Only the wrapping rows pass a length larger than src; they must
         * fail before reading anything. */
        cr_expect_eq(sse_buf_append(&b, src, rows[i].n), rows[i].want,
                     "row %s: result", rows[i].name);
        if (rows[i].want == -1) {
            cr_expect_eq(sse_buf_len(&b), len, "row %s: len", rows[i].name);
            cr_expect_eq(b.data, data, "row %s: data", rows[i].name);
            cr_expect_eq(b.cap, cap, "row %s: cap", rows[i].name);
            if (len > 0)
                cr_expect_arr_eq(sse_buf_head(&b), before, len,
                                 "row %s: bytes", rows[i].name);
        } else {
            cr_expect_eq(sse_buf_len(&b), len + rows[i].n,
                         "row %s: len", rows[i].name);
            if (rows[i].n > 0)
                cr_expect_arr_eq(sse_buf_head(&b) + len, src, rows[i].n,
                                 "row %s: bytes", rows[i].name);
        }
        sse_buf_free(&b);
    }
}

Test(sse_buf, ceiling_counts_only_unconsumed_bytes)
{
    struct sse_buf b;
    char src[10];

    pattern(src, sizeof(src), 0);
    sse_buf_init(&b, 10);
    cr_assert_eq(sse_buf_append(&b, src, 10), 0);
    cr_expect_eq(sse_buf_append(&b, src, 1), -1);
    sse_buf_consume(&b, 4);
    cr_expect_eq(sse_buf_append(&b, src, 4), 0);
    cr_expect_eq(sse_buf_append(&b, src, 1), -1);
    cr_expect_eq(sse_buf_len(&b), 10);
    cr_expect_arr_eq(sse_buf_head(&b), src + 4, 6);
    cr_expect_arr_eq(sse_buf_head(&b) + 6, src, 4);
    sse_buf_free(&b);
}

Test(sse_buf, consuming_everything_releases_storage)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_puts(&b, "abcdef"), 0);
    sse_buf_consume(&b, 2);
    cr_expect_not_null(b.data);
    cr_expect_arr_eq(sse_buf_head(&b), "cdef", 4);
    sse_buf_consume(&b, 4);
    cr_expect_null(b.data);
    cr_expect_eq(b.cap, 0);
    cr_expect_eq(b.off, 0);
    cr_expect_eq(b.len, 0);
    cr_expect_null(sse_buf_head(&b));
}

Test(sse_buf, truncating_everything_releases_storage)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_puts(&b, "abcdef"), 0);
    sse_buf_consume(&b, 1);
    sse_buf_truncate(&b, 2);
    cr_expect_eq(sse_buf_len(&b), 3);
    cr_expect_arr_eq(sse_buf_head(&b), "bcd", 3);
    sse_buf_truncate(&b, 3);
    cr_expect_null(b.data);
    cr_expect_eq(b.cap, 0);
}

Test(sse_buf, free_keeps_the_ceiling)
{
    struct sse_buf b;

    sse_buf_init(&b, 5);
    cr_assert_eq(sse_buf_puts(&b, "abc"), 0);
    sse_buf_free(&b);
    cr_expect_null(b.data);
    cr_expect_eq(sse_buf_len(&b), 0);
    cr_expect_eq(b.max, 5);
    cr_expect_eq(sse_buf_puts(&b, "abcdef"), -1);
    cr_expect_eq(sse_buf_puts(&b, "abcde"), 0);
    sse_buf_free(&b);
    sse_buf_free(&b);
    cr_expect_null(b.data);
}

Test(sse_buf, append_compacts_consumed_space_before_growing)
{
    struct sse_buf b;
    char src[4096], *data;
    size_t cap;

    pattern(src, sizeof(src), 0);
    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_append(&b, src, 10), 0);
    cap = b.cap;
    cr_assert_gt(cap, 10);
    /* Fill to the brim, drop most of the front, then append what fits
     * only once the front space is reused. */
    cr_assert_eq(sse_buf_append(&b, src + 10, cap - 10), 0);
    cr_assert_eq(b.cap, cap);
    data = b.data;
    sse_buf_consume(&b, cap - 4);
    cr_assert_eq(sse_buf_append(&b, src, cap - 4), 0);
    cr_expect_eq(b.cap, cap, "grew instead of compacting");
    cr_expect_eq(b.data, data, "moved instead of compacting");
    cr_expect_eq(b.off, 0);
    cr_expect_eq(sse_buf_len(&b), cap);
    cr_expect_arr_eq(sse_buf_head(&b), src + cap - 4, 4);
    cr_expect_arr_eq(sse_buf_head(&b) + 4, src, cap - 4);
    sse_buf_free(&b);
}

Test(sse_buf, growth_is_geometric)
{
    struct sse_buf b;
    size_t i, cap = 0, grows = 0;

    sse_buf_init(&b, 0);
    for (i = 0; i < 1000000; i++) {
        cr_assert_eq(sse_buf_append(&b, "x", 1), 0);
        if (b.cap != cap) {
            if (cap > 0)
                cr_expect_geq(b.cap, 2 * cap, "cap %zu grew to %zu",
                              cap, b.cap);
            cap = b.cap;
            grows++;
        }
    }
    /* 1e6 bytes need at most about log2(1e6) doublings. */
    cr_expect_leq(grows, 21, "%zu allocations", grows);
    sse_buf_free(&b);
}

Test(sse_buf, storage_never_exceeds_the_ceiling)
{
    static const size_t maxes[] = { 1, 255, 256, 257, 1000, 4097 };
    size_t i, j;

    for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        struct sse_buf b;

        sse_buf_init(&b, maxes[i]);
        for (j = 0; j < maxes[i]; j++)
            cr_assert_eq(sse_buf_append(&b, "x", 1), 0, "max %zu", maxes[i]);
        cr_expect_eq(sse_buf_append(&b, "x", 1), -1, "max %zu", maxes[i]);
        cr_expect_leq(b.cap, maxes[i], "max %zu: cap %zu", maxes[i], b.cap);
        sse_buf_free(&b);
    }
}

Test(sse_buf, commit_appends_only_the_bytes_written)
{
    struct sse_buf b;
    char *p;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_puts(&b, "ab"), 0);
    p = sse_buf_reserve(&b, 100);
    cr_assert_not_null(p);
    cr_expect_eq(p, sse_buf_head(&b) + 2);
    memcpy(p, "cde", 3);
    sse_buf_commit(&b, 3);
    cr_expect_eq(sse_buf_len(&b), 5);
    cr_expect_arr_eq(sse_buf_head(&b), "abcde", 5);
    sse_buf_free(&b);
}

Test(sse_buf, reserve_past_the_ceiling_returns_null)
{
    struct sse_buf b;

    sse_buf_init(&b, 8);
    cr_expect_null(sse_buf_reserve(&b, 9));
    cr_expect_null(b.data);
    cr_assert_eq(sse_buf_puts(&b, "abc"), 0);
    cr_expect_null(sse_buf_reserve(&b, 6));
    cr_expect_not_null(sse_buf_reserve(&b, 5));
    sse_buf_commit(&b, 0);
    cr_expect_eq(sse_buf_len(&b), 3);
    cr_expect_arr_eq(sse_buf_head(&b), "abc", 3);
    sse_buf_free(&b);
}

Test(sse_buf, unused_reservation_on_an_empty_buffer_keeps_nothing)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_not_null(sse_buf_reserve(&b, 0));
    sse_buf_commit(&b, 0);
    cr_expect_null(b.data);
    cr_assert_not_null(sse_buf_reserve(&b, 50));
    sse_buf_commit(&b, 0);
    cr_expect_null(b.data);
    cr_expect_eq(b.cap, 0);
}

/* Random appends, consumes and truncates against a flat model: whatever
 * compaction and growth do inside, the unconsumed bytes must match. */
Test(sse_buf, random_operations_match_a_flat_model)
{
    static char model[1 << 16], src[1 << 12];
    struct sse_buf b;
    size_t mlen = 0, step, n;
    unsigned seed = 12345;

    pattern(src, sizeof(src), 3);
    sse_buf_init(&b, sizeof(model));
    for (step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        switch ((seed >> 16) % 4) {
        case 0:
        case 1:
            n = (seed >> 4) % sizeof(src);
            if (mlen + n > sizeof(model)) {
                cr_assert_eq(sse_buf_append(&b, src, n), -1, "step %zu",
                             step);
                break;
            }
            cr_assert_eq(sse_buf_append(&b, src, n), 0, "step %zu", step);
            memcpy(model + mlen, src, n);
            mlen += n;
            break;
        case 2:
            n = mlen ? (seed >> 4) % (mlen + 1) : 0;
            sse_buf_consume(&b, n);
            memmove(model, model + n, mlen - n);
            mlen -= n;
            break;
        default:
            n = mlen ? (seed >> 4) % (mlen / 4 + 1) : 0;
            sse_buf_truncate(&b, n);
            mlen -= n;
            break;
        }
        cr_assert_eq(sse_buf_len(&b), mlen, "step %zu", step);
        cr_assert_eq(b.data == NULL, mlen == 0, "step %zu: storage", step);
        if (mlen > 0)
            cr_assert_arr_eq(sse_buf_head(&b), model, mlen, "step %zu",
                             step);
    }
    sse_buf_free(&b);
}

Test(sse_buf, clear_drops_the_bytes_and_keeps_the_storage)
{
    struct sse_buf b;
    const char *storage;

    sse_buf_init(&b, 64);
    cr_assert_eq(sse_buf_append(&b, "abcdef", 6), 0);
    sse_buf_consume(&b, 2);
    storage = b.data;
    sse_buf_clear(&b);
    cr_expect_eq(sse_buf_len(&b), 0);
    cr_expect_eq(b.data, storage, "storage kept for the next fill");
    cr_assert_eq(sse_buf_append(&b, "xy", 2), 0);
    cr_expect(memcmp(sse_buf_head(&b), "xy", 2) == 0);
    cr_expect_eq(b.data, storage, "filled from the start again");
    sse_buf_free(&b);
}
