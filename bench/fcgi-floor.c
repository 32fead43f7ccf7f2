/*
 * fcgi-floor: the least a FastCGI event-stream backend can do, as a
 * reference for what lighttpd costs on its own (bench/run's "floor"
 * target). It is not the gateway: no broker, no replay, no limits, no
 * heartbeats, blocking writes. It reads each request on the FastCGI socket
 * lighttpd hands it (fd 0) and its keys with the worker's own modules
 * (sse_fcgi_in, sse_accept, sse_query, sse_hub), answers with an
 * event-stream head and ": ok", and writes "data: DATA" to the streams of
 * KEY for every "KEY DATA" datagram that reaches its socket
 * FLOOR_DIR/floor-PID.sock.
 *
 *     fcgi-floor                  as spawned by lighttpd (bin-path)
 *     fcgi-floor --publish DIR    read "KEY DATA" lines on stdin and send
 *                                 each to every backend's socket in DIR
 *     fcgi-floor --publish DIR KEY DATA     send one
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "sse_accept.h"
#include "sse_fcgi_in.h"
#include "sse_hub.h"
#include "sse_query.h"
#include "sse_record.h"
#include "sse_xmalloc.h"

#define PARAMS_MAX (256 * 1024) /* as the worker */
#define LINE_MAX_  65536
#define SOCKS_MAX  64

static const char head[] =
    "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n\r\n: ok\n\n";

/* A FastCGI connection: its request as it arrives, then its stream. */
struct conn {
    int             fd;
    unsigned        id;         /* FastCGI request id, once known */
    int             streaming;  /* answered; subscribed to its keys */
    struct sse_fcgi_in in;      /* freed once the request is whole */
    size_t          nsubs;
    struct sse_sub *subs;
};

static struct sse_hub *hub;
static volatile sig_atomic_t stop;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void
conn_close(struct conn *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        sse_hub_remove(hub, &c->subs[i]);
    if (!c->streaming)
        sse_fcgi_in_free(&c->in);
    close(c->fd);
    free(c->subs);
    free(c);
}

/* One FastCGI record: STDOUT of request id, content p[0..n) (1 to
 * SSE_RECORD_CONTENT_MAX bytes). */
static int
put_stdout(int fd, unsigned id, const char *p, size_t n)
{
    unsigned char h[SSE_RECORD_HEADER];
    struct iovec iov[2] = {
        { h, sse_record_stdout_header(h, id, n) }, { (void *)p, n }
    };

    return writev(fd, iov, 2) == (ssize_t)(iov[0].iov_len + n) ? 0 : -1;
}

/* The request is whole: answer and subscribe its keys. Returns -1 to
 * close the connection (a request without a valid key). */
static int
answer(struct conn *c)
{
    struct sse_request *r = sse_request_from_fcgi(&c->in, c->fd);
    struct sse_query q;
    const char *reason;
    int rc = -1;

    c->id = r->request_id;
    sse_fcgi_in_free(&c->in);
    if (sse_query_parse(&q, r->query, r->path_info, r->last_event_id,
                        &reason) == 0 && q.nkeys > 0 &&
        put_stdout(c->fd, c->id, head, sizeof(head) - 1) == 0) {
        c->subs = xcalloc(q.nkeys, sizeof(*c->subs));
        for (; c->nsubs < q.nkeys; c->nsubs++)
            sse_hub_add(hub, &c->subs[c->nsubs], q.keys[c->nsubs],
                        q.key_lens[c->nsubs], c);
        rc = 0;
    }
    c->streaming = 1;
    sse_query_free(&q);
    sse_request_free(&r);
    return rc;
}

/* Read what the connection sent; answer once the request is whole.
 * Returns -1 when the connection is done. */
static int
on_conn(struct conn *c)
{
    char buf[4096];
    const char *why;
    ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (r == 0 || (r < 0 && errno != EAGAIN))
        return -1;
    if (r < 0 || c->streaming)
        return 0;
    switch (sse_fcgi_in_feed(&c->in, buf, (size_t)r, &why)) {
    case SSE_FCGI_IN_DONE:
        return answer(c);
    case SSE_FCGI_IN_BAD:
        return -1;
    default:
        return 0;
    }
}

struct event {
    const char *bytes;
    size_t      len;
};

static void
write_event(struct sse_sub *sub, void *arg)
{
    struct conn *c = sub->owner;
    const struct event *ev = arg;

    (void)put_stdout(c->fd, c->id, ev->bytes, ev->len);
}

