/*
 * sse_accept: the FastCGI accept thread and the CGI request.
 *
 * libfcgi's reads and writes block. Accepting a request and reading its
 * parameters only waits on the web server, which sends them at once, so
 * that part runs here on its own thread with libfcgi. The connection is
 * then taken over: its fd is kept, libfcgi's request is freed without
 * closing it, and the event loop writes the response itself.
 */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sse_accept.h"
#include "sse_log.h"
#include "sse_xmalloc.h"

struct acceptor {
    int listen_fd;
    int notify_fd;
};

void
sse_request_free(struct sse_request **rp)
{
    struct sse_request *r = *rp;

    if (r == NULL)
        return;
    free(r->method);
    free(r->query);
    free(r->path_info);
    free(r->last_event_id);
    free(r->remote_addr);
    free(r->origin);
    free(r->authorization);
    free(r->cookie);
    free(r);
    *rp = NULL;
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static struct sse_request *
request_from(const char *(*get)(const char *, void *), void *arg)
{
    struct sse_request *r = xcalloc(1, sizeof(*r));
    const char *method = get("REQUEST_METHOD", arg);

    r->fd = -1;
    r->method = xstrdup(method != NULL ? method : "GET");
    r->query = dup_or_null(get("QUERY_STRING", arg));
    r->path_info = dup_or_null(get("PATH_INFO", arg));
    r->last_event_id = dup_or_null(get("HTTP_LAST_EVENT_ID", arg));
    r->remote_addr = dup_or_null(get("REMOTE_ADDR", arg));
    r->origin = dup_or_null(get("HTTP_ORIGIN", arg));
    r->authorization = dup_or_null(get("HTTP_AUTHORIZATION", arg));
    r->cookie = dup_or_null(get("HTTP_COOKIE", arg));
    return r;
}

static const char *
get_env(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static const char *
get_fcgi(const char *name, void *arg)
{
    return FCGX_GetParam(name, ((FCGX_Request *)arg)->envp);
}

struct sse_request *
sse_request_from_env(void)
{
    return request_from(get_env, NULL);
}

static void *
accept_loop(void *arg)
{
    struct acceptor *a = arg;
    unsigned failures = 0;

    for (;;) {
        FCGX_Request fr;
        struct sse_request *r;
        int rc;

        if (FCGX_InitRequest(&fr, a->listen_fd, 0) != 0)
            fatalx("FCGX_InitRequest failed");
        rc = FCGX_Accept_r(&fr);
        if (rc < 0) {
            /* Out of fds and the like pass; back off instead of spinning. */
            struct timespec ts = { 0, 100 * 1000 * 1000 };

            errno = -rc;
            if (failures++ % 100 == 0)
                log_warn("FastCGI accept failed");
            FCGX_Free(&fr, 1);
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        r = request_from(get_fcgi, &fr);
        r->request_id = (unsigned)fr.requestId;
        /* Take the connection over: libfcgi frees its request state but
         * leaves the fd open, and never touches it again. */
        r->fd = fr.ipcFd;
        FCGX_Free(&fr, 0);
        if (write(a->notify_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
            fatal("handing a request to the event loop");
    }
    return NULL;
}

int
sse_accept_start(int listen_fd, int notify_fd)
{
    struct acceptor *a = xmalloc(sizeof(*a));
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    a->listen_fd = listen_fd;
    a->notify_fd = notify_fd;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The thread needs little stack; keep the worker small. */
    pthread_attr_setstacksize(&attr, 256 * 1024);
    rc = pthread_create(&tid, &attr, accept_loop, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(a);
        errno = rc;
        return -1;
    }
    return 0;
}
