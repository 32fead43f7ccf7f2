#!/bin/sh
# task-progress.sh KEY: report a (pretend) task's progress to every stream
# subscribed to KEY: events named "progress" with 0% .. 100%, then a final
# "close" event carrying "done", which ends those streams.
# Uses sse-push from PATH, or $SSE_PUSH.
push=${SSE_PUSH:-sse-push}

if [ $# -ne 1 ]; then
    echo "usage: $0 KEY" >&2
    exit 64
fi
key=$1

pct=0
while [ "$pct" -le 100 ]; do
    "$push" -e progress -i "$pct" -- "$key" "$pct%"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "$0: sse-push failed (exit $rc) at $pct%" >&2
        exit 1
    fi
    pct=$((pct + 10))
    [ "$pct" -le 100 ] && sleep 1
done

"$push" --close -- "$key" "done"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "$0: sse-push --close failed (exit $rc)" >&2
    exit 1
fi
