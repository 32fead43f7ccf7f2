/*
 * sse_fcgi_in: a FastCGI request as it arrives (FastCGI 1.0 specification,
 * sections 3 to 5).
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sse_fcgi_in.h"
#include "sse_record.h"

#define HEADER     SSE_RECORD_HEADER
#define FEED_PIECE 4096

void
sse_fcgi_in_init(struct sse_fcgi_in *in, size_t max)
{
    assert(max > 0);     /* 0 would be no ceiling for sse_buf */
    /* A record header and its padding may pass max by a little: the cap is
     * on what a request can make us hold, not an exact byte count. */
    sse_buf_init(&in->raw, max + HEADER + SSE_RECORD_CONTENT_MAX + 255);
    sse_buf_init(&in->params, max);
    sse_buf_init(&in->reply, 0);
    in->request_id = 0;
    in->begun = 0;
    in->status = SSE_FCGI_IN_MORE;
    in->why = NULL;
}

void
sse_fcgi_in_free(struct sse_fcgi_in *in)
{
    sse_buf_free(&in->raw);
    sse_buf_free(&in->params);
    sse_buf_free(&in->reply);
}

/* One name-value pair at *pp (before end): lengths of 1 byte, or 4 with
 * the top bit set. Returns 0 and advances *pp, or -1 if it is cut short. */
static int
pair(const unsigned char **pp, const unsigned char *end, const char **name,
     size_t *nlen, const char **value, size_t *vlen)
{
    const unsigned char *p = *pp;
    size_t len[2];

    for (int i = 0; i < 2; i++) {
        if (p >= end)
            return -1;
        if (*p < 0x80) {
            len[i] = *p++;
        } else {
            if (end - p < 4)
                return -1;
            len[i] = ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) |
                ((size_t)p[2] << 8) | p[3];
            p += 4;
        }
    }
    if ((size_t)(end - p) < len[0] || (size_t)(end - p) - len[0] < len[1])
        return -1;
    *name = (const char *)p;
    *nlen = len[0];
    *value = (const char *)p + len[0];
    *vlen = len[1];
    *pp = p + len[0] + len[1];
    return 0;
}

typedef void pair_fn(const char *name, size_t nlen, const char *value,
                     size_t vlen, void *arg);

/* Call fn (unless NULL) for each name-value pair of p[0..n), in order.
 * Returns 0, or -1 if a pair is cut short (fn has seen those before it). */
static int
each_pair(const unsigned char *p, size_t n, pair_fn *fn, void *arg)
{
    const unsigned char *end;

    if (n == 0)
        return 0;
    end = p + n;
    while (p < end) {
        const char *name, *value;
        size_t nlen, vlen;

        if (pair(&p, end, &name, &nlen, &value, &vlen) != 0)
            return -1;
        if (fn != NULL)
            fn(name, nlen, value, vlen, arg);
    }
    return 0;
}

static const char mpxs[] = "FCGI_MPXS_CONNS";

static void
asks_mpxs(const char *name, size_t nlen, const char *value, size_t vlen,
          void *arg)
{
    (void)value;
    (void)vlen;
    if (nlen == sizeof(mpxs) - 1 && memcmp(name, mpxs, nlen) == 0)
        *(int *)arg = 1;
}

/* FCGI_GET_VALUES: answer the one variable whose value does not depend on
 * load, FCGI_MPXS_CONNS (0: one request per connection). */
static void
get_values(struct sse_fcgi_in *in, const unsigned char *p, size_t n)
{
    /* the pair FCGI_MPXS_CONNS=0: two 1-byte lengths, name, value */
    unsigned char result[2 + sizeof(mpxs) - 1 + 1] = { sizeof(mpxs) - 1, 1 };
    int asked = 0;

    (void)each_pair(p, n, asks_mpxs, &asked);
    memcpy(result + 2, mpxs, sizeof(mpxs) - 1);
    result[sizeof(result) - 1] = '0';
    /* reply has no ceiling */
    (void)sse_record_put(&in->reply, SSE_RECORD_GET_VALUES_RESULT, 0, result,
                         asked ? sizeof(result) : 0);
}

static void
unknown_type(struct sse_fcgi_in *in, unsigned type)
{
    unsigned char body[8] = { (unsigned char)type };

    (void)sse_record_put(&in->reply, SSE_RECORD_UNKNOWN_TYPE, 0, body,
                         sizeof(body));
}

