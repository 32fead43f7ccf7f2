/*
 * sse-broker: the long-lived forwarder between publishers and workers.
 *
 * sse-push connects a DEALER to the broker's ROUTER socket and sends
 * publish frames; the broker checks each, encodes the event once into the
 * exact bytes streams send, puts it on its XPUB socket under the key's topic,
 * and only then acknowledges it. Workers connect SUB sockets to the XPUB
 * side; their subscriptions travel to the broker, so each worker receives
 * only the keys its clients hold. XPUB_NODROP turns a full subscriber queue
 * into a refusal the publisher sees, never a silent drop.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sse_buf.h"
#include "sse_cli.h"
#include "sse_clock.h"
#include "sse_config.h"
#include "sse_curve.h"
#include "sse_event.h"
#include "sse_history.h"
#include "sse_ipc.h"
#include "sse_key.h"
#include "sse_log.h"
#include "sse_map.h"
#include "sse_opt.h"
#include "sse_wire.h"
#include "sse_xmalloc.h"

#define SEND_WAIT_MS 1000   /* ms a full worker queue may delay an event */
#define PUBLISH_BATCH 256   /* publications taken per wake-up, before the
                             * workers' requests are looked at again */

enum {
    O_RUNDIR, O_PUB, O_PUSH, O_MODE, O_DATAMAX, O_HWM, O_HISTORY,
    O_HISTORY_AGE, O_HISTORY_BYTES, O_STATE, O_CURVE_SECRET, O_CURVE_CLIENTS,
    O_KEYGEN, O_LOGLEVEL, O_CHECK, O_HELP, O_VERSION, O_COUNT
};

static const struct sse_opt opts[O_COUNT] = {
    [O_RUNDIR] = SSE_CLI_RUNDIR,
    [O_PUB] = { "pub-endpoint", 0, SSE_OPT_STR, "SSE_PUB_ENDPOINT", 0, 0,
        "EP", "where workers subscribe (default ipc://RUNDIR/pub.sock)" },
    [O_PUSH] = { "push-endpoint", 0, SSE_OPT_STR, "SSE_PUSH_ENDPOINT", 0, 0,
        "EP", "where sse-push publishes (default ipc://RUNDIR/push.sock)" },
    [O_MODE] = { "socket-mode", 0, SSE_OPT_STR, "SSE_SOCKET_MODE", 0, 0,
        "OCTAL", "permissions of ipc socket files (default 0660)" },
    [O_DATAMAX] = SSE_CLI_DATA_MAX,
    [O_HWM] = { "hwm", 0, SSE_OPT_NUM, "SSE_HWM", 1, 100000000, "N",
        "events queued per worker before publishers are refused "
        "(default 100000)" },
    [O_HISTORY] = { "history", 0, SSE_OPT_NUM, "SSE_HISTORY", 1, 1000000,
        "N", "events kept per key for replay (default 100)" },
    [O_HISTORY_AGE] = { "history-age", 0, SSE_OPT_NUM, "SSE_HISTORY_AGE", 0,
        31536000, "SECONDS", "how long events are kept (default 3600; 0: "
        "no limit)" },
    [O_HISTORY_BYTES] = { "history-bytes", 0, SSE_OPT_NUM,
        "SSE_HISTORY_BYTES", 0, (1LL << 40), "BYTES", "bytes of events kept "
        "in all (default 67108864; 0: no limit)" },
    [O_STATE] = { "state", 0, SSE_OPT_STR, "SSE_STATE", 0, 0, "FILE",
        "keep the history in FILE across restarts" },
    [O_CURVE_SECRET] = { "curve-secret", 0, SSE_OPT_STR, "SSE_CURVE_SECRET",
        0, 0, "FILE", "encrypt with CURVE, this key pair (from --keygen)" },
    [O_CURVE_CLIENTS] = { "curve-clients", 0, SSE_OPT_STR,
        "SSE_CURVE_CLIENTS", 0, 0, "DIR", "with --curve-secret, accept only "
        "clients whose public key is a *.pub file in DIR" },
    [O_KEYGEN] = { "keygen", 0, SSE_OPT_STR, NULL, 0, 0, "FILE",
        "write a new CURVE key pair to FILE and FILE.pub, and exit" },
    [O_LOGLEVEL] = SSE_CLI_LOG_LEVEL,
    [O_CHECK] = SSE_CLI_CHECK,
    [O_HELP] = SSE_CLI_HELP,
    [O_VERSION] = SSE_CLI_VERSION,
};

