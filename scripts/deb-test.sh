#!/usr/bin/env bash
# deb-test.sh: the p2mp .deb installed, used, removed and purged under a real systemd
# (booted in namespaces by scripts/sdns) with copy-on-write overlays over /usr, /etc and
# /var and the Swift toolchain hidden, so nothing on the host changes.
#
# Checks: `dpkg -i` alone leaves p2mpd enabled and active (user p2mp, catalog, conffile);
# the packaged binaries need nothing from the toolchain; a push with the packaged
# p2mpsend to 127.0.0.1 lands in /var/lib/p2mp/spool byte-identical; man pages and
# completions are in place; a reinstall (upgrade path) restarts the daemon and keeps a
# modified conffile; `apt-get remove` stops it and keeps the spool and configuration;
# `dpkg --purge` removes configuration, spool and the units' enablement; the host is
# unchanged.
#
#   usage: [DEB=FILE] [ARTIFACTS=DIR] scripts/deb-test.sh
#   DEB        the package (default: OUTDIR/p2mp_<version>_<arch>.deb, OUTDIR being
#              .build/deb as for `make deb` and packaging/build-deb.sh)
#   ARTIFACTS  where the instance's journal is saved (default: /tmp/p2mp-deb-test)
#   P2MP_DEB_TEST_HIDE  directories hidden in the instance (default: the toolchain of the
#              swift on PATH, else /opt/swift, when it exists outside /usr)
#
# Needs root and namespaces; without them it prints "skipped: ..." and exits 0. Every step
# is bounded (timeout), the whole run by P2MP_DEB_TEST_LIMIT seconds (default 170).
# Exit 0 if every check passed; the last line is "N passed, M failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SDNS=$HERE/sdns
LIMIT=${P2MP_DEB_TEST_LIMIT:-170}
N=p2mpdeb$$                      # instance name (unique per run)
T=/run/p2mp-deb-test             # inside the instance (private tmpfs)
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

VERSION=$(sed -n 's/^[[:space:]]*public static let string = "\([^"]*\)".*/\1/p' \
  "$ROOT/Sources/P2MPProtocol/Version.swift")
DEB=${DEB:-${OUTDIR:-$ROOT/.build/deb}/p2mp_${VERSION}_$(dpkg --print-architecture).deb}
[[ -r $DEB ]] || { fail "no package $DEB (make deb, or set DEB=)"; summary; exit 1; }
for t in /lib/systemd/systemd nsenter setpriv sha256sum dpkg-deb; do
  [[ -x $t ]] || command -v "$t" >/dev/null || { fail "missing $t"; summary; exit 1; }
done
if [[ -z ${P2MP_DEB_TEST_HIDE+x} ]]; then
  tc=$(command -v swift 2>/dev/null) && tc=$(readlink -f "$tc") && tc=${tc%/usr/bin/swift}
  [[ -n ${tc:-} && $tc != /usr* && -d $tc ]] || tc=/opt/swift
  [[ -d $tc ]] && P2MP_DEB_TEST_HIDE=$tc || P2MP_DEB_TEST_HIDE=
fi
ART=${ARTIFACTS:-/tmp/p2mp-deb-test}/$N
mkdir -p "$ART"

# --- helpers ---------------------------------------------------------------------
tailed() { sed 's/^/      | /' "$1" | tail -n "${2:-8}"; }
dstatus() { x dpkg-query -W -f='${db:Status-Abbrev}' p2mp 2>/dev/null | tr -d ' '; }
# the host state the test must leave alone
host_state() {
  local f
  for f in /usr/bin/p2mpd /usr/bin/p2mpsend /usr/lib/systemd/system/p2mpd.service \
           /usr/lib/sysusers.d/p2mp.conf /usr/share/man/man8/p2mpd.8.gz /etc/p2mp /var/lib/p2mp \
           /etc/systemd/system/multi-user.target.wants/p2mpd.service; do
    if [[ -e $f || -L $f ]]; then echo "$f present"; else echo "$f absent"; fi
  done
  echo "passwd: $(getent passwd p2mp)"; echo "group: $(getent group p2mp)"
  dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' p2mp 2>&1
}

