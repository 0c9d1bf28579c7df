#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for Halyard and builds the Release binaries into build/bin.
# Idempotent: packages already present are not reinstalled; the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries (docs/ARCHITECTURE.md, "Libraries")
  libasio-dev libssl-dev libyaml-dev libyaml-cpp-dev libre2-dev nlohmann-json3-dev libspdlog-dev
  libcli11-dev libgtest-dev libgmock-dev libnghttp2-dev
  # the proxy's allocator (cmd/proxy.cmake)
  libmimalloc-dev
  # control-plane protocol (api/halyard/v1): protobuf + gRPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # tests: real clients and peers
  python3 python3-pytest python3-h2 python3-yaml python3-grpcio python3-protobuf
  python3-cryptography curl
  # WebSocket through the gateway next to HTTP/2 (tests/e2e/test_proxy_http2.py)
  python3-websockets
  openssl sslscan
  # benchmarks (bench/, not part of the tests)
  wrk nghttp2-client nginx-light haproxy time
  # observability (deploy/prometheus, halyard up --prometheus): prometheus and promtool
  prometheus
  # the dashboard's browser test (tests/e2e/test_dashboard.py, headless)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

JOBS=$(nproc)
# halyard-proxy is built profile-guided (CMakeLists.txt; docs/operations.md, "Profile-guided
# build"): an instrumented proxy in build-pgo runs the benchmarks' loads for a few seconds
# (scripts/pgo_train.py), and the real build compiles with the counts it wrote. HALYARD_PGO=off
# skips that, as does a failed training run (with a warning): then the build is a plain one.
# The outcome goes to build/pgo-status (off, used or failed); scripts/test.sh fails on
# "failed", so a broken training run cannot go unnoticed behind a green test run.
PGO_USE=""
PGO_STATUS=off
if [ "${HALYARD_PGO:-on}" != "off" ]; then
  cmake -S . -B build-pgo -G Ninja -DCMAKE_BUILD_TYPE=Release -DHALYARD_WERROR=OFF \
    -DHALYARD_TESTS=OFF -DHALYARD_PGO_GENERATE="$PWD/build-pgo/profile" >/dev/null
  cmake --build build-pgo -j "$JOBS" --target halyard-proxy
  rm -rf build-pgo/profile
  if /usr/bin/python3 scripts/pgo_train.py build-pgo/bin/halyard-proxy; then
    PGO_USE="$PWD/build-pgo/profile"
    PGO_STATUS=used
  else
    PGO_STATUS=failed
    echo "setup: warning: the profile-guided training failed; building without a profile" >&2
  fi
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHALYARD_WERROR=ON \
  -DHALYARD_PGO_USE="$PGO_USE" >/dev/null
cmake --build build -j "$JOBS"
echo "$PGO_STATUS" > build/pgo-status
echo "setup: binaries are in build/bin"
