#!/usr/bin/env bash
# Checks the packages make packages built (usage: scripts/test-packages.sh [DIST]):
#  - installs the amd64 gridedge-agent and gridedge-hub packages with dpkg -i
#    on this machine (needs root and dpkg), checks their files, modes, users,
#    the enabled unit, systemd-analyze verify, --version from the installed
#    path and --check-config of the shipped config as the service user;
#    removes them (dpkg -r keeps config, data and user) and purges them
#    (dpkg -P deletes all three);
#  - starts the armhf/arm64 packages' binaries (architecture packages and
#    firmware profiles) under qemu-user;
#  - runs a first-boot bundle's firstboot.sh (built for amd64 from a copy
#    of a profile) and checks that the site's config it carries survives;
#  - checks every first-boot bundle's contents.
# Missing peers (root, dpkg, qemu) skip with a message, and fail when
# GRIDEDGE_REQUIRE_INTEROP=1.
set -euo pipefail
DIST=${1:-dist}
require=${GRIDEDGE_REQUIRE_INTEROP:-0}
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }
skip() {
  if [ "$require" = 1 ]; then fail "$* (GRIDEDGE_REQUIRE_INTEROP=1)"; else echo "SKIP: $*"; fi
}

one() { # the one file matching a glob, or fail
  local matches=( $1 )
  if [ ${#matches[@]} -ne 1 ] || [ ! -f "${matches[0]}" ]; then
    echo "FAIL: want exactly one $1, found: ${matches[*]}" >&2
    return 1
  fi
  echo "${matches[0]}"
}

want_mode() { # path mode owner:group
  local got
  got=$(stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing)
  if [ "$got" = "$2 $3" ]; then ok "$1 $got"; else fail "$1 is '$got', want '$2 $3'"; fi
}

want_gone() {
  if [ -e "$1" ]; then fail "$1 still exists"; else ok "$1 gone"; fi
}

# install_check PKG DEB USER DATADIR BINARY CONFFILES...
install_check() {
  local pkg=$1 deb=$2 user=$3 data=$4 bin=$5
  shift 5
  local conffiles=("$@") unit=/usr/lib/systemd/system/$pkg.service
  echo "== $pkg: dpkg -i $deb"
  if dpkg -s "$pkg" >/dev/null 2>&1; then
    fail "$pkg is already installed on this machine; the test would replace and purge it (dpkg -P $pkg first)"
    return
  fi
  if getent passwd "$user" >/dev/null; then
    fail "user $user exists already; the test would delete it on purge"
    return
  fi
  if ! dpkg -i "$deb" >/dev/null; then fail "dpkg -i $deb"; return; fi
  want_mode "$bin" 755 root:root
  want_mode "$unit" 644 root:root
  want_mode "$data" 750 "$user:$user"
  for c in "${conffiles[@]}"; do want_mode "$c" 640 "root:$user"; done
  local got_conf
  got_conf=$(dpkg-query -W -f='${Conffiles}\n' "$pkg" | awk 'NF {print $1}' | sort | tr '\n' ' ')
  local want_conf
  want_conf=$(printf '%s\n' "${conffiles[@]}" | sort | tr '\n' ' ')
  if [ "$got_conf" = "$want_conf" ]; then ok "conffiles: $got_conf"; else fail "conffiles are '$got_conf', want '$want_conf'"; fi
  local pw
  pw=$(getent passwd "$user" || true)
  if [[ "$pw" == "$user:"*":$data:/usr/sbin/nologin" ]]; then ok "user: $pw"; else fail "user $user: '$pw', want home $data and shell /usr/sbin/nologin"; fi
  if [ -L "/etc/systemd/system/multi-user.target.wants/$pkg.service" ]; then
    ok "$pkg.service enabled"
  else
    fail "$pkg.service is not enabled (no multi-user.target.wants link)"
  fi
  if command -v systemd-analyze >/dev/null; then
    local out
    if out=$(systemd-analyze verify "$unit" 2>&1) && ! grep -q "$pkg" <<<"$out"; then
      ok "systemd-analyze verify $unit"
    else
      fail "systemd-analyze verify $unit: $out"
    fi
    # hardening: systemd's exposure score (0 best, 10 worst) at most 2.0
    local sec
    if sec=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1); then
      ok "systemd-analyze security: $(grep -o 'exposure level.*' <<<"$sec")"
    else
      fail "systemd-analyze security $unit: $(grep -o 'exposure level.*' <<<"$sec" || echo "$sec"), want at most 2.0"
    fi
  else
    echo "SKIP: systemd-analyze not installed (apt-get install systemd); $unit not verified"
  fi
  local v
  if v=$("$bin" --version) && [[ "$v" == "$pkg "* ]]; then ok "$bin --version: $v"; else fail "$bin --version printed: $v"; fi
  local c
  if c=$(runuser -u "$user" -- "$bin" --check-config --config "${conffiles[0]}" 2>&1); then
    ok "as $user: $c"
  else
    fail "the shipped ${conffiles[0]} does not pass --check-config as $user: $c"
  fi

  # data written by the service survives remove, goes with purge
  runuser -u "$user" -- touch "$data/written-by-service"
  echo "== $pkg: dpkg -r"
  if ! dpkg -r "$pkg" >/dev/null; then fail "dpkg -r $pkg"; fi
  want_gone "$bin"
  want_gone "$unit"
  want_gone "/etc/systemd/system/multi-user.target.wants/$pkg.service"
  for c in "${conffiles[@]}"; do
    if [ -f "$c" ]; then ok "$c kept"; else fail "$c removed by dpkg -r (a conffile stays until purge)"; fi
  done
  if [ -f "$data/written-by-service" ]; then ok "$data kept"; else fail "$data lost on dpkg -r"; fi
  if getent passwd "$user" >/dev/null; then ok "user $user kept"; else fail "user $user deleted by dpkg -r"; fi
  echo "== $pkg: dpkg -P"
  if ! dpkg -P "$pkg" >/dev/null; then fail "dpkg -P $pkg"; fi
  for c in "${conffiles[@]}"; do want_gone "$c"; done
  want_gone "$data"
  if getent passwd "$user" >/dev/null; then fail "user $user still exists after purge"; else ok "user $user gone"; fi
  if getent group "$user" >/dev/null; then fail "group $user still exists after purge"; else ok "group $user gone"; fi
  if dpkg -s "$pkg" >/dev/null 2>&1; then fail "$pkg still known to dpkg after purge"; else ok "$pkg purged"; fi
}

# the binary of a package, run under the emulator of its architecture
qemu_check() {
  local deb=$1 bin=$2 name
  name=$(basename "$bin")
  local arch
  arch=$(dpkg-deb -f "$deb" Architecture 2>/dev/null || true)
  local emu
  case "$arch" in
    armhf) emu=qemu-arm ;;
    arm64) emu=qemu-aarch64 ;;
    *) fail "$deb: architecture '$arch', want armhf or arm64"; return ;;
  esac
  if ! command -v "$emu" >/dev/null; then
    skip "$emu not installed (apt-get install qemu-user); $deb not started"
    return
  fi
  local tmp
  tmp=$(mktemp -d)
  if ! dpkg-deb -x "$deb" "$tmp"; then fail "dpkg-deb -x $deb"; rm -rf "$tmp"; return; fi
  local out
  if out=$("$emu" "$tmp$bin" --version 2>&1) && [[ "$out" == "$name "* ]]; then
    ok "$emu $(basename "$deb"):$bin --version: $out"
  else
    fail "$emu $(basename "$deb"):$bin --version printed: $out"
  fi
  # the shipped config loads on the target too
  if [ -f "$tmp/etc/gridedge/agent.yaml" ]; then
    if out=$("$emu" "$tmp$bin" --check-config --config "$tmp/etc/gridedge/agent.yaml" 2>&1); then
      ok "$emu $(basename "$deb"): $out"
    else
      fail "$emu $(basename "$deb"): the shipped config: $out"
    fi
  fi
  rm -rf "$tmp"
}

