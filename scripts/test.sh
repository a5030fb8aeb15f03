#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need (MariaDB server, php-cli,
# the package with its test extras), makes sure MariaDB runs, then runs pytest. Extra arguments go to
# pytest. Point the MySQL tests at another server with SUITECRM_EXT_TEST_MYSQL_DSN=mysql://u:p@host:port/
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
command -v php >/dev/null 2>&1 || need_apt+=(php-cli)
# the generated logic hook posts with curl when PHP has it (the tests run both variants)
{ command -v php >/dev/null 2>&1 && php -m 2>/dev/null | grep -qi '^curl$'; } || need_apt+=(php-curl)
# systemd-analyze verifies the unit files in docs/deploy/
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ] && [ -z "${SUITECRM_EXT_SKIP_APT:-}" ]; then
  echo "== installing ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== installing suitecrm-ext with test extras"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

if [ -z "${SUITECRM_EXT_TEST_MYSQL_DSN:-}" ]; then
  # Start the system MariaDB if it is stopped and give the tests their own user; if that is not
  # possible here, tests/mariadb.py starts a private throw-away server instead.
  if ! mariadb-admin ping >/dev/null 2>&1; then
    echo "== starting MariaDB"
    as_root service mariadb start >/dev/null 2>&1 || as_root service mysql start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  if mariadb-admin ping >/dev/null 2>&1 && as_root mariadb -e "
      CREATE USER IF NOT EXISTS 'sxt_test'@'localhost' IDENTIFIED BY 'sxt_test_pw';
      CREATE USER IF NOT EXISTS 'sxt_test'@'127.0.0.1' IDENTIFIED BY 'sxt_test_pw';
      GRANT ALL PRIVILEGES ON *.* TO 'sxt_test'@'localhost' WITH GRANT OPTION;
      GRANT ALL PRIVILEGES ON *.* TO 'sxt_test'@'127.0.0.1' WITH GRANT OPTION;" >/dev/null 2>&1; then
    export SUITECRM_EXT_TEST_MYSQL_DSN="mysql://sxt_test:sxt_test_pw@127.0.0.1:3306/"
    echo "== MariaDB running: tests use the system server as sxt_test"
  else
    echo "== system MariaDB not available: tests start a private mariadbd"
  fi
fi

echo "== ruff"
python3 -m ruff check .

echo "== pytest"
set +e
python3 -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
