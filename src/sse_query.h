/*
 * sse_query: what a subscriber asks for, from the request's QUERY_STRING,
 * PATH_INFO and Last-Event-ID header.
 *
 *   GET /sse?key=a&key=b     keys a and b ("key" may repeat)
 *   GET /sse/a               key a, from PATH_INFO "/a"
 *   Last-Event-ID: 42        or ?lastEventId=42 for polyfills and first loads
 *   ?mode=status             the open streams as JSON (all, or of the key
 *                            given); the only request that needs no key
 *   ?mode=poll               answer once, in JSON, for clients without
 *                            EventSource (mode=stream is the default)
 *   ?latest=1                start with each key's latest event (not with a
 *                            Last-Event-ID, which replays from that id)
 *   ?token=JWT               an access token (sse_auth), since EventSource
 *                            cannot set an Authorization header
 *
 * Keys are percent-decoded ('+' is a space, which no key may hold),
 * validated with sse_key_check and de-duplicated. Unknown parameters are
 * ignored, so cache-busting parameters do no harm.
 */
#ifndef SSE_QUERY_H
#define SSE_QUERY_H

#include <stddef.h>

#define SSE_QUERY_KEYS_MAX 32     /* keys on one stream */
#define SSE_QUERY_LEN_MAX  8192   /* bytes of QUERY_STRING accepted */

struct sse_query {
    size_t nkeys;                          /* keys in keys[] */
    char  *keys[SSE_QUERY_KEYS_MAX];       /* owned, NUL-terminated, valid */
    size_t key_lens[SSE_QUERY_KEYS_MAX];   /* strlen of each key */
    char  *last_event_id;                  /* owned, or NULL if none given */
    size_t last_event_id_len;
    char  *token;                          /* owned "token" parameter, or NULL */
    int    latest;                         /* ?latest=1: start with each key's
                                              latest event */
    int    poll;                           /* ?mode=poll: one JSON answer */
    int    status;                         /* ?mode=status: the counts */
};

/* Fill q from query (QUERY_STRING, may be NULL), path_info (may be NULL)
 * and last_event_id (the Last-Event-ID header, may be NULL; it wins over the
 * lastEventId parameter). Returns 0, or -1 with *reason set to a static
 * one-line reason fit for a 400 answer ("no key given", "too many keys",
 * "malformed percent-encoding", a key's sse_key_check reason, ...).
 * Call sse_query_free afterwards in both cases. */
int sse_query_parse(struct sse_query *q, const char *query,
                    const char *path_info, const char *last_event_id,
                    const char **reason);

/* Free what q owns and leave it empty. Safe on an emptied q. */
void sse_query_free(struct sse_query *q);

/* Percent-decode in[0..n) into out (room for n bytes): "%XX" is a byte and
 * '+' a space. Returns the decoded length, or -1 for a malformed escape. */
long sse_query_decode(const char *in, size_t n, char *out);

#endif /* SSE_QUERY_H */
