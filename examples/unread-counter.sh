#!/bin/sh
# unread-counter.sh USER COUNT [ID]: tell USER's streams their unread count,
# as an event named "unread" whose data is the count (and whose id is ID
# when given, so a reconnecting browser sends it back as Last-Event-ID).
# Uses sse-push from PATH, or $SSE_PUSH.
push=${SSE_PUSH:-sse-push}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 USER COUNT [ID]" >&2
    exit 64
fi
case $2 in
    ''|*[!0-9]*) echo "$0: COUNT must be a number: $2" >&2; exit 64 ;;
esac

if [ $# -eq 3 ]; then
    "$push" -e unread -i "$3" -- "$1" "$2"
else
    "$push" -e unread -- "$1" "$2"
fi
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "$0: sse-push failed (exit $rc)" >&2
    exit 1
fi
