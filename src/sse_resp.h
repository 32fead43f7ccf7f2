/*
 * sse_resp: an HTTP/1.1 response read by a client, fed as bytes arrive.
 *
 * The reader takes the status line and header fields, then delimits the
 * body as RFC 9112 section 6.3 says: no body for 1xx (skipped), 204 and 304
 * answers or a request the caller marked bodiless; the chunked coding when
 * it is the final transfer coding (chunk extensions and trailer fields are
 * read and dropped); another Transfer-Encoding reads until the connection
 * closes; else Content-Length; else until the connection closes. Lines may
 * end in CRLF or a bare LF.
 *
 * It is pull-style, like picohttpparser: each call consumes some bytes and
 * reports at most one part (the head, a piece of body as a view into the
 * caller's bytes, or the end), so a caller streams an endless body without
 * copying it and reads pipelined responses one after another. It does no
 * I/O. The head is copied while incomplete and freed once parsed.
 */
#ifndef SSE_RESP_H
#define SSE_RESP_H

#include <stddef.h>

#include "sse_buf.h"

#define SSE_RESP_HEAD_MAX   (64 * 1024)  /* default ceiling on a head */
#define SSE_RESP_CTYPE_MAX  64           /* Content-Type bytes kept */

enum sse_resp_kind {
    SSE_RESP_NONE,      /* nothing complete: every byte given was consumed */
    SSE_RESP_HEAD,      /* the head is parsed: see the fields below */
    SSE_RESP_BODY,      /* part->data[0..part->len) is body */
    SSE_RESP_END,       /* the response is complete */
};

struct sse_resp_part {
    enum sse_resp_kind kind;
    const char        *data;    /* SSE_RESP_BODY: a view into the input */
    size_t             len;
};

struct sse_resp {
    /* Set by the caller before the head arrives. */
    int                no_body;     /* answer to HEAD: no body follows */
    /* Valid once SSE_RESP_HEAD was reported. */
    int                status;      /* 100 to 999 */
    int                minor;       /* HTTP/1.minor */
    int                chunked;     /* the body uses the chunked coding */
    int                keep_alive;  /* another response may follow */
    long long          content_length; /* -1 when absent or not used */
    char               content_type[SSE_RESP_CTYPE_MAX]; /* NUL-ended,
                                       cut to fit; "" when absent */
    const char        *error;       /* why the last call returned -1 */
    /* Internal. */
    int                state;
    int                at_line_start; /* head: the last byte ended a line */
    unsigned           digits;      /* hex digits in the chunk size */
    unsigned long long left;        /* bytes left in the chunk or body */
    struct sse_buf     head;        /* the head while incomplete */
};

/* Set r up to read a response head of at most head_max bytes (0: the
 * default, SSE_RESP_HEAD_MAX). Allocates nothing. */
void sse_resp_init(struct sse_resp *r, size_t head_max);

/* Free r's storage. */
void sse_resp_free(struct sse_resp *r);

/* Get ready for the next response on the same connection, after
 * SSE_RESP_END. Keeps head_max; clears no_body. */
void sse_resp_reset(struct sse_resp *r);

/* Consume bytes from in[0..n) and report at most one part in *part.
 * Returns the number of bytes consumed (0 to n), or -1 if the response is
 * malformed (r->error holds a static reason such as "bad status line"; r
 * must then be dropped). Call again with the bytes not consumed until the
 * part is SSE_RESP_NONE: a part may come with nothing consumed (the end of
 * a body that was complete with the head). After SSE_RESP_END nothing more
 * is consumed until sse_resp_reset. */
long sse_resp_feed(struct sse_resp *r, const char *in, size_t n,
                   struct sse_resp_part *part);

/* The connection was closed after everything fed. Returns 1 if that ends
 * the response (a body read until close), 0 if the response had already
 * ended, -1 if it was cut short (r->error says where). */
int sse_resp_eof(struct sse_resp *r);

/* 1 if the response's Content-Type is "text/event-stream", whatever the
 * case and parameters. */
int sse_resp_is_event_stream(const struct sse_resp *r);

#endif /* SSE_RESP_H */
