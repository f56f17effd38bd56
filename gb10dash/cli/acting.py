"""The commands that change a host: restart, rebuild (and --revert), drop-caches, swap and recover —
each the same workflow as its dashboard key (actions/workflows.py), confirmed unless --yes."""

from __future__ import annotations

import argparse
import asyncio

from gb10dash.cli import options
from gb10dash.cli.options import Commands
from gb10dash.config import Config


def add(commands: Commands) -> None:
    restart = commands.add_parser(
        "restart",
        help="restart a host's llama-server unit and wait until "
        "the model is loaded (shows the plan; asks unless --yes)",
    )
    options.one_host(restart)
    options.yes(restart)
    options.timeout(restart, "seconds to wait for the model to load (default 300)")
    restart.set_defaults(run=run_restart)

    rebuild = commands.add_parser(
        "rebuild",
        help="pull llama.cpp, build llama-server for the host's arch in a new "
        "build dir, check its flags, switch and restart (asks unless --yes)",
    )
    options.one_host(rebuild)
    options.yes(rebuild)
    rebuild.add_argument("--no-restart", action="store_true", help="build only: keep the service as it is")
    rebuild.add_argument(
        "--arch",
        metavar="ARCH",
        help="CUDA arch such as 121 or 121a-real, or 'cpu' (default: config cuda_arch, else from nvidia-smi)",
    )
    rebuild.add_argument("--jobs", "-j", type=int, metavar="N", help="build jobs (default: the host's nproc)")
    rebuild.add_argument(
        "--revert",
        action="store_true",
        help="go back to the build that ran before the last switch (and its ExecStart drop-in "
        "if that switch rewrote flags), restart; nothing is built",
    )
    rebuild.add_argument(
        "--no-bench",
        action="store_true",
        help="skip the regression check (the quick bench on the running build before and on "
        "the new one after the switch, compared; a drop of gen tok/s over 10 %% offers "
        "the revert)",
    )
    rebuild.add_argument(
        "--revert-on-regression",
        action="store_true",
        help="with --yes: revert to the previous build without asking when the check finds "
        "a regression (the exit status is 1 either way)",
    )
    rebuild.add_argument(
        "--accept-flag-rewrite",
        action="store_true",
        help="with --yes: when the new build renamed flags of the unit's ExecStart, write the "
        "rewritten ExecStart as a drop-in and switch (otherwise that is asked, or refused "
        "under --yes)",
    )
    rebuild.set_defaults(run=run_rebuild)

    drop = commands.add_parser(
        "drop-caches",
        help="sync, then drop the host's page cache (sudo -n sysctl "
        "vm.drop_caches=3): memory for a model load on unified memory",
    )
    options.one_host(drop)
    options.yes(drop)
    drop.set_defaults(run=run_drop_caches)

    swap = commands.add_parser(
        "swap",
        help="serve another GGUF from the host's model share: a systemd "
        "drop-in replaces -m (and -c), restart, verify; rolls back on failure",
    )
    options.one_host(swap)
    swap.add_argument("model", metavar="MODEL", help="path, share-relative name or file name of the GGUF")
    swap.add_argument("--ctx", type=int, metavar="N", help="context size to serve it with (default: unchanged)")
    options.yes(swap)
    options.timeout(swap, "seconds to wait for the new model to load before rolling back (default 300)")
    swap.add_argument("--force", action="store_true", help="try a model the picker would not offer")
    swap.set_defaults(run=run_swap)

    recover = commands.add_parser(
        "recover",
        help="undo a plan that started and never ended (the dashboard running "
        "it was killed): its undo steps, kept on the host, run as an "
        "audited plan; exit 0 when nothing is left to recover",
    )
    options.one_host(recover)
    options.yes(recover)
    recover.set_defaults(run=run_recover)


def run_restart(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.cli import restart_command

    return asyncio.run(restart_command(config, args.host, yes=args.yes, timeout_s=args.timeout))


def run_rebuild(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.cli import rebuild_command, revert_command

    if args.revert:
        return asyncio.run(revert_command(config, args.host, yes=args.yes))
    return asyncio.run(
        rebuild_command(
            config,
            args.host,
            yes=args.yes,
            restart=not args.no_restart,
            arch=args.arch,
            jobs=args.jobs,
            accept_flag_rewrite=args.accept_flag_rewrite,
            bench=not args.no_bench,
            revert_on_regression=args.revert_on_regression,
        )
    )


def run_drop_caches(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.cli import drop_caches_command

    return asyncio.run(drop_caches_command(config, args.host, yes=args.yes))


def run_swap(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.cli import swap_command

    return asyncio.run(
        swap_command(
            config, args.host, args.model, ctx=args.ctx, yes=args.yes, timeout_s=args.timeout, force=args.force
        )
    )


def run_recover(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.cli import recover_command

    return asyncio.run(recover_command(config, args.host, yes=args.yes))
