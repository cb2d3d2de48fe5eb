"""What the kubelet and containerd change on the host, recorded before and restored after.

The kubelet sets sysctls, adds iptables chains, mounts its root dir and the Pods' volumes,
creates cgroup directories and writes a few files at fixed paths outside its root dir. A test
node must leave the machine as it found it: ``HostSnapshot.record()`` before starting anything,
``snapshot.restore(...)`` in a ``finally`` after every process is stopped.

The diffs are pure functions (unit-tested); the edges read /proc, /sys and run iptables.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Set by the kubelet's container manager (setupKernelTunables), and ip_forward by some engines.
SYSCTLS = ("vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
           "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.ip_forward")
# Fixed paths the kubelet or containerd write to whatever their configured dirs are.
HOST_PATHS = ("/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/run/containerd",
              "/var/lib/containerd", "/opt/containerd", "/etc/kubernetes", "/var/lib/cni",
              "/usr/libexec/kubernetes")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# The only cgroup trees the node makes (the kubelet's cgroupfs driver with the default
# cgroupRoot "/": kubepods and its QoS and Pod children; ".slice" for the systemd spelling).
# Other programs on the machine make cgroups of their own while a node runs (a process
# supervisor's per-command cgroups, podman's libpod_parent): those are not the node's to judge,
# and the restore kills what runs in the cgroups it removes, so it must never reach them.
NODE_CGROUPS = ("kubepods", "kubepods.slice")
IPTABLES = ("iptables", "ip6tables")


# --- pure -------------------------------------------------------------------------------------

def iptables_tables(save_output: str) -> dict[str, str]:
    """iptables-save output split into {table: its block, from '*table' to 'COMMIT'}."""
    tables: dict[str, str] = {}
    current: list[str] | None = None
    for line in save_output.splitlines():
        if line.startswith("*"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.strip() == "COMMIT":
                tables[current[0][1:]] = "\n".join(current) + "\n"
                current = None
    return tables


def iptables_restore_input(before: str, after: str) -> str | None:
    """Input for iptables-restore that puts back the tables as they were (None: nothing changed).

    A table that did not exist before is restored empty (a '*table' + 'COMMIT' block flushes
    it and deletes its chains), so chains created in a newly loaded table go too.
    """
    old, new = iptables_tables(before), iptables_tables(after)
    if old == new:
        return None
    blocks = [old.get(table, f"*{table}\nCOMMIT\n") for table in sorted(set(old) | set(new))]
    return "".join(blocks)


BUILTIN_CHAINS = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"})


def iptables_rules(save_output: str) -> set[str]:
    """What iptables-save says that matters: rules and user-defined chains, per table (an empty
    table with its built-in chains at policy ACCEPT is the same as no table)."""
    found, table = set(), ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            found.add(f"{table} {line}")
        elif line.startswith(":"):
            chain, policy = (line[1:].split() + ["-"])[:2]
            if chain not in BUILTIN_CHAINS or policy not in ("ACCEPT", "-"):
                found.add(f"{table} :{chain} {policy}")
    return found


def mount_points(mountinfo: str) -> list[str]:
    """Mount points listed in /proc/self/mountinfo (octal escapes decoded)."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(fields[4].encode().decode("unicode_escape"))
    return points


