/*
 * Unit tests for sse_resp: the status line and fields, each way a body is
 * delimited, chunk extensions and trailers, pipelined responses, malformed
 * input, and the same result however the bytes are split.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_resp.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1    /* a literal as pointer and length */

/* What one run over some input gave. */
struct run {
    int            heads;      /* SSE_RESP_HEAD parts */
    int            ends;       /* SSE_RESP_END parts */
    int            failed;     /* a feed returned -1 */
    const char    *error;
    int            status;     /* of the last head */
    int            keep_alive;
    int            chunked;
    long long      content_length;
    char           ctype[SSE_RESP_CTYPE_MAX];
    struct sse_buf body;       /* every body byte, responses in a row */
};

/* Feed in[0..n) in pieces ending at cuts[0..ncuts), each copied just
 * before a guard page, reading the parts each feed gives; after an end,
 * reset for a next response when pipelined. */
static void
drive(struct sse_resp *r, struct run *out, const char *in, size_t n,
      const size_t *cuts, size_t ncuts, int pipelined)
{
    size_t from = 0, k;

    memset(out, 0, sizeof(*out));
    sse_buf_init(&out->body, 0);
    for (k = 0; k <= ncuts && !out->failed; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        struct guarded g;
        const char *p = guard_copy(&g, in + from, to - from);
        size_t left = to - from;

        cr_assert_not_null(p);
        for (;;) {
            struct sse_resp_part part;
            long used = sse_resp_feed(r, p, left, &part);

            if (used < 0) {
                out->failed = 1;
                out->error = r->error;
                break;
            }
            cr_assert_leq((size_t)used, left);
            p += used;
            left -= (size_t)used;
            if (part.kind == SSE_RESP_NONE) {
                cr_assert_eq(left, 0, "NONE leaves no byte unconsumed "
                             "unless the response ended");
                break;
            }
            if (part.kind == SSE_RESP_HEAD) {
                out->heads++;
                out->status = r->status;
                out->keep_alive = r->keep_alive;
                out->chunked = r->chunked;
                out->content_length = r->content_length;
                memcpy(out->ctype, r->content_type, sizeof(out->ctype));
            } else if (part.kind == SSE_RESP_BODY) {
                cr_assert_gt(part.len, 0);
                sse_buf_append(&out->body, part.data, part.len);
            } else if (part.kind == SSE_RESP_END) {
                out->ends++;
                if (pipelined)
                    sse_resp_reset(r);
                else
                    break;
            }
        }
        guard_free(&g);
        from = to;
    }
}

static void
run_free(struct run *out)
{
    sse_buf_free(&out->body);
}

static void
expect_body(const char *row, const struct run *got, const char *want,
            size_t want_len)
{
    cr_expect_eq(sse_buf_len(&got->body), want_len,
                 "row %s: body length %zu, want %zu", row,
                 sse_buf_len(&got->body), want_len);
    if (sse_buf_len(&got->body) == want_len && want_len > 0)
        cr_expect_arr_eq(sse_buf_head(&got->body), want, want_len,
                         "row %s: body \"%.*s\"", row,
                         (int)sse_buf_len(&got->body),
                         sse_buf_head(&got->body));
}

/* ------------------------------------------------------------------------
 * Splitting
 * ------------------------------------------------------------------------ */

#define SSE_CHUNKED \
    "HTTP/1.1 200 OK\r\n" \
    "Content-Type: text/event-stream\r\n" \
    "Transfer-Encoding: chunked\r\n" \
    "Cache-Control: no-cache\r\n" \
    "\r\n" \
    "6\r\n: ok\n\n\r\n" \
    "d;name=\"v;al\"\r\ndata: hello\n\n\r\n" \
    "0\r\nX-Trailer: 1\r\n\r\n"

