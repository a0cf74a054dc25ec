#!/usr/bin/env bash
# systemd-test.sh: p2mpd under a real systemd (booted in namespaces by scripts/sdns).
#
# Installs systemd/p2mpd.service, p2mpd.socket, p2mp.sysusers, p2mp.catalog and
# etc/p2mp/p2mpd.toml into a throw-away instance and checks: Type=notify readiness and
# STATUS=, 4 MiB pushes with simulated loss over IPv4 and IPv6 (::1), the journal fields
# and MESSAGE_IDs, loss events of a 64 MiB push through nftables dropping 2 % of the
# datagrams (loss = 0), reload (good and broken configuration), a clean stop, socket
# activation (both families), the watchdog restart and the `systemd-analyze security`
# exposure (<= 1.5).
#
#   usage: [BIN=DIR] [ARTIFACTS=DIR] scripts/systemd-test.sh
#   BIN        directory holding p2mpd and p2mpsend (default: swift build --show-bin-path)
#   ARTIFACTS  where the instance's journal is saved (default: /tmp/p2mp-systemd-test)
#
# Needs root and namespaces; without them it prints "skipped: ..." and exits 0. Every step
# is bounded (timeout), the whole run by P2MP_SYSTEMD_TEST_LIMIT seconds (default 140).
# Exit 0 if every check passed; the last line is "N passed, M failed".
# Nothing on the host is modified: units, users and configuration go to the instance's
# /etc overlay, the binaries to its private /run.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SDNS=$HERE/sdns
LIMIT=${P2MP_SYSTEMD_TEST_LIMIT:-140}
N=p2mpst$$                       # instance name (unique per run)
T=/run/p2mp-test                 # inside the instance: binaries, payloads (private tmpfs)
SPOOL=/var/lib/p2mp/spool
UNIT=p2mpd.service
passed=0 failed=0

source "$(dirname "${BASH_SOURCE[0]}")/sdns-test-lib.sh"  # pass, fail, check, summary, x, prop, …

# --- preconditions: skip only without root or namespaces --------------------------
if [[ $(id -u) != 0 ]]; then echo "skipped: not root"; exit 0; fi
if ! err=$(timeout 10 unshare --pid --fork --mount --uts --ipc --net --cgroup \
             --propagation private true 2>&1); then
  echo "skipped: cannot create namespaces: ${err:-unshare failed}"; exit 0
fi

abort() { fail "$*"; exit 1; }   # the EXIT trap cleans up and prints the summary

if [[ -z ${BIN:-} ]]; then
  command -v swift >/dev/null || { fail "BIN is not set and swift is not on PATH"; summary; exit 1; }
  BIN=$(cd "$ROOT" && timeout 60 swift build --show-bin-path) || { fail "swift build --show-bin-path"; summary; exit 1; }
fi
for b in p2mpd p2mpsend; do
  [[ -x $BIN/$b ]] || { fail "no executable $BIN/$b (build first, or set BIN=)"; summary; exit 1; }
done
for t in /lib/systemd/systemd nsenter setpriv python3 sha256sum; do
  [[ -x $t ]] || command -v "$t" >/dev/null || { fail "missing $t"; summary; exit 1; }
done
ART=${ARTIFACTS:-/tmp/p2mp-systemd-test}/$N
mkdir -p "$ART"

# --- helpers ---------------------------------------------------------------------
now_us() { echo $(( $(date +%s%N) / 1000 )); }                  # same clock as the instance
put() { # put DST CONTENT: write a file inside the instance
  printf '%s\n' "$2" | x sh -c 'mkdir -p "$(dirname "$1")" && cat > "$1"' sh "$1"; }