cleanup() {
  trap - EXIT TERM INT
  [[ -n ${guard:-} ]] && kill "$guard" 2>/dev/null
  if "$SDNS" pid "$N" >/dev/null 2>&1; then
    timeout 40 "$SDNS" down "$N" --timeout 20 --save-journal "$ART/journal.txt" >/dev/null 2>&1 \
      || echo "WARN  sdns down $N failed"
  fi
  host_state > "$ART/host-after.txt"
  check "host unchanged (no p2mp files, users, dpkg state; $ART/host-*.txt)" \
    cmp -s "$ART/host-before.txt" "$ART/host-after.txt"
  echo "artifacts: $ART"
  summary
  exit $(( failed > 0 ))
}
host_state > "$ART/host-before.txt"
trap cleanup EXIT
trap 'fail "time limit of ${LIMIT}s reached (P2MP_DEB_TEST_LIMIT)"; exit 1' TERM INT
( trap 'kill "$sp" 2>/dev/null; exit 0' TERM; sleep "$LIMIT" & sp=$!; wait "$sp" && kill -TERM $$ ) 2>/dev/null &
guard=$!
t_all=$(date +%s%N)

# --- a. boot with /usr overlaid and the toolchain hidden --------------------------
hide=(); for h in $P2MP_DEB_TEST_HIDE; do hide+=(--hide "$h"); done
t0=$(date +%s%N)
timeout 60 "$SDNS" up "$N" --timeout 45 --overlay-usr "${hide[@]}" > "$ART/up.log" 2>&1 \
  || { cat "$ART/up.log"; fail "a. sdns up $N --overlay-usr"; exit 1; }
pass "a. instance $N booted with /usr, /etc, /var overlaid in $(secs "$t0" "$(date +%s%N)")s"
check "a. /usr is an overlay inside the instance" test "$(x findmnt -n -o FSTYPE /usr)" == overlay
if [[ -n $P2MP_DEB_TEST_HIDE ]]; then
  check "a. toolchain hidden in the instance ($P2MP_DEB_TEST_HIDE empty, no swift on PATH)" \
    eval 'x sh -c '\''for d; do [ -z "$(ls -A "$d")" ] || exit 1; done; ! command -v swift'\'' sh $P2MP_DEB_TEST_HIDE >/dev/null'
else info "a. no toolchain outside /usr to hide"; fi
# Docker images ship /usr/sbin/policy-rc.d "exit 101", which forbids starting services from
# maintainer scripts; a real Debian system has none. Remove it in the instance's /usr overlay.
if x test -e /usr/sbin/policy-rc.d; then
  x rm -f /usr/sbin/policy-rc.d && info "a. removed the container's /usr/sbin/policy-rc.d (exit 101) in the instance"
fi
check "a. p2mp is not installed in the instance ($(dstatus))" eval '[[ -z $(dstatus) || $(dstatus) == un ]]'

# --- b. dpkg -i, nothing else ----------------------------------------------------
x mkdir -p "$T" && "$SDNS" cp "$N" "$DEB" "$T/$(basename "$DEB")" || { fail "b. copy the package"; exit 1; }
t0=$(date +%s%N)
XT=90 x env DEBIAN_FRONTEND=noninteractive dpkg -i "$T/$(basename "$DEB")" > "$ART/dpkg-i.log" 2>&1; rc=$?
check "b. dpkg -i $(basename "$DEB") exits 0 (rc $rc, $(secs "$t0" "$(date +%s%N)")s)" test $rc -eq 0 \
  || tailed "$ART/dpkg-i.log"
check "b. dpkg status ii ($(dstatus))" test "$(dstatus)" == ii
check "b. $UNIT enabled ($(x systemctl is-enabled "$UNIT" 2>&1))" test "$(x systemctl is-enabled "$UNIT" 2>&1)" == enabled
check "b. $UNIT active without any further command" within 10 prop_is ActiveState active \
  || x journalctl -u "$UNIT" -n 15 --no-pager 2>&1 | sed 's/^/      | /'
check "b. p2mpd.socket shipped, not enabled ($(x systemctl is-enabled p2mpd.socket 2>&1))" \
  test "$(x systemctl is-enabled p2mpd.socket 2>&1)" == disabled
