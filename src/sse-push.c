/*
 * sse-push: publish server-sent events from shell scripts.
 *
 *   sse-push [options] KEY [MESSAGE]     one event (MESSAGE or stdin)
 *   sse-push --all [options] [MESSAGE]   to every stream
 *   sse-push --lines KEY < file          one event per line, as they come
 *   sse-push --lines --keyed < file      each line "KEY MESSAGE", any keys
 *
 * Events go to the broker over a DEALER socket, several in flight, and each
 * must be acknowledged: the exit status is 0 only when every event was.
 * Failures print one line on stderr and exit with a <sysexits.h> code.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sse_buf.h"
#include "sse_cli.h"
#include "sse_clock.h"
#include "sse_config.h"
#include "sse_curve.h"
#include "sse_event.h"
#include "sse_ipc.h"
#include "sse_key.h"
#include "sse_log.h"
#include "sse_opt.h"
#include "sse_wire.h"
#include "sse_xmalloc.h"

#define WINDOW 1000     /* events sent but not yet acknowledged */
#define EX_UNCHANGED 1  /* --if-changed found the event unchanged */

enum {
    O_EVENT, O_ID, O_RETRY, O_ALL, O_CLOSE, O_LINES, O_KEYED, O_IF_CHANGED, O_STATS,
    O_TIMEOUT, O_PUSH,
    O_RUNDIR, O_DATAMAX, O_CURVE_SERVER, O_CURVE_KEY, O_LOGLEVEL, O_HELP,
    O_VERSION, O_COUNT
};

static const struct sse_opt opts[O_COUNT] = {
    [O_EVENT] = { "event", 'e', SSE_OPT_STR, NULL, 0, 0, "NAME",
        "event name (the page listens with addEventListener)" },
    [O_ID] = { "id", 'i', SSE_OPT_STR, NULL, 0, 0, "ID", "event id" },
    [O_RETRY] = { "retry", 'r', SSE_OPT_STR, NULL, 0, 0, "MS",
        "reconnection delay for the browser, in ms" },
    [O_ALL] = { "all", 'a', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "send to every stream (no KEY)" },
    [O_CLOSE] = { "close", 'c', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "send a final event named 'close', then end the key's streams" },
    [O_LINES] = { "lines", 'l', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "each line of stdin is one event, sent as it arrives" },
    [O_KEYED] = { "keyed", 'k', SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "with --lines and no KEY: each line is KEY, a space, MESSAGE" },
    [O_IF_CHANGED] = { "if-changed", 0, SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "skip the event if it equals the key's latest (then exit 1)" },
    [O_STATS] = { "stats", 0, SSE_OPT_FLAG, NULL, 0, 0, NULL,
        "print open streams per worker and per key (or of KEY) as JSON" },
    [O_TIMEOUT] = { "timeout", 't', SSE_OPT_NUM, "SSE_PUSH_TIMEOUT", 1,
        3600000, "MS", "how long to wait for the broker (default 5000)" },
    [O_PUSH] = SSE_CLI_PUSH_ENDPOINT,
    [O_RUNDIR] = SSE_CLI_RUNDIR,
    [O_DATAMAX] = SSE_CLI_DATA_MAX,
    [O_CURVE_SERVER] = SSE_CLI_CURVE_SERVER,
    [O_CURVE_KEY] = SSE_CLI_CURVE_KEY,
    [O_LOGLEVEL] = { "log-level", 0, SSE_OPT_STR, "SSE_LOG_LEVEL", 0, 0,
        "LEVEL", "error, warn, info or debug (debug: every acknowledgement)" },
    [O_HELP] = SSE_CLI_HELP,
    [O_VERSION] = SSE_CLI_VERSION,
};

struct push {
    const char     *curve_server; /* broker's public key file, or NULL */
    const char     *curve_key;    /* our key pair file, or NULL */
    void           *ctx;
    void           *sock;        /* DEALER to the broker */
    const char     *endpoint;
    int             timeout;     /* ms */
    size_t          data_max;
    struct sse_wire_publish m;   /* the fields every event shares */
    int             keyed;       /* --keyed: each line names its key */
    uint32_t        next_seq;    /* seq of the next event sent */
    uint32_t        acked;       /* events acknowledged so far */
    struct sse_buf  frame;
};

