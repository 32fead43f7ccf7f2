/*
 * sse-bench: load an SSE server with many streams and measure delivery.
 *
 *   sse-bench [options] URL
 *
 * One process, one thread, one epoll loop over non-blocking sockets. It
 * opens -c streams on URL (subscribing key <prefix><i % K> in stream i),
 * waits until each is established or refused, says so on stdout
 * ("established N"), then publishes -e stamped events per key through a
 * command run per event, a command fed one line per event, or HTTP POSTs,
 * and checks on every stream that each event arrives exactly once, in
 * order, for the right key, recording its latency. The streams may then be
 * held open (--hold) while a driver measures the server. The result is a
 * summary, or one JSON line with --json.
 *
 * The publisher and the streams share the loop, so publishing never waits
 * for reading and the other way round; child processes are reaped through
 * a signalfd. Per stream the state is about 400 bytes: the response and
 * event stream parsers hold heap storage only while a line or an event is
 * incomplete, and the sequence check only while a gap is open.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sse_buf.h"
#include "sse_cli.h"
#include "sse_opt.h"
#include "sse_parse.h"
#include "sse_resp.h"
#include "sse_stamp.h"
#include "sse_xmalloc.h"

extern char **environ;

#define FD_SLACK      64            /* descriptors besides the streams */
#define URL_MAX       8192          /* longest URL or template */
#define LINE_MAX_BASE (1024 * 1024) /* event stream line ceiling, + --size */
#define SAMPLES_MAX   500000000ULL  /* latency samples (4 bytes each) */
#define RETRY_NS      10000000LL    /* wait before a connect() that hit
                                       EAGAIN is tried again: 10 ms */
#define READ_BUF      65536
#define READS_PER_WAKE 4            /* reads per stream per wakeup */
#define MAX_EVENTS    512           /* epoll events per wait */

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

enum {
    O_CONNECTIONS, O_KEYS, O_KEY_PREFIX, O_CONNECT_BATCH, O_EVENTS, O_RATE,
    O_SIZE, O_PUBLISH, O_PUB_CMD, O_PUB_URL, O_PUB_BODY, O_PUB_WINDOW,
    O_BROADCAST, O_BROADCAST_KEY, O_TIMEOUT, O_HOLD, O_JSON, O_HELP,
    O_VERSION, O_COUNT
};

static const struct sse_opt opts[O_COUNT] = {
    [O_CONNECTIONS] = { "connections", 'c', SSE_OPT_NUM, NULL, 1, 1000000,
        "N", "streams to open (default 100)" },
    [O_KEYS] = { "keys", 'k', SSE_OPT_NUM, NULL, 1, 1000000, "K",
        "stream i subscribes key PREFIX<i % K> (default 1)" },
    [O_KEY_PREFIX] = { "key-prefix", 0, SSE_OPT_STR, NULL, 0, 0, "P",
        "key name prefix (default \"k\")" },
    [O_CONNECT_BATCH] = { "connect-batch", 0, SSE_OPT_NUM, NULL, 0, 1000000,
        "N", "streams being opened at once (default 0: all)" },
    [O_EVENTS] = { "events", 'e', SSE_OPT_NUM, NULL, 0, 1000000000, "E",
        "events per key, or broadcasts (default 10 with --publish, else 0)" },
    [O_RATE] = { "rate", 'r', SSE_OPT_NUM, NULL, 0, 100000000, "R",
        "events per second in all (default 0: as fast as possible)" },
    [O_SIZE] = { "size", 's', SSE_OPT_NUM, NULL, 0, 16 * 1024 * 1024,
        "BYTES", "pad each event's data to BYTES (default: no padding)" },
    [O_PUBLISH] = { "publish", 'p', SSE_OPT_STR, NULL, 0, 0, "MODE",
        "none, exec, lines or http (default none)" },
    [O_PUB_CMD] = { "pub-cmd", 0, SSE_OPT_STR, NULL, 0, 0, "CMD",
        "exec: run per event ({key}, {data}); lines: feed its stdin" },
    [O_PUB_URL] = { "pub-url", 0, SSE_OPT_STR, NULL, 0, 0, "URL",
        "http: POST each event here ({key} replaced)" },
    [O_PUB_BODY] = { "pub-body", 0, SSE_OPT_STR, NULL, 0, 0, "FORM",
        "http: plain (default) or pushpin (its JSON publish format)" },
    [O_PUB_WINDOW] = { "pub-window", 'w', SSE_OPT_NUM, NULL, 1, 10000, "W",
        "exec: commands at once; http: requests pipelined (default 1)" },
    [O_BROADCAST] = { "broadcast", 'b', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "every stream expects every event (exec, http)" },
    [O_BROADCAST_KEY] = { "broadcast-key", 0, SSE_OPT_STR, NULL, 0, 0, "NAME",
        "with --broadcast: what {key} becomes (http: required)" },
    [O_TIMEOUT] = { "timeout", 't', SSE_OPT_NUM, NULL, 1, 86400, "S",
        "wait for events and responses up to S s (default 30)" },
    [O_HOLD] = { "hold", 0, SSE_OPT_NUM, NULL, -1, 31536000, "S",
        "then keep the streams open S s; -1: until a signal or stdin EOF" },
    [O_JSON] = { "json", 'j', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "print the result as one JSON object line" },
    [O_HELP] = SSE_CLI_HELP,
    [O_VERSION] = SSE_CLI_VERSION,
};

static const struct sse_cli cli = {
    .prog = "sse-bench",
    .synopsis = "usage: sse-bench [options] URL\n"
        "Open many SSE streams on URL (http://IPV4-OR-LOCALHOST[:PORT]/PATH,\n"
        "where {key} is replaced by each stream's key), publish stamped "
        "events,\nand measure their delivery: loss, order and latency.\n",
    .epilogue = "Each event's data is \"T_US SEQ KEY[ PADDING]\" (KEY is * "
        "for a broadcast),\nseq 1, 2, ... per key; events go round-robin over "
        "the keys. Each established\nstream expects every event of its key "
        "once and in order (with -w above 1,\nexec commands race, so order is "
        "not kept). Once every stream is established\nor refused, "
        "\"established N\" is printed on stdout; the result follows when "
        "the\nrun ends.\n"
        "Examples:\n"
        "  sse-bench -c 2000 -p exec --pub-cmd 'sse-push {key} {data}' \\\n"
        "      'http://127.0.0.1:8080/sse?key={key}'\n"
        "  sse-bench -c 100 -k 10 -p http -w 8 \\\n"
        "      --pub-url 'http://127.0.0.1:8081/pub?id={key}' \\\n"
        "      'http://127.0.0.1:8080/sub/{key}'\n"
        "Exit status: 0 every stream established and every event arrived "
        "once, in\norder; 1 something was refused, lost or failed; 64 usage "
        "error; 69 cannot\nstart (bad URL, no connection possible, publisher "
        "cannot run).\n",
    .opts = opts, .nopts = O_COUNT,
    .help = O_HELP, .version = O_VERSION, .log_level = -1,
};

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

enum mode { M_NONE, M_EXEC, M_LINES, M_HTTP };

enum cstate {
    C_WAITING,      /* not started, or waiting to retry connect() */
    C_CONNECTING,   /* connect() in progress */
    C_SENDING,      /* writing the request */
    C_HEAD,         /* waiting for the response head */
    C_OPEN,         /* established: reading events */
    C_CLOSED,       /* refused or ended */
};

