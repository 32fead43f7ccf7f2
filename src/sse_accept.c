/*
 * sse_accept: a request from FastCGI parameters or from the CGI
 * environment, and which FastCGI peers may connect.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sse_accept.h"
#include "sse_config.h"
#include "sse_fcgi_in.h"
#include "sse_log.h"
#include "sse_xmalloc.h"

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

/* Keep one parameter if it is one a request needs. */
static void
take_param(const char *name, size_t nlen, const char *value, size_t vlen,
           void *arg)
{
    struct sse_request *r = arg;

    for (size_t i = 0; i < NPARAMS; i++)
        if (params[i].len == nlen && *field(r, i) == NULL &&
            memcmp(name, params[i].name, nlen) == 0) {
            *field(r, i) = xstrndup(value, vlen);
            return;
        }
}

struct sse_request *
sse_request_from_fcgi(const struct sse_fcgi_in *in, int fd)
{
    struct sse_request *r = xcalloc(1, sizeof(*r));

    sse_fcgi_in_params(in, take_param, r);
    if (r->method == NULL)
        r->method = xstrdup("GET");
    r->request_id = in->request_id;
    r->fd = fd;
    return r;
}

int
sse_accept_peer_ok(int fd, const char *allowed)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[INET6_ADDRSTRLEN];
    const void *a;

    if (allowed == NULL)
        return 1;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (ss.ss_family == AF_INET6)
        a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    else
        return 1;   /* a unix socket: its file's permissions decide */
    if (inet_ntop(ss.ss_family, a, addr, sizeof(addr)) == NULL)
        return 0;
    return sse_config_listed(allowed, addr, strlen(addr));
}
