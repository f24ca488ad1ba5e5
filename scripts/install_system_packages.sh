#!/usr/bin/env bash
# Install the Debian packages that the per-session dashboard, the Spark target and their tests need,
# only when missing: PostgreSQL (the serving store), Chromium (the browser the end-to-end tests
# drive) and a Java runtime (Spark, dbt --target spark and its parity test).
# Arguments name what is needed, among postgresql, chromium and java (make serve needs only
# postgresql); without any, all three (make test).
# Idempotent: on a machine that has what is asked, it installs nothing and needs no network.
set -euo pipefail

wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then
    wanted=(postgresql chromium java)
fi

missing=()
for name in "${wanted[@]}"; do
    case "$name" in
        postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || missing+=(postgresql) ;;
        chromium) command -v chromium > /dev/null || missing+=(chromium) ;;
        java) command -v java > /dev/null || missing+=(openjdk-17-jre-headless) ;;
        *)
            echo "unknown system package group: $name (known: postgresql, chromium, java)" >&2
            exit 2
            ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
