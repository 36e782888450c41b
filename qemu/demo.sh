# The guest half of `cargo xtask demo` (run by /init under sh -c; see xtask/src/demo.rs).
#
# A program that counts once a second is checkpointed to a file and killed, then restarted from
# the file: it goes on counting from where it was, with the same pid, writing on into the same
# output file. The demo fails (non-zero status) if the count started over or did not advance.
set -e
step() { printf '\n==> %s\n' "$*"; }
# The counter's lines so far, as one line.
show() { tr '\n' ' ' </tmp/counter.out; echo; }
last() { tail -n 1 /tmp/counter.out; }
# Every line holds its own line number: 1, 2, 3... with no restart from 1 and no gap.
in_order() { awk 'NR != $1 { bad = 1 } END { exit bad || NR == 0 }' /tmp/counter.out; }

step 'cr check: does this kernel support checkpoint/restart, and with which ABI?'
cr check

step 'start counter, which prints 1, 2, 3... once a second into /tmp/counter.out'
# No pipe or terminal: the checkpoint refuses fds it cannot restore faithfully.
counter </dev/null >/tmp/counter.out 2>&1 &
pid=$!
sleep 3
echo "counter is pid $pid; so far: $(show)"

step "cr checkpoint --subtree --kill -o /tmp/counter.img $pid"
cr checkpoint --subtree --kill -o /tmp/counter.img "$pid"
status=0
wait "$pid" || status=$?
at=$(last)
echo "counter is gone (wait status $status; SIGKILL is 137) after counting to $at"
ls -l /tmp/counter.img

step 'cr inspect /tmp/counter.img (first lines)'
cr inspect /tmp/counter.img | head -n 25

step 'nothing counts while the process does not exist'
sleep 2
if [ "$(last)" != "$at" ]; then
	echo "demo: FAILED: the count moved on while the counter was dead"
	exit 1
fi
echo "still $at"

step 'cr restart -i /tmp/counter.img --detach'
restored=$(cr restart -i /tmp/counter.img --detach)
echo "restored as pid $restored"
sleep 3
now=$(last)
echo "so far: $(show)"
kill "$restored" 2>/dev/null || true

if [ "$restored" != "$pid" ]; then
	echo "demo: FAILED: restored as pid $restored, not $pid"
	exit 1
fi
if ! in_order; then
	echo "demo: FAILED: the count is not 1, 2, 3... (it started over, or lines were lost)"
	exit 1
fi
if [ "$now" -le "$at" ]; then
	echo "demo: FAILED: the count did not advance after the restart ($at, then $now)"
	exit 1
fi
step "the counter went on from $at to $now after the restart, same pid $pid, same file"
