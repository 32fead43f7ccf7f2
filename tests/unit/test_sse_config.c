/*
 * Unit tests for sse_config: default and explicit endpoints, the runtime
 * directory fallback, and picking the path out of an ipc endpoint.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sse_config.h"

Test(sse_config, endpoint_prefers_explicit_then_rundir_then_default)
{
    static const struct {
        const char *row;
        const char *explicit_ep, *rundir, *sockname;
        const char *want;
    } cases[] = {
        { "all defaults", NULL, NULL, SSE_PUSH_SOCKET,
          "ipc://" SSE_RUNDIR_DEFAULT "/" SSE_PUSH_SOCKET },
        { "empty explicit and rundir", "", "", SSE_PUB_SOCKET,
          "ipc://" SSE_RUNDIR_DEFAULT "/" SSE_PUB_SOCKET },
        { "rundir", NULL, "/tmp/sse", "push.sock",
          "ipc:///tmp/sse/push.sock" },
        { "rundir with a trailing slash", NULL, "/tmp/sse/", "push.sock",
          "ipc:///tmp/sse/push.sock" },
        { "only one trailing slash is dropped", NULL, "/tmp/sse//",
          "pub.sock", "ipc:///tmp/sse//pub.sock" },
        { "root as rundir", NULL, "/", "pub.sock", "ipc:///pub.sock" },
        { "relative rundir", NULL, "run", "pub.sock", "ipc://run/pub.sock" },
        { "explicit tcp", "tcp://127.0.0.1:5555", "/tmp/sse", "pub.sock",
          "tcp://127.0.0.1:5555" },
        { "explicit ipc", "ipc:///var/x.sock", NULL, "pub.sock",
          "ipc:///var/x.sock" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ep = sse_config_endpoint(cases[i].explicit_ep, cases[i].rundir,
                                       cases[i].sockname);

        cr_assert_not_null(ep, "%s", cases[i].row);
        cr_expect_str_eq(ep, cases[i].want, "%s", cases[i].row);
        cr_expect(ep != cases[i].explicit_ep, "%s: not a copy", cases[i].row);
        free(ep);
    }
}

Test(sse_config, default_rundir_has_no_trailing_slash)
{
    char *ep = sse_config_endpoint(NULL, NULL, "x");

    cr_expect_null(strstr(ep, "//x"), "'%s'", ep);
    free(ep);
}

Test(sse_config, rundir_falls_back_to_the_default_when_unset_or_empty)
{
    static const char dir[] = "/srv/sse";

    cr_expect_str_eq(sse_config_rundir(NULL), SSE_RUNDIR_DEFAULT);
    cr_expect_str_eq(sse_config_rundir(""), SSE_RUNDIR_DEFAULT);
    cr_expect_eq(sse_config_rundir(dir), dir, "rundir is not borrowed");
    cr_expect_str_eq(sse_config_rundir("/srv/"), "/srv/");
}

Test(sse_config, ipc_path_is_the_part_after_the_scheme)
{
    static const struct {
        const char *row;
        const char *endpoint;
        int         want_off;   /* -1: NULL */
    } cases[] = {
        { "absolute path", "ipc:///run/sse-gateway/push.sock", 6 },
        { "relative path", "ipc://push.sock", 6 },
        { "empty path", "ipc://", -1 },
        { "tcp", "tcp://127.0.0.1:5555", -1 },
        { "inproc", "inproc://x", -1 },
        { "scheme without slashes", "ipc:/x", -1 },
        { "upper case scheme", "IPC:///x", -1 },
        { "empty string", "", -1 },
        { "NULL", NULL, -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = sse_config_ipc_path(cases[i].endpoint);

        if (cases[i].want_off < 0)
            cr_expect_null(got, "%s: got '%s'", cases[i].row, got ? got : "");
        else
            cr_expect_eq(got, cases[i].endpoint + cases[i].want_off,
                         "%s: not a view at offset %d", cases[i].row,
                         cases[i].want_off);
    }
}

Test(sse_config, default_endpoint_round_trips_through_ipc_path)
{
    char *ep = sse_config_endpoint(NULL, "/tmp/sse/", SSE_PUB_SOCKET);

    cr_expect_str_eq(sse_config_ipc_path(ep), "/tmp/sse/" SSE_PUB_SOCKET);
    free(ep);
}

Test(sse_config, listed_matches_whole_entries_between_separators)
{
    static const struct {
        const char *row, *list, *word;
        int want;
    } cases[] = {
        { "only entry", "127.0.0.1", "127.0.0.1", 1 },
        { "after a comma", "10.0.0.1,127.0.0.1", "127.0.0.1", 1 },
        { "between spaces and tabs", " 10.0.0.1 \t127.0.0.1 ,", "127.0.0.1",
          1 },
        { "a prefix of an entry", "127.0.0.10", "127.0.0.1", 0 },
        { "an entry is a prefix", "127.0.0.1", "127.0.0.10", 0 },
        { "empty list", "", "127.0.0.1", 0 },
        { "empty word, trailing separator", "a,", "", 0 },
        { "empty word, empty list", "", "", 0 },
        { "star is an entry like any other", "https://a.example *", "*", 1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(sse_config_listed(cases[i].list, cases[i].word,
                                       strlen(cases[i].word)),
                     cases[i].want, "%s", cases[i].row);
}
