/*
 * fuzz_event: the checks and the encoder that stand between a publisher
 * and every browser, read back by a small browser-side parser.
 *
 * Input: an 8-byte header, then the fields of a struct sse_event:
 *
 *   byte 0     flags: 1 event set, 2 id set, 4 retry set, 8 data limit 64
 *              (else SSE_EVENT_DATA_MAX), 16 empty data as "" not NULL
 *   byte 1     event name length      bytes 2-3  id length (big-endian)
 *   bytes 4-7  retry, signed 32-bit big-endian
 *   then the name, the id, and the rest as data (lengths are cut to fit).
 *
 * Properties:
 *
 *   - sse_event_check passes exactly when a model of sse_event.h says the
 *     fields are sendable;
 *   - for an event that passes, sse_event_encode appends exactly
 *     sse_event_encoded_len bytes, after whatever the buffer held, and
 *     appends nothing when that would pass the buffer's ceiling;
 *   - a parser written from the WHATWG "server-sent events" rules reads the
 *     bytes as exactly one event, with nothing before or after it: the same
 *     type (or "message"), the same id and retry when set (and no id or
 *     retry field when not), and data equal to the input data with CRLF and
 *     CR turned into LF;
 *   - on the raw input, sse_event_parse_retry and sse_utf8_valid agree with
 *     independent models.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_event.h"

#define HEADER 8

/* ---- a browser's reading of an event stream ------------------------------ */

/* State of the WHATWG parser ("Interpreting an event stream"), plus what
 * the last dispatched event carried. Every buffer has cap bytes, which no
 * field can pass since each comes from a line of the stream. */
struct browser {
    size_t cap;
    char  *type, *data, *id;    /* event type, data, last event ID buffers */
    size_t type_len, data_len, id_len;
    int    id_seen;             /* an id field set the last event ID */
    long   retry;               /* reconnection time, or -1 if never set */
    int    events;              /* events dispatched */
    int    lines_after;         /* non-blank lines since the last dispatch */
    int    partial;             /* the stream ended inside a line */
    char  *ev_type, *ev_data, *ev_id;   /* what the last event carried */
    size_t ev_type_len, ev_data_len, ev_id_len;
};

static void
browser_init(struct browser *b, size_t n)
{
    memset(b, 0, sizeof *b);
    b->cap = n + 8;     /* + 8: room for "message" */
    b->type = fuzz_malloc(b->cap);
    b->data = fuzz_malloc(b->cap);
    b->id = fuzz_malloc(b->cap);
    b->ev_type = fuzz_malloc(b->cap);
    b->ev_data = fuzz_malloc(b->cap);
    b->ev_id = fuzz_malloc(b->cap);
    b->retry = -1;
}

static void
browser_free(struct browser *b)
{
    free(b->type);
    free(b->data);
    free(b->id);
    free(b->ev_type);
    free(b->ev_data);
    free(b->ev_id);
}

