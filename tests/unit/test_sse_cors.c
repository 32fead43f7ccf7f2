/*
 * Tests for sse_cors: which origins get which headers.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <string.h>

#include "sse_cors.h"

Test(sse_cors, decides_by_exact_origin_and_star)
{
    static const struct {
        const char *name;
        const char *allowed;
        const char *origin;
        int         want;
        const char *header;   /* a header that must be there, or NULL */
    } rows[] = {
        { "off", NULL, "https://a.example", SSE_CORS_NONE, NULL },
        { "off when empty", "", "https://a.example", SSE_CORS_NONE, NULL },
        { "same origin sends none", "https://a.example", NULL, SSE_CORS_NONE,
          NULL },
        { "listed", "https://a.example https://b.example",
          "https://b.example", SSE_CORS_ALLOW,
          "Access-Control-Allow-Origin: https://b.example\r\n" },
        { "listed with commas", "https://a.example,https://b.example",
          "https://a.example", SSE_CORS_ALLOW,
          "Access-Control-Allow-Credentials: true\r\n" },
        { "not listed", "https://a.example", "https://evil.example",
          SSE_CORS_DENY, NULL },
        { "prefix is not a match", "https://a.example",
          "https://a.example.evil", SSE_CORS_DENY, NULL },
        { "shorter is not a match", "https://a.example.org",
          "https://a.example", SSE_CORS_DENY, NULL },
        { "star", "*", "https://any.example", SSE_CORS_ALLOW,
          "Access-Control-Allow-Origin: *\r\n" },
        { "listed wins over star", "* https://a.example",
          "https://a.example", SSE_CORS_ALLOW, "Vary: Origin\r\n" },
        { "CR in origin never echoed", "*", "https://x\r\nSet-Cookie: y",
          SSE_CORS_ALLOW, "Access-Control-Allow-Origin: *\r\n" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[SSE_CORS_HEADERS_MAX] = "";
        int got = sse_cors_check(rows[i].allowed, rows[i].origin, 0, out,
                                 sizeof(out));

        cr_expect_eq(got, rows[i].want, "row %s: verdict", rows[i].name);
        if (rows[i].header != NULL)
            cr_expect_not_null(strstr(out, rows[i].header),
                               "row %s: headers %s", rows[i].name, out);
        if (got == SSE_CORS_ALLOW)
            cr_expect_null(strstr(out, "Set-Cookie"), "row %s: nothing of "
                           "the request is echoed unchecked", rows[i].name);
    }
}

Test(sse_cors, star_never_allows_credentials)
{
    char out[SSE_CORS_HEADERS_MAX];

    cr_assert_eq(sse_cors_check("*", "https://a.example", 0, out,
                                sizeof(out)), SSE_CORS_ALLOW);
    cr_expect_null(strstr(out, "Credentials"), "%s", out);
}

Test(sse_cors, preflight_names_methods_and_headers)
{
    char out[SSE_CORS_HEADERS_MAX];

    cr_assert_eq(sse_cors_check("https://a.example", "https://a.example", 1,
                                out, sizeof(out)), SSE_CORS_ALLOW);
    cr_expect_not_null(strstr(out, "Access-Control-Allow-Methods: GET"));
    cr_expect_not_null(strstr(out, "Last-Event-ID"));
    cr_expect_not_null(strstr(out, "Access-Control-Max-Age: 600\r\n"));
    cr_assert_eq(sse_cors_check("https://a.example", "https://a.example", 0,
                                out, sizeof(out)), SSE_CORS_ALLOW);
    cr_expect_null(strstr(out, "Allow-Methods"), "not on a plain request");
}
