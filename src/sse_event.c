/*
 * sse_event: one server-sent event and its exact bytes on the wire.
 *
 * The checks here are the only gate between a publisher and every browser
 * subscribed to a key: a CR, LF or NUL in a name or id would end the field
 * early and let the rest be read as new fields, so each entry point (CLI,
 * broker, worker) calls the same functions. Encoding is written once, as a
 * walk that either measures or writes, so the measured length and the bytes
 * appended cannot drift apart.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_event.h"

/* ------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------ */

int
sse_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t more, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        /* The narrowed ranges for the second byte are what rule out
         * overlongs (E0, F0), surrogates (ED) and values past U+10FFFF (F4),
         * as in Unicode's table of well-formed byte sequences. */
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i - 1 < more)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (k = 2; k <= more; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return 0;
        i += more + 1;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------ */

/* Return 1 if s[0..n) holds a CR, LF or NUL byte. */
static int
has_break(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 1;
    return 0;
}

const char *
sse_event_check_name(const char *s, size_t n)
{
    if (n == 0)
        return "event name is empty";
    if (n > SSE_EVENT_NAME_MAX)
        return "event name is longer than 128 bytes";
    if (has_break(s, n))
        return "event name contains CR, LF or NUL";
    if (!sse_utf8_valid(s, n))
        return "event name is not valid UTF-8";
    return NULL;
}

/* An empty id is allowed: it tells the browser to forget its last id. */
const char *
sse_event_check_id(const char *s, size_t n)
{
    if (n > SSE_EVENT_ID_MAX)
        return "id is longer than 256 bytes";
    if (has_break(s, n))
        return "id contains CR, LF or NUL";
    if (!sse_utf8_valid(s, n))
        return "id is not valid UTF-8";
    return NULL;
}

/* CR and LF are fine in data (they split lines); NUL means binary, which
 * the browser would turn into replacement characters. */
const char *
sse_event_check_data(const char *s, size_t n, size_t data_max)
{
    if (n > data_max)
        return "data is longer than the limit";
    if (n > 0 && memchr(s, '\0', n) != NULL)
        return "data contains a NUL byte";
    if (!sse_utf8_valid(s, n))
        return "data is not valid UTF-8";
    return NULL;
}

const char *
sse_event_check(const struct sse_event *ev, size_t data_max)
{
    const char *why;

    if (ev->event != NULL &&
        (why = sse_event_check_name(ev->event, ev->event_len)) != NULL)
        return why;
    if (ev->id != NULL &&
        (why = sse_event_check_id(ev->id, ev->id_len)) != NULL)
        return why;
    if (ev->retry < -1 || ev->retry > SSE_EVENT_RETRY_MAX)
        return "retry is out of range";
    if (ev->data == NULL && ev->data_len > 0)
        return "data is missing";
    return sse_event_check_data(ev->data, ev->data_len, data_max);
}

long
sse_event_parse_retry(const char *s, size_t n)
{
    long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        /* Stop at the limit, long before v could overflow. */
        if (v > SSE_EVENT_RETRY_MAX)
            return -1;
    }
    return v;
}

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

/* Copy n bytes to out + at when out is set; return the new offset. */
static size_t
put(char *out, size_t at, const char *p, size_t n)
{
    if (out != NULL && n > 0)
        memcpy(out + at, p, n);
    return at + n;
}

/* Measure the encoded event, and write it to out unless out is NULL. */
static size_t
walk(const struct sse_event *ev, char *out)
{
    const char *d = ev->data;
    size_t n = ev->data_len;
    size_t at = 0, i = 0, start;

    if (ev->event != NULL) {
        at = put(out, at, "event: ", 7);
        at = put(out, at, ev->event, ev->event_len);
        at = put(out, at, "\n", 1);
    }
    if (ev->id != NULL) {
        at = put(out, at, "id: ", 4);
        at = put(out, at, ev->id, ev->id_len);
        at = put(out, at, "\n", 1);
    }
    if (ev->retry >= 0) {
        char digits[24];
        size_t k = sizeof(digits);
        unsigned long r = (unsigned long)ev->retry;

        do {
            digits[--k] = (char)('0' + r % 10);
            r /= 10;
        } while (r > 0);
        at = put(out, at, "retry: ", 7);
        at = put(out, at, digits + k, sizeof(digits) - k);
        at = put(out, at, "\n", 1);
    }

    /* Every line gets "data: ", even one that starts with a space: the
     * browser strips exactly one space after the colon. A break at the very
     * end gives a last, empty line, so the browser keeps the trailing LF. */
    for (;;) {
        start = i;
        while (i < n && d[i] != '\n' && d[i] != '\r')
            i++;
        at = put(out, at, "data: ", 6);
        at = put(out, at, i > start ? d + start : NULL, i - start);
        at = put(out, at, "\n", 1);
        if (i == n)
            break;
        if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
            i++;
        i++;
    }
    return put(out, at, "\n", 1);
}