struct broker {
    void               *ctx;
    void               *router;    /* publishers */
    void               *xpub;      /* workers */
    size_t              data_max;
    uint64_t            instance;  /* random, new at each start */
    uint64_t            next_seq;  /* at least the wall clock in us */
    struct sse_history *history;
    const char         *state;     /* state file, or NULL */
    struct sse_buf      sse;       /* scratch: an event's bytes */
    struct sse_buf      frame;     /* scratch: a frame */
    unsigned long       published; /* events accepted, for the exit log */
    unsigned long       refused;
    unsigned long       replays;
    struct report      *reports;   /* one per worker heard from */
    void               *zap;       /* ZAP handler, with --curve-clients */
    unsigned char     (*clients)[32]; /* allowed client public keys */
    size_t              nclients;
};

#define REPLAY_MAX (16 * 1024 * 1024)   /* bytes in one replay answer */
#define REPORT_STALE_MS 7000   /* a worker silent this long holds nothing */

/* The latest report of one worker: its counts, per key. */
struct report {
    struct report *next;
    uint64_t       worker;
    uint32_t       pid;
    uint32_t       streams;
    int64_t        seen_ms;
    size_t         len;
    unsigned char *frame;       /* the report as received */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const struct sse_cli cli = {
    .prog = "sse-broker",
    .synopsis = "usage: sse-broker [options]\n"
        "Forward events from sse-push to the sse-fcgi workers.\n",
    .opts = opts, .nopts = O_COUNT,
    .help = O_HELP, .version = O_VERSION, .log_level = O_LOGLEVEL,
};

/* Bind sock to endpoint. For ipc, refuse to steal a live broker's socket,
 * remove a stale one, and set the file's mode. */
static void
bind_endpoint(void *sock, const char *endpoint, mode_t mode)
{
    const char *path = sse_config_ipc_path(endpoint);

    if (path != NULL) {
        if (sse_ipc_probe(path) == 0)
            fatalx("another broker is already listening on %s", endpoint);
        if (unlink(path) != 0 && errno != ENOENT)
            fatal("cannot remove stale socket %s", path);
    }
    if (zmq_bind(sock, endpoint) != 0)
        fatalx("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    if (path != NULL && chmod(path, mode) != 0)
        fatal("chmod %s", path);
}

static void
unlink_ipc(const char *endpoint)
{
    const char *path = sse_config_ipc_path(endpoint);

    if (path != NULL && unlink(path) != 0 && errno != ENOENT)
        log_warn("cannot remove %s", path);
}

/* Create the directory of an ipc endpoint's socket if it is missing. */
static void
make_rundir(const char *endpoint)
{
    const char *path = sse_config_ipc_path(endpoint);
    char *dir, *slash;

    if (path == NULL)
        return;
    dir = xstrdup(path);
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            fatal("cannot create %s (set SSE_RUNDIR or --rundir)", dir);
    }
    free(dir);
}

/* Send b->frame to the publisher behind identity. A publisher that left
 * is no reason to block. Returns 0 or -1. */
static int
send_to_publisher(struct broker *b, zmq_msg_t *identity)
{
    if (zmq_msg_send(identity, b->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(b->router, sse_buf_head(&b->frame), sse_buf_len(&b->frame),
                 ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

static void
reply(struct broker *b, zmq_msg_t *identity, uint32_t seq, int status,
      const char *reason)
{
    struct sse_wire_ack ack = {
        .seq = seq, .status = status, .reason = reason,
        .reason_len = reason != NULL ? strlen(reason) : 0,
    };

    sse_buf_clear(&b->frame);
    if (sse_wire_ack_encode(&ack, &b->frame) != 0)
        return;
    if (send_to_publisher(b, identity) != 0)
        log_debug("ack seq=%u not sent: %s", seq, zmq_strerror(zmq_errno()));
}

/* Send [topic][data] on the XPUB side. Returns 0, or -1 if a worker's
 * queue stayed full (nothing was sent). */
static int
xpub_send(struct broker *b, const char *topic, size_t tlen, const void *data,
          size_t len)
{
    struct timespec pause = { 0, 1000 * 1000 };
    int waited = 0;

    while (zmq_send(b->xpub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EINTR && !stop)
            continue;
        /* XPUB_NODROP: a worker's queue is full. Give it a moment to drain
         * rather than drop the event; XPUB never reports POLLOUT as false,
         * so wait by the clock. */
        if (zmq_errno() != EAGAIN || waited >= SEND_WAIT_MS || stop)
            return -1;
        nanosleep(&pause, NULL);
        waited++;
    }
    /* Once the first frame is queued the rest of the message follows. */
    while (zmq_send(b->xpub, data, len, 0) < 0) {
        if (zmq_errno() != EINTR)
            fatalx("sending to workers: %s", zmq_strerror(zmq_errno()));
    }
    return 0;
}

/* Sequence numbers follow the wall clock in microseconds, so they stay
 * ordered across restarts even without a state file. */
static uint64_t
take_seq(struct broker *b)
{
    uint64_t now = sse_clock_wall_us(), seq;

    seq = now > b->next_seq ? now : b->next_seq;
    b->next_seq = seq + 1;
    return seq;
}

/* With --if-changed: 1 if the event is the key's latest again (same
 * fields and data, and the same id unless the publisher gave a new one). */
static int
unchanged(struct broker *b, const struct sse_wire_publish *m)
{
    const struct sse_history_event *last;
    const unsigned kind = SSE_WIRE_CLOSE | SSE_WIRE_ALL;
    struct sse_event ev = m->ev;

    if (!(m->flags & SSE_WIRE_IF_CHANGED) ||
        (last = sse_history_latest(b->history, m->key != NULL ? m->key : "",
                                   m->key_len)) == NULL ||
        (last->flags & kind) != (m->flags & kind))
        return 0;
    if (ev.id == NULL) {
        ev.id = last->id;
        ev.id_len = last->id_len;
    }
    sse_buf_clear(&b->sse);
    return sse_event_encode(&ev, &b->sse) == 0 &&
        sse_buf_len(&b->sse) == last->len &&
        memcmp(sse_buf_head(&b->sse), last->sse, last->len) == 0;
}

/* The decimal digits of v into buf (at least 20 bytes, not terminated);
 * returns their number. snprintf costs more than the rest of an event. */
static size_t
decimal(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    memcpy(buf, tmp + sizeof(tmp) - n, n);
    return n;
}

/* Give the event its sequence number and id, keep it, and put it on the
 * XPUB side. Returns 0, 1 if --if-changed found it unchanged (nothing
 * sent), or -1 if a worker's queue stayed full. */
static int
forward(struct broker *b, const struct sse_wire_publish *m)
{
    char topic[SSE_TOPIC_MAX], idbuf[24];
    size_t tlen = (m->flags & SSE_WIRE_ALL) ? sse_key_topic_all(topic) :
        sse_key_topic(m->key, m->key_len, topic);
    struct sse_event ev = m->ev;
    struct sse_wire_deliver d;
    struct sse_history_event he;
    unsigned flags = m->flags & (SSE_WIRE_CLOSE | SSE_WIRE_ALL);
    uint64_t seq;

    if (unchanged(b, m))
        return 1;
    seq = take_seq(b);

    if (ev.id == NULL) {
        ev.id = idbuf;
        ev.id_len = decimal(idbuf, seq);
    }
    d.flags = flags;
    d.instance = b->instance;
    d.seq = seq;
    /* The event is encoded once, straight into the frame the workers get;
     * the history keeps its own copy of those bytes. */
    sse_buf_clear(&b->frame);
    if (sse_wire_deliver_head(&d, &b->frame) != 0 ||
        sse_event_encode(&ev, &b->frame) != 0)
        return -1;
    d.sse = sse_buf_head(&b->frame) + SSE_WIRE_DELIVER_HEAD;
    d.len = sse_buf_len(&b->frame) - SSE_WIRE_DELIVER_HEAD;
    if (xpub_send(b, topic, tlen, sse_buf_head(&b->frame),
                  sse_buf_len(&b->frame)) != 0)
        return -1;
    he.seq = seq;
    he.time_ms = sse_clock_wall_ms();
    he.flags = flags;
    he.id = ev.id;
    he.id_len = ev.id_len;
    he.sse = d.sse;
    he.len = d.len;
    sse_history_add(b->history, m->key != NULL ? m->key : "", m->key_len,
                    &he);
    return 0;
}

static int encode_counts(struct broker *b, uint32_t seq, const char *key,
                         size_t len);

/* sse-push --stats: answer with the workers' latest counts. */
static void
answer_stats(struct broker *b, zmq_msg_t *identity, zmq_msg_t *body)
{
    const char *key, *topic;
    size_t len, tlen;
    uint32_t seq;

    if (sse_wire_stats_decode(zmq_msg_data(body), zmq_msg_size(body), &seq,
                              &key, &len, &topic, &tlen) != 0) {
        reply(b, identity, 0, SSE_WIRE_INVALID, "malformed stats request");
        return;
    }
    if (encode_counts(b, seq, key, len) != 0 ||
        send_to_publisher(b, identity) != 0)
        log_debug("stats answer not sent: %s", zmq_strerror(zmq_errno()));
}

/* Take one publication from the ROUTER socket, forward it and answer it.
 * Returns 1 if a message was taken, 0 if none was waiting. */
static int
on_publish(struct broker *b)
{
    zmq_msg_t identity, body;
    struct sse_wire_publish m;
    const char *reason = NULL;
    int malformed = 0, took = 0;

    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&identity, b->router, ZMQ_DONTWAIT) < 0)
        goto out;
    took = 1;
    if (!zmq_msg_more(&identity) ||
        zmq_msg_recv(&body, b->router, ZMQ_DONTWAIT) < 0)
        goto out;
    while (zmq_msg_more(&body)) {
        /* One frame per publication: anything more is malformed. */
        malformed = 1;
        if (zmq_msg_recv(&body, b->router, ZMQ_DONTWAIT) < 0)
            goto out;
    }
    memset(&m, 0, sizeof(m));
    if (!malformed && zmq_msg_size(&body) >= 2 &&
        ((const char *)zmq_msg_data(&body))[1] == 'S') {
        answer_stats(b, &identity, &body);
        goto out;
    }
    if (malformed) {
        reason = "malformed publish message";
    } else if (sse_wire_publish_decode(zmq_msg_data(&body),
                                       zmq_msg_size(&body), &m, b->data_max,
                                       &reason) == 0) {
        int rc = forward(b, &m);

        if (rc == 1) {
            reply(b, &identity, m.seq, SSE_WIRE_UNCHANGED,
                  "the same as the latest event");
            goto out;
        }
        if (rc == 0) {
            b->published++;
            reply(b, &identity, m.seq, SSE_WIRE_OK, NULL);
            log_debug("published seq=%u key=%.*s bytes=%zu", m.seq,
                      (int)m.key_len, m.key != NULL ? m.key : "",
                      m.ev.data_len);
            goto out;
        }
        b->refused++;
        log_warnx("event refused: a worker's queue is full");
        reply(b, &identity, m.seq, SSE_WIRE_UNAVAILABLE,
              "a worker's queue is full");
        goto out;
    }
    /* The seq is only known when the frame got that far; 0 otherwise. */
    b->refused++;
    log_info("publication refused: %s", reason);
    reply(b, &identity, m.seq, SSE_WIRE_INVALID, reason);
out:
    zmq_msg_close(&body);
    zmq_msg_close(&identity);
    return took;
}

/* Answer on a worker's topic: the events after the point it names, or a
 * hello (req 0, no events) when it has just (re)connected. */
static void
answer(struct broker *b, const char *topic, size_t tlen,
       const struct sse_wire_replay *r)
{
    struct sse_wire_replayed h = {
        .instance = b->instance, .req = r != NULL ? r->req : 0,
        .seq_now = b->next_seq - 1,
    };
    struct sse_history_replay rep = { 0 };
    struct sse_wire_item *items = NULL;

    if (r != NULL && r->after == SSE_WIRE_AFTER_LATEST) {
        /* Each key's latest event, oldest first; nothing is missed. */
        sse_history_expire(b->history, sse_clock_wall_ms());
        items = xcalloc(r->nkeys + 1, sizeof(*items));
        for (size_t i = 0; i < r->nkeys; i++) {
            const struct sse_history_event *e =
                sse_history_latest(b->history, r->keys[i], r->key_lens[i]);
            size_t j = rep.n++;

            if (e == NULL) {
                rep.n--;
                continue;
            }
            /* Insertion keeps the few items in sequence order. */
            while (j > 0 && items[j - 1].seq > e->seq) {
                items[j] = items[j - 1];
                j--;
            }
            items[j].flags = e->flags;
            items[j].seq = e->seq;
            items[j].sse = e->sse;
            items[j].len = e->len;
        }
    } else if (r != NULL && r->after != SSE_WIRE_AFTER_NONE) {
        sse_history_expire(b->history, sse_clock_wall_ms());
        sse_history_replay(b->history, r->keys, r->key_lens, r->nkeys,
                           r->after == SSE_WIRE_AFTER_ID ? r->after_id : NULL,
                           r->after_id_len, r->after_seq, REPLAY_MAX, &rep);
        items = xcalloc(rep.n + 1, sizeof(*items));
        for (size_t i = 0; i < rep.n; i++) {
            items[i].flags = rep.events[i]->flags;
            items[i].seq = rep.events[i]->seq;
            items[i].sse = rep.events[i]->sse;
            items[i].len = rep.events[i]->len;
        }
        h.flags = rep.missed ? SSE_WIRE_MISSED : 0;
        b->replays++;
        log_debug("replay req=%" PRIu64 " events=%zu missed=%d", h.req,
                  rep.n, rep.missed);
    }
    sse_buf_clear(&b->frame);
    if (sse_wire_replayed_encode(&h, items, rep.n, &b->frame) != 0 ||
        xpub_send(b, topic, tlen, sse_buf_head(&b->frame),
                  sse_buf_len(&b->frame)) != 0)
        log_warnx("could not answer a worker (its queue is full); it will "
                  "ask again");
    free(items);
    sse_history_replay_free(&rep);
}

/* Keep a worker's latest report, replacing its previous one. */
static void
keep_report(struct broker *b, const void *frame, size_t n)
{
    struct sse_wire_report r;
    struct report **rp, *rep;

    if (sse_wire_report_decode(frame, n, &r) != 0) {
        log_warnx("malformed report from a worker, ignored");
        return;
    }
    for (rp = &b->reports; *rp != NULL; rp = &(*rp)->next)
        if ((*rp)->worker == r.worker)
            break;
    if ((rep = *rp) == NULL) {
        rep = *rp = xcalloc(1, sizeof(*rep));
        rep->worker = r.worker;
    }
    free(rep->frame);
    rep->frame = xmalloc(n);
    memcpy(rep->frame, frame, n);
    rep->len = n;
    rep->pid = r.pid;
    rep->streams = r.streams;
    rep->seen_ms = sse_clock_mono_ms();
}

static void
drop_stale_reports(struct broker *b)
{
    int64_t now = sse_clock_mono_ms();

    for (struct report **rp = &b->reports, *rep; (rep = *rp) != NULL;) {
        if (now - rep->seen_ms > REPORT_STALE_MS || rep->streams == 0) {
            *rp = rep->next;
            free(rep->frame);
            free(rep);
        } else {
            rp = &rep->next;
        }
    }
}

/* Streams of key[0..len) in one worker's report. */
static uint32_t
report_count(const struct report *rep, const char *key, size_t len)
{
    struct sse_wire_report r;
    const char *k;
    size_t klen;
    uint32_t n, total = 0;

    (void)sse_wire_report_decode(rep->frame, rep->len, &r);
    while (sse_wire_report_next(&r, &k, &klen, &n) == 1)
        if (klen == len && memcmp(k, key, len) == 0)
            total += n;
    return total;
}

struct key_total {
    struct sse_map_node node;
    uint32_t            streams;
};

/* The counts as JSON: every worker's streams, and per key (all keys, or
 * the one asked for). */
static void
counts_json(struct broker *b, const char *key, size_t len, struct sse_buf *out)
{
    struct sse_map keys;
    struct sse_map_node *n, *next;
    size_t pos = 0;
    uint32_t total = 0;
    char num[64];
    int first = 1;

    drop_stale_reports(b);
    for (struct report *rep = b->reports; rep != NULL; rep = rep->next)
        total += key != NULL ? report_count(rep, key, len) : rep->streams;
    if (key != NULL) {
        (void)sse_buf_puts(out, "{\"key\":");
        (void)sse_json_string(key, len, out);
        (void)sse_buf_puts(out, ",");
    } else {
        (void)sse_buf_puts(out, "{");
    }
    snprintf(num, sizeof(num), "\"streams\":%" PRIu32 ",\"workers\":[",
             total);
    (void)sse_buf_puts(out, num);
    for (struct report *rep = b->reports; rep != NULL; rep = rep->next) {
        snprintf(num, sizeof(num), "%s{\"pid\":%" PRIu32 ",\"streams\":%"
                 PRIu32 "}", first ? "" : ",", rep->pid,
                 key != NULL ? report_count(rep, key, len) : rep->streams);
        (void)sse_buf_puts(out, num);
        first = 0;
    }
    (void)sse_buf_puts(out, "]");
    if (key != NULL) {
        (void)sse_buf_puts(out, "}\n");
        return;
    }
    /* Every key: add up the workers' counts in a map. */
    sse_map_init(&keys);
    for (struct report *rep = b->reports; rep != NULL; rep = rep->next) {
        struct sse_wire_report r;
        const char *k;
        size_t klen;
        uint32_t c;

        (void)sse_wire_report_decode(rep->frame, rep->len, &r);
        while (sse_wire_report_next(&r, &k, &klen, &c) == 1) {
            struct sse_map_node *found = sse_map_find(&keys, k, klen);
            struct key_total *t;

            if (found == NULL) {
                /* The key points into rep->frame, which outlives the map. */
                t = xcalloc(1, sizeof(*t));
                sse_map_insert(&keys, &t->node, k, klen);
            } else {
                t = sse_map_entry(found, struct key_total, node);
            }
            t->streams += c;
        }
    }
    (void)sse_buf_puts(out, ",\"keys\":{");
    first = 1;
    for (n = sse_map_next(&keys, NULL, &pos); n != NULL; n = next) {
        struct key_total *t = sse_map_entry(n, struct key_total, node);

        next = sse_map_next(&keys, n, &pos);
        if (!first)
            (void)sse_buf_puts(out, ",");
        first = 0;
        (void)sse_json_string(n->key, n->len, out);
        snprintf(num, sizeof(num), ":%" PRIu32, t->streams);
        (void)sse_buf_puts(out, num);
        free(t);
    }
    sse_map_free(&keys);
    (void)sse_buf_puts(out, "}}\n");
}

/* Put the counts answer for request seq (key NULL: every key) in
 * b->frame. Returns 0 or -1. */
static int
encode_counts(struct broker *b, uint32_t seq, const char *key, size_t len)
{
    struct sse_buf json;
    int rc;

    sse_buf_init(&json, 0);
    counts_json(b, key, len, &json);
    sse_buf_clear(&b->frame);
    rc = sse_wire_counts_encode(seq, sse_buf_head(&json), sse_buf_len(&json),
                                &b->frame);
    sse_buf_free(&json);
    return rc;
}

/* A worker's status page asked for the counts: answer on its topic. */
static void
status_for_worker(struct broker *b, const void *frame, size_t n)
{
    const char *key, *topic;
    size_t len, tlen;
    uint32_t seq;

    if (sse_wire_stats_decode(frame, n, &seq, &key, &len, &topic, &tlen) != 0
        || !sse_key_topic_is_worker(topic, tlen)) {
        log_warnx("malformed stats request from a worker, ignored");
        return;
    }
    if (encode_counts(b, seq, key, len) != 0 ||
        xpub_send(b, topic, tlen, sse_buf_head(&b->frame),
                  sse_buf_len(&b->frame)) != 0)
        log_warnx("could not answer a worker's stats request");
}

/* Messages from workers arrive on XPUB: subscriptions (first byte 1 or 0)
 * and replay requests, in the order each worker sent them. */
static void
on_worker(struct broker *b)
{
    zmq_msg_t msg;

    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, b->xpub, ZMQ_DONTWAIT) >= 0) {
        const char *p = zmq_msg_data(&msg);
        size_t n = zmq_msg_size(&msg);
        struct sse_wire_replay r;
        const char *key;
        size_t klen;

        if (n >= 1 && (p[0] == 0 || p[0] == 1)) {
            if (p[0] == 1 && sse_key_topic_is_worker(p + 1, n - 1))
                answer(b, p + 1, n - 1, NULL);
            else if (sse_key_from_topic(p + 1, n - 1, &key, &klen) == 1)
                log_debug("%s key=%.*s", p[0] ? "subscribe" : "unsubscribe",
                          (int)klen, key);
        } else if (n >= 2 && p[0] == SSE_WIRE_VERSION && p[1] == 'W') {
            keep_report(b, p, n);
        } else if (n >= 2 && p[0] == SSE_WIRE_VERSION && p[1] == 'S') {
            status_for_worker(b, p, n);
        } else if (sse_wire_replay_decode(p, n, &r) == 0 &&
                   sse_key_topic_is_worker(r.topic, r.topic_len)) {
            answer(b, r.topic, r.topic_len, &r);
        } else {
            log_warnx("malformed message from a worker, ignored");
        }
    }
    zmq_msg_close(&msg);
}

/* Write the history to the state file: a new file, synced, then renamed
 * over the old one, so a crash leaves one whole file or the other. */
static void
save_state(struct broker *b, int clean)
{
    struct sse_buf out;
    char *tmp;
    FILE *fp;
    int ok;

    if (b->state == NULL)
        return;
    sse_buf_init(&out, 0);
    (void)sse_history_save(b->history, b->next_seq, clean, &out);
    tmp = xmalloc(strlen(b->state) + 5);
    sprintf(tmp, "%s.new", b->state);
    if ((fp = fopen(tmp, "wb")) == NULL) {
        log_warn("cannot write %s", tmp);
        goto out;
    }
    ok = fwrite(sse_buf_head(&out), 1, sse_buf_len(&out), fp) ==
        sse_buf_len(&out);
    ok = fflush(fp) == 0 && ok && fsync(fileno(fp)) == 0;
    if (fclose(fp) != 0 || !ok || rename(tmp, b->state) != 0) {
        log_warn("cannot write %s", b->state);
        unlink(tmp);
        goto out;
    }
    log_debug("state saved events=%zu clean=%d", sse_history_count(b->history),
              clean);
out:
    free(tmp);
    sse_buf_free(&out);
}

/* Load the state file if there is one. A file written by a broker that
 * did not stop cleanly lacks the events it took after; streams older than
 * this start are then told they may have missed some. */
static void
load_state(struct broker *b, uint64_t start)
{
    struct sse_buf in;
    char chunk[65536];
    const char *reason;
    uint64_t next = 0;
    int clean = 0;
    size_t n;
    FILE *fp;

    /* Without saved state, nothing from before this start is known. */
    if (b->state == NULL) {
        sse_history_set_gap_below(b->history, start);
        return;
    }
    if ((fp = fopen(b->state, "rb")) == NULL) {
        if (errno != ENOENT)
            fatal("cannot read %s", b->state);
        sse_history_set_gap_below(b->history, start);
        return;
    }
    sse_buf_init(&in, 0);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        (void)sse_buf_append(&in, chunk, n);
    if (ferror(fp))
        fatal("cannot read %s", b->state);
    fclose(fp);
    if (sse_history_load(b->history, sse_buf_head(&in), sse_buf_len(&in),
                         sse_clock_wall_ms(), &next, &clean, &reason) != 0)
        fatalx("%s: %s (move it away to start without it)", b->state, reason);
    sse_buf_free(&in);
    if (next > b->next_seq)
        b->next_seq = next;
    if (!clean)
        sse_history_set_gap_below(b->history, take_seq(b));
    log_info("state loaded from %s events=%zu clean=%d", b->state,
             sse_history_count(b->history), clean);
}

/* Read every *.pub file of dir as an allowed client key. */
static void
load_clients(struct broker *b, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        fatal("cannot read %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[4096], pub[41], sec[41], err[256];

        if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (sse_curve_read(path, pub, sec, err, sizeof(err)) != 0) {
            log_warnx("%s", err);
            continue;
        }
        b->clients = xrealloc(b->clients, (b->nclients + 1) *
                              sizeof(*b->clients));
        zmq_z85_decode(b->clients[b->nclients++], pub);
    }
    closedir(d);
    log_info("CURVE clients allowed: %zu from %s", b->nclients, dir);
}

/* ZAP (ZeroMQ RFC 27): libzmq asks, for every CURVE handshake, whether the
 * client's public key may connect. */
static void
on_zap(struct broker *b)
{
    zmq_msg_t f[7];
    int n = 0, more = 1, ok = 0;

    while (more && n < 7) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], b->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    /* version, request id, domain, address, identity, mechanism, key */
    if (n == 7 && zmq_msg_size(&f[6]) == 32 && zmq_msg_size(&f[5]) == 5 &&
        memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0)
        for (size_t i = 0; i < b->nclients && !ok; i++)
            ok = memcmp(zmq_msg_data(&f[6]), b->clients[i], 32) == 0;
    if (n >= 2) {
        zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(b->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
                 ZMQ_SNDMORE);
        zmq_send(b->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(b->zap, ok ? "OK" : "unknown key", ok ? 2 : 11,
                 ZMQ_SNDMORE);
        zmq_send(b->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(b->zap, "", 0, 0);
    }
    if (!ok)
        log_warnx("CURVE client refused: its key is not in --curve-clients");
    while (more) {      /* drain a malformed request */
        zmq_msg_t x;

        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, b->zap, ZMQ_DONTWAIT) < 0)
            more = 0;
        else
            more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void
set_int(void *sock, int option, int value)
{
    if (zmq_setsockopt(sock, option, &value, sizeof(value)) != 0)
        fatalx("zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
}

int
main(int argc, char **argv)
{
    struct sse_opt_val v[O_COUNT];
    struct broker b;
    struct sigaction sa;
    char *pub, *push;
    long long mode = 0660;

    sse_cli_parse(&cli, argc, argv, v);
    if (v[O_KEYGEN].set) {
        char err[256];

        if (sse_curve_keygen(v[O_KEYGEN].str, err, sizeof(err)) != 0) {
            fprintf(stderr, "sse-broker: %s\n", err);
            return 1;
        }
        printf("wrote %s (secret) and %s.pub\n", v[O_KEYGEN].str,
               v[O_KEYGEN].str);
        return 0;
    }
    if (v[O_CURVE_CLIENTS].set && !v[O_CURVE_SECRET].set) {
        fprintf(stderr, "sse-broker: --curve-clients needs --curve-secret\n");
        return 64;
    }
    if (v[O_MODE].set) {
        char *end;

        errno = 0;
        mode = strtoll(v[O_MODE].str, &end, 8);
        if (errno != 0 || *end != '\0' || end == v[O_MODE].str ||
            mode < 0 || mode > 0777) {
            fprintf(stderr, "sse-broker: --socket-mode '%s' is not an octal "
                    "mode from 0 to 0777\n", v[O_MODE].str);
            return 64;
        }
    }
    pub = sse_config_endpoint(v[O_PUB].str, v[O_RUNDIR].str, SSE_PUB_SOCKET);
    push = sse_config_endpoint(v[O_PUSH].str, v[O_RUNDIR].str,
                               SSE_PUSH_SOCKET);
    memset(&b, 0, sizeof(b));
    b.data_max = v[O_DATAMAX].set ? (size_t)v[O_DATAMAX].num :
        SSE_EVENT_DATA_MAX;
    if (v[O_CHECK].set) {
        printf("pub %s\npush %s\nsocket-mode %04llo\ndata-max %zu\n", pub,
               push, mode, b.data_max);
        free(pub);
        free(push);
        return 0;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    make_rundir(pub);
    make_rundir(push);
    sse_buf_init(&b.frame, 0);
    sse_buf_init(&b.sse, 0);
    {
        struct sse_history_limits lim = {
            .count = v[O_HISTORY].set ? (size_t)v[O_HISTORY].num : 100,
            .age_ms = (v[O_HISTORY_AGE].set ? v[O_HISTORY_AGE].num : 3600) *
                1000,
            .bytes = v[O_HISTORY_BYTES].set ? (size_t)v[O_HISTORY_BYTES].num :
                64 * 1024 * 1024,
        };

        b.history = sse_history_new(&lim, 0);
    }
    b.state = v[O_STATE].set ? v[O_STATE].str : NULL;
    if (getrandom(&b.instance, sizeof(b.instance), 0) !=
        (ssize_t)sizeof(b.instance))
        fatal("getrandom");
    load_state(&b, take_seq(&b));
    /* From here a crash leaves a file marked as not clean. */
    save_state(&b, 0);
    if ((b.ctx = zmq_ctx_new()) == NULL)
        fatalx("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    b.xpub = zmq_socket(b.ctx, ZMQ_XPUB);
    b.router = zmq_socket(b.ctx, ZMQ_ROUTER);
    if (b.xpub == NULL || b.router == NULL)
        fatalx("zmq_socket: %s", zmq_strerror(zmq_errno()));
    set_int(b.xpub, ZMQ_XPUB_NODROP, 1);
    set_int(b.xpub, ZMQ_SNDHWM, v[O_HWM].set ? (int)v[O_HWM].num : 100000);
    set_int(b.xpub, ZMQ_LINGER, 0);
    set_int(b.router, ZMQ_LINGER, 0);
    if (v[O_CURVE_SECRET].set) {
        char err[256];

        /* The ZAP handler must exist before the sockets bind. */
        if (v[O_CURVE_CLIENTS].set) {
            load_clients(&b, v[O_CURVE_CLIENTS].str);
            if ((b.zap = zmq_socket(b.ctx, ZMQ_REP)) == NULL ||
                zmq_bind(b.zap, "inproc://zeromq.zap.01") != 0)
                fatalx("ZAP handler: %s", zmq_strerror(zmq_errno()));
        }
        if (sse_curve_server(b.xpub, v[O_CURVE_SECRET].str, err,
                             sizeof(err)) != 0 ||
            sse_curve_server(b.router, v[O_CURVE_SECRET].str, err,
                             sizeof(err)) != 0)
            fatalx("%s", err);
    }
    bind_endpoint(b.xpub, pub, (mode_t)mode);
    bind_endpoint(b.router, push, (mode_t)mode);
    log_info("broker ready pub=%s push=%s", pub, push);

    while (!stop) {
        zmq_pollitem_t items[3] = {
            { .socket = b.router, .events = ZMQ_POLLIN },
            { .socket = b.xpub, .events = ZMQ_POLLIN },
            { .socket = b.zap, .events = ZMQ_POLLIN },
        };

        if (zmq_poll(items, b.zap != NULL ? 3 : 2, 1000) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fatalx("zmq_poll: %s", zmq_strerror(zmq_errno()));
        }
        if (b.zap != NULL && (items[2].revents & ZMQ_POLLIN))
            on_zap(&b);
        if (items[1].revents & ZMQ_POLLIN)
            on_worker(&b);
        /* A burst from sse-push --lines is taken in one go rather than one
         * zmq_poll per event. */
        if (items[0].revents & ZMQ_POLLIN)
            for (int i = 0; i < PUBLISH_BATCH && !stop && on_publish(&b);
                 i++)
                ;
        sse_history_expire(b.history, sse_clock_wall_ms());
    }
    log_info("broker stopping published=%lu refused=%lu replays=%lu",
             b.published, b.refused, b.replays);
    save_state(&b, 1);
    zmq_close(b.router);
    zmq_close(b.xpub);
    if (b.zap != NULL)
        zmq_close(b.zap);
    free(b.clients);
    zmq_ctx_term(b.ctx);
    /* libzmq leaves bound ipc socket files behind; they are ours. */
    unlink_ipc(pub);
    unlink_ipc(push);
    sse_buf_free(&b.frame);
    sse_buf_free(&b.sse);
    sse_history_destroy(&b.history);
    while (b.reports != NULL) {
        struct report *next = b.reports->next;

        free(b.reports->frame);
        free(b.reports);
        b.reports = next;
    }
    free(pub);
    free(push);
    return 0;
}
