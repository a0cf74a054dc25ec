#!/usr/bin/env bash
# progress-pty-test.sh: checks a live progress display on a real terminal (a tmux pane)
# against the same command's plain output on a pipe. `make test` runs it through
# scripts/progress-test.sh.
#
# Meant for `p2mpsend push`, which draws its display on a terminal's standard output:
#
#     scripts/progress-pty-test.sh -- .build/debug/p2mpsend push --replace FILE 127.0.0.1 127.0.0.2
#
# The command runs twice, so it must be repeatable (push with --replace, or through a wrapper
# that picks a fresh --name). Digits are masked before outputs are compared (times and rates
# differ between runs); --exact compares them as they are.
#
#     scripts/progress-pty-test.sh --self-test    # proves the checks against stand-ins
#
# Run 1: in a detached tmux pane (COLSxROWS, default 120x40) on a private tmux server; the raw
# bytes the pane received are kept (pipe-pane) and so is the final screen (capture-pane).
# Run 2: stdout and stderr into a pipe. Then:
#   no-escapes-on-pipe  the pipe output holds no ESC byte (no display on a pipe)
#   redrawn-in-place    the terminal got at least one cursor-up (ESC[NA) and line clear (ESC[2K)
#   one-block           the final screen holds exactly one bar line (redraws did not scroll)
#   final-state         that bar line matches --final (default '100%')
#   same-text           the screen without the progress block equals the pipe output
#   same-status         both runs exited with the same status
# The block is the bar line (--bar REGEX) and the lines right after it that match --line REGEX
# (receiver lines and the large-fleet counts line, as ProgressRenderer draws them).
#
# Exit status: 0 every check passed, 1 some check failed (each named), 2 bad usage or no tmux
# (apt-get install tmux).
set -euo pipefail

size=120x40
timeout=60
bar_regex='^\[[=> ]*\] +[0-9]+%'
line_regex='^  [^ ].*  (offering|sending|verifying|committed|failed) +[0-9]+%|^  [0-9]+ receivers: '
final_regex='100%'
exact=0
keep=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    echo "usage: $0 [--size COLSxROWS] [--timeout SECONDS] [--bar REGEX] [--line REGEX] [--final REGEX] [--exact] [--keep] -- COMMAND [ARG...]" >&2
    echo "       $0 --self-test" >&2
    exit 2
}

self_test=0
while [ $# -gt 0 ]; do
    case "$1" in
    --size) size=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --bar) bar_regex=$2; shift 2 ;;
    --line) line_regex=$2; shift 2 ;;
    --final) final_regex=$2; shift 2 ;;
    --exact) exact=1; shift ;;
    --keep) keep=1; shift ;;
    --self-test) self_test=1; shift ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "$0: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $size =~ ^([0-9]+)x([0-9]+)$ ]] || { echo "$0: --size '$size' is not COLSxROWS" >&2; exit 2; }
columns=${BASH_REMATCH[1]}
rows=${BASH_REMATCH[2]}
command -v tmux >/dev/null || { echo "$0: tmux is missing (apt-get install tmux)" >&2; exit 2; }

# --- self-test: stand-ins that print what p2mpsend push will, and broken variants --------------