static const struct sse_cli cli = {
    .prog = "sse-push",
    .synopsis = "usage: sse-push [options] KEY [MESSAGE]\n"
        "       sse-push --all [options] [MESSAGE]\n"
        "       sse-push --lines --keyed [options] < LINES\n"
        "Publish a server-sent event to every stream subscribed to KEY.\n"
        "The message is read from stdin when not given.\n",
    .epilogue = "Exit status: 0 acknowledged, 1 unchanged (--if-changed), "
        "64 usage error,\n65 invalid data, 66 stdin unreadable, 69 broker "
        "unreachable or no\nacknowledgement.\n",
    .opts = opts, .nopts = O_COUNT,
    .help = O_HELP, .version = O_VERSION, .log_level = O_LOGLEVEL,
};

/* The stdin buffer in use, which die() frees: it may exit while reading. */
static char *input_buf;

/* Print one line on stderr and exit with status. */
static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("sse-push: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    free(input_buf);
    exit(status);
}

/* A broker that is not running is known at once for ipc endpoints: say so
 * rather than wait out the timeout. */
static void
check_ipc(const char *endpoint)
{
    const char *path = sse_config_ipc_path(endpoint);
    int err;

    if (path == NULL)
        return;
    if ((err = sse_ipc_probe(path)) == ENAMETOOLONG)
        die(EX_USAGE, "socket path too long in %s", endpoint);
    if (err != 0)
        die(EX_UNAVAILABLE, "broker not reachable at %s: %s", endpoint,
            strerror(err));
}

