"""``suitecrm-ext demo``: see the sidecar work in one command, without a SuiteCRM.

The real sidecar (change feed, signed push endpoint on loopback, dispatcher, jobs, SQLite state
store) runs against the in-memory FakeCRM seeded with SuiteCRM's demo users and a few accounts,
with every plugin that contributes a demo scene enabled; the scenes (hook ``ext_demo_scenes``) tell a
short story as they run. Exit 0 when every scene played and every claim held, 1 otherwise.
``--serve`` keeps the sidecar running afterwards, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

import click


@click.command("demo")
@click.option("--serve", is_flag=True,
              help="Keep the demo sidecar running after the story (Ctrl-C stops it).")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Keep the demo's config, env file and state store here (default: a temporary folder, "
                   "removed at the end).")
@click.option("--listen", default="127.0.0.1:0", show_default=True,
              help="Address of the demo's push endpoint (port 0: any free port).")
def demo(serve: bool, workdir: str | None, listen: str) -> None:
    """A scripted story of the sidecar at work against an in-memory SuiteCRM (no SuiteCRM needed)."""
    from suitecrm_ext.config import ConfigError
    from suitecrm_ext.demo.runner import DemoError, DemoRunner

    if not listen.startswith(("127.", "localhost:", "[::1]:")):
        raise click.BadParameter("the demo's push endpoint stays on loopback (127.0.0.1:PORT)",
                                 param_hint="--listen")
    tmp = None if workdir else tempfile.TemporaryDirectory(prefix="suitecrm-ext-demo-")
    folder = Path(workdir or tmp.name)  # type: ignore[union-attr]
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner = DemoRunner(folder, click.echo, listen=listen)
    try:
        click.echo("suitecrm-ext demo: the sidecar at work against an in-memory SuiteCRM (FakeCRM) — "
                   "no SuiteCRM needed")
        try:
            runner.prepare()
            runner.start()
        except (DemoError, ConfigError, OSError) as exc:
            raise click.ClickException(f"the demo could not start: {exc}") from None
        result = runner.play(runner.stage())
        click.echo("")
        if result.ok:
            click.echo(f"story done: {result.scenes} scenes, {result.checks} claims checked, "
                       f"in {result.seconds:.1f} s")
        else:
            click.echo(f"story FAILED in {len(result.failed)} of {result.scenes} scenes: "
                       + "; ".join(result.failed))
        if serve and not stop.is_set():
            _serve(runner, folder, stop)
        if not result.ok:
            raise click.exceptions.Exit(1)
    finally:
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if tmp is not None:
            tmp.cleanup()


def _serve(runner, folder: Path, stop: threading.Event) -> None:
    url = runner.push_server.url
    config = runner.config_path
    click.echo("")
    click.echo(f"the demo sidecar keeps running (push endpoint {url}); in another terminal:")
    click.echo(f"  curl {url}/health")
    click.echo(f"  suitecrm-ext --config {config} events tail --follow")
    click.echo(f"  suitecrm-ext --config {config} jobs list")
    click.echo(f"its files are in {folder}" + ("" if folder.name.startswith("suitecrm-ext-demo-")
                                               else " (kept)") + "; Ctrl-C stops it")
    runner.wait(stop)
    click.echo("stopped")
