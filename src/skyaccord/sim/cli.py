"""``skyaccord sim run|sweep``, ``skyaccord report`` and ``skyaccord demo``."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from skyaccord.cli_options import data_table, err_console, fail_with, out_console
from skyaccord.errors import SkyaccordError

__all__ = ["demo_command", "register", "report_command"]

sim_app = typer.Typer(help="The theatre simulator: run a scenario, sweep an accord's "
                           "parameters.", no_args_is_help=True)

ScenarioArg = Annotated[str, typer.Argument(
    help="A scenario YAML file, or the name of a shipped theatre (syria2015).")]


def _window(scenario: Any, start: str | None, end: str | None) -> tuple[float, float] | None:
    if start is None and end is None:
        return None
    return (scenario.time(start) if start else scenario.t_start,
            scenario.time(end) if end else scenario.t_end)


def _progress() -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("simulating"), BarColumn(),
                        TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task("run", total=1.0)

    def update(done: float, total: float) -> None:
        progress.update(task, completed=done / max(total, 1e-9))
    return progress, update


@sim_app.command("run")
def run_command(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("--out", help="The run directory to write (new).")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).", min=0,
                                             max=2**32 - 1)] = None,
    speed: Annotated[float | None, typer.Option(
        help="Simulated seconds per wall second (default: as fast as it goes).")] = None,
    start: Annotated[str | None, typer.Option(help="Run from this time (HH:MM UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Run until this time (HH:MM UTC).")] = None,
    processes: Annotated[bool, typer.Option(
        "--processes", help="One node process per party on loopback, driven over real "
                            "HTTP (default: the nodes in this process).")] = False,
) -> None:
    """Run a scenario through one node per party; record everything in a run directory."""
    from skyaccord.sim.run import run_scenario
    from skyaccord.sim.scenario import load_scenario, scenario_path

    try:
        path = scenario_path(scenario)
        s = load_scenario(path)
        progress, update = _progress()
        with progress:
            r = run_scenario(path, out, seed=seed, speed=speed,
                             window=_window(s, start, end), progress=update,
                             processes=processes)
    except SkyaccordError as exc:
        fail_with(exc)
    print(f"{r.out}: {r.t1 - r.t0:.0f} s simulated in {r.wall_s:.1f} s "
          f"({r.speedup:.0f}x), {r.aircraft} aircraft, {r.steps} steps, "
          f"{r.messages} line entries, {r.overdue} overdue at the end")


def report_command(
    run: Annotated[Path, typer.Argument(
        help="A run directory (skyaccord sim run, or replay --record).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for index.html, "
                                                    "summary.json and the plots.")],
) -> None:
    """An HTML report of a recorded run: map, encounters, conduct, the line."""
    from skyaccord.analysis.report import write_report

    try:
        summary = write_report(run, out)
    except SkyaccordError as exc:
        fail_with(exc)
    sev = ", ".join(f"{k} {v}" for k, v in summary.severity.items())
    print(f"{out / 'index.html'}: {len(summary.encounters)} encounters ({sev}), "
          f"{len(summary.incursions)} incursions")


@sim_app.command("sweep")
def sweep_command(
    scenario: ScenarioArg,
    vary: Annotated[list[str], typer.Option(
        help="NAME=V1,V2,...: separation_nm or response_deadline_s (repeatable).")],
    runs: Annotated[int, typer.Option(help="Runs per combination (seeds seed..seed+runs-1).",
                                      min=1, max=100_000)] = 20,
    out: Annotated[Path, typer.Option("--out", help="Directory for results.")] = Path(
        "sweep"),
    seed: Annotated[int | None, typer.Option(help="First seed.", min=0, max=2**32 - 1)] = None,
    hours: Annotated[float, typer.Option(help="Hours of each run, from the busiest "
                                              "window's start.", min=0.05, max=24)] = 1.0,
    scheduler: Annotated[str | None, typer.Option(
        help="A Dask scheduler (tcp://HOST:PORT); default: a local cluster.")] = None,
    workers: Annotated[int, typer.Option(help="Workers of the local cluster.", min=1,
                                         max=256)] = 2,
) -> None:
    """Compare accords over many seeded runs on Dask: losses of separation, alerts and
    overdue responses, with 95 % confidence intervals and a plot."""
    from skyaccord.sim.sweep import parse_vary, run_sweep

    try:
        grid = parse_vary(vary)
        progress, update = _progress()
        with progress:
            result = run_sweep(scenario, grid, runs=runs, out=out, seed=seed, hours=hours,
                               scheduler=scheduler, workers=workers, progress=update)
    except SkyaccordError as exc:
        fail_with(exc)
    print(result.table())
    print(f"{out}: results.csv, summary.json, sweep.png ({result.runs_per_min:.1f} runs/min)")


def demo_command(
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).", min=0,
                                             max=2**32 - 1)] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the run and the report go.")] = Path(
        "skyaccord-demo"),
    full: Annotated[bool, typer.Option("--full", help="The whole day, not only the "
                                                      "busiest hours.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the us node's operating "
                                        "picture while it runs, and keep it up.")] = False,
    port: Annotated[int, typer.Option(help="Port of --serve (loopback).", min=1,
                                      max=65535)] = 8765,
    speed: Annotated[float | None, typer.Option(
        help="Simulated seconds per wall second (default: as fast as it goes; 20 with "
             "--serve).")] = None,
) -> None:
    """Run the Syria 2015 scenario through three parties' nodes, then report it."""
    from rich.text import Text

    from skyaccord.analysis.report import write_report
    from skyaccord.sim.run import run_scenario, window_text
    from skyaccord.sim.scenario import load_scenario, scenario_path

    console = out_console()  # scenario text and ids are data: never markup
    try:
        path = scenario_path("syria2015")
        s = load_scenario(path)
        window = None
        if not full and s.busiest is not None:
            window = (s.time(s.busiest[0]), s.time(s.busiest[1]))
        serving: dict[str, Any] = {}
        on_ready = None
        if serve:
            speed = 20.0 if speed is None else speed
            on_ready = _serve_picture(port, serving)
        progress, update = _progress()
        with progress:
            r = run_scenario(path, out / "run", seed=seed, speed=speed, window=window,
                             overwrite=True, progress=update, on_ready=on_ready)
        summary = write_report(r.out, out / "report")
    except SkyaccordError as exc:
        fail_with(exc)
    console.print(Text("skyaccord demo", style="bold"), s.description.strip(), sep=": ")
    console.print(f"{window_text(r.t0, r.t1)} UTC over north-west Syria, {r.aircraft} "
                  f"aircraft, parties {', '.join(summary.conduct)}, one node each")
    levels = sorted(set(summary.alerts_by_level) | set(_LEVEL_ORDER),
                    key=lambda lv: _LEVEL_ORDER.get(lv, 9))
    table = data_table("node", *levels, title="Alerts (distinct, highest level reached)")
    for p, counts in summary.alerts_by_party.items():
        table.add_row(p, *[str(counts.get(lv, 0)) for lv in levels])
    console.print(table)
    conduct = data_table("party", "LoS caused", "incursions", "warnings ignored",
                         "requests received", "overdue", "notices", title="Conduct")
    for c in summary.conduct.values():
        conduct.add_row(c.party, str(c.los_caused), str(c.incursions),
                        str(c.warnings_ignored), str(c.requests_received),
                        str(c.responses_overdue), str(c.notices_sent))
    console.print(conduct)
    for inc in summary.incursions:
        console.print(f"incursion: {inc['id']} ({inc['party']}) into {inc['zone']} for "
                      f"{inc.get('inside_s', 0):.0f} s after {inc.get('warnings_before', 0)} "
                      "warnings")
    worst = [e for e in summary.encounters if e["los_s"] > 0 and e["party1"] != e["party2"]]
    for e in worst[:3]:
        console.print(f"near miss: {e['id1']} / {e['id2']} {e['h_miss_nm']:.2f} NM, "
                      f"{e['v_miss_ft']:.0f} ft — class {e['severity']} ({e['eurocontrol']})")
    msgs = sum(v for k, v in summary.messages.items() if k not in ("ack", "checkpoint"))
    console.print(f"line: {msgs} messages, {summary.messages.get('ack', 0)} "
                  f"acknowledgements; overdue responses at the end: {summary.overdue}")
    console.print(f"report: {out / 'report' / 'index.html'}")
    err_console.print(f"simulated {r.t1 - r.t0:.0f} s in {r.wall_s:.1f} s ({r.speedup:.0f}x)",
                      highlight=False)
    if serve and serving:
        console.print(f"picture: {serving['url']} (viewer token {serving['token']}); "
                      "Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


_LEVEL_ORDER = {"preventive": 0, "corrective": 1, "warning": 2, "predicted": 3,
                "incursion": 4}


def _serve_picture(port: int, serving: dict[str, Any]) -> Any:
    """A callback for the run: serve the ``us`` node's app (its operating picture) with
    uvicorn on loopback in a thread, and print the address and a viewer token."""
    def ready(nodes: dict[str, Any]) -> None:
        import uvicorn

        from skyaccord.node.auth import Role

        node = nodes.get("us") or next(iter(nodes.values()))
        token, _ = node.tokens.create("demo-viewer", Role.VIEWER)
        app = node.app(tick=False, deliver=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                lifespan="on")
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True, name="demo-serve").start()
        serving.update(url=f"http://127.0.0.1:{port}/", token=token)
        print(f"picture: http://127.0.0.1:{port}/ (viewer token {token})", file=sys.stderr)
    return ready


def register(app: typer.Typer) -> None:
    # ``skyaccord demo`` (the README's first command) and ``skyaccord sim demo`` alike
    sim_app.command("demo")(demo_command)
    app.command("demo")(demo_command)
    app.add_typer(sim_app, name="sim")
    app.command("report")(report_command)
