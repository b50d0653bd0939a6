"""Channel plugins by name. Plugins register on import (channels.apps)."""

from channels.base import ChannelPlugin
from channels.errors import ChannelUnavailable

_plugins: dict[str, ChannelPlugin] = {}


def register(plugin: ChannelPlugin) -> ChannelPlugin:
    _plugins[plugin.name] = plugin
    return plugin


def unregister(name: str) -> None:
    """For tests that install a plugin of their own."""
    _plugins.pop(name, None)


def plugin_for(name: str) -> ChannelPlugin:
    plugin = _plugins.get(name)
    if plugin is None:
        raise ChannelUnavailable(f"No channel named {name!r}.", field="channel")
    return plugin


def names() -> list[str]:
    return sorted(_plugins)
