/*
 * sse_fcgi_in: a FastCGI request as it arrives, read without blocking.
 *
 * The worker's event loop accepts FastCGI connections itself and feeds
 * whatever bytes a connection has to one of these until the request's
 * parameters are complete: FCGI_BEGIN_REQUEST, then FCGI_PARAMS records up
 * to the empty one. What follows (FCGI_STDIN, FCGI_ABORT_REQUEST) is the
 * stream's to read and discard. One request per connection, as libfcgi:
 * records of other request ids are skipped, and management records get the
 * answer the specification asks for (FCGI_GET_VALUES_RESULT with
 * FCGI_MPXS_CONNS 0, FCGI_UNKNOWN_TYPE), left in `reply` for the caller to
 * send. No I/O.
 */
#ifndef SSE_FCGI_IN_H
#define SSE_FCGI_IN_H

#include <stddef.h>

#include "sse_buf.h"

enum sse_fcgi_in_status {
    SSE_FCGI_IN_MORE,       /* the parameters are not complete yet */
    SSE_FCGI_IN_DONE,       /* request_id and the parameters are known */
    SSE_FCGI_IN_BAD         /* not FastCGI, or not a request we serve */
};

struct sse_fcgi_in {
    struct sse_buf raw;     /* bytes not yet taken as whole records */
    struct sse_buf params;  /* FCGI_PARAMS content so far */
    struct sse_buf reply;   /* records the caller should send */
    unsigned       request_id;
    int            begun;   /* FCGI_BEGIN_REQUEST seen */
    int            status;  /* enum sse_fcgi_in_status */
    const char    *why;     /* once BAD: why */
};

/* Set in up to read a request whose parameters are at most max bytes
 * (max > 0). Allocates nothing. */
void sse_fcgi_in_init(struct sse_fcgi_in *in, size_t max);

/* Free in's buffers. */
void sse_fcgi_in_free(struct sse_fcgi_in *in);

/* Take n more bytes from the connection. Returns SSE_FCGI_IN_MORE until
 * the empty FCGI_PARAMS record, then SSE_FCGI_IN_DONE (and ignores later
 * bytes), or SSE_FCGI_IN_BAD with *why set to a static reason: a record
 * that is not FastCGI version 1, a role other than FCGI_RESPONDER (reply
 * then holds FCGI_END_REQUEST with FCGI_UNKNOWN_ROLE), parameters past
 * max, or malformed name-value pairs. Once DONE or BAD it stays so (and
 * BAD sets *why again). However the bytes are split into calls, the
 * outcome is the same. */
int sse_fcgi_in_feed(struct sse_fcgi_in *in, const void *p, size_t n,
                     const char **why);

/* Call fn for every parameter of a DONE request, in order, with the name
 * and value (not NUL-terminated; valid until in is freed). */
void sse_fcgi_in_params(const struct sse_fcgi_in *in,
                        void (*fn)(const char *name, size_t nlen,
                                   const char *value, size_t vlen, void *arg),
                        void *arg);

#endif /* SSE_FCGI_IN_H */