static void
unknown_role(struct sse_fcgi_in *in, unsigned id)
{
    unsigned char body[8] = { 0, 0, 0, 0, SSE_RECORD_UNKNOWN_ROLE };

    (void)sse_record_put(&in->reply, SSE_RECORD_END_REQUEST, id, body,
                         sizeof(body));
}

/* One whole record. Returns the status it leaves. */
static int
record(struct sse_fcgi_in *in, unsigned type, unsigned id,
       const unsigned char *c, size_t n, const char **why)
{
    if (id == 0) {
        if (type == SSE_RECORD_GET_VALUES)
            get_values(in, c, n);
        else
            unknown_type(in, type);
        return SSE_FCGI_IN_MORE;
    }
    if (type == SSE_RECORD_BEGIN_REQUEST && !in->begun) {
        if (n < 8) {
            *why = "short FCGI_BEGIN_REQUEST";
            return SSE_FCGI_IN_BAD;
        }
        if (((unsigned)c[0] << 8 | c[1]) != SSE_RECORD_RESPONDER) {
            unknown_role(in, id);
            *why = "FastCGI role is not FCGI_RESPONDER";
            return SSE_FCGI_IN_BAD;
        }
        in->begun = 1;
        in->request_id = id;
        return SSE_FCGI_IN_MORE;
    }
    /* Another request on this connection, or records before the first:
     * not ours to serve (FCGI_MPXS_CONNS is 0). */
    if (!in->begun || id != in->request_id || type != SSE_RECORD_PARAMS)
        return SSE_FCGI_IN_MORE;
    if (n == 0) {
        /* Whole name-value pairs, or the request is malformed. */
        if (each_pair((const unsigned char *)sse_buf_head(&in->params),
                      sse_buf_len(&in->params), NULL, NULL) != 0) {
            *why = "malformed FastCGI parameters";
            return SSE_FCGI_IN_BAD;
        }
        return SSE_FCGI_IN_DONE;
    }
    if (sse_buf_append(&in->params, c, n) != 0) {
        *why = "FastCGI parameters too long";
        return SSE_FCGI_IN_BAD;
    }
    return SSE_FCGI_IN_MORE;
}

/* Take whole records from raw; returns the status they leave. */
static int
parse(struct sse_fcgi_in *in, const char **why)
{
    const unsigned char *h = (const unsigned char *)sse_buf_head(&in->raw);
    size_t left = sse_buf_len(&in->raw), used = 0;
    int st = SSE_FCGI_IN_MORE;

    while (left - used >= HEADER) {
        const unsigned char *r = h + used;
        size_t clen = (size_t)r[4] << 8 | r[5], total = HEADER + clen + r[6];

        if (r[0] != SSE_RECORD_VERSION_1) {
            *why = "not a FastCGI version 1 record";
            st = SSE_FCGI_IN_BAD;
            break;
        }
        if (left - used < total)
            break;
        st = record(in, r[1], (unsigned)r[2] << 8 | r[3], r + HEADER, clen,
                    why);
        used += total;
        if (st != SSE_FCGI_IN_MORE)
            break;
    }
    sse_buf_consume(&in->raw, used);
    return st;
}

int
sse_fcgi_in_feed(struct sse_fcgi_in *in, const void *p, size_t n,
                 const char **why)
{
    const char *src = p;

    /* A piece at a time, so that how the bytes are split into calls never
     * changes the outcome: raw only ever holds one partial record. */
    while (in->status == SSE_FCGI_IN_MORE && n > 0) {
        size_t m = n < FEED_PIECE ? n : FEED_PIECE;

        if (sse_buf_append(&in->raw, src, m) != 0) {
            in->why = "FastCGI parameters too long";
            in->status = SSE_FCGI_IN_BAD;
            break;
        }
        src += m;
        n -= m;
        in->status = parse(in, &in->why);
    }
    if (in->status != SSE_FCGI_IN_MORE)
        sse_buf_free(&in->raw);
    if (in->status == SSE_FCGI_IN_BAD)
        *why = in->why;
    return in->status;
}

void
sse_fcgi_in_params(const struct sse_fcgi_in *in, pair_fn *fn, void *arg)
{
    if (in->status == SSE_FCGI_IN_DONE)
        (void)each_pair((const unsigned char *)sse_buf_head(&in->params),
                        sse_buf_len(&in->params), fn, arg);
}
