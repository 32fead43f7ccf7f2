/*
 * Unit tests for sse_record: exact record bytes, splitting at the 16-bit
 * content length, the ceiling, and a small decoder that reassembles the
 * content the way a web server would.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_record.h"

/* What the decoder found in a response. */
struct decoded {
    unsigned char *content;     /* STDOUT bytes, reassembled */
    size_t         content_len;
    size_t         records;     /* non-empty STDOUT records */
    size_t         short_records; /* of those, shorter than the maximum */
    size_t         last_len;    /* content length of the last of those */
    int            ended;       /* saw empty STDOUT then END_REQUEST */
    uint32_t       app_status;
};

/*
 * Walk the records in p[0..n) for request id as a web server would: headers
 * carry version 1, no padding and a zero reserved byte; STDOUT records come
 * first, then one empty STDOUT record and END_REQUEST, then nothing. Returns
 * 0 or -1; the caller frees d->content.
 */
static int
decode(const unsigned char *p, size_t n, unsigned id, struct decoded *d)
{
    int empty_seen = 0;

    memset(d, 0, sizeof *d);
    d->content = malloc(n ? n : 1);
    cr_assert_not_null(d->content);
    while (n > 0) {
        size_t len;

        if (n < SSE_RECORD_HEADER || d->ended)
            return -1;
        if (p[0] != 1 || p[6] != 0 || p[7] != 0)
            return -1;
        if ((unsigned)(p[2] << 8 | p[3]) != id)
            return -1;
        len = (size_t)p[4] << 8 | p[5];
        if (n - SSE_RECORD_HEADER < len)
            return -1;
        if (p[1] == 6 && len > 0 && !empty_seen) {
            memcpy(d->content + d->content_len, p + SSE_RECORD_HEADER, len);
            d->content_len += len;
            d->records++;
            d->short_records += len < SSE_RECORD_CONTENT_MAX;
            d->last_len = len;
        } else if (p[1] == 6 && len == 0 && !empty_seen) {
            empty_seen = 1;
        } else if (p[1] == 3 && len == 8 && empty_seen) {
            const unsigned char *b = p + SSE_RECORD_HEADER;

            if (b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] != 0)
                return -1;
            d->app_status = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                (uint32_t)b[2] << 8 | b[3];
            d->ended = 1;
        } else {
            return -1;
        }
        p += SSE_RECORD_HEADER + len;
        n -= SSE_RECORD_HEADER + len;
    }
    return empty_seen && !d->ended ? -1 : 0;
}

static unsigned char *
pattern(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);

    cr_assert_not_null(p);
    /* Not periodic in 65535, so a misplaced split shows up. */
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31 + (i >> 9));
    return p;
}

Test(sse_record, stdout_len_counts_one_header_per_65535_bytes)
{
    static const struct {
        size_t n, want;
    } cases[] = {
        { 0, 0 },
        { 1, 9 },
        { 65534, 65534 + 8 },
        { 65535, 65535 + 8 },
        { 65536, 65536 + 16 },
        { 131070, 131070 + 16 },
        { 131071, 131071 + 24 },
        { 196605, 196605 + 24 },
        { 196606, 196606 + 32 },
        { SIZE_MAX, SIZE_MAX },
        { SIZE_MAX - 100, SIZE_MAX },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(sse_record_stdout_len(cases[i].n), cases[i].want,
                     "n = %zu: got %zu", cases[i].n,
                     sse_record_stdout_len(cases[i].n));
}

Test(sse_record, stdout_encodes_exact_bytes_for_a_small_payload)
{
    static const unsigned char want[] = {
        1, 6, 0, 1, 0, 5, 0, 0, 'd', 'a', 't', 'a', '\n',
    };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_record_stdout(&b, 1, "data\n", 5), 0);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_record, stdout_of_nothing_appends_nothing)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_expect_eq(sse_record_stdout(&b, 1, NULL, 0), 0);
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
}