struct conn {
    int                  fd;
    uint32_t             key;    /* index into bench.keys */
    uint32_t             sent;   /* request bytes written */
    uint8_t              state;  /* enum cstate */
    struct sse_resp      resp;
    struct sse_parse     parse;
    struct sse_stamp_seq seq;
};

struct url {
    struct sockaddr_in addr;
    char              *host;     /* Host header: host[:port] as given */
    char              *path;     /* path and query, a template */
};

/* Growable array of microseconds. */
struct samples {
    uint32_t *v;
    size_t    n, cap;
};

struct kid {
    pid_t   pid;                 /* 0: slot free */
    int64_t t0;                  /* spawned, monotonic ns */
};

enum phase { PH_CONNECT, PH_PUBLISH, PH_WAIT, PH_HOLD, PH_DONE };

enum tag { T_CONN = 1, T_SIGNAL, T_STDIN, T_PIPE, T_PUB };

static struct bench {
    /* settings */
    uint32_t       nconns, nkeys, batch, window;
    uint32_t       events;       /* per key, or broadcasts */
    uint64_t       rate;
    size_t         size;
    enum mode      mode;
    int            broadcast, pushpin, json;
    int64_t        timeout_ns;
    long           hold;
    struct url     url, pub_url;
    char         **keys;         /* key names */
    const char    *bkey;         /* what {key} becomes for a broadcast */
    char         **words;        /* --pub-cmd split on spaces */
    size_t         nwords;

    /* loop */
    int            ep, sigfd;
    enum phase     phase;
    int            stop;         /* a signal or stdin EOF asked to end */
    int64_t        now;          /* monotonic ns, updated each turn */
    int64_t        deadline;     /* end of the current phase, or 0 */
    char          *rbuf;
    struct sse_buf scratch;
    uint64_t       rx_wall_us;   /* wall clock of the read being parsed */
    int64_t        rx_mono;

    /* streams */
    struct conn   *conns;
    uint32_t       next_conn;    /* next stream to start */
    uint32_t       pending;      /* started but not established/refused */
    uint32_t      *retry;        /* streams whose connect() hit EAGAIN */
    uint32_t       nretry;
    int64_t        retry_at;
    int64_t        t_first_connect, t_last_start, t_last_established;
    int64_t        t_established; /* when the last settled */
    uint32_t       established, refused, closed_early, proto_errors;
    uint32_t       responses;    /* streams that got any response head */
    char           refused_first[160];
    char           proto_first[160];

    /* deliveries */
    uint64_t       expected, delivered, duplicates, out_of_order,
                   wrong_key, other, gaps;
    uint64_t       unreachable;  /* expected by streams that ended */
    int64_t        t_last_rx;
    struct samples lat;

