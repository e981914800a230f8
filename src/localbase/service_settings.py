"""Every service's typed settings, read and checked once when the server starts (`localbase start`
and each API process's app), so a bad value stops start-up with one line naming the file, key and
allowed values instead of failing the service's first request. Services take theirs from
`app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass

from localbase.auth.config import AuthConfig, load_auth_config
from localbase.backup.config import BackupConfig
from localbase.bridge.config import KafkaConfig
from localbase.net.config import NetConfig
from localbase.realtime.config import RealtimeConfig
from localbase.settings import Settings
from localbase.storage.config import StorageConfig, load_storage_config


@dataclass(frozen=True)
class ServiceSettings:
    auth: AuthConfig
    realtime: RealtimeConfig
    storage: StorageConfig
    net: NetConfig
    backup: BackupConfig
    kafka: KafkaConfig
    functions_timeouts: tuple[float, float]  # [edge_runtime] request and boot timeouts, seconds


def load_service_settings(settings: Settings) -> ServiceSettings:
    """Raises SettingsError on the first bad value."""
    from localbase.functions.config import timeouts
    return ServiceSettings(auth=load_auth_config(settings), realtime=RealtimeConfig.from_settings(settings),
                           storage=load_storage_config(settings), net=NetConfig.from_settings(settings),
                           backup=BackupConfig.from_settings(settings), kafka=KafkaConfig.from_settings(settings),
                           functions_timeouts=timeouts(settings))
