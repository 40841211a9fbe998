"""A Redis cache whose connection pool is shared by every thread of the process, and
which degrades instead of failing when Redis is unreachable.

Under ASGI, Django runs each request's synchronous code in a fresh thread, and cache
handles are per thread, so the stock ``RedisCache`` builds a new client (and a new Redis
connection) for every request. redis-py clients are thread-safe, so one per process and
configuration is enough.

Nothing Tack keeps in the cache is needed to answer a request: it holds copies (role
grants), counters (rate limits) and short-lived marks. So when Redis is down a read is a
miss, a write is dropped and a counter starts again, with a warning in the log: people
keep sending messages and saving records (rate limits fail open for the outage), and
``/healthz`` reports the cache as down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("tack.cache")
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_last_warning = [0.0]
F = TypeVar("F", bound=Callable[..., Any])


def _degrade(fallback: Callable[..., Any]) -> Callable[[F], F]:
    """Run the cache call; if Redis is unreachable, log (at most every 10 s) and return
    ``fallback(*args, **kwargs)`` instead of raising."""

    def decorate(method: F) -> F:
        @wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except _UNAVAILABLE as exc:
                now = time.monotonic()
                if now - _last_warning[0] > 10:
                    _last_warning[0] = now
                    logger.warning("cache unavailable (%s); %s degraded", exc, method.__name__)
                return fallback(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _empty(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {}


def _first_count(key: Any, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


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

    get = _degrade(_default)(RedisCache.get)
    get_many = _degrade(_empty)(RedisCache.get_many)
    has_key = _degrade(_false)(RedisCache.has_key)
    set = _degrade(_false)(RedisCache.set)
    add = _degrade(_false)(RedisCache.add)
    touch = _degrade(_false)(RedisCache.touch)
    delete = _degrade(_false)(RedisCache.delete)
    incr = _degrade(_first_count)(RedisCache.incr)
    set_many = _degrade(lambda *a, **k: [])(RedisCache.set_many)
    delete_many = _degrade(_false)(RedisCache.delete_many)

    def close(self, **kwargs: Any) -> None:
        """Keep the shared pool open at the end of each request (the stock backend's no-op)."""
