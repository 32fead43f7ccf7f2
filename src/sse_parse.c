/*
 * sse_parse: the WHATWG event stream interpretation, fed in pieces.
 *
 * Lines are processed straight from the caller's bytes when a read holds
 * them whole, and copied only when a line spans two reads, which is rare
 * for a stream of small events. A CR is taken as a line end the moment it
 * is seen, since it always is one; only the LF that may follow it, perhaps
 * in the next read, has to be remembered and skipped.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_parse.h"

static const char bom[3] = { '\xef', '\xbb', '\xbf' };

void
sse_parse_init(struct sse_parse *p, size_t max,
               void (*on_event)(void *, const struct sse_parse_event *),
               void (*on_comment)(void *, const char *, size_t), void *arg)
{
    sse_buf_init(&p->line, max);
    sse_buf_init(&p->data, max);
    sse_buf_init(&p->type, max);
    sse_buf_init(&p->id, max);
    p->retry = -1;
    p->bom = 0;
    p->cr = 0;
    p->failed = 0;
    p->on_event = on_event;
    p->on_comment = on_comment;
    p->arg = arg;
}

void
sse_parse_free(struct sse_parse *p)
{
    sse_buf_free(&p->line);
    sse_buf_free(&p->data);
    sse_buf_free(&p->type);
    sse_buf_free(&p->id);
}

/* Empty b and give its storage back. */
static void
drop(struct sse_buf *b)
{
    sse_buf_consume(b, sse_buf_len(b));
}

/* Make b hold exactly s[0..n). */
static int
set(struct sse_buf *b, const char *s, size_t n)
{
    drop(b);
    return sse_buf_append(b, s, n);
}

static int
is_field(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(name, want, n) == 0;
}

/* The "dispatch the event" steps. */
static void
dispatch(struct sse_parse *p)
{
    struct sse_parse_event ev;
    size_t len = sse_buf_len(&p->data);

    if (len == 0) {
        drop(&p->type);
        return;
    }
    ev.data = sse_buf_head(&p->data);
    ev.data_len = len - 1;      /* the LF after the last data line */
    if (sse_buf_len(&p->type) > 0) {
        ev.type = sse_buf_head(&p->type);
        ev.type_len = sse_buf_len(&p->type);
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.id = sse_buf_len(&p->id) > 0 ? sse_buf_head(&p->id) : "";
    ev.id_len = sse_buf_len(&p->id);
    p->on_event(p->arg, &ev);
    drop(&p->data);
    drop(&p->type);
}

/* Digits only, as the spec's retry field wants; saturates at LONG_MAX. */
static long
parse_retry(const char *s, size_t n)
{
    long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (LONG_MAX - (s[i] - '0')) / 10)
            v = LONG_MAX;
        else
            v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Process one line (without its line end). Returns 0, or -1 past the
 * ceiling. */
static int
line(struct sse_parse *p, const char *s, size_t n)
{
    const char *colon, *value;
    size_t name_len, value_len;
    long retry;

    if (n == 0) {
        dispatch(p);
        return 0;
    }
    if (s[0] == ':') {
        if (p->on_comment != NULL)
            p->on_comment(p->arg, s + 1, n - 1);
        return 0;
    }
    if ((colon = memchr(s, ':', n)) != NULL) {
        name_len = (size_t)(colon - s);
        value = colon + 1;
        value_len = n - name_len - 1;
        if (value_len > 0 && value[0] == ' ') {
            value++;
            value_len--;
        }
    } else {
        name_len = n;
        value = s + n;
        value_len = 0;
    }
    if (is_field(s, name_len, "data")) {
        if (sse_buf_append(&p->data, value, value_len) != 0 ||
            sse_buf_append(&p->data, "\n", 1) != 0)
            return -1;
    } else if (is_field(s, name_len, "event")) {
        return set(&p->type, value, value_len);
    } else if (is_field(s, name_len, "id")) {
        if (memchr(value, '\0', value_len) == NULL)
            return set(&p->id, value, value_len);
    } else if (is_field(s, name_len, "retry")) {
        if ((retry = parse_retry(value, value_len)) >= 0)
            p->retry = retry;
    }
    /* Any other field is ignored. */
    return 0;
}

/* Split s[0..n) into lines, carrying an unterminated tail in p->line. */
static int
lines(struct sse_parse *p, const char *s, size_t n)
{
    size_t i = 0, start;

    if (n == 0)
        return 0;
    if (p->cr) {
        p->cr = 0;
        if (s[0] == '\n')
            i = 1;
    }
    start = i;
    while (i < n) {
        char c = s[i];
        int rc;

        if (c != '\n' && c != '\r') {
            i++;
            continue;
        }
        if (sse_buf_len(&p->line) > 0) {
            if (sse_buf_append(&p->line, s + start, i - start) != 0)
                return -1;
            rc = line(p, sse_buf_head(&p->line), sse_buf_len(&p->line));
            drop(&p->line);
        } else {
            rc = line(p, s + start, i - start);
        }
        if (rc != 0)
            return -1;
        if (c == '\r') {
            if (i + 1 == n)
                p->cr = 1;      /* an LF may start the next read */
            else if (s[i + 1] == '\n')
                i++;
        }
        start = ++i;
    }
    if (start < n && sse_buf_append(&p->line, s + start, n - start) != 0)
        return -1;
    return 0;
}

int
sse_parse_feed(struct sse_parse *p, const char *in, size_t n)
{
    size_t i = 0;

    if (p->failed)
        return -1;
    /* A BOM may itself arrive split; bytes that start like one but turn
     * out not to be are stream text after all. */
    while (p->bom < 3 && i < n) {
        if (in[i] == bom[p->bom]) {
            p->bom++;
            i++;
            continue;
        }
        if (p->bom > 0 && lines(p, bom, p->bom) != 0)
            goto fail;
        p->bom = 3;
    }
    if (lines(p, in + i, n - i) != 0)
        goto fail;
    return 0;
fail:
    p->failed = 1;
    return -1;
}
