/*
 * fuzz_parse: sse_parse, the event stream as sse-bench (and a browser)
 * reads it.
 *
 * Input: byte 0 chooses how the stream is cut into reads (0: one byte at
 * a time, else pieces of 1 to 16 bytes in a pattern it seeds), byte 1 a
 * ceiling for a last run (0 to 255 bytes); the rest is the stream.
 *
 * Properties:
 *
 *   - with no ceiling, feeding never fails, and the events and comments
 *     (and the final retry) are the same for one read as for pieces;
 *   - they are exactly those of a reference reading written differently,
 *     over the whole stream at once: BOM, lines, fields and dispatch as
 *     the WHATWG rules state them;
 *   - no event has an empty type, a CR in its type, data or id, or a NUL
 *     or LF in its type or id;
 *   - with a ceiling, once a feed fails every later one fails, and the
 *     events before the failure are the first ones of the unlimited run.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_parse.h"

/* A log of callbacks: "E" type NUL data NUL id NUL per event (lengths
 * first, as 4 bytes each), "C" length text per comment. */
struct log {
    struct sse_buf b;
};

static void
put_field(struct sse_buf *b, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;

    sse_buf_append(b, &len, sizeof(len));
    sse_buf_append(b, s, n);
}

static void
check_event(const char *type, size_t tl, const char *data, size_t dl,
            const char *id, size_t il)
{
    FUZZ_CHECK(tl > 0, "empty event type");
    FUZZ_CHECK(memchr(type, '\r', tl) == NULL &&
               memchr(type, '\n', tl) == NULL, "line end in the type");
    FUZZ_CHECK(memchr(data, '\r', dl) == NULL, "CR in the data");
    FUZZ_CHECK(memchr(id, '\r', il) == NULL && memchr(id, '\n', il) == NULL
               && memchr(id, '\0', il) == NULL, "CR, LF or NUL in the id");
}

static void
on_event(void *arg, const struct sse_parse_event *ev)
{
    struct log *l = arg;

    check_event(ev->type, ev->type_len, ev->data, ev->data_len, ev->id,
                ev->id_len);
    sse_buf_append(&l->b, "E", 1);
    put_field(&l->b, ev->type, ev->type_len);
    put_field(&l->b, ev->data, ev->data_len);
    put_field(&l->b, ev->id, ev->id_len);
}

static void
on_comment(void *arg, const char *text, size_t len)
{
    struct log *l = arg;

    sse_buf_append(&l->b, "C", 1);
    put_field(&l->b, text, len);
}

/* ---- the reference reading ---------------------------------------------- */

struct ref {
    char  *data, *type, *id;    /* buffers, n bytes each: enough for any */
    size_t data_len, type_len, id_len;
    long   retry;
};

static int
field_is(const char *line, size_t name_len, const char *name)
{
    size_t k;

    for (k = 0; name[k] != '\0'; k++)
        if (k >= name_len || line[k] != name[k])
            return 0;
    return k == name_len;
}

static void
ref_line(struct ref *r, struct log *l, const char *line, size_t n)
{
    size_t name_len = 0, v;
    const char *value;
    size_t value_len;

    if (n == 0) {
        if (r->data_len == 0) {
            r->type_len = 0;
            return;
        }
        on_event(l, &(struct sse_parse_event){
            .type = r->type_len ? r->type : "message",
            .type_len = r->type_len ? r->type_len : 7,
            .data = r->data, .data_len = r->data_len - 1,
            .id = r->id, .id_len = r->id_len });
        r->data_len = r->type_len = 0;
        return;
    }
    if (line[0] == ':') {
        on_comment(l, line + 1, n - 1);
        return;
    }
    while (name_len < n && line[name_len] != ':')
        name_len++;
    value = line + name_len;
    value_len = 0;
    if (name_len < n) {
        value = line + name_len + 1;
        value_len = n - name_len - 1;
        if (value_len > 0 && value[0] == ' ')
            value++, value_len--;
    }
    if (field_is(line, name_len, "data")) {
        memcpy(r->data + r->data_len, value, value_len);
        r->data_len += value_len;
        r->data[r->data_len++] = '\n';
    } else if (field_is(line, name_len, "event")) {
        memcpy(r->type, value, value_len);
        r->type_len = value_len;
    } else if (field_is(line, name_len, "id")) {
        for (v = 0; v < value_len; v++)
            if (value[v] == '\0')
                return;
        memcpy(r->id, value, value_len);
        r->id_len = value_len;
    } else if (field_is(line, name_len, "retry") && value_len > 0) {
        long x = 0;

        for (v = 0; v < value_len; v++) {
            if (value[v] < '0' || value[v] > '9')
                return;
            x = x > (0x7fffffffffffffffL - 9) / 10 ? 0x7fffffffffffffffL :
                x * 10 + (value[v] - '0');
        }
        r->retry = x;
    }
}

