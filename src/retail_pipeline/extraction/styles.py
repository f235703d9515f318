"""Name -> class registries for auth and paging styles.

A new style is one class registered under a name (`@PAGING.register("my_style")`), or, without
touching this package, a dotted path in the registry entry (`paging: {style:
my_package.paging.MyPaging, ...}`): either way the retailer's configuration selects it by name.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from kedro.utils import load_obj

from retail_pipeline.extraction.errors import RetailerApiError

T = TypeVar("T")


class Styles(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str):
        def add(cls: type[T]) -> type[T]:
            self._classes[name] = cls
            cls.style = name  # type: ignore[attr-defined]
            return cls

        return add

    def names(self) -> list[str]:
        return list(self._classes)

    def get(self, retailer: str, name: Any) -> type[T]:
        if name in self._classes:
            return self._classes[name]
        if isinstance(name, str) and "." in name:
            try:
                return load_obj(name)
            except (ImportError, AttributeError, ValueError) as exc:
                raise RetailerApiError(f"{retailer}: {self.kind} style {name!r} cannot be imported ({exc})") from exc
        raise RetailerApiError(f"{retailer}: {self.kind} style must be one of {', '.join(self._classes)} "
                               f"(or a dotted path to a class), got {name!r}")
