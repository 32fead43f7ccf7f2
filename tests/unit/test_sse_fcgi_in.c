/*
 * Unit tests for sse_fcgi_in: a request as lighttpd, Apache and nginx send
 * it, fed whole and split at every byte; parameters split across records;
 * 1- and 4-byte lengths; management records and their answers; what must
 * be refused.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_fcgi_in.h"

#define MAX (64 * 1024)

static void
rec(struct sse_buf *b, unsigned type, unsigned id, const void *c, size_t n,
    unsigned pad)
{
    unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8),
                           (unsigned char)id, (unsigned char)(n >> 8),
                           (unsigned char)n, (unsigned char)pad, 0 };
    static const char zeros[255];

    sse_buf_append(b, h, 8);
    sse_buf_append(b, c, n);
    sse_buf_append(b, zeros, pad);
}

static void
begin(struct sse_buf *b, unsigned id, unsigned role)
{
    unsigned char body[8] = { (unsigned char)(role >> 8), (unsigned char)role,
                              1 /* FCGI_KEEP_CONN */ };

    rec(b, 1, id, body, 8, 0);
}

/* One name-value pair; lengths of 128 or more take 4 bytes. */
static void
nv(struct sse_buf *b, const char *name, const char *value)
{
    size_t len[2] = { strlen(name), strlen(value) };

    for (int i = 0; i < 2; i++) {
        if (len[i] < 128) {
            unsigned char c = (unsigned char)len[i];

            sse_buf_append(b, &c, 1);
        } else {
            unsigned char c[4] = { (unsigned char)(0x80 | len[i] >> 24),
                                   (unsigned char)(len[i] >> 16),
                                   (unsigned char)(len[i] >> 8),
                                   (unsigned char)len[i] };

            sse_buf_append(b, c, 4);
        }
    }
    sse_buf_append(b, name, len[0]);
    sse_buf_append(b, value, len[1]);
}

/* Feed all of b to in, set up afresh with ceiling max; the status. */
static int
feed_all(struct sse_fcgi_in *in, size_t max, const struct sse_buf *b,
         const char **why)
{
    sse_fcgi_in_init(in, max);
    return sse_fcgi_in_feed(in, sse_buf_head(b), sse_buf_len(b), why);
}

struct seen {
    char text[4096];
};

static void
collect(const char *name, size_t nlen, const char *value, size_t vlen,
        void *arg)
{
    struct seen *s = arg;
    size_t at = strlen(s->text);

    snprintf(s->text + at, sizeof(s->text) - at, "%.*s=%.*s;", (int)nlen,
             name, (int)vlen, value);
}

/* A request: BEGIN, the pairs in PARAMS records of at most split bytes
 * (with some padding), the empty PARAMS, an empty STDIN. */
static void
request(struct sse_buf *b, unsigned id, size_t split, const char *long_value)
{
    struct sse_buf pairs;
    size_t off = 0;

    sse_buf_init(&pairs, 0);
    nv(&pairs, "REQUEST_METHOD", "GET");
    nv(&pairs, "QUERY_STRING", "key=user42");
    nv(&pairs, "HTTP_COOKIE", long_value);
    begin(b, id, 1);
    while (off < sse_buf_len(&pairs)) {
        size_t n = sse_buf_len(&pairs) - off < split ?
            sse_buf_len(&pairs) - off : split;

        rec(b, 4, id, sse_buf_head(&pairs) + off, n, (unsigned)(off % 7));
        off += n;
    }
    rec(b, 4, id, NULL, 0, 0);
    rec(b, 5, id, NULL, 0, 0);
    sse_buf_free(&pairs);
}

static const char want[] =
    "REQUEST_METHOD=GET;QUERY_STRING=key=user42;HTTP_COOKIE=a=1;";

Test(sse_fcgi_in, whole_request)
{
    struct sse_buf b;
    struct sse_fcgi_in in;
    struct seen s = { "" };
    const char *why = NULL;

    sse_buf_init(&b, 0);
    request(&b, 1, 1000, "a=1");
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_DONE);
    cr_assert_eq(in.request_id, 1);
    sse_fcgi_in_params(&in, collect, &s);
    cr_assert_str_eq(s.text, want);
    cr_assert_eq(sse_buf_len(&in.reply), 0);
    /* Later bytes (FCGI_STDIN, an abort) change nothing. */
    cr_assert_eq(sse_fcgi_in_feed(&in, "\1\2\0\1\0\0\0\0", 8, &why),
                 SSE_FCGI_IN_DONE);
    sse_fcgi_in_free(&in);
    sse_buf_free(&b);
}

