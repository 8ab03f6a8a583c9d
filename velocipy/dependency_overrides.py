"""``app.dependency_overrides``: a dict whose every change re-plans the routes it touches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

from velocipy.appscope import AppScope

if TYPE_CHECKING:
    from velocipy.dependencies import RoutePlan

__all__ = ["DependencyOverrides"]

_ABSENT: Any = object()


class DependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """``app.dependency_overrides``: replacing a provider re-plans every route that uses it.

    Plans are rebuilt when the mapping changes (not per request); an override that breaks a
    plan (a cycle, an unbindable parameter) is refused with the plan's ``TypeError``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[RoutePlan] = []
        self.app_scope = AppScope()  # the app's app-scoped values, shared by every route
        self.app_scope.overrides = self

    def _replan(self, undo: Callable[[], None]) -> None:
        try:
            for plan in self.plans:
                plan.rebuild(self)
        except TypeError:
            undo()
            for plan in self.plans:
                plan.rebuild(self)
            raise

    def __setitem__(self, key: Callable[..., Any], value: Callable[..., Any]) -> None:
        old = self.get(key, _ABSENT)
        super().__setitem__(key, value)

        def undo() -> None:
            if old is _ABSENT:
                super(DependencyOverrides, self).__delitem__(key)
            else:
                super(DependencyOverrides, self).__setitem__(key, old)

        self._replan(undo)

    def __delitem__(self, key: Callable[..., Any]) -> None:
        super().__delitem__(key)
        self._replan(lambda: None)

    def clear(self) -> None:
        super().clear()
        self._replan(lambda: None)

    def pop(self, key: Any, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._replan(lambda: None)
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Self:  # type: ignore[misc,override]  # dict's | stays a dict
        self.update(other)
        return self

    def setdefault(self, key: Callable[..., Any], default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        item = super().popitem()
        self._replan(lambda: None)
        return item

    def replace(self, overrides: Mapping[Callable[..., Any], Callable[..., Any]]) -> None:
        """Make ``overrides`` the whole mapping (``app.dependency_overrides = {...}``)."""
        if overrides is self:
            return
        before = dict(self)
        wanted = dict(overrides)

        def undo() -> None:
            dict.clear(self)
            dict.update(self, before)

        dict.clear(self)
        dict.update(self, wanted)
        self._replan(undo)
