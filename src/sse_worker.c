/*
 * sse_worker: the event loop that holds every stream of a worker process.
 *
 * One epoll set watches the FastCGI listening socket, connections whose
 * request is still arriving, the streams' sockets, a signalfd, and the
 * ZeroMQ SUB socket's notification fd. Accepting and reading requests here,
 * rather than on a thread of libfcgi's, costs a new stream no hand-over
 * between threads and no blocking read, and a web server that sends half a
 * request holds up nobody. Each turn of the loop reads what arrived, routes
 * events from the broker to the streams of their key, then writes every
 * stream that got output once, so a burst of events costs one write per
 * stream. A stream with nothing else queued writes an event straight from
 * the broker's message (sse_stream_lend), which is held until then:
 * fanning an event out to thousands of streams copies or allocates nothing
 * per stream unless a socket cannot take it at once. Once a second a sweep
 * sends heartbeats, ends streams whose lifetime is over and drops those
 * that would not drain.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sse_accept.h"
#include "sse_auth.h"
#include "sse_clock.h"
#include "sse_config.h"
#include "sse_cors.h"
#include "sse_curve.h"
#include "sse_fcgi_in.h"
#include "sse_hub.h"
#include "sse_key.h"
#include "sse_log.h"
#include "sse_query.h"
#include "sse_stream.h"
#include "sse_wire.h"
#include "sse_worker.h"
#include "sse_xmalloc.h"

#define SWEEP_MS   1000    /* heartbeat and timer resolution */
#define ENDING_MS  10000   /* an ended stream may take this long to drain */
#define LINGER_MS  5000    /* then the web server has this long to close */
#define STOP_MS    3000    /* on SIGTERM, streams get this long to end */
#define ZMQ_BATCH  1024    /* events taken before looking at sockets again */
#define SUB_HWM    100000  /* events queued from the broker */
#define ASK_MS     2000    /* ask the broker again after this long */
#define ID_BUCKETS 8192    /* the table of streams by id */
#define REPORT_MS  2000    /* how often the broker hears our counts */
#define ACCEPT_BATCH 16    /* connections accepted before looking elsewhere */
#define PENDING_MS 10000   /* a request's parameters must arrive by then */
#define PARAMS_MAX (256 * 1024) /* FastCGI parameters of one request */
#define PAUSE_MS   100     /* stop accepting this long when out of fds */
#define FD_TABLE_MAX 65536 /* fds the table is sized for at start, at most */

static const char hdr_stream[] =
    "Status: 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\n";
static const char comment_open[] = ": ok\n";
static const char comment_ping[] = ": ping\n\n";
/* Told to a stream whose events after its last id may be gone, so the page
 * can fetch its state again. */
static const char event_missed[] = "event: missed\ndata: \n\n";

/* epoll tags for the fds that are not streams (compared first: a char may
 * sit at an odd address). A connection whose request is still arriving is
 * tagged with its address + 1 (PENDING); streams and pendings come from
 * malloc, so their addresses are even. */
static char tag_listen, tag_zmq, tag_signal;

#define PENDING 1u

/* A FastCGI connection whose parameters have not all arrived. */
struct pending {
    int             fd;
    int             watched;    /* in the epoll set */
    int64_t         since;
    struct sse_fcgi_in in;
    struct pending *prev, *next;
};

struct worker {
    const struct sse_worker_config *cfg;
    int                ep;          /* epoll fd */
    void              *zctx;
    void              *sub;         /* XSUB socket to the broker */
    uint64_t           worker_id;   /* random; names our own topic */
    char               topic[SSE_TOPIC_MAX]; /* where answers come */
    size_t             topic_len;
    uint64_t           instance;    /* the broker we talk to; 0: unknown */
    struct sse_buf     frame;       /* scratch for requests */
    struct sse_stream *by_id[ID_BUCKETS];
    int64_t            next_report;
    uint32_t           report_keys;  /* keys in the report being built */
    int                listen_fd;   /* FastCGI connections, or -1 */
    int64_t            accept_resume; /* accepting paused until; 0: not */
    const char        *web_server_addrs; /* FCGI_WEB_SERVER_ADDRS */
    struct pending    *pending;
    int                sig_fd;
    struct sse_hub    *hub;
    struct sse_stream *streams;     /* every stream not yet DONE */
    size_t             nstreams;
    size_t             nopen;       /* streams counted (--max-streams) */
    struct sse_stream *dirty;       /* streams with output to write */
    zmq_msg_t          held[ZMQ_BATCH]; /* this turn's messages from the
                                        broker: streams write events from
                                        them, and they are closed once the
                                        streams are flushed */
    size_t             nheld;
    int                zmq_due;     /* the socket may hold messages: its fd
                                     * fired, or a send since the last
                                     * drain may have taken that signal */
    struct sse_stream *dead;        /* DONE streams, freed after the turn */
    int64_t            now;         /* monotonic ms at the start of a turn */
    int64_t            next_sweep;
    uint64_t           next_id;
    int                cgi;         /* serving one CGI request */
    int                stopping;
    int64_t            stop_deadline;
};

static int
set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl);
}

/* ---- subscriptions --------------------------------------------------- */

/* Every message to the broker goes through here. A send lets libzmq take
 * the commands that would have made ZMQ_FD readable, so the loop drains
 * the socket after any send, not only when the fd fires. */
static int
broker_send(struct worker *w, const void *msg, size_t n)
{
    w->zmq_due = 1;
    return zmq_send(w->sub, msg, n, ZMQ_DONTWAIT);
}

/* Subscribe (on 1) or unsubscribe (on 0) a topic: on an XSUB socket that
 * is a message whose first byte says which, so it travels in order with
 * the replay requests that follow it. */
static void
send_sub(struct worker *w, int on, const char *topic, size_t n)
{
    char msg[1 + SSE_TOPIC_MAX];

    msg[0] = (char)on;
    memcpy(msg + 1, topic, n);
    if (broker_send(w, msg, n + 1) < 0 && zmq_errno() != EAGAIN)
        log_warnx("zmq %s: %s", on ? "subscribe" : "unsubscribe",
                  zmq_strerror(zmq_errno()));
}

static void
subscribe(struct worker *w, int on, const char *key, size_t len)
{
    char topic[SSE_TOPIC_MAX];
    size_t n = key != NULL ? sse_key_topic(key, len, topic)
                           : sse_key_topic_all(topic);

    send_sub(w, on, topic, n);
}