# Writes a stand-in to $1: the live block on stderr when it is a terminal, the summary on stdout.
# $2 picks a flaw: good, scrolls (no cursor-up), leaks (escapes on a pipe too),
# overwrites (moves up one line too many, over the summary).
write_stand_in() {
    cat >"$1" <<EOF
#!/bin/sh
flaw=$2
echo "Pushing 26 MB to 2 receivers"
if [ -t 2 ] || [ \$flaw = leaks ]; then
    drawn=0
    for step in "[>                   ]   0%  0 B/26 MB  -- MB/s  ETA --|offering     0%|offering     0%" \\
        "[====>               ]  24%  6.2 MB/26 MB  12.4 MB/s  ETA 2s|sending     24%  6.2 MB/s|sending     24%  6.2 MB/s" \\
        "[==========>         ]  50%  13.0 MB/26 MB  13.0 MB/s  ETA 1s|sending     50%  6.5 MB/s|verifying  100%" \\
        "[====================] 100%  26 MB/26 MB  13.0 MB/s  done in 2s|committed  100%|committed  100%"; do
        up=3
        [ \$flaw = overwrites ] && up=4
        [ \$drawn = 1 ] && [ \$flaw != scrolls ] && printf '\033[%dA' \$up >&2
        bar=\${step%%|*}; rest=\${step#*|}; one=\${rest%%|*}; two=\${rest#*|}
        printf '\r\033[2K%s\n\r\033[2K  web-01  %s\n\r\033[2K  web-02  %s\n' "\$bar" "\$one" "\$two" >&2
        drawn=1
        sleep 0.05
    done
fi
echo "Sent 26000000 bytes to 2 receivers in 2.000 s (13.00 MB/s)"
echo "  127.0.0.1:7735  complete in 2.0 s, retransmissions 0, timeouts 0"
echo "  127.0.0.2:7735  complete in 2.0 s, retransmissions 3, timeouts 1"
EOF
    chmod +x "$1"
}

if [ $self_test = 1 ]; then
    dir=$(mktemp -d /tmp/progress-pty-self-test.XXXXXX)
    trap 'rm -rf "$dir"' EXIT
    failures=0
    # flaw, expected exit status, the check that must fail
    for case in "good 0 -" "scrolls 1 one-block" "leaks 1 no-escapes-on-pipe" "overwrites 1 same-text"; do
        read -r flaw want check <<<"$case"
        write_stand_in "$dir/$flaw" "$flaw"
        set +e
        output=$("$0" --size "$size" --timeout 20 -- "$dir/$flaw" 2>&1)
        status=$?
        set -e
        if [ $status != "$want" ] || { [ "$check" != - ] && ! grep -q "FAIL $check" <<<"$output"; }; then
            echo "self-test FAIL: stand-in '$flaw' exited $status (expected $want, failing check: $check):"
            sed 's/^/    /' <<<"$output"
            failures=$((failures + 1))
        else
            note=""
            [ "$check" = - ] || note=", check $check failed as it should"
            echo "self-test ok: stand-in '$flaw' exited $status$note"
        fi
    done
    [ $failures = 0 ] && echo "== OK" || { echo "== $failures self-test case(s) failed"; exit 1; }
    exit 0
fi

[ $# -gt 0 ] || usage

# --- the check -----------------------------------------------------------------------------------

work=$(mktemp -d /tmp/progress-pty-test.XXXXXX)
socket="p2mp-pty-$$"
cleanup() {
    tmux -L "$socket" kill-server 2>/dev/null || true
    if [ $keep = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Run 1: a tmux pane. The runner waits for `go` so the raw capture is in place first, and sets
# the pane title to a token afterwards: once tmux shows it, it has processed every byte before.
token="p2mp-pty-done-$$"
{
    echo '#!/usr/bin/env bash'
    printf 'while [ ! -e %q ]; do sleep 0.02; done\n' "$work/go"
    printf 'cd %q\n' "$PWD"
    printf '%q ' "$@"
    echo
    printf 'echo $? > %q\n' "$work/status.tty"
    printf 'token=%q\n' "$token"
    cat <<'EOF'
printf '\033]2;%s\033\\' "$token"
exec sleep 3600
EOF
} >"$work/run.sh"
echo 'set -g history-limit 10000' >"$work/tmux.conf"
env -u TMUX tmux -L "$socket" -f "$work/tmux.conf" new-session -d -s pty -x "$columns" -y "$rows" "bash $work/run.sh"
tmux -L "$socket" pipe-pane -t pty "cat > $work/raw"
touch "$work/go"
deadline=$((SECONDS + timeout))
until [ "$(tmux -L "$socket" display-message -p -t pty '#{pane_title}')" = "$token" ]; do
    if [ $SECONDS -ge $deadline ]; then
        echo "FAIL timeout: the command did not finish in the tmux pane within $timeout s" >&2
        exit 1
    fi
    sleep 0.05
done
tmux -L "$socket" capture-pane -p -J -S - -E - -t pty >"$work/screen.raw"
tmux -L "$socket" pipe-pane -t pty
tmux -L "$socket" kill-server
# The pipe-pane's cat writes the raw capture until it reads the end of its input: wait
# (bounded) until no process holds the file open any more.
writers() { local fd; for fd in /proc/[0-9]*/fd/*; do [ "$(readlink "$fd" 2>/dev/null)" = "$work/raw" ] && return 0; done; return 1; }
for _ in $(seq 200); do writers || break; sleep 0.05; done
sed 's/[[:space:]]*$//' "$work/screen.raw" | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}' >"$work/screen"

# Run 2: a pipe. From here on failures are results, not errors.
set +e
timeout "$timeout" "$@" 2>&1 | cat >"$work/pipe"
echo "${PIPESTATUS[0]}" >"$work/status.pipe"

# The screen without the progress block(s), and the bar lines.
BAR=$bar_regex LINE=$line_regex BARS=$work/bars awk '
    $0 ~ ENVIRON["BAR"] { print > ENVIRON["BARS"]; inblock = 1; next }
    inblock && $0 ~ ENVIRON["LINE"] { next }
    { inblock = 0; print }
' "$work/screen" >"$work/screen.text"
touch "$work/bars"

normalize() {
    sed 's/[[:space:]]*$//' "$1" | if [ $exact = 1 ]; then cat; else sed -E 's/[0-9]+(\.[0-9]+)?/N/g'; fi
}

failed=0
check() { # name, status of the condition, what was wrong
    if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1: $3"; failed=1; fi
}

escape=$(printf '\033')
! grep -q "$escape" "$work/pipe"
rc=$?
check no-escapes-on-pipe $rc "the pipe output holds ESC sequences"

grep -q "$escape\[[0-9][0-9]*A" "$work/raw" && grep -q "$escape\[2K" "$work/raw"
rc=$?
check redrawn-in-place $rc "the terminal got no cursor-up (ESC[NA) and line clear (ESC[2K)"

bar_count=$(wc -l <"$work/bars")
[ "$bar_count" = 1 ]
rc=$?
check one-block $rc "the final screen holds $bar_count bar lines (expected 1: redraws must not scroll)"

grep -Eq -- "$final_regex" "$work/bars"
rc=$?
check final-state $rc "the bar line does not match '$final_regex': $(tail -n 1 "$work/bars")"

diff <(normalize "$work/screen.text") <(normalize "$work/pipe") >"$work/diff"
rc=$?
check same-text $rc "the screen without the block differs from the pipe output (< screen, > pipe):
$(sed 's/^/    /' "$work/diff")"

tty_status=$(cat "$work/status.tty")
pipe_status=$(cat "$work/status.pipe")
[ "$tty_status" = "$pipe_status" ]
rc=$?
check same-status $rc "exit status $tty_status on the terminal, $pipe_status on the pipe"

if [ $failed = 1 ]; then
    echo "--- final screen ($columns x $rows):"
    cat "$work/screen"
    echo "---"
fi
exit $failed
