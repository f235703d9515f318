"""Is a cluster's server really running? And what a crash leaves behind that blocks a restart.

`pg_ctl status` (and PostgreSQL's own lock-file check) only ask whether the pid written in
`postmaster.pid` exists. After `kill -9` of the postmaster that pid is often a zombie (its parent,
PID 1 in many containers, does not reap it): `pg_ctl status` then says "running" while nothing
listens, and a new postmaster refuses to start ("lock file already exists"). The same happens when
the pid has been recycled by another program after a reboot. Here a server counts as running only
if the recorded pid is a live process whose working directory is the data directory (every
PostgreSQL process chdirs there), and a stale lock file is removed once no process of the old
server is left, so that PostgreSQL can start and run its crash recovery.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil


def recorded_pid(datadir: Path) -> int | None:
    """The postmaster pid written in `datadir`/postmaster.pid, or None if there is none."""
    try:
        return int((Path(datadir) / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _works_in(proc: psutil.Process, datadir: Path) -> bool:
    """True for a live (non-zombie) process whose working directory is `datadir`."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()) == Path(datadir)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        # Not readable: not one of ours (the server runs as us, or we are root and read anything).
        return False


def postmaster(datadir: Path) -> psutil.Process | None:
    """The running postmaster of `datadir`, or None (no lock file, dead, zombie or recycled pid)."""
    pid = recorded_pid(datadir)
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
    return proc if _works_in(proc, datadir) else None


def cluster_processes(datadir: Path) -> list[psutil.Process]:
    """Every live process working in `datadir`: the postmaster, its helpers and backends."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid != os.getpid() and _works_in(proc, datadir):
            found.append(proc)
    return found


def wait_exited(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited (a zombie has: nobody may reap it); returns the rest."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _running(proc: psutil.Process) -> bool:
    try:  # is_running() also tells a recycled pid from the process we saw
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def clear_crash_leftovers(datadir: Path, wait: float = 10.0) -> int | None:
    """After the postmaster of `datadir` died: make sure nothing of it is left, so it can restart.

    Its other processes exit by themselves once they notice (they are SIGKILLed after `wait`
    seconds: a second server must never share the data directory with them). A lock file naming
    a zombie or a recycled pid is removed, since PostgreSQL would take it for a live server.
    Returns the dead postmaster's pid, or None when there was no crash to clear up.
    Raises RuntimeError, saying what to do, when old processes cannot be stopped.
    """
    pid = recorded_pid(datadir)
    if not pid or postmaster(datadir) is not None:
        return None
    leftovers = cluster_processes(datadir)
    if leftovers:
        alive = wait_exited(leftovers, wait)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        alive = wait_exited(alive, 5)
        if alive:
            pids = " ".join(str(p.pid) for p in alive)
            raise RuntimeError(
                f"The PostgreSQL server of {datadir} died (pid {pid}) but its processes {pids} do not exit, "
                f"so it cannot be restarted safely. Stop them (kill -9 {pids}) and run `make up` again.")
    if psutil.pid_exists(pid):  # zombie or recycled: PostgreSQL would refuse to start
        (Path(datadir) / "postmaster.pid").unlink(missing_ok=True)
    return pid