    /* publisher */
    uint64_t       total;        /* events to publish */
    uint64_t       next;         /* next event to hand over */
    uint64_t       published, pub_errors;
    uint64_t       inflight;
    int            pub_stop;     /* give up publishing */
    int            pub_fatal;    /* the publisher could not start */
    char           pub_first[160];
    int64_t        t_pub_start, t_first_pub, t_last_pub, t_pub_done;
    struct samples pub_lat;
    char          *data;         /* event data being built */
    size_t         data_cap;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    struct kid    *kids;         /* exec: window slots */
    pid_t          lines_pid;    /* lines: the command, 0 once reaped */
    int            lines_status;
    int            pipe_fd;      /* lines: its stdin, -1 once closed */
    struct sse_buf pipe_out;     /* lines: rest of a line partly written */
    int            pipe_wait;    /* lines: pipe full, waiting for EPOLLOUT */
    int            pub_fd;       /* http: -1 when not connected */
    int            pub_connected;
    int            pub_answered; /* http: responses since connecting */
    struct sse_buf pub_outbuf;   /* http: requests not yet written */
    struct sse_resp pub_resp;
    int64_t       *sent_at;      /* http: ring of request send times */
    uint32_t       ring_head;
    int            stdin_watched;
} B;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("sse-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Keep the first reason of a kind in buf. */
static void __attribute__((format(printf, 2, 3)))
first_reason(char *buf, const char *fmt, ...)
{
    va_list ap;

    if (buf[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(buf, 160, fmt, ap);
    va_end(ap);
}

static void
samples_add(struct samples *s, uint64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0 < p <= 100) of sorted v[0..n). */
static uint32_t
pct(const struct samples *s, double p)
{
    size_t rank;

    if (s->n == 0)
        return 0;
    rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

static void
ep_ctl(int op, int fd, uint32_t events, enum tag tag, uint32_t idx)
{
    struct epoll_event ev = { .events = events,
                              .data.u64 = (uint64_t)tag << 32 | idx };

    if (epoll_ctl(B.ep, op, fd, &ev) != 0)
        die(EX_OSERR, "epoll_ctl: %s", strerror(errno));
}

/* Append tmpl to out with {key} and {data} replaced (NULL: left as is). */
static void
expand(struct sse_buf *out, const char *tmpl, const char *key,
       const char *data, size_t data_len)
{
    const char *p = tmpl;

    while (*p != '\0') {
        if (key != NULL && strncmp(p, "{key}", 5) == 0) {
            sse_buf_puts(out, key);
            p += 5;
        } else if (data != NULL && strncmp(p, "{data}", 6) == 0) {
            sse_buf_append(out, data, data_len);
            p += 6;
        } else {
            sse_buf_append(out, p++, 1);
        }
    }
}

/* Parse "http://HOST[:PORT][/PATH]" with HOST an IPv4 address or
 * localhost. Returns NULL or a static reason. */
static const char *
parse_url(const char *s, struct url *u)
{
    const char *h, *e, *colon, *path;
    char host[64];
    size_t hlen;
    long long port = 80;

    if (strlen(s) > URL_MAX)
        return "URL too long";
    if (strncmp(s, "http://", 7) != 0)
        return "only http:// URLs are supported";
    h = s + 7;
    e = h + strcspn(h, "/?#");
    if (*e == '#' || strchr(e, '#') != NULL)
        return "a URL fragment (#) makes no sense here";
    if (memchr(h, '@', (size_t)(e - h)) != NULL)
        return "user info in URLs is not supported";
    colon = memchr(h, ':', (size_t)(e - h));
    hlen = (size_t)((colon != NULL ? colon : e) - h);
    if (hlen == 0 || hlen >= sizeof(host))
        return "missing or bad host";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (colon != NULL) {
        char pbuf[8];
        size_t plen = (size_t)(e - colon - 1);

        if (plen == 0 || plen >= sizeof(pbuf))
            return "bad port";
        memcpy(pbuf, colon + 1, plen);
        pbuf[plen] = '\0';
        if (sse_opt_parse_num(pbuf, 1, 65535, &port) != 0)
            return "bad port";
    }
    memset(&u->addr, 0, sizeof(u->addr));
    u->addr.sin_family = AF_INET;
    u->addr.sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        u->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &u->addr.sin_addr) != 1)
        return "the host must be a numeric IPv4 address or localhost";
    for (path = e; *path != '\0'; path++)
        if ((unsigned char)*path <= ' ' || *path == 0x7f)
            return "spaces or control characters in the URL";
    u->host = xstrndup(h, (size_t)(e - h));
    if (*e == '/') {
        u->path = xstrdup(e);
    } else {
        u->path = xmalloc(strlen(e) + 2);
        u->path[0] = '/';
        strcpy(u->path + 1, e);
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Streams
 * ------------------------------------------------------------------------ */

static void on_event(void *arg, const struct sse_parse_event *ev);

static const char *
stream_key(const struct conn *c)
{
    return B.keys[c->key];
}

/* The stream is settled (established or refused): one fewer to wait for. */
static void
settled(void)
{
    B.pending--;
}

static void
close_fd(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);   /* also leaves the epoll set */
        c->fd = -1;
    }
    sse_resp_free(&c->resp);
    sse_parse_free(&c->parse);
    c->state = C_CLOSED;
}

/* A stream that never became established. */
static void __attribute__((format(printf, 2, 3)))
refuse(struct conn *c, const char *fmt, ...)
{
    va_list ap;

    if (B.refused_first[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(B.refused_first, sizeof(B.refused_first), fmt, ap);
        va_end(ap);
    }
    B.refused++;
    close_fd(c);
    settled();
}

/* An established stream ends: by the server (early) or by us. */
static void
end_stream(struct conn *c, int early)
{
    if (early)
        B.closed_early++;
    /* Events it has not got can no longer come. */
    B.unreachable += B.events - c->seq.distinct;
    sse_stamp_seq_free(&c->seq);
    close_fd(c);
}

static void
protocol_error(struct conn *c, const char *reason)
{
    B.proto_errors++;
    first_reason(B.proto_first, "%s", reason);
    end_stream(c, 1);
}

static void
established(struct conn *c)
{
    c->state = C_OPEN;
    B.established++;
    B.t_last_established = B.now;
    settled();
    sse_parse_init(&c->parse, LINE_MAX_BASE + B.size, on_event, NULL, c);
}

static void
start_conn(uint32_t i)
{
    struct conn *c = &B.conns[i];
    int fd, one = 1;

    if (B.t_first_connect == 0)
        B.t_first_connect = B.now;
    B.t_last_start = B.now;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->fd = -1;
        refuse(c, "socket: %s", strerror(errno));
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->sent = 0;
    sse_resp_init(&c->resp, 0);
    if (connect(fd, (struct sockaddr *)&B.url.addr, sizeof(B.url.addr)) != 0
        && errno != EINPROGRESS) {
        if (errno == EAGAIN || errno == EADDRNOTAVAIL) {
            /* Out of local ports or of the kernel's patience: try again in
             * a moment, within the timeout. */
            if (B.now - B.t_first_connect < B.timeout_ns) {
                close(fd);
                c->fd = -1;
                c->state = C_WAITING;
                B.retry[B.nretry++] = i;
                B.retry_at = B.now + RETRY_NS;
                return;
            }
        }
        refuse(c, "connect: %s", strerror(errno));
        return;
    }
    c->state = C_CONNECTING;
    ep_ctl(EPOLL_CTL_ADD, fd, EPOLLOUT, T_CONN, i);
}

/* Start streams while the batch allows. */
static void
start_more(void)
{
    /* Streams waiting to retry are already counted in the batch. A retry
     * that fails again moves retry_at past now, which ends this loop. */
    while (B.nretry > 0 && B.now >= B.retry_at)
        start_conn(B.retry[--B.nretry]);
    while ((B.batch == 0 || B.pending < B.batch) && B.next_conn < B.nconns) {
        B.pending++;
        start_conn(B.next_conn++);
    }
}

static void
send_request(struct conn *c)
{
    struct sse_buf *b = &B.scratch;
    ssize_t n;

    sse_buf_clear(b);
    sse_buf_puts(b, "GET ");
    expand(b, B.url.path, stream_key(c), NULL, 0);
    sse_buf_puts(b, " HTTP/1.1\r\nHost: ");
    sse_buf_puts(b, B.url.host);
    sse_buf_puts(b, "\r\nAccept: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\n\r\n");
    n = send(c->fd, sse_buf_head(b) + c->sent, sse_buf_len(b) - c->sent,
             MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        refuse(c, "send: %s", strerror(errno));
        return;
    }
    c->sent += (uint32_t)n;
    if (c->sent == sse_buf_len(b)) {
        c->state = C_HEAD;
        ep_ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN, T_CONN,
               (uint32_t)(c - B.conns));
    } else if (c->state != C_SENDING) {
        c->state = C_SENDING;
    }
}

/* Bytes of a stream's response. */
static void
conn_input(struct conn *c, const char *p, size_t n)
{
    struct sse_resp_part part;
    long k;

    for (;;) {
        k = sse_resp_feed(&c->resp, p, n, &part);
        if (k < 0) {
            if (c->state == C_OPEN)
                protocol_error(c, c->resp.error);
            else
                refuse(c, "bad response: %s", c->resp.error);
            return;
        }
        p += k;
        n -= (size_t)k;
        switch (part.kind) {
        case SSE_RESP_NONE:
            return;
        case SSE_RESP_HEAD:
            B.responses++;
            if (c->resp.status != 200) {
                refuse(c, "status %d", c->resp.status);
                return;
            }
            if (!sse_resp_is_event_stream(&c->resp)) {
                refuse(c, "Content-Type '%s'", c->resp.content_type);
                return;
            }
            established(c);
            break;
        case SSE_RESP_BODY:
            if (sse_parse_feed(&c->parse, part.data, part.len) != 0) {
                protocol_error(c, "event stream line too long");
                return;
            }
            break;
        case SSE_RESP_END:
            end_stream(c, 1);
            return;
        }
    }
}

static void
conn_readable(struct conn *c)
{
    int r;

    for (r = 0; r < READS_PER_WAKE && c->state >= C_HEAD &&
                c->state != C_CLOSED; r++) {
        ssize_t n = read(c->fd, B.rbuf, READ_BUF);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            if (c->state == C_OPEN)
                end_stream(c, 1);
            else
                refuse(c, "recv: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->state == C_OPEN) {
                end_stream(c, 1);
            } else if (sse_resp_eof(&c->resp) < 0) {
                refuse(c, "%s", c->resp.error);
            } else {
                refuse(c, "the response ended before it was established");
            }
            return;
        }
        B.rx_wall_us = wall_us();
        B.rx_mono = mono_ns();
        conn_input(c, B.rbuf, (size_t)n);
        if (n < READ_BUF)
            return;
    }
}

static void
conn_event(uint32_t i, uint32_t events)
{
    struct conn *c = &B.conns[i];
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->state == C_WAITING || c->state == C_CLOSED)
        return;
    if (c->state == C_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            refuse(c, "connect: %s", strerror(err));
            return;
        }
        c->state = C_SENDING;
    }
    if (c->state == C_SENDING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            send_request(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_readable(c);
}

/* A dispatched event on stream arg. */
static void
on_event(void *arg, const struct sse_parse_event *ev)
{
    struct conn *c = arg;
    struct sse_stamp st;
    const char *want;
    uint64_t lat;

    if (sse_stamp_decode(ev->data, ev->data_len, &st) != 0) {
        B.other++;
        return;
    }
    want = B.broadcast ? "*" : stream_key(c);
    if (st.key_len != strlen(want) || memcmp(st.key, want, st.key_len)) {
        B.wrong_key++;
        return;
    }
    switch (sse_stamp_seq_add(&c->seq, st.seq, B.events)) {
    case SSE_STAMP_INVALID:
        B.other++;
        return;
    case SSE_STAMP_DUPLICATE:
        B.duplicates++;
        return;
    case SSE_STAMP_LATE:
        B.out_of_order++;
        break;
    case SSE_STAMP_GAP:
        B.gaps++;
        break;
    case SSE_STAMP_IN_ORDER:
        break;
    }
    B.delivered++;
    B.t_last_rx = B.rx_mono;
    lat = B.rx_wall_us > st.t_us ? B.rx_wall_us - st.t_us : 0;
    samples_add(&B.lat, lat);
}

/* ------------------------------------------------------------------------
 * Publisher
 * ------------------------------------------------------------------------ */

static void __attribute__((format(printf, 2, 3)))
pub_error(uint64_t count, const char *fmt, ...)
{
    va_list ap;

    if (B.pub_first[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(B.pub_first, sizeof(B.pub_first), fmt, ap);
        va_end(ap);
    }
    B.pub_errors += count;
}

/* Give up: the events not handed over yet are errors. */
static void
pub_abandon(void)
{
    if (B.next < B.total)
        B.pub_errors += B.total - B.next;
    B.next = B.total;
    B.pub_stop = 1;
}

/* Key name and seq of event i. */
static const char *
event_key(uint64_t i, uint32_t *seq)
{
    if (B.broadcast) {
        *seq = (uint32_t)(i + 1);
        return "*";
    }
    *seq = (uint32_t)(i / B.nkeys + 1);
    return B.keys[i % B.nkeys];
}

/* What {key} becomes in a template for event i. */
static const char *
target_key(uint64_t i)
{
    uint32_t seq;

    return B.broadcast ? B.bkey : event_key(i, &seq);
}

/* Build event i's data in B.data with a fresh timestamp. */
static size_t
build_data(uint64_t i)
{
    uint32_t seq;
    const char *key = event_key(i, &seq);

    return sse_stamp_encode(B.data, B.data_cap, wall_us(), seq, key,
                            strlen(key), B.size);
}

static void
handed_over(void)
{
    int64_t t = mono_ns();

    if (B.t_first_pub == 0)
        B.t_first_pub = t;
    B.t_last_pub = t;
    B.published++;
    B.next++;
}

static void
spawn_setup(void)
{
    sigset_t none, dfl;

    posix_spawn_file_actions_init(&B.fa);
    posix_spawn_file_actions_addopen(&B.fa, STDOUT_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    posix_spawnattr_init(&B.attr);
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&B.attr, &none);
    posix_spawnattr_setsigdefault(&B.attr, &dfl);
    posix_spawnattr_setflags(&B.attr, POSIX_SPAWN_SETSIGMASK |
                             POSIX_SPAWN_SETSIGDEF);
}

/* exec: run the command for event i. */
static void
exec_one(uint64_t i)
{
    char **argv = xcalloc(B.nwords + 1, sizeof(*argv));
    const char *key = target_key(i);
    struct kid *k = NULL;
    size_t w, len;
    int64_t t0;
    pid_t pid;
    int rc;

    for (w = 0; w < B.window; w++)
        if (B.kids[w].pid == 0) {
            k = &B.kids[w];
            break;
        }
    len = build_data(i);
    for (w = 0; w < B.nwords; w++) {
        sse_buf_clear(&B.scratch);
        expand(&B.scratch, B.words[w], key, B.data, len);
        argv[w] = xstrndup(sse_buf_head(&B.scratch) ?
                           sse_buf_head(&B.scratch) : "",
                           sse_buf_len(&B.scratch));
    }
    t0 = mono_ns();
    rc = posix_spawnp(&pid, argv[0], &B.fa, &B.attr, argv, environ);
    if (rc != 0) {
        pub_error(1, "cannot run %s: %s", argv[0], strerror(rc));
        if (B.published == 0) {
            /* Nothing can work: do not try the same a million times. */
            B.pub_fatal = 1;
            pub_abandon();
        } else {
            B.next++;
        }
    } else {
        k->pid = pid;
        k->t0 = t0;
        B.inflight++;
        handed_over();
    }
    for (w = 0; w < B.nwords; w++)
        free(argv[w]);
    free(argv);
}

static void
reap(void)
{
    int st;
    pid_t pid;
    size_t w;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int64_t t = mono_ns();

        if (pid == B.lines_pid) {
            B.lines_pid = 0;
            B.lines_status = st;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                if (WIFEXITED(st))
                    pub_error(1, "pub-cmd exited with status %d",
                              WEXITSTATUS(st));
                else
                    pub_error(1, "pub-cmd killed by signal %d",
                              WTERMSIG(st));
                pub_abandon();
            }
            continue;
        }
        for (w = 0; w < B.window; w++) {
            if (B.kids[w].pid != pid)
                continue;
            B.kids[w].pid = 0;
            B.inflight--;
            samples_add(&B.pub_lat, (uint64_t)(t - B.kids[w].t0) / 1000);
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
                pub_error(1, "pub-cmd exited with status %d",
                          WEXITSTATUS(st));
            else if (!WIFEXITED(st))
                pub_error(1, "pub-cmd killed by signal %d", WTERMSIG(st));
            break;
        }
    }
}

