/*
 * sse_event: one server-sent event and its exact bytes on the wire.
 *
 * Encoding follows the WHATWG "server-sent events" rules: each line of the
 * data (split on LF, CR or CRLF) becomes its own "data: " line, so the
 * browser rebuilds the message with the line contents unchanged and LF
 * between them; event, id and retry fields appear only when set. Names and
 * ids that could inject fields (CR, LF, NUL) are refused by the checks here,
 * which every entry point shares.
 */
#ifndef SSE_EVENT_H
#define SSE_EVENT_H

#include <stddef.h>

struct sse_buf;

#define SSE_EVENT_NAME_MAX  128         /* bytes in an event name */
#define SSE_EVENT_ID_MAX    256         /* bytes in an id */
#define SSE_EVENT_RETRY_MAX 86400000L   /* one day, in milliseconds */
#define SSE_EVENT_DATA_MAX  (256 * 1024) /* default limit on data bytes */

struct sse_event {
    const char *event;      /* event name, or NULL for none */
    size_t      event_len;
    const char *id;         /* id, or NULL for none */
    size_t      id_len;
    long        retry;      /* reconnection time in ms, or -1 for none */
    const char *data;       /* message bytes (may be empty, NULL if len 0) */
    size_t      data_len;
};

/* Append the SSE form of ev to out: "event: ", "id: ", "retry: " lines when
 * set, then one "data: " line per line of ev->data, then a blank line. Every
 * line ends in LF. An empty message gives one empty data line, so it is still
 * dispatched. Returns 0, or -1 if out would pass its ceiling (out is left
 * unchanged). ev must have passed sse_event_check. */
int sse_event_encode(const struct sse_event *ev, struct sse_buf *out);

/* Number of bytes sse_event_encode would append. */
size_t sse_event_encoded_len(const struct sse_event *ev);

/* Check every field of ev, with data_max as the limit on data bytes.
 * Returns NULL if ev may be sent, or a static one-line reason, e.g.
 * "event name contains CR, LF or NUL". */
const char *sse_event_check(const struct sse_event *ev, size_t data_max);

/* Check one field alone. Each returns NULL or a static reason. */
const char *sse_event_check_name(const char *s, size_t n);
const char *sse_event_check_id(const char *s, size_t n);
const char *sse_event_check_data(const char *s, size_t n, size_t data_max);

/* Parse a retry value: decimal digits only, at most SSE_EVENT_RETRY_MAX.
 * Returns the value, or -1 if s is not one. */
long sse_event_parse_retry(const char *s, size_t n);

/* Append one encoded event sse[0..n) (as sse_event_encode writes it) to
 * out as a JSON object {"id":..,"event":..,"data":..} ("event" is
 * "message" when the event has no name; "id" is left out when it has
 * none). *id and *id_len are set to the event's id inside sse (NULL if
 * none). Returns 0, or -1 if out would pass its ceiling. */
int sse_event_to_json(const char *sse, size_t n, struct sse_buf *out,
                      const char **id, size_t *id_len);

/* Append s[0..n) to out as a JSON string, quotes included. Returns 0 or
 * -1 as sse_buf_append. */
int sse_json_string(const char *s, size_t n, struct sse_buf *out);

/* Return 1 if s[0..n) is exactly one event as sse_event_encode writes it:
 * lines ending in LF, the only blank line last. Else 0. */
int sse_event_whole(const char *s, size_t n);

/* Return 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing
 * past U+10FFFF), else 0. */
int sse_utf8_valid(const char *s, size_t n);

#endif /* SSE_EVENT_H */
