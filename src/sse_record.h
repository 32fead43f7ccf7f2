/*
 * sse_record: FastCGI records for the streaming phase.
 *
 * The worker reads a request's parameters (sse_fcgi_in) and writes the
 * response itself on a non-blocking socket, so that one slow
 * client never stalls the others. A response is a series of FCGI_STDOUT
 * records (8-byte header, up to 65535 content bytes, no padding), an empty
 * FCGI_STDOUT record, and FCGI_END_REQUEST.
 */
#ifndef SSE_RECORD_H
#define SSE_RECORD_H

#include <stddef.h>

struct sse_buf;

#define SSE_RECORD_HEADER      8
#define SSE_RECORD_CONTENT_MAX 65535

/* FastCGI 1.0 values the worker reads (sse_fcgi_in) or writes. */
#define SSE_RECORD_VERSION_1         1
#define SSE_RECORD_BEGIN_REQUEST     1      /* record types */
#define SSE_RECORD_END_REQUEST       3
#define SSE_RECORD_PARAMS            4
#define SSE_RECORD_STDOUT            6
#define SSE_RECORD_GET_VALUES        9
#define SSE_RECORD_GET_VALUES_RESULT 10
#define SSE_RECORD_UNKNOWN_TYPE      11
#define SSE_RECORD_RESPONDER         1      /* role */
#define SSE_RECORD_REQUEST_COMPLETE  0      /* protocolStatus */
#define SSE_RECORD_UNKNOWN_ROLE      3

/* Number of bytes sse_record_stdout appends for n content bytes. */
size_t sse_record_stdout_len(size_t n);

/* Append FCGI_STDOUT records for request_id carrying data[0..n). n == 0
 * appends nothing, since an empty record would end the stream. Returns 0,
 * or -1 if out would pass its ceiling (out is left unchanged). */
int sse_record_stdout(struct sse_buf *out, unsigned request_id,
                      const void *data, size_t n);

/* Append one record of type for request_id carrying content[0..n) (n at
 * most SSE_RECORD_CONTENT_MAX; n == 0 is an empty record), without
 * padding. Returns 0, or -1 if out would pass its ceiling (out is left
 * unchanged). */
int sse_record_put(struct sse_buf *out, unsigned type, unsigned request_id,
                   const void *content, size_t n);

/* Write the header of one FCGI_STDOUT record for request_id and len
 * content bytes (1 to SSE_RECORD_CONTENT_MAX) to hdr, for a caller that
 * sends the content from elsewhere (writev). Returns SSE_RECORD_HEADER. */
size_t sse_record_stdout_header(unsigned char *hdr, unsigned request_id,
                                size_t len);

/* Append the end of a response: an empty FCGI_STDOUT record, then
 * FCGI_END_REQUEST with app_status and FCGI_REQUEST_COMPLETE. Returns 0 or -1
 * as sse_record_stdout. */
int sse_record_end(struct sse_buf *out, unsigned request_id,
                   unsigned app_status);

#endif /* SSE_RECORD_H */
