"""The local node's containerd (hack/node.py), through ``ctr``: the images imported into its
kept store, the containers and tasks it runs, and the shims left after it stops.

Apart from the node's process lifecycle because it talks to one daemon about its own objects.
``Node`` inherits it.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from hack.controlplane import ControlPlaneError
from hack.controlplane_build import log
from hack.node_config import NodeLayout
from hack.node_images import archive_image


class ContainerdClient:
    """Node's containerd half: needs ``layout`` and ``archives``."""

    layout: NodeLayout
    archives: list[Path]

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["ctr", "--address", str(self.layout.containerd_socket), "--namespace", "k8s.io", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise ControlPlaneError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr}")
        return res

    def task_pid(self, container_id: str) -> int | None:
        """The host pid of a container's init process (from containerd), None if not running."""
        for line in self.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == container_id and fields[2] == "RUNNING":
                return int(fields[1])
        return None

    def _containers(self) -> list[str]:
        return self.ctr("containers", "ls", "-q").stdout.split()

    def _import_images(self) -> None:
        """Import each archive unless the same image is in the store already; an older build of
        the same name is dropped (its sha256:<id> reference, which the CRI plugin added)."""
        marks = self._marks()
        marks.mkdir(parents=True, exist_ok=True)
        present = set(self.ctr("images", "ls", "-q").stdout.split())
        for archive in self.archives:
            name, ident = archive_image(archive)
            mark = marks / name.replace("/", "_")
            previous = mark.read_text() if mark.exists() else None
            if name in present and previous == ident:
                continue
            started = time.monotonic()
            self.ctr("images", "import", str(archive))
            mark.write_text(ident)
            log(f"imported {archive.name} as {name} in {time.monotonic() - started:.1f}s")
            if previous and previous != ident and previous in present:
                self.ctr("images", "rm", "--sync", previous, check=False)  # collected now, not later

    def _marks(self) -> Path:
        """Which image id was imported under each name (beside the kept store)."""
        return self.layout.containerd_root.parent / f"{self.layout.containerd_root.name}.imported"

    def _kill_containers(self) -> None:
        """SIGKILL every container's processes and delete the tasks (the shims then exit)."""
        with contextlib.suppress(Exception):
            tasks = [line.split()[0] for line in self.ctr("tasks", "ls").stdout.splitlines()[1:] if line.strip()]
            for task in tasks:
                self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task, check=False)
            for task in tasks:
                self.ctr("tasks", "delete", "--force", task, check=False)
            # the image store is kept: no Pod sandbox or container may be left in it
            containers = self._containers()
            if containers:
                self.ctr("containers", "rm", *containers, check=False)

    def _kill_shims(self) -> None:
        """Shims outlive containerd by design: find ours by the socket address they were given."""
        address = str(self.layout.containerd_socket).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and address in argv:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)
