/*
 * sse_parse: an event stream read the way a browser's EventSource reads it.
 *
 * The rules are WHATWG HTML's "event stream interpretation": a UTF-8 byte
 * order mark at the very start is dropped; lines end in CRLF, LF or CR (a CR
 * that ends one read and an LF that starts the next are one line end); a
 * line starting with ':' is a comment; otherwise the text up to the first
 * ':' names a field and the rest, less one leading space, is its value.
 * "data" lines are joined with LF, "event" sets the type, "id" sets the last
 * event ID unless the value holds a NUL, "retry" takes ASCII digits only,
 * and a blank line dispatches the event if its data buffer is not empty.
 * What is left when the stream ends (an unterminated line, an event with no
 * blank line after it) is discarded.
 *
 * The parser works on bytes and does no UTF-8 decoding: a browser would turn
 * invalid sequences into U+FFFD, here they pass through unchanged. It does no
 * I/O; the caller feeds bytes as they arrive and gets one callback per
 * dispatched event. Storage is held only while a line or an event is
 * incomplete, so an idle parser owns no heap memory.
 */
#ifndef SSE_PARSE_H
#define SSE_PARSE_H

#include <stddef.h>

#include "sse_buf.h"

/* One dispatched event. The views are valid during the callback only. */
struct sse_parse_event {
    const char *type;       /* event type, "message" when none was given */
    size_t      type_len;
    const char *data;       /* data lines joined by LF, no final LF */
    size_t      data_len;
    const char *id;         /* the last event ID buffer (may be empty) */
    size_t      id_len;
};

struct sse_parse {
    struct sse_buf line;    /* an unterminated line carried to the next feed */
    struct sse_buf data;    /* data buffer, each line followed by LF */
    struct sse_buf type;    /* event type buffer */
    struct sse_buf id;      /* last event ID buffer */
    long           retry;   /* last valid retry in ms, or -1 */
    unsigned char  bom;     /* bytes of a BOM matched, 3 once past the start */
    unsigned char  cr;      /* the last line ended in a CR: skip one LF */
    unsigned char  failed;  /* a ceiling was passed; feed refuses input */
    /* called once per dispatched event, with arg */
    void         (*on_event)(void *arg, const struct sse_parse_event *ev);
    /* called once per comment line with the text after ':', or NULL */
    void         (*on_comment)(void *arg, const char *text, size_t len);
    void          *arg;
};

/* Set p up at the start of a stream. max bounds one line and each of the
 * data, type and id buffers (0: no bound). on_event must not be NULL;
 * on_comment may be. Allocates nothing. */
void sse_parse_init(struct sse_parse *p, size_t max,
                    void (*on_event)(void *, const struct sse_parse_event *),
                    void (*on_comment)(void *, const char *, size_t),
                    void *arg);

/* Free p's storage, discarding an incomplete line or event (what the end of
 * a stream does). p may be set up again with sse_parse_init. */
void sse_parse_free(struct sse_parse *p);

/* Parse the next n bytes of the stream, calling the callbacks for every
 * event and comment they complete, in order. Returns 0, or -1 if a line or
 * a buffer would pass the ceiling: events before that point were
 * dispatched, and every later call returns -1 too. */
int sse_parse_feed(struct sse_parse *p, const char *in, size_t n);

#endif /* SSE_PARSE_H */