size_t
sse_event_encoded_len(const struct sse_event *ev)
{
    return walk(ev, NULL);
}

int
sse_event_encode(const struct sse_event *ev, struct sse_buf *out)
{
    size_t n = walk(ev, NULL);
    char *p;

    if ((p = sse_buf_reserve(out, n)) == NULL)
        return -1;
    walk(ev, p);
    sse_buf_commit(out, n);
    return 0;
}

int
sse_event_whole(const char *s, size_t n)
{
    const char *p = s, *end;

    /* Every field line is "name: value" LF, so an encoded event ends in its
     * only blank line. */
    if (n < 2 || s[n - 1] != '\n' || s[n - 2] != '\n')
        return 0;
    end = s + n - 2;
    /* No LF before the final blank line may be followed by another. This
     * runs on every event a worker receives: memchr over the few line
     * ends costs a fifth of memmem's set-up. */
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (p[1] == '\n')
            return 0;
        p++;
    }
    return 1;
}

/* Append s[0..n) JSON-escaped, without quotes. */
static int
json_escape(const char *s, size_t n, struct sse_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        rc = sse_buf_append(out, s + start, i - start);
        if (rc == 0)
            rc = sse_buf_append(out, esc, elen);
        start = i + 1;
    }
    return rc == 0 ? sse_buf_append(out, s + start, n - start) : rc;
}

int
sse_json_string(const char *s, size_t n, struct sse_buf *out)
{
    size_t before = sse_buf_len(out);

    if (sse_buf_append(out, "\"", 1) == 0 && json_escape(s, n, out) == 0 &&
        sse_buf_append(out, "\"", 1) == 0)
        return 0;
    sse_buf_truncate(out, sse_buf_len(out) - before);
    return -1;
}

/* The value of an encoded line "name: value" if it is that field. */
static int
field(const char *line, size_t len, const char *name, const char **val,
      size_t *vlen)
{
    size_t nlen = strlen(name);

    if (len < nlen + 2 || memcmp(line, name, nlen) != 0 ||
        line[nlen] != ':' || line[nlen + 1] != ' ')
        return 0;
    *val = line + nlen + 2;
    *vlen = len - nlen - 2;
    return 1;
}

int
sse_event_to_json(const char *sse, size_t n, struct sse_buf *out,
                  const char **id, size_t *id_len)
{
    const char *name = "message", *val, *p = sse, *end = sse + n;
    size_t name_len = 7, vlen, before = sse_buf_len(out);
    int rc, first_data = 1;

    *id = NULL;
    *id_len = 0;
    /* Fields come first, each on its own line, then the data lines. */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

        if (field(p, len, "event", &val, &vlen)) {
            name = val;
            name_len = vlen;
        } else if (field(p, len, "id", &val, &vlen)) {
            *id = val;
            *id_len = vlen;
        } else if (len >= 5 && memcmp(p, "data:", 5) == 0) {
            break;
        }
        p += len + 1;
    }
    rc = sse_buf_append(out, "{", 1);
    if (*id != NULL && rc == 0) {
        rc = sse_buf_puts(out, "\"id\":");
        if (rc == 0)
            rc = sse_json_string(*id, *id_len, out);
        if (rc == 0)
            rc = sse_buf_append(out, ",", 1);
    }
    if (rc == 0)
        rc = sse_buf_puts(out, "\"event\":");
    if (rc == 0)
        rc = sse_json_string(name, name_len, out);
    if (rc == 0)
        rc = sse_buf_puts(out, ",\"data\":\"");
    /* Data lines joined by LF, as a browser would; escape as we go. */
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

        if (field(p, len, "data", &val, &vlen)) {
            if (!first_data)
                rc = sse_buf_append(out, "\\n", 2);
            first_data = 0;
            if (rc == 0)
                rc = json_escape(val, vlen, out);
        }
        p += len + 1;
    }
    if (rc == 0)
        rc = sse_buf_puts(out, "\"}");
    if (rc != 0)
        sse_buf_truncate(out, sse_buf_len(out) - before);
    return rc;
}
