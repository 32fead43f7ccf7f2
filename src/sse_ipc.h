/*
 * sse_ipc: whether something listens on a unix socket, asked directly, so
 * that a broker that is not running is known at once rather than after a
 * ZeroMQ timeout, and a broker does not take over another one's socket.
 */
#ifndef SSE_IPC_H
#define SSE_IPC_H

/* Connect to the unix socket at path and close again. Returns 0 if
 * something accepted, else the errno that says why not (ENAMETOOLONG for a
 * path too long for a socket address). */
int sse_ipc_probe(const char *path);

#endif /* SSE_IPC_H */
