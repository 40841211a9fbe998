"""A Redis cache whose connection pool is shared by every thread of the process.

Under ASGI, Django runs each request's synchronous code in a fresh thread, and cache
handles are per thread, so the stock ``RedisCache`` builds a new client (and a new Redis
connection) for every request. redis-py clients are thread-safe, so one per process and
configuration is enough.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple[str, ...], RedisCacheClient] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    # Set by RedisCache.__init__ (private there, so not in the type stubs).
    _servers: list[str]
    _options: dict[str, Any]
    _class: type[RedisCacheClient]

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (*self._servers, repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    def close(self, **kwargs: Any) -> None:
        """Keep the shared pool open at the end of each request (the stock backend's no-op)."""
