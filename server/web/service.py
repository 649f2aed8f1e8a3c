"""The web console as ``mailarchive serve`` runs it: waitress in a background thread.

On the very first start (no console user yet) the postmaster and a first email administrator are
created with generated passwords, shown once in ``describe()`` on the console — they are stored
only as argon2 hashes, so this is the one chance to note them.
"""

from __future__ import annotations

import threading

from waitress import wasyncore
from waitress.server import create_server

from server.config import Config
from server.users import Credentials, bootstrap_first_start
from server.web.app import create_app
from server.web.context import services_of

THREADS = 8


class WebService:
    name = "web"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = create_app(config)
        self.first_start: list[Credentials] = bootstrap_first_start(services_of(self.app).store)
        self.server = create_server(self.app, host=config.web.bind, port=config.web.port, threads=THREADS, ident="mailarchive")
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/login"

    def start(self) -> WebService:
        self.thread.start()
        return self

    def describe(self) -> str:
        line = f"web console: sign in at {self.url}"
        if not self.first_start:
            return line
        shown, self.first_start = self.first_start, []  # printed once, then forgotten
        accounts = "\n".join(f"           {c.username:<12} ({c.role:<12}) password: {c.password}" for c in shown)
        return (f"{line}\n         first start: console accounts created; note these passwords now, they are not "
                f"shown again\n{accounts}")  # fmt: skip

    def stop(self) -> None:
        """Close the listener and open connections from inside the server's loop (closing them from
        this thread would pull sockets from under its select()); the loop ends when none are left."""
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()
        services_of(self.app).close()


def start(config: Config) -> WebService:
    return WebService(config).start()
