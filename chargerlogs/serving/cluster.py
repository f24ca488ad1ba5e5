"""A local PostgreSQL server for the serving store: create, start, stop, and connection strings.

The server runs as the ``postgres`` user that Debian's package creates (PostgreSQL refuses to run as
root), from a data folder it owns, and listens only on a Unix socket in a folder beside the data,
on a port number of its own. Every role signs in with a password (SCRAM); the generated passwords
are kept in ``credentials.json`` beside the data, readable by its owner only.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"
DATABASE = "charger_portal"
DEFAULT_PORT = 54329
INSTALL_HINT = "run scripts/install_system_packages.sh as root (make test does)"


class ClusterError(RuntimeError):
    """The local PostgreSQL server could not be found, created, started or stopped."""


def server_bindir() -> Path:
    """The folder of the newest installed PostgreSQL server's programs (initdb, pg_ctl)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise ClusterError(
            f"PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb): {INSTALL_HINT}"
        )
    return candidates[-1].parent


def _server_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterError(f"no '{SERVER_USER}' user on this machine: {INSTALL_HINT}") from None


@dataclass(frozen=True)
class Credentials:
    """Generated passwords of the superuser, the owner of the serving schema and the app's role."""

    superuser: str
    owner: str
    app: str


@dataclass(frozen=True)
class LocalCluster:
    """One PostgreSQL server: data in ``root/data``, socket in ``root/run``, log in ``root``."""

    root: Path
    port: int = DEFAULT_PORT

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    def _as_server_user(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        args = [str(part) for part in command]
        if os.geteuid() == 0:
            args = ["runuser", "-u", SERVER_USER, "--", *args]
        elif pwd.getpwuid(os.geteuid()).pw_name != SERVER_USER:
            raise ClusterError(f"the server must be run by root or '{SERVER_USER}', not this user")
        return subprocess.run(args, capture_output=True, text=True, check=False)

    def _run(self, *command: str | Path, what: str) -> str:
        result = self._as_server_user(*command)
        if result.returncode != 0:
            raise ClusterError(f"{what} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def is_initialised(self) -> bool:
        """True when the data folder holds a server and the credentials are kept."""
        return (self.data_dir / "PG_VERSION").exists() and self.credentials_file.exists()

    def credentials(self) -> Credentials:
        """The generated passwords (the cluster must be initialised)."""
        return Credentials(**json.loads(self.credentials_file.read_text()))

    def initialise(self) -> None:
        """Create the data folder and the server in it, with generated passwords. Idempotent."""
        if self.is_initialised():
            return
        account = _server_account()
        bindir = server_bindir()
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        credentials = Credentials(*(secrets.token_urlsafe(24) for _ in range(3)))
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chown(folder, account.pw_uid, account.pw_gid)
        # the server user must reach its folders: check before initdb fails with a vaguer message
        probe = self._as_server_user("test", "-w", self.data_dir)
        if probe.returncode != 0:
            raise ClusterError(
                f"user '{SERVER_USER}' cannot write {self.data_dir}: a parent folder is closed"
            )
        password_file = self.socket_dir / ".initdb_password"
        password_file.write_text(credentials.superuser + "\n")
        os.chown(password_file, account.pw_uid, account.pw_gid)
        password_file.chmod(0o600)
        try:
            self._run(
                bindir / "initdb",
                "--pgdata",
                self.data_dir,
                "--username",
                SERVER_USER,
                "--auth",
                "scram-sha-256",
                "--pwfile",
                password_file,
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                what="initdb",
            )
        finally:
            password_file.unlink(missing_ok=True)
        settings = {
            "listen_addresses": "''",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "timezone": "'UTC'",
            "max_connections": "60",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# set by chargerlogs.serving.cluster\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.credentials_file.write_text(json.dumps(credentials.__dict__, indent=2) + "\n")
        self.credentials_file.chmod(0o600)

    def is_running(self) -> bool:
        """True when the server of this data folder is up."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return (
            self._as_server_user(
                server_bindir() / "pg_ctl", "status", "-D", self.data_dir
            ).returncode
            == 0
        )

    def start(self) -> None:
        """Start the server (creating it first if needed); wait until it accepts connections."""
        self.initialise()
        if self.is_running():
            return
        self.log_file.touch()
        os.chown(self.log_file, _server_account().pw_uid, _server_account().pw_gid)
        self._run(
            server_bindir() / "pg_ctl",
            "start",
            "--wait",
            "--timeout",
            "60",
            "-D",
            self.data_dir,
            "-l",
            self.log_file,
            "-o",
            f"-p {self.port}",
            what=f"starting PostgreSQL (log: {self.log_file})",
        )

    def stop(self) -> bool:
        """Stop the server if it runs (fast shutdown: open sessions are ended); False when it did
        not run."""
        if not self.is_running():
            return False
        self._run(
            server_bindir() / "pg_ctl",
            "stop",
            "--wait",
            "-m",
            "fast",
            "-D",
            self.data_dir,
            what="stopping PostgreSQL",
        )
        return True

    def conninfo(self, user: str, password: str, dbname: str = DATABASE) -> str:
        """A libpq connection string for ``user`` over the Unix socket."""
        parts = {
            "host": str(self.socket_dir),
            "port": str(self.port),
            "dbname": dbname,
            "user": user,
            "password": password,
        }
        return " ".join(f"{key}='{_quote(value)}'" for key, value in parts.items())


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