Test(sse_resp, a_chunked_event_stream_reads_the_same_however_it_is_split)
{
    static const char in[] = SSE_CHUNKED;
    static const char body[] = ": ok\n\ndata: hello\n\n";
    size_t n = sizeof(in) - 1, i, j;

    for (i = 0; i <= n; i++) {
        for (j = i; j <= n; j++) {
            size_t cuts[2] = { i, j };
            struct sse_resp r;
            struct run got;
            char row[32];

            snprintf(row, sizeof(row), "cut %zu %zu", i, j);
            sse_resp_init(&r, 0);
            drive(&r, &got, in, n, cuts, 2, 0);
            cr_expect_not(got.failed, "%s: failed: %s", row, got.error);
            cr_expect_eq(got.heads, 1, "%s: one head", row);
            cr_expect_eq(got.ends, 1, "%s: one end", row);
            cr_expect_eq(got.status, 200, "%s", row);
            cr_expect(got.chunked, "%s: chunked", row);
            cr_expect_str_eq(got.ctype, "text/event-stream", "%s", row);
            expect_body(row, &got, body, sizeof(body) - 1);
            run_free(&got);
            sse_resp_free(&r);
        }
    }
}

Test(sse_resp, no_proper_prefix_of_a_response_ends_it)
{
    static const char in[] = SSE_CHUNKED;
    size_t n = sizeof(in) - 1, i;

    for (i = 0; i < n; i++) {
        struct sse_resp r;
        struct run got;

        sse_resp_init(&r, 0);
        drive(&r, &got, in, i, NULL, 0, 0);
        cr_expect_not(got.failed, "prefix %zu: failed: %s", i, got.error);
        cr_expect_eq(got.ends, 0, "prefix %zu ended the response", i);
        cr_expect_eq(got.heads,
                     i >= (size_t)(strstr(in, "\r\n\r\n") + 4 - in),
                     "prefix %zu: head reported iff complete", i);
        cr_expect_eq(sse_resp_eof(&r), -1, "prefix %zu: eof is a cut", i);
        run_free(&got);
        sse_resp_free(&r);
    }
}

/* ------------------------------------------------------------------------
 * Delimiting the body
 * ------------------------------------------------------------------------ */