/* lines: start the command with a pipe on its stdin. */
static void
lines_start(void)
{
    posix_spawn_file_actions_t fa;
    int p[2], rc;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        die(EX_OSERR, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    B.words[B.nwords] = NULL;
    rc = posix_spawnp(&pid, B.words[0], &fa, &B.attr, B.words, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (rc != 0) {
        close(p[1]);
        B.pipe_fd = -1;
        B.pub_fatal = 1;
        pub_error(0, "cannot run %s: %s", B.words[0], strerror(rc));
        pub_abandon();
        return;
    }
    B.lines_pid = pid;
    B.pipe_fd = p[1];
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    ep_ctl(EPOLL_CTL_ADD, p[1], 0, T_PIPE, 0);
}

static void
pipe_want(int on)
{
    if (B.pipe_wait == on)
        return;
    B.pipe_wait = on;
    ep_ctl(EPOLL_CTL_MOD, B.pipe_fd, on ? EPOLLOUT : 0, T_PIPE, 0);
}

/* Write what is left of a partly written line. Returns 1 when empty. */
static int
pipe_flush(void)
{
    while (sse_buf_len(&B.pipe_out) > 0) {
        ssize_t n = write(B.pipe_fd, sse_buf_head(&B.pipe_out),
                          sse_buf_len(&B.pipe_out));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                pipe_want(1);
                return 0;
            }
            pub_error(1, "writing to pub-cmd: %s", strerror(errno));
            sse_buf_clear(&B.pipe_out);
            pub_abandon();
            return 0;
        }
        sse_buf_consume(&B.pipe_out, (size_t)n);
    }
    return 1;
}

/* lines: write event i's line. Returns 1 if it went in (whole or in
 * part), 0 if the pipe is full. */
static int
lines_one(uint64_t i)
{
    struct sse_buf *b = &B.scratch;
    size_t len;
    ssize_t n;

    sse_buf_clear(b);
    sse_buf_puts(b, target_key(i));
    sse_buf_puts(b, " ");
    /* The timestamp is taken now, as the line goes into the pipe; a line
     * the full pipe refused is built again, with a new one, later. */
    len = build_data(i);
    sse_buf_append(b, B.data, len);
    sse_buf_puts(b, "\n");
    for (;;) {
        n = write(B.pipe_fd, sse_buf_head(b), sse_buf_len(b));
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0) {
        if (errno == EAGAIN) {
            pipe_want(1);
            return 0;
        }
        pub_error(1, "writing to pub-cmd: %s", strerror(errno));
        pub_abandon();
        return 0;
    }
    handed_over();
    if ((size_t)n < sse_buf_len(b)) {
        sse_buf_append(&B.pipe_out, sse_buf_head(b) + n,
                       sse_buf_len(b) - (size_t)n);
        pipe_flush();
    }
    return 1;
}

