#!/bin/sh
# broadcast.sh MESSAGE: send MESSAGE to every open stream, whatever its key,
# as an event named "announce".
# Uses sse-push from PATH, or $SSE_PUSH.
push=${SSE_PUSH:-sse-push}

if [ $# -ne 1 ]; then
    echo "usage: $0 MESSAGE" >&2
    exit 64
fi

"$push" --all -e announce -- "$1"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "$0: sse-push --all failed (exit $rc)" >&2
    exit 1
fi