mainpid=$(prop MainPID)
check "b. runs /usr/bin/p2mpd as user p2mp (MainPID $mainpid)" \
  eval '[[ $(x readlink /proc/$mainpid/exe) == /usr/bin/p2mpd && $(x ps -o user= -p $mainpid) == p2mp ]]'
check "b. systemd-sysusers created p2mp ($(x getent passwd p2mp | cut -d: -f3,4,6))" eval 'x getent passwd p2mp >/dev/null'
check "b. spool $SPOOL exists, owned by p2mp" test "$(x stat -c %U "$SPOOL" 2>&1)" == p2mp
check "b. /etc/p2mp/p2mpd.toml and /etc/p2mp/trusted-senders are conffiles" \
  eval 'x dpkg-query -W -f="\${Conffiles}" p2mp | grep -q "^ /etc/p2mp/p2mpd.toml " &&
        x dpkg-query -W -f="\${Conffiles}" p2mp | grep -q "^ /etc/p2mp/trusted-senders "'
hostkey=$(x /usr/bin/p2mpd --show-host-key 2>&1)
check "b. postinst made the host key: /var/lib/p2mp/host_key p2mp 600 ($(x stat -c '%U %a' /var/lib/p2mp/host_key 2>&1))" \
  eval '[[ $(x stat -c "%U %a" /var/lib/p2mp/host_key 2>&1) == "p2mp 600" ]]'
check "b. postinst printed it, and p2mpd --show-host-key prints the same line (${hostkey:0:40}…)" \
  eval '[[ $hostkey == p2mp-ed25519\ * ]] && grep -qF "p2mpd host key: $hostkey" "$ART/dpkg-i.log"'
check "b. journal: the daemon started with its host key, serving authenticated requests only" \
  eval 'x journalctl -u "$UNIT" -o cat --no-pager 2>/dev/null | grep -q "authenticated requests only: 0 trusted senders in /etc/p2mp/trusted-senders; host key SHA256:"'
ncat=$(x journalctl --list-catalog 2>/dev/null | grep -c ' p2mp: ')
check "b. journal catalog indexed ($ncat p2mp entries in journalctl --list-catalog)" test "$ncat" -ge 1
check "b. p2mpd --version = $VERSION (Version.swift)" test "$(x /usr/bin/p2mpd --version)" == "$VERSION"
libs=$(x ldd /usr/bin/p2mpd /usr/bin/p2mpsend 2>&1)
printf '%s\n' "$libs" > "$ART/ldd.txt"
check "b. ldd: no libswift*, nothing missing, nothing from the toolchain" \
  eval '! grep -Eq "libswift|libFoundation|not found|/opt/" <<< "$libs"'

# --- c. man pages and completions --------------------------------------------------
for m in "8 p2mpd" "1 p2mpsend" "5 p2mpd.toml"; do
  set -- $m
  w=$(x man -w "$1" "$2" 2>&1)
  check "c. man -w $1 $2 -> $w" test "$w" == "/usr/share/man/man$1/$2.$1.gz"
done
check "c. man p2mpd renders (NAME, EXIT STATUS, SEE ALSO)" \
  eval 'x env MANPAGER=cat MANWIDTH=80 man 8 p2mpd 2>/dev/null | grep -q "EXIT STATUS"'
# every option of the binaries' --help is documented in their man page
for spec in "p2mpd 8 p2mpd" "p2mpsend 1 p2mpsend" "p2mpsend 1 p2mpsend push" "p2mpsend 1 p2mpsend seed"; do
  set -- $spec; page=$1 sec=$2; shift 2
  opts=$(x "/usr/bin/$@" --help 2>/dev/null | grep -oE '^ +(-[a-z], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' | sort -u)
  missing=$(for o in $opts; do x zcat "/usr/share/man/man$sec/$page.$sec.gz" | grep -qF -- "${o//-/\\-}" || echo "$o"; done)
  check "c. $page($sec) documents every option of '$*' --help ($(wc -w <<< "$opts") options)${missing:+; missing: $(echo $missing)}" \
    test -n "$opts" -a -z "$missing"
