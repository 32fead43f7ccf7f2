/*
 * sse_record: encode the FastCGI 1.0 records of a streaming response.
 *
 * The worker writes every response on a non-blocking socket, so it needs
 * the record bytes in a buffer rather than behind libfcgi's blocking
 * streams: FCGI_STDOUT, split at the 16-bit content length, and
 * FCGI_END_REQUEST, plus any one record (sse_record_put) for the answers
 * sse_fcgi_in gives to management records. No padding is sent; the
 * protocol only recommends 8-byte alignment.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_record.h"

#define END_BODY 8   /* FCGI_EndRequestBody */

/* Write one record header for len content bytes; returns the next byte. */
static unsigned char *
header(unsigned char *p, unsigned type, unsigned request_id, size_t len)
{
    p[0] = SSE_RECORD_VERSION_1;
    p[1] = (unsigned char)type;
    p[2] = (unsigned char)(request_id >> 8);
    p[3] = (unsigned char)request_id;
    p[4] = (unsigned char)(len >> 8);
    p[5] = (unsigned char)len;
    p[6] = 0;   /* paddingLength */
    p[7] = 0;   /* reserved */
    return p + SSE_RECORD_HEADER;
}

size_t
sse_record_stdout_len(size_t n)
{
    size_t records = n / SSE_RECORD_CONTENT_MAX +
        (n % SSE_RECORD_CONTENT_MAX != 0);

    /* Saturate so that a reservation of this size fails instead of
     * wrapping to a small one. */
    if (records > (SIZE_MAX - n) / SSE_RECORD_HEADER)
        return SIZE_MAX;
    return n + records * SSE_RECORD_HEADER;
}

int
sse_record_stdout(struct sse_buf *out, unsigned request_id, const void *data,
                  size_t n)
{
    const unsigned char *src = data;
    size_t total = sse_record_stdout_len(n);
    unsigned char *p;

    /* Request ids are 16 bits on the wire; a larger one is a caller bug. */
    assert(request_id <= UINT16_MAX);
    if (n == 0)
        return 0;
    if (total == SIZE_MAX)
        return -1;
    if ((p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    while (n > 0) {
        size_t chunk = n < SSE_RECORD_CONTENT_MAX ? n :
            SSE_RECORD_CONTENT_MAX;

        p = header(p, SSE_RECORD_STDOUT, request_id, chunk);
        memcpy(p, src, chunk);
        p += chunk;
        src += chunk;
        n -= chunk;
    }
    sse_buf_commit(out, total);
    return 0;
}

int
sse_record_put(struct sse_buf *out, unsigned type, unsigned request_id,
               const void *content, size_t n)
{
    unsigned char *p;

    assert(request_id <= UINT16_MAX && n <= SSE_RECORD_CONTENT_MAX);
    if ((p = (unsigned char *)sse_buf_reserve(out, SSE_RECORD_HEADER + n)) ==
        NULL)
        return -1;
    p = header(p, type, request_id, n);
    if (n > 0)
        memcpy(p, content, n);
    sse_buf_commit(out, SSE_RECORD_HEADER + n);
    return 0;
}

size_t
sse_record_stdout_header(unsigned char *hdr, unsigned request_id, size_t len)
{
    assert(request_id <= UINT16_MAX);
    assert(len > 0 && len <= SSE_RECORD_CONTENT_MAX);
    header(hdr, SSE_RECORD_STDOUT, request_id, len);
    return SSE_RECORD_HEADER;
}

int
sse_record_end(struct sse_buf *out, unsigned request_id, unsigned app_status)
{
    const size_t total = 2 * SSE_RECORD_HEADER + END_BODY;
    uint32_t status = (uint32_t)app_status;
    unsigned char *p;

    assert(request_id <= UINT16_MAX);
    if ((p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    /* The empty FCGI_STDOUT record closes the stream before the end. */
    p = header(p, SSE_RECORD_STDOUT, request_id, 0);
    p = header(p, SSE_RECORD_END_REQUEST, request_id, END_BODY);
    p[0] = (unsigned char)(status >> 24);
    p[1] = (unsigned char)(status >> 16);
    p[2] = (unsigned char)(status >> 8);
    p[3] = (unsigned char)status;
    p[4] = SSE_RECORD_REQUEST_COMPLETE;
    p[5] = p[6] = p[7] = 0;     /* reserved */
    sse_buf_commit(out, total);
    return 0;
}
