"""Demo data for the embedded default. Each app registers a seeder in `AppConfig.ready`;
`seed_demo` runs them in layering order, each adding to the shared context. Seeders must be
idempotent: `make run` calls them on every start."""

from collections.abc import Callable

_seeders: list[tuple[int, str, Callable[[dict], None]]] = []


def register(*, order: int, name: str) -> Callable:
    def decorate(func: Callable[[dict], None]) -> Callable[[dict], None]:
        _seeders.append((order, name, func))
        return func

    return decorate


def seeders() -> list[tuple[str, Callable[[dict], None]]]:
    return [(name, func) for _, name, func in sorted(_seeders, key=lambda s: (s[0], s[1]))]
