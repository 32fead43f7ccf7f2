/*
 * Unit tests for sse_stream: bytes queued with and without a copy come out
 * of the socket in the order they were queued, framed as FastCGI records
 * (or raw for CGI), whether the socket takes them at once, in part, or not
 * at all; and lent bytes obey the queue's ceiling.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sse_buf.h"
#include "sse_record.h"
#include "sse_stream.h"

#define REQ 7

/* A stream writing to one end of a non-blocking socketpair; *peer is the
 * other end. */
static struct sse_stream *
pair(enum sse_stream_mode mode, size_t queue_max, int *peer)
{
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    *peer = sv[1];
    return sse_stream_new(1, mode, sv[0], sv[0], REQ, queue_max);
}

static void
unpair(struct sse_stream **sp, int peer)
{
    close((*sp)->fd);
    close(peer);
    sse_stream_destroy(sp);
}

/* Read everything the peer has into b (appended). */
static void
drain(int peer, struct sse_buf *b)
{
    char chunk[65536];
    ssize_t n;

    while ((n = read(peer, chunk, sizeof chunk)) > 0)
        cr_assert_eq(sse_buf_append(b, chunk, (size_t)n), 0);
}

/* The STDOUT record(s) of s[0..n) for REQ, as bytes. */
static void
framed(struct sse_buf *b, const char *s, size_t n)
{
    cr_assert_eq(sse_record_stdout(b, REQ, s, n), 0);
}

static int
same(const struct sse_buf *a, const struct sse_buf *b)
{
    return sse_buf_len(a) == sse_buf_len(b) &&
        (sse_buf_len(a) == 0 ||
         memcmp(sse_buf_head(a), sse_buf_head(b), sse_buf_len(a)) == 0);
}

Test(sse_stream, lent_bytes_go_out_as_one_record_without_a_copy)
{
    static const char ev[] = "data: hello\n\n";
    struct sse_buf got, want;
    struct sse_stream *s;
    int peer;

    s = pair(SSE_STREAM_FCGI, 1024, &peer);
    cr_assert_eq(sse_stream_lend(s, ev, sizeof ev - 1), 0);
    cr_expect_eq(sse_buf_len(&s->out), 0, "lent bytes were copied");
    cr_expect_eq(sse_stream_flush(s), 0);
    cr_expect_null(s->lent, "still lent after a flush");
    sse_buf_init(&got, 0);
    sse_buf_init(&want, 0);
    drain(peer, &got);
    framed(&want, ev, sizeof ev - 1);
    cr_expect(same(&got, &want), "bytes differ");
    sse_buf_free(&got);
    sse_buf_free(&want);
    unpair(&s, peer);
}

Test(sse_stream, cgi_lent_bytes_go_out_raw)
{
    static const char ev[] = "data: hello\n\n";
    struct sse_buf got;
    struct sse_stream *s;
    int peer;

    s = pair(SSE_STREAM_CGI, 1024, &peer);
    cr_assert_eq(sse_stream_lend(s, ev, sizeof ev - 1), 0);
    cr_expect_eq(sse_stream_flush(s), 0);
    sse_buf_init(&got, 0);
    drain(peer, &got);
    cr_expect_eq(sse_buf_len(&got), sizeof ev - 1);
    cr_expect_arr_eq(sse_buf_head(&got), ev, sizeof ev - 1);
    sse_buf_free(&got);
    unpair(&s, peer);
}

Test(sse_stream, everything_queued_after_lent_bytes_follows_them)
{
    static const char a[] = "data: a\n\n", b[] = "data: b\n\n",
        c[] = ": ping\n\n";
    struct sse_buf got, want;
    struct sse_stream *s;
    int peer;

    s = pair(SSE_STREAM_FCGI, 4096, &peer);
    cr_assert_eq(sse_stream_lend(s, a, sizeof a - 1), 0);
    /* A second lend copies both, in order; so does a write. */
    cr_assert_eq(sse_stream_lend(s, b, sizeof b - 1), 0);
    cr_expect_null(s->lent);
    cr_assert_eq(sse_stream_write(s, c, sizeof c - 1), 0);
    cr_assert_eq(sse_stream_lend(s, a, sizeof a - 1), 0);
    sse_stream_end(s);
    cr_expect_eq(sse_stream_flush(s), 0);
    sse_buf_init(&got, 0);
    sse_buf_init(&want, 0);
    drain(peer, &got);
    framed(&want, a, sizeof a - 1);
    framed(&want, b, sizeof b - 1);
    framed(&want, c, sizeof c - 1);
    framed(&want, a, sizeof a - 1);
    cr_assert_eq(sse_record_end(&want, REQ, 0), 0);
    cr_expect(same(&got, &want), "order or framing differs");
    sse_buf_free(&got);
    sse_buf_free(&want);
    unpair(&s, peer);
}