Test(sse_resp, each_way_of_delimiting_a_body)
{
    static const struct {
        const char *name;
        const char *in;
        size_t      in_len;
        int         no_body;    /* the request was HEAD */
        int         status;
        int         ends;       /* 1: ended by its framing */
        int         keep_alive;
        const char *body;
    } rows[] = {
        { "content-length",
          S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
          0, 200, 1, 1, "hello" },
        { "content-length zero",
          S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
          0, 200, 1, 1, "" },
        { "bytes after the body are not consumed",
          S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
          0, 200, 1, 1, "ok" },
        { "until close",
          S("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
            "data: x\n\n"),
          0, 200, 0, 0, "data: x\n\n" },
        { "204 has no body",
          S("HTTP/1.1 204 No Content\r\n\r\n"), 0, 204, 1, 1, "" },
        { "304 has no body",
          S("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
          0, 304, 1, 1, "" },
        { "head request",
          S("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"),
          1, 200, 1, 1, "" },
        { "interim answers are skipped",
          S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
            "Link: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2"
            "\r\n\r\nok"), 0, 201, 1, 1, "ok" },
        { "chunked beats content-length",
          S("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
          0, 200, 1, 1, "ok" },
        { "chunked last in the list",
          S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
            "2\r\nok\r\n0\r\n\r\n"), 0, 200, 1, 1, "ok" },
        { "chunked not last: until close",
          S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
            "2\r\nok"), 0, 200, 0, 0, "2\r\nok" },
        { "chunk sizes in hex, any case, with spaces and extensions",
          S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "A \r\n0123456789\r\n"
            "1a ; x=1 ; y=\"a;b\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
            "00000\r\n\r\n"), 0, 200, 1, 1,
          "0123456789abcdefghijklmnopqrstuvwxyz" },
        { "trailers are skipped",
          S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\nok\r\n0\r\nA: 1\r\nB: 2\r\n\r\n"), 0, 200, 1, 1, "ok" },
        { "bare lf line ends",
          S("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
            "2\nok\n0\nT: 1\n\n"), 0, 200, 1, 1, "ok" },
        { "http/1.0 closes",
          S("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
          0, 200, 1, 0, "ok" },
        { "http/1.0 keep-alive",
          S("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
            "Content-Length: 2\r\n\r\nok"), 0, 200, 1, 1, "ok" },
        { "connection close",
          S("HTTP/1.1 200 OK\r\nConnection: foo, close\r\n"
            "Content-Length: 2\r\n\r\nok"), 0, 200, 1, 0, "ok" },
        { "status without reason",
          S("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"),
          0, 404, 1, 1, "" },
        { "folded field line",
          S("HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n"
            "Content-Length: 2\r\n\r\nok"), 0, 200, 1, 1, "ok" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_resp r;
        struct run got;

        sse_resp_init(&r, 0);
        r.no_body = rows[i].no_body;
        drive(&r, &got, rows[i].in, rows[i].in_len, NULL, 0, 0);
        cr_expect_not(got.failed, "row %s: failed: %s", rows[i].name,
                      got.error);
        cr_expect_eq(got.heads, 1, "row %s: heads %d", rows[i].name,
                     got.heads);
        cr_expect_eq(got.status, rows[i].status, "row %s: status %d",
                     rows[i].name, got.status);
        cr_expect_eq(got.ends, rows[i].ends, "row %s: ends %d",
                     rows[i].name, got.ends);
        cr_expect_eq(got.keep_alive, rows[i].keep_alive,
                     "row %s: keep_alive %d", rows[i].name, got.keep_alive);
        expect_body(rows[i].name, &got, rows[i].body,
                    strlen(rows[i].body));
        cr_expect_eq(sse_resp_eof(&r), rows[i].ends ? 0 : 1,
                     "row %s: eof", rows[i].name);
        run_free(&got);
        sse_resp_free(&r);
    }
}

Test(sse_resp, pipelined_responses_come_one_after_another)
{
    static const char in[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
        "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\ntwo\r\n0\r\n\r\n"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\nthree";
    size_t n = sizeof(in) - 1, i;

    for (i = 0; i <= n; i++) {
        struct sse_resp r;
        struct run got;
        size_t cut[1] = { i };

        sse_resp_init(&r, 0);
        drive(&r, &got, in, n, cut, 1, 1);
        cr_expect_not(got.failed, "cut %zu: %s", i, got.error);
        cr_expect_eq(got.heads, 4, "cut %zu: heads %d", i, got.heads);
        cr_expect_eq(got.ends, 4, "cut %zu: ends %d", i, got.ends);
        cr_expect_eq(got.status, 500);
        expect_body("pipelined", &got, "onetwothree", 11);
        run_free(&got);
        sse_resp_free(&r);
    }
}

/* ------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------ */

Test(sse_resp, content_type_is_kept_and_checked)
{
    static const struct {
        const char *field;      /* NULL: no Content-Type */
        const char *kept;
        int         stream;
    } rows[] = {
        { "text/event-stream",              "text/event-stream", 1 },
        { "Text/Event-Stream",              "Text/Event-Stream", 1 },
        { "text/event-stream; charset=utf-8",
                                 "text/event-stream; charset=utf-8", 1 },
        { "text/event-stream;charset=utf-8",
                                 "text/event-stream;charset=utf-8", 1 },
        { "  text/event-stream  ",          "text/event-stream", 1 },
        { "text/event-streams",             "text/event-streams", 0 },
        { "text/html",                      "text/html", 0 },
        { "text/event",                     "text/event", 0 },
        { NULL,                             "", 0 },
        { "text/event-stream; x=0123456789012345678901234567890123456789"
          "0123456789",
          "text/event-stream; x="
          "012345678901234567890123456789012345678901", 1 },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_resp r;
        struct run got;
        char in[256];
        int n;

        n = snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\n%s%s%s\r\n",
                     rows[i].field ? "Content-Type: " : "",
                     rows[i].field ? rows[i].field : "",
                     rows[i].field ? "\r\n" : "");
        sse_resp_init(&r, 0);
        drive(&r, &got, in, (size_t)n, NULL, 0, 0);
        cr_assert_eq(got.heads, 1, "row %zu", i);
        cr_expect_str_eq(r.content_type, rows[i].kept, "row %zu: kept "
                         "\"%s\"", i, r.content_type);
        cr_expect_eq(sse_resp_is_event_stream(&r), rows[i].stream,
                     "row %zu", i);
        run_free(&got);
        sse_resp_free(&r);
    }
}

/* ------------------------------------------------------------------------
 * Malformed input
 * ------------------------------------------------------------------------ */

Test(sse_resp, malformed_responses_are_refused_with_a_reason)
{
    static const struct {
        const char *in;
        const char *error;
    } rows[] = {
        { "HTTP/2 200 OK\r\n\r\n",                   "bad status line" },
        { "HTTP/1.1 20\r\n\r\n",                     "bad status line" },
        { "HTTP/1.1 200OK\r\n\r\n",                  "bad status line" },
        { "HTTP/1.1 099 Low\r\n\r\n",                "bad status line" },
        { "ICY 200 OK\r\n\r\n",                      "bad status line" },
        { "\r\n\r\n",                                "bad status line" },
        { "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",      "bad header field" },
        { "HTTP/1.1 200 OK\r\n: empty\r\n\r\n",      "bad header field" },
        { "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                                                     "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                                                     "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                                                     "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                                                     "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
          "\r\n",                           "conflicting Content-Length" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                                     "bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                                                     "bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n",
                                                     "bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rx",
                                          "bad chunk size line end" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "2\r\nokX\r\n",                "chunk data not followed by CRLF" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "2\r\nok\rX",                   "chunk data not followed by CRLF" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "11111111111111111\r\n",                   "chunk size too large" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\n\rX",                        "bad end of trailer section" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_resp r;
        struct run got;

        sse_resp_init(&r, 0);
        drive(&r, &got, rows[i].in, strlen(rows[i].in), NULL, 0, 0);
        cr_expect(got.failed, "row %zu \"%s\" accepted", i, rows[i].in);
        if (got.failed)
            cr_expect_str_eq(got.error, rows[i].error, "row %zu: \"%s\"", i,
                             got.error);
        run_free(&got);
        sse_resp_free(&r);
    }
}

Test(sse_resp, a_head_over_the_ceiling_is_refused)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nX-Long: 0123456789\r\n\r\n";
    struct sse_resp r;
    struct run got;

    sse_resp_init(&r, 32);
    drive(&r, &got, S(in), NULL, 0, 0);
    cr_expect(got.failed);
    cr_expect_str_eq(got.error, "response head too large");
    run_free(&got);
    sse_resp_free(&r);

    sse_resp_init(&r, sizeof(in) - 1);
    drive(&r, &got, S(in), NULL, 0, 0);
    cr_expect_not(got.failed, "a head of exactly the ceiling fits");
    run_free(&got);
    sse_resp_free(&r);
}

Test(sse_resp, eof_tells_a_cut_response_from_a_finished_one)
{
    static const struct {
        const char *in;
        int         eof;
        const char *error;
    } rows[] = {
        { "",                                                -1,
          "connection closed before the response head" },
        { "HTTP/1.1 200 OK\r\n",                             -1,
          "connection closed before the response head" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",  -1,
          "connection closed before the end of the body" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
          -1, "connection closed inside the chunked body" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
          -1, "connection closed inside the chunked body" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab",   0, NULL },
        { "HTTP/1.1 200 OK\r\n\r\nanything",                  1, NULL },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_resp r;
        struct run got;
        int eof;

        sse_resp_init(&r, 0);
        drive(&r, &got, rows[i].in, strlen(rows[i].in), NULL, 0, 0);
        cr_assert_not(got.failed, "row %zu", i);
        eof = sse_resp_eof(&r);
        cr_expect_eq(eof, rows[i].eof, "row %zu: eof %d", i, eof);
        if (rows[i].error != NULL && eof < 0)
            cr_expect_str_eq(r.error, rows[i].error, "row %zu", i);
        run_free(&got);
        sse_resp_free(&r);
    }
}

Test(sse_resp, a_parsed_head_leaves_no_storage_behind)
{
    struct sse_resp r;
    struct run got;

    sse_resp_init(&r, 0);
    drive(&r, &got, S("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
                      "\r\n\r\ndata: x\n\n"), NULL, 0, 0);
    cr_expect_eq(got.heads, 1);
    cr_expect_null(r.head.data);
    run_free(&got);
    sse_resp_free(&r);
}
