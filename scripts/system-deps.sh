#!/usr/bin/env bash
# Installs the system tools the tests and benchmarks need, from Debian's packages, and makes
# sure the local PostgreSQL is up when it is installed.  Idempotent and quiet when everything
# is already there.  The tests start their own throwaway instances of these programs (on
# loopback, in temporary folders); the packages' own services are never used.
#   chromium            headless browser tests
#   postfix             smtp-sink/smtp-source, `postfix check`, a throwaway Postfix for DSNs
#   dovecot-imapd/pop3d a real IMAP/POP3 server for bounce-mailbox tests
#   nsd                 a real authoritative DNS server for `letterpress doctor` tests
set -euo pipefail

want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
[ -x /usr/sbin/smtp-sink ] || [ -x /usr/sbin/postfix ] || want+=(postfix)
[ -x /usr/sbin/dovecot ] || want+=(dovecot-imapd dovecot-pop3d)
[ -x /usr/bin/openssl ] || want+=(openssl)   # the throwaway Dovecot's TLS certificate
[ -x /usr/sbin/nsd ] || want+=(nsd)

if ((${#want[@]})); then
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        echo "system-deps: need root to install: ${want[*]}" >&2
        exit 1
    fi
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "system-deps: installing ${want[*]} (Debian packages)…"
    $SUDO apt-get update -qq
    # postfix asks configuration questions; "No configuration" keeps it off the network.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    # No package may start its system service here: the tests run their own instances.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        trap '$SUDO rm -f "$policy"' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

# PostgreSQL: start the local cluster if it is installed but stopped.  When it is not
# installed at all the PostgreSQL test leg is skipped (and says so).
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        for v in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
        done
    fi
fi
exit 0
