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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
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

/* The parameters a request keeps, by name, and where each goes. */
static const struct param {
    const char *name;
    size_t      len;
    size_t      field;      /* offset of the char * in struct sse_request */
} params[] = {
#define P(name, field) { name, sizeof(name) - 1, \
                         offsetof(struct sse_request, field) }
    P("REQUEST_METHOD", method),
    P("QUERY_STRING", query),
    P("PATH_INFO", path_info),
    P("HTTP_LAST_EVENT_ID", last_event_id),
    P("REMOTE_ADDR", remote_addr),
    P("HTTP_ORIGIN", origin),
    P("HTTP_AUTHORIZATION", authorization),
    P("HTTP_COOKIE", cookie),
#undef P
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static char **
field(struct sse_request *r, size_t i)
{
    return (char **)(void *)((char *)r + params[i].field);
}

/* A request with what it needs from "NAME=value" strings: one pass over
 * them, rather than a scan of all of them per name (FCGX_GetParam, which
 * cost more than the rest of accepting a request). The first of a name
 * wins, as with FCGX_GetParam and getenv. */
static struct sse_request *
request_from(char *const *envp)
{
    struct sse_request *r = xcalloc(1, sizeof(*r));
    size_t found = 0;

    r->fd = -1;
    for (; envp != NULL && *envp != NULL && found < NPARAMS; envp++) {
        const char *eq = strchr(*envp, '=');
        size_t len;

        if (eq == NULL)
            continue;
        len = (size_t)(eq - *envp);
        for (size_t i = 0; i < NPARAMS; i++)
            if (params[i].len == len && *field(r, i) == NULL &&
                memcmp(*envp, params[i].name, len) == 0) {
                *field(r, i) = xstrdup(eq + 1);
                found++;
                break;
            }
    }
    if (r->method == NULL)
        r->method = xstrdup("GET");
    return r;
}

struct sse_request *
sse_request_from_env(void)
{
    struct sse_request *r = xcalloc(1, sizeof(*r));

    r->fd = -1;
    for (size_t i = 0; i < NPARAMS; i++)
        *field(r, i) = dup_or_null(getenv(params[i].name));
    if (r->method == NULL)
        r->method = xstrdup("GET");
    return r;
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
        r = request_from(fr.envp);
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
