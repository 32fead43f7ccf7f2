/*
 * sse_worker: the worker's event loop.
 *
 * One thread holds every stream of the process: it receives events from the
 * broker on a ZeroMQ SUB socket, routes them through the hub to the streams
 * of their key, writes with non-blocking I/O, sends heartbeats, ends streams
 * whose lifetime is over and notices clients that left.
 */
#ifndef SSE_WORKER_H
#define SSE_WORKER_H

#include <stddef.h>

struct sse_auth;

struct sse_worker_config {
    const char *pub_endpoint;  /* the broker's PUB side */
    int         heartbeat;     /* seconds between heartbeat comments */
    int         lifetime;      /* seconds a stream may last; 0: no limit */
    size_t      queue_max;     /* bytes queued per stream before dropping */
    size_t      max_streams;   /* open streams allowed; 0: no limit */
    long        retry;         /* retry field sent at open, or -1 */
    const char *cors_origins;  /* allowed origins (sse_cors.h), or NULL */
    const struct sse_auth *auth; /* token verifier, or NULL: no tokens */
    int         poll_timeout;  /* seconds a mode=poll request waits */
    int         status;        /* serve mode=status (off by default) */
    const char *curve_server;  /* broker's CURVE public key file, or NULL */
    const char *curve_key;     /* our CURVE key pair file, or NULL */
};

/* Serve FastCGI requests accepted on listen_fd until SIGTERM or SIGINT.
 * Returns the process exit status. */
int sse_worker_run_fcgi(const struct sse_worker_config *cfg, int listen_fd);

/* Serve the one CGI request of this process (stdin, stdout, environment)
 * until it ends. Returns the process exit status. */
int sse_worker_run_cgi(const struct sse_worker_config *cfg);

#endif /* SSE_WORKER_H */
