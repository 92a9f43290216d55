"""The workspace image: what researchers get, and what it must never contain."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.harness.hub import docker_api, run_container, workspace_image
from tre.image import base_tag, build
from workspaces.settings import load_workspace_settings

__all__ = ["docker_api", "workspace_image"]  # fixtures, imported for pytest

PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s+(.*?)\s+-----END CERTIFICATE-----", re.S)


def _run(image: str, *cmd: str) -> str:
    settings = load_workspace_settings()
    proc = subprocess.run([settings.docker, "run", "--rm", image, *cmd],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_researcher_libraries_import(workspace_image: str) -> None:
    out = _run(workspace_image, "python", "-c",
               "import statbarn as sb, pandas, pyarrow, statsmodels, jupyterlab, tre.settings;"
               "print(sb.__version__)")
    assert out.strip()


def test_runs_as_jovyan_with_outputs_owned_by_jovyan(workspace_image: str) -> None:
    out = _run(workspace_image, "sh", "-c",
               "id -un; stat -c '%U %a' /home/jovyan/outputs /home/jovyan/welcome.ipynb")
    user, outputs, welcome = out.strip().splitlines()
    assert user == "jovyan"
    assert outputs == "jovyan 755"
    assert welcome.startswith("jovyan ")


def test_jupyterhub_matches_the_hub(workspace_image: str) -> None:
    import jupyterhub

    out = _run(workspace_image, "python", "-c", "import jupyterhub; print(jupyterhub.__version__)")
    assert out.strip() == jupyterhub.__version__


def test_news_and_update_checks_are_off(workspace_image: str) -> None:
    code = (
        "import json, jupyterlab, sys\n"
        "from jupyter_core.paths import jupyter_config_path\n"
        "from traitlets.config.loader import JSONFileConfigLoader\n"
        "c = JSONFileConfigLoader('jupyter_server_config.json', sys.prefix + '/etc/jupyter'"
        ").load_config()\n"
        "print(json.dumps({'news': c.LabApp.news_url, 'updates': c.LabApp.check_for_updates_class,"
        " 'page': json.load(open(sys.prefix + '/etc/jupyter/labconfig/page_config.json')),"
        " 'overrides': json.load(open(sys.prefix + '/share/jupyter/lab/settings/overrides.json'))"
        "}))"
    )
    got = json.loads(_run(workspace_image, "python", "-c", code))
    assert got["news"] is None
    assert got["updates"] == "jupyterlab.NeverCheckForUpdate"
    assert got["page"]["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"]
    notification = got["overrides"]["@jupyterlab/apputils-extension:notification"]
    assert notification == {"checkForUpdates": False, "fetchNews": "false"}


def test_the_server_runs_with_tres_configuration(workspace_image: str) -> None:
    """What the server really loads (a file in jupyter_server_config.d is read for its
    extensions only): the sealed contents manager and the refusing handlers."""
    code = (
        "import json\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize(['--ServerApp.open_browser=False', '--ServerApp.port=0'])\n"
        "cm = app.contents_manager\n"
        "print(json.dumps({'cm': type(cm).__name__, 'files': cm.files_handler_class.__name__,"
        " 'extra': app.extra_services, 'text': cm.max_text_bytes,"
        " 'notebook': cm.max_notebook_bytes}))\n"
    )
    got = json.loads(_run(workspace_image, "python", "-c", code).strip().splitlines()[-1])
    assert got == {"cm": "SealedContentsManager", "files": "RefusedHandler",
                   "extra": ["tre.workspace.jupyter"], "text": 1_000_000,
                   "notebook": 5_000_000}


def test_a_refusal_stands_when_it_cannot_be_audited(docker_api: Any,
                                                   workspace_image: str) -> None:
    """The audit call fails (nothing listens where the airlock should be): the refusal
    is still a 403, and the failure is logged."""
    code = (
        "import asyncio, json, logging, os\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "os.environ.update(TRE_AIRLOCK_URL='http://127.0.0.1:9/services/airlock',"
        " JUPYTERHUB_API_TOKEN='t', TRE_PROJECT='demo-project')\n"
        "from tre.workspace.browser import data_refusal\n"
        "from tre.workspace.jupyter import audit_refusal, refuse\n"
        "r = data_refusal('data/ehr/person.parquet')\n"
        "audited = asyncio.run(audit_refusal(r, 'data/ehr/person.parquet', 'files'))\n"
        "err = asyncio.run(refuse(r, 'data/ehr/person.parquet', 'files'))\n"
        "print(json.dumps({'audited': audited, 'status': err.status_code}))\n"
    )
    container = run_container(docker_api, workspace_image, command=["python", "-c", code])
    try:
        docker_api.wait(container.id)
        out = docker_api.logs(container.id, stderr=False).decode()
        err = docker_api.logs(container.id, stdout=False).decode()
    finally:
        container.remove()
    assert json.loads(out.strip().splitlines()[-1]) == {"audited": False, "status": 403}
    assert "NOT audited" in err and "data/ehr/person.parquet" in err


def test_base_is_imported_from_debootstrap_not_pulled(docker_api: Any,
                                                      workspace_image: str) -> None:
    base = base_tag(load_workspace_settings())
    history = docker_api.history(base)
    assert len(history) == 1  # a single imported layer: no registry image underneath
    assert "debootstrap" in history[0]["Comment"]


def test_rebuild_with_nothing_changed_reuses_every_layer(workspace_image: str) -> None:
    settings = load_workspace_settings()

    def image_id() -> str:
        return subprocess.run([settings.docker, "image", "inspect", "-f", "{{.Id}}",
                               workspace_image], capture_output=True, text=True).stdout

    build(settings)  # whatever changed in the checkout since the fixture's build
    before = image_id()
    result = build(settings)
    # No timing here (benchmarks/bench_spawn.py reports it): an unchanged checkout
    # reuses the base and every cached layer, which is what makes the rebuild fast.
    assert not result.base_built
    assert image_id() == before


def _certificates(data: bytes) -> set[bytes]:
    return {re.sub(rb"\s+", b"", body) for body in PEM.findall(data)}


def _public_roots() -> set[bytes]:
    """Roots of the public programmes, read on the host (not from the image under test)."""
    import certifi

    found = _certificates(Path(certifi.where()).read_bytes())
    for crt in Path("/usr/share/ca-certificates/mozilla").glob("*.crt"):
        found |= _certificates(crt.read_bytes())
    return found


def test_host_ca_bundle_is_in_no_layer(docker_api: Any, workspace_image: str,
                                       tmp_path: Path) -> None:
    """The build trusted the host's CA bundle (a BuildKit secret); no layer kept it.

    The certificates to look for are the host's own: those in its bundle that no
    public root programme has (an intercepting proxy's CA, for instance).  Public
    roots are those of the image's Debian, of the host's Debian package (which may
    be newer than the image's) and of PyPI's certifi (which pip installs into the
    image): a public root found in certifi's file is not a leak.  Each host
    certificate is searched for in every layer, as PEM lines and as DER bytes.
    """
    settings = load_workspace_settings()
    if settings.image_ca_bundle is None:
        pytest.skip("NO HOST CA BUNDLE: the build used none, nothing to leak")
    host = _certificates(settings.image_ca_bundle.read_bytes())
    container = run_container(docker_api, workspace_image,
                              command=["cat", "/etc/ssl/certs/ca-certificates.crt"])
    try:
        docker_api.wait(container.id)
        own = _certificates(docker_api.logs(container.id, stderr=False))
    finally:
        container.remove()
    local = host - own - _public_roots()
    needles: list[bytes] = []
    for body in local:
        needles += [body[:64], base64.b64decode(body)[:96]]

    archive = tmp_path / "image.tar"
    with archive.open("wb") as out:
        for chunk in docker_api.get_image(workspace_image):
            out.write(chunk)
    bundle = settings.image_ca_bundle.read_bytes()
    layers = 0
    with tarfile.open(archive) as outer:
        for member in outer:
            if not member.name.endswith("layer.tar"):
                continue
            layers += 1
            data = outer.extractfile(member).read()  # type: ignore[union-attr]
            for needle in needles:
                assert needle not in data, f"a host CA certificate is in layer {member.name}"
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for entry in layer:
                    assert not entry.name.lstrip("./").startswith("run/secrets/"), entry.name
                    if entry.isfile() and entry.size == len(bundle):
                        content = layer.extractfile(entry).read()  # type: ignore[union-attr]
                        if content == bundle and len(local) > 0:
                            pytest.fail(f"the host CA bundle is in the image at {entry.name}")
    assert layers >= 4