/* Every way the bytes can arrive: two reads split at each offset, and
 * parameters split into records of every size from 1 byte. */
Test(sse_fcgi_in, every_split)
{
    for (size_t split = 1; split <= 64; split++) {
        struct sse_buf b;
        size_t n;

        sse_buf_init(&b, 0);
        request(&b, 513, split, "a=1");
        n = sse_buf_len(&b);
        for (size_t cut = 0; cut <= n; cut++) {
            struct sse_fcgi_in in;
            struct seen s = { "" };
            const char *why = NULL;
            int st;

            sse_fcgi_in_init(&in, MAX);
            st = sse_fcgi_in_feed(&in, sse_buf_head(&b), cut, &why);
            /* The empty PARAMS is 8 bytes before the end (empty STDIN). */
            cr_assert_eq(st, cut >= n - 8 ? SSE_FCGI_IN_DONE :
                         SSE_FCGI_IN_MORE, "split %zu cut %zu", split, cut);
            st = sse_fcgi_in_feed(&in, sse_buf_head(&b) + cut, n - cut, &why);
            cr_assert_eq(st, SSE_FCGI_IN_DONE);
            cr_assert_eq(in.request_id, 513);
            sse_fcgi_in_params(&in, collect, &s);
            cr_assert_str_eq(s.text, want, "split %zu cut %zu", split, cut);
            sse_fcgi_in_free(&in);
        }
        sse_buf_free(&b);
    }
}

Test(sse_fcgi_in, four_byte_lengths)
{
    struct sse_buf b;
    struct sse_fcgi_in in;
    struct seen s = { "" };
    const char *why = NULL;
    char *cookie = malloc(3001);

    memset(cookie, 'c', 3000);
    cookie[3000] = '\0';
    sse_buf_init(&b, 0);
    request(&b, 7, 500, cookie);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_DONE);
    sse_fcgi_in_params(&in, collect, &s);
    cr_assert_eq(strlen(s.text), strlen("REQUEST_METHOD=GET;QUERY_STRING="
                                        "key=user42;HTTP_COOKIE=;") + 3000);
    sse_fcgi_in_free(&in);
    sse_buf_free(&b);
    free(cookie);
}

/* Records of another request id, or before BEGIN, are not ours. */
Test(sse_fcgi_in, other_request_ids_skipped)
{
    struct sse_buf b, pairs;
    struct sse_fcgi_in in;
    struct seen s = { "" };
    const char *why = NULL;

    sse_buf_init(&b, 0);
    sse_buf_init(&pairs, 0);
    nv(&pairs, "QUERY_STRING", "key=other");
    rec(&b, 4, 1, sse_buf_head(&pairs), sse_buf_len(&pairs), 0);
    begin(&b, 1, 1);
    begin(&b, 2, 1);
    rec(&b, 4, 2, sse_buf_head(&pairs), sse_buf_len(&pairs), 0);
    rec(&b, 4, 2, NULL, 0, 0);
    sse_buf_clear(&pairs);
    nv(&pairs, "QUERY_STRING", "key=mine");
    rec(&b, 4, 1, sse_buf_head(&pairs), sse_buf_len(&pairs), 0);
    rec(&b, 4, 1, NULL, 0, 0);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_DONE);
    cr_assert_eq(in.request_id, 1);
    sse_fcgi_in_params(&in, collect, &s);
    cr_assert_str_eq(s.text, "QUERY_STRING=key=mine;");
    sse_fcgi_in_free(&in);
    sse_buf_free(&pairs);
    sse_buf_free(&b);
}

Test(sse_fcgi_in, no_params)
{
    struct sse_buf b;
    struct sse_fcgi_in in;
    struct seen s = { "" };
    const char *why = NULL;

    sse_buf_init(&b, 0);
    begin(&b, 1, 1);
    rec(&b, 4, 1, NULL, 0, 0);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_DONE);
    sse_fcgi_in_params(&in, collect, &s);
    cr_assert_str_eq(s.text, "");
    sse_fcgi_in_free(&in);
    sse_buf_free(&b);
}

/* FCGI_GET_VALUES gets FCGI_GET_VALUES_RESULT with FCGI_MPXS_CONNS=0 when
 * asked; an unknown management type gets FCGI_UNKNOWN_TYPE. */
