"""Hatch build hook: compiles the Go core into the wheel as libsnd.so.

Go is invoked from the directory holding go.mod (the repository root, one level
up), with -buildmode=c-shared. The wheel is tagged for this platform because it
carries a native library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        here = Path(self.root)
        module_root = here.parent
        out = here / "structure_net_data" / "_native" / "libsnd.so"
        if os.environ.get("SND_SKIP_GO_BUILD") == "1" and out.exists():
            pass
        else:
            if not (module_root / "go.mod").exists():
                self.app.abort(f"go.mod not found in {module_root}: build from a checkout of structure-net-data")
            go = shutil.which("go")
            if go is None:
                self.app.abort("Did not find the 'go' binary (Go >= 1.25 is needed to build the core)")
            out.parent.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ, CGO_ENABLED="1")
            # The library reports the package's version (checked when it is loaded).
            ldflags = f"-s -w -X main.Version={self.metadata.version}"
            cmd = [go, "build", "-buildmode=c-shared", "-trimpath", f"-ldflags={ldflags}", "-o", str(out), "./capi"]
            self.app.display_info(" ".join(cmd))
            subprocess.run(cmd, cwd=module_root, env=env, check=True)
            header = out.with_suffix(".h")
            header.unlink(missing_ok=True)  # cgo's generated header; snd.h is the documented one
        build_data["artifacts"].append("structure_net_data/_native/libsnd.so")
        build_data["pure_python"] = False
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["tag"] = f"py3-none-{plat}"
