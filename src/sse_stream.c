/*
 * sse_stream: framing and non-blocking output for one response.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sse_record.h"
#include "sse_stream.h"
#include "sse_xmalloc.h"

struct sse_stream *
sse_stream_new(uint64_t id, enum sse_stream_mode mode, int fd, int out_fd,
               unsigned request_id, size_t queue_max)
{
    struct sse_stream *s = xcalloc(1, sizeof(*s));

    s->id = id;
    s->mode = mode;
    s->state = SSE_STREAM_OPEN;
    s->fd = fd;
    s->out_fd = out_fd;
    s->request_id = request_id;
    sse_buf_init(&s->out, queue_max);
    return s;
}

void
sse_stream_destroy(struct sse_stream **sp)
{
    struct sse_stream *s = *sp;

    if (s == NULL)
        return;
    sse_buf_free(&s->out);
    free(s->subs);
    free(s->last_event_id);
    free(s->head_extra);
    free(s->keys);
    if (s->poll_json != NULL)
        sse_buf_free(s->poll_json);
    free(s->poll_json);
    free(s->poll_id);
    free(s);
    *sp = NULL;
}

/* Frame p[0..n) for the stream's mode into its queue. */
static int
append(struct sse_stream *s, const void *p, size_t n)
{
    if (s->mode == SSE_STREAM_FCGI)
        return sse_record_stdout(&s->out, s->request_id, p, n);
    return sse_buf_append(&s->out, p, n);
}

/* Copy lent bytes into the queue, ahead of whatever comes next. They
 * passed the ceiling when lent, into an empty queue, so they fit. */
static void
settle(struct sse_stream *s)
{
    if (s->lent == NULL)
        return;
    (void)append(s, s->lent, s->lent_len);
    s->lent = NULL;
    s->lent_len = 0;
}

int
sse_stream_write(struct sse_stream *s, const void *p, size_t n)
{
    settle(s);
    return append(s, p, n);
}

int
sse_stream_lend(struct sse_stream *s, const void *p, size_t n)
{
    size_t framed = s->mode == SSE_STREAM_FCGI ? sse_record_stdout_len(n) : n;

    /* Only one run of bytes is lent, into an empty queue, and it must fit
     * one record; anything else is copied as before. */
    if (s->lent != NULL || sse_buf_len(&s->out) > 0 || n == 0 ||
        n > SSE_RECORD_CONTENT_MAX)
        return sse_stream_write(s, p, n);
    if (s->out.max != 0 && framed > s->out.max)
        return -1;
    s->lent = p;
    s->lent_len = n;
    return 0;
}

void
sse_stream_end(struct sse_stream *s)
{
    /* The end must always fit: a full queue still ends properly. */
    size_t max = s->out.max;

    settle(s);
    s->out.max = 0;
    if (s->mode == SSE_STREAM_FCGI)
        (void)sse_record_end(&s->out, s->request_id, 0);
    s->out.max = max;
    s->state = SSE_STREAM_ENDING;
}

/* Write the lent bytes (the queue is empty) with their record header, in
 * one writev. What the fd does not take is copied into the queue. Returns
 * 0, or -1 on a write error. */
static int
flush_lent(struct sse_stream *s)
{
    unsigned char hdr[SSE_RECORD_HEADER];
    struct iovec iov[2];
    size_t hlen = 0, total;
    ssize_t n;
    int iovcnt = 0;

    if (s->mode == SSE_STREAM_FCGI) {
        hlen = sse_record_stdout_header(hdr, s->request_id, s->lent_len);
        iov[iovcnt].iov_base = hdr;
        iov[iovcnt++].iov_len = hlen;
    }
    iov[iovcnt].iov_base = (void *)(uintptr_t)s->lent;
    iov[iovcnt++].iov_len = s->lent_len;
    total = hlen + s->lent_len;
    do
        n = writev(s->out_fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        s->lent = NULL;
        s->lent_len = 0;
        return -1;
    }
    if (n < 0)
        n = 0;
    /* Keep the rest, already framed, in the queue. */
    if ((size_t)n < hlen)
        (void)sse_buf_append(&s->out, hdr + n, hlen - (size_t)n);
    if ((size_t)n < total) {
        size_t done = (size_t)n > hlen ? (size_t)n - hlen : 0;

        (void)sse_buf_append(&s->out, s->lent + done, s->lent_len - done);
    }
    s->lent = NULL;
    s->lent_len = 0;
    return 0;
}

int
sse_stream_flush(struct sse_stream *s)
{
    if (s->lent != NULL && flush_lent(s) != 0)
        return -1;
    while (sse_buf_len(&s->out) > 0) {
        ssize_t n = write(s->out_fd, sse_buf_head(&s->out),
                          sse_buf_len(&s->out));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return -1;
        }
        sse_buf_consume(&s->out, (size_t)n);
    }
    return 0;
}