Test(sse_fcgi_in, management_records)
{
    static const unsigned char result[] = {
        1, 10, 0, 0, 0, 18, 0, 0, 15, 1,
        'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N',
        'S', '0',
        1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0,
    };
    struct sse_buf b, pairs;
    struct sse_fcgi_in in;
    const char *why = NULL;

    sse_buf_init(&b, 0);
    sse_buf_init(&pairs, 0);
    nv(&pairs, "FCGI_MAX_CONNS", "");
    nv(&pairs, "FCGI_MPXS_CONNS", "");
    rec(&b, 9, 0, sse_buf_head(&pairs), sse_buf_len(&pairs), 0);
    rec(&b, 42, 0, NULL, 0, 0);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_MORE);
    cr_assert_eq(sse_buf_len(&in.reply), sizeof(result));
    cr_assert_arr_eq(sse_buf_head(&in.reply), result, sizeof(result));
    sse_fcgi_in_free(&in);
    sse_buf_free(&pairs);
    sse_buf_free(&b);
}

Test(sse_fcgi_in, unknown_role_answered)
{
    static const unsigned char end[] = {
        1, 3, 0, 9, 0, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
    };
    struct sse_buf b;
    struct sse_fcgi_in in;
    const char *why = NULL;

    sse_buf_init(&b, 0);
    begin(&b, 9, 2 /* FCGI_AUTHORIZER */);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_BAD);
    cr_assert_not_null(why);
    cr_assert_arr_eq(sse_buf_head(&in.reply), end, sizeof(end));
    sse_fcgi_in_free(&in);
    sse_buf_free(&b);
}

Test(sse_fcgi_in, refused)
{
    struct sse_fcgi_in in;
    const char *why = NULL;
    struct sse_buf b;

    /* Not FastCGI at all: an HTTP request on the FastCGI socket. */
    sse_fcgi_in_init(&in, MAX);
    cr_assert_eq(sse_fcgi_in_feed(&in, "GET / HTTP/1.1\r\n", 16, &why),
                 SSE_FCGI_IN_BAD);
    cr_assert_not_null(why);
    /* and it stays refused */
    cr_assert_eq(sse_fcgi_in_feed(&in, "", 0, &why), SSE_FCGI_IN_BAD);
    sse_fcgi_in_free(&in);

    /* A short BEGIN_REQUEST body. */
    sse_buf_init(&b, 0);
    rec(&b, 1, 1, "\0\1", 2, 0);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_BAD);
    sse_fcgi_in_free(&in);

    /* A pair whose lengths run past the parameters. */
    sse_buf_clear(&b);
    begin(&b, 1, 1);
    rec(&b, 4, 1, "\5\5ab", 4, 0);
    rec(&b, 4, 1, NULL, 0, 0);
    cr_assert_eq(feed_all(&in, MAX, &b, &why), SSE_FCGI_IN_BAD);
    cr_assert_str_eq(why, "malformed FastCGI parameters");
    sse_fcgi_in_free(&in);

    /* Parameters past the maximum, fed a record at a time. */
    sse_buf_clear(&b);
    begin(&b, 1, 1);
    cr_assert_eq(feed_all(&in, 1000, &b, &why), SSE_FCGI_IN_MORE);
    {
        char big[600];
        int st = SSE_FCGI_IN_MORE;

        memset(big, 'x', sizeof(big));
        for (int i = 0; i < 3 && st == SSE_FCGI_IN_MORE; i++) {
            sse_buf_clear(&b);
            rec(&b, 4, 1, big, sizeof(big), 0);
            st = sse_fcgi_in_feed(&in, sse_buf_head(&b), sse_buf_len(&b),
                                  &why);
        }
        cr_assert_eq(st, SSE_FCGI_IN_BAD);
        cr_assert_str_eq(why, "FastCGI parameters too long");
    }
    sse_fcgi_in_free(&in);
    sse_buf_free(&b);
}

/* Bytes that never make a whole record wait; they are bounded. */
Test(sse_fcgi_in, partial_record_bounded)
{
    struct sse_fcgi_in in;
    const char *why = NULL;
    char junk[4096];
    int st = SSE_FCGI_IN_MORE;
    size_t fed = 0;

    /* A header announcing 65535 bytes of content and 255 of padding. */
    memset(junk, 0, sizeof(junk));
    sse_fcgi_in_init(&in, 1000);
    cr_assert_eq(sse_fcgi_in_feed(&in, "\1\4\0\1\377\377\377\0", 8, &why),
                 SSE_FCGI_IN_MORE);
    while (st == SSE_FCGI_IN_MORE && fed < 200000) {
        st = sse_fcgi_in_feed(&in, junk, sizeof(junk), &why);
        fed += sizeof(junk);
    }
    cr_assert_eq(st, SSE_FCGI_IN_BAD);
    cr_assert_lt(fed, 80000);
    sse_fcgi_in_free(&in);
}