/* Fill the socket until it takes nothing more. */
static void
fill(int fd)
{
    static char junk[65536];

    while (write(fd, junk, sizeof junk) > 0 || errno == EINTR)
        ;
    while (write(fd, junk, 1) > 0)
        ;
}

Test(sse_stream, lent_bytes_a_full_socket_refuses_are_copied_and_kept)
{
    static const char ev[] = "data: later\n\n";
    struct sse_buf got, want;
    struct sse_stream *s;
    int peer;
    char sink[65536];

    s = pair(SSE_STREAM_FCGI, 4096, &peer);
    fill(s->out_fd);
    cr_assert_eq(sse_stream_lend(s, ev, sizeof ev - 1), 0);
    cr_expect_eq(sse_stream_flush(s), 1, "not reported as pending");
    cr_expect_null(s->lent, "still lent: the caller may free it now");
    sse_buf_init(&want, 0);
    framed(&want, ev, sizeof ev - 1);
    cr_expect(same(&s->out, &want), "queue does not hold the record");
    /* The peer reads the filler, then the record arrives whole. */
    while (read(peer, sink, sizeof sink) > 0)
        ;
    cr_expect_eq(sse_stream_flush(s), 0);
    sse_buf_init(&got, 0);
    drain(peer, &got);
    cr_expect(same(&got, &want), "bytes differ after the socket drained");
    sse_buf_free(&got);
    sse_buf_free(&want);
    unpair(&s, peer);
}

Test(sse_stream, a_partly_taken_lent_record_continues_where_it_stopped)
{
    struct sse_buf got, want;
    struct sse_stream *s;
    size_t n = 60000;
    int peer, rc, sndbuf = 4096, partial = 0;
    char *ev;

    /* A small send buffer takes only part of a large record. */
    ev = malloc(n);
    cr_assert_not_null(ev);
    for (size_t i = 0; i < n; i++)
        ev[i] = (char)('a' + i % 26);
    s = pair(SSE_STREAM_FCGI, 0, &peer);
    cr_assert_eq(setsockopt(s->out_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
                            sizeof sndbuf), 0);
    cr_assert_eq(sse_stream_lend(s, ev, n), 0);
    sse_buf_init(&got, 0);
    for (int i = 0; i < 10000; i++) {
        rc = sse_stream_flush(s);
        cr_expect_null(s->lent, "still lent after a flush");
        if (rc != 1)
            break;
        partial = 1;
        drain(peer, &got);
    }
    cr_expect_eq(rc, 0);
    cr_expect(partial, "the socket took the whole record at once");
    drain(peer, &got);
    sse_buf_init(&want, 0);
    framed(&want, ev, n);
    cr_expect(same(&got, &want), "bytes differ after a partial write");
    sse_buf_free(&want);
    sse_buf_free(&got);
    free(ev);
    unpair(&s, peer);
}

Test(sse_stream, lent_bytes_obey_the_ceiling)
{
    static const char ev[] = "data: 0123456789\n\n";
    size_t rec = SSE_RECORD_HEADER + sizeof ev - 1;
    struct sse_stream *s;
    int peer;

    s = pair(SSE_STREAM_FCGI, rec - 1, &peer);
    cr_expect_eq(sse_stream_lend(s, ev, sizeof ev - 1), -1,
                 "one byte over the ceiling accepted");
    cr_expect_null(s->lent);
    cr_expect_eq(sse_buf_len(&s->out), 0);
    unpair(&s, peer);

    s = pair(SSE_STREAM_FCGI, rec, &peer);
    cr_expect_eq(sse_stream_lend(s, ev, sizeof ev - 1), 0, "exact fit");
    /* The lent record fills the queue: a second one does not fit. */
    cr_expect_eq(sse_stream_lend(s, ev, sizeof ev - 1), -1,
                 "second record over the ceiling accepted");
    cr_expect_eq(sse_stream_flush(s), 0);
    unpair(&s, peer);
}
