#!/usr/bin/env bash
# Installs what Vigil needs to build, test and run on Debian 12, as root.
# Idempotent: packages already present are skipped, and apt is only asked when something is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-dev
  dpdk dpdk-dev libdpdk-dev libpcap-dev libnuma-dev
  libhyperscan-dev
  librocksdb-dev
  tcpreplay tshark iproute2 python3
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get install); re-run with sudo" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: no Rust toolchain (cargo) found; Vigil needs Rust >= 1.75 from rustup" >&2
  exit 1
fi
export PATH="$HOME/.cargo/bin:$PATH"
# The fuzzer driver (crates.io), for `make fuzz` / `make test`.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
echo "install-deps: all dependencies present"
