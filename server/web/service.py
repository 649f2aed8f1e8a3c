"""The web console as ``mailarchive serve`` runs it: waitress in a background thread.

Constructing ``WebService`` only binds the listener (``server.daemons``); ``start()`` opens the
store and, on the very first start (no console user yet), creates the postmaster and a first email
administrator with generated passwords, shown once in ``describe()`` — they are stored only as
argon2 hashes, so this is the one chance to note them. Until they have been shown, the archive
remembers their names: a start that follows one which died before showing them says which
accounts exist and how to give them a password (``mailarchive user passwd``).
"""

from __future__ import annotations

import threading

from waitress import wasyncore
from waitress.server import create_server

from server.config import Config
from server.daemons import address_of, listen
from server.query.highlight import compile_now
from server.users import Credentials, bootstrap_first_start
from server.web.app import create_app
from server.web.context import services_of

THREADS = 8
UNSHOWN_KEY = "console_first_start_unshown"  # store setting: accounts whose generated password was never shown


class WebService:
    name = "web"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.socket = listen(config.web.bind, config.web.port, what="the web console",
                             port_variable="MAILARCHIVE_WEB_PORT", bind_variable="MAILARCHIVE_BIND")  # fmt: skip
        self.first_start: list[Credentials] = []
        self.unshown: list[str] = []  # created by an earlier start that never showed their passwords
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{address_of(self.socket)}/login"

    def start(self) -> WebService:
        self.app = create_app(self.config)
        store = services_of(self.app).store
        self.first_start = bootstrap_first_start(store)
        if self.first_start:
            store.set_setting(UNSHOWN_KEY, [c.username for c in self.first_start])
        else:
            self.unshown = list(store.get_setting(UNSHOWN_KEY) or [])
        compile_now()  # the highlighter's patterns, before the first keyword search rather than during it
        self.server = create_server(self.app, sockets=[self.socket], threads=THREADS, ident="mailarchive")
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.thread.start()
        return self

    def describe(self) -> str:
        line = f"web console: sign in at {self.url}"
        if self.unshown:  # said once, like the passwords themselves
            names, first = ", ".join(self.unshown), self.unshown[0]
            self.unshown = []
            services_of(self.app).store.set_setting(UNSHOWN_KEY, [])
            return (f"{line}\n         the console accounts {names} were made by an earlier start that never showed "
                    f"their passwords;\n         set one with: mailarchive user passwd {first}")  # fmt: skip
        if not self.first_start:
            return line
        shown, self.first_start = self.first_start, []  # printed once, then forgotten
        services_of(self.app).store.set_setting(UNSHOWN_KEY, [])
        accounts = "\n".join(f"           {c.username:<12} ({c.role:<12}) password: {c.password}" for c in shown)
        return (f"{line}\n         first start: console accounts created; note these passwords now, they are not "
                f"shown again\n{accounts}")  # fmt: skip

    def stop(self) -> None:
        """Close the listener and open connections from inside the server's loop (closing them from
        this thread would pull sockets from under its select()); the loop ends when none are left.
        Before ``start()`` there is only the bound socket to close."""
        if self.thread is None:
            self.socket.close()
            return
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()
        services_of(self.app).close()


def bind(config: Config) -> WebService:
    return WebService(config)


def start(config: Config) -> WebService:
    return WebService(config).start()
