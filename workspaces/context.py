"""What the hub process needs from tre: settings, the platform database, tre.authz.

Made on first use and kept for the life of the hub process: one database engine
and one authorisation point, which follows policy changes by itself
(:class:`tre.authz.store.StoredAuthz`), so an ended membership is seen without a
restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workspaces.network import RESOLV_CONF, Scope
from workspaces.settings import WorkspaceSettings, load_workspace_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tre.authz.enforcer import Authz
    from tre.settings import Settings


@dataclass(frozen=True)
class HubContext:
    settings: Settings
    workspace: WorkspaceSettings
    factory: sessionmaker[Session]
    authz: Authz
    scope: Scope

    @property
    def state_dir(self) -> Path:
        """The hub's own files: its database, cookie secret, mount skeletons."""
        return hub_state_dir(self.settings)

    @property
    def resolv_conf(self) -> Path:
        """The resolv.conf every workspace gets (it resolves no names)."""
        path = self.state_dir / "resolv.conf"
        if not path.is_file() or path.read_text() != RESOLV_CONF:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(RESOLV_CONF)
        return path

    @property
    def firewall_ports(self) -> list[int]:
        """What workspaces may connect to: the hub gate and the airlock."""
        return self.workspace.workspace_ports


def hub_state_dir(settings: Settings) -> Path:
    return settings.data_dir / "hub"


_lock = threading.Lock()
_context: HubContext | None = None


def hub_context() -> HubContext:
    """The process's context, made on first use; a schema that is not current is refused
    (``tre db upgrade`` migrates; tre.schema)."""
    global _context
    with _lock:
        if _context is None:
            from tre.authz import load_authz
            from tre.db import make_engine, session_factory
            from tre.schema import require_current
            from tre.settings import get_settings

            settings = get_settings()
            workspace = load_workspace_settings()
            require_current(settings.database_url)
            factory = session_factory(make_engine(settings.database_url))
            _context = HubContext(settings, workspace, factory, load_authz(factory),
                                  Scope(workspace.network_prefix))
        return _context


def reset_hub_context() -> None:
    """Forget the context (tests); closes its authorisation point."""
    global _context
    with _lock:
        if _context is not None:
            _context.authz.close()
        _context = None
