#!/usr/bin/env bash
# Make sure Debian's Chromium (browser tests) and Graphviz's dot (the path-diagram escaping
# tests render the DOT) are present. Playwright's own browser download does not work on
# these machines, so the tests point Playwright at /usr/bin/chromium. Without root or
# apt-get the tests that need them skip with a reason (unless TANDEM_REQUIRE_BROWSER=1,
# as in CI, where a missing Chromium fails instead).
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's ${missing[*]} for the browser and diagram tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null \
    && exit 0
  echo "apt-get could not install ${missing[*]}" >&2
else
  echo "Cannot install ${missing[*]} here: the tests that need them will be skipped." >&2
fi
[ "${TANDEM_REQUIRE_BROWSER:-0}" = 1 ] && [ ! -x /usr/bin/chromium ] && exit 1
exit 0