static void
on_first_sub(const char *key, size_t len, void *arg)
{
    subscribe(arg, 1, key, len);
}

static void
on_last_sub(const char *key, size_t len, void *arg)
{
    subscribe(arg, 0, key, len);
}

static void
unsubscribe_stream(struct worker *w, struct sse_stream *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        sse_hub_remove(w->hub, &s->subs[i]);
}

/* ---- stream bookkeeping ---------------------------------------------- */

static void
mark_dirty(struct worker *w, struct sse_stream *s)
{
    if (!s->dirty) {
        s->dirty = 1;
        s->dirty_next = w->dirty;
        w->dirty = s;
    }
}

static int
watched_fd(const struct sse_stream *s)
{
    return s->mode == SSE_STREAM_FCGI ? s->fd : s->out_fd;
}

/* Register the events the stream needs now: input on FastCGI sockets (to
 * see the web server close), output only while bytes wait. Errors and
 * hang-ups are always reported, which is how a CGI stream sees its reader
 * go away. */
static void
watch(struct worker *w, struct sse_stream *s)
{
    uint32_t want = 0;
    struct epoll_event ev;

    if (s->blocking || s->state == SSE_STREAM_DONE)
        return;
    if (s->mode == SSE_STREAM_FCGI)
        want |= EPOLLIN | EPOLLRDHUP;
    if (sse_buf_len(&s->out) > 0)
        want |= EPOLLOUT;
    if (want == s->events)
        return;
    ev.events = want;
    ev.data.ptr = s;
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, watched_fd(s), &ev) == 0)
        s->events = want;
    else
        log_warn("epoll_ctl stream=%" PRIu64, s->id);
}

static void
id_add(struct worker *w, struct sse_stream *s)
{
    struct sse_stream **b = &w->by_id[s->id % ID_BUCKETS];

    s->id_next = *b;
    *b = s;
}

static void
id_remove(struct worker *w, struct sse_stream *s)
{
    struct sse_stream **p = &w->by_id[s->id % ID_BUCKETS];

    for (; *p != NULL; p = &(*p)->id_next)
        if (*p == s) {
            *p = s->id_next;
            break;
        }
}

static struct sse_stream *
id_find(struct worker *w, uint64_t id)
{
    struct sse_stream *s = w->by_id[id % ID_BUCKETS];

    while (s != NULL && s->id != id)
        s = s->id_next;
    return s;
}

/* Ask the broker where the stream stands: the events after its last one
 * (or after the Last-Event-ID it came with), or, for a new stream, the
 * point from which it gets everything. Until the answer comes, live events
 * for it are dropped: they are older than the answer, which holds them.
 * The request follows the stream's subscriptions on the same pipe, so the
 * broker answers with those in force. */
static void
ask_broker(struct worker *w, struct sse_stream *s)
{
    struct sse_wire_replay r = {
        .topic = w->topic, .topic_len = w->topic_len,
    };

    /* Only the answer to the latest request counts: an older one may have
     * waited in the pipe while the broker was away and start from the
     * wrong point. */
    s->asks = (s->asks + 1) & 0xffff;
    r.req = s->id << 16 | s->asks;

    if (s->last_seq > 0) {
        r.after = SSE_WIRE_AFTER_SEQ;
        r.after_seq = s->last_seq;
    } else if (s->last_event_id != NULL) {
        r.after = SSE_WIRE_AFTER_ID;
        r.after_id = s->last_event_id;
        r.after_id_len = strlen(s->last_event_id);
    } else if (s->latest) {
        r.after = SSE_WIRE_AFTER_LATEST;
    } else {
        r.after = SSE_WIRE_AFTER_NONE;
    }
    for (size_t i = 0; i < s->nsubs && i < SSE_WIRE_KEYS_MAX; i++)
        r.keys[r.nkeys++] = sse_hub_sub_key(&s->subs[i], &r.key_lens[i]);
    s->pending = 1;
    s->asked_ms = w->now;
    sse_buf_clear(&w->frame);
    if (sse_wire_replay_encode(&r, &w->frame) != 0 ||
        broker_send(w, sse_buf_head(&w->frame), sse_buf_len(&w->frame)) < 0)
        log_debug("stream=%" PRIu64 " replay request not sent; will retry",
                  s->id);
}

/* A stream counts toward --max-streams and the reports from the moment
 * it is subscribed until it ends; a request answered at once (an error, a
 * status page) never counts. */
static void
count(struct worker *w, struct sse_stream *s)
{
    s->counted = 1;
    w->nopen++;
}

static void
uncount(struct worker *w, struct sse_stream *s)
{
    if (s->counted) {
        s->counted = 0;
        w->nopen--;
    }
}

static void
stream_kill(struct worker *w, struct sse_stream *s, const char *why)
{
    if (s->state == SSE_STREAM_DONE)
        return;
    uncount(w, s);
    unsubscribe_stream(w, s);
    id_remove(w, s);
    if (!s->blocking)
        (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, watched_fd(s), NULL);
    if (s->mode == SSE_STREAM_FCGI)
        close(s->fd);
    s->state = SSE_STREAM_DONE;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    w->nstreams--;
    s->prev = NULL;
    s->next = w->dead;
    w->dead = s;
    log_debug("stream closed stream=%" PRIu64 " keys=%s duration=%.3fs "
              "events=%" PRIu64 " reason=\"%s\"", s->id,
              s->keys != NULL ? s->keys : "-",
              (double)(w->now - s->opened_ms) / 1000.0, s->events_sent, why);
}

/* Stop delivering to s and queue the end of its response. */
static void
stream_finish(struct worker *w, struct sse_stream *s)
{
    if (s->state != SSE_STREAM_OPEN)
        return;
    uncount(w, s);
    unsubscribe_stream(w, s);
    sse_stream_end(s);
    s->deadline_ms = w->now + ENDING_MS;
    mark_dirty(w, s);
}

static void
flush_stream(struct worker *w, struct sse_stream *s)
{
    int rc = sse_stream_flush(s);

    if (rc < 0) {
        stream_kill(w, s, errno == EPIPE || errno == ECONNRESET ?
                    "client gone" : strerror(errno));
        return;
    }
    if (rc == 0 && s->state == SSE_STREAM_ENDING) {
        if (s->mode == SSE_STREAM_CGI) {
            stream_kill(w, s, "ended");
            return;
        }
        /* Closing at once could reset the connection before the web
         * server has read our last records; shut our side and wait for
         * it to close instead. */
        shutdown(s->fd, SHUT_WR);
        s->state = SSE_STREAM_LINGER;
        s->deadline_ms = w->now + LINGER_MS;
    }
    watch(w, s);
}