static void
connect_broker(struct push *p)
{
    int linger = 0, one = 1, hwm = WINDOW * 2;

    check_ipc(p->endpoint);
    if ((p->ctx = zmq_ctx_new()) == NULL ||
        (p->sock = zmq_socket(p->ctx, ZMQ_DEALER)) == NULL)
        die(EX_UNAVAILABLE, "zmq: %s", zmq_strerror(zmq_errno()));
    /* A finite linger, so a dead broker cannot hang the exit; IMMEDIATE, so
     * nothing is queued for a connection that never completes. */
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(p->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (p->curve_server != NULL) {
        char err[256];

        if (sse_curve_client(p->sock, p->curve_server, p->curve_key, err,
                             sizeof(err)) != 0)
            die(EX_USAGE, "%s", err);
    }
    if (zmq_connect(p->sock, p->endpoint) != 0)
        die(EX_USAGE, "invalid endpoint '%s': %s", p->endpoint,
            zmq_strerror(zmq_errno()));
}

static void
disconnect_broker(struct push *p)
{
    if (p->sock != NULL)
        zmq_close(p->sock);
    if (p->ctx != NULL)
        zmq_ctx_term(p->ctx);
    sse_buf_free(&p->frame);
}

/* Read one ack, waiting at most ms. Returns 1 if one was taken, 0 on
 * timeout; exits if the broker refused an event. */
static int
take_ack(struct push *p, int ms)
{
    zmq_pollitem_t item = { .socket = p->sock, .events = ZMQ_POLLIN };
    struct sse_wire_ack a;
    char frame[512];
    int n;

    if (zmq_poll(&item, 1, ms) <= 0)
        return 0;
    n = zmq_recv(p->sock, frame, sizeof(frame), ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    if ((size_t)n > sizeof(frame) ||
        sse_wire_ack_decode(frame, (size_t)n, &a) != 0)
        die(EX_UNAVAILABLE, "malformed reply from the broker at %s",
            p->endpoint);
    if (a.status == SSE_WIRE_UNCHANGED)
        die(EX_UNCHANGED, "not published: the same as the latest event");
    if (a.status == SSE_WIRE_INVALID)
        die(EX_DATAERR, "broker refused the event: %.*s",
            (int)a.reason_len, a.reason);
    if (a.status != SSE_WIRE_OK)
        die(EX_UNAVAILABLE, "broker could not deliver the event: %.*s",
            (int)a.reason_len, a.reason);
    /* Acks come in order; one for an earlier run of seqs cannot occur. */
    p->acked++;
    log_debug("acknowledged seq=%u", a.seq);
    return 1;
}

static uint32_t
outstanding(const struct push *p)
{
    return p->next_seq - 1 - p->acked;
}

/* Wait until every sent event is acknowledged, or fail with 69. */
static void
wait_acks(struct push *p, uint32_t leave)
{
    while (outstanding(p) > leave)
        if (!take_ack(p, p->timeout))
            die(EX_UNAVAILABLE, "no acknowledgement from the broker at %s "
                "within %d ms", p->endpoint, p->timeout);
}

static void
send_event(struct push *p, const char *data, size_t len)
{
    zmq_pollitem_t item = { .socket = p->sock, .events = ZMQ_POLLOUT };
    int64_t deadline = sse_clock_mono_ms() + p->timeout;

    wait_acks(p, WINDOW - 1);
    p->m.seq = p->next_seq;
    p->m.ev.data = data;
    p->m.ev.data_len = len;
    sse_buf_clear(&p->frame);
    if (sse_wire_publish_encode(&p->m, &p->frame) != 0)
        die(EX_DATAERR, "event too large to encode");
    for (;;) {
        int64_t left = deadline - sse_clock_mono_ms();

        if (zmq_send(p->sock, sse_buf_head(&p->frame), sse_buf_len(&p->frame),
                     ZMQ_DONTWAIT) >= 0)
            break;
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            die(EX_UNAVAILABLE, "sending to %s: %s", p->endpoint,
                zmq_strerror(zmq_errno()));
        /* IMMEDIATE: EAGAIN until the connection is up. */
        if (left <= 0 || zmq_poll(&item, 1, (long)left) < 0)
            die(EX_UNAVAILABLE, "broker not reachable at %s within %d ms",
                p->endpoint, p->timeout);
    }
    p->next_seq++;
}


/* Read all of stdin into *out, refusing more than max bytes (plus one line
 * end, which is stripped). */
static size_t
read_stdin(char **out, size_t max)
{
    size_t cap = 4096, len = 0;
    char *buf = input_buf = xmalloc(cap);

    for (;;) {
        ssize_t n;

        if (len == cap) {
            if (cap > max + 2)
                die(EX_DATAERR, "message is longer than %zu bytes", max);
            cap *= 2;
            buf = input_buf = xrealloc(buf, cap);
        }
        n = read(STDIN_FILENO, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die(EX_NOINPUT, "cannot read stdin: %s", strerror(errno));
        }
        len += (size_t)n;
    }
    /* Shell input ends in a newline that is not part of the message. */
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    if (len > max)
        die(EX_DATAERR, "message is longer than %zu bytes", max);
    *out = buf;
    return len;
}

/* --lines input line `line` cannot be sent: the lines before it stay
 * published, so see them acknowledged, then exit 65 naming it. */
static void __attribute__((noreturn))
refuse_line(struct push *p, unsigned long line, const char *reason)
{
    wait_acks(p, 0);
    die(EX_DATAERR, "line %lu: %s", line, reason);
}

static void
check_data(struct push *p, const char *data, size_t len, unsigned long line)
{
    const char *reason = sse_event_check_data(data, len, p->data_max);

    if (reason == NULL)
        return;
    if (line > 0)
        refuse_line(p, line, reason);
    die(EX_DATAERR, "%s", reason);
}

/* One line of --lines input: the event, or with --keyed its key, a space
 * and the event. A bad line stops the run after the lines before it are
 * acknowledged. */
static void
push_line(struct push *p, const char *s, size_t len, unsigned long line)
{
    if (p->keyed) {
        const char *sp = memchr(s, ' ', len);
        const char *reason;

        if (sp == NULL)
            refuse_line(p, line, "no space after the key");
        if ((reason = sse_key_check(s, (size_t)(sp - s))) != NULL)
            refuse_line(p, line, reason);
        p->m.key = s;
        p->m.key_len = (size_t)(sp - s);
        len -= (size_t)(sp - s) + 1;
        s = sp + 1;
    }
    check_data(p, s, len, line);
    send_event(p, s, len);
}

/* --lines: one event per line of stdin, sent as soon as the line is
 * complete, while acknowledgements are read as they come back. */
static void
push_lines(struct push *p)
{
    size_t cap = 65536, len = 0, max = p->data_max + 2;
    char *buf = input_buf = xmalloc(cap);
    unsigned long line = 0;
    int eof = 0;

    while (!eof) {
        zmq_pollitem_t items[2] = {
            { .socket = p->sock, .events = ZMQ_POLLIN },
            { .fd = STDIN_FILENO, .events = ZMQ_POLLIN },
        };
        size_t start = 0;
        ssize_t n;

        if (zmq_poll(items, 2, outstanding(p) > 0 ? p->timeout : -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            die(EX_UNAVAILABLE, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        }
        if (items[0].revents & ZMQ_POLLIN) {
            while (take_ack(p, 0))
                ;
        } else if (!(items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) &&
                   outstanding(p) > 0) {
            die(EX_UNAVAILABLE, "no acknowledgement from the broker at %s "
                "within %d ms", p->endpoint, p->timeout);
        }
        if (!(items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            continue;
        if (len == cap) {
            cap *= 2;
            buf = input_buf = xrealloc(buf, cap);
        }
        n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die(EX_NOINPUT, "cannot read stdin: %s", strerror(errno));
        }
        if (n == 0)
            eof = 1;
        len += (size_t)n;
        for (size_t i = 0; i < len; i++) {
            size_t l;

            if (buf[i] != '\n')
                continue;
            l = i - start;
            if (l > 0 && buf[start + l - 1] == '\r')
                l--;
            push_line(p, buf + start, l, ++line);
            start = i + 1;
        }
        if (eof && start < len) {
            push_line(p, buf + start, len - start, ++line);
            start = len;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len > max) {
            wait_acks(p, 0);
            die(EX_DATAERR, "line %lu: longer than %zu bytes", line + 1,
                p->data_max);
        }
    }
    wait_acks(p, 0);
    free(buf);
    input_buf = NULL;
}

/* --stats: ask the broker for its counts and print them. */
static void
print_stats(struct push *p, const char *key)
{
    zmq_pollitem_t item = { .socket = p->sock, .events = ZMQ_POLLIN };
    const char *json;
    size_t len;
    uint32_t seq;
    zmq_msg_t msg;

    sse_buf_clear(&p->frame);
    if (sse_wire_stats_encode(1, key, key != NULL ? strlen(key) : 0, NULL, 0,
                              &p->frame) != 0)
        die(EX_SOFTWARE, "cannot encode the request");
    if (zmq_send(p->sock, sse_buf_head(&p->frame), sse_buf_len(&p->frame),
                 0) < 0 || zmq_poll(&item, 1, p->timeout) <= 0)
        die(EX_UNAVAILABLE, "no answer from the broker at %s within %d ms",
            p->endpoint, p->timeout);
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, p->sock, ZMQ_DONTWAIT) < 0 ||
        sse_wire_counts_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &seq,
                               &json, &len) != 0)
        die(EX_UNAVAILABLE, "malformed answer from the broker at %s",
            p->endpoint);
    fwrite(json, 1, len, stdout);
    zmq_msg_close(&msg);
}

int
main(int argc, char **argv)
{
    struct sse_opt_val v[O_COUNT];
    struct push p;
    const char *reason, *key = NULL, *message = NULL;
    char *endpoint, *input = NULL;
    int first, nargs;
    size_t len;

    first = sse_cli_parse(&cli, argc, argv, v);
    nargs = argc - first;
    memset(&p, 0, sizeof(p));
    p.curve_server = v[O_CURVE_SERVER].str;
    p.curve_key = v[O_CURVE_KEY].str;
    p.timeout = v[O_TIMEOUT].set ? (int)v[O_TIMEOUT].num : SSE_TIMEOUT_DEFAULT;
    sse_buf_init(&p.frame, 0);
    endpoint = sse_config_endpoint(v[O_PUSH].str, v[O_RUNDIR].str,
                                   SSE_PUSH_SOCKET);
    p.endpoint = endpoint;
    if (v[O_STATS].set) {
        if (nargs > 1 || v[O_ALL].set || v[O_LINES].set || v[O_KEYED].set ||
            v[O_CLOSE].set ||
            v[O_EVENT].set || v[O_ID].set || v[O_RETRY].set ||
            v[O_IF_CHANGED].set)
            die(EX_USAGE, "--stats takes only an optional KEY");
        if (nargs == 1 && (reason = sse_key_check(argv[first],
                                                  strlen(argv[first]))))
            die(EX_DATAERR, "%s", reason);
        connect_broker(&p);
        print_stats(&p, nargs == 1 ? argv[first] : NULL);
        disconnect_broker(&p);
        free(endpoint);
        return 0;
    }
    if (v[O_KEYED].set) {
        if (!v[O_LINES].set)
            die(EX_USAGE, "--keyed needs --lines");
        if (v[O_ALL].set || nargs > 0)
            die(EX_USAGE, "--keyed takes each line's key: give no KEY, "
                "MESSAGE or --all");
        p.keyed = 1;
    } else if (v[O_ALL].set) {
        if (nargs > 1)
            die(EX_USAGE, "--all takes no KEY, only an optional MESSAGE");
        if (nargs == 1)
            message = argv[first];
    } else {
        if (nargs < 1)
            die(EX_USAGE, "no KEY given (see sse-push --help)");
        if (nargs > 2)
            die(EX_USAGE, "too many arguments: quote the MESSAGE");
        key = argv[first];
        if (nargs == 2)
            message = argv[first + 1];
    }
    if (v[O_LINES].set && message != NULL)
        die(EX_USAGE, "--lines reads stdin; give no MESSAGE");
    if (v[O_LINES].set && (v[O_ID].set || v[O_CLOSE].set ||
                           v[O_IF_CHANGED].set))
        die(EX_USAGE, "--lines cannot be used with --%s",
            v[O_ID].set ? "id" : v[O_CLOSE].set ? "close" : "if-changed");

    p.data_max = v[O_DATAMAX].set ? (size_t)v[O_DATAMAX].num :
        SSE_EVENT_DATA_MAX;
    p.next_seq = 1;
    p.m.ev.retry = -1;
    if (p.keyed) {
        /* each line sets p.m.key */
    } else if (key != NULL) {
        if ((reason = sse_key_check(key, strlen(key))) != NULL)
            die(EX_DATAERR, "%s", reason);
        p.m.key = key;
        p.m.key_len = strlen(key);
    } else {
        p.m.flags |= SSE_WIRE_ALL;
    }
    if (v[O_CLOSE].set)
        p.m.flags |= SSE_WIRE_CLOSE;
    if (v[O_IF_CHANGED].set)
        p.m.flags |= SSE_WIRE_IF_CHANGED;
    if (v[O_EVENT].set || v[O_CLOSE].set) {
        p.m.ev.event = v[O_EVENT].set ? v[O_EVENT].str : "close";
        p.m.ev.event_len = strlen(p.m.ev.event);
        if ((reason = sse_event_check_name(p.m.ev.event,
                                           p.m.ev.event_len)) != NULL)
            die(EX_DATAERR, "%s", reason);
    }
    if (v[O_ID].set) {
        p.m.ev.id = v[O_ID].str;
        p.m.ev.id_len = strlen(v[O_ID].str);
        if (p.m.ev.id_len == 0)
            die(EX_DATAERR, "id is empty");
        if ((reason = sse_event_check_id(p.m.ev.id, p.m.ev.id_len)) != NULL)
            die(EX_DATAERR, "%s", reason);
    }
    if (v[O_RETRY].set &&
        (p.m.ev.retry = sse_event_parse_retry(v[O_RETRY].str,
                                              strlen(v[O_RETRY].str))) < 0)
        die(EX_DATAERR, "retry '%s' is not a number of ms from 0 to %ld",
            v[O_RETRY].str, SSE_EVENT_RETRY_MAX);

    if (v[O_LINES].set) {
        /* Before the broker's sockets exist: they would take a closed fd 0
         * and be read as stdin. */
        if (fcntl(STDIN_FILENO, F_GETFD) < 0)
            die(EX_NOINPUT, "cannot read stdin: %s", strerror(errno));
        connect_broker(&p);
        push_lines(&p);
    } else {
        if (message != NULL)
            len = strlen(message);
        else
            len = read_stdin(&input, p.data_max);
        check_data(&p, message != NULL ? message : input, len, 0);
        connect_broker(&p);
        send_event(&p, message != NULL ? message : input, len);
        wait_acks(&p, 0);
    }
    disconnect_broker(&p);
    free(input);
    free(endpoint);
    return 0;
}