Test(sse_record, request_ids_are_big_endian_16_bits)
{
    static const struct {
        unsigned      id;
        unsigned char b1, b0;
    } cases[] = {
        { 0, 0, 0 }, { 1, 0, 1 }, { 255, 0, 255 }, { 256, 1, 0 },
        { 0x1234, 0x12, 0x34 }, { 65535, 255, 255 },
    };

    /* The STDOUT record, the empty STDOUT and END_REQUEST. */
    static const size_t offsets[] = { 0, 9, 17 };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_buf b;

        sse_buf_init(&b, 0);
        cr_assert_eq(sse_record_stdout(&b, cases[i].id, "x", 1), 0);
        cr_assert_eq(sse_record_end(&b, cases[i].id, 0), 0);
        cr_assert_eq(sse_buf_len(&b), 9 + 24);
        for (size_t k = 0; k < 3; k++) {
            const unsigned char *h =
                (const unsigned char *)sse_buf_head(&b) + offsets[k];

            cr_expect_eq(h[2], cases[i].b1, "id %u at %zu: high byte",
                         cases[i].id, offsets[k]);
            cr_expect_eq(h[3], cases[i].b0, "id %u at %zu: low byte",
                         cases[i].id, offsets[k]);
        }
        sse_buf_free(&b);
    }
}

Test(sse_record, end_encodes_empty_stdout_then_end_request)
{
    static const unsigned char want1[] = {
        1, 6, 0, 1, 0, 0, 0, 0,
        1, 3, 0, 1, 0, 8, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
    };
    static const unsigned char want2[] = {
        1, 6, 0xff, 0xff, 0, 0, 0, 0,
        1, 3, 0xff, 0xff, 0, 8, 0, 0,
        0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0,
    };
    static const unsigned char want3[] = {
        1, 6, 0, 7, 0, 0, 0, 0,
        1, 3, 0, 7, 0, 8, 0, 0,
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    };
    static const struct {
        const char          *row;
        unsigned             id, status;
        const unsigned char *want;
    } cases[] = {
        { "id 1 status 0", 1, 0, want1 },
        { "id 65535 status 0x01020304", 65535, 0x01020304, want2 },
        { "status all ones", 7, 0xffffffffu, want3 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_buf b;

        sse_buf_init(&b, 0);
        cr_assert_eq(sse_record_end(&b, cases[i].id, cases[i].status), 0);
        cr_assert_eq(sse_buf_len(&b), 24, "%s: length", cases[i].row);
        cr_expect_arr_eq(sse_buf_head(&b), cases[i].want, 24, "%s",
                         cases[i].row);
        sse_buf_free(&b);
    }
}

Test(sse_record, large_payloads_split_into_full_records_and_reassemble)
{
    static const size_t sizes[] = {
        1, 65534, 65535, 65536, 65537, 131070, 131071, 131072, 200000,
    };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *data = pattern(n);
        struct decoded d;
        struct sse_buf b;

        sse_buf_init(&b, 0);
        cr_assert_eq(sse_record_stdout(&b, 0x1234, data, n), 0, "n = %zu", n);
        cr_expect_eq(sse_buf_len(&b), sse_record_stdout_len(n),
                     "n = %zu: length disagrees with stdout_len", n);
        cr_assert_eq(sse_record_end(&b, 0x1234, 3), 0);
        cr_expect_eq(decode((const unsigned char *)sse_buf_head(&b),
                            sse_buf_len(&b), 0x1234, &d), 0,
                     "n = %zu: records do not decode", n);
        /* Every record full but the last, which holds the rest. */
        cr_expect_eq(d.records, (n + 65534) / 65535, "n = %zu: records", n);
        cr_expect_eq(d.short_records, n % 65535 != 0, "n = %zu: short", n);
        cr_expect_eq(d.last_len, n % 65535 ? n % 65535 : 65535,
                     "n = %zu: last record", n);
        cr_expect_eq(d.content_len, n, "n = %zu: content length", n);
        cr_expect(d.content_len == n && memcmp(d.content, data, n) == 0,
                  "n = %zu: content differs", n);
        cr_expect(d.ended, "n = %zu: no end", n);
        cr_expect_eq(d.app_status, 3, "n = %zu: app status", n);
        free(d.content);
        free(data);
        sse_buf_free(&b);
    }
}

