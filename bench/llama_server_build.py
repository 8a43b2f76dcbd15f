"""Build llama.cpp's own ``llama-server`` from the sources pinned with llama-cpp-python.

The baseline of ``bench/model_server_bench.py``: the same llama.cpp revision as the
installed ``llama-cpp-python`` (its sdist carries it in ``vendor/llama.cpp``), compiled with
the same flags (``-mno-amx-*``: AMX kernels crash on this machine). Nothing of it goes into
the repository: the sdist and the build live in a cache folder (default
``~/.cache/cong-bench``, or ``$CONG_BENCH_CACHE``). Progress is printed as the build goes.

    .venv/bin/python bench/llama_server_build.py          # prints the binary's path
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tarfile
from pathlib import Path

FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "cong-bench"
    return Path(os.environ.get("CONG_BENCH_CACHE", str(default)))


def log(msg: str) -> None:
    print(f"[llama-server build] {msg}", file=sys.stderr, flush=True)


def sources(version: str, root: Path) -> Path:
    """``vendor/llama.cpp`` of the llama-cpp-python sdist of this version, unpacked once."""
    unpacked = root / f"llama_cpp_python-{version}"
    if (unpacked / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        return unpacked / "vendor" / "llama.cpp"
    sdists = list(root.glob(f"llama_cpp_python-{version}.tar.gz"))
    if not sdists:
        log(f"downloading the llama-cpp-python {version} sdist from PyPI")
        cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        cmd += ["-d", str(root), f"llama-cpp-python=={version}"]
        subprocess.run(cmd, check=True)
        sdists = list(root.glob(f"llama_cpp_python-{version}.tar.gz"))
    log(f"unpacking {sdists[0].name}")
    with tarfile.open(sdists[0]) as tar:
        tar.extractall(root, filter="data")
    return unpacked / "vendor" / "llama.cpp"


def build(jobs: int = 2) -> Path:
    """The path of a ``llama-server`` binary, building it first if it is missing."""
    version = importlib.metadata.version("llama-cpp-python")
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    build_dir = root / f"llama-server-{version}"
    binary = build_dir / "bin" / "llama-server"
    if binary.exists():
        return binary
    src = sources(version, root)
    env = dict(os.environ, CFLAGS=FLAGS, CXXFLAGS=FLAGS)
    configure = ["cmake", "-S", str(src), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"]
    configure += ["-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TESTS=OFF"]
    configure += ["-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF"]
    log("configuring (cmake) " + " ".join(configure[5:]))
    subprocess.run(configure, check=True, env=env)
    log(f"compiling llama-server with -j{jobs} (10+ minutes on 2 busy cores)")
    compile_cmd = ["nice", "-n", "10", "cmake", "--build", str(build_dir)]
    compile_cmd += ["--target", "llama-server", "-j", str(jobs)]
    subprocess.run(compile_cmd, check=True, env=env)
    if not binary.exists():
        raise SystemExit(f"the build finished but {binary} is missing")
    log(f"built {binary}")
    return binary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    print(build(args.jobs))


if __name__ == "__main__":
    main()
