/*
 * fuzz_resp: sse_resp, the HTTP/1.1 responses sse-bench reads from the
 * servers it measures (event streams, chunked or not, and the answers to
 * its pipelined POSTs).
 *
 * Input: byte 0 holds flags (1: the request was HEAD, 2: read responses
 * one after another, resetting after each end) and, in its upper bits,
 * how the input is cut into reads (0: one byte at a time, else pieces of
 * 1 to 32 bytes); byte 1 sets the head ceiling (0: the default, else
 * 4 * byte); the rest is what the server sent.
 *
 * Properties:
 *
 *   - a call consumes at most what it is given; it reports nothing only
 *     when it consumed everything or the response has ended; a body part
 *     is not empty and lies inside the bytes given;
 *   - fed in one read or in pieces, the heads (status, framing, keep-alive,
 *     Content-Type), the body bytes of each response, the ends, the error
 *     (if any) and what sse_resp_eof says are the same;
 *   - a body delimited by Content-Length that ends has exactly that many
 *     bytes, and a head reports a status from 200 to 999 or 101 (1xx
 *     answers are skipped), with content_length -1 unless it delimits the
 *     body.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_resp.h"

#define WHOLE 0xffffffffu   /* cut: the input in one read */

struct run {
    struct sse_buf log;     /* "H" fields, "B" len bytes, "E", "X" error */
    struct sse_buf body;    /* body of the response being read */
    long long      cl;      /* its Content-Length, or -1 */
};

static void
put(struct sse_buf *b, const void *p, size_t n)
{
    sse_buf_append(b, p, n);
}

static void
flush_body(struct run *r)
{
    uint64_t len = sse_buf_len(&r->body);

    if (len == 0)
        return;
    put(&r->log, "B", 1);
    put(&r->log, &len, sizeof(len));
    put(&r->log, sse_buf_head(&r->body), sse_buf_len(&r->body));
    sse_buf_clear(&r->body);
}

/* Feed in[0..n) in pieces; log what comes out. */
static void
drive(struct run *r, const char *in, size_t n, int no_body, int pipelined,
      size_t head_max, unsigned cut)
{
    struct sse_resp resp;
    size_t i = 0, k = 0;
    int failed = 0, ended = 0, eof;

    sse_buf_init(&r->log, 0);
    sse_buf_init(&r->body, 0);
    r->cl = -1;
    sse_resp_init(&resp, head_max);
    resp.no_body = no_body;
    while (i < n && !failed && !ended) {
        size_t len = cut == WHOLE ? n - i : cut == 0 ? 1 :
            1 + (size_t)((cut * (k + 5)) % 32);
        char *piece, *p;
        size_t left;

        if (len > n - i)
            len = n - i;
        p = piece = fuzz_memdup(in + i, len);
        left = len;
        for (;;) {
            struct sse_resp_part part;
            long used = sse_resp_feed(&resp, p, left, &part);

            if (used < 0) {
                FUZZ_CHECK(resp.error != NULL, "no reason for -1");
                flush_body(r);
                put(&r->log, "X", 1);
                put(&r->log, resp.error, strlen(resp.error));
                failed = 1;
                break;
            }
            FUZZ_CHECK((size_t)used <= left, "consumed %ld of %zu", used,
                       left);
            p += used;
            left -= (size_t)used;
            if (part.kind == SSE_RESP_NONE) {
                FUZZ_CHECK(left == 0, "bytes left unread with no "
                           "response ended");
                break;
            }
            if (part.kind == SSE_RESP_HEAD) {
                int st = resp.status;

                flush_body(r);
                FUZZ_CHECK(st == 101 || (st >= 200 && st <= 999),
                           "status %d reported", st);
                FUZZ_CHECK(resp.content_length >= -1, "content_length");
                FUZZ_CHECK(!(resp.chunked && resp.content_length >= 0),
                           "chunked with a Content-Length in force");
                r->cl = resp.content_length;
                put(&r->log, "H", 1);
                put(&r->log, &resp.status, sizeof(resp.status));
                put(&r->log, &resp.chunked, sizeof(resp.chunked));
                put(&r->log, &resp.keep_alive, sizeof(resp.keep_alive));
                put(&r->log, &resp.content_length,
                    sizeof(resp.content_length));
                FUZZ_CHECK(memchr(resp.content_type, '\0',
                                  sizeof(resp.content_type)) != NULL,
                           "content_type not terminated");
                put(&r->log, resp.content_type, strlen(resp.content_type));
                put(&r->log, "\n", 1);
            } else if (part.kind == SSE_RESP_BODY) {
                FUZZ_CHECK(part.len > 0 && part.data >= p - used &&
                           part.data + part.len <= p,
                           "body part outside the bytes consumed");
                put(&r->body, part.data, part.len);
            } else {
                if (r->cl >= 0)
                    FUZZ_CHECK((long long)sse_buf_len(&r->body) == r->cl,
                               "Content-Length %lld, body %zu", r->cl,
                               sse_buf_len(&r->body));
                flush_body(r);
                put(&r->log, "E", 1);
                if (!pipelined) {
                    /* Bytes after the end stay unread. */
                    struct sse_resp_part again;

                    FUZZ_CHECK(sse_resp_feed(&resp, p, left, &again) == 0
                               && again.kind == SSE_RESP_NONE,
                               "a finished response read on");
                    ended = 1;
                    break;
                }
                sse_resp_reset(&resp);
                resp.no_body = no_body;
                r->cl = -1;
            }
        }
        free(piece);
        i += len;
        k++;
    }
    flush_body(r);
    if (!failed) {
        eof = sse_resp_eof(&resp);
        put(&r->log, "Z", 1);
        put(&r->log, &eof, sizeof(eof));
    }
    sse_resp_free(&resp);
    sse_buf_free(&r->body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run one, pieces;
    const char *in;
    size_t n, head_max;
    int no_body, pipelined;
    unsigned cut;

    if (size < 2)
        return 0;
    no_body = data[0] & 1;
    pipelined = (data[0] & 2) != 0;
    cut = data[0] >> 2;
    head_max = (size_t)data[1] * 4;
    in = (const char *)data + 2;
    n = size - 2;

    drive(&one, in, n, no_body, pipelined, head_max, WHOLE);
    drive(&pieces, in, n, no_body, pipelined, head_max, cut);
    FUZZ_CHECK(sse_buf_len(&one.log) == sse_buf_len(&pieces.log) &&
               (sse_buf_len(&one.log) == 0 ||
                memcmp(sse_buf_head(&one.log), sse_buf_head(&pieces.log),
                       sse_buf_len(&one.log)) == 0),
               "one read and pieces (cut %u) disagree", cut);
    sse_buf_free(&one.log);
    sse_buf_free(&pieces.log);
    return 0;
}
