/*
 * sse_cors: cross-origin access to streams (EventSource from another
 * origin, with or without credentials) and the answer to preflights.
 *
 * The allowed origins are a list separated by spaces or commas, exact
 * matches such as "https://app.example.com", or "*" for any origin without
 * credentials. An allowed origin is echoed back with
 * Access-Control-Allow-Credentials, so cookies and withCredentials work; a
 * request whose Origin is not on the list is refused. A request without an
 * Origin header is same-origin and needs nothing.
 */
#ifndef SSE_CORS_H
#define SSE_CORS_H

#include <stddef.h>

#define SSE_CORS_HEADERS_MAX 512   /* room for the headers written */

enum sse_cors_verdict {
    SSE_CORS_NONE,    /* CORS off, or no Origin: add nothing */
    SSE_CORS_ALLOW,   /* add the headers written to out */
    SSE_CORS_DENY,    /* the origin is not allowed: answer 403 */
};

/* Decide for a request from origin (the Origin header, or NULL) under the
 * configured list allowed (NULL or empty: CORS off). On SSE_CORS_ALLOW, out
 * (outlen >= SSE_CORS_HEADERS_MAX) holds the response headers, each ending
 * in CRLF; with preflight set they include the methods, request headers
 * and cache time a preflight answer needs. */
enum sse_cors_verdict sse_cors_check(const char *allowed, const char *origin,
                                     int preflight, char *out,
                                     size_t outlen);

#endif /* SSE_CORS_H */
