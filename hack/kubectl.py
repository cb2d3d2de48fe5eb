"""Running kubectl with its output captured, written once for every runner: the local control
plane's (``ControlPlane.kubectl_run``), `make run`'s on the user's kube context
(``hack.run.kubectl_runner``) and the tests' on any other cluster (``ExternalCluster``).
The capture keeps kubectl's stderr off the terminal, so a failure must carry it: a bare
"returned non-zero exit status 1" says nothing of why.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence

# a runner of kubectl's arguments, in ControlPlane.kubectl_run's shape:
# kubectl(*args, input=None, check=True) -> CompletedProcess (text)
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call whose message includes kubectl's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n{self.stderr or ''}".rstrip()


def run_kubectl(cmd: Sequence[str], input: str | None = None, check: bool = True,
                env: Mapping[str, str] | None = None,
                timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (kubectl and its arguments) capturing text output; KubectlError when it
    fails and ``check`` is set."""
    result = subprocess.run(list(cmd), input=input, capture_output=True, text=True, env=env,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
    return result