Test(sse_record, appends_after_what_is_already_queued)
{
    struct sse_buf b;
    struct decoded d;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_record_stdout(&b, 9, "one ", 4), 0);
    cr_assert_eq(sse_record_stdout(&b, 9, "two", 3), 0);
    cr_assert_eq(sse_record_end(&b, 9, 0), 0);
    cr_expect_eq(sse_buf_len(&b), 12 + 11 + 24);
    cr_expect_eq(decode((const unsigned char *)sse_buf_head(&b),
                        sse_buf_len(&b), 9, &d), 0);
    cr_expect_eq(d.records, 2);
    cr_expect(d.content_len == 7 && memcmp(d.content, "one two", 7) == 0,
              "content '%.*s'", (int)d.content_len, d.content);
    cr_expect(d.ended);
    free(d.content);
    sse_buf_free(&b);
}

Test(sse_record, a_full_buffer_is_left_unchanged)
{
    static const size_t sizes[] = { 1, 100, 65535, 65536, 131071 };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i], need = sse_record_stdout_len(n);
        unsigned char *data = pattern(n);
        struct sse_buf b;

        sse_buf_init(&b, 5 + need - 1);
        cr_assert_eq(sse_buf_append(&b, "queue", 5), 0);
        cr_expect_eq(sse_record_stdout(&b, 1, data, n), -1,
                     "n = %zu: one byte short accepted", n);
        cr_expect_eq(sse_buf_len(&b), 5, "n = %zu: buffer touched", n);
        cr_expect_arr_eq(sse_buf_head(&b), "queue", 5);
        sse_buf_free(&b);

        sse_buf_init(&b, 5 + need);
        cr_assert_eq(sse_buf_append(&b, "queue", 5), 0);
        cr_expect_eq(sse_record_stdout(&b, 1, data, n), 0,
                     "n = %zu: exact fit refused", n);
        cr_expect_eq(sse_buf_len(&b), 5 + need);
        sse_buf_free(&b);
        free(data);
    }
}

Test(sse_record, end_is_all_or_nothing_at_the_ceiling)
{
    struct sse_buf b;

    for (size_t max = 1; max < 24; max++) {
        sse_buf_init(&b, max);
        cr_expect_eq(sse_record_end(&b, 1, 0), -1, "ceiling %zu", max);
        cr_expect_eq(sse_buf_len(&b), 0, "ceiling %zu: buffer touched", max);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 24);
    cr_expect_eq(sse_record_end(&b, 1, 0), 0, "exact fit refused");
    sse_buf_free(&b);
}

Test(sse_record, put_encodes_any_record_exactly)
{
    static const unsigned char want[] = {
        1, 10, 0x01, 0x02, 0, 3, 0, 0, 'a', 'b', 'c',   /* type 10, id 258 */
        1, 11, 0, 0, 0, 0, 0, 0,                        /* empty, id 0 */
    };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_record_put(&b, SSE_RECORD_GET_VALUES_RESULT, 258, "abc",
                                3), 0);
    cr_assert_eq(sse_record_put(&b, SSE_RECORD_UNKNOWN_TYPE, 0, NULL, 0), 0);
    cr_assert_eq(sse_buf_len(&b), sizeof(want));
    cr_assert_arr_eq(sse_buf_head(&b), want, sizeof(want));
    sse_buf_free(&b);
}

Test(sse_record, put_is_all_or_nothing_at_the_ceiling)
{
    struct sse_buf b;

    for (size_t max = 1; max < 11; max++) {
        sse_buf_init(&b, max);
        cr_expect_eq(sse_record_put(&b, 3, 1, "abc", 3), -1, "ceiling %zu",
                     max);
        cr_expect_eq(sse_buf_len(&b), 0, "ceiling %zu: buffer touched", max);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 11);
    cr_expect_eq(sse_record_put(&b, 3, 1, "abc", 3), 0, "exact fit refused");
    sse_buf_free(&b);
}