# jcount SINCE_US PYTHON_CONDITION [journalctl args...]: number of p2mpd journal entries
# since SINCE_US for which the condition holds (g(name) is the field's value as a string)
jcount() { local since=$1 cond=$2; shift 2
  x journalctl -q -u "$UNIT" -o json --no-pager "$@" 2>/dev/null | python3 -c '
import json, sys
since, cond = int(sys.argv[1]), sys.argv[2]
n = 0
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    def g(k):
        v = e.get(k)
        if isinstance(v, list) and v and isinstance(v[0], int): v = bytes(v).decode("utf-8", "replace")
        elif isinstance(v, list): v = str(v[-1])
        return "" if v is None else str(v)
    if int(e.get("__REALTIME_TIMESTAMP", 0)) >= since and eval(cond): n += 1
print(n)' "$since" "$cond"; }
jhas() { (( $(jcount "$@") >= 1 )); }
unit_dump() { x journalctl -u "$UNIT" -n 25 --no-pager 2>&1 | sed 's/^/      | /'; }

cleanup() {
  trap - EXIT TERM INT
  [[ -n ${guard:-} ]] && kill "$guard" 2>/dev/null
  if "$SDNS" pid "$N" >/dev/null 2>&1; then
    XT=20 x journalctl -u "$UNIT" -u p2mpd.socket -o verbose --no-pager > "$ART/p2mpd.journal.verbose.txt" 2>&1
    timeout 40 "$SDNS" down "$N" --timeout 20 --save-journal "$ART/journal.txt" >/dev/null 2>&1 \
      || echo "WARN  sdns down $N failed"
  fi
  echo "artifacts: $ART"
  summary
  exit $(( failed > 0 ))
}
trap cleanup EXIT
trap 'fail "time limit of ${LIMIT}s reached (P2MP_SYSTEMD_TEST_LIMIT)"; exit 1' TERM INT
( trap 'kill "$sp" 2>/dev/null; exit 0' TERM; sleep "$LIMIT" & sp=$!; wait "$sp" && kill -TERM $$ ) 2>/dev/null &
guard=$!

# --- a. boot an instance, copy the binaries into its private /run ----------------
t0=$(date +%s%N)
timeout 60 "$SDNS" up "$N" --timeout 45 > "$ART/up.log" 2>&1 \
  || { cat "$ART/up.log"; abort "a. sdns up $N"; }
pass "a. instance $N booted in $(secs "$t0" "$(date +%s%N)")s"
x mkdir -p "$T/payload" && "$SDNS" cp "$N" "$BIN/p2mpd" "$T/p2mpd" \
  && "$SDNS" cp "$N" "$BIN/p2mpsend" "$T/p2mpsend" || abort "a. copy binaries to $T"
pass "a. binaries copied to $T/ (instance-private tmpfs)"

# --- b. install units, user, catalog, configuration ------------------------------
"$SDNS" cp "$N" "$ROOT/systemd/p2mpd.service" /etc/systemd/system/p2mpd.service \
  && "$SDNS" cp "$N" "$ROOT/systemd/p2mpd.socket" /etc/systemd/system/p2mpd.socket \
  && put /etc/systemd/system/p2mpd.service.d/50-test.conf $'[Service]\nExecStart=\nExecStart='"$T"'/p2mpd' \
  && "$SDNS" cp "$N" "$ROOT/systemd/p2mp.sysusers" /etc/sysusers.d/p2mp.conf \
  && x systemd-sysusers /etc/sysusers.d/p2mp.conf > "$ART/sysusers.log" 2>&1 \
  && "$SDNS" cp "$N" "$ROOT/etc/p2mp/p2mpd.toml" /etc/p2mp/p2mpd.toml \
  && "$SDNS" cp "$N" "$ROOT/etc/p2mp/trusted-senders" /etc/p2mp/trusted-senders \
  && put /etc/p2mp/p2mpd.toml.d/50-test.toml $'loss = 0.02\nlisten = ["127.0.0.1:7735", "[::1]:7735"]' \
  && x systemctl daemon-reload || abort "b. install units and configuration"
# the test's sender: a key of its own (HOME=$T), trusted by the daemon; a second key is not
x env HOME="$T" "$T/p2mpsend" keygen --comment systemd-test@sender > "$ART/keygen.log" 2>&1 \
  && x env HOME="$T" "$T/p2mpsend" keygen --comment stranger -o "$T/stranger" > "$ART/keygen-stranger.log" 2>&1 \
  && x sh -c 'cat "$1/.config/p2mp/id_ed25519.pub" >> /etc/p2mp/trusted-senders' sh "$T" \
  || abort "b. make the sender's keys and trust one"
pass "b. sender key made with p2mpsend keygen and added to /etc/p2mp/trusted-senders"
check "b. systemd-sysusers created user p2mp ($(x getent passwd p2mp | cut -d: -f3,4))" eval 'x getent passwd p2mp >/dev/null'
check "b. units loaded (LoadState=loaded)" \
  test "$(prop LoadState) $(prop LoadState p2mpd.socket)" == "loaded loaded"
out=$(x systemd-analyze verify --man=no /etc/systemd/system/p2mpd.service /etc/systemd/system/p2mpd.socket 2>&1); rc=$?
check "b. systemd-analyze verify p2mpd.service p2mpd.socket${out:+: $out}" test $rc -eq 0
# catalog: the instance's /usr is the host's, so build the database from a private root
# (systemd's own catalogs + ours) and put it in the instance's /var overlay
x sh -c 'mkdir -p "$1/usr/lib/systemd/catalog" "$1/var/lib/systemd/catalog" &&
  cp /usr/lib/systemd/catalog/*.catalog "$1/usr/lib/systemd/catalog/" 2>/dev/null; true' sh "$T/cat" \
  && "$SDNS" cp "$N" "$ROOT/systemd/p2mp.catalog" "$T/cat/usr/lib/systemd/catalog/p2mp.catalog" \
  && x journalctl --root="$T/cat" --update-catalog \
  && x mkdir -p /var/lib/systemd/catalog \
  && x cp "$T/cat/var/lib/systemd/catalog/database" /var/lib/systemd/catalog/database
declare -A MID=()
while read -r ev id; do [[ -n $ev && $ev != \#* ]] && MID[$ev]=$id; done < "$ROOT/systemd/message-ids.txt"
ncat=$(x journalctl --list-catalog 2>/dev/null | grep -c ' p2mp: ')
check "b. catalog: $ncat of ${#MID[@]} message ids (message-ids.txt) listed by journalctl --list-catalog" \
  test "$ncat" -eq "${#MID[@]}"
check "b. p2mpd --check-config accepts the default config + 50-test.toml" \
  eval 'x "$T/p2mpd" --check-config > "$ART/check-config.log" 2>&1'

# --- k. (early: needs no daemon) systemd-analyze security -------------------------
sec=$(x systemd-analyze security --no-pager "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
info "k. systemd-analyze security $UNIT (in the instance): ${sec:-?}"
check "k. exposure ${sec:-?} <= 1.5" awk -v s="${sec:-99}" 'BEGIN{exit !(s <= 1.5)}'

# --- c. Type=notify start --------------------------------------------------------
x systemctl start --no-block "$UNIT"
states=$(for _ in 1 2 3 4 5 6 7 8 9 10; do prop ActiveState; sleep 0.1; done | uniq | tr '\n' ' ')
info "c. ActiveState after 'start --no-block': ${states}"
t0=$(date +%s%N); XT=40 x systemctl start "$UNIT"; rc=$?
check "c. blocking systemctl start returned 0 (rc $rc, $(secs "$t0" "$(date +%s%N)")s)" test $rc -eq 0
s=$(x systemctl show -p ActiveState,SubState,Type,NotifyAccess --value "$UNIT" | tr '\n' ' ')
if [[ $s == "notify main active running " || $s == "active running notify main " ]]; then
  pass "c. ActiveState,SubState,Type,NotifyAccess = $s"
else fail "c. ActiveState,SubState,Type,NotifyAccess = '$s' (want active running notify main)"; unit_dump; fi
check "c. service runs as user p2mp" test "$(x ps -o user= -p "$(prop MainPID)" 2>/dev/null)" == p2mp

# --- d. STATUS= ------------------------------------------------------------------
st=$(prop StatusText)
check "d. StatusText from STATUS=: '${st}'" test -n "$st"

# --- e. 4 MiB pushes from inside the instance's netns, over IPv4 and IPv6 ---------
push_check() { # STEP NAME [TARGET]: create a 4 MiB file, push it, compare the spool copy
  local step=$1 name=$2 target=${3:-127.0.0.1:7735} f="$T/payload/$2" sum got rc out
  x sh -c 'head -c 4194304 /dev/urandom > "$1"' sh "$f" || { fail "$step. create payload"; return 1; }
  sum=$(x sha256sum "$f" | cut -d' ' -f1)
  t0=$(date +%s%N); out=$(XT=60 x env HOME="$T" "$T/p2mpsend" push "$f" "$target" --accept-new-host-keys 2>&1); rc=$?
  printf '%s\n' "$out" > "$ART/push-$name.log"
  check "$step. p2mpsend push $name $target exits 0 (rc $rc, $(secs "$t0" "$(date +%s%N)")s)" test $rc -eq 0 \
    || printf '%s\n' "$out" | tail -n 5 | sed 's/^/      | /'
  got=$(x sha256sum "$SPOOL/$name" 2>/dev/null | cut -d' ' -f1)
  check "$step. $SPOOL/$name is byte-identical (sha256 ${sum:0:16}…)" test -n "$sum" -a "$got" == "$sum"
  DIGEST=$sum
}
since_push=$(now_us)
PAYLOAD=p2mp-test-$N.bin
push_check e "$PAYLOAD"
owner=$(x stat -c %U:%G "$SPOOL/$PAYLOAD" 2>/dev/null)
check "e. spool file owned by p2mp:p2mp (${owner:-missing})" test "$owner" == p2mp:p2mp
since_v6=$(now_us)
push_check e "p2mp-test-$N-v6.bin" "[::1]:7735"
check "e. journal: the IPv6 push completed from P2MP_PEER [::1]:…" \
  within 5 jhas "$since_v6" 'g("P2MP_PEER").startswith("[::1]:")' P2MP_EVENT=complete

check "e. the daemon proved the host key it was started with (known_hosts = p2mpd --show-host-key)" \
  eval 'k=$(x "$T/p2mpd" --show-host-key) && x grep -qF "127.0.0.1 ${k% *}" "$T/.config/p2mp/known_hosts"'
check "e. host key /var/lib/p2mp/host_key made on first start: p2mp, mode 600 ($(x stat -c '%U %a' /var/lib/p2mp/host_key 2>&1))" \
  eval '[[ $(x stat -c "%U %a" /var/lib/p2mp/host_key 2>&1) == "p2mp 600" ]]'
since_refused=$(now_us)
out=$(XT=60 x env HOME="$T" "$T/p2mpsend" push "$T/payload/$PAYLOAD" 127.0.0.1:7735 --name refused.bin \
  --identity "$T/stranger" 2>&1); rc=$?
printf '%s\n' "$out" > "$ART/push-refused.log"
check "e. a push with a key the daemon does not trust fails with the reason printed (rc $rc)" \
  eval '[[ $rc -eq 1 ]] && grep -q "refused our key" "$ART/push-refused.log"'
check "e. nothing written for it" eval '! x test -e "$SPOOL/refused.bin"'
check "e. journalctl -u p2mpd P2MP_EVENT=auth-failed: the refused key's fingerprint, peer and reason" \
  within 5 jhas "$since_refused" 'g("P2MP_KEY").startswith("SHA256:") and g("P2MP_PEER").startswith("127.0.0.1") and g("P2MP_REASON") != ""' P2MP_EVENT=auth-failed
check "e. journal: the authenticated sessions name the trusted key's comment (P2MP_EVENT=session)" \
  within 3 jhas "$since_push" 'g("P2MP_KEY_COMMENT") == "systemd-test@sender"' P2MP_EVENT=session

# --- f. journal fields -----------------------------------------------------------
check "f. journal: P2MP_EVENT=loss with P2MP_LOSS_CAUSE=simulated, P2MP_LOST_SEGMENTS and P2MP_PEER" \
  within 5 jhas "$since_push" 'g("P2MP_LOST_SEGMENTS") != "" and g("P2MP_PEER") != ""' P2MP_EVENT=loss P2MP_LOSS_CAUSE=simulated
check "f. journal: P2MP_EVENT=complete with P2MP_SHA256 = ${DIGEST:0:16}…" \
  within 5 jhas "$since_push" "g('P2MP_SHA256').lower() == '${DIGEST}'" P2MP_EVENT=complete
for ev in complete loss auth-failed session; do
  check "f. journal: P2MP_EVENT=$ev has MESSAGE_ID=${MID[$ev]} (message-ids.txt)" \
    within 3 jhas "$since_push" "g('MESSAGE_ID') == '${MID[$ev]}'" P2MP_EVENT=$ev
done
check "f. journalctl -x shows the catalog text for the complete event" \
  within 3 eval 'x journalctl -q -x -u "$UNIT" MESSAGE_ID="${MID[complete]}" --no-pager | grep -q "Transfer .* is complete"'

# --- n. loss events of real loss: nftables drops 2 % of the datagrams to p2mpd ------
# loss = 0, so every loss event is the path's. Offloads off on the instance's loopback,
# so that nftables drops datagrams, not segmented super-packets; 1,400-byte segments and
# a 10 MB/s cap make the 64 MiB push last several loss_event_intervals (1 s here).
put /etc/p2mp/p2mpd.toml.d/55-network-loss.toml $'loss = 0\nloss_event_interval = 1' \
  && XT=40 x systemctl reload "$UNIT" \
  && x ethtool -K lo tx-udp-segmentation off gso off tso off gro off \
  && printf '%s\n' 'table inet lossst {' '  counter dropped {}' '  chain input {' \
       '    type filter hook input priority 0; policy accept;' \
       '    udp dport 7735 numgen random mod 100 < 2 counter name dropped drop' '  }' '}' | x nft -f - \
  || fail "n. set up 2 % loss with nftables (reload with loss = 0, offloads off, nft table)"
NET=p2mp-test-$N-lossy.bin
x sh -c 'head -c 67108864 /dev/urandom > "$1"' sh "$T/payload/$NET" || fail "n. create 64 MiB payload"
sum=$(x sha256sum "$T/payload/$NET" | cut -d' ' -f1)
since_net=$(now_us); t0=$(date +%s%N)
out=$(XT=120 x env HOME="$T" "$T/p2mpsend" push "$T/payload/$NET" 127.0.0.1:7735 --segment-size 1400 --rate 80M 2>&1); rc=$?
printf '%s\n' "$out" > "$ART/push-$NET.log"
check "n. 64 MiB push through 2 % loss exits 0 (rc $rc, $(secs "$t0" "$(date +%s%N)")s)" test $rc -eq 0
check "n. $SPOOL/$NET is byte-identical" test "$(x sha256sum "$SPOOL/$NET" 2>/dev/null | cut -d' ' -f1)" == "$sum"
dropped=$(x nft list counter inet lossst dropped | sed -n 's/.*packets \([0-9]*\).*/\1/p')
x nft delete table inet lossst; x ethtool -K lo tx-udp-segmentation on gso on tso on gro on
# The transfer's loss events and its complete event, from the journal as JSON.
jloss() {
  x journalctl -q -u "$UNIT" -o json --no-pager 2>/dev/null | python3 -c '
import json, sys
since, name, dropped = int(sys.argv[1]), sys.argv[2], int(sys.argv[3] or 0)
fields = ["P2MP_TRANSFER_ID", "P2MP_PEER", "P2MP_FILE", "P2MP_LOST_SEGMENTS", "P2MP_REPAIRED_SEGMENTS",
          "P2MP_DUPLICATE_SEGMENTS", "P2MP_LOSS_RATE", "P2MP_SEGMENTS", "P2MP_LOSS_CAUSE"]
losses, complete = [], None
for line in sys.stdin:
    e = json.loads(line)
    if int(e.get("__REALTIME_TIMESTAMP", 0)) < since or e.get("P2MP_FILE") != name: continue
    if e.get("P2MP_EVENT") == "loss": losses.append(e)
    if e.get("P2MP_EVENT") == "complete": complete = e
lost = sum(int(e["P2MP_LOST_SEGMENTS"]) for e in losses)
repaired = sum(int(e["P2MP_REPAIRED_SEGMENTS"]) for e in losses)
causes = {}
for e in losses: causes.setdefault(e.get("P2MP_LOSS_CAUSE"), []).append(e)
network = sum(int(e["P2MP_LOST_SEGMENTS"]) for e in causes.get("network", []))
print("events %d, lost %d (network %d, %s), repaired %d; complete: %s lost, %s repaired; nftables dropped %d"
      % (len(losses), lost, network, ", ".join("%s %d events" % (c, len(es)) for c, es in causes.items()), repaired,
         complete and complete.get("P2MP_LOST_SEGMENTS"), complete and complete.get("P2MP_REPAIRED_SEGMENTS"), dropped))
ok = bool(losses) and complete is not None and all(all(f in e for f in fields) for e in losses)
# The path loses (network); a spool that falls behind under load drops too (storage).
ok = ok and set(causes) <= {"network", "storage"}
ok = ok and str(lost) == complete.get("P2MP_LOST_SEGMENTS") and str(repaired) == complete.get("P2MP_REPAIRED_SEGMENTS")
ok = ok and dropped > 0 and abs(network - dropped) * 10 <= dropped
# At most one per cause and interval (1 s, less 0.1 s of journal timing), but for the
# last, which comes with the end of the transfer.
for es in causes.values():
    times = sorted(int(e["__MONOTONIC_TIMESTAMP"]) for e in es)
    ok = ok and all(b - a >= 900000 for a, b in zip(times[:-1], times[1:-1]))
sys.exit(0 if ok else 1)' "$since_net" "$NET" "$dropped"; }
out=$(within 5 jloss | tail -n 1); rc=$?
check "n. journalctl -u p2mpd P2MP_EVENT=loss -o json: every field, one per cause and interval, summing to the complete event's totals, network loss to nftables' drops within 10 % ($out)" \
  test $rc -eq 0
x rm -f /etc/p2mp/p2mpd.toml.d/55-network-loss.toml && XT=40 x systemctl reload "$UNIT" \
  || fail "n. restore the configuration (loss = 0.02)"

# --- g. reload: a good and a broken configuration --------------------------------
pid0=$(prop MainPID); nr0=$(prop NRestarts)
put /etc/p2mp/p2mpd.toml.d/60-debug.toml 'log_level = "debug"'
t=$(now_us); XT=40 x systemctl reload "$UNIT"; rc=$?
check "g. systemctl reload returned 0 (rc $rc)" test $rc -eq 0
check "g. active after reload" within 10 prop_is ActiveState active
check "g. journal: P2MP_EVENT=reload after the reload" within 5 jhas "$t" True P2MP_EVENT=reload
put /etc/p2mp/p2mpd.toml.d/70-broken.toml 'loss = 7'
XT=15 x "$T/p2mpd" --check-config > /dev/null 2>&1; rc=$?
check "g. p2mpd --check-config rejects loss = 7 with status 1 (rc $rc)" test $rc -eq 1
t=$(now_us); XT=40 x systemctl reload "$UNIT"; rc=$?
info "g. reload with the broken drop-in returned $rc"
check "g. journal: config error naming 70-broken.toml:1" within 5 jhas "$t" \
  '(g("P2MP_EVENT") == "config-error" or g("PRIORITY") in ("0", "1", "2", "3")) and "70-broken.toml:1" in g("MESSAGE")'
# A daemon that died on the bad file could not serve this push, and a restarted one would
# have another MainPID.
push_check g "p2mp-test-$N-after-broken-reload.bin"
check "g. still active after the broken reload" within 10 prop_is ActiveState active
check "g. old process kept running and served the push (MainPID $pid0, NRestarts $nr0)" \
  eval '[[ $(prop MainPID) == "$pid0" && $(prop NRestarts) == "$nr0" ]]'
x rm -f /etc/p2mp/p2mpd.toml.d/70-broken.toml /etc/p2mp/p2mpd.toml.d/60-debug.toml
XT=40 x systemctl reload "$UNIT"; rc=$?
check "g. reload after removing the broken drop-in: rc $rc, active" \
  eval '[[ $rc == 0 ]] && within 10 prop_is ActiveState active'

# --- h. stop ---------------------------------------------------------------------
# An inactive unit is unloaded at once (its ExecMain* reset): the manager's debug message
# "Main process exited, code=exited, status=0" (EXIT_CODE=, EXIT_STATUS=) is the evidence.
tmo=$(prop TimeoutStopUSec)
x systemctl log-level debug
t=$(now_us); t0=$(date +%s%N); XT=40 x systemctl stop "$UNIT"; rc=$?; d=$(secs "$t0" "$(date +%s%N)")
x systemctl log-level info
check "h. systemctl stop returned 0 in ${d}s (TimeoutStopSec=$tmo)" \
  eval '[[ $rc == 0 ]] && awk -v d="$d" "BEGIN{exit !(d < 30)}"'
r="$(prop ActiveState) $(prop Result) $(prop ExecMainStatus)"
check "h. ActiveState Result ExecMainStatus = $r (want inactive success 0)" test "$r" == "inactive success 0"
check "h. main process exited with status 0 (code=exited, not killed)" within 5 jhas "$t" \
  'g("MESSAGE_ID") == "98e322203f7a4ed290d09fe03c09fe15" and g("EXIT_CODE") == "exited" and g("EXIT_STATUS") == "0"'
check "h. journal: P2MP_EVENT=stop" within 5 jhas "$t" True P2MP_EVENT=stop

# --- i. socket activation --------------------------------------------------------
x systemctl reset-failed "$UNIT" 2>/dev/null   # a failure in h must not hide this step's result
XT=20 x systemctl start p2mpd.socket; rc=$?
check "i. p2mpd.socket started (rc $rc), service still inactive" \
  eval '[[ $rc == 0 && $(prop ActiveState p2mpd.socket) == active && $(prop ActiveState) == inactive ]]'
listens=$(x ss -H -uln 'sport = :7735' 2>/dev/null | awk '{print $4}' | sort | tr '\n' ' ')
check "i. systemd listens on ${listens}(want 0.0.0.0:7735 and [::]:7735)" \
  eval '[[ $listens == *"0.0.0.0:7735"* ]] && [[ $listens == *"[::]:7735"* || $listens == *":::7735"* ]]'
push_check i "p2mp-test-$N-socket.bin"
push_check i "p2mp-test-$N-socket-v6.bin" "[::1]:7735"
check "i. service activated by the socket (TriggeredBy=$(prop TriggeredBy))" \
  eval '[[ $(prop ActiveState) == active && $(prop TriggeredBy) == *p2mpd.socket* ]]'
own=$(x ss -H -ulnp 'sport = :7735' 2>/dev/null)
check "i. p2mpd uses the passed sockets (no socket of its own on :7735)" \
  eval '[[ $own == *p2mpd* ]] && ! grep -q -e "127.0.0.1:7735" -e "\[::1\]:7735" <<< "$own"'
XT=40 x systemctl stop p2mpd.socket "$UNIT"; rc=$?
check "i. stopped socket and service (rc $rc)" \
  eval '[[ $rc == 0 && $(prop ActiveState p2mpd.socket) == inactive && $(prop ActiveState) == inactive ]]'

# --- j. watchdog -----------------------------------------------------------------
put /etc/systemd/system/p2mpd.service.d/60-watchdog.conf \
  $'[Service]\nWatchdogSec=2s\nRestartSec=500ms\nTimeoutAbortSec=5s' && x systemctl daemon-reload
XT=40 x systemctl start "$UNIT"; rc=$?
nr0=$(prop NRestarts); pid0=$(prop MainPID)
check "j. started with WatchdogSec=2s (rc $rc, WatchdogUSec=$(prop WatchdogUSec))" \
  eval '[[ $rc == 0 && $(prop ActiveState) == active ]]'
# The manager records each WATCHDOG=1 it accepts: wait for one more than two WatchdogSec
# after the start, i.e. the daemon outlived the watchdog twice over on its own pings.
pinged_late() { local start last
  start=$(prop ExecMainStartTimestampMonotonic); last=$(prop WatchdogTimestampMonotonic)
  [[ $start =~ ^[0-9]+$ && $last =~ ^[0-9]+$ ]] && (( last > start + 4000000 )); }
check "j. watchdog pings accepted for more than 2 x WatchdogSec" within 20 pinged_late
check "j. still the same process (NRestarts $nr0, MainPID $pid0)" \
  eval '[[ $(prop NRestarts) == "$nr0" && $(prop MainPID) == "$pid0" ]]'
x kill -STOP "$pid0"
restarted() { local n p; n=$(prop NRestarts); p=$(prop MainPID)
  [[ $n =~ ^[0-9]+$ ]] && (( n > nr0 )) && [[ $p != 0 && $p != "$pid0" && $(prop ActiveState) == active ]]; }
t0=$(date +%s%N)
check "j. SIGSTOPped daemon killed by the watchdog and restarted" within 20 restarted
info "j. after $(secs "$t0" "$(date +%s%N)")s: NRestarts=$(prop NRestarts) MainPID=$(prop MainPID) (was $pid0)"
check "j. manager logged the watchdog timeout" \
  eval 'x journalctl -q -u "$UNIT" _PID=1 --no-pager | grep -qi "watchdog timeout"'
x rm -f /etc/systemd/system/p2mpd.service.d/60-watchdog.conf
x systemctl daemon-reload
XT=40 x systemctl stop "$UNIT"

# --- m. the journald round trip of the Swift suite, where journald runs ------------
# JournalSendTests needs /run/systemd/journal/socket, which only this instance has; the
# main `swift test` run reports it as skipped for that reason.
# The bundle is copied into the instance, whose /tmp and /run are its own: a clone under
# /tmp would not be visible there.
bundle=$BIN/p2mpPackageTests.xctest
if [[ -x $bundle ]]; then
  "$SDNS" cp "$N" "$bundle" "$T/p2mpPackageTests.xctest" || fail "m. copy the test bundle to $T"
  out=$(XT=60 x "$T/p2mpPackageTests.xctest" --testing-library swift-testing --filter JournalSendTests 2>&1); rc=$?
  printf '%s\n' "$out" > "$ART/journal-send-tests.log"
  check "m. JournalSendTests pass against the instance's journald (rc $rc)" \
    eval '[[ $rc == 0 ]] && grep -q "multi-line and NUL values reaches journald byte for byte\" passed" <<< "$out"' \
    || printf '%s\n' "$out" | tail -n 8 | sed 's/^/      | /'
else
  fail "m. no test bundle $bundle (make test builds it with swift build --build-tests)"
fi

# --- l. cleanup in the EXIT trap (journal saved to $ART) -------------------------
exit 0
