"""Issue 14, finding 8: the hub's spawn page shows no Start button to a user with no
project (before: a Start that failed with "Choose a project").  tre's spawn.html is
rendered here as JupyterHub renders it (its templates beneath ours), with a stand-in for
the hub's page.html, which needs the running hub's context."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import jinja2

from tre.hub.config import TEMPLATES, shared_spawner
from workspaces.spawner import WorkspaceSpawner

PAGE = "{% block main %}{% endblock %}{% block script %}{% endblock %}"


def render(form: str) -> str:
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(TEMPLATES)), jinja2.DictLoader({"page.html": PAGE})]),
        autoescape=True)
    return env.get_template("spawn.html").render(
        spawner_options_form=form, url="/hub/spawn", user=None, for_user=None)


def options_form(projects: list[Any]) -> str:
    spawner = WorkspaceSpawner.__new__(WorkspaceSpawner)
    spawner._projects = lambda: projects  # type: ignore[method-assign]
    return asyncio.run(spawner.get_options_form())


def test_no_project_no_start_button() -> None:
    page = render(options_form([]))
    assert "not a member of any project" in page and 'id="tre-no-project"' in page
    assert "<button" not in page and 'id="spawn_form"' not in page
    assert "No workspace to start" in page


def test_a_member_gets_the_form_and_start() -> None:
    form = options_form([SimpleNamespace(name="demo-project", title="Demo")])
    page = render(form)
    assert 'id="spawn_form"' in page and ">Start</button>" in page
    assert 'value="demo-project"' in page and "data-tre-no-project" not in page


def test_the_hub_is_configured_with_the_template() -> None:
    c = SimpleNamespace(JupyterHub=SimpleNamespace(), Spawner=SimpleNamespace())
    ws = SimpleNamespace(workspace_mem_limit="1G", workspace_cpu_limit=1.0,
                         membership_check=60)
    shared_spawner(c, ws)  # type: ignore[arg-type]
    assert c.JupyterHub.template_paths == [str(TEMPLATES)]
    assert (TEMPLATES / "spawn.html").is_file()
