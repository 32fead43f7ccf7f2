/*
 * sse_stream: framing and non-blocking output for one response.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
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

int
sse_stream_write(struct sse_stream *s, const void *p, size_t n)
{
    if (s->mode == SSE_STREAM_FCGI)
        return sse_record_stdout(&s->out, s->request_id, p, n);
    return sse_buf_append(&s->out, p, n);
}

void
sse_stream_end(struct sse_stream *s)
{
    /* The end must always fit: a full queue still ends properly. */
    size_t max = s->out.max;

    s->out.max = 0;
    if (s->mode == SSE_STREAM_FCGI)
        (void)sse_record_end(&s->out, s->request_id, 0);
    s->out.max = max;
    s->state = SSE_STREAM_ENDING;
}

int
sse_stream_flush(struct sse_stream *s)
{
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