/* Answer a request with a JSON body (a poll, the status page) and end it. */
static void
reply_json(struct worker *w, struct sse_stream *s, const char *json,
           size_t len)
{
    static const char head[] =
        "Status: 200 OK\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-cache\r\n";

    s->out.max = 0;     /* the body is bounded already */
    (void)sse_stream_write(s, head, sizeof(head) - 1);
    if (s->head_extra != NULL)
        (void)sse_stream_write(s, s->head_extra, strlen(s->head_extra));
    (void)sse_stream_write(s, "\r\n", 2);
    (void)sse_stream_write(s, json, len);
    stream_finish(w, s);
}

/* Answer a mode=poll request with what it collected. */
static void
poll_reply(struct worker *w, struct sse_stream *s)
{
    struct sse_buf body;
    const char *id = s->poll_id != NULL ? s->poll_id :
        s->last_event_id != NULL ? s->last_event_id : "";

    sse_buf_init(&body, 0);
    (void)sse_buf_puts(&body, "{\"events\":[");
    if (s->poll_json != NULL)
        (void)sse_buf_append(&body, sse_buf_head(s->poll_json),
                             sse_buf_len(s->poll_json));
    (void)sse_buf_puts(&body, "],\"lastEventId\":");
    (void)sse_json_string(id, strlen(id), &body);
    (void)sse_buf_puts(&body, s->poll_missed ? ",\"missed\":true}\n" :
                       ",\"missed\":false}\n");
    reply_json(w, s, sse_buf_head(&body), sse_buf_len(&body));
    sse_buf_free(&body);
}

static void
flush_dirty(struct worker *w)
{
    struct sse_stream *s;

    while ((s = w->dirty) != NULL) {
        w->dirty = s->dirty_next;
        s->dirty = 0;
        if (s->poll && s->state == SSE_STREAM_OPEN && !s->pending &&
            (s->poll_count > 0 || s->poll_missed))
            poll_reply(w, s);
        if (s->state != SSE_STREAM_DONE)
            flush_stream(w, s);
    }
}

static void
reap(struct worker *w)
{
    struct sse_stream *s;

    /* Runs after flush_dirty, so no dead stream is on the dirty list. */
    while ((s = w->dead) != NULL) {
        w->dead = s->next;
        sse_stream_destroy(&s);
    }
}

/* Queue bytes on an open stream; a stream whose queue is full has a client
 * that stopped reading, and is dropped (it will reconnect). */
