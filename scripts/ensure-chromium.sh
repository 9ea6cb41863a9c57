#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser tests. Playwright's own
# browser download does not work on these machines, so the tests point Playwright at
# /usr/bin/chromium. Without root or apt-get the browser tests skip with a reason
# (unless TANDEM_REQUIRE_BROWSER=1, as in CI, where they fail instead).
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null \
    && exit 0
  echo "apt-get could not install chromium" >&2
else
  echo "No /usr/bin/chromium and cannot install it here: browser tests will be skipped." >&2
fi
[ "${TANDEM_REQUIRE_BROWSER:-0}" = 1 ] && exit 1
exit 0
