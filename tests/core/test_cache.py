"""Under ASGI each request runs in a new thread; the Redis client must be shared, not rebuilt."""

import threading

from core.cache import SharedPoolRedisCache


def test_every_thread_gets_the_same_redis_client():
    # Clients connect lazily, so no Redis server is needed to check the sharing.
    def new_handle():
        return SharedPoolRedisCache("redis://127.0.0.1:6399/5", {"OPTIONS": {}})._cache

    clients = [new_handle()]
    threads = [threading.Thread(target=lambda: clients.append(new_handle())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in clients}) == 1
    other = SharedPoolRedisCache("redis://127.0.0.1:6399/6", {"OPTIONS": {}})._cache
    assert other is not clients[0]
