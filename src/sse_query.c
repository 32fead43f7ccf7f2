/*
 * sse_query: what a subscriber asks for, from QUERY_STRING, PATH_INFO and
 * the Last-Event-ID header.
 *
 * Everything here comes straight from the browser, so it is bounded before
 * it is looked at (query length, number of keys) and every value is checked
 * with the same functions the publishers' side uses. A bad request gets one
 * short reason, fit for a 400 answer, and never a partial subscription.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sse_event.h"
#include "sse_key.h"
#include "sse_query.h"
#include "sse_xmalloc.h"

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
sse_query_decode(const char *in, size_t n, char *out)
{
    size_t i, o = 0;
    int hi, lo;

    for (i = 0; i < n; i++) {
        if (in[i] == '+') {
            out[o++] = ' ';
        } else if (in[i] == '%') {
            /* The length test comes first so a '%' at the end is never
             * followed past the input. */
            if (n - i < 3 || (hi = hexval((unsigned char)in[i + 1])) < 0 ||
                (lo = hexval((unsigned char)in[i + 2])) < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    return (long)o;
}

/* Add key k[0..n) unless q has it already. Returns NULL or a reason. */
static const char *
add_key(struct sse_query *q, const char *k, size_t n)
{
    const char *why;
    size_t i;

    if ((why = sse_key_check(k, n)) != NULL)
        return why;
    for (i = 0; i < q->nkeys; i++)
        if (q->key_lens[i] == n && memcmp(q->keys[i], k, n) == 0)
            return NULL;
    if (q->nkeys == SSE_QUERY_KEYS_MAX)
        return "too many keys";
    q->keys[q->nkeys] = xstrndup(k, n);
    q->key_lens[q->nkeys] = n;
    q->nkeys++;
    return NULL;
}

/* Set the last event id to s[0..n), replacing any earlier one. */
static const char *
set_id(struct sse_query *q, const char *s, size_t n)
{
    const char *why;

    if ((why = sse_event_check_id(s, n)) != NULL)
        return why;
    free(q->last_event_id);
    q->last_event_id = xstrndup(s, n);
    q->last_event_id_len = n;
    return NULL;
}

static int
is_name(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(s, name, n) == 0;
}

int
sse_query_parse(struct sse_query *q, const char *query,
                const char *path_info, const char *last_event_id,
                const char **reason)
{
    const char *why = NULL;
    char *name = NULL, *val;
    size_t qlen, i, end, eq;
    long nlen, vlen;

    memset(q, 0, sizeof(*q));
    if (query == NULL)
        query = "";
    /* strnlen: a hostile query is refused without reading all of it. */
    qlen = strnlen(query, SSE_QUERY_LEN_MAX + 1);
    if (qlen > SSE_QUERY_LEN_MAX) {
        why = "query string too long";
        goto out;
    }

    /* The web server has already decoded PATH_INFO, so "/a%2Fb" arrives
     * as "/a/b" and the '/' makes it an invalid key, as it should. */
    if (path_info != NULL) {
        const char *k = path_info[0] == '/' ? path_info + 1 : path_info;

        if (*k != '\0' && (why = add_key(q, k, strlen(k))) != NULL)
            goto out;
    }

    if (last_event_id != NULL &&
        (why = set_id(q, last_event_id, strlen(last_event_id))) != NULL)
        goto out;

    /* Names and values both decode to no more bytes than they take, so one
     * buffer of the query's length holds a decoded pair. */
    name = xmalloc(qlen);
    for (i = 0; i < qlen; i = end + 1) {
        for (end = i; end < qlen && query[end] != '&'; end++)
            continue;
        for (eq = i; eq < end && query[eq] != '='; eq++)
            continue;

        nlen = sse_query_decode(query + i, eq - i, name);
        val = name + (nlen < 0 ? 0 : nlen);
        vlen = eq < end ? sse_query_decode(query + eq + 1, end - eq - 1, val)
                        : 0;
        /* Unknown parameters are checked too: a broken escape anywhere
         * means the URL was built wrongly, and saying so helps. */
        if (nlen < 0 || vlen < 0) {
            why = "malformed percent-encoding";
            goto out;
        }

        if (is_name(name, (size_t)nlen, "key")) {
            if (vlen == 0)
                why = "empty key";
            else
                why = add_key(q, val, (size_t)vlen);
        } else if (is_name(name, (size_t)nlen, "lastEventId") &&
                   last_event_id == NULL) {
            /* The last one wins: polyfills append the current id to a URL
             * that may already carry the one from the first page load. */
            why = set_id(q, val, (size_t)vlen);
        } else if (is_name(name, (size_t)nlen, "mode")) {
            if (is_name(val, (size_t)vlen, "poll"))
                q->poll = 1;
            else if (is_name(val, (size_t)vlen, "stream"))
                q->poll = 0;
            else if (is_name(val, (size_t)vlen, "status"))
                q->status = 1;
            else
                why = "mode must be stream, poll or status";
        } else if (is_name(name, (size_t)nlen, "latest")) {
            q->latest = !(vlen == 1 && val[0] == '0');
        } else if (is_name(name, (size_t)nlen, "token")) {
            /* EventSource cannot send headers, so a token may come here;
             * it is checked by sse_auth, not here. */
            free(q->token);
            q->token = xstrndup(val, (size_t)vlen);
        }
        if (why != NULL)
            goto out;
    }

    if (q->nkeys == 0 && !q->status)
        why = "no key given";
    else if (q->status && q->nkeys > 1)
        why = "mode=status takes at most one key";
out:
    free(name);
    *reason = why;
    return why == NULL ? 0 : -1;
}

void
sse_query_free(struct sse_query *q)
{
    size_t i;

    for (i = 0; i < q->nkeys; i++)
        free(q->keys[i]);
    free(q->last_event_id);
    free(q->token);
    memset(q, 0, sizeof(*q));
}
