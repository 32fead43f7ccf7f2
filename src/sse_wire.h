/*
 * sse_wire: the messages the broker exchanges, each with a version byte.
 *
 * sse-push sends PUBLISH frames to the broker's ROUTER socket (over a
 * DEALER, so several may be in flight); the broker answers each with an ACK
 * once the event is on its PUB side, or a NACK with a reason. Workers get
 * DELIVER frames from the broker's XPUB socket, behind a topic frame (see
 * sse_key.h). Integers are big-endian.
 *
 *   publish  = %x01 "P" flags seq key-len key
 *              name-len name id-len id retry data-len data
 *   ack      = %x01 "A" seq status reason-len reason
 *   deliver  = %x01 "D" flags sse-bytes
 *
 *   flags      = OCTET          ; bit 0: close streams after, bit 1: all keys
 *   seq        = 4OCTET         ; chosen by the publisher, echoed in the ack
 *   key-len    = OCTET          ; 0 with the "all keys" flag
 *   name-len   = OCTET          ; 0: no event field
 *   id-len     = 2OCTET         ; 0: no id field
 *   retry      = 4OCTET         ; %xFFFFFFFF: no retry field
 *   data-len   = 4OCTET
 *   status     = OCTET          ; 0 accepted, 1 invalid data, 2 unavailable
 *   reason-len = OCTET
 *   sse-bytes  = *OCTET         ; the event exactly as streams send it
 */
#ifndef SSE_WIRE_H
#define SSE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sse_event.h"

struct sse_buf;

#define SSE_WIRE_VERSION 1

#define SSE_WIRE_CLOSE 0x01   /* end every matching stream after this event */
#define SSE_WIRE_ALL   0x02   /* broadcast: every stream, no key */

enum sse_wire_status {
    SSE_WIRE_OK = 0,          /* accepted and handed to the PUB side */
    SSE_WIRE_INVALID = 1,     /* the message was refused as invalid */
    SSE_WIRE_UNAVAILABLE = 2, /* the broker could not forward it */
};

struct sse_wire_publish {
    unsigned         flags;     /* SSE_WIRE_CLOSE | SSE_WIRE_ALL */
    uint32_t         seq;       /* echoed in the ack */
    const char      *key;       /* NULL/0 with SSE_WIRE_ALL */
    size_t           key_len;
    struct sse_event ev;        /* fields point into the decoded frame */
};

struct sse_wire_ack {
    uint32_t    seq;
    int         status;         /* enum sse_wire_status */
    const char *reason;         /* not NUL-terminated; NULL/0 if none */
    size_t      reason_len;
};

/* Append the publish frame for m to out. Returns 0, or -1 if a field is too
 * long for its length prefix or out would pass its ceiling (out unchanged). */
int sse_wire_publish_encode(const struct sse_wire_publish *m,
                            struct sse_buf *out);

/* Decode a publish frame; m's pointers are views into frame. The fields are
 * checked (key, name, id, retry, data with data_max). Returns 0, or -1 with
 * *reason set to a static reason. */
int sse_wire_publish_decode(const void *frame, size_t n,
                            struct sse_wire_publish *m, size_t data_max,
                            const char **reason);

/* Append an ack frame. reason may be NULL; it is cut to 255 bytes. */
int sse_wire_ack_encode(const struct sse_wire_ack *a, struct sse_buf *out);

/* Decode an ack frame (reason points into frame). Returns 0 or -1. */
int sse_wire_ack_decode(const void *frame, size_t n, struct sse_wire_ack *a);

/* Append a deliver frame: header with flags, then the event's SSE bytes
 * (sse_event_encode). Returns 0 or -1 as sse_event_encode. */
int sse_wire_deliver_encode(unsigned flags, const struct sse_event *ev,
                            struct sse_buf *out);

/* Decode a deliver frame: *flags, and *sse and *sse_len as a view of the SSE
 * bytes. Returns 0, or -1 if the frame is not a deliver frame. */
int sse_wire_deliver_decode(const void *frame, size_t n, unsigned *flags,
                            const char **sse, size_t *sse_len);

#endif /* SSE_WIRE_H */
