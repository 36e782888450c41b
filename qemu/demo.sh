# The guest half of `cargo xtask demo` (run by /init under sh -c; see xtask/src/demo.rs).
#
# Today it shows that the kernel speaks C/R. Once `checkpoint` dumps, the demo becomes:
#   counter >/tmp/counter.out &          # a program that prints 1, 2, 3... once a second
#   sleep 3; cat /tmp/counter.out
#   cr checkpoint --kill -o /tmp/img $!  # dump it to a file, then kill it
#   cr inspect /tmp/img | head
#   cr restart -i /tmp/img --detach      # rebuild it; prints the restored pid
#   sleep 3; cat /tmp/counter.out        # it carried on from where it was
set -e
step() { printf '\n==> %s\n' "$*"; }

step 'cr check: does this kernel support checkpoint/restart, and with which ABI?'
cr check
step 'cr check --schema: the record layout the kernel and cr share (first lines)'
cr check --schema | head -n 20
