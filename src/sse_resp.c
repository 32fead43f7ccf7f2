/*
 * sse_resp: an HTTP/1.1 response as a byte-at-a-time state machine.
 *
 * The head is gathered until a blank line and parsed in one pass. The body
 * is where the bytes are: pieces of it go back to the caller as views, and
 * only the chunked coding's framing (sizes, extensions, line ends,
 * trailers) is walked a byte at a time, without storing any of it.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sse_buf.h"
#include "sse_resp.h"

enum state {
    S_HEAD,             /* gathering the head */
    S_BODY_LEN,         /* Content-Length bytes left */
    S_BODY_CLOSE,       /* body until the connection closes */
    S_CHUNK_SIZE,       /* hex digits of a chunk size */
    S_CHUNK_BWS,        /* spaces after the size */
    S_CHUNK_EXT,        /* chunk extensions: skipped up to the LF */
    S_CHUNK_SIZE_LF,    /* CR seen after the size line */
    S_CHUNK_DATA,       /* chunk bytes left */
    S_CHUNK_DATA_END,   /* the CRLF after chunk data */
    S_CHUNK_DATA_LF,    /* its LF */
    S_TRAILER_START,    /* start of a trailer line or the final blank line */
    S_TRAILER_LINE,     /* inside a trailer field: skipped */
    S_TRAILER_LF,       /* CR of the final blank line seen */
    S_END,              /* report the end on the next call */
    S_DONE,             /* ended; consumes nothing */
};

void
sse_resp_init(struct sse_resp *r, size_t head_max)
{
    memset(r, 0, sizeof(*r));
    sse_buf_init(&r->head, head_max != 0 ? head_max : SSE_RESP_HEAD_MAX);
    r->content_length = -1;
    r->state = S_HEAD;
}

void
sse_resp_free(struct sse_resp *r)
{
    sse_buf_free(&r->head);
}

void
sse_resp_reset(struct sse_resp *r)
{
    size_t max = r->head.max;

    sse_resp_free(r);
    sse_resp_init(r, max);
}

/* ------------------------------------------------------------------------
 * The head
 * ------------------------------------------------------------------------ */

static int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Does the comma-separated list s[0..n) hold token tok (any case)? */
static int
list_has(const char *s, size_t n, const char *tok)
{
    size_t tlen = strlen(tok), i = 0;

    while (i < n) {
        size_t b, e;

        while (i < n && (is_ows(s[i]) || s[i] == ','))
            i++;
        b = i;
        while (i < n && s[i] != ',')
            i++;
        e = i;
        while (e > b && is_ows(s[e - 1]))
            e--;
        if (e - b == tlen && strncasecmp(s + b, tok, tlen) == 0)
            return 1;
    }
    return 0;
}

/* Is the last element of the list s[0..n) "chunked"? */
static int
list_ends_chunked(const char *s, size_t n)
{
    size_t e = n, b;

    while (e > 0 && (is_ows(s[e - 1]) || s[e - 1] == ','))
        e--;
    b = e;
    while (b > 0 && s[b - 1] != ',')
        b--;
    while (b < e && is_ows(s[b]))
        b++;
    return e - b == 7 && strncasecmp(s + b, "chunked", 7) == 0;
}

static int
name_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

/* Parse the status line s[0..n): "HTTP/1.x NNN[ reason]". */
static int
status_line(struct sse_resp *r, const char *s, size_t n)
{
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' ||
        s[7] > '9' || s[8] != ' ' || s[9] < '1' || s[9] > '9' ||
        s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (n > 12 && s[12] != ' '))
        return -1;
    r->minor = s[7] - '0';
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    return 0;
}

/* Parse the gathered head h[0..n), which ends in its blank line, and pick
 * how the body is delimited. */
