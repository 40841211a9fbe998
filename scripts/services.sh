#!/usr/bin/env bash
# Start local PostgreSQL, Redis and MariaDB if they are not answering (Debian packages,
# as on the development and CI machines). Idempotent. MariaDB is only a source system
# for the SQL connector's tests; Tack itself never stores anything there.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
mariadb_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

if ! pg_up; then
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
fi
if ! redis_up; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb_up; then
    echo "Starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  fi
  want_mariadb=1
else
  want_mariadb=0
fi
for _ in $(seq 1 30); do
  if pg_up && redis_up && { [ "$want_mariadb" = 0 ] || mariadb_up; }; then
    echo "PostgreSQL, Redis and MariaDB are up"; exit 0
  fi
  sleep 1
done
echo "PostgreSQL, Redis or MariaDB did not come up" >&2
exit 1
