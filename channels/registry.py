"""Channel plugins by name. Plugins register on import (channels.apps)."""

from channels.base import ChannelPlugin
from paycenter.errors import Unprocessable

_plugins: dict[str, ChannelPlugin] = {}


class UnknownChannel(Unprocessable):
    code = "channel_unavailable"


def register(plugin: ChannelPlugin) -> ChannelPlugin:
    _plugins[plugin.name] = plugin
    return plugin


def plugin_for(name: str) -> ChannelPlugin:
    plugin = _plugins.get(name)
    if plugin is None:
        raise UnknownChannel(f"No channel named {name!r}.", field="channel")
    return plugin


def names() -> list[str]:
    return sorted(_plugins)