def new_mounts_under(before: Iterable[str], after: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """Mounts that appeared under one of ``prefixes``, deepest first; a path mounted N more
    times (the kubelet bind-mounts its root dir onto itself) is listed N times."""
    roots = [p.rstrip("/") for p in prefixes]
    extra = Counter(after)
    extra.subtract(Counter(before))
    found = [m for m, n in extra.items() if n > 0
             and any(m == r or m.startswith(r + "/") for r in roots) for _ in range(n)]
    return sorted(found, key=lambda m: m.count("/"), reverse=True)


def new_paths(before: frozenset[str] | None, after: frozenset[str] | None, root: str) -> list[str]:
    """Paths to delete so that ``root`` looks as recorded: everything new, deepest first.

    ``None`` means the root did not exist (before) or does not exist now (after).
    """
    if after is None:
        return []
    if before is None:
        return [root]
    return sorted(after - before, key=lambda p: p.count("/"), reverse=True)


# --- edges ------------------------------------------------------------------------------------

def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        path = _sysctl_path(name)
        if path.exists():
            values[name] = path.read_text().strip()
    return values


def _tree(root: str) -> frozenset[str] | None:
    if not os.path.lexists(root):
        return None
    found = {root}
    for dirpath, dirnames, filenames in os.walk(root):
        found.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return frozenset(found)


def _cgroup_dirs(root: Path = CGROUP_ROOT) -> frozenset[str]:
    """The node's cgroup directories: NODE_CGROUPS under each hierarchy (v1) or the root (v2)."""
    if not root.is_dir():
        return frozenset()
    hierarchies = [root, *(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())]
    found: set[str] = set()
    for hierarchy in hierarchies:
        for name in NODE_CGROUPS:
            top = hierarchy / name
            if top.is_dir():
                found.update(dirpath for dirpath, _dirs, _files in os.walk(top))
    return frozenset(found)


def _iptables_save(tool: str) -> str | None:
    binary = shutil.which(f"{tool}-save")
    if binary is None:
        return None
    res = subprocess.run([binary], capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else None


def _mountinfo() -> list[str]:
    return mount_points(Path("/proc/self/mountinfo").read_text())


@dataclass(frozen=True)
class HostSnapshot:
    """The host state the node may change, as recorded before it started."""

    sysctls: Mapping[str, str]
    iptables: Mapping[str, str | None]
    mounts: tuple[str, ...]
    paths: Mapping[str, frozenset[str] | None]
    cgroups: frozenset[str]

    @classmethod
    def record(cls) -> HostSnapshot:
        return cls(sysctls=_read_sysctls(), iptables={t: _iptables_save(t) for t in IPTABLES},
                   mounts=tuple(_mountinfo()), paths={p: _tree(p) for p in HOST_PATHS},
                   cgroups=_cgroup_dirs())

    def restore(self, workdir: Path) -> list[str]:
        """Undo the changes (every process must be stopped first); return what was undone."""
        done: list[str] = []
        for point in new_mounts_under(self.mounts, _mountinfo(), [str(workdir), *HOST_PATHS]):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)  # busy: detach
            done.append(f"umount {point}")
        done += self._restore_cgroups()
        for name, value in self.sysctls.items():
            path = _sysctl_path(name)
            if path.read_text().strip() != value:
                path.write_text(value)
                done.append(f"sysctl {name}={value}")
        for tool, saved in self.iptables.items():
            now = _iptables_save(tool)
            restore = iptables_restore_input(saved or "", now or "") if now is not None else None
            if restore:
                subprocess.run([f"{tool}-restore"], input=restore, text=True, check=True)
                done.append(f"{tool}-restore")
        for root, before in self.paths.items():
            for path in new_paths(before, _tree(root), root):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.lexists(path):
                    os.unlink(path)
                done.append(f"rm {path}")
        return done

    def _restore_cgroups(self) -> list[str]:
        """Remove the cgroup directories made since; kill what still runs in them first."""
        created = sorted(_cgroup_dirs() - self.cgroups, key=lambda p: p.count("/"), reverse=True)
        for path in created:
            procs = Path(path) / "cgroup.procs"
            for pid in procs.read_text().split() if procs.exists() else []:
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
        done = []
        deadline = time.monotonic() + 10
        for path in created:
            while True:
                try:
                    os.rmdir(path)
                    done.append(f"rmdir {path}")
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while a killed process is still exiting
                    if time.monotonic() > deadline:
                        done.append(f"could not rmdir {path}")
                        break
                    time.sleep(0.1)
        return done
