"""Restores of a dump into a new or empty database, all or nothing.

PostgreSQL: the plain SQL goes to `psql` (`pg_restore` first turns a custom archive into
it) in one transaction that stops at the first error, and it commits only once the whole
backup has been read and every checksum matched: a damaged backup leaves the target as it
was. SQLite: the dump is loaded into a private temporary file beside the target, which then
replaces the target in one rename. A target that holds tables is refused unless `force`:
PostgreSQL's schemas are dropped in the restore's own transaction, a SQLite file replaced.

Whatever `force` says, a restore goes only into an empty database or a pjobs tenant
database (one that carries pjobs' mark, `adapters.tenants`), never into a pjobs control
database: a URL typed wrong must not replace the audit trail."""

from __future__ import annotations

import glob
import os
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pjobs.adapters.tenants import APPLICATION_ID, MARK, ForeignDatabase
from pjobs.backups.dump import pg_client, program_major, quoted, sqlite_tables
from pjobs.errors import ConfigError, InvalidInputError, InvalidStateError, UnavailableError
from pjobs.store.files import read_only

if TYPE_CHECKING:
    from pjobs.settings.dburl import DatabaseURL
    from pjobs.settings.groups import BackupSettings

STDERR_CAP = 4096
SHOWN_TABLES = 5
CONTROL_TABLES = ("schema_migrations", "jobs")  # what every pjobs control database holds
RESTORING = ".restoring"  # the suffix of a restore's temporary file beside its target
SIDE_FILES = ("-wal", "-shm", "-journal")


def restore(
    dump: Iterable[bytes],
    manifest: dict[str, Any],
    target: DatabaseURL,
    force: bool,
    programs: BackupSettings,
) -> list[dict[str, Any]]:
    """Restore the dump into `target`; the tables there afterwards, with row counts."""
    if manifest["dialect"] != target.dialect:
        raise InvalidInputError(
            f"backup {manifest['backup_id']} is of a {manifest['dialect']} database; it "
            f"restores into {manifest['dialect']}, not {target.dialect}"
        )
    if target.dialect == "sqlite":
        return _sqlite(dump, manifest["format"], Path(target.target), force)
    return _postgres(dump, manifest, target.target, force, programs)


def refuse_target(found: list[str], marked: bool, force: bool, where: str) -> None:
    """Refuse (65) a target that is a pjobs control database; one that holds tables (`found`,
    their names with or without schema) without `force`; and, whatever `force` says, one
    that holds tables and is not a pjobs tenant database (`marked`)."""
    names = {name.rsplit(".", 1)[-1] for name in found}
    if all(name in names for name in CONTROL_TABLES):
        raise ForeignDatabase(f"{where} is a pjobs control database: pjobs never restores into one")
    if not found:
        return
    if not force:
        shown = ", ".join(found[:SHOWN_TABLES]) + (", …" if len(found) > SHOWN_TABLES else "")
        replace = ", or give --force to replace what it holds" if marked else ""
        raise InvalidStateError(
            f"the target database is not empty ({len(found)} tables: {shown}); restore into "
            f"an empty one{replace}"
        )
    if not marked:
        raise ForeignDatabase(
            f"{where} holds tables and is not a pjobs tenant database: pjobs replaces only "
            "what a tenant database it created holds, whatever --force says"
        )


# -- PostgreSQL ---------------------------------------------------------------------------


def _connect(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise UnavailableError(
            f"the target database is unavailable: {str(exc).strip().splitlines()[0][:200]}"
        ) from None


def pg_contents(url: str) -> tuple[list[str], list[str], bool]:
    """The relations the database holds, its schemas other than the system's, and whether
    it carries pjobs' tenant mark."""
    with _connect(url) as conn:
        relations = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1"
        ).fetchall()
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN "
            "('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%' ORDER BY 1"
        ).fetchall()
        comment = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    marked = bool(comment and comment[0] and str(comment[0]).startswith(f"{MARK} "))
    return [r[0] for r in relations], [s[0] for s in schemas], marked


def pg_tables(url: str) -> list[dict[str, Any]]:
    from pjobs.backups.dump import count_pg_tables

    with _connect(url) as conn:
        return count_pg_tables(conn)


def _major(version: str) -> int:
    digits = "".join(c if c.isdigit() or c == "." else " " for c in version).split()
    return int(digits[0].split(".")[0]) if digits else 0