/* "KEY DATA": write the event to every stream of KEY. */
static void
on_event(const char *msg, size_t n)
{
    static char bytes[LINE_MAX_ + 16];
    const char *sp = memchr(msg, ' ', n);
    struct event ev = { bytes, 0 };

    if (sp == NULL)
        return;
    ev.len = (size_t)snprintf(bytes, sizeof(bytes), "data: %.*s\n\n",
                              (int)(n - (size_t)(sp + 1 - msg)), sp + 1);
    (void)sse_hub_foreach(hub, msg, (size_t)(sp - msg), write_event, &ev);
}

static int
serve(void)
{
    const char *dir = getenv("FLOOR_DIR");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct epoll_event ev = { .events = EPOLLIN }, evs[64];
    static char msg[LINE_MAX_];
    int ep, dg, rcvbuf = 4 << 20;
    static int tag_listen, tag_dgram;

    if (dir == NULL)
        dir = ".";
    hub = sse_hub_new(NULL, NULL, NULL);
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/floor-%ld.sock", dir,
                 (long)getpid()) >= (int)sizeof(sa.sun_path)) {
        fprintf(stderr, "fcgi-floor: FLOOR_DIR too long\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    if ((dg = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        die("socket");
    (void)setsockopt(dg, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    unlink(sa.sun_path);
    if (bind(dg, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die(sa.sun_path);
    if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) != 0)
        die("fcntl");
    ev.data.ptr = &tag_listen;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0)
        die("epoll_ctl");
    ev.data.ptr = &tag_dgram;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, dg, &ev) != 0)
        die("epoll_ctl");
    while (!stop) {
        int n = epoll_wait(ep, evs, 64, -1);

        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;

            if (tag == &tag_listen) {
                int fd;

                /* Blocking sockets: writes wait rather than buffer. */
                while ((fd = accept4(0, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                    struct conn *c = xcalloc(1, sizeof(*c));
                    struct epoll_event ce = { .events = EPOLLIN, .data.ptr = c };

                    c->fd = fd;
                    sse_fcgi_in_init(&c->in, PARAMS_MAX);
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce) != 0)
                        die("epoll_ctl");
                }
            } else if (tag == &tag_dgram) {
                ssize_t r;

                while ((r = recv(dg, msg, sizeof(msg), MSG_DONTWAIT)) >= 0)
                    on_event(msg, (size_t)r);
            } else if (on_conn(tag) != 0) {
                conn_close(tag);
            }
        }
    }
    unlink(sa.sun_path);
    return 0;
}

/* Send "key data", or without key every stdin line, to every backend
 * socket in dir. */
static int
publish(const char *dir, const char *key, const char *data)
{
    static char line[LINE_MAX_];
    struct sockaddr_un to[SOCKS_MAX];
    int nto = 0, fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (fd < 0 || d == NULL)
        die(dir);
    while ((e = readdir(d)) != NULL && nto < SOCKS_MAX)
        if (strncmp(e->d_name, "floor-", 6) == 0) {
            int w;

            to[nto] = (struct sockaddr_un){ .sun_family = AF_UNIX };
            w = snprintf(to[nto].sun_path, sizeof(to[nto].sun_path),
                         "%s/%s", dir, e->d_name);
            if (w < 0 || (size_t)w >= sizeof(to[nto].sun_path)) {
                fprintf(stderr, "fcgi-floor: path too long in %s\n", dir);
                return 1;
            }
            nto++;
        }
    closedir(d);
    if (nto == 0) {
        fprintf(stderr, "fcgi-floor: no backend socket in %s\n", dir);
        return 1;
    }
    if (key != NULL &&
        snprintf(line, sizeof(line), "%s %s", key, data) >= (int)sizeof(line)) {
        fprintf(stderr, "fcgi-floor: event too long\n");
        return 1;
    }
    while (key != NULL || fgets(line, sizeof(line), stdin) != NULL) {
        size_t n = strcspn(line, "\n");

        for (int i = 0; i < nto; i++)
            if (sendto(fd, line, n, 0, (struct sockaddr *)&to[i],
                       sizeof(to[i])) != (ssize_t)n)
                die(to[i].sun_path);
        if (key != NULL)
            break;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if ((argc == 3 || argc == 5) && strcmp(argv[1], "--publish") == 0)
        return publish(argv[2], argc == 5 ? argv[3] : NULL,
                       argc == 5 ? argv[4] : NULL);
    if (argc != 1) {
        fprintf(stderr, "usage: fcgi-floor [--publish DIR [KEY DATA]]\n");
        return 2;
    }
    return serve();
}