static int
queue(struct worker *w, struct sse_stream *s, const void *p, size_t n)
{
    /* A burst can pass the ceiling within one turn of the loop while the
     * client reads well: write out what the socket takes before judging.
     * p stays valid until the streams are flushed (a message held for the
     * turn, or static), so it is lent rather than copied. */
    if (sse_stream_lend(s, p, n) != 0 &&
        (s->blocking || sse_stream_flush(s) < 0 ||
         sse_stream_lend(s, p, n) != 0)) {
        log_warnx("stream=%" PRIu64 " queue over %zu bytes, dropping client",
                  s->id, s->out.max);
        stream_kill(w, s, "queue full");
        return -1;
    }
    s->last_queued_ms = w->now;
    mark_dirty(w, s);
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

static void
reply_error(struct worker *w, struct sse_stream *s, int head, int status,
            const char *title, const char *extra_headers, const char *reason)
{
    char buf[2048];
    int n;

    n = snprintf(buf, sizeof(buf),
                 "Status: %d %s\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Cache-Control: no-cache\r\n"
                 "%s%s\r\n"
                 "%s%s", status, title, extra_headers,
                 s->head_extra != NULL ? s->head_extra : "",
                 head ? "" : reason, head ? "" : "\n");
    if (n < 0 || (size_t)n >= sizeof(buf))
        n = 0;
    (void)sse_stream_write(s, buf, (size_t)n);
    sse_stream_end(s);
    s->deadline_ms = w->now + ENDING_MS;
    log_info("request refused stream=%" PRIu64 " status=%d reason=\"%s\"",
             s->id, status, reason);
}

/* Queue the stream's response head, with its CORS headers if any. */
static void
write_head(struct sse_stream *s)
{
    (void)sse_stream_write(s, hdr_stream, sizeof(hdr_stream) - 1);
    if (s->head_extra != NULL)
        (void)sse_stream_write(s, s->head_extra, strlen(s->head_extra));
    (void)sse_stream_write(s, "\r\n", 2);
}

/* Queue the response head and the opening comment: the browser's open
 * event fires and no proxy holds the response back. */
static void
open_response(struct worker *w, struct sse_stream *s)
{
    char retry[40];

    if (s->opened)
        return;
    s->opened = 1;
    write_head(s);
    (void)sse_stream_write(s, comment_open, sizeof(comment_open) - 1);
    if (w->cfg->retry >= 0) {
        snprintf(retry, sizeof(retry), "retry: %ld\n", w->cfg->retry);
        (void)sse_stream_write(s, retry, strlen(retry));
    }
    (void)sse_stream_write(s, "\n", 1);
    s->last_queued_ms = w->now;
    mark_dirty(w, s);
}

/* Subscribe the stream and ask the broker where it starts. The response
 * opens when the answer comes, so that once the browser sees the stream
 * open, every event published afterwards reaches it. */
static void
start_stream(struct worker *w, struct sse_stream *s, struct sse_query *q,
             int head)
{
    size_t klen = 0;
    char *keys;

    if (head) {
        write_head(s);
        sse_stream_end(s);
        s->deadline_ms = w->now + ENDING_MS;
        return;
    }
    s->subs = xcalloc(q->nkeys, sizeof(*s->subs));
    s->nsubs = q->nkeys;
    for (size_t i = 0; i < q->nkeys; i++) {
        sse_hub_add(w->hub, &s->subs[i], q->keys[i], q->key_lens[i], s);
        klen += q->key_lens[i] + 1;
    }
    if (q->last_event_id != NULL)
        s->last_event_id = xstrdup(q->last_event_id);
    s->latest = q->latest;
    s->poll = q->poll;
    count(w, s);
    if (w->cfg->lifetime > 0)
        s->deadline_ms = w->now + (int64_t)w->cfg->lifetime * 1000;
    if (s->token_deadline_ms > 0 &&
        (s->deadline_ms == 0 || s->token_deadline_ms < s->deadline_ms))
        s->deadline_ms = s->token_deadline_ms;
    if (s->poll)
        s->deadline_ms = w->now + (int64_t)w->cfg->poll_timeout * 1000;
    id_add(w, s);
    ask_broker(w, s);
    keys = xmalloc(klen + 1);
    klen = 0;
    for (size_t i = 0; i < q->nkeys; i++) {
        memcpy(keys + klen, q->keys[i], q->key_lens[i]);
        klen += q->key_lens[i];
        keys[klen++] = ',';
    }
    keys[klen > 0 ? klen - 1 : 0] = '\0';
    s->keys = keys;
    log_debug("stream open stream=%" PRIu64 " keys=%s last-event-id=%s",
              s->id, keys, q->last_event_id != NULL ? "yes" : "no");
}

/* mode=status: ask the broker for the counts; the answer (on_counts)
 * becomes the response. Off unless configured, since it tells which keys
 * are in use. */
static void
start_status(struct worker *w, struct sse_stream *s, struct sse_query *q)
{
    if (!w->cfg->status) {
        reply_error(w, s, 0, 404, "Not Found", "", "the status page is off");
        return;
    }
    s->status = 1;
    s->pending = 1;
    s->asked_ms = w->now;
    s->deadline_ms = w->now + ASK_MS;
    id_add(w, s);
    sse_buf_clear(&w->frame);
    if (sse_wire_stats_encode((uint32_t)s->id, q->nkeys > 0 ? q->keys[0] : NULL,
                              q->nkeys > 0 ? q->key_lens[0] : 0, w->topic,
                              w->topic_len, &w->frame) != 0 ||
        broker_send(w, sse_buf_head(&w->frame), sse_buf_len(&w->frame)) < 0)
        log_debug("stats request not sent");
}

/* The broker's counts for a status request. */
static void
on_counts(struct worker *w, const char *body, size_t blen)
{
    struct sse_stream *s;
    const char *json;
    size_t len;
    uint32_t seq;

    if (sse_wire_counts_decode(body, blen, &seq, &json, &len) != 0 ||
        (s = id_find(w, seq)) == NULL || !s->status ||
        s->state != SSE_STREAM_OPEN)
        return;
    s->status = 0;
    reply_json(w, s, json, len);
}

/* With tokens configured, the request's token must be valid and allow
 * every key it asks for; the stream then ends when the token expires.
 * Returns 0, or -1 after answering 401 or 403. */
static int
authorize(struct worker *w, struct sse_stream *s, struct sse_request *r,
          struct sse_query *q, int head)
{
    struct sse_auth_grant g;
    const char *token, *reason;
    char msg[SSE_KEY_MAX + 64];
    size_t len;
    int rc = -1;

    if (w->cfg->auth == NULL)
        return 0;
    token = sse_auth_find_token(w->cfg->auth, r->authorization, r->cookie,
                                q->token, &len);
    if (token == NULL) {
        reply_error(w, s, head, 401, "Unauthorized",
                    "WWW-Authenticate: Bearer\r\n", "token required");
        return -1;
    }
    if (sse_auth_verify(w->cfg->auth, token, len, (int64_t)time(NULL), &g,
                        &reason) != 0) {
        reply_error(w, s, head, 401, "Unauthorized",
                    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
                    reason);
        return -1;
    }
    for (size_t i = 0; i < q->nkeys; i++)
        if (!sse_auth_allows(&g, q->keys[i], q->key_lens[i])) {
            snprintf(msg, sizeof(msg), "the token does not allow key %s",
                     q->keys[i]);
            reply_error(w, s, head, 403, "Forbidden", "", msg);
            goto out;
        }
    if (g.exp > 0) {
        int64_t left = (g.exp - (int64_t)time(NULL)) * 1000;

        /* start_stream sets the lifetime; the token's end comes on top. */
        s->token_deadline_ms = w->now + (left > 0 ? left : 0);
    }
    rc = 0;
out:
    sse_auth_grant_free(&g);
    return rc;
}

/* Open the stream of request r. watched: r->fd is in the epoll set
 * already (as a connection whose request was arriving). */
static void
open_stream(struct worker *w, struct sse_request *r, int watched)
{
    int fcgi = r->fd >= 0;
    int head = strcmp(r->method, "HEAD") == 0;
    struct sse_stream *s;
    struct epoll_event ev;
    struct sse_query q;
    const char *reason;
    char extra[SSE_CORS_HEADERS_MAX];
    enum sse_cors_verdict cors;
    int preflight;

    s = sse_stream_new(++w->next_id, fcgi ? SSE_STREAM_FCGI : SSE_STREAM_CGI,
                       fcgi ? r->fd : STDIN_FILENO,
                       fcgi ? r->fd : STDOUT_FILENO, r->request_id,
                       w->cfg->queue_max);
    s->opened_ms = s->last_queued_ms = w->now;
    /* A FastCGI socket comes non-blocking from accept4. */
    if (!fcgi)
        set_nonblock(s->out_fd, 1);
    ev.events = s->events = fcgi ? EPOLLIN | EPOLLRDHUP : 0;
    ev.data.ptr = s;
    if (epoll_ctl(w->ep, watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->out_fd,
                  &ev) != 0) {
        if (fcgi || errno != EPERM) {
            log_warn("epoll_ctl for a new stream");
            if (fcgi)
                close(r->fd);
            sse_stream_destroy(&s);
            sse_request_free(&r);
            return;
        }
        /* CGI output to a regular file cannot be polled; write it in full. */
        s->blocking = 1;
        set_nonblock(s->out_fd, 0);
    }
    s->next = w->streams;
    if (w->streams != NULL)
        w->streams->prev = s;
    w->streams = s;
    w->nstreams++;

    memset(&q, 0, sizeof(q));
    preflight = strcmp(r->method, "OPTIONS") == 0;
    cors = sse_cors_check(w->cfg->cors_origins, r->origin, preflight, extra,
                          sizeof(extra));
    if (cors == SSE_CORS_ALLOW)
        s->head_extra = xstrdup(extra);
    if (cors == SSE_CORS_DENY)
        reply_error(w, s, head, 403, "Forbidden", "",
                    "origin not allowed");
    else if (preflight && cors == SSE_CORS_ALLOW)
        reply_error(w, s, 1, 204, "No Content", "", "preflight");
    else if (strcmp(r->method, "GET") != 0 && !head)
        reply_error(w, s, 0, 405, "Method Not Allowed",
                    "Allow: GET, HEAD\r\n", "method not allowed: use GET");
    else if (w->stopping)
        reply_error(w, s, head, 503, "Service Unavailable", "",
                    "the worker is shutting down");
    else if (w->cfg->max_streams > 0 && w->nopen >= w->cfg->max_streams)
        reply_error(w, s, head, 503, "Service Unavailable", "",
                    "too many streams on this worker");
    else if (sse_query_parse(&q, r->query, r->path_info, r->last_event_id,
                             &reason) != 0)
        reply_error(w, s, head, 400, "Bad Request", "", reason);
    else if (q.status)
        start_status(w, s, &q);
    else if (authorize(w, s, r, &q, head) == 0)
        start_stream(w, s, &q, head);
    sse_query_free(&q);
    sse_request_free(&r);
    mark_dirty(w, s);
}

/* ---- accepting FastCGI requests ---------------------------------------- */

/* Forget p; close_fd 0 when its fd (and its place in the epoll set, if
 * watched) goes on to a stream. Closing the fd takes it out of the set. */
static void
pending_drop(struct worker *w, struct pending *p, int close_fd)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        w->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (close_fd)
        close(p->fd);
    sse_fcgi_in_free(&p->in);
    free(p);
}

