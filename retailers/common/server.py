"""Serving an app with waitress: a real multi-threaded WSGI server, as in production."""

from __future__ import annotations

import logging
import signal
import sys

from waitress.server import create_server

log = logging.getLogger("retailers.server")


def serve(app, host: str, port: int, threads: int = 8, name: str = "retailer") -> None:
    """Bind (clear message if the port is taken) and serve until SIGTERM/SIGINT."""
    try:
        server = create_server(
            app, host=host, port=port, threads=threads, ident=None,
            channel_timeout=120, connection_limit=200, clear_untrusted_proxy_headers=True,
        )
    except OSError as exc:
        sys.exit(f"{name}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                 f"the port is probably taken: stop whatever uses it or choose another port.")

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        log.info("%s: signal %s, shutting down", name, signum)
        server.close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("%s: serving on http://%s:%s with %s threads", name, host, port, threads)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        pool = getattr(app, "extensions", {}).get("pool")
        if pool is not None:
            pool.close()
