"""Command line: `gb10dash [--config PATH] COMMAND ...`.

Exit codes: 0 all healthy / success, 1 some host degraded, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from gb10dash import __version__
from gb10dash.config import Config, ConfigError, find_config_path, load_config
from gb10dash.ui.theme_error import ThemeError

EXIT_OK, EXIT_DEGRADED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gb10dash",
        description="Watch GB10 hosts serving LLMs with llama-server: unit, log, GPU, memory, "
        "model share and the llama-server API, over one SSH connection per host.",
        epilog="Config lookup: --config PATH, $GB10DASH_CONFIG, $XDG_CONFIG_HOME/gb10dash/hosts.toml, "
        "./hosts.toml. Exit codes: 0 healthy, 1 degraded, 2 config or usage error; an action (restart, "
        "swap, rebuild, drop-caches, recover) stopped by SIGTERM, SIGHUP or SIGINT: 3 when what it had "
        "changed was undone, 4 when the undo failed (then `gb10dash recover HOST`).",
    )
    parser.add_argument("--version", action="version", version=f"gb10dash {__version__}")
    parser.add_argument("--config", metavar="PATH", help="hosts.toml to use")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tui = commands.add_parser("tui", help="the dashboard (the default command)")
    tui.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between screen refreshes and fast polls (default 1)",
    )
    tui.add_argument(
        "--read-only",
        action="store_true",
        help="watch only: restart, swap, rebuild, bench and chat are refused (what serve --read-only runs)",
    )

    serve = commands.add_parser(
        "serve",
        help="the dashboard in a browser (textual-serve; one app process per "
        "browser session); binds 127.0.0.1 unless --read-only or a token",
    )
    serve.add_argument(
        "--host",
        dest="bind",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; any other needs --read-only or --token-file)",
    )
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--read-only", action="store_true", help="watch only: the action keys and chat are refused")
    serve.add_argument(
        "--token-file",
        metavar="FILE",
        help="file (mode 0600) holding a token the browser must bring once as /?token=TOKEN",
    )
    serve.add_argument("--refresh", type=float, default=1.0, metavar="S", help="refresh interval (default 1)")
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=4,
        metavar="N",
        help="browser sessions at once, each its own app and SSH connections (default 4)",
    )

    status = commands.add_parser("status", help="print one snapshot of every host and exit")
    status.add_argument("--json", action="store_true", help="JSON output (schema: docs/status-json.md)")
    status.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")

    check = commands.add_parser(
        "check",
        help="print the alerts active now and exit 1 while any is active "
        "(for cron / systemd timers); rules and durations: [alerts]",
    )
    check.add_argument(
        "--window",
        type=float,
        default=0.0,
        metavar="S",
        help="watch S seconds and apply each rule's for_s (shortened to S); default 0: one "
        "snapshot, every rule judged at once",
    )
    check.add_argument("--json", action="store_true", help="JSON output (schema gb10dash.check/1)")
    check.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")

    exporter = commands.add_parser(
        "exporter",
        help="headless: watch every host and serve their state and alerts as Prometheus metrics (docs/exporter.md)",
    )
    exporter.add_argument(
        "--listen",
        default="127.0.0.1:9109",
        metavar="ADDR:PORT",
        help="where to serve /metrics (default 127.0.0.1:9109)",
    )
    exporter.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")

    watch = commands.add_parser(
        "watch", help="a plain-text status view refreshed until Ctrl-C (for terminals where the dashboard cannot run)"
    )
    watch.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between refreshes")
    watch.add_argument("hosts", nargs="*", metavar="HOST")

    demo = commands.add_parser(
        "demo",
        help="start the local lab (as root: two Debian containers with real "
        "systemd, journald, sshd, sudo and llama-server; else the light lab) "
        "and open the dashboard on it; stops the lab on exit",
    )
    demo.add_argument("--lab-dir", metavar="DIR", help="where the lab lives (default: XDG state dir)")
    _lab_kind(demo)
    demo.add_argument("--keep", action="store_true", help="leave the lab running on exit")
    demo.add_argument("--refresh", type=float, default=1.0, metavar="S", help="refresh interval (default 1)")
    demo.add_argument("--text", action="store_true", help="the plain-text view instead of the dashboard")

    restart = commands.add_parser(
        "restart",
        help="restart a host's llama-server unit and wait until "
        "the model is loaded (shows the plan; asks unless --yes)",
    )
    restart.add_argument("host", metavar="HOST")
    restart.add_argument("--yes", action="store_true", help="run without asking")
    restart.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="seconds to wait for the model to load (default 300)"
    )

    rebuild = commands.add_parser(
        "rebuild",
        help="pull llama.cpp, build llama-server for the host's arch in a new "
        "build dir, check its flags, switch and restart (asks unless --yes)",
    )
    rebuild.add_argument("host", metavar="HOST")
    rebuild.add_argument("--yes", action="store_true", help="run without asking")
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

    drop = commands.add_parser(
        "drop-caches",
        help="sync, then drop the host's page cache (sudo -n sysctl "
        "vm.drop_caches=3): memory for a model load on unified memory",
    )
    drop.add_argument("host", metavar="HOST")
    drop.add_argument("--yes", action="store_true", help="run without asking")

    bench = commands.add_parser(
        "bench",
        help="quick benchmark of the hosts' llama-server (prompt and gen "
        "tok/s, TTFT) against their baselines; see docs/bench.md",
    )
    bench.add_argument("hosts", nargs="+", metavar="HOST")
    bench.add_argument("--quick", action="store_true", help="a small workload (for the lab)")
    bench.add_argument("--prompt-tokens", type=int, metavar="N", help="prompt length (default 2048, quick 256)")
    bench.add_argument("--gen-tokens", type=int, metavar="M", help="tokens generated (default 256, quick 32)")
    bench.add_argument("--repeat", type=int, metavar="K", help="repetitions, at most 50 (default 3)")
    bench.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds per request (default 300)")
    bench.add_argument("--json", action="store_true", help="JSON output (schema: docs/bench.md)")

    swap = commands.add_parser(
        "swap",
        help="serve another GGUF from the host's model share: a systemd "
        "drop-in replaces -m (and -c), restart, verify; rolls back on failure",
    )
    swap.add_argument("host", metavar="HOST")
    swap.add_argument("model", metavar="MODEL", help="path, share-relative name or file name of the GGUF")
    swap.add_argument("--ctx", type=int, metavar="N", help="context size to serve it with (default: unchanged)")
    swap.add_argument("--yes", action="store_true", help="run without asking")
    swap.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds to wait for the new model to load before rolling back (default 300)",
    )
    swap.add_argument("--force", action="store_true", help="try a model the picker would not offer")

    doctor = commands.add_parser(
        "doctor",
        help="check each host as gb10dash needs it (read-only): ssh and host key, "
        "unit and its flags, journal, sudo rules, nvidia-smi, /proc, the "
        "API with /metrics and /slots, the model share, the build tools; "
        "one line per check with the fix; exit 1 on any ✗",
    )
    doctor.add_argument("--json", action="store_true", help="JSON output (schema gb10dash.doctor/1)")
    doctor.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")

    recover = commands.add_parser(
        "recover",
        help="undo a plan that started and never ended (the dashboard running "
        "it was killed): its undo steps, kept on the host, run as an "
        "audited plan; exit 0 when nothing is left to recover",
    )
    recover.add_argument("host", metavar="HOST")
    recover.add_argument("--yes", action="store_true", help="run without asking")

    sudoers = commands.add_parser(
        "sudoers",
        help="print each host's /etc/sudoers.d/gb10dash: exactly the commands "
        "gb10dash's plans run with sudo (and their undo), asked of the "
        "host (its login, its unit's drop-in path, where sudo finds "
        "each command); install it with visudo",
    )
    sudoers.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")

    lab = commands.add_parser("lab", help="start, stop or inspect the local lab")
    lab.add_argument("action", choices=("start", "stop", "status"))
    lab.add_argument(
        "--lab-dir",
        metavar="DIR",
        help="where the lab lives (default: ~/.local/state/gb10dash/"
        "lab-hosts for the real-hosts lab, .../lab for the light one; "
        "$GB10DASH_LAB_DIR moves both)",
    )
    _lab_kind(lab)
    return parser


def _lab_kind(command: argparse.ArgumentParser) -> None:
    kind = command.add_mutually_exclusive_group()
    kind.add_argument(
        "--real",
        dest="kind",
        action="store_const",
        const="real",
        help="the real-hosts lab: each host a Debian container booted by systemd-nspawn (real systemd, "
        "journald, sshd, sudo; login llm-agent); needs root, systemd-container, sudo. The default "
        "where it can boot",
    )
    kind.add_argument(
        "--light",
        dest="kind",
        action="store_const",
        const="light",
        help="the light lab: real sshd and llama-server, stand-ins for systemctl, journalctl, sudo and "
        "nvidia-smi (no root needed; the fallback without root)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "tui"
    try:
        if command == "lab":
            from gb10dash.lab_cli import run_lab_command

            return run_lab_command(args.action, args.lab_dir, args.kind)
        if command == "demo":
            from gb10dash.lab_cli import run_demo

            return run_demo(args.lab_dir, keep=args.keep, refresh=args.refresh, text=args.text, kind=args.kind)
        config = _load(args.config)
        hosts = getattr(args, "hosts", None) or ([args.host] if getattr(args, "host", None) else [])
        for name in hosts:
            config.host(name)  # raises ConfigError naming the known hosts
        if command == "serve":
            from gb10dash.serve.command import serve_command

            return serve_command(
                config.path,
                host=args.bind,
                port=args.port,
                read_only=args.read_only,
                token_file=args.token_file,
                refresh_s=args.refresh,
                max_sessions=args.max_sessions,
            )
        if command == "sudoers":
            from gb10dash.actions.sudoers_cli import sudoers_command

            return asyncio.run(sudoers_command(config, hosts))
        if command == "doctor":
            from gb10dash.doctor.cli import doctor_command

            return asyncio.run(doctor_command(config, hosts, as_json=args.json))
        if command == "recover":
            from gb10dash.actions.recover_cli import recover_command

            return asyncio.run(recover_command(config, args.host, yes=args.yes))
        if command == "restart":
            from gb10dash.actions.cli import restart_command

            return asyncio.run(restart_command(config, args.host, yes=args.yes, timeout_s=args.timeout))
        if command == "drop-caches":
            from gb10dash.actions.cli import drop_caches_command

            return asyncio.run(drop_caches_command(config, args.host, yes=args.yes))
        if command == "rebuild":
            from gb10dash.actions.rebuild_cli import rebuild_command

            if args.revert:
                from gb10dash.actions.rebuild_cli import revert_command

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
        if command == "bench":
            from gb10dash.bench.cli import bench_command

            return asyncio.run(
                bench_command(
                    config,
                    hosts,
                    quick=args.quick,
                    prompt_tokens=args.prompt_tokens,
                    gen_tokens=args.gen_tokens,
                    repeat=args.repeat,
                    as_json=args.json,
                    timeout_s=args.timeout,
                )
            )
        if command == "swap":
            from gb10dash.actions.cli import swap_command

            return asyncio.run(
                swap_command(
                    config, args.host, args.model, ctx=args.ctx, yes=args.yes, timeout_s=args.timeout, force=args.force
                )
            )
        if command == "status":
            from gb10dash.status import run_status

            return asyncio.run(run_status(config, hosts, as_json=args.json))
        if command == "check":
            from gb10dash.alerts.check import run_check

            return asyncio.run(run_check(config, hosts, window_s=args.window, as_json=args.json))
        if command == "exporter":
            from gb10dash.exporter.server import run_exporter

            return run_exporter(config, hosts, listen=args.listen)
        if command == "watch":
            from gb10dash.status import run_watch

            return run_watch(config, hosts, interval=args.interval)
        from gb10dash.ui.app import Gb10DashApp

        app = Gb10DashApp(config, refresh_s=getattr(args, "refresh", 1.0), read_only=getattr(args, "read_only", False))
        app.run()
        return app.return_code or EXIT_OK  # 3 or 4: a signal stopped its actions (undone, or not)
    except ConfigError as exc:
        print(f"gb10dash: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ThemeError as exc:
        print(f"gb10dash: theme error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _load(explicit: str | None) -> Config:
    return load_config(find_config_path(explicit))
