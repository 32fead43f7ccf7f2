/*
 * fcgi-floor: the least a FastCGI event-stream backend can do, as a
 * reference for what lighttpd costs on its own (bench/run's "floor"
 * target). It is not the gateway: no broker, no replay, no limits, no
 * heartbeats, blocking writes. It answers every request on the FastCGI
 * socket lighttpd hands it (fd 0) with an event-stream head and ": ok", and
 * writes "data: DATA" to the streams of KEY for every "KEY DATA" datagram
 * that reaches its socket FLOOR_DIR/floor-PID.sock.
 *
 *     fcgi-floor                  as spawned by lighttpd (bin-path)
 *     fcgi-floor --publish DIR    read "KEY DATA" lines on stdin and send
 *                                 each to every backend's socket in DIR
 *     fcgi-floor --publish DIR KEY DATA     send one
 */
#define _GNU_SOURCE
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

#define KEY_MAX   128
#define REQ_MAX   16384     /* a request's records; lighttpd sends ~1 KiB */
#define LINE_MAX_ 65536
#define BUCKETS   4096
#define SOCKS_MAX 64

static const char head[] =
    "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n\r\n: ok\n\n";

struct conn {
    int            fd;
    int            streaming;   /* answered; in its key's list */
    unsigned       id;          /* FastCGI request id */
    size_t         len, cap;    /* request bytes so far, room */
    size_t         at;          /* index in its key's list */
    struct key    *key;
    unsigned char *req;         /* freed once the request is answered */
};

struct key {
    char           name[KEY_MAX];
    struct conn  **conns;
    size_t         n, cap;
    struct key    *next;
};

static struct key *keys[BUCKETS];
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

static unsigned
hash(const char *s, size_t n)
{
    unsigned h = 2166136261u;

    while (n-- > 0)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % BUCKETS;
}

static struct key *
key_get(const char *s, size_t n, int create)
{
    struct key **b = &keys[hash(s, n)], *k;

    for (k = *b; k != NULL; k = k->next)
        if (strlen(k->name) == n && memcmp(k->name, s, n) == 0)
            return k;
    if (!create)
        return NULL;
    if ((k = calloc(1, sizeof(*k))) == NULL)
        die("calloc");
    memcpy(k->name, s, n);
    k->next = *b;
    *b = k;
    return k;
}

static void
key_add(struct key *k, struct conn *c)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 8;
        if ((k->conns = realloc(k->conns, k->cap * sizeof(*k->conns))) ==
            NULL)
            die("realloc");
    }
    c->key = k;
    c->at = k->n;
    k->conns[k->n++] = c;
}

static void
conn_close(struct conn *c)
{
    if (c->streaming) {
        struct key *k = c->key;

        k->conns[c->at] = k->conns[--k->n];
        k->conns[c->at]->at = c->at;
    }
    close(c->fd);
    free(c->req);
    free(c);
}

/* One FastCGI record: STDOUT of request id, content p[0..n). */
static int
put_stdout(int fd, unsigned id, const char *p, size_t n)
{
    unsigned char h[8] = { 1, 6, id >> 8, id & 255, n >> 8, n & 255, 0, 0 };
    struct iovec iov[2] = { { h, 8 }, { (void *)p, n } };

    return writev(fd, iov, 2) == (ssize_t)(8 + n) ? 0 : -1;
}

static size_t
nv_len(const unsigned char **p, const unsigned char *end)
{
    size_t n;

    if (*p >= end)
        return (size_t)-1;
    if (**p < 128)
        return *(*p)++;
    if (end - *p < 4)
        return (size_t)-1;
    n = ((size_t)((*p)[0] & 127) << 24) | ((size_t)(*p)[1] << 16) |
        ((size_t)(*p)[2] << 8) | (*p)[3];
    *p += 4;
    return n;
}

/* The "key" of QUERY_STRING in params p[0..n), or NULL. */
static const char *
find_key(const unsigned char *p, size_t n, size_t *klen)
{
    const unsigned char *end = p + n;

    while (p < end) {
        size_t nl = nv_len(&p, end), vl = nv_len(&p, end);

        if (nl == (size_t)-1 || vl == (size_t)-1 ||
            (size_t)(end - p) < nl + vl)
            return NULL;
        if (nl == 12 && memcmp(p, "QUERY_STRING", 12) == 0) {
            const char *q = (const char *)p + nl, *qe = q + vl;

            for (const char *s = q; s + 4 <= qe; s++)
                if ((s == q || s[-1] == '&') && memcmp(s, "key=", 4) == 0) {
                    const char *e = memchr(s + 4, '&', (size_t)(qe - s - 4));

                    *klen = (size_t)((e ? e : qe) - (s + 4));
                    return *klen > 0 && *klen < KEY_MAX ? s + 4 : NULL;
                }
            return NULL;
        }
        p += nl + vl;
    }
    return NULL;
}

/* Read what the request's connection sent; answer once the request is
 * whole. Returns -1 when the connection is done. */
static int
on_conn(struct conn *c)
{
    unsigned char params[REQ_MAX];
    size_t plen = 0, off = 0;
    int end = 0;
    ssize_t r;

    if (c->streaming) {
        unsigned char junk[512];

        r = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
        return r == 0 || (r < 0 && errno != EAGAIN) ? -1 : 0;
    }
    if (c->len == c->cap) {
        if (c->cap == REQ_MAX)
            return -1;
        c->cap = c->cap ? 2 * c->cap : 2048;
        if ((c->req = realloc(c->req, c->cap)) == NULL)
            die("realloc");
    }
    r = recv(c->fd, c->req + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN))
        return -1;
    if (r < 0)
        return 0;
    c->len += (size_t)r;
    /* Walk the whole records; the request is whole at an empty STDIN. */
    while (c->len - off >= 8) {
        const unsigned char *h = c->req + off;
        size_t n = (size_t)h[4] << 8 | h[5], rec = 8 + n + h[6];

        if (c->len - off < rec)
            return 0;
        if (h[1] == 1)
            c->id = (unsigned)h[2] << 8 | h[3];
        else if (h[1] == 4) {
            memcpy(params + plen, h + 8, n);
            plen += n;
        } else if (h[1] == 5 && n == 0)
            end = 1;
        off += rec;
    }
    if (!end)
        return 0;
    {
        size_t klen;
        const char *k = find_key(params, plen, &klen);

        if (k == NULL)
            return -1;
        if (put_stdout(c->fd, c->id, head, sizeof(head) - 1) != 0)
            return -1;
        key_add(key_get(k, klen, 1), c);
        c->streaming = 1;
        free(c->req);
        c->req = NULL;
    }
    return 0;
}

/* "KEY DATA": write the event to every stream of KEY. */
static void
on_event(const char *msg, size_t n)
{
    static char ev[LINE_MAX_ + 16];
    const char *sp = memchr(msg, ' ', n);
    struct key *k;
    size_t len;

    if (sp == NULL || (k = key_get(msg, (size_t)(sp - msg), 0)) == NULL)
        return;
    len = (size_t)snprintf(ev, sizeof(ev), "data: %.*s\n\n",
                           (int)(n - (size_t)(sp + 1 - msg)), sp + 1);
    for (size_t i = 0; i < k->n; i++)
        (void)put_stdout(k->conns[i]->fd, k->conns[i]->id, ev, len);
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
                    struct conn *c = calloc(1, sizeof(*c));
                    struct epoll_event ce = { .events = EPOLLIN, .data.ptr = c };

                    if (c == NULL)
                        die("calloc");
                    c->fd = fd;
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
