#!/usr/bin/env bash
# Install Debian's Chromium for the end-to-end tests when it is missing and we may (root + apt-get).
# Never fails the build: without a browser the e2e tests skip and say so in the test summary.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: cannot install chromium here (needs root and apt-get); e2e tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >/dev/null 2>&1 \
    || echo "install_browser: apt-get could not install chromium; e2e tests will be skipped" >&2
exit 0
