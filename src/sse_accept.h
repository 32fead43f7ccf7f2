/*
 * sse_accept: requests as the worker's event loop receives them.
 *
 * Under FastCGI a thread accepts connections with libfcgi, which reads the
 * request's parameters, then hands the connection over to the event loop:
 * from then on the loop alone writes to it, without libfcgi, so that no
 * write can block. Under CGI the one request comes from the environment.
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

/* Start a detached thread that accepts FastCGI requests on listen_fd
 * forever and writes each as a struct sse_request pointer to notify_fd
 * (the write end of a pipe); the reader owns them. FCGX_Init must have been
 * called. Returns 0, or -1 if the thread could not be started. */
int sse_accept_start(int listen_fd, int notify_fd);

#endif /* SSE_ACCEPT_H */