/* Send what the request reader answered (management records, an unknown
 * role): a few bytes to a socket nothing else has been written to, so a
 * write that does not take them all means the web server is gone. */
static void
pending_reply(struct pending *p)
{
    size_t n = sse_buf_len(&p->in.reply);

    if (n > 0 && write(p->fd, sse_buf_head(&p->in.reply), n) != (ssize_t)n)
        log_debug("FastCGI reply not sent");
    sse_buf_clear(&p->in.reply);
}

/* Read what a connection has. Once its parameters are whole, it becomes a
 * stream; a connection that is not a FastCGI request, or that closes
 * first, is closed. */
static void
pending_read(struct worker *w, struct pending *p)
{
    char buf[16384];
    const char *why = NULL;
    int st = SSE_FCGI_IN_MORE;

    while (st == SSE_FCGI_IN_MORE) {
        ssize_t n = read(p->fd, buf, sizeof(buf));

        if (n > 0) {
            st = sse_fcgi_in_feed(&p->in, buf, (size_t)n, &why);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            log_warn("reading a FastCGI request");
        pending_drop(w, p, 1);
        return;
    }
    pending_reply(p);
    if (st == SSE_FCGI_IN_MORE) {
        struct epoll_event ev = {
            .events = EPOLLIN | EPOLLRDHUP,
            .data.ptr = (char *)p + PENDING,
        };

        if (!p->watched && epoll_ctl(w->ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
            log_warn("epoll_ctl for a FastCGI connection");
            pending_drop(w, p, 1);
            return;
        }
        p->watched = 1;
        return;
    }
    if (st == SSE_FCGI_IN_BAD) {
        log_warnx("FastCGI connection closed: %s", why);
        pending_drop(w, p, 1);
        return;
    }
    {
        struct sse_request *r = sse_request_from_fcgi(&p->in, p->fd);
        int watched = p->watched;

        /* The stream takes the fd over, epoll registration and all. */
        pending_drop(w, p, 0);
        open_stream(w, r, watched);
    }
}

static void
pause_accepting(struct worker *w)
{
    (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, w->listen_fd, NULL);
    w->accept_resume = w->now + PAUSE_MS;
}

static void
on_listen(struct worker *w)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(w->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct pending *p;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* Out of fds or memory: streams ending will free some. */
            log_warn("FastCGI accept failed; pausing %d ms", PAUSE_MS);
            pause_accepting(w);
            return;
        }
        if (!sse_accept_peer_ok(fd, w->web_server_addrs)) {
            log_warnx("FastCGI connection refused: peer not in "
                      "FCGI_WEB_SERVER_ADDRS");
            close(fd);
            continue;
        }
        p = xcalloc(1, sizeof(*p));
        p->fd = fd;
        p->since = w->now;
        sse_fcgi_in_init(&p->in, PARAMS_MAX);
        p->next = w->pending;
        if (w->pending != NULL)
            w->pending->prev = p;
        w->pending = p;
        /* The web server writes the request as it connects: usually it is
         * here already. */
        pending_read(w, p);
    }
}

static void
resume_accepting(struct worker *w)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };

    if (w->accept_resume == 0 || w->now < w->accept_resume)
        return;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &ev) != 0) {
        log_warn("epoll_ctl for the FastCGI socket");
        w->accept_resume = w->now + PAUSE_MS;
        return;
    }
    w->accept_resume = 0;
}

/* Close connections that never sent a whole request. */
static void
sweep_pending(struct worker *w)
{
    for (struct pending *p = w->pending, *next; p != NULL; p = next) {
        next = p->next;
        if (w->now - p->since >= PENDING_MS) {
            log_warnx("FastCGI connection closed: no whole request in %d s",
                      PENDING_MS / 1000);
            pending_drop(w, p, 1);
        }
    }
}

/* Read and discard what the web server sends after the parameters (the
 * empty STDIN record, a body we refuse); end of file means it closed the
 * connection, because the client left or because we ended. */
static void
on_input(struct worker *w, struct sse_stream *s)
{
    char scratch[4096];

    for (;;) {
        ssize_t n = read(s->fd, scratch, sizeof(scratch));

        if (n > 0)
            continue;
        if (n == 0) {
            stream_kill(w, s, s->state == SSE_STREAM_LINGER ? "ended" :
                        "client gone");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            stream_kill(w, s, strerror(errno));
        return;
    }
}

static void
on_stream_event(struct worker *w, struct sse_stream *s, uint32_t events)
{
    if (s->state == SSE_STREAM_DONE)
        return;
    if (s->mode == SSE_STREAM_FCGI) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            on_input(w, s);
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        stream_kill(w, s, "client gone");
    }
    if (s->state != SSE_STREAM_DONE && (events & EPOLLOUT))
        flush_stream(w, s);
}

/* ---- events from the broker ------------------------------------------ */

struct delivery {
    struct worker          *w;
    struct sse_wire_deliver d;
};