static void
lines_close(void)
{
    if (B.pipe_fd >= 0) {
        close(B.pipe_fd);
        B.pipe_fd = -1;
    }
}

static void
pipe_event(uint32_t events)
{
    if (B.pipe_fd < 0)
        return;
    if (events & (EPOLLERR | EPOLLHUP)) {
        /* The command stopped reading; what is not written is lost. */
        pub_error(B.next < B.total ? 1 : 0, "pub-cmd closed its input");
        sse_buf_clear(&B.pipe_out);
        pub_abandon();
        lines_close();
        return;
    }
    pipe_want(0);
}

/* http: (re)connect to the publishing URL. */
static void
pub_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        die(EX_OSERR, "socket: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&B.pub_url.addr,
                sizeof(B.pub_url.addr)) != 0 && errno != EINPROGRESS) {
        pub_error(0, "cannot connect to pub-url: %s", strerror(errno));
        close(fd);
        B.pub_fatal = B.published == 0;
        pub_abandon();
        return;
    }
    B.pub_fd = fd;
    B.pub_connected = 0;
    B.pub_answered = 0;
    sse_resp_reset(&B.pub_resp);
    ep_ctl(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, T_PUB, 0);
}

/* http: the connection is gone; requests still unanswered failed. */
static void
pub_drop(const char *why)
{
    int answered = B.pub_answered;

    if (B.pub_fd >= 0) {
        close(B.pub_fd);
        B.pub_fd = -1;
    }
    B.pub_connected = 0;
    sse_buf_clear(&B.pub_outbuf);
    if (B.inflight > 0)
        pub_error(B.inflight, "pub-url connection: %s", why);
    B.inflight = 0;
    if (B.next < B.total && !B.pub_stop) {
        /* A server may close a keep-alive connection; one that answers
         * nothing on a fresh connection will not do better on the next. */
        if (answered == 0) {
            pub_error(0, "pub-url connection: %s", why);
            pub_abandon();
            return;
        }
        pub_connect();
    }
}

static void
json_string(struct sse_buf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    size_t i;

    sse_buf_puts(b, "\"");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sse_buf_append(b, esc, 2);
        } else if (c == '\n') {
            sse_buf_puts(b, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hexd[c >> 4];
            esc[5] = hexd[c & 15];
            sse_buf_append(b, esc, 6);
        } else {
            sse_buf_append(b, s + i, 1);
        }
    }
    sse_buf_puts(b, "\"");
}

static void
pub_flush(void)
{
    while (sse_buf_len(&B.pub_outbuf) > 0) {
        ssize_t n = send(B.pub_fd, sse_buf_head(&B.pub_outbuf),
                         sse_buf_len(&B.pub_outbuf), MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            pub_drop(strerror(errno));
            return;
        }
        sse_buf_consume(&B.pub_outbuf, (size_t)n);
    }
    ep_ctl(EPOLL_CTL_MOD, B.pub_fd, EPOLLIN |
           (sse_buf_len(&B.pub_outbuf) > 0 ? EPOLLOUT : 0), T_PUB, 0);
}

/* http: POST event i. */
static void
http_one(uint64_t i)
{
    struct sse_buf *body = &B.scratch, *out = &B.pub_outbuf;
    const char *key = target_key(i);
    char head[64];
    size_t len;

    sse_buf_clear(body);
    if (B.pushpin) {
        struct sse_buf content;

        sse_buf_init(&content, 0);
        len = build_data(i);
        sse_buf_puts(&content, "event: message\ndata: ");
        sse_buf_append(&content, B.data, len);
        sse_buf_puts(&content, "\n\n");
        sse_buf_puts(body, "{\"items\":[{\"channel\":");
        json_string(body, key, strlen(key));
        sse_buf_puts(body, ",\"formats\":{\"http-stream\":{\"content\":");
        json_string(body, sse_buf_head(&content), sse_buf_len(&content));
        sse_buf_puts(body, "}}}]}");
        sse_buf_free(&content);
    } else {
        len = build_data(i);
        sse_buf_append(body, B.data, len);
    }
    sse_buf_puts(out, "POST ");
    expand(out, B.pub_url.path, key, NULL, 0);
    sse_buf_puts(out, " HTTP/1.1\r\nHost: ");
    sse_buf_puts(out, B.pub_url.host);
    sse_buf_puts(out, B.pushpin ? "\r\nContent-Type: application/json" :
                 "\r\nContent-Type: text/plain");
    snprintf(head, sizeof(head), "\r\nContent-Length: %zu\r\n\r\n",
             sse_buf_len(body));
    sse_buf_puts(out, head);
    sse_buf_append(out, sse_buf_head(body), sse_buf_len(body));
    B.sent_at[(B.ring_head + B.inflight) % B.window] = mono_ns();
    B.inflight++;
    handed_over();
    pub_flush();
}

static void
pub_readable(void)
{
    struct sse_resp_part part;
    const char *p = B.rbuf;
    ssize_t n;
    long k;

    n = read(B.pub_fd, B.rbuf, READ_BUF);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            pub_drop(strerror(errno));
        return;
    }
    if (n == 0) {
        pub_drop("closed by the server");
        return;
    }
    for (;;) {
        k = sse_resp_feed(&B.pub_resp, p, (size_t)n, &part);
        if (k < 0) {
            pub_drop(B.pub_resp.error);
            return;
        }
        p += k;
        n -= k;
        if (part.kind == SSE_RESP_NONE)
            return;
        if (part.kind != SSE_RESP_END)
            continue;
        if (B.inflight == 0) {
            pub_drop("an answer to no request");
            return;
        }
        samples_add(&B.pub_lat, (uint64_t)(mono_ns() -
                    B.sent_at[B.ring_head]) / 1000);
        B.ring_head = (B.ring_head + 1) % B.window;
        B.inflight--;
        B.pub_answered++;
        if (B.pub_resp.status < 200 || B.pub_resp.status > 299)
            pub_error(1, "pub-url answered %d", B.pub_resp.status);
        if (!B.pub_resp.keep_alive) {
            pub_drop("closed by the server");
            return;
        }
        sse_resp_reset(&B.pub_resp);
    }
}

static void
pub_event(uint32_t events)
{
    if (!B.pub_connected) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(B.pub_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            pub_error(0, "cannot connect to pub-url: %s", strerror(err));
            close(B.pub_fd);
            B.pub_fd = -1;
            B.pub_fatal = B.published == 0;
            pub_abandon();
            return;
        }
        B.pub_connected = 1;
        pub_flush();
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        pub_readable();
    if (B.pub_fd >= 0 && B.pub_connected && (events & EPOLLOUT))
        pub_flush();
}

/* When event i is due, in monotonic ns. */
static int64_t
due(uint64_t i)
{
    if (B.rate == 0)
        return 0;
    return B.t_pub_start + (int64_t)((double)i * 1e9 / (double)B.rate);
}

