"""The commands that watch and report: tui (the default), serve, status, watch, check, exporter,
doctor, bench and sudoers. Each imports what it runs only when it runs (a fast --help)."""

from __future__ import annotations

import argparse
import asyncio

from gb10dash.cli import options
from gb10dash.cli.options import Commands
from gb10dash.config import Config

EXIT_OK = 0


def add(commands: Commands) -> None:
    tui = commands.add_parser("tui", help="the dashboard (the default command)")
    options.refresh(tui, "seconds between screen refreshes and fast polls (default 1)")
    tui.add_argument(
        "--read-only",
        action="store_true",
        help="watch only: restart, swap, rebuild, bench and chat are refused (what serve --read-only runs)",
    )
    tui.set_defaults(run=run_tui)

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
    options.refresh(serve)
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=4,
        metavar="N",
        help="browser sessions at once, each its own app and SSH connections (default 4)",
    )
    serve.set_defaults(run=run_serve)

    status = commands.add_parser("status", help="print one snapshot of every host and exit")
    options.as_json(status, "schema: docs/status-json.md")
    options.hosts(status)
    status.set_defaults(run=run_status)

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
    options.as_json(check, "schema gb10dash.check/1")
    options.hosts(check)
    check.set_defaults(run=run_check)

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
    options.hosts(exporter)
    exporter.set_defaults(run=run_exporter)

    watch = commands.add_parser(
        "watch", help="a plain-text status view refreshed until Ctrl-C (for terminals where the dashboard cannot run)"
    )
    watch.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between refreshes")
    options.hosts(watch)
    watch.set_defaults(run=run_watch)

    doctor = commands.add_parser(
        "doctor",
        help="check each host as gb10dash needs it (read-only): ssh and host key, "
        "unit and its flags, journal, sudo rules, nvidia-smi, /proc, the "
        "API with /metrics and /slots, the model share, the build tools; "
        "one line per check with the fix; exit 1 on any ✗",
    )
    options.as_json(doctor, "schema gb10dash.doctor/1")
    options.hosts(doctor)
    doctor.set_defaults(run=run_doctor)

    bench = commands.add_parser(
        "bench",
        help="quick benchmark of the hosts' llama-server (prompt and gen "
        "tok/s, TTFT) against their baselines; see docs/bench.md",
    )
    options.hosts(bench, required=True)
    bench.add_argument("--quick", action="store_true", help="a small workload (for the lab)")
    bench.add_argument("--prompt-tokens", type=int, metavar="N", help="prompt length (default 2048, quick 256)")
    bench.add_argument("--gen-tokens", type=int, metavar="M", help="tokens generated (default 256, quick 32)")
    bench.add_argument("--repeat", type=int, metavar="K", help="repetitions, at most 50 (default 3)")
    options.timeout(bench, "seconds per request (default 300)")
    options.as_json(bench, "schema: docs/bench.md")
    bench.set_defaults(run=run_bench)

    sudoers = commands.add_parser(
        "sudoers",
        help="print each host's /etc/sudoers.d/gb10dash: exactly the commands "
        "gb10dash's plans run with sudo (and their undo), asked of the "
        "host (its login, its unit's drop-in path, where sudo finds "
        "each command); install it with visudo",
    )
    options.hosts(sudoers)
    sudoers.set_defaults(run=run_sudoers)


def run_tui(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.ui.app import Gb10DashApp
    from gb10dash.ui.exit_watchdog import ExitWatchdog

    with ExitWatchdog() as watchdog:
        app = Gb10DashApp(
            config,
            refresh_s=getattr(args, "refresh", 1.0),
            read_only=getattr(args, "read_only", False),
            watchdog=watchdog,
        )
        app.run()
    return app.return_code or EXIT_OK  # 3 or 4: a signal stopped its actions (undone, or not)


def run_serve(args: argparse.Namespace, config: Config) -> int:
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


def run_status(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.cli.status import run_status

    return asyncio.run(run_status(config, args.hosts, as_json=args.json))


def run_watch(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.cli.status import run_watch

    return run_watch(config, args.hosts, interval=args.interval)


def run_check(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.alerts.check import run_check

    return asyncio.run(run_check(config, args.hosts, window_s=args.window, as_json=args.json))


def run_exporter(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.exporter.server import run_exporter

    return run_exporter(config, args.hosts, listen=args.listen)


def run_doctor(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.doctor.cli import doctor_command

    return asyncio.run(doctor_command(config, args.hosts, as_json=args.json))


def run_bench(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.bench.cli import bench_command

    return asyncio.run(
        bench_command(
            config,
            args.hosts,
            quick=args.quick,
            prompt_tokens=args.prompt_tokens,
            gen_tokens=args.gen_tokens,
            repeat=args.repeat,
            as_json=args.json,
            timeout_s=args.timeout,
        )
    )


def run_sudoers(args: argparse.Namespace, config: Config) -> int:
    from gb10dash.actions.sudoers_cli import sudoers_command

    return asyncio.run(sudoers_command(config, args.hosts))