/* Send one event to s unless it already has it; returns 0, or -1 if the
 * stream ended. */
/* A mode=poll request collects events as JSON until its answer goes. */
static int
poll_add(struct worker *w, struct sse_stream *s, uint64_t seq,
         const char *sse, size_t len)
{
    const char *id;
    size_t id_len, before;

    if (s->poll_json == NULL) {
        s->poll_json = xmalloc(sizeof(*s->poll_json));
        sse_buf_init(s->poll_json, w->cfg->queue_max);
    }
    before = sse_buf_len(s->poll_json);
    if ((s->poll_count > 0 && sse_buf_append(s->poll_json, ",", 1) != 0) ||
        sse_event_to_json(sse, len, s->poll_json, &id, &id_len) != 0) {
        /* What fits goes now; the client asks again from there. */
        sse_buf_truncate(s->poll_json, sse_buf_len(s->poll_json) - before);
        return -1;
    }
    s->poll_count++;
    s->last_seq = seq;
    free(s->poll_id);
    s->poll_id = id != NULL ? xstrndup(id, id_len) : NULL;
    mark_dirty(w, s);
    return 0;
}

static int
send_event(struct worker *w, struct sse_stream *s, unsigned flags,
           uint64_t seq, const char *sse, size_t len)
{
    if (seq <= s->last_seq)
        return 0;
    if (s->poll)
        return poll_add(w, s, seq, sse, len);
    if (queue(w, s, sse, len) != 0)
        return -1;
    s->last_seq = seq;
    s->events_sent++;
    if (flags & SSE_WIRE_CLOSE) {
        stream_finish(w, s);
        return -1;
    }
    return 0;
}

static void
deliver(struct delivery *d, struct sse_stream *s)
{
    /* A stream waiting for its answer gets this event in the answer. */
    if (s->state != SSE_STREAM_OPEN || s->pending)
        return;
    (void)send_event(d->w, s, d->d.flags, d->d.seq, d->d.sse, d->d.len);
}

static void
deliver_sub(struct sse_sub *sub, void *arg)
{
    deliver(arg, sub->owner);
}

/* Every stream asks again where it stands: after the broker restarted, or
 * after the worker reconnected to it, events may have passed by. */
static void
resync(struct worker *w)
{
    size_t n = 0;

    for (struct sse_stream *s = w->streams; s != NULL; s = s->next)
        if (s->state == SSE_STREAM_OPEN) {
            ask_broker(w, s);
            n++;
        }
    if (n > 0)
        log_info("broker (re)connected: resynchronising %zu streams", n);
}

static void
note_instance(struct worker *w, uint64_t instance)
{
    if (instance == w->instance)
        return;
    if (w->instance != 0)
        log_info("broker restarted");
    w->instance = instance;
    resync(w);
}

/* The broker's answer to ask_broker, or a hello (req 0) when it sees this
 * worker (re)connect. */
static void
on_answer(struct worker *w, const char *body, size_t blen)
{
    struct sse_wire_replayed h;
    struct sse_wire_item item;
    struct sse_stream *s;

    if (sse_wire_replayed_decode(body, blen, &h) != 0) {
        log_warnx("malformed answer from the broker, ignored");
        return;
    }
    if (h.req == 0) {
        if (h.instance == w->instance)
            resync(w);
        else
            note_instance(w, h.instance);
        return;
    }
    note_instance(w, h.instance);
    s = id_find(w, h.req >> 16);
    if (s == NULL || s->state != SSE_STREAM_OPEN || !s->pending ||
        (h.req & 0xffff) != s->asks)
        return;
    s->pending = 0;
    if (s->poll) {
        /* Without events, the answer's point is where the next poll
         * starts: a broker id that replay understands. */
        if (s->poll_id == NULL && s->last_event_id == NULL) {
            char point[24];

            snprintf(point, sizeof(point), "%" PRIu64, h.seq_now);
            s->poll_id = xstrdup(point);
        }
        s->poll_missed = (h.flags & SSE_WIRE_MISSED) &&
            s->last_event_id != NULL;
        if (s->poll_missed)
            mark_dirty(w, s);
    } else {
        open_response(w, s);
    }
    /* A new stream that opened on its own clock never had events that
     * it could have missed. */
    if (!s->poll && (h.flags & SSE_WIRE_MISSED) && !s->guessed &&
        (s->last_seq > 0 || s->last_event_id != NULL)) {
        log_info("stream=%" PRIu64 " may have missed events", s->id);
        if (queue(w, s, event_missed, sizeof(event_missed) - 1) != 0)
            return;
    }
    /* A replay larger than half the queue would drop the stream: send the
     * newest that fit and say that the rest may be missed. */
    {
        struct sse_wire_replayed all = h;
        size_t total = 0, skip = 0;

        while (sse_wire_replayed_next(&all, &item) == 1)
            total += item.len;
        all = h;
        while (total > w->cfg->queue_max / 2 &&
               sse_wire_replayed_next(&all, &item) == 1) {
            total -= item.len;
            skip++;
        }
        if (skip > 0 && !(h.flags & SSE_WIRE_MISSED) &&
            queue(w, s, event_missed, sizeof(event_missed) - 1) != 0)
            return;
        for (size_t i = 0; i < skip; i++)
            (void)sse_wire_replayed_next(&h, &item);
    }
    while (sse_wire_replayed_next(&h, &item) == 1)
        if (send_event(w, s, item.flags, item.seq, item.sse, item.len) != 0)
            return;
    if (h.seq_now > s->last_seq)
        s->last_seq = h.seq_now;
    s->guessed = 0;
    free(s->last_event_id);
    s->last_event_id = NULL;
}

static void
dispatch(struct worker *w, const char *topic, size_t tlen, const char *body,
         size_t blen)
{
    struct delivery d = { .w = w };
    const char *key;
    size_t klen;
    int kind;

    if (tlen == w->topic_len && memcmp(topic, w->topic, tlen) == 0) {
        if (blen >= 2 && body[1] == 'T')
            on_counts(w, body, blen);
        else
            on_answer(w, body, blen);
        return;
    }
    kind = sse_key_from_topic(topic, tlen, &key, &klen);
    if (kind < 0 || sse_wire_deliver_decode(body, blen, &d.d) != 0) {
        log_warnx("malformed message from the broker, ignored");
        return;
    }
    note_instance(w, d.d.instance);
    if (kind == 1) {
        sse_hub_foreach(w->hub, key, klen, deliver_sub, &d);
        return;
    }
    for (struct sse_stream *s = w->streams, *next; s != NULL; s = next) {
        next = s->next;
        deliver(&d, s);
    }
}

