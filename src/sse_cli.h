/*
 * sse_cli: the command-line handling the three programs share: parse the
 * option table, answer --help and --version, refuse misuse with one line on
 * stderr and exit status 64, and set the log level.
 */
#ifndef SSE_CLI_H
#define SSE_CLI_H

#include <stddef.h>

#include "sse_config.h"
#include "sse_opt.h"

/* Option table entries the programs share, so each reads and documents
 * the same way everywhere. */
#define SSE_CLI_RUNDIR { "rundir", 0, SSE_OPT_STR, "SSE_RUNDIR", 0, 0, \
    "DIR", "runtime directory (default " SSE_RUNDIR_DEFAULT ")" }
#define SSE_CLI_PUB_ENDPOINT { "pub-endpoint", 0, SSE_OPT_STR, \
    "SSE_PUB_ENDPOINT", 0, 0, "EP", \
    "broker's PUB side (default ipc://RUNDIR/pub.sock)" }
#define SSE_CLI_PUSH_ENDPOINT { "push-endpoint", 0, SSE_OPT_STR, \
    "SSE_PUSH_ENDPOINT", 0, 0, "EP", \
    "where sse-push publishes (default ipc://RUNDIR/push.sock)" }
#define SSE_CLI_DATA_MAX { "data-max", 0, SSE_OPT_NUM, "SSE_DATA_MAX", 0, \
    64 * 1024 * 1024, "BYTES", "largest message (default 262144)" }
#define SSE_CLI_CURVE_SERVER { "curve-server", 0, SSE_OPT_STR, \
    "SSE_CURVE_SERVER", 0, 0, "FILE", \
    "talk CURVE to the broker whose public key is FILE" }
#define SSE_CLI_CURVE_KEY { "curve-key", 0, SSE_OPT_STR, "SSE_CURVE_KEY", \
    0, 0, "FILE", "our CURVE key pair (from sse-broker --keygen)" }
#define SSE_CLI_LOG_LEVEL { "log-level", 0, SSE_OPT_STR, "SSE_LOG_LEVEL", \
    0, 0, "LEVEL", "error, warn, info or debug (default info)" }
#define SSE_CLI_CHECK { "check", 'n', SSE_OPT_FLAG, NULL, 0, 0, NULL, \
    "check the configuration and exit" }
#define SSE_CLI_HELP { "help", 'h', SSE_OPT_FLAG, NULL, 0, 0, NULL, \
    "show this help and exit" }
#define SSE_CLI_VERSION { "version", 'V', SSE_OPT_FLAG, NULL, 0, 0, NULL, \
    "show the version and exit" }

struct sse_cli {
    const char           *prog;      /* "sse-push" */
    const char           *synopsis;  /* usage lines and a sentence, "\n"-ended */
    const char           *epilogue;  /* after the options, or NULL */
    const struct sse_opt *opts;
    size_t                nopts;
    int                   help;      /* index of --help in opts */
    int                   version;   /* index of --version */
    int                   log_level; /* index of --log-level, or -1 */
};

/* Parse argv against cli->opts into v, taking the environment for options
 * that have a variable. --help prints usage to stdout and exits 0;
 * --version prints the version and exits 0; a bad option or log level
 * prints one line on stderr and exits 64. Sets up logging for cli->prog.
 * Returns the index of the first operand. */
int sse_cli_parse(const struct sse_cli *cli, int argc, char **argv,
                  struct sse_opt_val *v);

/* Print usage (to stdout if status is 0, else stderr) and exit. */
void sse_cli_usage(const struct sse_cli *cli, int status)
    __attribute__((noreturn));

#endif /* SSE_CLI_H */
