/*
 * sse_ipc: probe a unix socket.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sse_ipc.h"

int
sse_ipc_probe(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, err = 0;

    if (strlen(path) >= sizeof(sa.sun_path))
        return ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        err = errno;
    close(fd);
    return err;
}