/* Take up to ZMQ_BATCH events. Their bodies stay held (streams write
 * from them) until release_held. Returns 1 if more may be waiting. */
static int
drain_broker(struct worker *w)
{
    while (w->nheld < ZMQ_BATCH) {
        zmq_msg_t topic, *body = &w->held[w->nheld];
        int complete;

        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, w->sub, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();

            zmq_msg_close(&topic);
            if (err == EINTR)
                continue;
            if (err != EAGAIN)
                log_warnx("receiving from the broker: %s", zmq_strerror(err));
            return 0;
        }
        zmq_msg_init(body);
        /* The frames of one message arrive together. */
        complete = zmq_msg_more(&topic) &&
            zmq_msg_recv(body, w->sub, ZMQ_DONTWAIT) >= 0;
        if (complete && !zmq_msg_more(body)) {
            dispatch(w, zmq_msg_data(&topic), zmq_msg_size(&topic),
                     zmq_msg_data(body), zmq_msg_size(body));
            w->nheld++;
        } else {
            log_warnx("malformed message from the broker, ignored");
            while (zmq_msg_more(body) &&
                   zmq_msg_recv(body, w->sub, ZMQ_DONTWAIT) >= 0)
                ;
            zmq_msg_close(body);
        }
        zmq_msg_close(&topic);
    }
    return 1;
}

/* Close the messages drain_broker held; every stream has been flushed
 * since, so none still writes from them. */
static void
release_held(struct worker *w)
{
    while (w->nheld > 0)
        zmq_msg_close(&w->held[--w->nheld]);
}

/* ---- timers and signals -------------------------------------------------- */

static void
sweep(struct worker *w)
{
    int64_t hb = (int64_t)w->cfg->heartbeat * 1000;

    for (struct sse_stream *s = w->streams, *next; s != NULL; s = next) {
        next = s->next;
        switch (s->state) {
        case SSE_STREAM_OPEN:
            if (s->status && w->now >= s->deadline_ms) {
                s->status = 0;
                reply_error(w, s, 0, 503, "Service Unavailable", "",
                            "the broker did not answer");
                mark_dirty(w, s);
                break;
            }
            if (s->poll && s->deadline_ms != 0 && w->now >= s->deadline_ms) {
                /* A long poll that saw nothing answers empty. */
                poll_reply(w, s);
                break;
            }
            if (s->pending && s->poll && w->now - s->asked_ms >= ASK_MS) {
                ask_broker(w, s);
            } else if (s->pending && w->now - s->asked_ms >= ASK_MS) {
                /* The broker is away: open anyway, so the browser does not
                 * give up, and keep asking. */
                if (!s->opened) {
                    log_warnx("stream=%" PRIu64 " opened before the broker "
                              "answered", s->id);
                    /* Sequence numbers follow the broker's clock in us:
                     * once it answers, replay from the moment the browser
                     * saw the stream open. */
                    if (s->last_seq == 0 && s->last_event_id == NULL) {
                        s->last_seq = sse_clock_wall_us();
                        s->guessed = 1;
                    }
                }
                open_response(w, s);
                ask_broker(w, s);
            }
            if (s->deadline_ms != 0 && w->now >= s->deadline_ms) {
                log_debug("stream=%" PRIu64 " lifetime over", s->id);
                stream_finish(w, s);
            } else if (s->opened && w->now - s->last_queued_ms >= hb) {
                (void)queue(w, s, comment_ping, sizeof(comment_ping) - 1);
            }
            break;
        case SSE_STREAM_ENDING:
        case SSE_STREAM_LINGER:
            if (w->now >= s->deadline_ms)
                stream_kill(w, s, s->state == SSE_STREAM_ENDING ?
                            "could not drain" : "ended");
            break;
        case SSE_STREAM_DONE:
            break;
        }
    }
}

static void
report_key(const char *key, size_t len, size_t count, void *arg)
{
    struct worker *w = arg;

    if (sse_wire_report_key(&w->frame, key, len, (uint32_t)count) == 0)
        w->report_keys++;
}

/* Tell the broker how many streams this worker holds, per key, for
 * sse-push --stats. */
static void
send_report(struct worker *w)
{
    sse_buf_clear(&w->frame);
    w->report_keys = 0;
    if (sse_wire_report_begin(&w->frame, w->worker_id, (uint32_t)getpid(),
                              (uint32_t)w->nopen) != 0)
        return;
    sse_hub_each_key(w->hub, report_key, w);
    sse_wire_report_end(&w->frame, 0, w->report_keys);
    if (broker_send(w, sse_buf_head(&w->frame), sse_buf_len(&w->frame)) < 0)
        log_debug("report not sent: %s", zmq_strerror(zmq_errno()));
}

static void
begin_stop(struct worker *w)
{
    if (w->stopping)
        return;
    log_info("stopping: ending %zu streams", w->nopen);
    w->stopping = 1;
    w->stop_deadline = w->now + STOP_MS;
    for (struct sse_stream *s = w->streams, *next; s != NULL; s = next) {
        next = s->next;
        stream_finish(w, s);
    }
}

static void
on_signal(struct worker *w)
{
    struct signalfd_siginfo si;

    while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        begin_stop(w);
}

/* ---- setup and the loop ---------------------------------------------- */

static void
add_fd(struct worker *w, int fd, void *tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        fatal("epoll_ctl");
}

/* Signals are blocked in every thread and read from a signalfd by the
 * loop; this must run before any thread starts. */
static int
take_signals(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        fatalx("pthread_sigmask failed");
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Size the process's fd table for as many fds as it may open, while it
 * still has one thread. The kernel grows the table by doubling (64, 128,
 * 256... fds), and once libzmq's threads share it each growth waits for an
 * RCU grace period: 5-15 ms here, a stall of the whole worker in the
 * middle of a burst of new streams. The table is kernel memory, 8 bytes
 * per fd, and never shrinks. */
static void
size_fd_table(int any_fd)
{
    struct rlimit rl;
    int top, fd;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 2)
        return;
    top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_TABLE_MAX ?
        FD_TABLE_MAX : (int)rl.rlim_cur;
    if ((fd = fcntl(any_fd, F_DUPFD_CLOEXEC, top - 1)) >= 0)
        close(fd);
}