/* Hand over every event that is due and has room. */
static void
pump(void)
{
    while (B.next < B.total && !B.pub_stop) {
        if (B.rate != 0 && B.now < due(B.next))
            return;
        switch (B.mode) {
        case M_EXEC:
            if (B.inflight >= B.window)
                return;
            exec_one(B.next);
            break;
        case M_LINES:
            if (B.pipe_wait || !pipe_flush() || !lines_one(B.next))
                return;
            break;
        case M_HTTP:
            if (B.pub_fd < 0 || !B.pub_connected ||
                B.inflight >= B.window)
                return;
            http_one(B.next);
            break;
        case M_NONE:
            return;
        }
        B.now = mono_ns();
    }
}

/* Has the publisher finished (every call answered, the command gone)? */
static int
pub_done(void)
{
    switch (B.mode) {
    case M_EXEC:
        return B.next >= B.total && B.inflight == 0;
    case M_LINES:
        if (B.next >= B.total && (B.pub_stop || pipe_flush()))
            lines_close();
        return B.pipe_fd < 0 && B.lines_pid == 0;
    case M_HTTP:
        if (B.next >= B.total && B.inflight == 0) {
            if (B.pub_fd >= 0) {
                close(B.pub_fd);
                B.pub_fd = -1;
            }
            return 1;
        }
        return 0;
    default:
        return 1;
    }
}

