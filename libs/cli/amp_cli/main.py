"""`amp`: the platform's one command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from amp_contracts import AGENTS, SUBSCRIBERS

from .errors import StartError

#: Everything `amp serve` runs: the pipeline's agents, the bus subscribers beside them, the gateway.
SERVICES = (*AGENTS, *SUBSCRIBERS, "gateway")
#: Beside the platform, and deployed apart from it: untrusted runs only, no database, no bus, no secrets.
RUNNER = "validation-runner"


def without_secrets(url: str | None) -> str:
    """A server URL as it may be shown: any password or token in it replaced."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and "@" in parts.netloc and parts.scheme.startswith("nats")):
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{parts.username}:***@{host}" if parts.password is not None else f"***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def prompt_dirs() -> list[Path]:
    """Every service's prompt packs: the set in force, whose fingerprint each decision set records."""
    # lazy: imported by the command that needs it, so `amp` starts fast
    import services

    return sorted(Path(services.__file__).parent.glob("*/prompts"))


def _say_reconnecting(message: str) -> None:
    """The run goes on while the gateway restarts: say so, on stderr, and keep waiting."""
    print(f"amp: {message}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace):
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.settings import Settings

    overrides: dict[str, object] = {"prompt_dirs": prompt_dirs()}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings.from_env(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run one service in this process (what `amp up` starts once per agent)."""
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.telemetry import (
        setup_logging,
        setup_tracing,
    )

    settings = _settings(args)
    setup_logging(settings.log_level, args.service)
    setup_tracing(args.service)
    if args.service == "gateway":
        # lazy: imported by the command that needs it, so `amp` starts fast
        import uvicorn

        # lazy: imported by the command that needs it, so `amp` starts fast
        from services.gateway.app import create_app

        # open SSE streams get 5 s to end after SIGTERM (clients resume with Last-Event-ID elsewhere)
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", loop="uvloop",
                    http="httptools", timeout_graceful_shutdown=5)
        return 0
    if args.service == RUNNER:  # untrusted runs only: no database, no bus, no secrets
        # lazy: imported by the command that needs it, so `amp` starts fast
        import uvicorn

        # lazy: imported by the command that needs it, so `amp` starts fast
        from services.validators.runner_app import create_app as create_runner

        uvicorn.run(create_runner(), host=args.host, port=args.port, log_level="warning", loop="uvloop",
                    http="httptools")
        return 0
    # lazy: imported by the command that needs it, so `amp` starts fast
    import gc
    import importlib

    # lazy: imported by the command that needs it, so `amp` starts fast
    import uvloop

    app = importlib.import_module(f"services.{args.service}.app").create_app(settings)
    # What the imports built lives as long as the process: it is left out of the collector's full
    # passes. A validators process holds 270k objects after 21 validations, 175k of them from its
    # imports; its full collections took 0.14 s each (13 in those validations), 0.04 s (18) with
    # the imports frozen.
    gc.collect()
    gc.freeze()
    if args.health_port:
        # Orchestrators (Docker, Kubernetes, App Runner) probe over HTTP: FastStream's ASGI wrapper
        # serves GET /healthz (a ping of the NATS connection: 204, or 500) beside the consumers,
        # and GET /metrics (Prometheus text) for the scraper.
        # lazy: only a process started with a health port needs these
        import logging

        # lazy: only a process started with a health port loads the ASGI server
        from faststream.asgi import AsgiFastStream, make_ping_asgi

        # lazy: only a process started with a health port serves its metrics
        from prometheus_client import make_asgi_app

        broker = app.brokers[0]
        app = AsgiFastStream.from_app(app, asgi_routes=[("/healthz", make_ping_asgi(broker, timeout=5.0)),
                                                        ("/metrics", make_asgi_app())])
        uvloop.run(app.run(logging.WARNING, run_extra_options={"host": args.host, "port": args.health_port}))
        return 0
    uvloop.run(app.run())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from rich.console import Console

    # lazy: imported by the command that needs it, so `amp` starts fast
    from .stack import Stack

    settings = _settings(args).model_copy(update={"gateway_port": args.port})
    stack = Stack(settings, replicas={a: args.replicas for a in SERVICES if a != "gateway"})
    con = Console()
    stack.start_servers()
    stack.start_services()
    con.print(f"[bold green]Agentic MLOps Platform[/] at [link]{stack.gateway_url}[/] "
              f"(data in {stack.settings.data_dir}; Ctrl-C stops)")
    con.print(f"  bus      {without_secrets(stack.settings.nats_url)}  (subjects amp.>, stream {stack.settings.stream_name})")
    con.print(f"  database {without_secrets(stack.settings.database_url)}")
    if stack.settings.oidc:
        con.print(f"  sign-in  tokens of {stack.settings.oidc_issuer} (audience {stack.settings.oidc_audience})")
    else:
        con.print(f"  sign-in  `amp token --user NAME --data-dir {stack.settings.data_dir}` prints a token: paste it "
                  f"on {stack.gateway_url}/signin; the CLI on this machine signs in by itself")
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        # lazy: imported by the command that needs it, so `amp` starts fast
        import time

        while not stop["now"]:
            for line in stack.supervise():  # a crashed service comes back, with a backoff, for ever
                con.print(f"[yellow]{line}[/]")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        con.print("stopping…")
        stack.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from .client import Client
    from .run import RunOptions, run

    answers = {}
    if args.answers:
        try:
            answers = json.loads(Path(args.answers).read_text())
        except (OSError, ValueError) as e:
            print(f"amp: cannot read answers file {args.answers}: {e}", file=sys.stderr)
            return 2
    waivers = []
    for w in args.waive or []:
        rule, _, reason = w.partition("=")
        if not reason:
            print(f"amp: --waive takes RULE=REASON, got {w!r}", file=sys.stderr)
            return 2
        waivers.append({"rule_id": rule, "reason": reason, "by": os.environ.get("USER", "cli")})
    opts = RunOptions(text=args.requirements, auto_approve=args.auto_approve, answers=answers,
                      out=Path(args.out) if args.out else None, json=args.json,
                      interactive=sys.stdin.isatty() and not args.no_input, waivers=waivers, comment=args.comment or "")
    gateway = args.gateway or os.environ.get("AMP_GATEWAY")
    if gateway:
        client = Client(gateway, on_retry=_say_reconnecting)
        try:
            return run(client, opts)
        finally:
            client.close()
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.embedded import free_port

    # lazy: imported by the command that needs it, so `amp` starts fast
    from .stack import Stack

    settings = _settings(args).model_copy(update={"gateway_port": free_port()})
    # lazy: imported by the command that needs it, so `amp` starts fast
    from rich.console import Console

    Console(stderr=True).print("[dim]starting the embedded platform…[/]")
    with Stack(settings) as stack:
        # lazy: imported by the command that needs it, so `amp` starts fast
        from .credentials import local_user

        client = Client(stack.gateway_url, on_retry=_say_reconnecting, token=stack.token(local_user()))
        try:
            return run(client, opts)
        finally:
            client.close()


def _duration(text: str) -> float:
    """`90`, `90s`, `15m`, `12h`, `7d` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def cmd_token(args: argparse.Namespace) -> int:
    """Mint a token of the embedded issuer (the data directory's key) for a user."""
    # lazy: imported by the command that needs it, so `amp` starts fast
    from .credentials import local_user, mint_local

    settings = _settings(args)
    if settings.oidc:
        print("amp: AMP_OIDC_ISSUER is set: tokens come from that issuer, not from amp", file=sys.stderr)
        return 2
    try:
        ttl = _duration(args.ttl)
    except ValueError:
        print(f"amp: --ttl takes a duration such as 12h or 30m, got {args.ttl!r}", file=sys.stderr)
        return 2
    token = mint_local(settings.data_dir, args.user or local_user(), ttl)
    if token is None:
        print(f"amp: no embedded issuer in {settings.data_dir} (run `amp up` there first)", file=sys.stderr)
        return 2
    print(token)
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    """Check a token against the gateway and keep it for later commands (a 0600 file)."""
    # lazy: imported by the command that needs it, so `amp` starts fast
    from . import credentials
    from .client import ApiError, Client
    from .commands import gateway_url

    gateway = gateway_url(args)
    token = args.token
    if not token:
        # lazy: only a login without --token reads the terminal
        import getpass

        token = (getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not token:
        print("amp: give a token (--token, or on stdin)", file=sys.stderr)
        return 2
    client = Client(gateway, token=token)
    try:
        me = client.get("/me")
    except ApiError as e:
        print(f"amp: {e.message}", file=sys.stderr)
        return 1
    finally:
        client.close()
    path = credentials.save(gateway, token)
    print(f"signed in to {gateway} as {me.get('name') or me['user_id']} (token kept in {path})")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from . import credentials
    from .commands import gateway_url

    gateway = gateway_url(args)
    print(f"signed out of {gateway}" if credentials.forget(gateway) else f"no token kept for {gateway}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_domain.requirements.extraction import (
        extract,
    )

    if args.jsonl:
        src = sys.stdin if args.jsonl == "-" else open(args.jsonl)
        for line in src:
            if line.strip():
                case = json.loads(line)
                found = extract(case.get("text") or "")
                print(json.dumps({"id": case.get("id"), "constraints": found.constraints.stated()}))
        return 0
    text = args.text if args.text is not None else sys.stdin.read()
    found = extract(text)
    if args.json:
        print(json.dumps(found.constraints.stated(), indent=2))
    else:
        for k, v in found.constraints.stated().items():
            print(f"{k:>22}: {v}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.bootstrap import import_local_history

    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.db import migrate

    settings = _settings(args)
    if not settings.database_url:
        print("amp: DATABASE_URL is not set (amp up migrates its embedded database itself)", file=sys.stderr)
        return 2
    asyncio.run(migrate(settings.database_url))
    imported = asyncio.run(import_local_history(settings))
    if imported:
        print(f"git history of {len(imported)} project(s) moved from {settings.data_dir / 'repos'} to the shared store")
    print("database is up to date")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_contracts.schemas import write_schemas

    for path in write_schemas(args.out):
        print(path)
    return 0


def cmd_tf_schemas(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from services.validators.checks.terraform_validate import DEFAULT_SCHEMAS, terraform_binary

    # lazy: the same
    from .errors import ExportError
    from .tf_schemas import PROVIDERS, export

    clouds = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in clouds if c not in PROVIDERS]
    if unknown or not clouds:
        sys.stderr.write(f"amp: --only takes clouds of {', '.join(PROVIDERS)}; got {args.only!r}\n")
        return 2
    terraform = terraform_binary()
    if terraform is None:
        sys.stderr.write("amp: the Terraform CLI is not installed (AMP_TERRAFORM or `terraform` on PATH)\n")
        return 1
    out = Path(args.out or os.environ.get("AMP_TF_PROVIDER_SCHEMAS") or DEFAULT_SCHEMAS)
    try:
        written = export(terraform, clouds, out)
    except ExportError as e:
        sys.stderr.write(f"amp: {e}\n")
        return 1
    for path in written:
        print(path)
    return 0


def cmd_asyncapi(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from amp_runtime.settings import Settings

    # lazy: imported by the command that needs it, so `amp` starts fast
    from services.gateway.asyncapi import (
        asyncapi_json,
    )

    doc = asyncapi_json(Settings())
    if args.out:
        Path(args.out).write_text(doc)
    else:
        print(doc)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from bench.__main__ import main as bench_main

    return bench_main(args.bench_args)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def parser() -> argparse.ArgumentParser:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from . import commands, webhooks

    p = argparse.ArgumentParser(prog="amp", description="Agentic MLOps Platform: requirements in, a reviewed, "
                                "costed, policy-checked, generated repository out.", epilog=commands.EXIT_CODES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("up", help="run the whole platform (embedded NATS and Postgres unless NATS_URL/DATABASE_URL)")
    s.add_argument("--data-dir", help="where data lives (default .amp or AMP_DATA_DIR)")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--replicas", type=int, default=1, help="processes per agent service")
    s.set_defaults(fn=cmd_up)

    s = sub.add_parser("serve", help="run one service in this process")
    s.add_argument("service", choices=[*SERVICES, RUNNER])
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (the gateway; an agent's health port)")
    s.add_argument("--port", type=int, default=8080, help="the gateway's port")
    s.add_argument("--health-port", type=int, default=_env_int("AMP_HEALTH_PORT"),
                   help="an agent serves GET /healthz on this port (default AMP_HEALTH_PORT; unset: none)")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("run", help="one-shot: requirements in, generated repository out")
    s.add_argument("requirements")
    s.add_argument("--auto-approve", action="store_true", help="approve the pre-codegen gate")
    s.add_argument("--answers", help="JSON file of answers to intake questions, keyed by constraint field")
    s.add_argument("--out", help="directory to write the generated repository to")
    s.add_argument("--json", action="store_true", help="print the full decision set as JSON on stdout")
    s.add_argument("--gateway", help="use a running gateway (default: start the embedded platform)")
    s.add_argument("--waive", action="append", metavar="RULE=REASON", help="waive a failed policy rule")
    s.add_argument("--comment", help="comment recorded with the approval")
    s.add_argument("--no-input", action="store_true", help="never prompt, even on a terminal")
    s.add_argument("--data-dir")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("token", help="mint a sign-in token of the embedded issuer (a local stack)")
    s.add_argument("--user", help="the user id (the token's subject; default: your login name)")
    s.add_argument("--ttl", default="12h", help="lifetime, e.g. 30m, 12h, 7d (default 12h)")
    s.add_argument("--data-dir")
    s.set_defaults(fn=cmd_token)

    s = sub.add_parser("login", help="keep a token for a gateway (checked against it first)")
    s.add_argument("--gateway", metavar="URL")
    s.add_argument("--token", help="the token (default: read from stdin)")
    s.set_defaults(fn=cmd_login)

    s = sub.add_parser("logout", help="forget the token kept for a gateway")
    s.add_argument("--gateway", metavar="URL")
    s.set_defaults(fn=cmd_logout)

    s = sub.add_parser("extract", help="extract constraints from text (no server needed)")
    s.add_argument("text", nargs="?")
    s.add_argument("--json", action="store_true")
    s.add_argument("--jsonl", metavar="FILE", help='read {"id","text"} lines, write {"id","constraints"} lines')
    s.set_defaults(fn=cmd_extract)

    s = sub.add_parser("db", help="database commands")
    s.add_argument("action", choices=["upgrade"])
    s.add_argument("--data-dir")
    s.set_defaults(fn=cmd_db)

    s = sub.add_parser("schemas", help="write the JSON Schema of every bus message")
    s.add_argument("--out", default="schemas")
    s.set_defaults(fn=cmd_schemas)

    s = sub.add_parser("tf-schemas", help="export the Terraform provider schemas the validators check Google Cloud "
                                          "and Azure trees against (where the providers can be installed)",
                       description="Run where `terraform init` can install the providers (the registry, or the "
                                   "mirror the Terraform CLI configuration names). Writes one "
                                   "`terraform providers schema -json` file per provider, at the version the "
                                   "generated trees' constraints select, where a validators host without those "
                                   "providers reads them (docs/generated-repository.md).")
    s.add_argument("--out", help="where the validators read them (default AMP_TF_PROVIDER_SCHEMAS or /opt/tf-schemas)")
    s.add_argument("--only", default="gcp,azure", help="clouds, comma-separated, of aws,gcp,azure (default gcp,azure)")
    s.set_defaults(fn=cmd_tf_schemas)

    s = sub.add_parser("asyncapi", help="print the AsyncAPI document of the bus")
    s.add_argument("--out")
    s.set_defaults(fn=cmd_asyncapi)

    s = sub.add_parser("bench", help="run the benchmarks (see docs/benchmarks.md)", add_help=False)
    s.add_argument("bench_args", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("chaos", help="the chaos suite: N runs while services, NATS and Postgres are killed and "
                                     "restarted; checks every effect happened exactly once (docs/reliability.md)")
    s.add_argument("--runs", type=int, default=20, help="concurrent runs (default 20)")
    s.add_argument("--seed", type=int, help="seed of the fault schedule, to repeat a run")
    s.add_argument("--timeout", type=float, default=1200.0, help="seconds the runs get to finish")
    s.add_argument("--no-kills", action="store_true", help="no kill -9 of services")
    s.add_argument("--no-server-restarts", action="store_true", help="leave NATS and Postgres running")
    s.add_argument("--data-dir", help="scratch directory (default: a new temporary one)")
    s.set_defaults(fn=cmd_chaos)

    commands.register(sub)
    webhooks.register(sub, commands.gateway_options())
    return p


def cmd_chaos(args: argparse.Namespace) -> int:
    # lazy: imported by the command that needs it, so `amp` starts fast
    from .chaos import ChaosOptions, run_chaos

    opts = ChaosOptions(runs=args.runs, seed=args.seed, timeout_s=args.timeout,
                        kills=not args.no_kills,
                        restart_nats=not args.no_server_restarts, restart_postgres=not args.no_server_restarts)
    report = run_chaos(opts, Path(args.data_dir) if args.data_dir else None)
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the bench parses its own options
        # lazy: imported by the command that needs it, so `amp` starts fast
        from bench.__main__ import (
            main as bench_main,
        )

        return bench_main(argv[1:])
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except EOFError:
        # A prompt met closed input (a pipe or /dev/null): nothing was decided, say so plainly.
        sys.stderr.write("amp: input closed before an answer was given; nothing was sent\n")
        return 2
    except StartError as e:
        sys.stderr.write(f"amp: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