done
for f in /usr/share/bash-completion/completions/p2mpsend /usr/share/bash-completion/completions/p2mpd \
         /usr/share/zsh/vendor-completions/_p2mpsend /usr/share/fish/vendor_completions.d/p2mpsend.fish; do
  check "c. completion $f" x test -s "$f"
done
check "c. bash completion loads and defines a completion for p2mpsend" \
  eval 'x bash -c "source /usr/share/bash-completion/completions/p2mpsend && complete -p p2mpsend" >/dev/null 2>&1'
check "c. /usr/share/doc/p2mp: README.md, copyright, changelog.Debian.gz" \
  x test -s /usr/share/doc/p2mp/README.md -a -s /usr/share/doc/p2mp/copyright -a -s /usr/share/doc/p2mp/changelog.Debian.gz
check "c. copyright: Files: * is License: Apache-2.0" \
  x sh -c 'grep -A2 -x "Files: \*" /usr/share/doc/p2mp/copyright | grep -qx "License: Apache-2.0"'

# --- d. the operator's first push: refused without a key; keygen, trust, reload, push ---
NAME=deb-test-$N.bin
x sh -c 'head -c 3145728 /dev/urandom > "$1"' sh "$T/$NAME" || fail "d. create payload"
sum=$(x sha256sum "$T/$NAME" | cut -d' ' -f1)
since=$(x date +%s%6N)
XT=60 x env HOME=$T /usr/bin/p2mpsend push "$T/$NAME" 127.0.0.1 > "$ART/push-nokey.log" 2>&1; rc=$?
check "d. a push without a key is refused with its reason (rc $rc: $(tail -1 "$ART/push-nokey.log"))" \
  eval '[[ $rc -eq 1 ]] && grep -q "authenticationRequired): this daemon serves requests in clear only" "$ART/push-nokey.log"'
check "d. nothing written to the spool" eval '! x test -e "$SPOOL/$NAME"'
check "d. journalctl -u p2mpd P2MP_EVENT=auth-failed shows the refused push (P2MP_PEER, P2MP_REASON)" \
  within 5 eval 'x journalctl -u "$UNIT" -q -o json --since "@$((since / 1000000))" P2MP_EVENT=auth-failed 2>/dev/null \
    | python3 -c "import json,sys; e=[json.loads(l) for l in sys.stdin if l.strip()]; sys.exit(0 if any(\"127.0.0.1\" in x.get(\"P2MP_PEER\",\"\") and \"authentication\" in x.get(\"P2MP_REASON\",\"\") for x in e) else 1)"'
XT=20 x env HOME=$T /usr/bin/p2mpsend keygen --comment deb-test@ci > "$ART/keygen.log" 2>&1; rc=$?
check "d. p2mpsend keygen makes ~/.config/p2mp/id_ed25519 (0600) and prints the public line (rc $rc)" \
  eval '[[ $rc -eq 0 && $(x stat -c %a "$T/.config/p2mp/id_ed25519") == 600 ]] && grep -q "^p2mp-ed25519 .* deb-test@ci$" "$ART/keygen.log"'
x sh -c 'grep "^p2mp-ed25519 " "$1" >> /etc/p2mp/trusted-senders' sh "$ART/keygen.log" 2>/dev/null \
  || x sh -c 'cat "$1/.config/p2mp/id_ed25519.pub" >> /etc/p2mp/trusted-senders' sh "$T"
x systemctl reload "$UNIT"
check "d. systemctl reload: the daemon reads the trusted-senders file again (1 key)" \
  within 10 eval 'x journalctl -u "$UNIT" -o cat --no-pager 2>/dev/null | grep -q "^trusted senders reloaded: 1 keys in /etc/p2mp/trusted-senders$"'
t0=$(date +%s%N)
XT=60 x env HOME=$T /usr/bin/p2mpsend push "$T/$NAME" 127.0.0.1 --accept-new-host-keys > "$ART/push.log" 2>&1; rc=$?
check "d. /usr/bin/p2mpsend push (3 MiB, authenticated) to 127.0.0.1 exits 0 (rc $rc, $(secs "$t0" "$(date +%s%N)")s)" \
  test $rc -eq 0 || tailed "$ART/push.log"
