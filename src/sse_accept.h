/*
 * sse_accept: requests as the worker's event loop receives them.
 *
 * Under FastCGI the event loop accepts connections and reads each
 * request's parameters itself (sse_fcgi_in), without blocking, and writes
 * the response on the same non-blocking socket. Under CGI the one request
 * comes from the environment.
 */
#ifndef SSE_ACCEPT_H
#define SSE_ACCEPT_H

struct sse_request {
    int       fd;            /* FastCGI connection; -1 under CGI */
    unsigned  request_id;    /* FastCGI request id */
    char     *method;        /* REQUEST_METHOD; never NULL */
    char     *query;         /* QUERY_STRING, or NULL */
    char     *path_info;     /* PATH_INFO, or NULL */
    char     *last_event_id; /* HTTP_LAST_EVENT_ID, or NULL */
    char     *remote_addr;   /* REMOTE_ADDR, or NULL; for logs */
    char     *origin;        /* HTTP_ORIGIN, or NULL */
    char     *authorization; /* HTTP_AUTHORIZATION, or NULL */
    char     *cookie;        /* HTTP_COOKIE, or NULL */
};

/* Free r and the strings it owns (not its fd) and set *rp to NULL. */
void sse_request_free(struct sse_request **rp);

/* The CGI request, from the process environment. The caller owns it. */
struct sse_request *sse_request_from_env(void);

struct sse_fcgi_in;

/* The request of a FastCGI connection fd whose parameters in has read
 * whole (SSE_FCGI_IN_DONE). The caller owns it; it keeps fd. */
struct sse_request *sse_request_from_fcgi(const struct sse_fcgi_in *in,
                                          int fd);

/* May the FastCGI peer on fd connect? allowed is FCGI_WEB_SERVER_ADDRS
 * (comma-separated addresses, as libfcgi reads it) or NULL for anyone.
 * TCP peers must be listed; unix-socket peers always may. Returns 1 or 0. */
int sse_accept_peer_ok(int fd, const char *allowed);

#endif /* SSE_ACCEPT_H */