if ! command -v dpkg >/dev/null || ! command -v dpkg-deb >/dev/null; then
  skip "dpkg not installed: the packages were built but not installed"
  exit $status
fi

if [ "$(id -u)" != 0 ]; then
  skip "not root: the amd64 packages were built but not installed (run as root to install, check and purge them)"
else
  if deb=$(one "$DIST/gridedge-agent_*_amd64.deb"); then
    install_check gridedge-agent "$deb" gridedge /var/lib/gridedge /usr/bin/gridedge-agent \
      /etc/gridedge/agent.yaml /etc/gridedge/settings.yaml
  else
    status=1
  fi
  if deb=$(one "$DIST/gridedge-hub_*_amd64.deb"); then
    install_check gridedge-hub "$deb" gridedge-hub /var/lib/gridedge-hub /usr/bin/gridedge-hub /etc/gridedge/hub.yaml
  else
    status=1
  fi
fi

# firstboot.sh of a bundle, on this machine: a profile like raspberry-pi-4
# for amd64; the site's config placed by the bundle must survive dpkg
firstboot_check() {
  local bin=$DIST/build/amd64/gridedge-agent tool=${PKG_TOOL:-bin/gridedge-pkg}
  echo "== first-boot bundle: firstboot.sh"
  if [ ! -x "$bin" ] || [ ! -x "$tool" ]; then fail "$bin or $tool missing (make packages)"; return; fi
  if dpkg -s gridedge-agent >/dev/null 2>&1; then fail "gridedge-agent is installed already"; return; fi
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/profiles/systemd" "$tmp/out" "$tmp/image"
  cp firmware-profiles/systemd/gridedge-agent.service "$tmp/profiles/systemd/"
  sed -e 's/^name: .*/name: test-amd64/' -e 's/^goarch: .*/goarch: amd64/' firmware-profiles/raspberry-pi-4.yaml >"$tmp/profiles/test-amd64.yaml"
  if ! "$tool" agent --profile "$tmp/profiles/test-amd64.yaml" --bundle --binary "$bin" --version 1.0.0 --out "$tmp/out" >/dev/null; then
    fail "gridedge-pkg could not build an amd64 bundle"; rm -rf "$tmp"; return
  fi
  tar -xzf "$tmp/out"/gridedge-firstboot_test-amd64_1.0.0.tar.gz -C "$tmp/image"
  # the site's edit before flashing
  sed -i 's/^  id: gateway$/  id: substation-7/' "$tmp/image/gridedge-firstboot/etc/agent.yaml"
  if ! sh "$tmp/image/gridedge-firstboot/firstboot.sh" >/dev/null; then
    fail "firstboot.sh"
  elif grep -q 'id: substation-7' /etc/gridedge/agent.yaml && runuser -u gridedge -- /usr/bin/gridedge-agent --check-config --config /etc/gridedge/agent.yaml >/dev/null; then
    ok "firstboot.sh installed the package and kept the bundle's config (edge substation-7)"
  else
    fail "after firstboot.sh /etc/gridedge/agent.yaml is not the bundle's: $(grep 'id:' /etc/gridedge/agent.yaml)"
  fi
  want_mode /etc/gridedge/agent.yaml 640 root:gridedge
  if dpkg -s gridedge-agent >/dev/null 2>&1 && ! dpkg -P gridedge-agent >/dev/null; then fail "dpkg -P gridedge-agent"; fi
  want_gone /etc/gridedge/agent.yaml
  rm -rf "$tmp"
}
if [ "$(id -u)" = 0 ]; then firstboot_check; fi