static void
pub_start(void)
{
    B.t_pub_start = B.now;
    switch (B.mode) {
    case M_LINES:
        lines_start();
        break;
    case M_HTTP:
        pub_connect();
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------
 * The loop
 * ------------------------------------------------------------------------ */

static void
watch_stdin(void)
{
    struct epoll_event ev = { .events = EPOLLIN,
                              .data.u64 = (uint64_t)T_STDIN << 32 };

    /* A regular file or /dev/null cannot be watched: then only a signal
     * ends the hold. */
    if (epoll_ctl(B.ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0)
        B.stdin_watched = 1;
}

static void
stdin_readable(void)
{
    char buf[512];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        epoll_ctl(B.ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
        B.stdin_watched = 0;
        B.stop = 1;
    }
}

static void
signal_readable(void)
{
    struct signalfd_siginfo si;

    while (read(B.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap();
        else
            B.stop = 1;
    }
}

/* Streams still being opened when the time is up are refused. */
static void
connect_timeout(void)
{
    uint32_t i;

    for (i = 0; i < B.next_conn; i++) {
        struct conn *c = &B.conns[i];

        if (c->state >= C_CONNECTING && c->state <= C_HEAD)
            refuse(c, "no response within %lld s",
                   (long long)(B.timeout_ns / 1000000000));
    }
    while (B.nretry > 0) {
        struct conn *c = &B.conns[B.retry[--B.nretry]];

        refuse(c, "connect: no local address within %lld s",
               (long long)(B.timeout_ns / 1000000000));
    }
    while (B.next_conn < B.nconns) {
        struct conn *c = &B.conns[B.next_conn++];

        B.pending++;
        refuse(c, "not started within %lld s",
               (long long)(B.timeout_ns / 1000000000));
    }
}

static void
enter_hold(void)
{
    B.phase = PH_HOLD;
    if (B.hold < 0)
        watch_stdin();
    else
        B.deadline = B.now + (int64_t)B.hold * 1000000000;
}

/* Move from phase to phase as their ends are reached. */
static void
advance(void)
{
    for (;;) {
        switch (B.phase) {
        case PH_CONNECT:
            if (B.stop) {
                connect_timeout();
            } else {
                start_more();
                if (B.pending > 0 || B.nretry > 0 ||
                    B.next_conn < B.nconns) {
                    if (B.now - B.t_last_start < B.timeout_ns)
                        return;
                    connect_timeout();
                }
            }
            B.t_established = B.now;
            B.expected = (uint64_t)B.established * B.events;
            printf("established %u\n", B.established);
            fflush(stdout);
            B.phase = PH_PUBLISH;
            pub_start();
            continue;
        case PH_PUBLISH:
            if (B.stop)
                pub_abandon();
            else
                pump();
            if (!pub_done())
                return;
            B.t_pub_done = B.now;
            B.phase = PH_WAIT;
            /* Nothing handed over: nothing can arrive. */
            B.deadline = B.mode != M_NONE && B.published == 0 ? B.now :
                B.now + B.timeout_ns;
            continue;
        case PH_WAIT:
            if (B.delivered + B.unreachable < B.expected && !B.stop &&
                B.now < B.deadline)
                return;
            enter_hold();
            continue;
        case PH_HOLD:
            if (!B.stop && (B.hold < 0 || B.now < B.deadline))
                return;
            B.phase = PH_DONE;
            continue;
        case PH_DONE:
            return;
        }
    }
}

/* Milliseconds epoll may sleep. */
static int
wait_ms(void)
{
    int64_t until = -1, ms;

    switch (B.phase) {
    case PH_CONNECT:
        if (B.nretry > 0)
            until = B.retry_at;
        if (until < 0 || B.t_last_start + B.timeout_ns < until)
            until = B.t_last_start + B.timeout_ns;
        break;
    case PH_PUBLISH:
        if (B.rate != 0 && B.next < B.total && !B.pub_stop)
            until = due(B.next);
        break;
    case PH_WAIT:
    case PH_HOLD:
        if (B.phase == PH_WAIT || B.hold >= 0)
            until = B.deadline;
        break;
    case PH_DONE:
        return 0;
    }
    if (until < 0)
        return -1;
    ms = (until - B.now + 999999) / 1000000;
    return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void
loop(void)
{
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n, i;

        B.now = mono_ns();
        advance();
        if (B.phase == PH_DONE)
            return;
        n = epoll_wait(B.ep, evs, MAX_EVENTS, wait_ms());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die(EX_OSERR, "epoll_wait: %s", strerror(errno));
        }
        B.now = mono_ns();
        for (i = 0; i < n; i++) {
            uint32_t idx = (uint32_t)evs[i].data.u64;

            switch ((enum tag)(evs[i].data.u64 >> 32)) {
            case T_CONN:
                conn_event(idx, evs[i].events);
                break;
            case T_SIGNAL:
                signal_readable();
                break;
            case T_STDIN:
                stdin_readable();
                break;
            case T_PIPE:
                pipe_event(evs[i].events);
                break;
            case T_PUB:
                if (B.pub_fd >= 0)
                    pub_event(evs[i].events);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Result
 * ------------------------------------------------------------------------ */

static double
ms_between(int64_t a, int64_t b)
{
    return a != 0 && b > a ? (double)(b - a) / 1e6 : 0.0;
}

static void
json_field_str(const char *name, const char *s)
{
    struct sse_buf b;

    if (s[0] == '\0') {
        printf(",\"%s\":null", name);
        return;
    }
    sse_buf_init(&b, 0);
    json_string(&b, s, strlen(s));
    printf(",\"%s\":%.*s", name, (int)sse_buf_len(&b), sse_buf_head(&b));
    sse_buf_free(&b);
}

static const char *
mode_name(void)
{
    static const char *const names[] = { "none", "exec", "lines", "http" };

    return names[B.mode];
}

static int
report(void)
{
    uint64_t lost = B.expected > B.delivered ? B.expected - B.delivered : 0;
    double connect_ms = ms_between(B.t_first_connect, B.t_last_established);
    double publish_ms = ms_between(B.t_first_pub, B.t_last_pub);
    int64_t from = B.t_first_pub ? B.t_first_pub : B.t_established;
    double rx_s = B.t_last_rx > from ? (double)(B.t_last_rx - from) / 1e9 : 0;
    double per_s = rx_s > 0 ? (double)B.delivered / rx_s : 0;
    int has_pub_lat = B.mode == M_EXEC || B.mode == M_HTTP;
    int ok;

    if (B.lat.n > 0)
        qsort(B.lat.v, B.lat.n, sizeof(*B.lat.v), cmp_u32);
    if (B.pub_lat.n > 0)
        qsort(B.pub_lat.v, B.pub_lat.n, sizeof(*B.pub_lat.v), cmp_u32);
    ok = B.established == B.nconns && lost == 0 && B.duplicates == 0 &&
         B.out_of_order == 0 && B.wrong_key == 0 && B.pub_errors == 0 &&
         B.closed_early == 0 && B.proto_errors == 0;
    if (B.json) {
        printf("{\"connections\":%u,\"established\":%u,\"refused\":%u",
               B.nconns, B.established, B.refused);
        json_field_str("refused_first", B.refused_first);
        printf(",\"connect_ms\":%.3f,\"keys\":%u,\"publish\":\"%s\","
               "\"broadcast\":%s,\"events_published\":%llu,"
               "\"publish_errors\":%llu",
               connect_ms, B.nkeys, mode_name(),
               B.broadcast ? "true" : "false",
               (unsigned long long)B.published,
               (unsigned long long)B.pub_errors);
        json_field_str("publish_error_first", B.pub_first);
        printf(",\"publish_ms\":%.3f", publish_ms);
        if (has_pub_lat)
            printf(",\"publish_p50_us\":%u,\"publish_p99_us\":%u,"
                   "\"publish_max_us\":%u", pct(&B.pub_lat, 50),
                   pct(&B.pub_lat, 99), pct(&B.pub_lat, 100));
        else
            printf(",\"publish_p50_us\":null,\"publish_p99_us\":null,"
                   "\"publish_max_us\":null");
        printf(",\"expected\":%llu,\"delivered\":%llu,\"lost\":%llu,"
               "\"duplicates\":%llu,\"out_of_order\":%llu,\"gaps\":%llu,"
               "\"wrong_key\":%llu,\"other\":%llu,"
               "\"latency_p50_us\":%u,\"latency_p90_us\":%u,"
               "\"latency_p99_us\":%u,\"latency_max_us\":%u,"
               "\"delivered_per_s\":%.1f,\"closed_early\":%u,"
               "\"protocol_errors\":%u",
               (unsigned long long)B.expected,
               (unsigned long long)B.delivered, (unsigned long long)lost,
               (unsigned long long)B.duplicates,
               (unsigned long long)B.out_of_order,
               (unsigned long long)B.gaps, (unsigned long long)B.wrong_key,
               (unsigned long long)B.other, pct(&B.lat, 50),
               pct(&B.lat, 90), pct(&B.lat, 99), pct(&B.lat, 100), per_s,
               B.closed_early, B.proto_errors);
        json_field_str("protocol_error_first", B.proto_first);
        printf(",\"ok\":%s}\n", ok ? "true" : "false");
    } else {
        printf("streams    %u opened, %u established, %u refused%s%s%s\n",
               B.nconns, B.established, B.refused,
               B.refused_first[0] ? " (first: " : "", B.refused_first,
               B.refused_first[0] ? ")" : "");
        printf("connect    %.1f ms from the first connect() to the last "
               "established\n", connect_ms);
        printf("publish    %s%s: %llu events in %.1f ms, %llu errors%s%s%s\n",
               mode_name(), B.broadcast ? " (broadcast)" : "",
               (unsigned long long)B.published, publish_ms,
               (unsigned long long)B.pub_errors,
               B.pub_first[0] ? " (first: " : "", B.pub_first,
               B.pub_first[0] ? ")" : "");
        if (has_pub_lat)
            printf("           %s p50 %u us, p99 %u us, max %u us\n",
                   B.mode == M_EXEC ? "call" : "round trip",
                   pct(&B.pub_lat, 50), pct(&B.pub_lat, 99),
                   pct(&B.pub_lat, 100));
        printf("delivered  %llu of %llu expected: %llu lost, %llu "
               "duplicates, %llu out of order, %llu wrong key, %llu other\n",
               (unsigned long long)B.delivered,
               (unsigned long long)B.expected, (unsigned long long)lost,
               (unsigned long long)B.duplicates,
               (unsigned long long)B.out_of_order,
               (unsigned long long)B.wrong_key,
               (unsigned long long)B.other);
        printf("latency    p50 %u us, p90 %u us, p99 %u us, max %u us\n",
               pct(&B.lat, 50), pct(&B.lat, 90), pct(&B.lat, 99),
               pct(&B.lat, 100));
        printf("rate       %.1f deliveries/s\n", per_s);
        printf("ended      %u streams closed by the server, %u protocol "
               "errors%s%s%s\n", B.closed_early, B.proto_errors,
               B.proto_first[0] ? " (first: " : "", B.proto_first,
               B.proto_first[0] ? ")" : "");
        printf("result     %s\n", ok ? "ok" : "FAILED");
    }
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------ */

static void
split_words(const char *cmd)
{
    char *copy = xstrdup(cmd), *save = NULL, *w;

    B.words = xcalloc(strlen(cmd) / 2 + 2, sizeof(*B.words));
    for (w = strtok_r(copy, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save))
        B.words[B.nwords++] = xstrdup(w);
    free(copy);
    if (B.nwords == 0)
        die(EX_USAGE, "--pub-cmd is empty");
}

static void
settings(int argc, char **argv)
{
    struct sse_opt_val v[O_COUNT];
    const char *prefix, *mode, *why;
    uint64_t deliveries;
    int first;
    uint32_t k;

    first = sse_cli_parse(&cli, argc, argv, v);
    if (argc - first != 1)
        die(EX_USAGE, "%s", argc == first ?
            "no URL given (see sse-bench --help)" : "one URL only (quote it)");
    B.nconns = v[O_CONNECTIONS].set ? (uint32_t)v[O_CONNECTIONS].num : 100;
    B.nkeys = v[O_KEYS].set ? (uint32_t)v[O_KEYS].num : 1;
    B.batch = (uint32_t)v[O_CONNECT_BATCH].num;
    B.window = v[O_PUB_WINDOW].set ? (uint32_t)v[O_PUB_WINDOW].num : 1;
    B.rate = (uint64_t)v[O_RATE].num;
    B.size = (size_t)v[O_SIZE].num;
    B.broadcast = v[O_BROADCAST].set;
    B.json = v[O_JSON].set;
    B.timeout_ns = (v[O_TIMEOUT].set ? v[O_TIMEOUT].num : 30) * 1000000000LL;
    B.hold = v[O_HOLD].set ? (long)v[O_HOLD].num : 0;
    mode = v[O_PUBLISH].set ? v[O_PUBLISH].str : "none";
    if (strcmp(mode, "none") == 0)
        B.mode = M_NONE;
    else if (strcmp(mode, "exec") == 0)
        B.mode = M_EXEC;
    else if (strcmp(mode, "lines") == 0)
        B.mode = M_LINES;
    else if (strcmp(mode, "http") == 0)
        B.mode = M_HTTP;
    else
        die(EX_USAGE, "unknown --publish mode '%s': use none, exec, lines "
            "or http", mode);
    B.events = v[O_EVENTS].set ? (uint32_t)v[O_EVENTS].num :
        B.mode != M_NONE ? 10 : 0;
    if (v[O_PUB_CMD].set && B.mode != M_EXEC && B.mode != M_LINES)
        die(EX_USAGE, "--pub-cmd needs --publish exec or lines");
    if (!v[O_PUB_CMD].set && (B.mode == M_EXEC || B.mode == M_LINES))
        die(EX_USAGE, "--publish %s needs --pub-cmd", mode);
    if (v[O_PUB_URL].set && B.mode != M_HTTP)
        die(EX_USAGE, "--pub-url needs --publish http");
    if (!v[O_PUB_URL].set && B.mode == M_HTTP)
        die(EX_USAGE, "--publish http needs --pub-url");
    if (v[O_PUB_BODY].set) {
        if (B.mode != M_HTTP)
            die(EX_USAGE, "--pub-body needs --publish http");
        if (strcmp(v[O_PUB_BODY].str, "pushpin") == 0)
            B.pushpin = 1;
        else if (strcmp(v[O_PUB_BODY].str, "plain") != 0)
            die(EX_USAGE, "unknown --pub-body '%s': use plain or pushpin",
                v[O_PUB_BODY].str);
    }
    if (B.broadcast && B.mode == M_LINES)
        die(EX_USAGE, "--broadcast cannot be used with --publish lines");
    if (B.broadcast && B.mode == M_HTTP && !v[O_BROADCAST_KEY].set)
        die(EX_USAGE, "--broadcast with --publish http needs "
            "--broadcast-key");
    if (v[O_BROADCAST_KEY].set && !B.broadcast)
        die(EX_USAGE, "--broadcast-key needs --broadcast");
    B.bkey = v[O_BROADCAST_KEY].set ? v[O_BROADCAST_KEY].str : "*";
    prefix = v[O_KEY_PREFIX].set ? v[O_KEY_PREFIX].str : "k";
    if (strlen(prefix) > SSE_STAMP_KEY_MAX - 10 || strchr(prefix, ' '))
        die(EX_USAGE, "--key-prefix must be at most %d bytes with no space",
            SSE_STAMP_KEY_MAX - 10);
    B.total = B.mode == M_NONE ? 0 : B.broadcast ? B.events :
        (uint64_t)B.events * B.nkeys;
    deliveries = (uint64_t)B.nconns * B.events;
    if (deliveries > SAMPLES_MAX)
        die(EX_USAGE, "%llu deliveries are more latency samples than "
            "%llu: use fewer streams or events",
            (unsigned long long)deliveries, SAMPLES_MAX);
    if (B.total > SAMPLES_MAX)
        die(EX_USAGE, "too many events to publish (%llu)",
            (unsigned long long)B.total);

    /* A URL that cannot be used means nothing can start. */
    if ((why = parse_url(argv[first], &B.url)) != NULL)
        die(EX_UNAVAILABLE, "URL '%s': %s", argv[first], why);
    if (B.mode == M_HTTP &&
        (why = parse_url(v[O_PUB_URL].str, &B.pub_url)) != NULL)
        die(EX_UNAVAILABLE, "--pub-url '%s': %s", v[O_PUB_URL].str, why);
    if (v[O_PUB_CMD].set)
        split_words(v[O_PUB_CMD].str);

    B.keys = xcalloc(B.nkeys, sizeof(*B.keys));
    for (k = 0; k < B.nkeys; k++) {
        char buf[SSE_STAMP_KEY_MAX + 1];

        snprintf(buf, sizeof(buf), "%s%u", prefix, k);
        B.keys[k] = xstrdup(buf);
    }
}

/* Raise the descriptor limit as far as allowed; refuse if too low. */
static void
fd_limit(void)
{
    struct rlimit rl;
    uint64_t need = (uint64_t)B.nconns + FD_SLACK;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die(EX_OSERR, "getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
        die(EX_USAGE, "%u streams need %llu file descriptors, but the limit "
            "is %llu (raise it: ulimit -n)", B.nconns,
            (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

static void
setup(void)
{
    sigset_t set;
    uint32_t i;

    fd_limit();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (B.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        die(EX_OSERR, "signalfd: %s", strerror(errno));
    if ((B.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die(EX_OSERR, "epoll_create1: %s", strerror(errno));
    ep_ctl(EPOLL_CTL_ADD, B.sigfd, EPOLLIN, T_SIGNAL, 0);
    spawn_setup();

    B.rbuf = xmalloc(READ_BUF);
    sse_buf_init(&B.scratch, 0);
    sse_buf_init(&B.pipe_out, 0);
    sse_buf_init(&B.pub_outbuf, 0);
    sse_resp_init(&B.pub_resp, 0);
    B.data_cap = B.size + SSE_STAMP_MIN_LEN + SSE_STAMP_KEY_MAX;
    B.data = xmalloc(B.data_cap);
    B.kids = xcalloc(B.window, sizeof(*B.kids));
    B.sent_at = xcalloc(B.window, sizeof(*B.sent_at));
    B.pipe_fd = -1;
    B.pub_fd = -1;
    B.conns = xcalloc(B.nconns, sizeof(*B.conns));
    B.retry = xcalloc(B.nconns, sizeof(*B.retry));
    for (i = 0; i < B.nconns; i++) {
        B.conns[i].fd = -1;
        B.conns[i].key = i % B.nkeys;
    }
    B.phase = PH_CONNECT;
}

/* Close every stream and free what is left. */
static void
teardown(void)
{
    uint32_t i;
    size_t w;

    for (i = 0; i < B.nconns; i++) {
        struct conn *c = &B.conns[i];

        if (c->state == C_OPEN)
            end_stream(c, 0);
        else if (c->fd >= 0)
            close_fd(c);
        sse_stamp_seq_free(&c->seq);
    }
    lines_close();
    if (B.pub_fd >= 0)
        close(B.pub_fd);
    /* Children still running (a signal cut the run short) are not ours to
     * wait for forever: they end on their own. */
    free(B.conns);
    free(B.retry);
    free(B.kids);
    free(B.sent_at);
    free(B.data);
    free(B.rbuf);
    free(B.lat.v);
    free(B.pub_lat.v);
    sse_buf_free(&B.scratch);
    sse_buf_free(&B.pipe_out);
    sse_buf_free(&B.pub_outbuf);
    sse_resp_free(&B.pub_resp);
    posix_spawn_file_actions_destroy(&B.fa);
    posix_spawnattr_destroy(&B.attr);
    for (i = 0; i < B.nkeys; i++)
        free(B.keys[i]);
    free(B.keys);
    for (w = 0; w < B.nwords; w++)
        free(B.words[w]);
    free(B.words);
    free(B.url.host);
    free(B.url.path);
    free(B.pub_url.host);
    free(B.pub_url.path);
    close(B.ep);
    close(B.sigfd);
}

int
main(int argc, char **argv)
{
    int status;

    settings(argc, argv);
    setup();
    loop();
    status = report();
    if (B.established == 0 && B.responses == 0) {
        fprintf(stderr, "sse-bench: no stream could connect to %s: %s\n",
                B.url.host, B.refused_first);
        status = EX_UNAVAILABLE;
    } else if (B.pub_fatal) {
        fprintf(stderr, "sse-bench: %s\n", B.pub_first);
        status = EX_UNAVAILABLE;
    }
    teardown();
    return status;
}