static int
parse_head(struct sse_resp *r, const char *h, size_t n)
{
    const char *end = h + n, *p = h;
    int first = 1, te = 0, te_chunked = 0, conn_close = 0, conn_keep = 0;
    long long cl = -1;

    r->content_type[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        const char *colon, *v, *ve;
        size_t len;

        if (e > p && e[-1] == '\r')
            e--;
        len = (size_t)(e - p);
        if (first) {
            if (status_line(r, p, len) != 0) {
                r->error = "bad status line";
                return -1;
            }
            first = 0;
            goto next;
        }
        /* A blank line ends the head; a folded line (obsolete) continues
         * a field this reader has no use for. */
        if (len == 0 || is_ows(p[0]))
            goto next;
        if ((colon = memchr(p, ':', len)) == NULL || colon == p) {
            r->error = "bad header field";
            return -1;
        }
        v = colon + 1;
        ve = e;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        len = (size_t)(colon - p);
        if (name_is(p, len, "transfer-encoding")) {
            te = 1;
            te_chunked = list_ends_chunked(v, (size_t)(ve - v));
        } else if (name_is(p, len, "content-length")) {
            long long val = 0;
            const char *q;

            if (v == ve) {
                r->error = "bad Content-Length";
                return -1;
            }
            for (q = v; q < ve; q++) {
                if (*q < '0' || *q > '9' || val > (LLONG_MAX - 9) / 10) {
                    r->error = "bad Content-Length";
                    return -1;
                }
                val = val * 10 + (*q - '0');
            }
            if (cl >= 0 && cl != val) {
                r->error = "conflicting Content-Length";
                return -1;
            }
            cl = val;
        } else if (name_is(p, len, "connection")) {
            conn_close |= list_has(v, (size_t)(ve - v), "close");
            conn_keep |= list_has(v, (size_t)(ve - v), "keep-alive");
        } else if (name_is(p, len, "content-type") &&
                   r->content_type[0] == '\0') {
            size_t vl = (size_t)(ve - v);

            if (vl >= sizeof(r->content_type))
                vl = sizeof(r->content_type) - 1;
            memcpy(r->content_type, v, vl);
            r->content_type[vl] = '\0';
        }
next:
        p = nl != NULL ? nl + 1 : end;
    }
    r->keep_alive = r->minor >= 1 ? !conn_close : conn_keep && !conn_close;
    r->chunked = 0;
    r->content_length = -1;
    if (r->no_body || r->status < 200 || r->status == 204 ||
        r->status == 304) {
        r->state = S_END;
    } else if (te) {
        if (te_chunked) {
            r->chunked = 1;
            r->digits = 0;
            r->left = 0;
            r->state = S_CHUNK_SIZE;
        } else {
            r->keep_alive = 0;
            r->state = S_BODY_CLOSE;
        }
    } else if (cl >= 0) {
        r->content_length = cl;
        r->left = (unsigned long long)cl;
        r->state = cl > 0 ? S_BODY_LEN : S_END;
    } else {
        r->keep_alive = 0;
        r->state = S_BODY_CLOSE;
    }
    return 0;
}

/* Gather head bytes from in[0..n). Returns bytes consumed, with *done set
 * once the blank line was reached, or -1. */
static long
gather_head(struct sse_resp *r, const char *in, size_t n, int *done)
{
    size_t i = 0;

    *done = 0;
    while (i < n) {
        char c = in[i++];

        if (c == '\n') {
            if (r->at_line_start) {
                *done = 1;
                break;
            }
            r->at_line_start = 1;
        } else if (c != '\r') {
            r->at_line_start = 0;
        }
    }
    if (sse_buf_append(&r->head, in, i) != 0) {
        r->error = "response head too large";
        return -1;
    }
    return (long)i;
}

/* ------------------------------------------------------------------------
 * Feeding
 * ------------------------------------------------------------------------ */

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The chunk size line is complete. */
static void
size_done(struct sse_resp *r)
{
    r->state = r->left > 0 ? S_CHUNK_DATA : S_TRAILER_START;
}

