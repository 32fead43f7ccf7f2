/*
 * sse_cli: the command-line handling the three programs share: parse the
 * option table, answer --help and --version, refuse misuse with one line on
 * stderr and exit status 64, and set the log level.
 */
#ifndef SSE_CLI_H
#define SSE_CLI_H

#include <stddef.h>

#include "sse_opt.h"

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
