/*
 * sse_cors: match an Origin against the allowed list and write the
 * headers. Only a configured origin is ever echoed, so nothing a client
 * sends reaches the response unchecked.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "sse_config.h"
#include "sse_cors.h"

#define PREFLIGHT_HEADERS \
    "Access-Control-Allow-Methods: GET, HEAD\r\n" \
    "Access-Control-Allow-Headers: Last-Event-ID, Cache-Control, " \
    "Authorization\r\n" \
    "Access-Control-Max-Age: 600\r\n"

/* 1 if origin is one of the list's entries, 2 if the list has "*". */
static int
match(const char *list, const char *origin)
{
    if (sse_config_listed(list, origin, strlen(origin)))
        return 1;
    return sse_config_listed(list, "*", 1) ? 2 : 0;
}

enum sse_cors_verdict
sse_cors_check(const char *allowed, const char *origin, int preflight,
               char *out, size_t outlen)
{
    int m, n;

    if (allowed == NULL || allowed[0] == '\0' || origin == NULL)
        return SSE_CORS_NONE;
    if ((m = match(allowed, origin)) == 0 || strlen(origin) > 256)
        return SSE_CORS_DENY;
    if (m == 1)
        n = snprintf(out, outlen, "Access-Control-Allow-Origin: %s\r\n"
                     "Access-Control-Allow-Credentials: true\r\n"
                     "Vary: Origin\r\n%s", origin,
                     preflight ? PREFLIGHT_HEADERS : "");
    else
        n = snprintf(out, outlen, "Access-Control-Allow-Origin: *\r\n%s",
                     preflight ? PREFLIGHT_HEADERS : "");
    if (n < 0 || (size_t)n >= outlen)
        return SSE_CORS_DENY;
    return SSE_CORS_ALLOW;
}