/* One byte of chunked framing. Returns 0 or -1. */
static int
framing(struct sse_resp *r, char c)
{
    int d;

    switch (r->state) {
    case S_CHUNK_SIZE:
        if ((d = hex(c)) >= 0) {
            if (r->left > (ULLONG_MAX >> 4)) {
                r->error = "chunk size too large";
                return -1;
            }
            r->left = r->left << 4 | (unsigned)d;
            r->digits++;
            return 0;
        }
        if (r->digits == 0) {
            r->error = "bad chunk size";
            return -1;
        }
        if (is_ows(c)) {
            r->state = S_CHUNK_BWS;
            return 0;
        }
        /* FALLTHROUGH */
    case S_CHUNK_BWS:
        if (is_ows(c))
            return 0;
        if (c == ';')
            r->state = S_CHUNK_EXT;
        else if (c == '\r')
            r->state = S_CHUNK_SIZE_LF;
        else if (c == '\n')
            size_done(r);
        else {
            r->error = "bad chunk size";
            return -1;
        }
        return 0;
    case S_CHUNK_EXT:
        if (c == '\n')
            size_done(r);
        return 0;
    case S_CHUNK_SIZE_LF:
        if (c != '\n') {
            r->error = "bad chunk size line end";
            return -1;
        }
        size_done(r);
        return 0;
    case S_CHUNK_DATA_END:
        if (c == '\r') {
            r->state = S_CHUNK_DATA_LF;
            return 0;
        }
        /* FALLTHROUGH */
    case S_CHUNK_DATA_LF:
        if (c != '\n') {
            r->error = "chunk data not followed by CRLF";
            return -1;
        }
        r->state = S_CHUNK_SIZE;
        r->digits = 0;
        r->left = 0;
        return 0;
    case S_TRAILER_START:
        if (c == '\r')
            r->state = S_TRAILER_LF;
        else if (c == '\n')
            r->state = S_END;
        else
            r->state = S_TRAILER_LINE;
        return 0;
    case S_TRAILER_LINE:
        if (c == '\n')
            r->state = S_TRAILER_START;
        return 0;
    case S_TRAILER_LF:
        if (c != '\n') {
            r->error = "bad end of trailer section";
            return -1;
        }
        r->state = S_END;
        return 0;
    default:
        r->error = "internal state";
        return -1;
    }
}

long
sse_resp_feed(struct sse_resp *r, const char *in, size_t n,
              struct sse_resp_part *part)
{
    size_t i = 0, take;
    long k;
    int done;

    part->kind = SSE_RESP_NONE;
    part->data = NULL;
    part->len = 0;
    for (;;) {
        switch (r->state) {
        case S_HEAD:
            if (i == n)
                return (long)i;
            if ((k = gather_head(r, in + i, n - i, &done)) < 0)
                return -1;
            i += (size_t)k;
            if (!done)
                return (long)i;
            if (parse_head(r, sse_buf_head(&r->head),
                           sse_buf_len(&r->head)) != 0)
                return -1;
            sse_buf_free(&r->head);
            r->at_line_start = 0;
            if (r->status >= 100 && r->status < 200 && r->status != 101) {
                /* An interim answer: the real one follows. */
                r->state = S_HEAD;
                continue;
            }
            part->kind = SSE_RESP_HEAD;
            return (long)i;
        case S_BODY_CLOSE:
            if (i == n)
                return (long)i;
            part->kind = SSE_RESP_BODY;
            part->data = in + i;
            part->len = n - i;
            return (long)n;
        case S_BODY_LEN:
        case S_CHUNK_DATA:
            if (i == n)
                return (long)i;
            take = n - i;
            if (take > r->left)
                take = (size_t)r->left;
            r->left -= take;
            part->kind = SSE_RESP_BODY;
            part->data = in + i;
            part->len = take;
            if (r->left == 0)
                r->state = r->state == S_BODY_LEN ? S_END : S_CHUNK_DATA_END;
            return (long)(i + take);
        case S_END:
            r->state = S_DONE;
            part->kind = SSE_RESP_END;
            return (long)i;
        case S_DONE:
            return (long)i;
        default:
            while (i < n && r->state != S_CHUNK_DATA && r->state != S_END)
                if (framing(r, in[i++]) != 0)
                    return -1;
            if (i == n && r->state != S_END)
                return (long)i;
            continue;
        }
    }
}

int
sse_resp_eof(struct sse_resp *r)
{
    switch (r->state) {
    case S_BODY_CLOSE:
        r->state = S_DONE;
        return 1;
    case S_END:
    case S_DONE:
        return 0;
    case S_HEAD:
        r->error = "connection closed before the response head";
        return -1;
    case S_BODY_LEN:
        r->error = "connection closed before the end of the body";
        return -1;
    default:
        r->error = "connection closed inside the chunked body";
        return -1;
    }
}

int
sse_resp_is_event_stream(const struct sse_resp *r)
{
    const char *ct = r->content_type;
    size_t n = strlen("text/event-stream");

    return strncasecmp(ct, "text/event-stream", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || is_ows(ct[n]));
}