static int
is_field(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void
browser_dispatch(struct browser *b)
{
    b->lines_after = 0;
    if (b->data_len == 0) {
        b->type_len = 0;
        return;
    }
    if (b->data[b->data_len - 1] == '\n')
        b->data_len--;
    if (b->type_len > 0) {
        memcpy(b->ev_type, b->type, b->type_len);
        b->ev_type_len = b->type_len;
    } else {
        memcpy(b->ev_type, "message", 7);
        b->ev_type_len = 7;
    }
    memcpy(b->ev_data, b->data, b->data_len);
    b->ev_data_len = b->data_len;
    memcpy(b->ev_id, b->id, b->id_len);
    b->ev_id_len = b->id_len;
    b->events++;
    b->data_len = b->type_len = 0;
}

static void
browser_line(struct browser *b, const char *l, size_t n)
{
    const char *colon, *v;
    size_t fn, vn;

    if (n == 0) {
        browser_dispatch(b);
        return;
    }
    b->lines_after++;
    if (l[0] == ':')
        return;
    if ((colon = memchr(l, ':', n)) != NULL) {
        fn = (size_t)(colon - l);
        v = colon + 1;
        vn = n - fn - 1;
        if (vn > 0 && v[0] == ' ')
            v++, vn--;
    } else {
        fn = n;
        v = l + n;
        vn = 0;
    }

    if (is_field(l, fn, "event")) {
        memcpy(b->type, v, vn);
        b->type_len = vn;
    } else if (is_field(l, fn, "data")) {
        memcpy(b->data + b->data_len, v, vn);
        b->data_len += vn;
        b->data[b->data_len++] = '\n';
    } else if (is_field(l, fn, "id")) {
        if (memchr(v, '\0', vn) == NULL) {
            memcpy(b->id, v, vn);
            b->id_len = vn;
            b->id_seen = 1;
        }
    } else if (is_field(l, fn, "retry")) {
        long r = 0;
        size_t i;

        for (i = 0; i < vn && v[i] >= '0' && v[i] <= '9'; i++)
            r = r > 100000000000L ? r : r * 10 + (v[i] - '0');
        if (vn > 0 && i == vn)
            b->retry = r;
    }
}

/* Feed a whole stream: lines end in CRLF, LF or CR; an unfinished last
 * line is dropped, as at the end of a real stream. */
static void
browser_feed(struct browser *b, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t start = i;

        while (i < n && s[i] != '\r' && s[i] != '\n')
            i++;
        if (i == n) {
            b->partial = 1;
            return;
        }
        browser_line(b, s + start, i - start);
        i += (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
    }
}

/* ---- models -------------------------------------------------------------- */

static int
model_check(const struct sse_event *ev, size_t data_max)
{
    if (ev->event != NULL &&
        (ev->event_len == 0 || ev->event_len > SSE_EVENT_NAME_MAX ||
         !ref_no_break(ev->event, ev->event_len) ||
         !ref_utf8_valid(ev->event, ev->event_len)))
        return 0;
    if (ev->id != NULL && !ref_id_ok(ev->id, ev->id_len, SSE_EVENT_ID_MAX))
        return 0;
    if (ev->retry < -1 || ev->retry > SSE_EVENT_RETRY_MAX)
        return 0;
    if (ev->data == NULL)
        return ev->data_len == 0;
    return ev->data_len <= data_max &&
        memchr(ev->data, '\0', ev->data_len) == NULL &&
        ref_utf8_valid(ev->data, ev->data_len);
}

/* Decimal digits only, compared by length first, as a person would. */
static long
model_retry(const char *s, size_t n)
{
    size_t i, lead = 0;
    long v = 0;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    while (lead < n && s[lead] == '0')
        lead++;
    if (n - lead > 8)   /* 86400000 has 8 digits */
        return -1;
    for (i = lead; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v <= SSE_EVENT_RETRY_MAX ? v : -1;
}

/* Data as the browser rebuilds it: CRLF and CR become LF. */
static size_t
normalise(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* ---- the target ---------------------------------------------------------- */

static void
check_encoding(const struct sse_event *ev)
{
    struct sse_buf b, full;
    struct browser br;
    size_t len = sse_event_encoded_len(ev), wlen;
    const char *out;
    char *want;

    sse_buf_init(&b, 0);
    sse_buf_append(&b, "x", 1);
    FUZZ_CHECK(sse_event_encode(ev, &b) == 0, "encode failed, no ceiling");
    FUZZ_CHECK(sse_buf_len(&b) == 1 + len, "encode appended %zu bytes, "
               "sse_event_encoded_len said %zu", sse_buf_len(&b) - 1, len);
    out = sse_buf_head(&b) + 1;
    FUZZ_CHECK(sse_buf_head(&b)[0] == 'x', "encode changed earlier bytes");
    FUZZ_CHECK(len >= 2 && out[len - 1] == '\n' && out[len - 2] == '\n',
               "the event does not end in a blank line");

    /* One byte short of the room it needs: refused, and nothing added. */
    sse_buf_init(&full, len - 1);
    FUZZ_CHECK(sse_event_encode(ev, &full) == -1,
               "encode passed the ceiling");
    FUZZ_CHECK(sse_buf_len(&full) == 0, "a refused encode left bytes");
    sse_buf_free(&full);

    browser_init(&br, len);
    browser_feed(&br, out, len);
    FUZZ_CHECK(br.events == 1, "the browser saw %d events", br.events);
    FUZZ_CHECK(!br.partial && br.lines_after == 0 && br.data_len == 0 &&
                   br.type_len == 0,
               "the browser has bytes left after the event");
    if (ev->event != NULL)
        FUZZ_CHECK(br.ev_type_len == ev->event_len &&
                       memcmp(br.ev_type, ev->event, ev->event_len) == 0,
                   "the browser read type \"%.*s\"", (int)br.ev_type_len,
                   br.ev_type);
    else
        FUZZ_CHECK(br.ev_type_len == 7 &&
                       memcmp(br.ev_type, "message", 7) == 0,
                   "an event without a name is not a message");
    FUZZ_CHECK(br.id_seen == (ev->id != NULL), "id field %s, id %s",
               br.id_seen ? "seen" : "not seen", ev->id ? "set" : "unset");
    if (ev->id != NULL)
        FUZZ_CHECK(br.ev_id_len == ev->id_len &&
                       memcmp(br.ev_id, ev->id, ev->id_len) == 0,
                   "the browser read id \"%.*s\"", (int)br.ev_id_len,
                   br.ev_id);
    FUZZ_CHECK(br.retry == ev->retry, "the browser read retry %ld, not %ld",
               br.retry, ev->retry);

    want = fuzz_malloc(ev->data_len);
    wlen = normalise(ev->data, ev->data_len, want);
    FUZZ_CHECK(br.ev_data_len == wlen && memcmp(br.ev_data, want, wlen) == 0,
               "the browser read %zu data bytes, want %zu", br.ev_data_len,
               wlen);
    free(want);
    browser_free(&br);
    sse_buf_free(&b);
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
        (uint32_t)p[2] << 8 | p[3];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    struct sse_event ev;
    char *name = NULL, *id = NULL, *body = NULL;
    size_t data_max, nlen, ilen, left;
    const char *why;
    long r;
    unsigned flags;

    r = sse_event_parse_retry(raw, size);
    FUZZ_CHECK(r == model_retry(raw, size), "parse_retry gave %ld, "
               "the model %ld", r, model_retry(raw, size));
    FUZZ_CHECK(sse_utf8_valid(raw, size) == ref_utf8_valid(raw, size),
               "sse_utf8_valid says %d", sse_utf8_valid(raw, size));

    if (size < HEADER)
        return 0;
    flags = data[0];
    left = size - HEADER;
    nlen = data[1] < left ? data[1] : left;
    left -= nlen;
    ilen = (size_t)(data[2] << 8 | data[3]);
    ilen = ilen < left ? ilen : left;
    left -= ilen;

    memset(&ev, 0, sizeof ev);
    /* Each field in its own exact-size block, so an over-read shows. */
    if (flags & 1) {
        ev.event = name = fuzz_memdup(data + HEADER, nlen);
        ev.event_len = nlen;
    }
    if (flags & 2) {
        ev.id = id = fuzz_memdup(data + HEADER + nlen, ilen);
        ev.id_len = ilen;
    }
    ev.retry = (flags & 4) ? (long)(int32_t)be32(data + 4) : -1;
    if (left > 0 || (flags & 16)) {
        ev.data = body = fuzz_memdup(data + size - left, left);
        ev.data_len = left;
    }
    data_max = (flags & 8) ? 64 : SSE_EVENT_DATA_MAX;

    why = sse_event_check(&ev, data_max);
    FUZZ_CHECK((why == NULL) == model_check(&ev, data_max),
               "sse_event_check says %s", why ? why : "sendable");
    if (why == NULL)
        check_encoding(&ev);

    free(name);
    free(id);
    free(body);
    return 0;
}