def _postgres(
    dump: Iterable[bytes],
    manifest: dict[str, Any],
    url: str,
    force: bool,
    programs: BackupSettings,
) -> list[dict[str, Any]]:
    relations, schemas, marked = pg_contents(url)
    refuse_target(relations, marked, force, "the target database")
    program_major(programs.psql)
    if manifest["format"] == "custom":
        made_with = _major(str(manifest.get("tools", {}).get("pg_dump", "")))
        major, _ = program_major(programs.pg_restore)
        if major < made_with:
            raise ConfigError(
                f"{programs.pg_restore} is version {major}, older than the pg_dump ({made_with}) "
                f"the backup was made with: install postgresql-client-{made_with}"
            )
    psql = [programs.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    if force and schemas:
        drops = " ".join(f"DROP SCHEMA {quoted(s)} CASCADE;" for s in schemas)
        psql += ["-c", f"{drops} CREATE SCHEMA public;"]
    extra, env = pg_client(url)
    psql += [*extra, "-f", "-"]
    sql = dump
    converter = None
    if manifest["format"] == "custom":
        converter = _Converter([programs.pg_restore, "--no-owner", "--no-privileges", "-f", "-"])
        sql = converter.run(dump)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            psql, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        assert process.stdin is not None
        try:
            for piece in sql:
                process.stdin.write(piece)
            if converter is not None:
                converter.check()
        except BrokenPipeError:
            pass  # psql stopped at an error: its message says which
        except BaseException:
            process.kill()  # before its input ends: the transaction never commits
            process.wait()
            with suppress(BrokenPipeError):
                process.stdin.close()
            raise
        finally:
            if converter is not None:
                converter.stop()
        with suppress(BrokenPipeError):
            process.stdin.close()  # the end of input: psql commits
        code = process.wait()
        if code != 0:
            raise UnavailableError(f"psql failed ({code}): {_last_line(errors)}")
    return pg_tables(url)


def _last_line(errors: IO[bytes]) -> str:
    errors.seek(0)
    lines = errors.read(STDERR_CAP).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "?"


class _Converter:
    """`pg_restore -f -`: a custom archive in, its SQL out; fed from a thread."""

    def __init__(self, args: list[str]) -> None:
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors
        )
        self.failure: BaseException | None = None

    def _feed(self, data: Iterable[bytes]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            for piece in data:
                stdin.write(piece)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # e.g. a damaged part: reported by check()
            self.failure = exc
            self.process.kill()
        finally:
            with suppress(BrokenPipeError):
                stdin.close()

    def run(self, data: Iterable[bytes]) -> Iterator[bytes]:
        self.feeder = threading.Thread(target=self._feed, args=(data,), daemon=True)
        self.feeder.start()
        stdout = self.process.stdout
        assert stdout is not None
        while piece := stdout.read(1 << 20):
            yield piece

    def check(self) -> None:
        """Raise what went wrong reading the backup or converting it."""
        self.feeder.join()
        code = self.process.wait()
        if self.failure is not None:
            raise self.failure
        if code != 0:
            raise UnavailableError(f"pg_restore failed ({code}): {_last_line(self.errors)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.close()


# -- SQLite -------------------------------------------------------------------------------


def _sqlite(dump: Iterable[bytes], fmt: str, path: Path, force: bool) -> list[dict[str, Any]]:
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link: pjobs does not follow them")
    if path.exists():
        conn = read_only(path)
        try:
            found = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master "
                    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            marked = conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            refuse_target(found, marked, force, str(path))
        except sqlite3.DatabaseError:
            raise ForeignDatabase(f"{path} is not a SQLite database: it is left as it is") from None
        finally:
            conn.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        remove_leftovers(path)
        fd, name = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=RESTORING, dir=path.parent
        )
    except OSError as exc:
        raise UnavailableError(f"cannot write beside {path}: {exc.strerror}") from None
    temporary = Path(name)
    try:
        if fmt == "custom":
            with os.fdopen(fd, "wb") as handle:
                for piece in dump:
                    handle.write(piece)
        else:
            os.close(fd)
            _load_sql(dump, temporary)
        conn = sqlite3.connect(temporary)
        try:
            checked = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if checked != "ok":
                raise InvalidInputError(f"the restored database fails its check: {checked}")
            tables = sqlite_tables(conn)
        finally:
            conn.close()
        for suffix in SIDE_FILES:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(temporary, path)
    except BaseException:
        for leftover in (temporary, *(Path(f"{temporary}{s}") for s in SIDE_FILES)):
            leftover.unlink(missing_ok=True)
        raise
    return tables


def remove_leftovers(path: Path) -> list[Path]:
    """Remove what restores into `path` left beside it when their process was killed:
    `.NAME.PID.XXXX.restoring` files (and their journals) of processes that no longer
    run. What a running restore writes is left alone. The files removed."""
    removed = []
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*{RESTORING}*"):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and _running(int(pid)):
            continue
        leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _load_sql(dump: Iterable[bytes], path: Path) -> None:
    """Run an SQL dump statement by statement (a statement may span lines)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        statement = ""
        for line in _lines(dump):
            statement += line
            if sqlite3.complete_statement(statement):
                conn.execute(statement)
                statement = ""
        if statement.strip():
            raise InvalidInputError("the SQL dump ends in the middle of a statement")
        if conn.in_transaction:
            raise InvalidInputError("the SQL dump ends before its COMMIT")
    except sqlite3.Error as exc:
        raise InvalidInputError(f"the SQL dump does not load: {exc}") from None
    finally:
        conn.close()


def _lines(data: Iterable[bytes]) -> Iterator[str]:
    rest = b""
    for piece in data:
        rest += piece
        *lines, rest = rest.split(b"\n")
        for line in lines:
            yield line.decode() + "\n"
    if rest:
        yield rest.decode()