echo "== ARM packages under qemu"
for a in armhf arm64; do
  if deb=$(one "$DIST/gridedge-agent_*_$a.deb"); then qemu_check "$deb" /usr/bin/gridedge-agent; else status=1; fi
done
if deb=$(one "$DIST/gridedge-hub_*_arm64.deb"); then qemu_check "$deb" /usr/bin/gridedge-hub; else status=1; fi
for p in "$DIST"/firmware/*/; do
  if deb=$(one "$p/gridedge-agent_*.deb"); then qemu_check "$deb" /usr/bin/gridedge-agent; else status=1; fi
done

echo "== first-boot bundles"
for p in firmware-profiles/*.yaml; do
  name=$(basename "$p" .yaml)
  if ! bundle=$(one "$DIST/firmware/$name/gridedge-firstboot_${name}_*.tar.gz"); then status=1; continue; fi
  list=$(tar -tzf "$bundle" | sort | tr '\n' ' ')
  missing=""
  for f in README firstboot.sh profile.json etc/agent.yaml etc/settings.yaml; do
    grep -q "gridedge-firstboot/$f " <<<"$list " || missing="$missing $f"
  done
  grep -q 'gridedge-firstboot/gridedge-agent_[^ ]*\.deb ' <<<"$list " || missing="$missing the package"
  if [ -z "$missing" ]; then ok "$bundle"; else fail "$bundle lacks:$missing"; fi
done

if [ $status = 0 ]; then echo "packages: all checks passed"; fi
exit $status