got=$(x sha256sum "$SPOOL/$NAME" 2>/dev/null | cut -d' ' -f1)
check "d. $SPOOL/$NAME byte-identical (sha256 ${sum:0:16}…)" test -n "$sum" -a "$got" == "$sum"
check "d. known_hosts recorded the daemon's host key (the line p2mpd --show-host-key prints)" \
  eval 'x grep -qF "127.0.0.1 ${hostkey% *}" "$T/.config/p2mp/known_hosts"'
check "d. journal: the commit names the sender's key (P2MP_KEY, P2MP_KEY_COMMENT=deb-test@ci)" \
  within 5 eval 'x journalctl -u "$UNIT" -q -o json P2MP_EVENT=complete 2>/dev/null | grep -q "\"P2MP_KEY_COMMENT\":\"deb-test@ci\""'

# --- e. reinstall = upgrade path: restart, the operator's conffile edit kept ---------
x sh -c 'echo "# local edit by deb-test" >> /etc/p2mp/p2mpd.toml'
XT=90 x env DEBIAN_FRONTEND=noninteractive dpkg -i "$T/$(basename "$DEB")" > "$ART/dpkg-reinstall.log" 2>&1; rc=$?
check "e. dpkg -i again (upgrade path) exits 0 (rc $rc)" test $rc -eq 0 || tailed "$ART/dpkg-reinstall.log"
check "e. daemon restarted (MainPID $mainpid -> $(prop MainPID)) and active" \
  eval 'within 10 prop_is ActiveState active && [[ $(prop MainPID) != "$mainpid" ]]'
check "e. modified conffile kept" eval 'x grep -q "local edit by deb-test" /etc/p2mp/p2mpd.toml'

# --- f. apt-get remove: stopped, spool and configuration kept ----------------------
XT=90 x env DEBIAN_FRONTEND=noninteractive apt-get remove -y -o Dpkg::Use-Pty=0 p2mp \
  > "$ART/apt-remove.log" 2>&1; rc=$?
check "f. apt-get remove -y p2mp exits 0 (rc $rc)" test $rc -eq 0 || tailed "$ART/apt-remove.log"
check "f. dpkg status rc ($(dstatus))" test "$(dstatus)" == rc
check "f. p2mpd stopped (no p2mpd process, unit $(prop LoadState)/$(prop ActiveState))" \
  eval '! x pgrep -x p2mpd >/dev/null && [[ $(prop ActiveState) != active ]]'
check "f. binaries and units gone" \
  eval '! x test -e /usr/bin/p2mpd -o -e /usr/lib/systemd/system/p2mpd.service'
got=$(x sha256sum "$SPOOL/$NAME" 2>/dev/null | cut -d' ' -f1)
check "f. spool kept: $SPOOL/$NAME still byte-identical" test -n "$sum" -a "$got" == "$sum"
check "f. configuration kept (/etc/p2mp/p2mpd.toml)" x test -e /etc/p2mp/p2mpd.toml

# --- g. dpkg --purge: configuration, spool and enablement state gone ----------------
XT=60 x dpkg --purge p2mp > "$ART/dpkg-purge.log" 2>&1; rc=$?
check "g. dpkg --purge p2mp exits 0 (rc $rc)" test $rc -eq 0 || tailed "$ART/dpkg-purge.log"
check "g. not installed any more ($(dstatus))" eval '[[ -z $(dstatus) || $(dstatus) == un || $(dstatus) == pn ]]'
check "g. /etc/p2mp removed" eval '! x test -e /etc/p2mp'
check "g. spool /var/lib/p2mp removed" eval '! x test -e /var/lib/p2mp -o -e /var/lib/private/p2mp'
check "g. no enablement left (wants symlink, deb-systemd-helper state)" \
  eval '! x sh -c "ls /etc/systemd/system/*.wants/p2mpd.* /var/lib/systemd/deb-systemd-helper-enabled/p2mpd.* /var/lib/systemd/deb-systemd-helper-masked/p2mpd.* 2>/dev/null | grep -q ."'

info "total $(secs "$t_all" "$(date +%s%N)")s (without the package build)"
exit 0   # cleanup (EXIT trap): sdns down, host check, summary