static long
ref_parse(const char *s, size_t n, struct log *l)
{
    struct ref r = { .data = fuzz_malloc(n + 1), .type = fuzz_malloc(n + 1),
                     .id = fuzz_malloc(n + 1), .retry = -1 };
    size_t i = 0;

    if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    for (;;) {
        size_t j = i;

        while (j < n && s[j] != '\r' && s[j] != '\n')
            j++;
        if (j == n)
            break;      /* no line end: the rest is discarded */
        ref_line(&r, l, s + i, j - i);
        i = j + 1;
        if (s[j] == '\r' && i < n && s[i] == '\n')
            i++;
    }
    free(r.data);
    free(r.type);
    free(r.id);
    return r.retry;
}

/* ---- driving ------------------------------------------------------------- */

/* Feed s[0..n) in pieces chosen by cut; returns the index of the first
 * failed feed's piece end, or n + 1 if none failed. */
static size_t
feed(struct sse_parse *p, const char *s, size_t n, uint8_t cut)
{
    size_t i = 0, k = 0, failed_at = n + 1;

    while (i < n) {
        size_t len = cut == 0 ? 1 : 1 + (size_t)((cut * (k + 3)) % 16);
        char *piece;

        if (len > n - i)
            len = n - i;
        piece = fuzz_memdup(s + i, len);
        if (sse_parse_feed(p, piece, len) != 0) {
            if (failed_at > n)
                failed_at = i + len;
        } else {
            FUZZ_CHECK(failed_at > n, "a feed passed after one failed");
        }
        free(piece);
        i += len;
        k++;
    }
    return failed_at;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct log whole, pieces, ref, small;
    struct sse_parse p;
    const char *s;
    char *copy;
    size_t n, ceiling;
    long retry_whole, retry_ref;
    uint8_t cut;

    if (size < 2)
        return 0;
    cut = data[0];
    ceiling = data[1];
    s = (const char *)data + 2;
    n = size - 2;
    sse_buf_init(&whole.b, 0);
    sse_buf_init(&pieces.b, 0);
    sse_buf_init(&ref.b, 0);
    sse_buf_init(&small.b, 0);

    copy = fuzz_memdup(s, n);
    sse_parse_init(&p, 0, on_event, on_comment, &whole);
    FUZZ_CHECK(sse_parse_feed(&p, copy, n) == 0, "one read failed");
    free(copy);
    retry_whole = p.retry;
    sse_parse_free(&p);

    sse_parse_init(&p, 0, on_event, on_comment, &pieces);
    FUZZ_CHECK(feed(&p, s, n, cut) > n, "feeding in pieces failed");
    FUZZ_CHECK(p.retry == retry_whole, "retry %ld in pieces, %ld whole",
               p.retry, retry_whole);
    sse_parse_free(&p);
    FUZZ_CHECK(sse_buf_len(&pieces.b) == sse_buf_len(&whole.b) &&
               memcmp(sse_buf_head(&pieces.b) ? sse_buf_head(&pieces.b) : "",
                      sse_buf_head(&whole.b) ? sse_buf_head(&whole.b) : "",
                      sse_buf_len(&whole.b)) == 0,
               "pieces (cut %u) and one read disagree", cut);

    retry_ref = ref_parse(s, n, &ref);
    FUZZ_CHECK(retry_ref == retry_whole, "retry %ld, reference %ld",
               retry_whole, retry_ref);
    FUZZ_CHECK(sse_buf_len(&ref.b) == sse_buf_len(&whole.b) &&
               memcmp(sse_buf_head(&ref.b) ? sse_buf_head(&ref.b) : "",
                      sse_buf_head(&whole.b) ? sse_buf_head(&whole.b) : "",
                      sse_buf_len(&whole.b)) == 0,
               "the parser and the reference disagree (%zu and %zu bytes "
               "of log)", sse_buf_len(&whole.b), sse_buf_len(&ref.b));

    /* A ceiling may stop the run early, never change what came before. */
    if (ceiling > 0) {
        sse_parse_init(&p, ceiling, on_event, on_comment, &small);
        feed(&p, s, n, cut);
        sse_parse_free(&p);
        FUZZ_CHECK(sse_buf_len(&small.b) <= sse_buf_len(&whole.b) &&
                   (sse_buf_len(&small.b) == 0 ||
                    memcmp(sse_buf_head(&small.b), sse_buf_head(&whole.b),
                           sse_buf_len(&small.b)) == 0),
                   "a ceiling of %zu changed the events", ceiling);
    }
    sse_buf_free(&whole.b);
    sse_buf_free(&pieces.b);
    sse_buf_free(&ref.b);
    sse_buf_free(&small.b);
    return 0;
}
