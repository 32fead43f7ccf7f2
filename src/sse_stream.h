/*
 * sse_stream: one open response of the worker, its output queue and timers.
 *
 * A stream writes the same response bytes whichever way it was opened: as
 * FastCGI STDOUT records on its own non-blocking socket to the web server,
 * or raw on stdout when the worker runs as a plain CGI program. Output waits
 * in a queue with a ceiling, so a client that stops reading fills its own
 * queue, is disconnected, and costs the others nothing.
 *
 * States: OPEN (subscribed, receives events) -> ENDING (end of response
 * queued, draining) -> LINGER (FastCGI only: write side shut, waiting for the
 * web server to close) -> DONE (fd closed, waiting to be freed).
 */
#ifndef SSE_STREAM_H
#define SSE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sse_buf.h"
#include "sse_hub.h"

enum sse_stream_mode {
    SSE_STREAM_FCGI,    /* FastCGI records on fd */
    SSE_STREAM_CGI,     /* raw bytes on out_fd (stdout) */
};

enum sse_stream_state {
    SSE_STREAM_OPEN,
    SSE_STREAM_ENDING,
    SSE_STREAM_LINGER,
    SSE_STREAM_DONE,
};

struct sse_stream {
    uint64_t              id;          /* for logs */
    enum sse_stream_mode  mode;
    enum sse_stream_state state;
    int                   fd;          /* FastCGI socket, or stdin for CGI */
    int                   out_fd;      /* fd written to (== fd for FastCGI) */
    unsigned              request_id;  /* FastCGI request id */
    int                   blocking;    /* out_fd cannot be polled: a file */
    uint32_t              events;      /* epoll events registered now */
    struct sse_buf        out;         /* framed bytes not yet written */
    const char           *lent;        /* bytes queued without a copy, after
                                          out (which is then empty); see
                                          sse_stream_lend */
    size_t                lent_len;
    int64_t               opened_ms;   /* monotonic times */
    int64_t               last_queued_ms; /* for heartbeats */
    int64_t               deadline_ms; /* end the stream then; 0: never */
    int64_t               token_deadline_ms; /* its token expires; 0: none */
    uint64_t              events_sent; /* events queued, for the close log */
    uint64_t              last_seq;    /* newest event sent (broker seq) */
    char                 *last_event_id; /* Last-Event-ID asked for, or NULL */
    int                   opened;      /* response head and ": ok" queued */
    int                   counted;     /* in the worker's open streams */
    char                 *head_extra;  /* CORS headers for the head, or NULL */
    char                 *keys;        /* "a,b", for the logs; or NULL */
    int                   pending;     /* waiting for the broker's answer */
    int64_t               asked_ms;    /* when the answer was asked for */
    uint64_t              asks;        /* requests sent, mod 2^16 */
    int                   latest;      /* start with each key's latest */
    int                   poll;        /* answer once in JSON (mode=poll) */
    int                   status;      /* mode=status: waiting for counts */
    struct sse_buf       *poll_json;   /* the events so far, as JSON */
    size_t                poll_count;
    char                 *poll_id;     /* lastEventId for the next poll */
    int                   poll_missed;
    int                   guessed;     /* last_seq is our clock, not an
                                          event the client saw */
    struct sse_stream    *id_next;     /* the worker's table by id */
    size_t                nsubs;
    struct sse_sub       *subs;        /* one per key, nsubs of them */
    struct sse_stream    *prev;        /* the worker's list of streams */
    struct sse_stream    *next;
    struct sse_stream    *dirty_next;  /* streams with output to flush */
    int                   dirty;
};

/* Make a stream in state OPEN for the given connection, with a queue
 * ceiling of queue_max bytes. The caller owns it. */
struct sse_stream *sse_stream_new(uint64_t id, enum sse_stream_mode mode,
                                  int fd, int out_fd, unsigned request_id,
                                  size_t queue_max);

/* Free the stream (its fd must be closed already) and set *sp to NULL. */
void sse_stream_destroy(struct sse_stream **sp);

/* Queue response bytes p[0..n), framed for the stream's mode. Returns 0, or
 * -1 if the queue would pass its ceiling (nothing is queued). */
int sse_stream_write(struct sse_stream *s, const void *p, size_t n);

/* Queue p[0..n) as sse_stream_write does, but without copying it when
 * nothing else is queued: the next sse_stream_flush writes it from p, and
 * copies what the socket did not take. The caller keeps p valid until then;
 * anything queued before that flush copies the lent bytes first. So one
 * event received from the broker reaches every stream of its key with no
 * allocation or copy per stream, as long as their sockets keep up.
 * Returns 0, or -1 if the queue would pass its ceiling (nothing queued). */
int sse_stream_lend(struct sse_stream *s, const void *p, size_t n);

/* Queue the end of the response (FastCGI: empty STDOUT and END_REQUEST)
 * regardless of the ceiling, and move to ENDING. */
void sse_stream_end(struct sse_stream *s);

/* Write queued bytes until the queue is empty or the fd would block; lent
 * bytes the fd does not take are copied into the queue, so none are left
 * lent afterwards. Returns 0 when the queue is empty, 1 when bytes remain,
 * -1 on a write error (errno set; EPIPE or ECONNRESET mean the peer left). */
int sse_stream_flush(struct sse_stream *s);

#endif /* SSE_STREAM_H */