static void
worker_init(struct worker *w, const struct sse_worker_config *cfg, int cgi)
{
    const char *ipc = sse_config_ipc_path(cfg->pub_endpoint);
    int hwm = SUB_HWM, linger = 0, zfd;
    size_t zfdlen = sizeof(zfd);
    struct stat st;

    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->cgi = cgi;
    w->listen_fd = -1;
    w->now = sse_clock_mono_ms();
    w->next_sweep = w->now + SWEEP_MS;
    if ((w->sig_fd = take_signals()) < 0)
        fatal("signalfd");
    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        fatal("epoll_create1");
    add_fd(w, w->sig_fd, &tag_signal);

    /* Before zmq_ctx_new starts threads. A CGI worker holds one stream. */
    if (!cgi)
        size_fd_table(w->ep);
    w->zctx = zmq_ctx_new();
    if (w->zctx == NULL)
        fatalx("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    w->sub = zmq_socket(w->zctx, ZMQ_XSUB);
    if (w->sub == NULL)
        fatalx("zmq_socket: %s", zmq_strerror(zmq_errno()));
    zmq_setsockopt(w->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(w->sub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(w->sub, ZMQ_LINGER, &linger, sizeof(linger));
    if (cfg->curve_server != NULL) {
        char err[256];

        if (sse_curve_client(w->sub, cfg->curve_server, cfg->curve_key, err,
                             sizeof(err)) != 0)
            fatalx("%s", err);
    }
    if (zmq_connect(w->sub, cfg->pub_endpoint) != 0)
        fatalx("cannot connect to %s: %s", cfg->pub_endpoint,
               zmq_strerror(zmq_errno()));
    if (ipc != NULL && stat(ipc, &st) != 0)
        log_warnx("broker not running at %s yet; will keep trying",
                  cfg->pub_endpoint);
    /* Broadcasts reach every stream, so every worker takes them; the
     * worker's own topic brings the broker's answers. */
    subscribe(w, 1, NULL, 0);
    if (getrandom(&w->worker_id, sizeof(w->worker_id), 0) !=
        (ssize_t)sizeof(w->worker_id))
        fatal("getrandom");
    w->topic_len = sse_key_topic_worker(w->worker_id, w->topic);
    send_sub(w, 1, w->topic, w->topic_len);
    sse_buf_init(&w->frame, 0);
    if (zmq_getsockopt(w->sub, ZMQ_FD, &zfd, &zfdlen) != 0)
        fatalx("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(zmq_errno()));
    add_fd(w, zfd, &tag_zmq);
    w->hub = sse_hub_new(on_first_sub, on_last_sub, w);
}

static void
worker_free(struct worker *w)
{
    int linger = 200;

    while (w->pending != NULL)
        pending_drop(w, w->pending, 1);
    while (w->streams != NULL)
        stream_kill(w, w->streams, "worker exit");
    w->dirty = NULL;
    reap(w);
    /* The last word, given a moment to leave: this worker holds nothing. */
    send_report(w);
    zmq_setsockopt(w->sub, ZMQ_LINGER, &linger, sizeof(linger));
    sse_hub_destroy(&w->hub);
    sse_buf_free(&w->frame);
    zmq_close(w->sub);
    zmq_ctx_term(w->zctx);
    close(w->ep);
    close(w->sig_fd);
}

static int
done(const struct worker *w)
{
    if (w->cgi)
        return w->nstreams == 0;
    return w->stopping && (w->nstreams == 0 || w->now >= w->stop_deadline);
}

static void
run(struct worker *w)
{
    struct epoll_event evs[256];
    int more = 0;

    while (!done(w)) {
        int64_t until = w->accept_resume != 0 &&
            w->accept_resume < w->next_sweep ? w->accept_resume :
            w->next_sweep;
        /* Sends after this turn's drain (a report, a sweep's asks) may
         * have taken ZMQ_FD's signal: look again at once. */
        int timeout = more || w->zmq_due ? 0 : (int)(until - w->now);
        int n = epoll_wait(w->ep, evs, 256, timeout < 0 ? 0 : timeout);

        if (n < 0 && errno != EINTR)
            fatal("epoll_wait");
        w->now = sse_clock_mono_ms();
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;

            if (tag == &tag_listen)
                on_listen(w);
            else if (tag == &tag_signal)
                on_signal(w);
            else if (tag == &tag_zmq)
                w->zmq_due = 1;
            else if ((uintptr_t)tag & PENDING)
                pending_read(w, (struct pending *)(void *)
                             ((char *)tag - PENDING));
            else
                on_stream_event(w, tag, evs[i].events);
        }
        /* ZMQ_FD only signals a change of state: drain when it fired, after
         * a send (see broker_send), or while a batch left more behind.
         * An empty drain still costs libzmq a getpid and a poll. */
        if (w->zmq_due || more) {
            w->zmq_due = 0;
            more = drain_broker(w);
        }
        flush_dirty(w);
        release_held(w);
        if (w->now >= w->next_report) {
            send_report(w);
            w->next_report = w->now + REPORT_MS;
        }
        resume_accepting(w);
        if (w->now >= w->next_sweep) {
            sweep(w);
            sweep_pending(w);
            flush_dirty(w);
            w->next_sweep = w->now + SWEEP_MS;
        }
        reap(w);
    }
}

int
sse_worker_run_fcgi(const struct sse_worker_config *cfg, int listen_fd)
{
    struct worker w;

    worker_init(&w, cfg, 0);
    /* Non-blocking: workers sharing one socket all wake for a connection
     * and all but one find nothing to accept. */
    if (set_nonblock(listen_fd, 1) != 0)
        fatal("making the FastCGI socket non-blocking");
    w.listen_fd = listen_fd;
    w.web_server_addrs = getenv("FCGI_WEB_SERVER_ADDRS");
    add_fd(&w, listen_fd, &tag_listen);
    log_info("worker ready pid=%ld broker=%s", (long)getpid(),
             cfg->pub_endpoint);
    run(&w);
    log_info("worker stopped");
    worker_free(&w);
    return 0;
}

int
sse_worker_run_cgi(const struct sse_worker_config *cfg)
{
    struct worker w;

    worker_init(&w, cfg, 1);
    open_stream(&w, sse_request_from_env(), 0);
    flush_dirty(&w);
    reap(&w);
    run(&w);
    worker_free(&w);
    return 0;
}
